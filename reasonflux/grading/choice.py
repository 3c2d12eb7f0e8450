"""Multiple-choice letters (GPQA-style): extraction from the final answer part and comparison.

Policy: the letter inside the last ``\\boxed{}`` of the final part, else after an explicit phrase
("Answer: C", "the answer is (B)", "**Final Answer:** D", "the correct option is A"), else a final
line that is nothing but the letter ("(B)", "**C**"). Anything else abstains (None): no default
letter, and a capital "A" in prose ("A quick check shows...") is never read as an answer.

    python -c "from reasonflux.grading import extract_choice as e; print(e('</think>A check. Answer: (C)', prefilled=True))"
"""

from __future__ import annotations

import re

from reasonflux.grading.extract import answer_part, find_boxes

LETTERS = "ABCD"
LETTER_MAX_CHARS = 200  # a "letter" written in more characters than this is not one

_WRAPPER_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit|mbox)\s*\{([^{}]*)\}")
_L = f"[{LETTERS}]"
_NOT_A = LETTERS.replace("A", "")
_SEP = r"[\s:*=\-\u2014]*"
# Words that may follow an answer letter "A" ("A because ..."); any other lowercase word makes it
# the article ("A detailed check ...").
_A_CONTINUATIONS = "|".join(("because", "since", "as", "and", "which", "is", "it", "with", "from", "due", "or", "for", "here", "this"))
# The letter itself: optional markdown/brackets around it and no word character right after it.
# An unbracketed "A" followed by an ordinary word ("A detailed check") is prose, not a choice.
_LETTER = (rf"(?:(?:\*\*|__)?[\(\[]\s*(?P<b>{_L})\s*[\)\]](?:\*\*|__)?"
           rf"|(?:\*\*|__)?(?:\\text(?:bf)?\{{)?(?P<u>[{_NOT_A}])\}}?(?:\*\*|__)?"
           rf"|(?:\*\*|__)?(?:\\text(?:bf)?\{{)?(?P<a>A)\}}?(?:\*\*|__)?(?!\s+(?!{_A_CONTINUATIONS})\b[a-z])"
           rf")(?![A-Za-z0-9])")
_PHRASES = [
    rf"(?i:(?:final|correct|right|best)\s+answer(?:\s+is|\s+would\s+be)?){_SEP}(?i:(?:option|choice)\s*)?{_LETTER}",
    rf"(?i:answer)\s*(?:\*\*)?\s*(?:(?i:is)\b|:|=|\u2014){_SEP}(?i:(?:option|choice)\s*)?{_LETTER}",
    rf"(?i:(?:correct|right|best)\s+(?:option|choice)(?:\s+is|\s+would\s+be)?){_SEP}{_LETTER}",
    rf"(?i:(?:option|choice))\s+{_LETTER}\s+(?i:is\s+(?:the\s+)?(?:correct|right|best))",
]
_PHRASE_RES = [re.compile(p) for p in _PHRASES]
_BOX_LETTER_RE = re.compile(
    rf"^\s*(?i:(?:option|choice)\s*)?[\(\[]?\s*(?P<letter>{_L})\s*[\)\]]?(?:\s*$|[\s.:)\]]\s*.*$)", re.S)
_STANDALONE_RE = re.compile(rf"^\s*(?:\*\*|__)?\s*[\(\[]?\s*(?P<letter>{_L})\s*[\)\].]?\s*(?:\*\*|__)?\s*\.?\s*$")


def _unwrap(s: str) -> str:
    prev = None
    while prev != s:
        prev, s = s, _WRAPPER_RE.sub(r"\1", s)
    return s.replace("$", "").replace("\\(", "").replace("\\)", "").strip()


def letter_of(s: str | None) -> str | None:
    """A choice letter written on its own: ``B``, ``(B)``, ``\\text{(B)}``, ``b``, ``B) 42``."""
    if s is None or len(s) > LETTER_MAX_CHARS:
        return None
    s = _unwrap(s).strip().strip("*").strip()
    if len(s) == 1 and s.upper() in LETTERS:
        return s.upper()
    m = _BOX_LETTER_RE.match(s)
    return m.group("letter") if m else None


def choice_from_part(part: str) -> str | None:
    """The chosen letter inside a final answer part, or None (abstain)."""
    boxes = [b for b in find_boxes(part) if b[2] is not None and b[2].strip()]
    if boxes:
        letter = letter_of(boxes[-1][2])
        if letter:
            return letter
    best: tuple[int, str] | None = None
    for rx in _PHRASE_RES:
        for m in rx.finditer(part):
            if best is None or m.start() > best[0]:
                best = (m.start(), m.group("b") or m.group("u") or m.group("a"))
    if best:
        return best[1]
    lines = [ln for ln in part.strip().splitlines() if ln.strip()]
    if lines and len(lines[-1]) <= LETTER_MAX_CHARS:
        m = _STANDALONE_RE.match(_unwrap(lines[-1]))
        if m:
            return m.group("letter")
    return None


def extract_choice(text: str, *, prefilled: bool = False) -> str | None:
    """The A-D letter a full response chose; None when truncated or not stated explicitly."""
    if not text:
        return None
    part, truncated = answer_part(text, prefilled=prefilled)
    if truncated or part is None:
        return None
    return choice_from_part(part)


def choice_equal(gold: str, pred: str | None) -> bool:
    g = letter_of(gold)
    if g is None:
        raise ValueError(f"choice gold {gold!r} is not a letter {LETTERS[0]}-{LETTERS[-1]}")
    return pred is not None and letter_of(pred) == g
