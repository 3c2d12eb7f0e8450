"""Thought-template schema, loading and validation of JSONL libraries, library hash, near-duplicates.

A library is one or more JSONL files, one template a line. Loading validates every record and
reports *every* bad one with ``file:line`` and the field at fault; the library hash (sha256 of the
canonical records) keys the on-disk retrieval index.

    python -c "from reasonflux.templates.library import load_library; print(load_library('builtin').stats())"
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any, Iterable

from reasonflux.errors import UserError

DOMAINS: tuple[str, ...] = (
    "algebra", "number_theory", "combinatorics", "geometry", "probability", "inequalities",
    "polynomials", "sequences_series", "complex_numbers", "trigonometry", "functional_equations",
    "physics", "chemistry", "biology",
)
# Short id prefixes used by the importer (and suggested for hand-written ids).
DOMAIN_PREFIX: dict[str, str] = {
    "algebra": "alg", "number_theory": "nt", "combinatorics": "comb", "geometry": "geo",
    "probability": "prob", "inequalities": "ineq", "polynomials": "poly", "sequences_series": "seq",
    "complex_numbers": "cplx", "trigonometry": "trig", "functional_equations": "fe",
    "physics": "phys", "chemistry": "chem", "biology": "bio",
}
FIELDS: tuple[str, ...] = ("id", "name", "domain", "section", "tags", "description", "applicability",
                           "steps", "example", "source")
EXAMPLE_FIELDS: tuple[str, ...] = ("problem", "solution", "answer")
ID_RE = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*(?:\.[a-z0-9]+(?:[_-][a-z0-9]+)*)+$")
MAX_TAG_CHARS = 40
MAX_ISSUES_SHOWN = 50  # a UserError lists at most this many bad records (the count says the rest)
# Near-duplicate thresholds (Jaccard overlap of name words / tag sets), see near_duplicates().
NAME_DUP_JACCARD = 0.8
TAG_DUP_JACCARD = 0.8
TAG_DUP_NAME_JACCARD = 0.5
NAME_STOPWORDS = frozenset({"a", "an", "and", "the", "of", "for", "in", "on", "to", "with", "by", "via", "method",
                            "technique", "trick", "approach", "using"})


@dataclass
class Example:
    problem: str
    solution: str
    answer: str


@dataclass
class Template:
    """One thought template: a named, tagged solution method with steps and a worked example."""

    id: str
    name: str
    domain: str
    section: str
    tags: list[str]
    description: str
    applicability: str
    steps: list[str]
    example: Example
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Template":
        return cls(**{**d, "example": Example(**d["example"])})


@dataclass(frozen=True)
class Issue:
    """One problem with one record: where it is and which field is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: field {self.field!r}: {self.message}"


@dataclass
class Library:
    templates: list[Template]
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {t.id: t for t in self.templates}
        self.hash = library_hash(self.templates)

    def __len__(self) -> int:
        return len(self.templates)

    def __iter__(self):
        return iter(self.templates)

    def get(self, template_id: str) -> Template | None:
        return self.by_id.get(template_id)

    def stats(self) -> dict[str, Any]:
        domains: dict[str, int] = {}
        sections: dict[str, int] = {}
        for t in self.templates:
            domains[t.domain] = domains.get(t.domain, 0) + 1
            key = f"{t.domain}/{t.section}"
            sections[key] = sections.get(key, 0) + 1
        return {
            "templates": len(self.templates),
            "domains": dict(sorted(domains.items())),
            "sections": len(sections),
            "per_section": dict(sorted(sections.items())),
            "tags": len({tag for t in self.templates for tag in t.tags}),
            "hash": self.hash,
            "files": list(self.paths),
        }


# ---------------------------------------------------------------------------------------- validation

def _nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def check_record(rec: Any) -> list[tuple[str, str]]:
    """Problems with one decoded record as ``(field, message)`` pairs; empty when valid."""
    if not isinstance(rec, dict):
        return [("(record)", f"must be a JSON object, got {type(rec).__name__}")]
    out: list[tuple[str, str]] = []
    for k in FIELDS:
        if k not in rec:
            out.append((k, "missing"))
    for k in rec:
        if k not in FIELDS:
            out.append((k, f"unknown field (known: {', '.join(FIELDS)})"))
    for k in ("id", "name", "section", "description", "applicability", "source"):
        if k in rec and not _nonempty_str(rec[k]):
            out.append((k, "must be a non-empty string"))
    if _nonempty_str(rec.get("id")) and not ID_RE.match(rec["id"]):
        out.append(("id", f"{rec['id']!r} is not a dotted lowercase id like 'nt.lifting-the-exponent'"))
    if "domain" in rec and rec["domain"] not in DOMAINS:
        out.append(("domain", f"{rec['domain']!r} is not one of: {', '.join(DOMAINS)}"))
    if "tags" in rec:
        tags = rec["tags"]
        if not isinstance(tags, list) or not tags:
            out.append(("tags", "must be a non-empty list of strings"))
        else:
            for i, tag in enumerate(tags):
                if not _nonempty_str(tag):
                    out.append((f"tags[{i}]", "must be a non-empty string"))
                elif tag != tag.lower() or tag != tag.strip() or len(tag) > MAX_TAG_CHARS:
                    out.append((f"tags[{i}]", f"{tag!r} must be short (<= {MAX_TAG_CHARS} chars), lowercase, trimmed"))
            if len(set(tags)) != len(tags):
                out.append(("tags", "has repeated tags"))
    if "steps" in rec:
        steps = rec["steps"]
        if not isinstance(steps, list) or not steps:
            out.append(("steps", "must be a non-empty list of strings"))
        else:
            for i, s in enumerate(steps):
                if not _nonempty_str(s):
                    out.append((f"steps[{i}]", "must be a non-empty string"))
    if "example" in rec:
        ex = rec["example"]
        if not isinstance(ex, dict):
            out.append(("example", "must be an object with problem, solution, answer"))
        else:
            for k in EXAMPLE_FIELDS:
                if not _nonempty_str(ex.get(k)):
                    out.append((f"example.{k}", "missing" if k not in ex else "must be a non-empty string"))
            for k in ex:
                if k not in EXAMPLE_FIELDS:
                    out.append((f"example.{k}", f"unknown field (known: {', '.join(EXAMPLE_FIELDS)})"))
    return out


def read_records(path: str | Path) -> tuple[list[tuple[int, dict]], list[Issue]]:
    """Decode and check every line of one JSONL file: ``([(line, record)...], [issues...])``.

    Only valid records are returned; blank lines are skipped.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"template library not found: {p}")
    good: list[tuple[int, dict]] = []
    issues: list[Issue] = []
    name = str(p)
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                issues.append(Issue(name, lineno, "(json)", f"not valid JSON ({e.msg} at column {e.colno})"))
                continue
            problems = check_record(rec)
            issues.extend(Issue(name, lineno, fld, msg) for fld, msg in problems)
            if not problems:
                good.append((lineno, rec))
    return good, issues


def builtin_paths() -> list[Path]:
    """The shipped library: every ``*.jsonl`` in ``reasonflux/templates/data``."""
    d = Path(str(resources.files("reasonflux.templates").joinpath("data")))
    return sorted(d.glob("*.jsonl"))


def resolve_paths(spec: str | Path | Iterable[str | Path]) -> list[Path]:
    """``"builtin"``, a JSONL file, a directory of JSONL files, a comma list, or a list of those."""
    if isinstance(spec, (str, Path)):
        parts = [s.strip() for s in str(spec).split(",") if s.strip()] if isinstance(spec, str) else [spec]
    else:
        parts = list(spec)
    out: list[Path] = []
    for part in parts:
        if str(part) == "builtin":
            found = builtin_paths()
            if not found:
                raise UserError("the builtin template library is empty (no *.jsonl in reasonflux/templates/data)")
            out.extend(found)
            continue
        p = Path(part).expanduser()
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise UserError(f"no *.jsonl template files in directory {p}")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"template library not found: {p} (give a JSONL file, a directory, or 'builtin')")
    if not out:
        raise UserError("no template library given")
    return out


def validate(spec: str | Path | Iterable[str | Path]) -> list[Issue]:
    """Every issue in the given library files, including ids repeated across records or files."""
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for p in resolve_paths(spec):
        good, bad = read_records(p)
        issues.extend(bad)
        for lineno, rec in good:
            where = f"{p}:{lineno}"
            if rec["id"] in seen:
                issues.append(Issue(str(p), lineno, "id", f"{rec['id']!r} repeats the id at {seen[rec['id']]}"))
            else:
                seen[rec["id"]] = where
    return issues


_CACHE: dict[tuple, Library] = {}


def load_library(spec: str | Path | Iterable[str | Path] | Library = "builtin") -> Library:
    """Load and validate a library; any bad record raises one UserError listing every issue.

    Results are memoised per (path, size, mtime) so that repeated hint lookups stay cheap.
    """
    if isinstance(spec, Library):
        return spec
    paths = resolve_paths(spec)
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    if key in _CACHE:
        return _CACHE[key]
    issues = validate(paths)
    if issues:
        shown = "\n  ".join(str(i) for i in issues[:MAX_ISSUES_SHOWN])
        more = f"\n  … and {len(issues) - MAX_ISSUES_SHOWN} more" if len(issues) > MAX_ISSUES_SHOWN else ""
        raise UserError(f"{len(issues)} problem(s) in the template library:\n  {shown}{more}")
    templates = [Template.from_dict(rec) for p in paths for _, rec in read_records(p)[0]]
    lib = Library(templates, [str(p) for p in paths])
    _CACHE[key] = lib
    return lib


def library_hash(templates: Iterable[Template]) -> str:
    """sha256 of the canonical JSON of every record, in library order (formatting does not count)."""
    h = hashlib.sha256()
    for t in templates:
        h.update(json.dumps(t.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def write_jsonl(templates: Iterable[Template | dict], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for t in templates:
            d = t.to_dict() if isinstance(t, Template) else t
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    tmp.replace(p)
    return p


# ----------------------------------------------------------------------------------- near-duplicates

def _name_words(name: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", name.lower())
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words} - NAME_STOPWORDS


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def near_duplicates(library: Library | Iterable[Template]) -> list[tuple[str, str, str]]:
    """Pairs of templates that look like the same method twice: ``(id_a, id_b, why)``.

    A pair is flagged when the names share >= NAME_DUP_JACCARD of their words, or when the tag sets
    overlap >= TAG_DUP_JACCARD and the names still share >= TAG_DUP_NAME_JACCARD.
    """
    items = [(t, _name_words(t.name), set(t.tags)) for t in library]
    out = []
    for (a, na, ta), (b, nb, tb) in combinations(items, 2):
        nj = _jaccard(na, nb)
        tj = _jaccard(ta, tb)
        if nj >= NAME_DUP_JACCARD:
            out.append((a.id, b.id, f"names overlap {nj:.2f}: {a.name!r} / {b.name!r}"))
        elif tj >= TAG_DUP_JACCARD and nj >= TAG_DUP_NAME_JACCARD:
            out.append((a.id, b.id, f"tags overlap {tj:.2f} and names {nj:.2f}: {a.name!r} / {b.name!r}"))
    return out
