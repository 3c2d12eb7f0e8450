"""report.html plots: count axes carry distinct integer ticks (never 0, 0, 1, 2, 2) that reach the
tallest bar; the summary table carries errors and partial problem counts."""

from __future__ import annotations

import re

from reasonflux.evals import html


def yticks(svg: str) -> list[str]:
    return re.findall(r'<text x="\d+" y="[0-9.]+" text-anchor="end" font-size="10">([^<]*)</text>', svg)


def test_histogram_y_ticks_are_distinct_integers():
    for tallest in (1, 2, 3, 4, 5, 7, 9, 13, 64, 150, 999):
        samples = [{"completion_tokens": 10, "correct": True}] * tallest + [{"completion_tokens": 300, "correct": False}]
        ticks = yticks(html.length_histogram("t", samples))
        values = [int(t) for t in ticks]  # integers only
        assert values == sorted(set(values)) and values[0] == 0 and values[-1] >= tallest, (tallest, ticks)
        assert 2 <= len(values) <= 6
        steps = {b - a for a, b in zip(values, values[1:])}
        assert len(steps) == 1  # evenly spaced


def test_count_step():
    assert [html.count_step(y) for y in (1, 2, 5, 6, 10, 11, 26, 100, 101, 999)] == [1, 1, 1, 2, 2, 5, 10, 20, 50, 200]


def test_summary_rows_show_errors_and_partial_counts():
    from reasonflux.evals.report import compact_rows, partial_note, summary_rows

    bm = {"problems": 3, "n": 1, "benchmark_problems": 500, "partial": True, "complete": False, "errors": 2,
          "missing_samples": 1, "avg@n": {"value": 0.5, "stderr": 0.1, "ci95": [0.2, 0.8]}}
    m = {"benchmarks": {"math500": bm}}
    row = summary_rows(m)[0]
    assert row[0] == "MATH500 (incomplete)" and row[1] == "3 of 500" and row[10] == "2 (+1 missing)"
    assert compact_rows(m)[0][1] == "3 of 500"
    assert partial_note(m).startswith("Partial run: MATH500 3 of 500 problems (2 samples failed, 1 samples missing)")
    full = {"benchmarks": {"math500": {**bm, "problems": 500, "partial": False, "complete": True, "errors": 0, "missing_samples": 0}}}
    assert summary_rows(full)[0][:2] == ["MATH500", "500"] and partial_note(full) is None


def test_compare_skips_problems_with_failed_requests():
    from types import SimpleNamespace

    from reasonflux.evals.report import compare_runs

    def run(samples):
        probs = [{"benchmark": "math500", "id": "p1", "answer": "1"}, {"benchmark": "math500", "id": "p2", "answer": "2"}]
        return SimpleNamespace(config={"n": 1}, problems=probs, samples=samples)

    def s(pid, correct, finish="stop"):
        return {"benchmark": "math500", "problem_id": pid, "sample_index": 0, "correct": correct, "extracted": None,
                "finish_reason": finish}

    a = run([s("p1", True), s("p2", True)])
    b = run([s("p1", False, "error"), s("p2", False)])  # p1 failed in b: no verdict, not "b is worse"
    assert [d["problem_id"] for d in compare_runs(a, b)] == ["p2"]
