"""Template retrieval latency on a synthetic 1,000-template library (goal: p50 < 2 ms per query).

Builds a seeded synthetic library (14 domains x sections, ~150 words per template, math-flavoured
vocabulary with LaTeX), then measures: index build, index load from the disk cache, and per-query
latency of ``Retriever.search(query, k=5)`` for flat and hierarchical BM25 over competition-length
queries (40-120 words). Prints a table and writes benchmarks/results/retrieval_speed.json.

    .venv/bin/python benchmarks/retrieval_speed.py [--templates 1000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from reasonflux.templates.library import DOMAINS, Library, Template
from reasonflux.templates.retrieve import Retriever, load_index

RESULTS = Path(__file__).parent / "results" / "retrieval_speed.json"
SEED = 1234
K = 5
WARMUP_QUERIES = 50
BASE_WORDS = """integer prime divisor remainder modulo congruence digit sum product sequence series term ratio
polynomial root coefficient degree factor triangle circle radius chord tangent angle area perimeter
probability expected value random coin dice permutation combination subset arrangement inequality
minimum maximum positive real function equation system matrix vector complex modulus argument
sine cosine tangent identity parity invariant coloring graph vertex edge path cycle tree recursion
recurrence generating telescoping bound estimate symmetric substitution induction contradiction
lattice point grid counting bijection pigeonhole extremal floor ceiling logarithm exponent power""".split()
LATEX = [r"\frac{a}{b}", r"x^2", r"\binom{n}{k}", r"\equiv 1 \pmod{7}", r"\sqrt{2}", r"\sum_{k=1}^{n}", r"\angle ABC"]


def pseudo_words(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghiklmnoprstuvy"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def synthetic_library(n: int, rng: random.Random) -> Library:
    vocab = BASE_WORDS + pseudo_words(rng, 3000)
    templates = []
    for i in range(n):
        domain = DOMAINS[i % len(DOMAINS)]
        section = f"section {i % 9}"
        def text(m: int) -> str:
            return " ".join(rng.choice(vocab) if rng.random() > 0.1 else rng.choice(LATEX) for _ in range(m))
        templates.append(Template.from_dict({
            "id": f"syn.t{i:05d}", "name": text(4), "domain": domain, "section": section,
            "tags": sorted({rng.choice(vocab) for _ in range(4)}), "description": text(30), "applicability": text(20),
            "steps": [text(12) for _ in range(5)], "example": {"problem": text(35), "solution": text(20), "answer": "1"},
            "source": "synthetic"}))
    return Library(templates)


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--templates", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    rng = random.Random(SEED)
    lib = synthetic_library(args.templates, rng)
    vocab = BASE_WORDS + pseudo_words(random.Random(SEED), 3000)
    queries = [" ".join(rng.choice(vocab) if rng.random() > 0.15 else rng.choice(LATEX) for _ in range(rng.randint(40, 120)))
               for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        idx = load_index(lib, cache)
        build_s = time.perf_counter() - t0
        assert idx.built
        t0 = time.perf_counter()
        cached = load_index(lib, cache)
        load_s = time.perf_counter() - t0
        assert not cached.built
        rows = {}
        for mode in ("flat", "hierarchical"):
            r = Retriever(lib, cached, mode)
            for q in queries[:WARMUP_QUERIES]:
                r.search(q, K)
            lat = []
            for q in queries:
                t = time.perf_counter()
                r.search(q, K)
                lat.append((time.perf_counter() - t) * 1000)
            rows[mode] = {"p50_ms": round(percentile(lat, 50), 4), "p99_ms": round(percentile(lat, 99), 4),
                          "mean_ms": round(statistics.fmean(lat), 4), "queries": len(lat)}
    result = {"templates": args.templates, "k": K, "index_build_s": round(build_s, 4), "index_load_s": round(load_s, 4),
              "modes": rows, "goal_p50_ms": 2.0, "python": platform.python_version(), "machine": platform.machine(),
              "processor": platform.processor() or platform.machine()}
    print(f"synthetic library: {args.templates} templates; index build {build_s * 1000:.0f} ms, load from cache {load_s * 1000:.1f} ms")
    print(f"{'mode':<14}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'queries':>9}")
    for mode, r in rows.items():
        print(f"{mode:<14}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{r['mean_ms']:>10.3f}{r['queries']:>9}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
