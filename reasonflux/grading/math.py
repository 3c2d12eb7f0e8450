"""Math answer equivalence: our normalisation and structure layers on top of math-verify/sympy.

Two entry points with the same policy:

* :func:`quick_equal` decides the cheap cases (same normalised string, plain numbers, text, letters,
  base numerals, and structures made of them) with no sympy import; it returns None when only
  sympy can tell.
* :func:`math_equal` decides everything: the quick layer first, then leaves go to sympy through
  latex2sympy (the parser math-verify uses) and math-verify's comparison, behind our own guards.

Policies (docs/grading.md has one example per rule; all are symmetric in gold/prediction):

* formatting is ignored: ``$``/``\\(``/``\\boxed``, ``\\left``/``\\right``, spacing commands,
  ``\\dfrac``/``\\tfrac`` -> ``\\frac``, ``\\frac12`` -> ``\\frac{1}{2}``, ``\\sqrt3``, thousands separators
  (``11,\\!111``, ``11{,}111``, ``58,500``), a leading ``+``, trailing punctuation;
* units and percent are policy first (:mod:`reasonflux.grading.units`): two stated units must agree
  (``7\\text{ km}`` != ``7\\text{ m}``), a percent answer against a plain gold is hundredths
  (``2.5\\%`` != ``2.5``, = ``0.025``); then stripped: degree signs (``30^\\circ`` = ``30``), ``\\%``,
  ``\\$``, a trailing ``\\text{...}`` unit, unit words and count nouns (``31 marbles`` = ``31``, but
  not ``1 million``); no unit conversion ever;
* exact values compare exactly (integers, rationals, ``10^{40}+3``, ``\\binom{50}{25}`` by Python's
  integers; closed forms by sympy's adaptive evaluation of their difference); tolerance only for
  written decimals, relative to their digits; repeating decimals (``0.\\overline{3}``) are exact;
* integers compare by value (``023`` = ``23``, ``5`` != ``500``, ``50`` != ``0.5``); decimals and
  fractions by exact value (``10.0`` = ``10``, ``0.5`` = ``\\frac12``); two decimals must be equal
  (``3.14159`` != ``3.1416``); a decimal equals an exact non-terminating value only when it is that
  value correctly rounded with at least MIN_DECIMAL_SIG_DIGITS significant digits
  (``0.33333`` = ``\\frac13``, ``0.333`` != ``\\frac13``);
* mixed numbers: ``1\\frac{4}{5}`` = ``\\frac95``; scientific notation by value
  (``6.72\\times10^{-5}`` = ``0.0000672``);
* ``x=3`` = ``3`` when the left side is a name (``x``, ``a_3``, ``f(x)``, ``|AB|``, ``(x,y)``); a chain
  ``x = 5+5+1 = 11`` gives its last value; ``\\frac13 \\approx 0.33`` gives the exact value; two
  assignments to different names differ;
* bare lists and ``\\{...\\}`` sets are unordered (``1, -2`` = ``-2, 1``); tuples are ordered
  (``(1,2)`` != ``(2,1)``); a tuple never equals a bare list or a set (``(1,2)`` != ``1, 2``, which
  could be two answers or the interval's ends); ``a \\pm b`` is the list ``a+b, a-b``;
* intervals need the same brackets (``[2,5)`` != ``(2,5]``); unions compare part by part;
  an inequality equals the interval it describes (``x \\ge 5`` = ``[5,\\infty)``);
* matrices compare entry by entry (``pmatrix`` = ``bmatrix``); a column vector equals the tuple of
  its entries;
* text answers compare case- and space-insensitively (``\\text{Navin}`` = ``navin``); a choice
  letter ``\\text{(C)}`` = ``C``;
* base numerals keep their base: ``52_8`` = ``52_{8}`` = ``52``, but ``52_8`` != ``42``;
* everything else goes to sympy: constants by value at 50 digits (``\\frac{\\sqrt3}{3}`` =
  ``\\frac{1}{\\sqrt3}``), expressions with variables by math-verify's symbolic check confirmed at
  random points, equations and inequalities by math-verify's relational check.

    python -c "from reasonflux.grading import is_equivalent as e; print(e('\\\\frac12', '0.5'), e('5', '500'))"
"""

from __future__ import annotations

import functools
import math
import random
import re
from fractions import Fraction
from typing import Callable, Optional

from reasonflux.grading.units import percent_policy, units_conflict

MIN_DECIMAL_SIG_DIGITS = 5  # a decimal stands for an exact irrational/repeating value only this precise
MAX_SCI_EXPONENT = 400  # 1e400 parses as a number; larger exponents go to sympy (with a timeout)
MAX_NUMBER_DIGITS = 4000  # Python refuses longer int strings anyway
MAX_LIST_ITEMS = 64  # unordered matching is quadratic
QUICK_MAX_CHARS = 400  # the quick layer only looks at answers this short (the rest go to workers)
MAX_SYMPY_CHARS = 4000  # longer answers are not parsed at all (not equal)
NUMERIC_DIGITS = 50  # constants are compared at this many digits
RANDOM_POINTS = 3  # symbolic equality is confirmed at this many random points
UNIT_WORDS = (
    "cm", "mm", "km", "meters", "meter", "metres", "metre", "inches", "inch", "feet", "foot", "ft",
    "yards", "yard", "miles", "mile", "mph", "units", "unit", "degrees", "degree", "dollars",
    "dollar", "cents", "cent", "hours", "hour", "hrs", "hr", "minutes", "minute", "mins", "min",
    "seconds", "second", "secs", "sec", "days", "day", "weeks", "week", "months", "month", "years",
    "year", "kg", "grams", "gram", "pounds", "pound", "lbs", "lb", "ounces", "ounce", "oz", "liters",
    "liter", "litres", "litre", "ml", "gallons", "gallon", "people", "students", "ways", "points",
    "square units", "sq units", "cubic units", "square feet", "square inches", "square meters",
    "square centimeters", "square miles", "cubic feet", "cubic inches", "cubic centimeters",
    "sq ft", "sq in", "sq m", "sq cm", "percentage", "percent", "pct", "radians", "coins", "cups", "pages", "books",
)
# lowercase words after a number that are not a unit or count noun ("3 or 4", "2 times x", "5 sqrt 2")
NOT_UNIT_WORDS = ("and\\b", "or\\b", "times\\b", "plus\\b", "minus\\b", "over\\b", "divided\\b", "mod\\b",
                  "choose\\b", "to\\b", "by\\b", "of\\b", "is\\b", "pi\\b", "sqrt\\b", "for\\b", "if\\b",
                  "when\\b", "where\\b", "with\\b", "not\\b", "else\\b", "then\\b", "but\\b", "cos\\b",
                  "sin\\b", "tan\\b", "log\\b", "ln\\b", "exp\\b", "base\\b", "squared\\b", "cubed\\b",
                  "factorial\\b", "dozens?\\b", "hundreds?\\b", "thousands?\\b", "millions?\\b", "billions?\\b",
                  "trillions?\\b", "more\\b", "less\\b", "fewer\\b", "half\\b", "halves\\b", "thirds?\\b",
                  "quarters?\\b", "(?:four|fif|six|seven|eigh|nin|ten|hundred|thousand)ths?\\b", "percent", "per\\b")
GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "theta", "vartheta", "lambda",
         "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "varphi", "chi", "psi", "omega", "Gamma",
         "Delta", "Theta", "Lambda", "Sigma", "Phi", "Psi", "Omega")

# ---------------------------------------------------------------------------------------------
# normalisation (strings in, strings out)
# ---------------------------------------------------------------------------------------------

_DELIMS = [("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")]
_UNICODE = {"\u2212": "-", "\u2013": "-", "\u00d7": "\\times ", "\u00b7": "\\cdot ", "\u03c0": "\\pi ",
            "\u221e": "\\infty ", "\u2264": "\\le ", "\u2265": "\\ge ", "\u2260": "\\ne ", "\u221a": "\\sqrt",
            "\u00b0": "^\\circ", "\u2009": " ", "\u00a0": " ", "\u202f": " ", "\u2003": " ", "\u2002": " "}
_SIZE_RE = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|middle)(?![A-Za-z])\s*\.?")
_SIZE_DOT_RE = re.compile(r"\\(?:left|right)\s*\.")
_THOUSANDS_RES = [re.compile(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))"), re.compile(r"(?<=\d)\s*\{\s*,\s*\}\s*(?=\d{3}(?!\d))"),
                  re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))"), re.compile(r"(?<=\d)\\!(?=\d)")]
_SPACE_CMD_RE = re.compile(r"(?<!\\)\\(?:[,;:! ]|q?quad|enspace|thinspace|medspace|thickspace|negthinspace)|~|\\hspace\*?\{[^{}]*\}")
_DROP_CMD_RE = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])")
_FRAC_CMD_RE = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_TEXT_CMD_RE = re.compile(r"\\(?:textbf|textit|textrm|textnormal|textsf|texttt|mbox|mathrm|mathbf|mathit|mathsf|mathtt|text)\s*\{")
_SINGLE_LETTER_TEXT_RE = re.compile(r"\\text\{\s*([A-Za-z])\s*\}")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])")
_PERCENT_RE = re.compile(r"\\?%|\\text\{\s*percent\s*\}")
_DOLLAR_RE = re.compile(r"\\\$|^\$(?=\s*[\d.\-])|(?<=\d)\s*[\u20ac\u00a3\u00a5]|^[\u20ac\u00a3\u00a5]\s*(?=\d)")
_TRAILING_TEXT_UNIT_RE = re.compile(r"^(?P<head>.*?[\d}\)a-zA-Z])\s*\\text\{\s*(?![ei]\s*\})[A-Za-z][A-Za-z .'/-]*\}(?:\s*\^\s*\{?\s*[23]\s*\}?)?$", re.S)
_TRAILING_WORD_UNIT_RE = re.compile(
    r"^(?P<head>.*?[\d}])\s*(?:" + "|".join(sorted((re.escape(u).replace("\\ ", r"\s+") for u in UNIT_WORDS), key=len, reverse=True))
    + r"|(?-i:(?!" + "|".join(NOT_UNIT_WORDS) + r")[a-z][a-z'-]+(?:\s+[a-z][a-z'-]*){0,3})"
    + r")\.?(?:\s*\^\s*\{?\s*[23]\s*\}?)?$", re.S | re.I)
_APPROX_NOTE_RE = re.compile(r"\s*(?:\\text\{\s*)?\(\s*(?:\\text\{\s*)?(?:about|approximately|approx\.?|roughly|around|\\approx)\b.*$", re.S)
_TEXT_NUMBER_RE = re.compile(r"\\text\{\s*([+-]?\d[\d.,]*)\s*\}")


def _strip_outer(s: str) -> str:
    """Remove math delimiters and a box wrapping the whole string (repeatedly)."""
    from reasonflux.grading.extract import matching_braces

    prev = None
    while prev != s:
        prev = s
        s = s.strip()
        for op, cl in _DELIMS:
            if len(s) >= len(op) + len(cl) and s.startswith(op) and s.endswith(cl):
                inner = s[len(op):len(s) - len(cl)]
                if op == "$" and "$" in inner:
                    continue
                s = inner.strip()
                break
        m = re.match(r"\\(?:boxed|fbox)\s*\{", s)
        if m and s.endswith("}") and matching_braces(s).get(m.end() - 1) == len(s) - 1:
            s = s[m.end():-1]
        s = re.sub(r"(?<!\\)[\s.,;]+$", "", s) if not s.endswith("\\.") else s
    return s


def _fix_frac_sqrt(s: str) -> str:
    s = _FRAC_CMD_RE.sub(r"\\frac", s)
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d|\\[A-Za-z]+|[A-Za-z])\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d|\\[A-Za-z]+|[A-Za-z])", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d)\s*(\\[A-Za-z]+|[A-Za-z])", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\sqrt\s*(\d|[A-Za-z](?![A-Za-z]))", r"\\sqrt{\1}", s)
    return s


def _strip_units(s: str) -> str:
    for _ in range(2):
        m = _TRAILING_TEXT_UNIT_RE.match(s) or _TRAILING_WORD_UNIT_RE.match(s)
        if not m:
            break
        head = m.group("head").strip()
        if not head or head.endswith(("+", "-", "=", "\\cdot", "\\times")):
            break
        s = head
    return s


_REPEAT_BAR_RE = re.compile(r"(?<![\d.])(\d*)\.(\d*)\s*\\(?:overline|bar|overset\{\\frown\})\s*\{\s*(\d+)\s*\}|(?<![\d.])(\d*)\.(\d*)\s*\\(?:overline|bar)\s*(\d)")
_REPEAT_DOT_RE = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\dot\s*\{?\s*(\d)\s*\}?(?:(\d*)\\dot\s*\{?\s*(\d)\s*\}?)?")
_REALS_RE = re.compile(r"\\mathbb\s*\{\s*R\s*\}|\\mathbb\s+R(?![A-Za-z])|\\R(?![A-Za-z])|\\(?:text|mathrm|textbf)\{\s*(?:the\s+set\s+of\s+)?all\s+real(?:\s+numbers|s)?\s*\}"
                       r"|^(?:the\s+set\s+of\s+)?all\s+real(?:\s+numbers|s)?$", re.I)
_REALS_MINUS_RE = re.compile(r"^\(-\\infty\s*,\s*\\infty\)\s*(?:\\setminus|\\backslash|-)\s*\\\{(.*)\\\}$")


def _repeating(whole: str, fixed: str, rep: str) -> str:
    """``0.1\\overline{6}`` (whole 0, fixed 1, repeating 6) as an exact ``\\frac{p}{q}``."""
    a, r = len(fixed), len(rep)
    num = int((whole or "0") + fixed + rep) - int((whole or "0") + fixed)
    v = Fraction(num, 10 ** a * (10 ** r - 1))
    return str(v.numerator) if v.denominator == 1 else f"\\frac{{{v.numerator}}}{{{v.denominator}}}"


def _notation(s: str) -> str:
    """Notations with one exact meaning: repeating decimals (overline, bar, dots) and the reals."""
    if "\\" not in s and "all real" not in s.lower():
        return s
    if "overline" in s or "bar" in s or "frown" in s:
        s = _REPEAT_BAR_RE.sub(lambda m: _repeating(m.group(1) if m.group(3) else m.group(4), m.group(2) if m.group(3) else m.group(5),
                                                    m.group(3) or m.group(6)), s)
    if "\\dot" in s:
        s = _REPEAT_DOT_RE.sub(lambda m: _repeating(m.group(1), m.group(2), m.group(3) + (m.group(4) or "") + (m.group(5) or "")), s)
    if _REALS_RE.search(s):
        s = _REALS_RE.sub(lambda m: "(-\\infty,\\infty)" if not s[m.end():m.end() + 1] in ("^", "_") else m.group(), s.strip())
        m = _REALS_MINUS_RE.match(s.replace(" ", ""))
        if m:  # \mathbb{R} \setminus \{0, 2\}: the union of open intervals between the points
            pts = [parse_number(p) for p in m.group(1).split(",")]
            if pts and all(p is not None and p[1] is None for p in pts):
                cuts = sorted({p[0] for p in pts})
                ends = ["-\\infty"] + [str(c) if c.denominator == 1 else f"\\frac{{{c.numerator}}}{{{c.denominator}}}" for c in cuts] + ["\\infty"]
                s = "\\cup".join(f"({lo},{hi})" for lo, hi in zip(ends, ends[1:]))
    return s


@functools.lru_cache(maxsize=65536)
def normalize(s: str) -> str:
    """Canonical LaTeX for an answer (formatting, units, degrees, percent, money removed)."""
    s = s.strip()
    for a, b in _UNICODE.items():
        if a in s:
            s = s.replace(a, b)
    s = re.sub(r"\n\s*\n", ", ", s.strip())  # blank lines separate the items of a list
    s = s.replace("\n", " ").replace("\t", " ").replace("\r", " ")
    if "\\begin" not in s:
        s = re.sub(r"\\\\(?=[A-Za-z])", r"\\", s)  # "\\frac" from a doubly escaped string
    s = re.sub(r'\\"|^"+|"+$', "", s).strip()  # quotes around an answer (\" from escaped strings)
    s = _strip_outer(s)
    s = _notation(s)
    s = re.sub(r"\\(?:lor|vee)(?![A-Za-z])", r" \\text{ or } ", s)
    s = re.sub(r"\\(?:land|wedge)(?![A-Za-z])", r" \\text{ and } ", s)
    s = _DOLLAR_RE.sub("", s)
    s = re.sub(r"(?<=\d)\s*\$$", "", s)
    s = re.sub(r"(?<!\\)\\$", "", s).strip()  # a stray trailing backslash
    s = _DROP_CMD_RE.sub("", s)
    s = _SIZE_DOT_RE.sub("", s)
    s = _SIZE_RE.sub("", s)
    for rx in _THOUSANDS_RES:
        s = rx.sub("", s)
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s.strip()):
        s = s.replace(",", "")
    s = _SPACE_CMD_RE.sub(" ", s)
    s = _TEXT_CMD_RE.sub(r"\\text{", s)
    s = re.sub(r"\\text\{\s*\}", " ", s)
    s = _TEXT_NUMBER_RE.sub(r"\1", s)
    s = _strip_units(s)  # before \text{m} becomes the letter m
    if not re.fullmatch(r"\\text\{\s*[A-Za-z]\s*\}", s.strip()):
        s = _SINGLE_LETTER_TEXT_RE.sub(r"\1", s)  # \mathrm{e} inside a formula is the letter
    s = _fix_frac_sqrt(s)
    s = _DEGREE_RE.sub("", s)
    s = _PERCENT_RE.sub("", s)
    s = _DOLLAR_RE.sub("", s)
    s = re.sub(r"\\infin(?![A-Za-z])|\\infinity", r"\\infty", s)
    s = re.sub(r"\+\s*\\infty", r"\\infty", s)
    s = re.sub(r"\\(?:neq|ne)(?![A-Za-z])|!=", r"\\neq ", s)
    s = re.sub(r"\\(?:leq|leqslant|le)(?![A-Za-z])|<=", r"\\le ", s)
    s = re.sub(r"\\(?:geq|geqslant|ge)(?![A-Za-z])|>=", r"\\ge ", s)
    s = re.sub(r"\\lt(?![A-Za-z])", "<", s)
    s = re.sub(r"\\gt(?![A-Za-z])", ">", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = _APPROX_NOTE_RE.sub("", s).strip()  # "\frac{737}{39} \text{(about 18.9 cards)}": the exact value
    while s.endswith("}") and s.count("{") < s.count("}"):
        s = s[:-1].rstrip()  # a stray closing brace
    s = _strip_units(s)
    s = _strip_outer(s)
    s = re.sub(r"^\+\s*(?=[\d.\\])", "", s)
    return s.strip()


def canonical_key(s: str) -> str:
    """A spacing-free key: two answers with the same key are the same answer."""
    return re.sub(r"\s+", "", s)


def text_key(s: str) -> str:
    """Key for text answers: no \\text wrappers, braces, spaces or case; dots only inside numbers."""
    s = re.sub(r"\\(?:text|mathrm|textbf|mbox)\s*\{", "", s)
    s = re.sub(r"[{}\s~\"'`]|\\[ ,;!]", "", s)
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", "", s)
    return s.lower()


# ---------------------------------------------------------------------------------------------
# structure: lists, sets, tuples, intervals, unions, matrices, equations
# ---------------------------------------------------------------------------------------------

_OPEN = {"(": ")", "[": "]", "{": "}", "\\{": "\\}", "\\langle": "\\rangle", "\\lbrace": "\\rbrace"}
_CLOSE = {")", "]", "}", "\\}", "\\rangle", "\\rbrace"}
_TOKEN_RE = re.compile(r"\\[A-Za-z]+|\\.|.", re.S)


def _tokens(s: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in _TOKEN_RE.finditer(s)]


def split_top(s: str, seps: tuple[str, ...]) -> list[str]:
    """Split ``s`` at separators that sit outside every bracket (mismatched brackets allowed)."""
    parts, depth, start = [], 0, 0
    toks = _tokens(s)
    i = 0
    while i < len(toks):
        pos, t = toks[i]
        if t in _OPEN:
            depth += 1
        elif t in _CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0:
            for sep in seps:
                if s.startswith(sep, pos) and (not sep[-1].isalpha() or not s[pos + len(sep):pos + len(sep) + 1].isalpha()):
                    parts.append(s[start:pos])
                    start = pos + len(sep)
                    while i + 1 < len(toks) and toks[i + 1][0] < start:
                        i += 1
                    break
        i += 1
    parts.append(s[start:])
    return parts


def _outer_group(s: str) -> tuple[str, str, str] | None:
    """(open, inner, close) when one bracket pair spans the whole string."""
    toks = _tokens(s)
    if len(toks) < 2 or toks[0][1] not in _OPEN or toks[-1][1] not in _CLOSE:
        return None
    depth = 0
    for k, (_, t) in enumerate(toks):
        if t in _OPEN:
            depth += 1
        elif t in _CLOSE:
            depth -= 1
            if depth == 0 and k != len(toks) - 1:
                return None
    if depth != 0:
        return None
    open_t, close_t = toks[0][1], toks[-1][1]
    return open_t, s[len(open_t):toks[-1][0]], close_t


_GREEK_RE = "|".join(GREEK)
_NAME = rf"(?:[A-Za-z]|\\(?:{_GREEK_RE}))(?:_\{{?[A-Za-z0-9,]+\}}?|_[A-Za-z0-9])?'*"
_NAME_LIKE_RE = re.compile(
    rf"^(?:{_NAME}"
    rf"|{_NAME}\s*\(\s*[A-Za-z0-9,\s]*\)"  # f(x), P(2)
    rf"|\|\s*[A-Za-z]{{1,4}}\s*\||[A-Z]{{2,4}}"  # |AB|, AB
    rf"|(?:m\s*)?\\angle\s*[A-Z]{{1,3}}"  # \angle ABC
    rf"|{_NAME}(?:\s*:\s*{_NAME})+"  # A:B, V_1:V_2
    rf"|\\frac\{{[A-Za-z]{{1,3}}\}}\{{[A-Za-z]{{1,3}}\}}"  # \frac{NO}{BO}
    rf"|\(\s*{_NAME}(?:\s*,\s*{_NAME})+\s*\)"  # (x, y)
    rf")$"
)
_REL_RE = re.compile(r"\\le |\\ge |\\neq |<|>|\\leq|\\geq")
_LETTER_RE = re.compile(r"^(?:\\text\{\s*)?\(\s*([A-E])\s*\)(?:\s*\})?$|^\\text\{\s*([A-E])\s*\}$")
_BASE_RE = re.compile(r"^([0-9A-Za-z]+)_\{?\(?(\d{1,2})\)?\}?$")
_WORDS_RE = re.compile(r"^[A-Za-z]{3,}(?:[\s-]+[A-Za-z]+)*$")
_MATRIX_RE = re.compile(r"^\\begin\{(?:[pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{(?:[pbvBV]?matrix|smallmatrix|array)\}$", re.S)
_CONNECTOR_RE = re.compile(r"\\text\{\s*(?:,?\s*and|,?\s*or|,)\s*\}|(?<![A-Za-z\\])(?:and|or)(?![A-Za-z])|;")


class Node:
    """A parsed answer: kind in num, base, letter, text, expr, rel, eq, list, set, tuple,
    interval, union, matrix."""

    __slots__ = ("kind", "raw", "value", "ulp", "items", "lo", "hi", "name")

    def __init__(self, kind: str, raw: str, **kw) -> None:  # noqa: ANN003
        self.kind, self.raw = kind, raw
        self.value = kw.get("value")
        self.ulp = kw.get("ulp")
        self.items = kw.get("items", [])
        self.lo, self.hi = kw.get("lo"), kw.get("hi")
        self.name = kw.get("name")

    def __repr__(self) -> str:
        inner = self.items if self.items else self.value if self.value is not None else self.raw
        return f"{self.kind}({inner!r})"


def _sig_digits(digits: str) -> int:
    d = digits.lstrip("0.")
    return len(d.replace(".", ""))


def parse_number(s: str) -> tuple[Fraction, Optional[Fraction], int] | None:
    """(value, ulp, significant digits) for a plain number; ulp is None for exact forms."""
    t = s.replace(" ", "")
    if len(t) > MAX_NUMBER_DIGITS:
        return None
    m = re.fullmatch(r"([+-]?)(\d+)", t)
    if m:
        return Fraction(int(m.group(2))) * (-1 if m.group(1) == "-" else 1), None, 0
    m = re.fullmatch(r"([+-]?)(\d*)\.(\d+)", t) or re.fullmatch(r"([+-]?)(\d+)\.(\d*)", t)
    if m:
        k = len(m.group(3))
        v = Fraction(int(m.group(2) or "0") * 10 ** k + int(m.group(3) or "0"), 10 ** k)
        return v * (-1 if m.group(1) == "-" else 1), Fraction(1, 10 ** k), _sig_digits(m.group(2) + "." + m.group(3))
    m = (re.fullmatch(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}", t) or re.fullmatch(r"([+-]?)(\d+)/(\d+)", t))
    if m and int(m.group(3)) != 0:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) == "-" else 1), None, 0
    m = re.fullmatch(r"([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}", t)
    if m and 0 < int(m.group(3)) < int(m.group(4)):
        v = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
        return v * (-1 if m.group(1) == "-" else 1), None, 0
    m = (re.fullmatch(r"([+-]?)(\d+)(?:\.(\d+))?(?:\\times|\\cdot|\*|x)10\^\{?([+-]?\d+)\}?", t)
         or re.fullmatch(r"([+-]?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)", t))
    if m and abs(int(m.group(4))) <= MAX_SCI_EXPONENT:
        frac = m.group(3) or ""
        mant = Fraction(int(m.group(2) + frac), 10 ** len(frac))
        e = int(m.group(4))
        v = mant * Fraction(10) ** e * (-1 if m.group(1) == "-" else 1)
        ulp = Fraction(10) ** (e - len(frac)) if frac else None
        return v, ulp, _sig_digits(m.group(2) + "." + frac) if frac else 0
    m = re.fullmatch(r"([+-]?)10\^\{?([+-]?\d+)\}?", t)
    if m and abs(int(m.group(2))) <= MAX_SCI_EXPONENT:
        return Fraction(10) ** int(m.group(2)) * (-1 if m.group(1) == "-" else 1), None, 0
    return None


def _leaf(s: str) -> Node:
    s = s.strip()
    m = _LETTER_RE.match(s)
    if m:
        return Node("letter", s, value=m.group(1) or m.group(2))
    num = parse_number(s)
    if num is None:
        stripped = _strip_units(s)
        if stripped != s:
            num = parse_number(stripped)
            s = stripped if num is not None else s
    if num is not None:
        return Node("num", s, value=num[0], ulp=num[1], name=num[2])
    m = _BASE_RE.match(s.replace(" ", ""))
    if m:
        digits, base = m.group(1).upper().lstrip("0") or "0", int(m.group(2))
        if 2 <= base <= 36 and all(int(c, 36) < base for c in digits):
            return Node("base", s, value=(digits, base))
    if s.startswith("\\text{") or _WORDS_RE.match(s):
        body = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
        if not re.search(r"[\\^_=]", body):
            return Node("text", s, value=text_key(s))
    return Node("expr", s)


def _letter(s: str) -> str | None:
    """An option letter A-E written alone: ``C``, ``(C)``, ``\\text{(C)}``, ``\\textbf{C}``."""
    t = re.sub(r"\\text\{\s*([^{}]*?)\s*\}", r"\1", s.strip()).strip()
    m = re.fullmatch(r"\(?\s*([A-Ea-e])\s*\)?", t)
    return m.group(1).upper() if m else None


def _balanced(s: str) -> bool:
    depth = 0
    for _, t in _tokens(s):
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _pm_variants(s: str) -> list[str] | None:
    n = len(re.findall(r"\\pm(?![A-Za-z])|\\mp(?![A-Za-z])", s))
    if n != 1:
        return None
    plus = re.sub(r"\\pm(?![A-Za-z])", "+", re.sub(r"\\mp(?![A-Za-z])", "-", s))
    minus = re.sub(r"\\pm(?![A-Za-z])", "-", re.sub(r"\\mp(?![A-Za-z])", "+", s))
    return [plus, minus]


def _name_key(s: str) -> str:
    return re.sub(r"_\{(\w)\}", r"_\1", canonical_key(s))


def is_name(s: str) -> bool:
    return bool(_NAME_LIKE_RE.match(s.strip())) or bool(_NAME_LIKE_RE.match(canonical_key(s)))


def parse_node(s: str, depth: int = 0) -> Node:
    """The structure of a normalised answer."""
    s = s.strip()
    if depth > 20 or len(s) > MAX_SYMPY_CHARS:
        return Node("expr", s)
    m = _MATRIX_RE.match(s)
    if m is None:
        g = _outer_group(s)
        if g and g[0] in "([" and _MATRIX_RE.match(g[1].strip()):
            m = _MATRIX_RE.match(g[1].strip())
    if m and re.search(r"\\(?:begin|end)\{", m.group(1)):
        m = None  # several environments (a matrix sum or product): sympy's job
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(1)) if r.strip()]
        singles = all(len(split_top(r, ("&",))) == 1 for r in rows)
        broken = any(not _balanced(r) for r in rows) or (singles and any(
            re.fullmatch(r"\s*(?:[-+=/^_]|\\times|\\cdot|\^\{\}|\\text\{\s*\})?\s*", r) for r in re.split(r"\\\\", m.group(1))[1:-1]))
        if broken:
            # A formula broken into lines by an export bug ("\\frac{ \\\\ 4 \\\\ }{ ..."): read it joined.
            return parse_node(normalize(" ".join(r.strip() for r in rows)), depth + 1)
        cells = [[parse_node(c, depth + 1) for c in split_top(r, ("&",))] for r in rows]
        return Node("matrix", s, items=cells)
    if not s.startswith("\\text{"):
        s2 = _CONNECTOR_RE.sub(",", s) if _CONNECTOR_RE.search(s) and not re.search(r"\\text\{[^{}]*\b(?:and|or)\b[^{}]*[A-Za-z][^{}]*\}", s) else s
        parts = [p for p in split_top(s2, (",",)) if p.strip()]
        if len(parts) >= 2:
            items: list[Node] = []
            for p in parts[:MAX_LIST_ITEMS]:
                n = parse_node(p, depth + 1)
                items.extend(n.items if n.kind == "list" and n.name == "pm" else [n])
            joined = ("or" if re.search(r"(?<![A-Za-z\\])or(?![A-Za-z])", s)
                      else "and" if re.search(r"(?<![A-Za-z\\])and(?![A-Za-z])", s) else None)
            return Node("list", s, items=items, name=joined)
        if len(parts) == 1:
            s = parts[0].strip()
    union = split_top(s, ("\\cup",))
    if len(union) >= 2:
        return Node("union", s, items=[parse_node(p, depth + 1) for p in union])
    # relations: \in, =, \approx, inequalities
    ins = split_top(s, ("\\in",))
    if len(ins) == 2 and is_name(ins[0]):
        return parse_node(ins[1], depth + 1)
    approx = split_top(s, ("\\approx",))
    if len(approx) >= 2:
        first = approx[0]
        eqs = split_top(first, ("=",))
        if not (len(eqs) == 1 and is_name(first)):
            return parse_node(first, depth + 1)  # "x = 1/3 \\approx 0.33": the exact value
        return parse_node(approx[1], depth + 1)
    eqs = split_top(s, ("=",))
    if len(eqs) >= 2 and all(e.strip() for e in eqs):
        names = [e for e in eqs[:-1] if is_name(e)]
        if names:
            value = parse_node(eqs[-1], depth + 1)
            return Node("eq", s, items=[value], name=_name_key(names[0]))
        if not any(_has_letter_variable(e) for e in eqs):
            return parse_node(eqs[-1], depth + 1)  # a chain of values "3+4 = 7": its last value
        if len(eqs) == 2 and _QUANTITY_RE.fullmatch(eqs[0].strip()) and not _has_letter_variable(eqs[1]):
            # "m + n = 47": the value of a quantity made of names only (no coefficients: "2x+z=1" is an equation)
            return Node("eq", s, items=[parse_node(eqs[1], depth + 1)], name="q:" + canonical_key(eqs[0]))
        return Node("rel", s)
    if _REL_RE.search(s):
        return Node("rel", s)
    g = _outer_group(s)
    if g:
        op, inner, cl = g
        if op in ("{",) and cl == "}":
            return parse_node(inner, depth + 1)
        items = [p for p in split_top(inner, (",",))]
        if op in ("\\{", "\\lbrace"):
            nodes: list[Node] = []
            for p in items:
                if p.strip():
                    n = parse_node(p, depth + 1)
                    nodes.extend(n.items if n.kind == "list" and n.name == "pm" else [n])
            return Node("set", s, items=nodes)
        if len(items) == 1:
            if op == "(" and cl == ")":
                return parse_node(inner, depth + 1)
        elif op in "([" and cl in ")]":
            if len(items) == 2 and (op == "[" or cl == "]"):
                return Node("interval", s, items=[parse_node(items[0], depth + 1), parse_node(items[1], depth + 1)],
                            lo=op == "[", hi=cl == "]")
            return Node("tuple", s, items=[parse_node(p, depth + 1) for p in items], name=op + cl)
        elif op == "\\langle":
            return Node("tuple", s, items=[parse_node(p, depth + 1) for p in items], name="()")
    pm = _pm_variants(s)
    if pm:
        return Node("list", s, items=[parse_node(v, depth + 1) for v in pm], name="pm")
    return _leaf(s)


# ---------------------------------------------------------------------------------------------
# comparison (three-valued: True, False, None = only sympy can tell)
# ---------------------------------------------------------------------------------------------

Leaf = Callable[[Node, Node], Optional[bool]]


def _all(results: list[Optional[bool]]) -> Optional[bool]:
    if any(r is False for r in results):
        return False
    return True if all(r is True for r in results) else None


def _ordered(a: list[Node], b: list[Node], leaf: Leaf) -> Optional[bool]:
    if len(a) != len(b):
        return False
    out: list[Optional[bool]] = []
    for x, y in zip(a, b):
        r = compare(x, y, leaf)
        if r is False:
            return False
        out.append(r)
    return _all(out)


def _matching(n: int, edges: list[list[int]]) -> bool:
    match_of: dict[int, int] = {}

    def augment(u: int, seen: set[int]) -> bool:
        for v in edges[u]:
            if v not in seen:
                seen.add(v)
                if v not in match_of or augment(match_of[v], seen):
                    match_of[v] = u
                    return True
        return False

    return all(augment(u, set()) for u in range(n))


def _dedupe(items: list[Node]) -> list[Node]:
    seen, out = set(), []
    for n in items:
        k = canonical_key(n.raw)
        if k not in seen:
            seen.add(k)
            out.append(n)
    return out


def _unordered(a: list[Node], b: list[Node], leaf: Leaf) -> Optional[bool]:
    a, b = _dedupe(a), _dedupe(b)  # a solution set written with a repeat is the same set
    if len(a) != len(b):
        return False
    table = [[compare(x, y, leaf) for y in b] for x in a]
    sure = [[j for j, r in enumerate(row) if r is True] for row in table]
    if _matching(len(a), sure):
        return True
    maybe = [[j for j, r in enumerate(row) if r is not False] for row in table]
    return None if _matching(len(a), maybe) else False


_SEQ = ("list", "set", "tuple")
_QUANTITY_RE = re.compile(r"[A-Za-z](?:\s*(?:[+\-]|\\cdot|\\times)?\s*[A-Za-z])+")
_REL_OPS = {"<": ("<", False), "\\le": ("<", True), ">": (">", False), "\\ge": (">", True)}
_REL_OP_RE = r"(<|>|\\le(?![A-Za-z])|\\ge(?![A-Za-z]))"
_VAR1 = r"([A-Za-z])"
_ONE_REL_RES = (
    (re.compile(rf"^\s*{_VAR1}\s*{_REL_OP_RE}\s*([^<>=\\]*(?:\\(?!le|ge|neq)[A-Za-z]+[^<>=\\]*)*)$"), "var-first"),
    (re.compile(rf"^\s*([^<>=\\]*(?:\\(?!le|ge|neq)[A-Za-z]+[^<>=\\]*)*?)\s*{_REL_OP_RE}\s*{_VAR1}\s*$"), "var-last"),
)
_DOUBLE_REL_RE = re.compile(rf"^\s*(.+?)\s*{_REL_OP_RE}\s*{_VAR1}\s*{_REL_OP_RE}\s*(.+?)\s*$")
_NEQ_RE = re.compile(r"^\s*([A-Za-z])\s*\\neq\s*(.+?)\s*$")


def _interval(lo: str, hi: str, lo_closed: bool, hi_closed: bool, depth: int) -> Node:
    return Node("interval", f"{'[' if lo_closed else '('}{lo},{hi}{']' if hi_closed else ')'}",
                items=[parse_node(lo, depth + 1), parse_node(hi, depth + 1)], lo=lo_closed, hi=hi_closed)


def _one_rel(raw: str, depth: int) -> tuple[str, list[Node]] | None:
    """A relation in one variable as (variable, intervals): ``x \\ge 5`` -> [5, oo); ``-2 < x < 5`` -> (-2, 5)."""
    s = raw.strip()
    m = _DOUBLE_REL_RE.match(s)
    if m and m.group(1).strip() and m.group(5).strip() and not re.search(r"[<>]|\\le|\\ge", m.group(1) + m.group(5)):
        (d1, c1), (d2, c2) = _REL_OPS[m.group(2)], _REL_OPS[m.group(4)]
        if d1 != d2:
            return None
        lo, hi, lc, hc = (m.group(1), m.group(5), c1, c2) if d1 == "<" else (m.group(5), m.group(1), c2, c1)
        return m.group(3), [_interval(lo.strip(), hi.strip(), lc, hc, depth)]
    m = _NEQ_RE.match(s)
    if m and not re.search(r"[<>=]|\\le|\\ge", m.group(2)):
        return m.group(1), [_interval("-\\infty", m.group(2), False, False, depth), _interval(m.group(2), "\\infty", False, False, depth)]
    for rx, how in _ONE_REL_RES:
        m = rx.match(s)
        if not m:
            continue
        var, op, val = (m.group(1), m.group(2), m.group(3)) if how == "var-first" else (m.group(3), m.group(2), m.group(1))
        if not val.strip() or re.fullmatch(r"[A-Za-z]", val.strip()):
            return None
        d, closed = _REL_OPS[op]
        if how == "var-last":
            d = "<" if d == ">" else ">"
        if d == "<":
            return var, [_interval("-\\infty", val.strip(), False, closed, depth)]
        return var, [_interval(val.strip(), "\\infty", closed, False, depth)]
    return None


def rel_intervals(n: Node, depth: int = 0) -> list[Node] | None:
    """The intervals a relation (or relations joined by "or") in one variable describes, else None."""
    if n.kind == "rel":
        r = _one_rel(n.raw, depth)
        return r[1] if r else None
    if n.kind == "list" and n.name == "and" and len(n.items) == 2 and all(i.kind == "rel" for i in n.items):
        rs = [_one_rel(i.raw, depth) for i in n.items]
        if any(r is None or len(r[1]) != 1 for r in rs) or rs[0][0] != rs[1][0]:  # type: ignore[index]
            return None
        ivs = [r[1][0] for r in rs]  # type: ignore[index]
        lows = [iv for iv in ivs if canonical_key(iv.items[1].raw) == "\\infty"]
        highs = [iv for iv in ivs if canonical_key(iv.items[0].raw) == "-\\infty"]
        if len(lows) != 1 or len(highs) != 1 or lows[0] is highs[0]:
            return None  # "x > 1 and x < 3" is (1, 3); anything else is not one interval we can read
        lo, hi = lows[0], highs[0]
        return [Node("interval", f"{lo.raw}&{hi.raw}", items=[lo.items[0], hi.items[1]], lo=lo.lo, hi=hi.hi)]
    if n.kind == "list" and n.name == "or" and n.items and all(i.kind == "rel" for i in n.items):
        rs = [_one_rel(i.raw, depth) for i in n.items]
        if any(r is None for r in rs) or len({r[0] for r in rs}) != 1:  # type: ignore[index]
            return None
        return [iv for r in rs for iv in r[1]]  # type: ignore[index]
    return None


def _as_interval(n: Node) -> Node | None:
    """An interval node, or an open interval written as the pair ``(a, b)``."""
    if n.kind == "interval":
        return n
    if n.kind == "tuple" and n.name == "()" and len(n.items) == 2:
        return Node("interval", n.raw, items=n.items, lo=False, hi=False)
    return None


def _named_values(n: Node) -> list[tuple[str, Node]] | None:
    """``x=2, y=3`` as [(x, 2), (y, 3)]: several assignments to distinct plain names."""
    if n.kind != "list" or len(n.items) < 2 or any(i.kind != "eq" or str(i.name).startswith("q:") for i in n.items):
        return None
    names = [str(i.name) for i in n.items]
    if len(set(names)) != len(names):
        return None
    return [(str(i.name), i.items[0]) for i in n.items]


def _named_vs_tuple(named: list[tuple[str, Node]], tup: Node, leaf: Leaf) -> Optional[bool]:
    """Assignments against an ordered tuple: names that are single letters in alphabetical order
    (``y=3, x=2`` is the pair (2, 3)), other names in the order written."""
    order = sorted(named, key=lambda kv: kv[0]) if all(re.fullmatch(r"[A-Za-z]", k) for k, _ in named) else named
    return _ordered([v for _, v in order], tup.items, leaf)


def compare(a: Node, b: Node, leaf: Leaf) -> Optional[bool]:
    """Structural comparison; ``leaf`` decides scalars (and may return None)."""
    if canonical_key(a.raw) == canonical_key(b.raw):
        return True
    if a.kind == "eq" or b.kind == "eq":
        if a.kind == "eq" and b.kind == "eq":
            if a.name != b.name:
                return False
            return compare(a.items[0], b.items[0], leaf)
        if a.kind == "eq" and b.kind == "rel" or b.kind == "eq" and a.kind == "rel":
            return leaf(a, b)
        return compare(a.items[0], b, leaf) if a.kind == "eq" else compare(a, b.items[0], leaf)
    ka, kb = a.kind, b.kind
    for x, y in ((a, b), (b, a)):
        if y.kind == "tuple" and y.name == "()":
            named = _named_values(x)
            if named is not None:
                return _named_vs_tuple(named, y, leaf)
        if y.kind in ("interval", "union", "tuple") and x.kind in ("rel", "list"):
            ivs = rel_intervals(x)
            if ivs is not None:
                others = [_as_interval(o) for o in (y.items if y.kind == "union" else [y])]
                if any(o is None for o in others):
                    return False
                return _unordered(ivs, others, leaf)  # type: ignore[arg-type]
    if ka in _SEQ and kb in _SEQ:
        if ka == "tuple" and kb == "tuple":
            return _ordered(a.items, b.items, leaf) if a.name == b.name else False  # (1,2,3) != [1,2,3)
        if "tuple" in (ka, kb):
            return False  # "1, 2" (two answers) is not the pair or interval "(1, 2)"
        return _unordered(a.items, b.items, leaf)
    if ka in ("list", "set") and len(a.items) == 1 and kb not in _SEQ:
        return compare(a.items[0], b, leaf)
    if kb in ("list", "set") and len(b.items) == 1 and ka not in _SEQ:
        return compare(a, b.items[0], leaf)
    if (ka == "list") != (kb == "list") and (ka if kb == "list" else kb) not in _SEQ + ("interval", "union", "matrix"):
        many, one = (a, b) if ka == "list" else (b, a)  # "15\frac{39}{40} or \frac{639}{40}": each one equal
        return _all([compare(x, one, leaf) for x in many.items])
    if ka == "matrix" or kb == "matrix":
        if ka == kb:
            if len(a.items) != len(b.items) or any(len(x) != len(y) for x, y in zip(a.items, b.items)):
                return False
            return _ordered([c for r in a.items for c in r], [c for r in b.items for c in r], leaf)
        m, other = (a, b) if ka == "matrix" else (b, a)
        if other.kind in ("tuple", "list") and (len(m.items) == 1 or all(len(r) == 1 for r in m.items)):
            return _ordered([c for r in m.items for c in r], other.items, leaf)
        if other.kind == "expr" and ("\\begin" in other.raw or "\\end" in other.raw or ka == kb):
            return leaf(a, b)  # a matrix expression (sum, product): sympy evaluates it
        return False  # a matrix is never a scalar
    if ka == "interval" and kb == "interval":
        if a.lo != b.lo or a.hi != b.hi:
            return False
        return _ordered(a.items, b.items, leaf)
    if ka == "union" and kb == "union":
        return _unordered(a.items, b.items, leaf)
    if ka == "rel" or kb == "rel":
        other = b if ka == "rel" else a
        if other.kind in ("rel", "interval", "union", "tuple") or (ka == "rel" and kb == "rel"):
            return leaf(a, b)
        return False
    if ka in _SEQ + ("interval", "union") or kb in _SEQ + ("interval", "union"):
        return False
    return leaf(a, b)


def _decimal_matches(value: Fraction, ulp: Fraction, sig: int, exact: Fraction) -> bool:
    return sig >= MIN_DECIMAL_SIG_DIGITS and abs(value - exact) * 2 <= ulp


def quick_leaf(a: Node, b: Node) -> Optional[bool]:
    """Scalar comparison without sympy (None when sympy is needed)."""
    ka, kb = a.kind, b.kind
    if ka == "text" or kb == "text":
        if text_key(a.raw) == text_key(b.raw):
            return True
        return False if (ka == "text" and kb in ("text", "num", "letter", "base")) or (kb == "text" and ka in ("num", "letter", "base")) else None
    if ka == "letter" or kb == "letter":
        la, lb = _letter(a.raw), _letter(b.raw)
        return la is not None and la == lb
    if ka == "num" and kb == "num":
        if a.value == b.value:
            return True
        if a.ulp is not None and b.ulp is not None:
            return False
        if a.ulp is None and b.ulp is None:
            return False
        d, e = (a, b) if a.ulp is not None else (b, a)
        return _decimal_matches(d.value, d.ulp, d.name, e.value)
    if ka == "base" or kb == "base":
        if ka == kb:
            return a.value == b.value
        other = b if ka == "base" else a
        base = a if ka == "base" else b
        if other.kind == "num" and other.ulp is None and other.value.denominator == 1 and other.value >= 0:
            return str(other.value.numerator) == base.value[0]
        return False
    if (ka == "num" and kb == "expr" and _has_variable(b.raw)) or (kb == "num" and ka == "expr" and _has_variable(a.raw)):
        return False
    if ka == "expr" and kb == "expr" and (_has_variable(a.raw) != _has_variable(b.raw)):
        x, y = (a, b) if _has_variable(a.raw) else (b, a)
        if not _has_letter_variable(y.raw) and not _BOUND_VAR_RE.search(y.raw) and "'" not in x.raw:
            return False  # an expression in a variable is not a constant ("p - q" vs "3\\sqrt{13}")
    if ka in ("num", "expr") and kb in ("num", "expr"):
        xa = a.value if ka == "num" else exact_value(a.raw)
        xb = b.value if kb == "num" else exact_value(b.raw)
        if xa is not None and xb is not None:
            if xa == xb:
                return True
            da = ka == "num" and a.ulp is not None
            db = kb == "num" and b.ulp is not None
            if not da and not db:
                return xa == xb  # exact rationals: exactly equal or different, never "close"
            if da != db:
                d, e = (a, xb) if da else (b, xa)
                return _decimal_matches(d.value, d.ulp, d.name, e)
        ulps = [float(n.ulp) for n in (a, b) if n.kind == "num" and n.ulp is not None]
        if surely_different(a.raw, b.raw, abs_tol=max(ulps) if ulps else 0.0):
            return False
    return None


_VAR_RE = re.compile(r"(?<![\\A-Za-z])[a-df-hj-zA-Z](?![A-Za-z])")
_BOUND_VAR_RE = re.compile(r"\\(?:sum|prod|int|iint|oint|lim|min|max|sup|inf|operatorname|mathbb|frac\{d|partial)(?![A-Za-z])|\bd[a-z]\b")


def _has_letter_variable(s: str) -> bool:
    """Any latin letter outside commands other than e and i (a variable, or a word)."""
    t = re.sub(r"\\(?:text|operatorname|mathrm)\{[^{}]*\}", " x ", s)
    t = re.sub(r"\\[A-Za-z]+", " ", t)
    return any(run not in ("e", "i") for run in re.findall(r"[A-Za-z]+", t))


def _has_variable(s: str) -> bool:
    """A free variable letter outside commands (not e, i; not inside \\text/\\operatorname).
    Sums, integrals, limits and sub/superscripts bind letters: then we do not guess."""
    if _BOUND_VAR_RE.search(s):
        return False
    t = re.sub(r"\\(?:text|operatorname|mathrm)\{[^{}]*\}", " ", s)
    t = re.sub(r"\\[A-Za-z]+", " ", t)
    return bool(_VAR_RE.search(t))


# ---------------------------------------------------------------------------------------------
# a tiny float evaluator: only ever used to prove two constants DIFFERENT (never equal)
# ---------------------------------------------------------------------------------------------

_EVAL_TOKEN_RE = re.compile(r"\s*(\d+\.\d*|\.\d+|\d+|\\frac|\\sqrt|\\pi|\\cdot|\\times|[-+*/^(){}\[\]]|i(?![A-Za-z]))")
EVAL_MAX_ABS = 1e200


class _EvalError(Exception):
    pass


def float_value(s: str) -> complex | None:
    """The value of a constant made of numbers, + - * / ^, \\frac, \\sqrt, \\pi and i; else None."""
    toks, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _EVAL_TOKEN_RE.match(s, pos)
        if not m:
            return None
        toks.append(m.group(1))
        pos = m.end()
    if not toks or len(toks) > 200:
        return None
    try:
        val, k = _eval_sum(toks, 0)
        if k != len(toks):
            return None
    except (_EvalError, ZeroDivisionError, OverflowError, ValueError, RecursionError):
        return None
    if abs(val) > EVAL_MAX_ABS or val != val:
        return None
    return val


def _eval_sum(t: list[str], k: int) -> tuple[complex, int]:
    sign = 1
    while k < len(t) and t[k] in "+-":
        sign, k = (-sign if t[k] == "-" else sign), k + 1
    val, k = _eval_product(t, k)
    val *= sign
    while k < len(t) and t[k] in ("+", "-"):
        op = t[k]
        v, k = _eval_product(t, k + 1)
        val = val + v if op == "+" else val - v
    return val, k


_ATOM_START = ("(", "{", "\\frac", "\\sqrt", "\\pi", "i")


def _eval_product(t: list[str], k: int) -> tuple[complex, int]:
    val, k = _eval_power(t, k)
    while k < len(t):
        if t[k] in ("*", "/", "\\cdot", "\\times"):
            op = t[k]
            v, k = _eval_power(t, k + 1)
            val = val / v if op == "/" else val * v
        elif t[k] in _ATOM_START or t[k][0].isdigit() or t[k][0] == ".":
            if (t[k][0].isdigit() or t[k][0] == ".") and (t[k - 1][0].isdigit() or t[k - 1] in (")", "}")):
                raise _EvalError("two numbers side by side")  # "1 000", "(2)3": not a product we trust
            v, k = _eval_power(t, k)  # implicit multiplication: 2\\sqrt{3}, 3\\pi, 2(1+i)
            val *= v
        else:
            break
    return val, k


def _eval_power(t: list[str], k: int) -> tuple[complex, int]:
    base, k = _eval_atom(t, k)
    if k < len(t) and t[k] == "^":
        if k + 1 < len(t) and t[k + 1] in "+-":
            raise _EvalError("signed exponent without braces")
        exp, k = _eval_power(t, k + 1)
        if abs(exp) > 1000:
            raise _EvalError("exponent too large")
        base = base ** exp
    return base, k


def _group(t: list[str], k: int, close: str) -> tuple[complex, int]:
    val, k = _eval_sum(t, k)
    if k >= len(t) or t[k] != close:
        raise _EvalError("unbalanced")
    return val, k + 1


def _eval_atom(t: list[str], k: int) -> tuple[complex, int]:
    if k >= len(t):
        raise _EvalError("end")
    tok = t[k]
    if tok == "(":
        return _group(t, k + 1, ")")
    if tok == "{":
        return _group(t, k + 1, "}")
    if tok == "\\pi":
        return complex(3.141592653589793), k + 1
    if tok == "i":
        return 1j, k + 1
    if tok == "\\frac":
        if k + 1 >= len(t) or t[k + 1] != "{":
            raise _EvalError("frac")
        a, k = _group(t, k + 2, "}")
        if k >= len(t) or t[k] != "{":
            raise _EvalError("frac")
        b, k = _group(t, k + 1, "}")
        return a / b, k
    if tok == "\\sqrt":
        n = 2.0
        if k + 1 < len(t) and t[k + 1] == "[":
            nv, k = _group(t, k + 2, "]")
            if nv.imag or nv.real != int(nv.real) or nv.real < 2:
                raise _EvalError("root index")
            n, k = nv.real, k - 1
        if k + 1 >= len(t) or t[k + 1] != "{":
            raise _EvalError("sqrt")
        x, k = _group(t, k + 2, "}")
        if x.imag or x.real < 0:
            raise _EvalError("complex root")  # branch conventions: leave to sympy
        return complex(x.real ** (1.0 / n)), k
    if tok[0].isdigit() or tok[0] == ".":
        return complex(float(tok)), k + 1
    raise _EvalError(tok)


# ---------------------------------------------------------------------------------------------
# an exact evaluator: rational constants (+ - * / ^, \frac, \binom, n!) decided without sympy
# ---------------------------------------------------------------------------------------------

_EXACT_TOKEN_RE = re.compile(r"\s*(\d+|\\d?binom|\\frac|\\cdot|\\times|[-+*/^(){}!])")
EXACT_MAX_BITS = 200_000  # larger intermediate values are left to sympy (under the pool's timeout)
EXACT_MAX_FACTORIAL = 2000


def exact_value(s: str) -> Fraction | None:
    """The exact rational value of a constant written with integers, + - * / ^ (integer powers),
    \\frac, \\binom and n!; None for anything else (decimals, roots, pi, letters)."""
    toks, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _EXACT_TOKEN_RE.match(s, pos)
        if not m:
            return None
        toks.append(m.group(1))
        pos = m.end()
    if not toks or len(toks) > 300:
        return None
    try:
        val, k = _x_sum(toks, 0)
    except (_EvalError, ZeroDivisionError, OverflowError, ValueError, RecursionError):
        return None
    return val if k == len(toks) else None


def _x_check(v: Fraction) -> Fraction:
    if v.numerator.bit_length() + v.denominator.bit_length() > EXACT_MAX_BITS:
        raise _EvalError("too large")
    return v


def _x_sum(t: list[str], k: int) -> tuple[Fraction, int]:
    sign = 1
    while k < len(t) and t[k] in "+-":
        sign, k = (-sign if t[k] == "-" else sign), k + 1
    val, k = _x_product(t, k)
    val *= sign
    while k < len(t) and t[k] in ("+", "-"):
        op = t[k]
        v, k = _x_product(t, k + 1)
        val = _x_check(val + v if op == "+" else val - v)
    return val, k


def _x_product(t: list[str], k: int) -> tuple[Fraction, int]:
    val, k = _x_power(t, k)
    while k < len(t):
        if t[k] in ("*", "/", "\\cdot", "\\times"):
            op = t[k]
            v, k = _x_power(t, k + 1)
            val = _x_check(val / v if op == "/" else val * v)
        elif t[k] in ("(", "{", "\\frac", "\\binom", "\\dbinom") or t[k][0].isdigit():
            if t[k][0].isdigit() and (t[k - 1][0].isdigit() or t[k - 1] in (")", "}", "!")):
                raise _EvalError("two numbers side by side")
            v, k = _x_power(t, k)
            val = _x_check(val * v)
        else:
            break
    return val, k


def _x_power(t: list[str], k: int) -> tuple[Fraction, int]:
    base, k = _x_atom(t, k)
    while k < len(t) and t[k] == "!":
        if base.denominator != 1 or not 0 <= base <= EXACT_MAX_FACTORIAL:
            raise _EvalError("factorial")
        base, k = Fraction(math.factorial(int(base))), k + 1
    if k < len(t) and t[k] == "^":
        if k + 1 < len(t) and t[k + 1] in "+-":
            raise _EvalError("signed exponent without braces")
        exp, k = _x_power(t, k + 1)
        if exp.denominator != 1 or abs(exp) > 100_000:
            raise _EvalError("exponent")
        if base == 0 and exp < 0:
            raise ZeroDivisionError
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if bits * abs(int(exp)) > EXACT_MAX_BITS:
            raise _EvalError("too large")
        base = base ** int(exp)
    return base, k


def _x_group(t: list[str], k: int, close: str) -> tuple[Fraction, int]:
    val, k = _x_sum(t, k)
    if k >= len(t) or t[k] != close:
        raise _EvalError("unbalanced")
    return val, k + 1


def _x_atom(t: list[str], k: int) -> tuple[Fraction, int]:
    if k >= len(t):
        raise _EvalError("end")
    tok = t[k]
    if tok == "(":
        return _x_group(t, k + 1, ")")
    if tok == "{":
        return _x_group(t, k + 1, "}")
    if tok in ("\\frac", "\\binom", "\\dbinom"):
        if k + 1 >= len(t) or t[k + 1] != "{":
            raise _EvalError("frac")
        a, k = _x_group(t, k + 2, "}")
        if k >= len(t) or t[k] != "{":
            raise _EvalError("frac")
        b, k = _x_group(t, k + 1, "}")
        if tok == "\\frac":
            return a / b, k
        if a.denominator != 1 or b.denominator != 1 or not 0 <= b <= a <= 100_000:
            raise _EvalError("binom")
        return Fraction(math.comb(int(a), int(b))), k
    if tok.isdigit():
        return Fraction(int(tok)), k + 1
    raise _EvalError(tok)


def surely_different(a: str, b: str, abs_tol: float = 0.0) -> bool:
    """True when both are plain constants whose values differ beyond rounding doubt (and by more
    than ``abs_tol``: the last written digit of a decimal)."""
    va, vb = float_value(a), float_value(b)
    if va is None or vb is None:
        return False
    return abs(va - vb) > max(1e-6 * max(1.0, abs(va), abs(vb)), abs_tol)


@functools.lru_cache(maxsize=65536)
def _parsed(s: str) -> Node:
    return parse_node(normalize(s))


def quick_equal(gold: str, pred: str) -> Optional[bool]:
    """True/False when the cheap layers decide, None when sympy is needed."""
    if not gold.strip() or not pred.strip():
        return False
    if len(gold) > MAX_SYMPY_CHARS or len(pred) > MAX_SYMPY_CHARS:
        return gold.strip() == pred.strip()  # math_equal's rule, decided without shipping megabytes
    if len(gold) > QUICK_MAX_CHARS or len(pred) > QUICK_MAX_CHARS:
        return None
    if units_conflict(gold, pred):
        return False  # "7 km" is not "7 m": units are compared, never converted
    gold, pred = percent_policy(gold, pred)
    g, p = normalize(gold), normalize(pred)
    if not g or not p:
        return False
    if canonical_key(g) == canonical_key(p):
        return True
    if ("\\text" in gold or "\\text" in pred) and text_key(_strip_outer(gold)) == text_key(_strip_outer(pred)):
        return True  # \text{4:30 p.m.} = 4:30 \text{ p.m.}
    return compare(_parsed(gold), _parsed(pred), quick_leaf)


# ---------------------------------------------------------------------------------------------
# sympy layer (imported lazily; runs in grading workers)
# ---------------------------------------------------------------------------------------------

_IMAG_RE = re.compile(r"(?<![A-Za-z\\])i(?![A-Za-z])")


@functools.lru_cache(maxsize=8192)
def _sympy(s: str):  # noqa: ANN202
    """latex2sympy with math-verify's complex detection; raises when the LaTeX does not parse."""
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig, latex2sympy
    from math_verify.grader import should_treat_as_complex

    if len(s) > MAX_SYMPY_CHARS:
        raise ValueError("answer too long to parse")
    cfg = NormalizationConfig(basic_latex=False, units=False, malformed_operators=True, nits=False, boxed="none", equations=False)
    complex_ = should_treat_as_complex(s) or bool(_IMAG_RE.search(s))
    e = latex2sympy(s, is_real=not complex_, convert_degrees=False, normalization_config=cfg)
    if complex_:
        import sympy

        try:  # latex2sympy keeps "i" a symbol: in an answer it is the imaginary unit
            e = e.subs({v: sympy.I for v in getattr(e, "free_symbols", ()) if getattr(v, "name", "") == "i"})
        except Exception:  # noqa: BLE001 - sets, relations: leave them as they are
            pass
    return e


def _constant_value(e, digits: int = NUMERIC_DIGITS):  # noqa: ANN001, ANN202
    """A numeric value for a closed-form constant, else None."""
    import sympy

    if not isinstance(e, sympy.Expr) or e.free_symbols or e.has(sympy.Symbol):
        return None
    try:
        v = sympy.N(e, digits)
    except Exception:  # noqa: BLE001 - sympy raises many things on odd input
        return None
    if not v.is_number or v.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    return v


def _close(x, y, rel: float, floor: bool = True) -> bool:  # noqa: ANN001
    """|x - y| <= rel * max(|x|, |y|) (and at least ``rel`` absolute when ``floor``)."""
    import sympy

    try:
        diff = abs(sympy.N(x - y, NUMERIC_DIGITS))
        scale = max(abs(sympy.N(x, NUMERIC_DIGITS)), abs(sympy.N(y, NUMERIC_DIGITS)), *( [sympy.Integer(1)] if floor else []))
        return bool(diff <= rel * scale)
    except Exception:  # noqa: BLE001
        return False


def _has_float(e) -> bool:  # noqa: ANN001
    import sympy

    try:
        return bool(e.atoms(sympy.Float))
    except Exception:  # noqa: BLE001
        return False


_WRITTEN_DECIMAL_RE = re.compile(r"(?<![\d.])(\d*)\.(\d+)|(?<![\d.])(\d+)\.(?!\d)")


def _written_sig_digits(raw: str) -> int | None:
    """The fewest significant digits among the decimals written in ``raw`` (None: no decimal)."""
    sigs = [_sig_digits(m.group()) for m in _WRITTEN_DECIMAL_RE.finditer(raw)]
    return min(sigs) if sigs else None


def _rationalise(e):  # noqa: ANN001, ANN202
    """Written decimals as the exact rationals they spell (``1.5`` -> 3/2)."""
    import sympy

    floats = e.atoms(sympy.Float)
    if not floats:
        return e
    return e.xreplace({f: sympy.Rational(str(f)) for f in floats})


def _is_zero(d) -> Optional[bool]:  # noqa: ANN001
    """Whether a closed-form constant is exactly zero: rationals exactly; otherwise sympy's adaptive
    evaluation, which reaches 30 correct digits of any non-zero value (relative to the value itself,
    so 5e-16 or 1e-43 is not zero) and reports a value it cannot tell from zero with no precision."""

    if d.is_Rational:
        return bool(d == 0)
    try:
        v = d.evalf(30, maxn=800)
    except Exception:  # noqa: BLE001
        return None
    if v == 0:
        return True
    for part in v.as_real_imag():
        if part == 0:
            continue
        if not part.is_Float:
            return None
        if part._prec > 1:  # noqa: SLF001 - a value sympy could resolve: not zero
            return False
    return True


def _constants_equal(ea, eb, va, vb, raw_a: str, raw_b: str) -> bool:  # noqa: ANN001
    """Two constants: exactly equal, or (only when a side wrote decimals) equal to the precision of
    the decimals written, which must have at least MIN_DECIMAL_SIG_DIGITS significant digits."""
    try:
        zero = _is_zero(_rationalise(ea) - _rationalise(eb))
    except Exception:  # noqa: BLE001
        zero = None
    if zero:
        return True
    sigs = [x for x in (_written_sig_digits(raw_a) if _has_float(ea) else None, _written_sig_digits(raw_b) if _has_float(eb) else None) if x]
    if not sigs:
        return False  # exact against exact: not exactly equal means different
    sig = min(sigs)
    if sig < MIN_DECIMAL_SIG_DIGITS:
        return False
    return _close(va, vb, 0.5 * 10.0 ** (1 - sig), floor=False)


def _random_points_agree(ea, eb) -> bool:  # noqa: ANN001
    """Evaluate both at RANDOM_POINTS seeded random points; False if any point disagrees."""
    import sympy

    syms = sorted(ea.free_symbols | eb.free_symbols, key=str)
    rng = random.Random(hash(str(syms)) & 0xFFFF)
    checked = 0
    for _ in range(RANDOM_POINTS * 3):
        vals = {s: sympy.Rational(rng.randint(11, 97), rng.randint(5, 23)) for s in syms}
        try:
            va, vb = sympy.N(ea.subs(vals), 30), sympy.N(eb.subs(vals), 30)
        except Exception:  # noqa: BLE001
            continue
        if not (va.is_number and vb.is_number) or va.has(sympy.nan, sympy.zoo) or vb.has(sympy.nan, sympy.zoo):
            continue
        if va.free_symbols or vb.free_symbols:
            return True  # functions we cannot evaluate: trust the symbolic check
        if not _close(va, vb, 1e-12):
            return False
        checked += 1
        if checked >= RANDOM_POINTS:
            break
    return True


def _num_sympy(n: Node):  # noqa: ANN202
    import sympy

    return sympy.Rational(n.value.numerator, n.value.denominator)


def sympy_leaf(a: Node, b: Node) -> bool:
    """Scalar (or relation) comparison with sympy behind our guards."""
    q = quick_leaf(a, b)
    if q is not None:
        return q
    if a.kind in ("text", "letter", "base") or b.kind in ("text", "letter", "base"):
        return False
    if a.raw.count("'") != b.raw.count("'"):
        return False  # latex2sympy drops primes: f'(x) is not f(x)
    import sympy
    from math_verify import grader, verify

    grader.TIMEOUT_WARNING_SHOWN = True  # we time out whole comparisons ourselves (grading pool)

    def expr(n: Node):  # noqa: ANN202
        if n.kind == "num":
            return _num_sympy(n)
        return _sympy(n.raw if n.kind != "eq" else n.raw)

    try:
        ea, eb = expr(a), expr(b)
    except Exception:  # noqa: BLE001 - unparseable LaTeX is simply not equal
        return False
    if isinstance(ea, list) or isinstance(eb, list):
        return False
    relational = a.kind in ("rel", "eq") or b.kind in ("rel", "eq")
    if relational or not isinstance(ea, sympy.Expr) or not isinstance(eb, sympy.Expr):
        try:
            return bool(verify(ea, eb, strict=True, allow_set_relation_comp=True, timeout_seconds=None))
        except Exception:  # noqa: BLE001
            return False
    # A written decimal against an exact constant: the decimal policy.
    for d, other, e_other in ((a, b, eb), (b, a, ea)):
        if d.kind == "num" and d.ulp is not None:
            v = _constant_value(e_other)
            if v is None or not v.is_real:
                return False
            if d.name < MIN_DECIMAL_SIG_DIGITS:
                return False
            return bool(abs(sympy.Rational(d.value.numerator, d.value.denominator) - v) * 2
                        <= sympy.Rational(d.ulp.numerator, d.ulp.denominator) * (1 + sympy.Rational(1, 10 ** 12)))
    va, vb = _constant_value(ea), _constant_value(eb)
    if va is not None and vb is not None:
        return _constants_equal(ea, eb, va, vb, a.raw, b.raw)
    if (va is None) != (vb is None) and not (ea.free_symbols or eb.free_symbols):
        return False
    try:
        ok = bool(verify(ea, eb, strict=True, timeout_seconds=None))
    except Exception:  # noqa: BLE001
        return False
    return ok and _random_points_agree(ea, eb)


def math_equal(gold: str, pred: str) -> bool:
    """Full equivalence (quick layers, then sympy). May be slow on hostile input: run it under the
    pool's timeout (``grade_many``) when the input is untrusted."""
    if not gold.strip() or not pred.strip():
        return False
    if gold.strip() == pred.strip():
        return True
    if len(gold) > MAX_SYMPY_CHARS or len(pred) > MAX_SYMPY_CHARS:
        return False  # no real answer is this long; do not let it tie up sympy
    q = quick_equal(gold, pred)
    if q is not None:
        return q
    if units_conflict(gold, pred):
        return False
    gold, pred = percent_policy(gold, pred)
    g, p = normalize(gold), normalize(pred)
    if not g or not p:
        return False
    if canonical_key(g) == canonical_key(p):
        return True
    return bool(compare(parse_node(g), parse_node(p), sympy_leaf))
