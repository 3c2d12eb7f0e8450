"""Units and percent as policy, before any equivalence check (docs/grading.md).

* Units are compared, never converted: when both answers state a unit after a number, the units must
  be the same unit (``7 \\text{ m}`` vs ``7 \\text{ km}``: not equal; ``12 \\text{ in}`` = ``12 inches``);
  when only one side states a unit, the numbers decide (``31 marbles`` = ``31``). Words we do not
  know as units (``marbles``, ``cookies``) are count nouns: they never make two answers differ.
* Percent: a prediction written as a percent against a gold that is not one is read as a number of
  hundredths (``2.5\\%`` vs ``2.5``: not equal; ``2.5\\%`` = ``0.025``); a gold written as a percent
  accepts the number of percent (``40\\%`` = ``40``).

    python -c "from reasonflux.grading.units import answer_units as u; print(u('7\\\\text{ km}'), u('31 marbles'))"
"""

from __future__ import annotations

import functools
import re

# canonical unit -> spellings (lowercase; plural forms listed; "square X" / "X^2" handled by power)
_ALIASES: dict[str, tuple[str, ...]] = {
    "km": ("km", "kms", "kilometer", "kilometers", "kilometre", "kilometres"),
    "m": ("m", "meter", "meters", "metre", "metres"),
    "cm": ("cm", "centimeter", "centimeters", "centimetre", "centimetres"),
    "mm": ("mm", "millimeter", "millimeters", "millimetre", "millimetres"),
    "in": ("in", "inch", "inches", "in."),
    "ft": ("ft", "foot", "feet", "ft."),
    "yd": ("yd", "yds", "yard", "yards"),
    "mi": ("mi", "mile", "miles"),
    "mph": ("mph", "mi/h", "mi/hr", "miles per hour", "mile per hour", "miles/hour", "miles an hour"),
    "km/h": ("km/h", "km/hr", "kph", "kmh", "kilometers per hour", "kilometres per hour", "km per hour"),
    "m/s": ("m/s", "m/sec", "meters per second", "metres per second", "m per second"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "min": ("min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "day": ("day", "days"),
    "week": ("week", "weeks", "wk", "wks"),
    "month": ("month", "months"),
    "year": ("year", "years", "yr", "yrs"),
    "kg": ("kg", "kgs", "kilogram", "kilograms", "kilogramme", "kilogrammes"),
    "g": ("g", "gram", "grams", "gramme", "grammes"),
    "mg": ("mg", "milligram", "milligrams"),
    "lb": ("lb", "lbs", "pound", "pounds"),
    "oz": ("oz", "ounce", "ounces"),
    "l": ("l", "liter", "liters", "litre", "litres"),
    "ml": ("ml", "milliliter", "milliliters", "millilitre", "millilitres"),
    "gal": ("gal", "gallon", "gallons"),
    "$": ("$", "dollar", "dollars", "usd"),
    "cent": ("cent", "cents", "\u00a2"),
    "deg": ("deg", "degree", "degrees", "\u00b0", "circ"),
    "rad": ("rad", "rads", "radian", "radians"),
}
_CANON = {alias: canon for canon, aliases in _ALIASES.items() for alias in aliases}
_POWER_WORDS = {"square": 2, "sq": 2, "sq.": 2, "cubic": 3, "cu": 3, "cu.": 3}

_NUM = r"(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:\s*\})*"
# a unit written after a number: \text{...}/\mathrm{...}/\mbox{...} (with an optional power), or words
_TEXT_UNIT_RE = re.compile(
    r"(?:\d|\})\s*(?:\\[,;:! ]|~|\s)*\\(?:text|mathrm|mbox|textrm|operatorname)\s*\{\s*([^{}]{1,40}?)\s*\}"
    r"(?:\s*\^\s*\{?\s*([23])\s*\}?)?")
_WORD_UNIT_RE = re.compile(r"(?:\d|\})\s*((?:square|sq\.?|cubic|cu\.?)\s+)?([a-z][a-z./]{0,12}(?:\s+(?:per|an)\s+[a-z]{1,8})?)(?:\s*\^\s*\{?\s*([23])\s*\}?)?(?![a-z])")
_DEGREE_RE = re.compile(r"\d\s*(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|\u00b0)")
_DOLLAR_RE = re.compile(r"\\\$|^\s*\$\s*(?=\d)|\\text\{\s*\\?\$\s*\}")


def _canon(phrase: str, power: int = 1) -> str | None:
    p = re.sub(r"\s+", " ", phrase.strip().lower()).rstrip(".")
    for word, n in _POWER_WORDS.items():
        if p.startswith(word + " "):
            p, power = p[len(word) + 1:].strip(), n
            break
    c = _CANON.get(p) or _CANON.get(p + ".")
    if c is None:
        return None
    return c if power == 1 else f"{c}^{power}"


@functools.lru_cache(maxsize=65536)
def answer_units(s: str) -> frozenset[str]:
    """The known units an answer states after its numbers (count nouns and unknown words: none)."""
    if len(s) > 2000:
        return frozenset()
    out: set[str] = set()
    for m in _TEXT_UNIT_RE.finditer(s):
        c = _canon(m.group(1), int(m.group(2) or 1))
        if c:
            out.add(c)
    plain = re.sub(r"\\[A-Za-z]+\s*\{[^{}]*\}|\\[A-Za-z]+", " ", s)
    for m in _WORD_UNIT_RE.finditer(plain):
        word = m.group(2)
        if len(word) == 1 and not m.group(1):
            continue  # "7 m" without \text: could be a product with a variable
        power = 2 if m.group(1) and m.group(1).startswith("s") else 3 if m.group(1) else 1
        c = _canon(word, int(m.group(3) or power))
        if c:
            out.add(c)
    if _DEGREE_RE.search(s):
        out.add("deg")
    if _DOLLAR_RE.search(s):
        out.add("$")
    return frozenset(out)


def units_conflict(gold: str, pred: str) -> bool:
    """Both answers state units and they are not the same units."""
    ug, up = answer_units(gold), answer_units(pred)
    return bool(ug) and bool(up) and ug != up


_PERCENT_TAIL_RE = re.compile(
    r"^(?P<head>.*?\S)\s*(?:\\?%|\\text\{\s*\\?%\s*\}|\\(?:text|mbox|mathrm)\{\s*(?:percent|per\s?cent)\s*\}|(?<![A-Za-z])(?:percent|per\s?cent))"
    r"\s*\}?\s*\.?\s*$", re.S | re.I)
_OUTER_RE = re.compile(r"^\s*(?:\$+|\\\(|\\\[)\s*(?P<in>.*?)\s*(?:\$+|\\\)|\\\])\s*$", re.S)


def _bare(s: str) -> str:
    s = s.strip()
    m = _OUTER_RE.match(s)
    if m:
        s = m.group("in")
    m = re.fullmatch(r"\\(?:boxed|fbox)\s*\{(.*)\}", s.strip(), re.S)
    return (m.group(1) if m else s).strip()


def percent_of(s: str) -> str | None:
    """The number before a trailing percent sign or word (``2.5\\%`` -> ``2.5``), else None."""
    if len(s) > 400:
        return None
    m = _PERCENT_TAIL_RE.match(_bare(s))
    return m.group("head").strip() if m else None


def _shift(num: str) -> str:
    """A plain decimal divided by 100 as written digits: ``2.5`` -> ``0.025``, ``40`` -> ``0.40``."""
    m = re.fullmatch(r"([+-]?)(\d*)(?:\.(\d*))?", num.replace(",", "").replace(" ", ""))
    if not m or not (m.group(2) or m.group(3)):
        return f"\\frac{{{num}}}{{100}}"
    sign, whole, frac = m.group(1), (m.group(2) or "").rjust(3, "0"), m.group(3) or ""
    digits = whole[:-2].lstrip("0") or "0"
    return f"{sign}{digits}.{whole[-2:]}{frac}"


def percent_policy(gold: str, pred: str) -> tuple[str, str]:
    """(gold, pred) with percent resolved: a percent prediction against a plain gold is hundredths."""
    pg, pp = percent_of(gold), percent_of(pred)
    if pp is not None and pg is None:
        return gold, _shift(pp)
    return gold, pred
