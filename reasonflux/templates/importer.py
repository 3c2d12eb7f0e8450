"""Import of the reference ReasonFlux template format into our schema.

The reference library is nested JSON ``{chapter: {section: [template, ...]}}``; a template has
``template_name``, ``template_type``, ``knowledge_tag`` (string or list), ``description``,
``application_scenario`` (string or list), ``reason_flow`` (list of strings or of small dicts) and
``example_application`` (a string, or a dict whose keys vary between templates). Chapters map to our
domains by keyword (``CHAPTER_KEYWORDS``); an unknown chapter needs ``default_domain``.

    reasonflux templates import tests/fixtures/reference_templates.json -o /tmp/imported.jsonl
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonflux.errors import UserError
from reasonflux.templates.library import DOMAIN_PREFIX, DOMAINS, MAX_TAG_CHARS, check_record

# Chapter name keyword -> domain; the first keyword found in the lowercased chapter name wins.
CHAPTER_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("functional equation", "functional_equations"), ("sequence", "sequences_series"), ("series", "sequences_series"),
    ("trigon", "trigonometry"), ("complex", "complex_numbers"), ("polynom", "polynomials"),
    ("inequal", "inequalities"), ("probab", "probability"), ("statist", "probability"), ("expectation", "probability"),
    ("combinat", "combinatorics"), ("counting", "combinatorics"), ("permutation", "combinatorics"),
    ("binomial", "combinatorics"), ("number theory", "number_theory"), ("integer", "number_theory"),
    ("divisib", "number_theory"), ("modular", "number_theory"), ("geometr", "geometry"), ("vector", "geometry"),
    ("conic", "geometry"), ("triangle", "geometry"), ("circle", "geometry"), ("coordinate", "geometry"),
    ("function", "algebra"), ("derivative", "algebra"), ("calculus", "algebra"), ("equation", "algebra"),
    ("set", "algebra"), ("logic", "algebra"), ("algebra", "algebra"), ("physic", "physics"), ("mechanic", "physics"),
    ("chemi", "chemistry"), ("biolog", "biology"), ("genetic", "biology"),
)
# Keys of a dict-valued example_application, by the example field they feed (first found wins).
EXAMPLE_PROBLEM_KEYS = ("problem", "question", "example_problem", "problem_statement", "example", "task")
EXAMPLE_ANSWER_KEYS = ("answer", "final_answer", "result", "conclusion")
ANSWER_MISSING = "(not stated in the source example)"
SOLUTION_MARKERS = re.compile(r"(?i)\b(?:solution|solve|analysis)\s*[:：]")
ANSWER_LINE = re.compile(r"(?im)^(?:.*?\b(?:answer|result)\b\s*(?:is|[:：])\s*)(.+?)\s*\.?$")
BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")


@dataclass
class ImportResult:
    templates: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


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


def _answer_from(text: str) -> str | None:
    boxed = BOXED.findall(text)
    if boxed:
        return boxed[-1].strip()
    lines = ANSWER_LINE.findall(text)
    return lines[-1].strip() if lines else None


def _key(k: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(k).lower().strip())


def convert_example(ex: Any) -> tuple[dict[str, str], list[str]]:
    """``example_application`` (str or dict with varying keys) -> ``{problem, solution, answer}``."""
    warnings: list[str] = []
    if isinstance(ex, dict):
        lower = {_key(k): v for k, v in ex.items()}
        problem_key = next((k for k in EXAMPLE_PROBLEM_KEYS if _flat(lower.get(k))), None)
        answer_key = next((k for k in EXAMPLE_ANSWER_KEYS if _flat(lower.get(k))), None)
        problem = _flat(lower.get(problem_key)) if problem_key else ""
        rest = [(k, v) for k, v in ex.items() if _key(k) not in (problem_key, answer_key)]
        solution = "\n".join(f"{k}: {_flat(v)}" if len(rest) > 1 else _flat(v) for k, v in rest if _flat(v))
        answer = _flat(lower.get(answer_key)) if answer_key else (_answer_from(solution) or "")
    else:
        text = _flat(ex)
        m = SOLUTION_MARKERS.search(text)
        problem, solution = (text[: m.start()].strip(), text[m.end():].strip()) if m else ("", text)
        problem = re.sub(r"(?i)^\s*(?:example|problem)\s*\d*\s*[:：]\s*", "", problem)
        answer = _answer_from(solution) or ""
    if not problem:
        warnings.append("example has no separate problem statement; the whole example is kept as the solution")
        problem = "(see the solution)"
    if not solution:
        solution = problem
    if not answer:
        warnings.append("example states no final answer")
        answer = ANSWER_MISSING
    return {"problem": problem, "solution": solution, "answer": answer}, warnings


def _tags(*values: Any) -> list[str]:
    out: list[str] = []
    for v in values:
        items = v if isinstance(v, list) else re.split(r"[,;、，]", v) if isinstance(v, str) else []
        for item in items:
            tag = re.sub(r"\s+", " ", _flat(item).lower()).strip()[:MAX_TAG_CHARS].strip()
            if tag and tag not in out:
                out.append(tag)
    return out


def convert(data: Any, *, source: str = "reference", default_domain: str | None = None) -> ImportResult:
    """Convert decoded reference JSON to our template dicts (ids made unique, every record checked)."""
    if default_domain is not None and default_domain not in DOMAINS:
        raise UserError(f"--default-domain {default_domain!r} is not one of: {', '.join(DOMAINS)}")
    if not isinstance(data, dict):
        raise UserError(f"{source}: the reference format is an object {{chapter: {{section: [templates]}}}}")
    unknown = [ch for ch in data if chapter_domain(ch, default_domain) is None]
    if unknown:
        raise UserError(f"{source}: cannot map chapter(s) {', '.join(map(repr, unknown))} to a domain; "
                        f"pass --default-domain (one of: {', '.join(DOMAINS)})")
    res = ImportResult([])
    used: set[str] = set()
    for chapter, sections in data.items():
        domain = chapter_domain(chapter, default_domain)
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
                    res.warnings.append(f"{where}: not an object, skipped")
                    continue
                name = _flat(t.get("template_name")) or _flat(t.get("name"))
                if not name:
                    res.warnings.append(f"{where}: no template_name, skipped")
                    continue
                base = f"{DOMAIN_PREFIX[domain]}.{slug(name)}"
                tid, n = base, 2
                while tid in used:
                    tid, n = f"{base}-{n}", n + 1
                used.add(tid)
                example, ex_warn = convert_example(t.get("example_application"))
                steps = _text_list(t.get("reason_flow"))
                description = _flat(t.get("description")) or name
                applicability = "; ".join(_text_list(t.get("application_scenario"))) or description
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
                    ex_warn.append("no reason_flow; the description stands in as the single step")
                res.warnings.extend(f"{tid}: {w}" for w in ex_warn)
                problems = check_record(rec)
                if problems:
                    res.warnings.append(f"{where}: skipped, " + "; ".join(f"{f}: {m}" for f, m in problems))
                    continue
                res.templates.append(rec)
    return res


def import_file(path: str | Path, *, default_domain: str | None = None) -> ImportResult:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"reference template file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
    return convert(data, source=p.name, default_domain=default_domain)
