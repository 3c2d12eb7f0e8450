"""Decontamination against AIME 2024, AIME 2025, MATH500 and GPQA-Diamond (GPQA read in memory from
its zip), in two stages:

1. **Exact n-gram** (13 words by default, on normalised text): a training problem sharing a word
   n-gram with a benchmark problem is contaminated, unless that n-gram also occurs in two or more
   benchmark problems (competition boilerplate such as "... where $m$ and $n$ are relatively prime
   positive integers. Find $m+n$." is not evidence). A benchmark problem shorter than ``n`` tokens
   counts as one gram: a training problem that contains it whole is contaminated.
2. **Similarity** (catches paraphrases and re-told problems): both texts are normalised (LaTeX
   and plain math written alike: ``\\frac{a}{b}``/``a/b``, ``\\le``/``<=``, ``60^\\circ``/``60
   degrees``, number words to digits), benchmark boilerplate phrases (word 4-grams found in two or
   more benchmark problems) are cut out, and what is left becomes weighted features: content-word
   stems and numbers. A feature's weight is its inverse document frequency over the benchmark
   problems, so stock words and small numbers weigh little. The score of a (training, benchmark)
   pair blends the weighted share of the benchmark problem's words found in the training problem
   with the share of its numbers (a re-told problem keeps its numbers and question while its story
   changes); see :meth:`Similarity.score`. Numbers found in at most two benchmark problems are
   fingerprints: three shared ones count without word support (a short problem whose words are all
   stock phrasing, "Find the greatest common divisor of ...", is its numbers). The math skeleton
   (runs of numbers, operators, one-letter variables and function names; n-grams holding a
   number, less those in two or more benchmark problems) adds a formula match that survives a new
   story. An inverted index finds the candidates, so a large training set is one pass.

3. **Embedding** (optional, off unless a model is given: ``--embed-model DIR_OR_PACKAGE`` or
   ``$REASONFLUX_EMBED_MODEL``; see :mod:`reasonflux.embed`): cosine of the normalised texts' sentence
   embeddings against every benchmark problem (encoded once per process). The nearest benchmark
   problem matches when the cosine is at least ``EMBED_THRESHOLD`` and the similarity stage's score
   against that same problem is at least ``EMBED_SIM_FLOOR``: the embedding alone does not tell a
   re-worded copy from another problem on the same topic.

Each match names the benchmark problem (by id, never by GPQA text), the stage and the score.

    reasonflux data clean problems.jsonl --out clean.jsonl --data-dir ../shared/benchdata
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from reasonflux.synth.text import ngrams, tokens

DEFAULT_NGRAM = 13
DEFAULT_BENCHMARKS = ("aime24", "aime25", "math500", "gpqa_diamond")
BOILERPLATE_MIN_DOCS = 2  # a phrase in this many benchmark problems is boilerplate
BOILER_N = 4  # word n-gram size of boilerplate phrases cut before the similarity stage
# Similarity stage, chosen on the "tune" half of tests/data/decontam_*.jsonl (benchmarks/decontam_quality.py)
DEFAULT_THRESHOLD = 0.45  # score at or above which a row is contaminated
WORD_SHARE = 0.4  # weight of the word share; the rest is the number share
WORD_FLOOR = 20.0  # idf mass a benchmark problem's words are counted as at least
NUM_FLOOR = 10.0  # idf mass its numbers are counted as at least
WORD_SUPPORT = 0.15  # word share from which shared numbers count in full
MIN_TRAIN_SHARE = 0.18  # shared weight needed as a share of the training problem's own (AIME leave-one-out)
# Second round (short problems whose few words are stock phrasing, so numbers and formulas carry the
# information); chosen on the original sets, then measured on the _b sets written before this round.
RARE_NUMBER_DOCS = 2  # a number found in at most this many benchmark problems is a fingerprint
RARE_NUMBERS_ALONE = 3  # this many shared fingerprints support the number share without any words
SKEL_N = 4  # token n-gram size over the math skeleton (numbers, operators, variables, functions)
COMMON_NUMBER_SHARE = 0.2  # a number in this share of benchmark problems (1, 2, 3 ...) does not tie a formula
SKEL_FLOOR = 15.0  # idf mass a benchmark problem's skeleton n-grams are counted as at least
SKEL_GAIN = 0.6  # how far a full skeleton match lifts the score towards 1
# Embedding stage (all-MiniLM-L6-v2), chosen on the "tune" half only: the highest cosine of an innocent
# tune row to its nearest benchmark problem is 0.86; the lower bar on the similarity score is the one
# the exact stage already uses for half-agreement (DEFAULT_THRESHOLD / 2).
EMBED_THRESHOLD = 0.87
EMBED_SIM_FLOOR = DEFAULT_THRESHOLD / 2
EMBED_CHUNK = 1024  # training rows encoded per batch


@dataclass
class Match:
    row: int  # index into the rows given to decontaminate()
    benchmark: str
    problem_id: str
    shared_ngrams: int = 0  # stage "ngram": how many n-grams are shared
    score: float = 1.0  # stage "similarity": the similarity score; 1.0 for an n-gram hit
    stage: str = "ngram"
    row_data: Any = field(default=None, repr=False)

    def report(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "benchmark_id": self.problem_id, "stage": self.stage,
                "score": round(self.score, 4), "shared_ngrams": self.shared_ngrams}


# ---------------------------------------------------------------- normalisation for the similarity stage

_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
                      "ninety": "90", "hundred": "100", "thousand": "1000"})
_NUMBER_WORDS.update({w: str(i) for i, w in enumerate(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split()) if i >= 2})
_STOP = set("""a about above after again all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just let may me more most must my no nor not now of off on once only or
other our out over own same she should so some such than that the their them then there these they this those through
to too under until up very was we were what when where which while who whom why will with would you your yours
suppose given find compute determine calculate evaluate value many much number answer express write written form
show prove let such that where whose there exist exists one each every""".split())
_LATEX_WORD = {"le": "<=", "leq": "<=", "ge": ">=", "geq": ">=", "ne": "!=", "neq": "!=", "cdot": "*", "times": "*",
               "div": "/", "pm": "+-", "circ": " degrees ", "deg": " degrees ", "infty": " infinity ", "ldots": " ", "cdots": " ",
               "dots": " ", "dotsb": " ", "left": " ", "right": " ", "quad": " ", "qquad": " ", "text": " ", "mathrm": " ",
               "mathbf": " ", "operatorname": " ", "displaystyle": " ", "tfrac": "frac", "dfrac": "frac", "cfrac": "frac",
               "dbinom": "binom", "tbinom": "binom", "lvert": "|", "rvert": "|", "mid": "|"}
_FRAC = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_CMD = re.compile(r"\\([a-zA-Z]+)")
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?|[+\-*/^=<>|!]")
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)


def _stem(w: str) -> str:
    for suf in ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def sim_tokens(text: str) -> list[str]:
    """Math-aware tokens: LaTeX and plain-text math written alike, number words as digits."""
    t = _ASY.sub(" ", text)
    t = t.replace("\\$", " dollars ").replace("$", " ").replace("\\\\", " ").replace("°", " degrees ")
    t = t.replace("^{\\circ}", " degrees ").replace("^\\circ", " degrees ")
    t = t.replace("{,}", "").replace("\\,", " ").replace("\\!", "").replace("\\;", " ")
    for _ in range(3):  # nested fractions
        t = _FRAC.sub(lambda m: f" ( {m.group(1)} ) / ( {m.group(2)} ) ", t)
    t = _SQRT.sub(lambda m: f" sqrt ( {m.group(1)} ) ", t)
    t = t.replace("\\tfrac", "\\frac").replace("\\dfrac", "\\frac")
    t = _CMD.sub(lambda m: f" {_LATEX_WORD.get(m.group(1), m.group(1))} ", t)
    t = t.lower().replace("<=", " <= ").replace(">=", " >= ").replace("^\\circ", " degrees ")
    t = re.sub(r"(\d),(\d{3})", r"\1\2", t)
    out = []
    for w in _WORD.findall(t):
        w = _NUMBER_WORDS.get(w, w)
        out.extend(w.split("/") if "/" in w and len(w) > 1 else [w])
    return out


def _is_number(w: str) -> bool:
    return w[0].isdigit()


_SKEL_WORDS = {"sqrt", "log", "ln", "sin", "cos", "tan", "cot", "sec", "csc", "binom", "pi", "lfloor", "lceil",
               "floor", "ceil", "gcd", "lcm", "pmod", "infinity"}  # not "sum", "max" ...: prose as often as math


def _is_math(w: str) -> bool:
    return _is_number(w) or not w.isalpha() or (len(w) == 1 and w != "a") or w in _SKEL_WORDS


def skeleton(t: list[str]) -> list[list[str]]:
    """The formulas of a token list: maximal runs of numbers, operators, one-letter variables (not
    the article "a") and function names. A formula reads the same in any story."""
    runs: list[list[str]] = [[]]
    for w in t:
        if _is_math(w):
            runs[-1].append(w)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


class Similarity:
    """Weighted-feature index of the benchmark problems (the similarity stage)."""

    def __init__(self, items: Iterable[tuple[str, str, str]], threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold
        self.keys: list[tuple[str, str]] = []
        toks = []
        for bench, pid, text in items:
            self.keys.append((bench, pid))
            toks.append(sim_tokens(text))
        # boilerplate: word 4-grams in >= 2 benchmark problems
        df4: Counter = Counter()
        for t in toks:
            df4.update(set(ngrams(t, BOILER_N)) if len(t) >= BOILER_N else ())
        self.boiler = {g for g, c in df4.items() if c >= BOILERPLATE_MIN_DOCS}
        dfn: Counter = Counter()
        for t in toks:
            dfn.update({w for w in t if _is_number(w)})
        self.common_numbers = {w for w, c in dfn.items() if c >= COMMON_NUMBER_SHARE * len(toks)}
        dfs: Counter = Counter()
        for t in toks:
            dfs.update(self._skel_grams(t))
        self.skel_stock = {g for g, c in dfs.items() if c >= BOILERPLATE_MIN_DOCS}  # formulas in 2+ problems
        feats = [self._features(t) for t in toks]
        df: Counter = Counter()
        for f in feats:
            df.update(f)
        n = max(1, len(feats))
        self.idf = {f: math.log((n + 1) / (c + 0.5)) for f, c in df.items()}
        self.default_idf = math.log((n + 1) / 0.5)
        self._index_of = {k: i for i, k in enumerate(self.keys)}
        self.postings: dict[str, list[int]] = {}
        self.word_mass: list[float] = []
        self.num_mass: list[float] = []
        self.skel_mass: list[float] = []
        self.rare_idf = math.log((n + 1) / (RARE_NUMBER_DOCS + 0.5)) - 1e-9
        for i, f in enumerate(feats):
            for x in f:
                self.postings.setdefault(x, []).append(i)
            self.word_mass.append(sum(self.idf[x] for x in f if x[0] == "w"))
            self.num_mass.append(sum(self.idf[x] for x in f if x[0] == "#"))
            self.skel_mass.append(sum(self.idf[x] for x in f if x[0] == "$"))

    def _skel_grams(self, t: list[str]) -> set[str]:
        """Skeleton n-grams that hold a number other than the commonest few: a pattern of variables,
        operators and small numbers ("log x y", "x_{k+1} = 1/...") is shared by any problem on the
        topic; a problem's own numbers tie a formula to it."""
        grams = (r[i : i + SKEL_N] for r in skeleton(t) for i in range(len(r) - SKEL_N + 1))
        return {"$" + " ".join(g) for g in grams if any(_is_number(w) and w not in self.common_numbers for w in g)}

    def _strip_boiler(self, t: list[str]) -> list[str]:
        if len(t) < BOILER_N or not self.boiler:
            return t
        drop = [False] * len(t)
        for i in range(len(t) - BOILER_N + 1):
            if tuple(t[i : i + BOILER_N]) in self.boiler:
                for j in range(i, i + BOILER_N):
                    drop[j] = True
        return [w for w, d in zip(t, drop) if not d]

    def _features(self, t: list[str]) -> set[str]:
        # skeleton n-grams of the whole text, less those in 2+ benchmark problems
        f: set[str] = {g for g in self._skel_grams(t) if g not in self.skel_stock}
        t = self._strip_boiler(t)
        for w in t:
            if _is_number(w):
                f.add("#" + w)
            elif len(w) > 2 and w not in _STOP:
                f.add("w" + _stem(w))
        return f

    def score(self, word_shared: float, num_shared: float, i: int, rare_shared: int = 0, skel_shared: float = 0.0) -> float:
        """Similarity of a training problem to benchmark problem ``i`` from the idf weight of the
        benchmark problem's words and numbers that the training problem shares. Each share is taken
        of at least a floor (a short problem, or one with only common numbers, cannot score high
        on a few shared features); numbers count only as far as some words support them, or in full
        when ``RARE_NUMBERS_ALONE`` shared numbers are fingerprints (in at most ``RARE_NUMBER_DOCS``
        benchmark problems): a short problem whose words are all stock phrasing is its numbers.
        The share of the problem's math skeleton n-grams found (a formula written the same in
        another story, see :func:`skeleton`) then lifts the score part of the way to 1."""
        w = word_shared / max(self.word_mass[i], WORD_FLOOR)
        n = num_shared / max(self.num_mass[i], NUM_FLOOR)
        support = 1.0 if rare_shared >= RARE_NUMBERS_ALONE else min(1.0, w / WORD_SUPPORT)
        base = WORD_SHARE * w + (1 - WORD_SHARE) * n * support
        sk = skel_shared / max(self.skel_mass[i], SKEL_FLOOR)
        return base + SKEL_GAIN * sk * (1 - base)

    def _shared(self, text: str) -> tuple[dict[int, float], dict[int, float], dict[int, int], dict[int, float]]:
        """Per benchmark problem: shared idf mass of words, of numbers, count of shared fingerprint
        numbers, shared idf mass of skeleton n-grams."""
        f = self._features(sim_tokens(text))
        words: dict[int, float] = {}
        nums: dict[int, float] = {}
        rare: dict[int, int] = {}
        skel: dict[int, float] = {}
        for x in f:
            w = self.idf.get(x)
            if w is None:
                continue
            acc = nums if x[0] == "#" else skel if x[0] == "$" else words
            for i in self.postings[x]:
                acc[i] = acc.get(i, 0.0) + w
                if x[0] == "#" and w >= self.rare_idf:
                    rare[i] = rare.get(i, 0) + 1
        return words, nums, rare, skel

    def _score_of(self, shared: tuple, i: int) -> float:
        words, nums, rare, skel = shared
        return self.score(words.get(i, 0.0), nums.get(i, 0.0), i, rare.get(i, 0), skel.get(i, 0.0))

    def _mass(self, text: str) -> float:
        return sum(self.idf.get(x, self.default_idf) for x in self._features(sim_tokens(text)) if x[0] != "$")

    def score_against(self, text: str, key: tuple[str, str]) -> float:
        """The score of ``text`` against one benchmark problem (benchmark, id)."""
        i = self._index_of.get(key)
        if i is None:
            return 0.0
        return self._score_of(self._shared(text), i)

    def best(self, text: str) -> tuple[int, float] | None:
        """(benchmark index, score) of the most similar benchmark problem, or None. A benchmark
        problem whose shared features are under ``MIN_TRAIN_SHARE`` of the training problem's own
        weight does not count (a long problem that happens to contain a short one's few words and
        numbers is not a copy of it), unless they share ``RARE_NUMBERS_ALONE`` fingerprint numbers."""
        shared = self._shared(text)
        words, nums, rare, skel = shared
        own = self._mass(text)
        best = None
        for i in set(words) | set(nums) | set(skel):
            if words.get(i, 0.0) + nums.get(i, 0.0) < MIN_TRAIN_SHARE * own and rare.get(i, 0) < RARE_NUMBERS_ALONE:
                continue
            s = self._score_of(shared, i)
            if best is None or s > best[1]:
                best = (i, s)
        return best


def embed_text(text: str) -> str:
    """What the embedding stage encodes: the math-normalised tokens of :func:`sim_tokens`."""
    return " ".join(sim_tokens(text))


_VECTORS: dict[tuple[str, str], Any] = {}  # (model path, normalised text) -> unit vector, per process


class Embedding:
    """Sentence embeddings of the benchmark problems (the optional embedding stage)."""

    def __init__(self, items: Iterable[tuple[str, str, str]], model: str, threshold: float = EMBED_THRESHOLD,
                 sim_floor: float = EMBED_SIM_FLOOR):
        from reasonflux.embed import encoder

        self.encoder = encoder(model)
        self.model = self.encoder.path
        self.threshold, self.sim_floor = threshold, sim_floor
        items = list(items)
        self.keys = [(b, p) for b, p, _ in items]
        self.matrix = self.encode([t for _, _, t in items])

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        norm = [embed_text(t) for t in texts]
        todo = sorted({t for t in norm if (self.model, t) not in _VECTORS})
        for t, v in zip(todo, self.encoder.encode(todo) if todo else []):
            _VECTORS[(self.model, t)] = v
        if not norm:
            return np.zeros((0, self.encoder.model.config.hidden_size), dtype=np.float32)
        return np.stack([_VECTORS[(self.model, t)] for t in norm])

    def nearest(self, text: str, vec: Any = None) -> tuple[int, float]:
        """(benchmark index, cosine) of the nearest benchmark problem."""
        v = self.encoder.encode([embed_text(text)])[0] if vec is None else vec  # rows are not cached
        sims = self.matrix @ v
        i = int(sims.argmax())
        return i, float(sims[i])


def exact_tokens(text: str) -> list[str]:
    """Tokens of the exact stage: :func:`reasonflux.synth.text.tokens` with fraction spellings unified."""
    return tokens(text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac"))


@dataclass
class Index:
    """The exact stage (plus the similarity stage when built by :func:`build_index`).

    A shared n-gram is evidence only if (a) it occurs in fewer than two benchmark problems and (b)
    it is not made entirely of boilerplate phrases (word 4-grams found in two or more benchmark
    problems). A row is contaminated by a benchmark problem when it shares at least two such n-grams
    with it (all, if it has one) and either half of the problem's n-grams or a similarity score of at
    least half the similarity threshold (see :meth:`_enough`)."""

    n: int = DEFAULT_NGRAM
    grams: dict[tuple[str, ...], list[tuple[str, str]]] = field(default_factory=dict)
    short: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    similarity: Similarity | None = None
    embedding: Embedding | None = None
    boiler: set[tuple[str, ...]] = field(default_factory=set)
    grams_of: dict[tuple[str, str], int] = field(default_factory=dict)
    strict: bool = True  # False: the old rule, one shared n-gram of any kind is contamination

    def add(self, benchmark: str, problem_id: str, text: str) -> None:
        toks = exact_tokens(text)
        if not toks:
            return
        if len(toks) < self.n:
            self.short.append((tuple(toks), benchmark, problem_id))
            return
        gs = ngrams(toks, self.n)
        self.grams_of[(benchmark, problem_id)] = len(gs)
        for g in gs:
            self.grams.setdefault(g, []).append((benchmark, problem_id))

    def _evidence(self, g: tuple[str, ...]) -> list[tuple[str, str]]:
        owners = self.grams.get(g, ())
        if not self.strict:
            return list(owners)
        if not owners or len(set(owners)) >= BOILERPLATE_MIN_DOCS:
            return []  # boilerplate is not evidence
        if self.boiler and all(g[i : i + BOILER_N] in self.boiler for i in range(len(g) - BOILER_N + 1)):
            return []  # stitched together from stock phrases
        return list(owners)

    def match(self, text: str) -> tuple[str, str, int] | None:
        """Exact stage: (benchmark, problem id, shared n-grams) of the best match, or None."""
        toks = exact_tokens(text)
        hits: dict[tuple[str, str], int] = {}
        for g in ngrams(toks, self.n):
            for key in self._evidence(g):
                hits[key] = hits.get(key, 0) + 1
        hits = {k: c for k, c in hits.items() if self._enough(k, c, text)}
        if hits:
            (bench, pid), count = max(hits.items(), key=lambda kv: kv[1])
            return bench, pid, count
        if self.short:
            joined = " " + " ".join(toks) + " "
            for stoks, bench, pid in self.short:
                if " " + " ".join(stoks) + " " in joined:
                    return bench, pid, 1
        return None

    def _enough(self, key: tuple[str, str], shared: int, text: str) -> bool:
        """Two shared n-grams (all, for a problem with one) that are half the problem's n-grams, or
        fewer that the similarity stage half agrees with: one natural phrase in common is not a copy."""
        if not self.strict:
            return shared >= 1
        total = self.grams_of.get(key, 1)
        if shared < min(2, total):
            return False
        if shared * 2 >= total or self.similarity is None:
            return True
        return self.similarity.score_against(text, key) >= self.similarity.threshold / 2

    def find(self, text: str, vec: Any = None) -> tuple[str, str, str, float, int] | None:
        """(stage, benchmark, problem id, score, shared n-grams) of the first stage that matches
        (``vec``: the row's embedding when already computed, see :func:`decontaminate`)."""
        m = self.match(text)
        if m is not None:
            return "ngram", m[0], m[1], 1.0, m[2]
        if self.similarity is not None:
            b = self.similarity.best(text)
            if b is not None and b[1] >= self.similarity.threshold:
                bench, pid = self.similarity.keys[b[0]]
                return "similarity", bench, pid, b[1], 0
        if self.embedding is not None and self.similarity is not None:
            e = self.embedding
            i, cos = e.nearest(text, vec)
            if cos >= e.threshold and self.similarity.score_against(text, e.keys[i]) >= e.sim_floor:
                bench, pid = e.keys[i]
                return "embedding", bench, pid, cos, 0
        return None


def build_index(items: Iterable[tuple[str, str, str]], n: int = DEFAULT_NGRAM, *, similarity: bool = True,
                threshold: float = DEFAULT_THRESHOLD, strict: bool = True, embed_model: str | None = None,
                embed_threshold: float = EMBED_THRESHOLD) -> Index:
    """``items``: (benchmark, problem id, problem text). ``similarity=False``: the exact stage only;
    ``strict=False`` (with it): the old exact rule, for comparison in benchmarks/decontam_quality.py.
    ``embed_model`` (a directory or a package bundling one): add the embedding stage (needs similarity)."""
    items = list(items)
    idx = Index(n=n, strict=strict)
    df4: Counter = Counter()
    for bench, pid, text in items:
        idx.add(bench, pid, text)
        toks = exact_tokens(text)
        df4.update(set(ngrams(toks, BOILER_N)) if len(toks) >= BOILER_N else ())
    idx.boiler = {g for g, c in df4.items() if c >= BOILERPLATE_MIN_DOCS}
    if similarity:
        idx.similarity = Similarity(items, threshold=threshold)
        if embed_model:
            idx.embedding = Embedding(items, embed_model, threshold=embed_threshold)
    return idx


def benchmark_items(data_dir: str | None = None, benchmarks: Iterable[str] = DEFAULT_BENCHMARKS) -> list[tuple[str, str, str]]:
    """(benchmark, id, text) for every problem of the evaluation sets (local dir or hub).

    GPQA text is the question plus its choices; it stays in memory.
    """
    from reasonflux.benchmarks import load_problems

    return [(name, p.id, p.problem) for name in benchmarks for p in load_problems(name, data_dir)]


def decontaminate(rows: list[dict], index: Index, text_key: str = "problem") -> tuple[list[dict], list[Match]]:
    """Split ``rows`` into clean rows and matches (contaminated rows, with what they matched);
    ``Match.row`` is the index into ``rows`` and ``Match.row_data`` the row itself."""
    clean, matches = [], []
    texts = [str(row.get(text_key, "")) for row in rows]
    vecs: Any = [None] * len(rows)
    for i, row in enumerate(rows):
        if index.embedding is not None and i % EMBED_CHUNK == 0:  # rows are encoded in batches, not cached
            vecs = index.embedding.encoder.encode([embed_text(t) for t in texts[i : i + EMBED_CHUNK]])
        m = index.find(texts[i], vecs[i % EMBED_CHUNK] if index.embedding is not None else None)
        if m is None:
            clean.append(row)
        else:
            stage, bench, pid, score, shared = m
            matches.append(Match(i, bench, pid, shared_ngrams=shared, score=score, stage=stage, row_data=row))
    return clean, matches
