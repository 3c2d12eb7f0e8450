"""Multiple-choice letters (GPQA-style): extraction from the final answer part and comparison.

Policy (docs/grading.md): the latest committed statement in the final part: the letter inside the
last ``\\boxed{}`` or after an explicit phrase ("Answer: C", "the answer is (b)", "I choose option
D", "(D) is correct", "Answer:" with the letter on the next line, "Wait, actually it's (D)"),
whichever comes later; else a final line that is nothing but the letter ("(B)", "**C**"); else a
closing sentence that commits to exactly one bracketed letter ("Therefore (C)."). A hedge ("A or
D", ``\\boxed{A, D}``, "It could also be A") and a letter the text rejects ("(B) can be ruled out")
give no answer. Anything else abstains (None): no default letter, and a capital "A" in prose
("A quick check shows...") is never read as an answer. Every pattern is linear in its input.

    python -c "from reasonflux.grading import extract_choice as e; print(e('</think>A check. Answer: (C)', prefilled=True))"
"""

from __future__ import annotations

import re

from reasonflux.grading.extract import answer_part, find_boxes, last_boxed

LETTERS = "ABCD"
LETTER_MAX_CHARS = 200  # a "letter" written in more characters than this is not one

_WRAPPER_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit|mbox)\s*\{([^{}]*)\}")
_L = f"[{LETTERS}]"
_LL = f"[{LETTERS}{LETTERS.lower()}]"
_NOT_A = LETTERS.replace("A", "")
_SEP = r"[\s:*=\-\u2014$]*"
_OPT = r"(?:(?i:option|choice)\s*)?"
# Words that may follow an answer letter "A" ("A because ..."); any other lowercase word makes it
# the article ("A detailed check ...").
_A_CONTINUATIONS = "|".join(("because", "since", "as", "and", "which", "is", "it", "with", "from", "due", "or", "for", "here", "this"))
# The letter itself: optional markdown/brackets around it and no word character right after it.
# An unbracketed "A" followed by an ordinary word ("A detailed check") is prose, not a choice; a
# lowercase letter counts in brackets ("(d)") or standing alone before punctuation ("Answer: c").
_LETTER = (rf"(?:(?:\*\*|__)?[\(\[]\s*(?P<b>{_LL})\s*[\)\]](?:\*\*|__)?"
           rf"|(?:\*\*|__)?(?:\\(?:text|textbf|mathrm|mathbf)\{{)?(?P<u>[{_NOT_A}])\}}?(?:\*\*|__)?"
           rf"|(?:\*\*|__)?(?:\\(?:text|textbf|mathrm|mathbf)\{{)?(?P<a>A)\}}?(?:\*\*|__)?(?!\s+(?!{_A_CONTINUATIONS})\b[a-z])"
           rf"|(?:\*\*|__)?(?P<l>[a-d])(?:\*\*|__)?(?=[ \t]*(?:$|[\n.,;:!)\]]))"
           rf")(?![A-Za-z0-9])")
_PHRASES = [
    rf"(?i:(?:final|correct|right|best)\s+answer(?:\s+is|\s+would\s+be)?){_SEP}{_OPT}{_LETTER}",
    rf"(?i:answer)(?:\s*\*\*)?\s*(?:(?i:is)\b|:|=|\u2014){_SEP}{_OPT}{_LETTER}",
    rf"(?i:(?:correct|right|best|final)\s+(?:option|choice)(?:\s+is|\s+would\s+be)?){_SEP}{_LETTER}",
    rf"(?i:(?:option|choice)\s+){_LETTER}\s+(?i:is\s+(?:the\s+)?(?:correct|right|best)\b)",
    rf"(?:[\(\[]\s*(?P<b2>{_LL})\s*[\)\]])\s+(?i:is\s+(?:the\s+)?(?:correct|right|best)\b)",
    rf"(?<![A-Za-z])(?P<u2>{_L})\s+(?i:is\s+(?:the\s+)?(?:correct|right|(?:correct\s+|right\s+|final\s+)?answer)\b)(?!\s+(?i:only|if|when)\b)",
    # a revision stated in words: "Wait, actually I think it's (D)."
    rf"(?i:\b(?:actually|wait|on\s+second\s+thought|correction|instead|rather)\b[^.\n]{{0,60}}?(?:it(?:'s|\s+is|\s+should\s+be|\s+must\s+be)|answer\s+(?:is|should\s+be)|answer:))\s*{_OPT}(?:[\(\[]\s*(?P<r1>{_LL})\s*[\)\]]|(?P<r2>{_L})(?![A-Za-z0-9]))",
    rf"(?i:\b(?:i|we|so|thus|hence|therefore|i'll|we'll|let's|let\s+us)\s+(?:would\s+|will\s+|therefore\s+)?(?:choose|chose|select|pick|go\s+with)\s+(?:option\s+|choice\s+|answer\s+)?){_LETTER}",
    rf"(?i:(?:answer|option|choice)\s+is\s+not\s+\S{{1,8}}\s*,?\s+but\s+(?:rather\s+)?{_OPT}){_LETTER}",
    # "Answer:" (or a "Final Answer" header) with the letter alone on a following line
    rf"(?i:(?:final\s+)?answer)(?:\s*\*\*)?[ \t]*(?::[ \t]*)?(?:\*\*[ \t]*)?\n\s*(?:\*\*|__)?[ \t]*(?:[\(\[][ \t]*)?(?P<o>{_LL})(?:[ \t]*[\)\]])?\.?(?:\*\*|__)?[ \t]*(?=\n|$)",
]
_PHRASE_RES = [re.compile(p) for p in _PHRASES]
# a second letter right after the chosen one: "A or D", "(A) and (C)", "B/C" -- a hedge, no answer
_HEDGE_RE = re.compile(rf"[ \t]*(?:,|/|&|(?i:\bor\b|\band\b)|\\text\{{\s*(?:or|and)\s*\}})[ \t]*(?:(?i:option|choice)[ \t]+)?(?:\*\*)?(?:[\(\[][ \t]*(?P<x>{_LL})[ \t]*[\)\]]|(?P<y>{_L})(?![A-Za-z0-9]))")
_MULTI_RE = re.compile(rf"(?:[\(\[]?\s*{_LL}\s*[\)\]]?\s*(?:,|/|&|\bor\b|\band\b)\s*)+[\(\[]?\s*{_LL}\s*[\)\]]?\s*\.?", re.I)
_BOX_LETTER_RE = re.compile(
    rf"^\s*(?i:(?:option|choice)\s*)?[\(\[]?\s*(?P<letter>{_L})\s*[\)\]]?(?:\s*$|[\s.:)\]]\s*.*$)", re.S)
_STANDALONE_RE = re.compile(rf"^\s*(?:\*\*|__)?\s*[\(\[]?\s*(?P<letter>{_L})\s*[\)\].]?\s*(?:\*\*|__)?\s*\.?\s*$")
# the closing sentence: a bracketed letter with a word that commits to it, and no other letter
_CLOSING_LETTER_RE = re.compile(rf"[\(\[]\s*({_LL})\s*[\)\]]|\*\*({_L})\*\*")
_CL = r"(?:[\(\[]\s*[A-Da-d]\s*[\)\]]|\*\*[A-D]\*\*)"
# words that commit to the letter right next to them ("Therefore (C).", "the best fit is (B)", "(D) is correct")
_COMMIT_RES = [re.compile(p, re.I) for p in (
    rf"\b(?:therefore|thus|hence|so)\b[,:]?\s*(?:the\s+answer\s+is\s+|it\s+is\s+|we\s+(?:get|have)\s+)?(?:option\s+|choice\s+)?{_CL}(?=\s*[.!]?\s*$|,?\s+(?:since|because|as)\b)",
    rf"\b(?:is|be|matches|match|choose|select|pick|answer)\s*:?\s+(?:option\s+|choice\s+)?{_CL}",
    rf"{_CL}\s+(?:is\s+(?:the\s+)?(?:correct|right|best|answer)\b|it\s+is\b|matches\b|fits\b)",
)]
_REJECT_AFTER_RE = re.compile(r"[ \t]*(?:is|are|was|seems|looks)?[ \t]*(?:wrong|incorrect|false|invalid|impossible|ruled\s+out|eliminated|excluded|fails?\b|too\s|not\b|can(?:not|'t|\s+be\s+(?:ruled|eliminated|excluded|discarded)))", re.I)
_REJECT_BEFORE_RE = re.compile(r"(?:\bnot|\beliminate|\brule\s+out|\bexclude|\bexcluding|\bexcept|\bunlike|\brather\s+than|\binstead\s+of|\bdiscard)[ \t]*(?:option|choice)?[ \t]*$", re.I)
CLOSING_SENTENCE_CHARS = 400
# a second candidate offered after the answer
_HEDGE_LATER_RE = re.compile(rf"(?i:\b(?:could\s+also\s+be|might\s+also\s+be|may\s+also\s+be|or\s+(?:perhaps|possibly|maybe))\b)[^.\n]{{0,40}}?{_OPT}(?:[\(\[]\s*({_LL})\s*[\)\]]|(?<![A-Za-z])({_L})(?![A-Za-z0-9]))")


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


def _letter_at(m: re.Match) -> str | None:
    """The letter a phrase match chose, or None when a second letter follows it (a hedge)."""
    gd = m.groupdict()
    letter = next((gd[k] for k in ("b", "u", "a", "l", "b2", "o", "u2", "r1", "r2") if gd.get(k)), None)
    if letter is None:
        return None
    h = _HEDGE_RE.match(m.string, m.end())
    if h and (h.group("x") or h.group("y")).upper() != letter.upper():
        return None
    return letter.upper()


def _closing_sentence_letter(part: str) -> str | None:
    tail = part.rstrip()[-CLOSING_SENTENCE_CHARS:]
    sentences = [x for x in re.split(r"(?<=[.!?])\s+|\n+", tail) if x.strip()]
    if not sentences:
        return None
    last = sentences[-1]
    kept, committed = set(), set()
    for m in _CLOSING_LETTER_RE.finditer(last):
        if _REJECT_AFTER_RE.match(last, m.end()) or _REJECT_BEFORE_RE.search(last[:m.start()]):
            continue
        kept.add((m.group(1) or m.group(2)).upper())
    for rx in _COMMIT_RES:
        for m in rx.finditer(last):
            c = _CLOSING_LETTER_RE.search(m.group())
            if c:
                committed.add((c.group(1) or c.group(2)).upper())
    if len(kept) == 1 and committed == kept:
        return kept.pop()
    return None


def choice_from_part(part: str) -> str | None:
    """The chosen letter inside a final answer part, or None (abstain; a hedge is no answer).

    The latest committed statement wins: the last box, or an answer phrase after it (a revision).
    """
    best: tuple[int, str | None] | None = None
    boxes = [b for b in find_boxes(part) if b[2] is not None and b[2].strip()]
    if boxes:
        content = last_boxed(part) or boxes[-1][2] or ""
        letter = letter_of(content)
        if letter is None and _MULTI_RE.fullmatch(_unwrap(content).strip().strip("*").strip()):
            best = (boxes[-1][0], None)  # "\boxed{A, D}", "\boxed{A} or \boxed{D}": a hedge
        elif letter is not None:
            best = (boxes[-1][0], letter)
    for rx in _PHRASE_RES:
        for m in rx.finditer(part):
            if best is None or m.start() > best[0]:
                best = (m.start(), _letter_at(m))
    if best:
        if best[1] is not None:
            for h in _HEDGE_LATER_RE.finditer(part, best[0]):
                if (h.group(1) or h.group(2)).upper() != best[1]:
                    return None  # "The answer is C. It could also be A.": a hedge
        return best[1]
    lines = [ln for ln in part.strip().splitlines() if ln.strip()]
    if lines and len(lines[-1]) <= LETTER_MAX_CHARS:
        m = _STANDALONE_RE.match(_unwrap(lines[-1]))
        if m:
            return m.group("letter")
    return _closing_sentence_letter(part)


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
