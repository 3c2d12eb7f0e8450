"""Final-answer extraction from a full model response (pure string work, no sympy).

Policy (each rule has an example in docs/grading.md):

1. Only the part after the reasoning counts: the text after the last ``</think>``
   (:func:`reasonflux.chat.split_reasoning`). Reasoning that never closed is truncated: no answer.
2. The last ``\\boxed{...}`` / ``\\fbox{...}`` in that part, with balanced nested braces (``\\boxed 5``
   too). Boxes separated only by connectors (commas, "and", ``\\quad``, math delimiters) are one
   answer: ``\\boxed{2}, \\boxed{3}`` -> ``2, 3``. A last box that never closes means no answer.
3. Else an explicit final-answer phrase ("final answer is", "the answer is", "Answer:"); the last one
   wins; its math (``$...$``, ``\\(...\\)``, ``\\[...\\]``) or the rest of its sentence is the answer
   (after its last "is": ``Final Answer: The volume is 120.`` -> ``120``). A "final answer is"
   statement after the last box wins over the box when it is math.
4. Else a final part that is nothing but a short answer (``$\\frac{1}{2}$``, ``**42**``).
5. Never "the last number in the text".

    python -c "from reasonflux.grading import extract_answer as e; print(e('<think>\\\\boxed{1}</think>So \\\\boxed{2}.'))"
"""

from __future__ import annotations

import re

from reasonflux.chat import split_reasoning

PHRASE_CAPTURE_CHARS = 300  # how far after "the answer is" we look for the answer
BARE_ANSWER_MAX_CHARS = 40  # a final part this short with no words is itself the answer
MAX_CONNECTOR_CHARS = 80  # boxes further apart than this are separate answers
STATEMENT_MAX_CHARS = 2000  # "X is Y" is only looked for in sentences this short
CLEAN_MAX_CHARS = 4_000  # an "answer" longer than this is not searched for prose or math
ANSWER_TAIL_CHARS = 20_000  # the part of a response searched for its final answer (its end)

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.S)
# What may sit between two boxes that together form one answer.
_CONNECTOR_RE = re.compile(
    r"(?:\s|,|;|&|\\\\|\\quad|\\qquad|\\[,;:! ]|\$|\\\(|\\\)|\\\[|\\\]|\\text\{\s*(?:and|or|,)?\s*\}|\band\b"
    r"|\bor(?:\s+(?:maybe|possibly|perhaps|else))?\b)*",
    re.I,
)
_PHRASE_RE = re.compile(
    r"(?:final\s+answer\s*(?:is|:|=)?|the\s+answer\s+is|answer\s*(?:is|:)|answer\s*\*\*\s*:|answer\s*:\s*\*\*"
    r"|answer(?=\s*(?:\$|\\\(|\\\[))"
    # a revision in words, followed by math or a number: "Wait, actually it's 8."
    r"|\b(?:actually|wait|correction)\b[^.\n$]{0,60}?\b(?:it(?:'s|\s+is)|answer\s+should\s+be)(?=\s*(?:\$|\\\(|[-+]?\d)))",
    re.I,
)
_FINAL_PHRASE_RE = re.compile(r"final\s+answer\s*(?:is|:)", re.I)
_IS_RE = re.compile(r"\s(?:is|are|equals|=)\s+", re.I)
_FILLER_RE = re.compile(r"^(?:(?:therefore|thus|then|so|simply|just|exactly|indeed|equal\s+to|given\s+by)[\s,:]+)+", re.I)
_MATH_ENV_RE = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$((?:\\\$|[^$])+?)(?<!\\)\$", re.S)
_RESTATE_RE = re.compile(r",?\s*\(?\b(?:i\.\s?e\.|e\.\s?g\.|that\s+is,)", re.I)
_PERCENT_AFTER_RE = re.compile(r"\s*\$?\s*(?:\\%|%|percent\b|per\s+cent\b)", re.I)
_WORD_RE = re.compile(r"(?<![\\A-Za-z])(?!(?:and|or)(?![A-Za-z]))[A-Za-z]{3,}")
_COMMAND_WORD_RE = re.compile(r"\\[A-Za-z]+")


def matching_braces(text: str) -> dict[int, int]:
    """Map each unescaped ``{`` to its matching ``}`` (escaped ``\\{``/``\\}`` are skipped); linear."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_TOKEN_RE.finditer(text):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}":
            if stack:
                pairs[stack.pop()] = m.start()
    return pairs


def find_boxes(text: str) -> list[tuple[int, int, str | None]]:
    """All top-level ``\\boxed``/``\\fbox`` as (start, end, content); content None when unclosed."""
    starts = [m for m in _BOX_RE.finditer(text)]
    if not starts:
        return []
    pairs = matching_braces(text)
    boxes: list[tuple[int, int, str | None]] = []
    for m in starts:
        if boxes and m.start() < boxes[-1][1]:
            continue  # nested inside the previous box
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            close = pairs.get(i)
            if close is None:
                boxes.append((m.start(), len(text), None))
                break
            boxes.append((m.start(), close + 1, text[i + 1:close]))
        elif i > m.end():  # "\boxed 5": the next token
            tok = re.match(r"[^\s$]+", text[i:])
            if tok:
                boxes.append((m.start(), i + tok.end(), tok.group().rstrip(".,;")))
    return boxes


def last_boxed(text: str) -> str | None:
    """The last box's content (adjacent boxes joined with ", "); None if none or the last is unclosed."""
    boxes = [b for b in find_boxes(text) if b[2] is None or b[2].strip()]
    if not boxes or boxes[-1][2] is None:
        return None
    parts = [boxes[-1][2].strip()]
    for prev, cur in zip(reversed(boxes[:-1]), reversed(boxes[1:])):
        gap = text[prev[1]:cur[0]]
        if prev[2] is None or len(gap) > MAX_CONNECTOR_CHARS or _CONNECTOR_RE.fullmatch(gap) is None:
            break
        content = prev[2].strip()
        if content != parts[-1]:
            parts.append(content)
    return ", ".join(reversed(parts))


def _first_math(s: str) -> str | None:
    m = _MATH_ENV_RE.search(s)
    if not m:
        return None
    return next(g for g in m.groups() if g is not None).strip()


def _sentence(line: str) -> str:
    """``line`` up to its first full stop outside math and numbers."""
    spans = [m.span() for m in _MATH_ENV_RE.finditer(line)]
    for m in re.finditer(r"(?<!\d)\.(?!\d)|\.(?=\s|$)", line):
        if not any(a <= m.start() < b for a, b in spans):
            return line[:m.start()]
    return line


def _strip_delims(s: str) -> str:
    return re.sub(r"(?<!\\)\$|\\[()\[\]]", " ", s).strip()


def _no_prose(s: str) -> bool:
    """Nothing but math outside the math delimiters (and/or, quotes and punctuation allowed)."""
    outside = re.sub(r"\\text\{[^{}]*\}", " ", _MATH_ENV_RE.sub(" ", s))
    return not _WORD_RE.search(_COMMAND_WORD_RE.sub(" ", outside))


def _after_phrase(rest: str) -> str | None:
    """The answer that follows a final-answer phrase."""
    rest = rest[:PHRASE_CAPTURE_CHARS]
    rest = re.sub(r"^[\s:*=\-\u2014]+", "", rest)
    rest = _FILLER_RE.sub("", rest)
    rest = _RESTATE_RE.split(rest, 1)[0]  # "$\frac12$, i.e., $0.5$": the answer, not its restatement
    boxed = last_boxed(rest.split("\n\n")[0]) if _BOX_RE.search(rest) else None
    if boxed:
        return boxed
    env = re.match(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", rest, re.S)
    if env:
        return next(g for g in env.groups() if g is not None).strip()
    sentence = _sentence(rest.split("\n", 1)[0]).strip().strip("\"'*").strip().rstrip(",;:").strip()
    if not sentence:
        return None
    if _no_prose(sentence):
        return _strip_delims(sentence).strip("\"'").strip() or None
    statement = _statement_value(sentence)
    if statement is not None:
        return statement
    inline = _first_math(sentence)
    return inline if inline is not None else sentence


def _statement_value(line: str) -> str | None:
    """``The volume of $ABCD$ is 120.`` -> ``120``: a sentence that states its value after "is"."""
    if len(line) > STATEMENT_MAX_CHARS or not re.match(r"[A-Za-z]", line) or not _WORD_RE.match(line):
        return None
    sentence = _sentence(line)
    hits = list(_IS_RE.finditer(sentence))
    if not hits:
        return None
    tail = sentence[hits[-1].end():].strip()
    env = _MATH_ENV_RE.match(tail)
    if env:
        return next(g for g in env.groups() if g is not None).strip()
    if tail.count("$") % 2 or re.search(r"\\[)\]]", tail) and not re.search(r"\\[(\[]", tail):
        tail = _strip_delims(tail)  # "is" or "=" inside math: "the value of $n = 12$" -> "12", no stray "$"
    tail = tail.strip("*").strip().rstrip(",;:").strip()
    return tail or None


def phrase_answer(part: str) -> str | None:
    """The answer after the last explicit final-answer phrase in ``part``, or None."""
    last = None
    for m in _PHRASE_RE.finditer(part):
        last = m
    if last is None:
        return None
    return _after_phrase(part[last.end():])


def bare_answer(part: str) -> str | None:
    """``part`` itself when it is nothing but a short answer (no words, one line)."""
    s = part.strip()
    if len(s) > 4 * BARE_ANSWER_MAX_CHARS:
        return None
    s = re.sub(r"^\*\*(.*)\*\*$", r"\1", s).strip()
    env = _MATH_ENV_RE.fullmatch(s)
    if env:
        s = next(g for g in env.groups() if g is not None).strip()
    s = s.rstrip(".").strip()
    if not s or len(s) > BARE_ANSWER_MAX_CHARS or "\n" in s:
        return None
    if re.search(r"(?<![\\A-Za-z])[A-Za-z]{2,}", _COMMAND_WORD_RE.sub(" ", s)):
        return None  # words: prose, not a bare answer
    return s


def answer_part(text: str, *, prefilled: bool = False) -> tuple[str | None, bool]:
    """(final answer part, truncated) of a full response; only the last ANSWER_TAIL_CHARS of a
    longer part are searched (a final answer sits at the end), which bounds every later pattern."""
    sp = split_reasoning(text, prefilled=prefilled)
    part = sp.answer
    if part is not None and len(part) > ANSWER_TAIL_CHARS:
        part = part[-ANSWER_TAIL_CHARS:]
    return part, sp.truncated


def extract_from_part(part: str) -> str | None:
    """The final answer inside an answer part (no reasoning in it)."""
    if _BOX_RE.search(part):
        boxes = find_boxes(part)
        if boxes and boxes[-1][2] is None:
            return None  # the last box never closed: cut off mid-answer
        boxed = last_boxed(part)
        if boxed:
            # "...\boxed{200}... The final answer is $10,455$." / "\boxed{12}. Wait, ... so the answer is 15."
            # -- a later answer statement (a revision) wins when it is math.
            late = [m for m in _PHRASE_RE.finditer(part, boxes[-1][1])]
            if late:
                restated = _after_phrase(part[late[-1].end():])
                if restated and _no_prose(restated):
                    return restated
            if "%" not in boxed and _PERCENT_AFTER_RE.match(part, boxes[-1][1]):
                return boxed + "\\%"  # "\boxed{20} percent" states a percent
            return boxed
    return phrase_answer(part) or bare_answer(part)


def extract_answer(text: str, *, prefilled: bool = False) -> str | None:
    """The final answer of a full response; None when truncated or when there is no explicit answer."""
    if not text:
        return None
    part, truncated = answer_part(text, prefilled=prefilled)
    if truncated or part is None:
        return None
    return extract_from_part(part)


def clean_answer(ans: str) -> str:
    """An already-extracted answer as given by a user or a corpus: unwrap a box or math delimiters.

    ``$\\boxed{5}$`` -> ``5``; ``Answer: $x=3$`` -> ``x=3``; plain ``3/4`` stays.
    """
    s = ans.strip()
    if len(s) > CLEAN_MAX_CHARS:
        return s  # no real answer is this long; leave it to the (time-limited) comparison
    if _BOX_RE.search(s):
        boxed = last_boxed(s)
        if boxed:
            return boxed
    env = _MATH_ENV_RE.fullmatch(s)
    if env:
        return next(g for g in env.groups() if g is not None).strip()
    if _no_prose(s):
        # No prose around the math ("$1$ and $2$", "12 $ and $13"): the delimiters are noise.
        return _strip_delims(s)
    phrased = phrase_answer(s)
    if phrased:
        return phrased
    envs = [next(g for g in m.groups() if g is not None) for m in _MATH_ENV_RE.finditer(s)]
    if len(envs) == 1:
        return envs[0].strip()  # "Therefore $x \ge 5$ is the solution."
    statement = _statement_value(s.replace("\\ ", " "))
    return statement if statement is not None else s
