"""Metrics against hand-computed values; pass@k against brute-force enumeration of subsets."""

from __future__ import annotations

import itertools
import math

import pytest

from reasonflux.evals import metrics as M


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    flags = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(flags[i] for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_equals_subset_enumeration():
    for n in range(1, 11):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert M.pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_k_hand_values_and_errors():
    assert M.pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert M.pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert M.pass_at_k(64, 0, 64) == 0.0 and M.pass_at_k(64, 1, 64) == 1.0
    assert M.pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the fraction correct
    with pytest.raises(ValueError):
        M.pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        M.pass_at_k(4, 1, 5)
    assert M.powers_of_two(64) == [1, 2, 4, 8, 16, 32, 64] and M.powers_of_two(6) == [1, 2, 4]


def test_stderr_bootstrap_percentiles():
    assert M.stderr([0.5, 1.0]) == pytest.approx(math.sqrt(0.125) / math.sqrt(2))  # sd 0.3536 / sqrt 2 = 0.25
    assert M.stderr([0.5, 1.0]) == pytest.approx(0.25)
    assert M.stderr([1.0]) == 0.0
    assert M.bootstrap_ci([0.7] * 30) == (pytest.approx(0.7), pytest.approx(0.7))
    xs = [1.0] * 23 + [0.0] * 7
    lo, hi = M.bootstrap_ci(xs)
    assert (lo, hi) == M.bootstrap_ci(xs)  # seeded: the same every time
    assert lo < 23 / 30 < hi and 0.55 < lo and hi < 0.95
    se = M.stderr(xs)  # the normal-approximation interval is close for 30 problems
    assert lo == pytest.approx(23 / 30 - 1.96 * se, abs=0.04) and hi == pytest.approx(23 / 30 + 1.96 * se, abs=0.04)
    assert M.percentile(list(range(1, 11)), 90) == pytest.approx(9.1)  # numpy's linear rule
    assert M.percentile([3, 1, 2], 50) == 2
    assert M.tokens_summary([10, 20, 30, 40]) == {"mean": 25.0, "median": 25.0, "p90": pytest.approx(37.0)}


def equiv_half(a: str, b: str) -> bool:
    """A stand-in equivalence for pure vote tests: 1/2 and 0.5 are the same answer."""
    norm = {"1/2": "0.5", "\\frac12": "0.5"}
    return norm.get(a, a) == norm.get(b, b)


def test_vote_clusters_and_majority():
    answers = ["1/2", "3", "0.5", None, "\\frac12", "3"]
    cl = M.vote_clusters(answers, equiv_half)
    assert cl == [0, 1, 0, None, 0, 1]
    correct = [True, False, True, False, True, False]
    assert M.majority_score(cl, correct, range(6)) == 1.0  # three votes for 1/2 against two for 3
    # a tie scores the share of correct answers among the tied ones (expected random tie-break)
    assert M.majority_score([0, 1], [False, True], [0, 1]) == 0.5
    assert M.majority_score([0, 1, 2], [False, True, False], [0, 1, 2]) == pytest.approx(1 / 3)
    # no answers at all: wrong
    assert M.majority_score([None, None], [False, False], [0, 1]) == 0.0
    # samples without an answer do not vote: the lone answer wins
    assert M.majority_score([None, None, 2], [False, False, True], [0, 1, 2]) == 1.0


def brute_maj_at_k(cl: list, ok: list, k: int) -> float:
    subsets = list(itertools.combinations(range(len(cl)), k))
    return sum(M.majority_score(cl, ok, s) for s in subsets) / len(subsets)


def test_maj_at_k_hand_values():
    # answers a a b b, a is right. 2-subsets: {0,1} a, {2,3} b, four ties a/b scoring 1/2 each
    cl, ok = [0, 0, 1, 1], [True, True, False, False]
    assert M.maj_at_k(cl, ok, 2) == pytest.approx((1 + 4 * 0.5) / 6)
    assert M.maj_at_k(cl, ok, 4) == 0.5  # a 2-2 tie at n
    assert M.maj_at_k(cl, ok, 1) == 0.5  # one vote = that sample's verdict
    assert M.maj_at_k(cl, ok, 3) == pytest.approx(0.5)  # symmetric
    assert M.maj_at_k([0] * 20, [True] * 20, 10) == 1.0
    assert M.maj_at_k([None] * 5, [False] * 5, 3) == 0.0
    with pytest.raises(ValueError, match="1 <= k <= n"):
        M.maj_at_k([0, 1], [True, False], 3)


def test_maj_at_k_closed_form_equals_full_enumeration():
    """Every k for random vote patterns (several answers, no-answers, one or two correct clusters)."""
    import random

    rng = random.Random(7)
    for _ in range(150):
        n = rng.randint(1, 10)
        cl = [rng.choice([None, 0, 1, 2, 3]) for _ in range(n)]
        right = {rng.choice([0, 1, 2])} | ({3} if rng.random() < 0.2 else set())
        ok = [c in right for c in cl]
        for k in range(1, n + 1):
            assert M.maj_at_k(cl, ok, k) == pytest.approx(brute_maj_at_k(cl, ok, k), abs=1e-12), (cl, ok, k)


def test_maj_at_k_is_exact_beyond_enumeration():
    """C(64, 32) ~ 1.8e18 subsets: no sampling; a hand-checkable case (two answers, 40 right of 64)
    equals the hypergeometric tail P(X > 16) + P(X = 16) / 2 for X ~ Hypergeom(64, 40, 32)."""
    cl = [0] * 40 + [1] * 24
    ok = [True] * 40 + [False] * 24
    total = math.comb(64, 32)
    expect = sum(math.comb(40, x) * math.comb(24, 32 - x) for x in range(17, 33)) / total
    expect += 0.5 * math.comb(40, 16) * math.comb(24, 16) / total
    assert M.maj_at_k(cl, ok, 32) == pytest.approx(expect, abs=1e-15)
    assert M.maj_at_k(cl, ok, 32) == M.maj_at_k(list(reversed(cl)), list(reversed(ok)), 32)  # order-free


def sample(correct: bool, extracted: str | None, tokens: int = 10, finish: str = "stop") -> dict:
    return {"correct": correct, "extracted": extracted, "completion_tokens": tokens, "finish_reason": finish}


def test_benchmark_metrics_hand_computed():
    pool = {
        "p1": [sample(True, "5", 10), sample(False, "4", 20), sample(False, None, 40, "length"), sample(True, "5", 30)],
        "p2": [sample(True, "7", 10), sample(True, "7", 10), sample(True, "7", 10), sample(True, "7", 10)],
    }
    m = M.benchmark_metrics(pool, equiv=lambda a, b: a == b, groups={"level": {"p1": "1", "p2": "2"}})
    assert (m["problems"], m["n"], m["samples"], m["correct"]) == (2, 4, 8, 6)
    assert m["avg@n"]["value"] == pytest.approx(0.75)  # (2/4 + 4/4) / 2
    assert m["avg@n"]["stderr"] == pytest.approx(0.25)
    assert m["pass@k"]["1"]["value"] == pytest.approx(0.75)
    assert m["pass@k"]["2"]["value"] == pytest.approx((1 - 1 / 6 + 1) / 2)  # p1: 1 - C(2,2)/C(4,2)
    assert m["pass@k"]["4"]["value"] == 1.0
    assert m["maj@k"]["4"]["value"] == 1.0  # p1: "5" twice beats "4" once
    assert m["no_answer_rate"] == pytest.approx(1 / 8) and m["cap_hit_rate"] == pytest.approx(1 / 8)
    assert m["completion_tokens"]["mean"] == pytest.approx(17.5) and m["completion_tokens"]["median"] == 10.0
    assert m["by_level"] == {"1": {"problems": 1, "avg@n": 0.5}, "2": {"problems": 1, "avg@n": 1.0}}
    assert "3" not in m["pass@k"]
    m3 = M.benchmark_metrics({"p": [sample(True, "1")] * 3}, equiv=lambda a, b: a == b)
    assert sorted(m3["pass@k"], key=int) == ["1", "2", "3"]  # powers of two plus n itself
    with pytest.raises(ValueError, match="different sample counts"):
        M.benchmark_metrics({"a": [sample(True, "1")], "b": [sample(True, "1")] * 2}, equiv=lambda a, b: a == b)


def test_run_metrics_leaves_out_incomplete_problems():
    problems = [{"benchmark": "math500", "id": f"p{i}", "answer": "1", "kind": "math", "meta": {"level": i}} for i in range(3)]
    samples = [{"benchmark": "math500", "problem_id": f"p{i}", "sample_index": j, **sample(i == 0, "1")}
               for i in range(3) for j in range(2) if not (i == 2 and j == 1)]
    samples.append({"benchmark": "math500", "problem_id": "p1", "sample_index": 5, **sample(True, "1")})  # beyond n: ignored
    out = M.run_metrics(problems, samples, {"math500": 2}, equiv=lambda kind: (lambda a, b: a == b),
                        groups_by_benchmark={"math500": ("level",)})
    m = out["math500"]
    assert (m["problems"], m["missing_samples"], m["complete"], m["selected_problems"]) == (2, 1, False, 3)
    assert m["avg@n"]["value"] == pytest.approx(0.5)
    assert set(m["by_level"]) == {"0", "1"}


def test_voting_uses_the_graders_equivalence():
    from reasonflux.evals.runner import equivalence

    eq = equivalence("math")
    assert M.vote_clusters(["\\frac12", "0.5", "1/3", "\\frac{1}{2}"], eq) == [0, 0, 1, 0]
    assert M.vote_clusters(["5", "500"], eq) == [0, 1]  # a grader trap: not the same answer
    assert M.vote_clusters(["B", "\\text{(B)}", "C"], equivalence("choice")) == [0, 0, 1]


def test_failed_samples_are_not_answers():
    """A failed request is left out of every figure with its problem, counted in errors, and keeps
    the benchmark incomplete; a retry's success (read_samples: success beats failure) restores it."""
    problems = [{"benchmark": "math500", "id": f"p{i}", "answer": "1", "kind": "math", "meta": {}} for i in range(3)]
    ok = [{"benchmark": "math500", "problem_id": f"p{i}", "sample_index": 0, **sample(True, "1")} for i in range(3)]
    failed = {"benchmark": "math500", "problem_id": "p2", "sample_index": 0, "correct": False, "extracted": None,
              "completion_tokens": 0, "finish_reason": "error", "error": "ConnectError after 7 tries"}
    eq = lambda kind: (lambda a, b: a == b)  # noqa: E731
    m = M.run_metrics(problems, ok[:2] + [failed], {"math500": 1}, equiv=eq)["math500"]
    assert (m["problems"], m["errors"], m["missing_samples"], m["complete"]) == (2, 1, 0, False)
    assert m["avg@n"]["value"] == 1.0  # the failure is not a wrong answer
    assert m["error_rate"] == pytest.approx(1 / 3)
    full = M.run_metrics(problems, ok, {"math500": 1}, equiv=eq)["math500"]
    assert (full["problems"], full["errors"], full["complete"]) == (3, 0, True)
