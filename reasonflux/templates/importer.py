"""Import of the reference ReasonFlux template format into our schema.

The reference library is nested JSON ``{chapter: {section: [template, ...]}}``; a template has
``template_name``, ``template_type``, ``knowledge_tag`` (string or list), ``description``,
``application_scenario`` (string or list), ``reason_flow`` (list of strings or of small dicts) and
``example_application`` (a string, or a dict whose keys vary between templates). It takes the real
ReasonFlux-v1 library (``../shared/upstream/reasonflux_v1_template_library.json``, 420 templates)
and survives its quirks:

- literal backslash-n sequences (not LaTeX such as ``\\neq``) become newlines (:func:`unescape`);
- a string example is split into problem / solution / answer at its markers ("Example Problem:",
  "Solution Steps:", "Application Steps:", "Analysis:", circled or numbered steps, "Answer:",
  "Conclusion:", ``\\boxed{}``, ...); a dict example by its (varying) keys; the answer comes from an
  explicit statement when there is one (key, ``\\boxed{}``, "Answer:", "the minimum value is X",
  "choose B"), else from the final sentence or step cut to a value (:func:`_answer_from`,
  :func:`split_example` says which); an example with no problem statement keeps the placeholder;
- a chapter is mapped to a domain by keyword (``CHAPTER_KEYWORDS``); a chapter no keyword matches is
  mapped by the rule in :func:`chapter_domain_by_rule` (keyword vote over its sections, template
  names and tags; ``default_domain`` or algebra when nothing votes), with a warning, not refused;
- every warning has a kind; :meth:`ImportResult.summary` counts them.

    reasonflux templates import ../shared/upstream/reasonflux_v1_template_library.json -o /tmp/v1.jsonl
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonflux.errors import UserError
from reasonflux.templates.library import (
    DOMAIN_PREFIX,
    DOMAINS,
    MAX_TAG_CHARS,
    check_record,
)

# Chapter name keyword -> domain; the first keyword found in the lowercased chapter name wins.
CHAPTER_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("functional equation", "functional_equations"), ("sequence", "sequences_series"), ("series", "sequences_series"),
    ("trigon", "trigonometry"), ("complex", "complex_numbers"), ("polynom", "polynomials"),
    ("inequal", "inequalities"), ("probab", "probability"), ("statist", "probability"), ("expectation", "probability"),
    ("random variable", "probability"), ("distribution", "probability"), ("regression", "probability"),
    ("combinat", "combinatorics"), ("counting", "combinatorics"), ("permutation", "combinatorics"),
    ("binomial", "combinatorics"), ("number theory", "number_theory"), ("integer", "number_theory"),
    ("divisib", "number_theory"), ("modular", "number_theory"), ("geometr", "geometry"), ("vector", "geometry"),
    ("conic", "geometry"), ("triangle", "geometry"), ("circle", "geometry"), ("coordinate", "geometry"),
    ("function", "algebra"), ("derivative", "algebra"), ("calculus", "algebra"), ("equation", "algebra"),
    ("set", "algebra"), ("logic", "algebra"), ("algebra", "algebra"), ("physic", "physics"), ("mechanic", "physics"),
    ("chemi", "chemistry"), ("biolog", "biology"), ("genetic", "biology"),
)
# Keys of a dict-valued example_application, by the example field they feed (first found wins).
EXAMPLE_PROBLEM_KEYS = ("problem", "question", "example_problem", "example_question", "problem_statement", "example",
                        "task", "title", "example_1")
EXAMPLE_ANSWER_KEYS = ("answer", "final_answer", "answers", "result", "final_result", "conclusion")
ANSWER_MISSING = "(not stated in the source example)"
SOLUTION_MARKERS = re.compile(
    r"(?i)(?:\b(?:solution|solving|answer)\s*(?:steps?|process(?:es)?|approach)|\bsolution|\bapplication\s*(?:steps?|process)"
    r"|\bsteps?\s*(?:to\s*solve)?|\banalysis\s*(?:steps?|process)?|\bsolve|\bmethod\s*\d+\s*(?:\([^)]*\))?)\s*[:：]")
STEP_START = re.compile(r"(?m)(?:^|\s)(?:①|\(1\)|1[.、)]\s|Step\s*1\b)")
EXAMPLE_HEADER = re.compile(r"(?i)^\s*(?:(?:example|problem)(?:\s*problem)?\s*\d*\s*(?:\([^)]*\))?\s*(?:\(\d+\))?\s*[:：.]?)\s*")
ANSWER_LINE = re.compile(r"(?im)(?:^|[.;。]\s*|\n)\s*(?:(?:[-*•]|\d+[.)、]|[①-⑳]|\d\ufe0f?\u20e3)\s*)?(?:(?:so\s+|thus\s+|hence\s+)?the\s+)?(?:final\s+)?(?:answer|result|conclusion)s?\s*(?:is|[:：])\s*(.+?)\s*$")
INLINE_ANSWER = re.compile(r"\sAnswer\s*[:：]\s*([^\n]+?)\s*$", re.M)  # "... Step 6: Validate Answer: 60"
STEP_SPLIT = re.compile(r"(?:\n|;\s|^)\s*(?:\d+[.)、]|[①②③④⑤⑥⑦⑧⑨⑩⑪⑫]|Step\s*\d+[:.]?)\s*")
SIDE_STEP = re.compile(r"(?i)^\s*(?:\*\*)?\s*(?:verif|check|validat|note|key[_ ]points|error|remark|tip|summary of|equality\s+holds|"
                       r"(?:practical|physical)\s+(?:significance|meaning|interpretation))")
# a closing result inside a side step: "6. Verification: ... reasonable.\nFinal result gives a₇ = -2", "Verify MN·n=0, thus proving ..."
SIDE_CONCLUSION = re.compile(r"(?i)\n\s*(?=∴|(?:therefore|thus|hence|final(?:ly)?|in\s+conclusion)\b)|,\s*(?=(?:thus|hence|therefore)\s+prov)")
RESULT_CUE = re.compile(r"(?i)(?:⇒|=>|∴|→|\btherefore\b|\bthus\b|\bhence\b|\bso\b|\bwe get\b|\byield(?:s|ing)?\b|\bgives?\b|"
                        r"\bto find\b|\bto get\b|\bobtain(?:s|ed)?\b|\bresult(?:s)? in\b|\bsimplif(?:y|ies|ied|ying)\s+to\b|\bsolve\s+for\b|"
                        r"\bconclude\s+(?:[^.;:\n]{0,80}?\s)?that\b|\bis\b)\s*:?\s*")
# a further worked example in the same source string ("Example 9: ...", "Example 7 analysis:", "Example Problem: ...")
NEXT_EXAMPLE = re.compile(r"(?im)^[ \t]*【?[ \t]*example\b[^\n:：】]{0,40}[:：】]")
# a case of a multi-case result: "When a>0:", "- For a≤1/e²: ...", "Case 2: ..."
CASE_HEAD = re.compile(r"(?i)^\s*(?:[-*•]\s*)?(?:when|for|if|case\s*\d*|in\s+case)\b")
CHOICE_TAIL = re.compile(r"(?i)\s*(?:[,;→⇒]|\bso\b|\bthus\b|\btherefore\b)\s*(?:so\s+|thus\s+|therefore\s+)?(?:choose|select)\s+(?:option\s+)?\(?[A-E]\)?\s*$")
FINAL_PHRASE = re.compile(r"(?i)(?:the\s+final\s+(?:answer|solution|result)\s+is|therefore|thus|hence|so\s+the\s+answer\s+is)\s*[:,]?\s*(.+?)\s*$")
# LaTeX commands that begin with "n": a literal "\n" followed by one of these is LaTeX, not an escape.
LATEX_N = ("neq", "ne", "nu", "not", "notin", "nabla", "neg", "nleq", "ngeq", "nmid", "newline", "nonumber", "natural",
           "ni", "nexists", "nsubseteq", "nparallel", "nearrow", "nwarrow", "nleftarrow", "nrightarrow", "nsim")
_LITERAL_N = re.compile(r"\\n([A-Za-z]*)")
BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")


@dataclass
class ImportResult:
    templates: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # one kind per warning, same order

    def warn(self, kind: str, message: str) -> None:
        self.warnings.append(message)
        self.kinds.append(kind)

    def summary(self) -> dict[str, int]:
        """How many warnings of each kind (sorted by kind)."""
        out: dict[str, int] = {}
        for k in self.kinds:
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))


def unescape(text: str) -> str:
    """Literal backslash-n sequences (two characters) become newlines, unless they start a LaTeX
    command such as ``\\neq`` or ``\\not``; literal ``\\t`` before a non-letter becomes a tab."""
    def sub(m: re.Match) -> str:
        word = m.group(1)
        if ("n" + word) in LATEX_N:
            return m.group(0)
        return "\n" + word

    out = re.sub(r"\\t(?![A-Za-z])", "\t", _LITERAL_N.sub(sub, text))
    return re.sub(r"(?<!\\)\\[ \t]*(?=\n|$)", "", out)  # a lone backslash ending a line (markdown break)


def chapter_domain(chapter: str, default: str | None = None) -> str | None:
    c = chapter.lower().replace("_", " ")
    if c.replace(" ", "_") in DOMAINS:
        return c.replace(" ", "_")
    for kw, dom in CHAPTER_KEYWORDS:
        if kw in c:
            return dom
    return default


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:60].rstrip("-") or "template"


def _text_list(v: Any) -> list[str]:
    """A string, a list of strings, or a list of small dicts -> list of non-empty strings."""
    if v is None:
        return []
    if isinstance(v, str):
        lines = [re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", ln).strip() for ln in v.splitlines()]
        return [ln for ln in lines if ln]
    if isinstance(v, dict):
        return [f"{k}: {_flat(x)}" if not str(k).isdigit() else _flat(x) for k, x in v.items() if _flat(x)]
    out: list[str] = []
    for item in v:
        if isinstance(item, dict):
            vals = [_flat(x) for x in item.values() if _flat(x)]
            if vals:
                out.append(": ".join(vals) if len(vals) == 2 and len(vals[0]) < 60 else " ".join(vals))
        elif _flat(item):
            out.append(_flat(item))
    return out


def _flat(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, (list, tuple)):
        return " ".join(_flat(x) for x in v if _flat(x))
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_flat(x)}" for k, x in v.items() if _flat(x))
    return str(v)


# "... the answer is X", "the final analytical formula is X", "the range of values is X" (not "is obtained at").
STATED = re.compile(r"(?i)\b(?:answers?|solutions?|results?|(?:analytical\s+)?(?:formula|expression)|(?:minimum|maximum|"
                    r"smallest|largest|greatest|least)(?:\s+value)?|range(?:\s+of\s+values)?|domain|value|equation)s?\s+(?:is|are)\b"
                    r"(?:\s*[:：])?[ \t]*(?=\S)(?!(?:obtained|achieved|attained|reached|taken|when|that|the\s+same|valid|reasonable|correct|"
                    r"within|consistent|satisfied|established|proved|true|shown|needed|as\s+follows|equal\s+to|in\b)\b)([^\n;。]+)")
CHOICE = re.compile(r"(?i)(?:\banswer\s*(?:is\s*)?[:：]?\s*(?:option\s*)?\(?|\b(?:choose|select)\s+(?:option\s+)?\(?|"
                    r"\bthe\s+(?:correct|final)\s+(?:answer|option|choice)\s+is\s*(?:option\s*)?\(?)((?-i:[A-E]{1,4}))\)?(?![A-Za-z0-9])(?!\s+(?:as|and|to|is|are)\b)")
FILLER = re.compile(r"(?i)^(?:(?:ultimately|finally|in\s+conclusion|in\s+summary|therefore|thus|hence|so|we\s+(?:get|have|obtain|find|conclude"
                    r"(?:\s+that)?)|to\s+(?:get|find|obtain)|proving|solve\s+to\s+(?:get|find)|conclude(?:\s+that)?|the|result|final(?:ly)?|"
                    r"this\s+gives|which\s+gives|gives|yields?|obtain|is|are)\b[\s,:：]*|[⇒→∴,:：]\s*)+")
CLAUSE_END = re.compile(r"(?i)(?:,\s*(?:indicating|corresponding|which|meaning|meeting|where|so\s|thus|hence|therefore|satisfying|consistent|completing|"
                        r"confirming|i\.e\.|and\s+(?:the|this|it)\b)|;\s|\.\s|\s+\((?=[^)]*(?<![A-Za-z\\])[A-Za-z]{3,}[\s),])|\s+→\s|\s+⇒\s|\s+since\s|\s+because\s)")
# what follows the value in an "Answer: ..." line: ", corresponding to option D", "(textbook original problem answer)"
MARKER_TAIL = re.compile(r"(?i)(?:,\s*(?:corresponding|indicating|which\s+(?:is|corresponds|matches)|meaning|confirming)\b.*"
                         r"|\s+\([^()]*\b(?:option|answer|note|textbook|conclusion|corresponding)\b[^()]*\))\s*$")
MARKER_LEAD = re.compile(r"(?i)^(?:ultimately|finally|in\s+conclusion|therefore|thus|hence|so)\b[\s,:：]*")
PROVED = re.compile(r"(?i)\s+(?:is\s+proved|is\s+established|is\s+true|holds)\b.*$")
RELATION = re.compile(r"[<>≤≥≠∈⊆⊥∥]|//|\\(?:leq|geq|neq|in|perp)\b")
MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "frac", "sqrt", "max", "min", "arcsin", "arccos", "arctan"}


def _is_word(tok: str) -> bool:
    w = re.fullmatch(r"[(]?([A-Za-z]{3,})[.,:)]?", tok)
    return bool(w) and w.group(1).lower() not in MATH_WORDS


def _short_name(x: str) -> bool:  # |BM|, f(x), a₇, E(ξ), S_max, x -- not "side" or a long expression
    return 0 < len(x) <= 12 and (bool(re.search(r"[^A-Za-z]", x)) or len(x) <= 3)


def _shorten(ans: str, *, keep_claim: bool = False) -> str:
    """A found answer -> a short value or expression: drop a leading "thus / we get", a trailing
    clause or note ("..., indicating ...", "(conclusion)", "is proved"); of an equation chain
    ``a = b = c`` keep ``a = c`` when ``a`` is a short name (``|BM|``, ``f(x)``), else ``c``; a
    single equation whose left side is an expression (a curve such as ``x²/15 + y²/5 = 1``) is kept."""
    a = re.sub(r"\\[()\[\]]", "", ans.replace("**", "")).strip().strip("$").strip()
    a = FILLER.sub("", re.sub(r"^[-*•]\s+", "", a))
    m = CLAUSE_END.search(a)
    if m and m.start() > 0:
        a = a[: m.start()]
    proved = PROVED.sub("", a).strip(" .,;:*$。")
    # "the formula holds for all n∈N*": the claim is the answer when no formula is left without it
    a = a.strip(" .,;:$。") if keep_claim and proved != a.strip(" .,;:*$。") and not _mathy(proved) else proved
    if "=" in a and not RELATION.search(a):
        parts = [x.strip() for x in a.split("=")]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        toks = parts[0].split()
        i = len(toks)
        while i > 0 and not _is_word(toks[i - 1]):
            i -= 1
        lhs = " ".join(toks[i:])
        middle_words = any(_is_word(t) or t in ("or", "and") or t.endswith(",") for x in parts[1:-1] for t in x.split())
        if len(parts) >= 2 and not middle_words:
            last = parts[-1]
            if not re.search(r"[^\W\d_]", lhs):  # "120 + 300 = 420": arithmetic, keep the value
                a = last
            elif len(parts) == 2:
                a = f"{lhs}={last}"
            else:
                a = f"{lhs}={last}" if _short_name(lhs) else last
    a = a.strip(" .,;:$" if keep_claim else " .,;:*$")  # a claim keeps "n∈N*"
    if a.count(")") > a.count("(") and a.endswith(")"):
        a = a[:-1].rstrip()
    return a


def _mathy(x: str) -> bool:
    return bool(re.search(r"[0-9=<>≤≥{}√π∞/^_∈⊥∥]|//|\\", x)) or bool(re.fullmatch(r"[A-Z]{1,4}", x))


def _answer_from(text: str) -> tuple[str | None, str]:
    """(answer, how), explicit markers first: the last ``\\boxed{}`` ("boxed"); the last "Answer: ..." /
    "Conclusion: ..." line ("marker"); the last "the answer / final result / minimum value ... is X"
    or "choose B" ("stated"); then the heuristics: a final "therefore / thus ..." sentence ("final
    sentence") or the final step ("final step"). A marker answer is shortened by :func:`_shorten`
    when it is a sentence; a heuristic one always is (to the final equation's right-hand side or the
    phrase after the last result cue)."""
    boxed = BOXED.findall(text)
    if boxed:
        return boxed[-1].strip(), "boxed"
    lines = [re.sub(r"[.。]$", "", x.strip().strip("*").strip()).strip()
             for x in ANSWER_LINE.findall(text) + INLINE_ANSWER.findall(text)]
    lines = [x for x in lines if x]
    if lines:
        ans = MARKER_TAIL.sub("", MARKER_LEAD.sub("", lines[-1])).strip(" .,;") or lines[-1]
        if not re.search(r",\s*and\b|\band\s+the\b|;|\bor\b", ans):  # "The maximum term is a_5=7⁶/8⁵" -> the value
            st = STATED.findall(ans)
            ans = _shorten(st[-1]) if st and _mathy(_shorten(st[-1])) else ans
        return ans, "marker"
    body = re.sub(r"(?is)\n\s*(?:key[_ ]points|note|remark|verification|key verification)\s*[:：].*$", "", text)
    last_lines = "\n".join([ln for ln in body.splitlines() if ln.strip()][-3:])
    choice = CHOICE.findall(last_lines)
    if choice:
        return choice[-1].upper(), "stated"
    stated = [x for x in (_shorten(y) for y in STATED.findall(last_lines)) if x and _mathy(x)]
    if stated:
        return stated[-1], "stated"
    body = _first_example(body)  # the heuristics answer the first worked example, whose problem was split out
    tail = [ln.strip() for ln in body.strip().splitlines() if ln.strip()]
    while len(tail) > 1 and re.match(r"(?i)(?:\d+[.)、]\s*|[①-⑳]\s*|[-*•]\s*)?(?:verif|check)", tail[-1]):
        tail.pop()  # a closing "Verification: ..." line states no answer
    for ln in tail[-1:]:
        m = FINAL_PHRASE.search(ln)
        if m and _shorten(m.group(1)):
            return _shorten(m.group(1)), "final sentence"
    return _final_step(body)


def _first_example(body: str) -> str:
    """The text before a further worked example ("Example 9: ...") in the same source string: the
    problem split out is the first example's, so its answer is too."""
    for m in NEXT_EXAMPLE.finditer(body):
        if m.start() > 0 and re.search(r"[=∴⇒→]|\d", body[: m.start()]):
            return body[: m.start()].rstrip()
    return body


def _step_result(step: str) -> str:
    """A step -> its result: a closing "∴ ..." line, else the last equation line, cut at the last
    result cue whose phrase is a value (a cue "is" only before a value: "n is even" is no result);
    "X, i.e. Y" -> Y; a trailing "→ choose C" dropped."""
    last = CHOICE_TAIL.sub("", step.replace("**", "").rstrip(" .。")).rstrip(" .。")
    lines = [ln for ln in last.splitlines() if ln.strip()]
    concl = [ln for ln in lines[1:] if re.match(r"(?i)\s*(?:∴|therefore\b|thus\b|hence\b)", ln)]
    eqs = [ln for ln in lines if "=" in ln]
    if len(lines) > 1 and (concl or eqs):
        last = (concl or eqs)[-1]
    out = last.split(":", 1)[-1]
    for c in reversed(list(RESULT_CUE.finditer(last))):
        if re.fullmatch(r"(?i)is\s*:?\s*", c.group(0)) and not _mathy(_shorten(last[c.end():])):
            continue  # "n is even", "plane P is perpendicular to Q": not the value
        out = last[c.end():]
        break
    ie = re.split(r",?\s+i\.e\.,?\s*", out)
    if len(ie) > 1 and _mathy(_shorten(ie[-1])):
        out = ie[-1]
    return _shorten(out, keep_claim=True) or out.strip(" .,;:*")


def _case_results(parts: list[str]) -> str | None:
    """Parallel cases ("When a>0: ...", "When a<0: ...") -> "When a>0: r1; When a<0: r2"; None unless
    every case has a result."""
    out = []
    for part in parts:
        head = re.sub(r"^\s*[-*•]\s*", "", part.strip())
        m = re.match(r"([^:：,\n]{1,60}?)\s*(?:[:：,]|\n)\s*(.*)$", head, re.S)
        if not m or not m.group(2).strip():
            return None
        eqs = [ln for ln in m.group(2).splitlines() if "=" in ln]  # "When a>0:\n sinα=2√5/5\n cosα=√5/5"
        res = ", ".join(_step_result(ln) for ln in eqs) if len(eqs) > 1 else _step_result(m.group(2))
        if not res or not _mathy(res):
            return None
        out.append(f"{m.group(1).strip()}: {res}")
    return "; ".join(out)


def _final_step(body: str) -> tuple[str | None, str]:
    """The heuristic answer from a worked example's final step (side steps such as a verification
    skipped, but a closing "∴ / Final result ..." line inside one kept): the step's result; all cases
    when the example ends in parallel cases (steps or lines "When ...:"); all listed results when the
    step ends in a list of "- name = value" lines; a closing table joined to the step's result."""
    steps = [x.strip() for x in STEP_SPLIT.split(body) if x and x.strip()]
    if len(steps) < 2:  # no numbered steps: the lines are the steps
        steps = [ln.strip(" -→") for ln in body.splitlines() if ln.strip(" -→")]
    kept = []
    for x in steps:
        side = SIDE_STEP.match(x) or re.match(r"(?i)\s*(?:verif|check)", x.split(":", 1)[-1])
        if not side:
            kept.append(x)
            continue
        c = list(SIDE_CONCLUSION.finditer(x))
        if c:
            kept.append(x[c[-1].end():].strip())
    steps = [x for x in kept if x]
    if len(steps) < 2:  # a worked example ends in a step that computes the result
        return None, ""
    # parallel case steps at the end: "3. When α is in the second quadrant: ...", "4. When ...: ..."
    k = 0
    while k < len(steps) and CASE_HEAD.match(steps[-1 - k]):
        k += 1
    if k >= 2:
        joined = _case_results(steps[-k:])
        if joined:
            return joined[-300:], "final step"
    last = steps[-1].replace("**", "").rstrip(" .。")
    lines = last.splitlines()
    table = []
    while lines and lines[-1].strip().startswith("|"):
        row = lines.pop().strip()
        if not re.fullmatch(r"[|\-: ]+", row):
            table.insert(0, row)
    pre = "\n".join(ln for ln in lines if not re.fullmatch(r"(?i)\s*[^=\n]{0,40}[:：]\s*", ln))
    if table:
        res = _step_result(pre) if "=" in pre else ""
        return "\n".join(([res] if res else []) + table), "final step"
    # cases or a list of results inside the last step: "- When a>0:\n sinα=...\n- When a<0: ...", "- z₀=1\n- z₁=i"
    heads = [i for i, ln in enumerate(lines) if CASE_HEAD.match(ln) and i > 0]
    if len(heads) >= 2:
        groups = ["\n".join(lines[a:b]) for a, b in zip(heads, heads[1:] + [len(lines)])]
        joined = _case_results(groups)
        if joined:
            return joined[-300:], "final step"
    items = []
    for ln in reversed(lines[1:]):
        if not re.match(r"\s*[-*•]\s+\S", ln) or "=" not in ln:
            break
        items.insert(0, _shorten(ln))
    if len(items) >= 2 and all(items):
        return "; ".join(items)[-300:], "final step"
    out = _step_result(last)
    if out:
        return out[-200:], "final step"
    return None, ""


def _key(k: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(k).lower().strip())


def _split_text(text: str) -> tuple[str, str]:
    """A string example -> (problem, solution) at its first solution marker (or first step)."""
    text = text.replace("**", "").strip()
    head = EXAMPLE_HEADER.match(text)
    body = text[head.end():] if head else text
    if re.match(r"(?i)\s*(?:\([^)]*\)\s*)?(?:analysis|solution|steps?)\b", body):  # "Example 1 Analysis: ..."
        m = SOLUTION_MARKERS.search(body)
        heading = re.match(r"(?i)\s*(?:\([^)]*\)\s*)?(?:analysis|solution)\b[^\n:：]{0,40}[:：]", body)
        if heading and (not m or heading.end() < m.start()):  # "Analysis (Trajectory Problem): Given ... Solution Steps: ..."
            m = heading
        rest = body[m.end():].strip() if m else body.strip()
        m2 = SOLUTION_MARKERS.search(rest)
        lead = rest[: m2.start()].strip(" \n-*") if m2 else ""
        if len(lead) >= 20 and not re.match(r"(?:①|\(1\)|1[.、)]|Step\s*1)", lead):  # "Analysis: <problem> Solution Steps: ..."
            return rest[: m2.start()].strip(" \n-*"), rest[m2.end():].strip()
        given = re.match(r"(?is)^\s*(?:[-*•]\s*)?(given\b[^\n]*)\n(.+)$", rest)  # the problem's data opens the analysis
        if given:
            return given.group(1).strip(), given.group(2).strip()
        return "", rest
    m = SOLUTION_MARKERS.search(body)
    if m and m.start() > 0:
        return body[: m.start()].strip(), body[m.end():].strip()
    s = STEP_START.search(body)
    if s and s.start() > 0:
        return body[: s.start()].strip(), body[s.start():].strip()
    return "", body.strip()


def _clean_problem(problem: str) -> str:
    """Strip "Problem:" / "Example 3 (...):" openers and a dangling "Steps demonstration:" tail; a
    "problem" that is only a solution heading is no problem."""
    p = problem.replace("**", "").strip()
    head = EXAMPLE_HEADER.match(p)
    if head and head.end() < len(p):
        p = p[head.end():]
    p = re.sub(r"\s*\b[A-Z][A-Za-z ]{0,30}[:：]\s*$", "", p).strip()
    if SOLUTION_MARKERS.fullmatch(p) or len(p) < 8:
        return ""
    return p


def convert_example(ex: Any) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``example_application`` (str or dict with varying keys) -> ``{problem, solution, answer}`` and
    (kind, message) warnings."""
    example, warnings, _ = split_example(ex)
    return example, warnings


def split_example(ex: Any) -> tuple[dict[str, str], list[tuple[str, str]], str]:
    """:func:`convert_example` plus how the answer was found: "key", "boxed", "marker", "stated"
    (explicit in the source), "final sentence" or "final step" (heuristic), or "" (none)."""
    warnings: list[tuple[str, str]] = []
    if isinstance(ex, dict):
        lower = {_key(k): v for k, v in ex.items()}
        problem_key = next((k for k in EXAMPLE_PROBLEM_KEYS if _flat(lower.get(k))), None)
        answer_key = next((k for k in EXAMPLE_ANSWER_KEYS if _flat(lower.get(k))), None)
        problem = unescape(_flat(lower.get(problem_key))) if problem_key else ""
        if problem_key in ("example", "example_1") and isinstance(lower.get(problem_key), str):
            problem, inner = _split_text(problem)  # a whole worked example under one key
        else:
            inner = ""
        rest = [(k, v) for k, v in ex.items() if _key(k) not in (problem_key, answer_key)]
        solution = "\n".join(f"{k}: {_flat(v)}" if len(rest) > 1 else _flat(v) for k, v in rest if _flat(v))
        solution = unescape("\n".join(x for x in (inner, solution) if x))
        if answer_key:
            answer, how = unescape(_flat(lower.get(answer_key))), "key"
        else:
            answer, how = _answer_from(solution)
    else:
        text = unescape(_flat(ex))
        problem, solution = _split_text(text)
        answer, how = _answer_from(solution)
    problem = _clean_problem(problem)
    if not problem:
        warnings.append(("example without a problem statement", "example has no separate problem statement; the whole example is kept as the solution"))
        problem = "(see the solution)"
    if not solution:
        solution = problem
    if not answer:
        warnings.append(("example without a final answer", "example states no final answer"))
        answer = ANSWER_MISSING
    elif how in ("final sentence", "final step"):
        warnings.append((f"answer taken from the {how}", f"answer taken from the example's {how}: {answer[:60]!r}"))
    return {"problem": problem, "solution": solution, "answer": answer}, warnings, how if answer != ANSWER_MISSING else ""


def _tags(*values: Any) -> list[str]:
    out: list[str] = []
    for v in values:
        items = v if isinstance(v, list) else re.split(r"[,;、，]", v) if isinstance(v, str) else []
        for item in items:
            tag = re.sub(r"\s+", " ", _flat(item).lower()).strip()[:MAX_TAG_CHARS].strip()
            if tag and tag not in out:
                out.append(tag)
    return out


def _unescaped(v: Any) -> Any:
    return unescape(v) if isinstance(v, str) else v


def chapter_domain_by_rule(chapter: str, sections: Any, default: str | None = None) -> tuple[str, str]:
    """The domain of a chapter no keyword in its name matches: each section name, template name and
    knowledge tag of the chapter votes with the keyword table; the most votes win (ties: the
    domain listed first in ``CHAPTER_KEYWORDS``). Nothing votes: ``default`` or algebra.
    Returns (domain, how)."""
    votes: dict[str, int] = {}
    texts: list[str] = []
    if isinstance(sections, dict):
        for sec, items in sections.items():
            texts.append(str(sec))
            for t in items if isinstance(items, list) else [items]:
                if isinstance(t, dict):
                    texts += [_flat(t.get("template_name")), _flat(t.get("knowledge_tag"))]
    for text in texts:
        d = chapter_domain(text)
        if d:
            votes[d] = votes.get(d, 0) + 1
    if votes:
        order = [d for _, d in CHAPTER_KEYWORDS]
        best = max(votes, key=lambda d: (votes[d], -order.index(d) if d in order else 0))
        return best, f"keyword vote over its sections and templates ({votes[best]} of {sum(votes.values())})"
    return default or "algebra", "no keyword anywhere; " + ("--default-domain" if default else "default algebra")


def convert(data: Any, *, source: str = "reference", default_domain: str | None = None, id_prefix: str = "") -> ImportResult:
    """Convert decoded reference JSON to our template dicts (ids made unique, every record checked).
    Nothing is dropped silently: a skipped item is a warning of its own kind. ``id_prefix`` (e.g.
    ``v1``) namespaces the ids so the library can be used next to ours (``builtin,imported.jsonl``)."""
    if id_prefix and not re.fullmatch(r"[a-z0-9]+(?:[_-][a-z0-9]+)*", id_prefix):
        raise UserError(f"--id-prefix {id_prefix!r} must be lowercase letters, digits, - or _")
    if default_domain is not None and default_domain not in DOMAINS:
        raise UserError(f"--default-domain {default_domain!r} is not one of: {', '.join(DOMAINS)}")
    if not isinstance(data, dict):
        raise UserError(f"{source}: the reference format is an object {{chapter: {{section: [templates]}}}}")
    res = ImportResult([])
    used: set[str] = set()
    for chapter, sections in data.items():
        domain = chapter_domain(chapter)
        if domain is None:
            domain, how = chapter_domain_by_rule(chapter, sections, default_domain)
            res.warn("chapter mapped by rule", f"chapter {chapter!r} -> {domain} ({how})")
        if isinstance(sections, list):  # a chapter without sections
            sections = {chapter: sections}
        if not isinstance(sections, dict):
            raise UserError(f"{source}: chapter {chapter!r} must map section names to lists of templates")
        for section, items in sections.items():
            if isinstance(items, dict):
                items = [items]
            for i, t in enumerate(items or []):
                where = f"{chapter} / {section} / #{i + 1}"
                if not isinstance(t, dict):
                    res.warn("skipped: not an object", f"{where}: not an object, skipped")
                    continue
                name = unescape(_flat(t.get("template_name")) or _flat(t.get("name")))
                if not name:
                    res.warn("skipped: no template_name", f"{where}: no template_name, skipped")
                    continue
                base = f"{id_prefix + '.' if id_prefix else ''}{DOMAIN_PREFIX[domain]}.{slug(name)}"
                tid, n = base, 2
                while tid in used:
                    tid, n = f"{base}-{n}", n + 1
                used.add(tid)
                example, ex_warn = convert_example(t.get("example_application"))
                steps = [unescape(x) for x in _text_list(_unescaped(t.get("reason_flow")))]
                description = unescape(_flat(t.get("description"))) or name
                applicability = unescape("; ".join(_text_list(_unescaped(t.get("application_scenario"))))) or description
                rec = {
                    "id": tid,
                    "name": name,
                    "domain": domain,
                    "section": _flat(section) or _flat(chapter),
                    "tags": _tags(t.get("knowledge_tag"), t.get("template_type")) or [slug(name).replace("-", " ")[:MAX_TAG_CHARS].strip()],
                    "description": description,
                    "applicability": applicability,
                    "steps": steps or [description],
                    "example": example,
                    "source": f"{source}: {chapter} / {section}",
                }
                if not steps:
                    ex_warn.append(("no reason_flow", "no reason_flow; the description stands in as the single step"))
                for kind, msg in ex_warn:
                    res.warn(kind, f"{tid}: {msg}")
                problems = check_record(rec)
                if problems:
                    res.warn("skipped: invalid record", f"{where}: skipped, " + "; ".join(f"{f}: {m}" for f, m in problems))
                    continue
                res.templates.append(rec)
    return res


def import_file(path: str | Path, *, default_domain: str | None = None, id_prefix: str = "") -> ImportResult:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"reference template file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
    return convert(data, source=p.name, default_domain=default_domain, id_prefix=id_prefix)
