"""Metrics from one pool of graded samples: pure functions, no I/O.

Per benchmark (``benchmark_metrics``): avg@n (pass@1 as the mean over samples), the unbiased
pass@k estimator (Chen et al., 2021) for k in powers of two up to n, maj@k (cons@k) with
equivalence-aware voting (exact: a closed form over vote counts, ties split evenly), standard error and a seeded bootstrap 95% interval over problems,
no-answer, cap-hit (truncation) and error rates, completion-token mean/median/p90, and for
MATH500 the same accuracy by subject and level.

A sample here is a dict with at least ``correct`` (bool), ``extracted`` (str or None),
``finish_reason`` and ``completion_tokens`` — one line of ``samples.jsonl``.

    python -c "from reasonflux.evals.metrics import pass_at_k; print(pass_at_k(4, 1, 2))"
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Callable, Sequence

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95

Equiv = Callable[[str, str], bool]


def powers_of_two(n: int) -> list[int]:
    """1, 2, 4, … up to ``n`` (``n`` itself is not added unless it is a power of two)."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of P(at least one of k samples is correct) from n samples with c correct:
    ``1 - C(n-c, k) / C(n, k)``, computed as a stable product."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def stderr(xs: Sequence[float]) -> float:
    """Standard error of the mean of ``xs`` (sample standard deviation / sqrt(len))."""
    if len(xs) < 2:
        return 0.0 if xs else float("nan")
    return statistics.stdev(xs) / math.sqrt(len(xs))


def bootstrap_ci(xs: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``xs`` (resampling problems with replacement)."""
    if not xs:
        return (float("nan"), float("nan"))
    import numpy as np

    arr = np.asarray(xs, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(arr), size=(resamples, len(arr)))
    means = np.sort(arr[idx].mean(axis=1))
    lo = float(means[int(math.floor((1 - level) / 2 * (resamples - 1)))])
    hi = float(means[int(math.ceil((1 + level) / 2 * (resamples - 1)))])
    return (lo, hi)


def percentile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), ``q`` in [0, 100]."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def vote_clusters(answers: Sequence[str | None], equiv: Equiv) -> list[int | None]:
    """Cluster id per answer: identical strings share one; otherwise an answer joins the first
    cluster whose representative it is equivalent to. ``None`` (no answer) gets no cluster."""
    reps: list[str] = []
    by_text: dict[str, int] = {}
    out: list[int | None] = []
    for a in answers:
        if a is None:
            out.append(None)
            continue
        key = a.strip()
        if key not in by_text:
            cid = next((i for i, r in enumerate(reps) if equiv(key, r)), None)
            if cid is None:
                cid = len(reps)
                reps.append(key)
            by_text[key] = cid
        out.append(by_text[key])
    return out


def cluster_verdicts(clusters: Sequence[int | None], correct: Sequence[bool]) -> dict[int, bool]:
    """Whether each answer cluster is correct: the verdict of its first sample (the grader's
    equivalence, which formed the clusters, makes the members agree)."""
    out: dict[int, bool] = {}
    for c, ok in zip(clusters, correct):
        if c is not None and c not in out:
            out[c] = bool(ok)
    return out


def majority_score(clusters: Sequence[int | None], correct: Sequence[bool], idx: Sequence[int]) -> float:
    """Majority vote over samples ``idx``: 1 if the most-voted answer is correct, 0 if not; a tie
    between the top answers scores the share of correct ones among them (the expected verdict of a
    uniformly random tie-break). Samples without an answer do not vote; no votes = 0."""
    verdict = cluster_verdicts(clusters, correct)
    counts: dict[int, int] = {}
    for i in idx:
        c = clusters[i]
        if c is not None:
            counts[c] = counts.get(c, 0) + 1
    if not counts:
        return 0.0
    top = max(counts.values())
    best = [c for c, v in counts.items() if v == top]
    return sum(verdict[c] for c in best) / len(best)


def maj_at_k(clusters: Sequence[int | None], correct: Sequence[bool], k: int) -> float:
    """maj@k for one problem, exactly: the mean of :func:`majority_score` over all C(n, k)
    k-subsets of its n samples, computed in closed form from the vote counts.

    For each correct answer cluster c (m_c votes among n) and each v >= 1 votes it gets in the
    subset, count the subsets where every other cluster gets at most v votes, with t of them tied
    at v, weighted 1/(1+t); a polynomial product over the other clusters counts those subsets
    (samples without an answer and clusters smaller than v enter as one binomial). Integer
    arithmetic throughout, so the result is exact up to the final division.
    """
    from fractions import Fraction

    n = len(clusters)
    if not 1 <= k <= n:
        raise ValueError(f"maj_at_k needs 1 <= k <= n (n={n}, k={k})")
    verdict = cluster_verdicts(clusters, correct)
    size: dict[int, int] = {}
    for c in clusters:
        if c is not None:
            size[c] = size.get(c, 0) + 1
    total = Fraction(0)
    for c, ok in verdict.items():
        if not ok:
            continue
        others = [m for d, m in size.items() if d != c]
        for v in range(1, min(size[c], k) + 1):
            rest = k - v
            free = n - size[c] - sum(m for m in others if m >= v)  # no-answer samples and clusters < v: any count
            # poly[t][s]: ways for the clusters with >= v samples to give s votes in all, t of them exactly v
            big = [m for m in others if m >= v]
            poly = [[0] * (rest + 1) for _ in range(len(big) + 1)]
            poly[0][0] = 1
            for m in big:
                nxt = [[0] * (rest + 1) for _ in range(len(big) + 1)]
                for t, row in enumerate(poly):
                    for s, ways in enumerate(row):
                        if not ways:
                            continue
                        for j in range(0, min(v, rest - s) + 1):
                            if j == v:
                                nxt[t + 1][s + j] += ways * math.comb(m, j)
                            else:
                                nxt[t][s + j] += ways * math.comb(m, j)
                poly = nxt
            for t, row in enumerate(poly):
                ways = sum(row[s] * math.comb(free, rest - s) for s in range(rest + 1))
                if ways:
                    total += Fraction(math.comb(size[c], v) * ways, t + 1)
    return float(total / math.comb(n, k))


def _summary(scores: list[float]) -> dict[str, Any]:
    lo, hi = bootstrap_ci(scores)
    return {"value": mean(scores), "stderr": stderr(scores), "ci95": [lo, hi]}


def tokens_summary(tokens: Sequence[float]) -> dict[str, float]:
    return {"mean": mean(tokens), "median": percentile(tokens, 50), "p90": percentile(tokens, 90)}


def benchmark_metrics(pool: dict[str, list[dict[str, Any]]], *, equiv: Equiv,
                      groups: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """All metrics of one benchmark from ``pool`` = problem id -> its samples (sorted by index).

    Every problem must have the same number of samples n. ``groups`` maps a grouping name (e.g.
    ``subject``) to problem id -> group value; avg@n is reported per group.
    """
    pids = sorted(pool)
    ns = {len(pool[p]) for p in pids}
    if len(ns) > 1:
        raise ValueError(f"problems have different sample counts: {sorted(ns)}")
    n = ns.pop() if ns else 0
    samples = [s for p in pids for s in pool[p]]
    out: dict[str, Any] = {"problems": len(pids), "n": n, "samples": len(samples)}
    if not pids or n == 0:
        return out
    per_problem = {p: mean([float(bool(s["correct"])) for s in pool[p]]) for p in pids}
    scores = [per_problem[p] for p in pids]
    out["avg@n"] = _summary(scores)
    out["correct"] = sum(bool(s["correct"]) for s in samples)
    out["pass@k"] = {}
    out["maj@k"] = {}
    clusters = {p: vote_clusters([s.get("extracted") for s in pool[p]], equiv) for p in pids}
    for k in powers_of_two(n) + ([n] if n & (n - 1) else []):
        c = {p: sum(bool(s["correct"]) for s in pool[p]) for p in pids}
        out["pass@k"][str(k)] = _summary([pass_at_k(n, c[p], k) for p in pids])
        out["maj@k"][str(k)] = _summary([maj_at_k(clusters[p], [bool(s["correct"]) for s in pool[p]], k) for p in pids])
    out["no_answer_rate"] = mean([float(s.get("extracted") is None) for s in samples])
    out["cap_hit_rate"] = mean([float(s.get("finish_reason") == "length") for s in samples])
    out["error_rate"] = mean([float(s.get("finish_reason") == "error") for s in samples])
    out["completion_tokens"] = tokens_summary([float(s.get("completion_tokens", 0)) for s in samples])
    for name, mapping in (groups or {}).items():
        by: dict[str, list[float]] = {}
        for p in pids:
            by.setdefault(str(mapping.get(p, "?")), []).append(per_problem[p])
        out[f"by_{name}"] = {g: {"problems": len(v), "avg@n": mean(v)} for g, v in sorted(by.items())}
    return out


def run_metrics(problems: list[dict[str, Any]], samples: list[dict[str, Any]], n_by_benchmark: dict[str, int], *,
                equiv: Callable[[str], Equiv], groups_by_benchmark: dict[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Metrics of a whole run: for each benchmark in ``problems`` (rows of problems.jsonl), the
    samples with index < its n. A failed sample (``finish_reason == "error"``: the request failed
    after retries) is not an answer: problems with a failed or missing sample are left out of every
    figure; failures are counted in ``errors`` (and ``error_rate`` = errors / selected samples),
    absent samples in ``missing_samples``; ``complete`` only when neither remains. ``equiv(kind)`` gives the answer-equivalence for voting;
    ``groups_by_benchmark`` names the meta keys to break accuracy down by (e.g. subject, level)."""
    order: list[str] = []
    for p in problems:
        if p["benchmark"] not in order:
            order.append(p["benchmark"])
    index = {(s["benchmark"], s["problem_id"], int(s["sample_index"])): s for s in samples}
    out: dict[str, Any] = {}
    for b in order:
        probs = [p for p in problems if p["benchmark"] == b]
        n = int(n_by_benchmark[b])
        pool: dict[str, list[dict[str, Any]]] = {}
        missing = errors = 0
        for p in probs:
            got = [index.get((b, p["id"], i)) for i in range(n)]
            lost = sum(s is None for s in got)
            failed = sum(s is not None and s.get("finish_reason") == "error" for s in got)
            missing += lost
            errors += failed
            if not lost and not failed:
                pool[p["id"]] = got  # type: ignore[assignment]
        kind = probs[0].get("kind", "math")
        groups = {g: {p["id"]: str(p.get("meta", {}).get(g, "?")) for p in probs}
                  for g in (groups_by_benchmark or {}).get(b, ())}
        m = benchmark_metrics(pool, equiv=equiv(kind), groups=groups)
        m.update({"kind": kind, "selected_problems": len(probs), "errors": errors,
                  "error_rate": errors / (len(probs) * n) if probs and n else 0.0,
                  "missing_samples": missing, "complete": missing == 0 and errors == 0})
        out[b] = m
    return out
