"""Decontamination: drop training problems that share a word n-gram (13 by default, on normalised
text) with AIME 2024, AIME 2025, MATH500 or GPQA-Diamond (GPQA read in memory from its zip).

A benchmark problem shorter than ``n`` tokens counts as one gram: a training problem that contains
it whole is contaminated. The report names the benchmark problem each dropped row matched (by id,
never by GPQA text).

    reasonflux data clean problems.jsonl --out clean.jsonl --data-dir ../shared/benchdata
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from reasonflux.synth.text import ngrams, tokens

DEFAULT_NGRAM = 13
DEFAULT_BENCHMARKS = ("aime24", "aime25", "math500", "gpqa_diamond")


@dataclass
class Match:
    row: int
    benchmark: str
    problem_id: str
    shared_ngrams: int


@dataclass
class Index:
    n: int = DEFAULT_NGRAM
    grams: dict[tuple[str, ...], list[tuple[str, str]]] = field(default_factory=dict)
    short: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)

    def add(self, benchmark: str, problem_id: str, text: str) -> None:
        toks = tokens(text)
        if not toks:
            return
        if len(toks) < self.n:
            self.short.append((tuple(toks), benchmark, problem_id))
            return
        for g in ngrams(toks, self.n):
            self.grams.setdefault(g, []).append((benchmark, problem_id))

    def match(self, text: str) -> tuple[str, str, int] | None:
        """(benchmark, problem id, shared n-grams) of the best match, or None."""
        toks = tokens(text)
        hits: dict[tuple[str, str], int] = {}
        for g in ngrams(toks, self.n):
            for key in self.grams.get(g, ()):
                hits[key] = hits.get(key, 0) + 1
        if hits:
            (bench, pid), count = max(hits.items(), key=lambda kv: kv[1])
            return bench, pid, count
        if self.short:
            joined = " " + " ".join(toks) + " "
            for stoks, bench, pid in self.short:
                if " " + " ".join(stoks) + " " in joined:
                    return bench, pid, 1
        return None


def build_index(items: Iterable[tuple[str, str, str]], n: int = DEFAULT_NGRAM) -> Index:
    """``items``: (benchmark, problem id, problem text)."""
    idx = Index(n=n)
    for bench, pid, text in items:
        idx.add(bench, pid, text)
    return idx


def benchmark_items(data_dir: str | None = None, benchmarks: Iterable[str] = DEFAULT_BENCHMARKS) -> list[tuple[str, str, str]]:
    """(benchmark, id, text) for every problem of the evaluation sets (local dir or hub).

    GPQA text is the question plus its choices; it stays in memory.
    """
    from reasonflux.benchmarks import load_problems

    return [(name, p.id, p.problem) for name in benchmarks for p in load_problems(name, data_dir)]


def decontaminate(rows: list[dict], index: Index, text_key: str = "problem") -> tuple[list[dict], list[Match]]:
    """Split ``rows`` into clean rows and matches (contaminated rows, with what they matched)."""
    clean, matches = [], []
    for i, row in enumerate(rows):
        m = index.match(str(row.get(text_key, "")))
        if m is None:
            clean.append(row)
        else:
            matches.append(Match(i, m[0], m[1], m[2]))
    return clean, matches
