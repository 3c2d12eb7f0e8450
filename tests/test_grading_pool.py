"""The grading pool cannot hang: pathological inputs each get a verdict within timeout + 1 s, from
the main thread or any other, and the pool keeps working afterwards."""

from __future__ import annotations

import threading
import time

import pytest

from reasonflux.grading import grade, grade_many
from reasonflux.grading.api import CACHE
from reasonflux.grading.pool import shared_pool

TIMEOUT = 2.0
SLACK = 1.0

PATHOLOGICAL = {
    "nested-braces": "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "nested-boxes": "\\boxed{" * 10_000 + "1" + "}" * 10_000,
    "power-tower": "So the answer is \\boxed{10^{10^{10^{10}}}}.",
    "power-tower-2": "\\boxed{2^{3^{4^{5^{6}}}}}",
    "megabyte": ("word " * 200_000) + "\\boxed{5}",
    "megabyte-braces": "{" * 500_000 + "\\boxed{5}",
    "invalid-latex": "\\boxed{\\frac{1}{\\sqrt{}}^^_{}\\left(\\right]\\begin{pmatrix}}",
    "binary": bytes(range(256)).decode("latin-1") * 4000 + "\\boxed{\x00\xff\ud800}",
    "big-factorial": "\\boxed{100000!}",
    "huge-number": "\\boxed{" + "9" * 5000 + "}",
}


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    shared_pool(2).start(2)
    grade_many([{"gold": "x+1", "answer": "1+x"}], workers=2, timeout=30.0)  # wait until ready
    yield


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_input_returns_in_time(name):
    CACHE.clear()
    t = time.monotonic()
    v = grade_many([{"gold": "5", "response": PATHOLOGICAL[name]}], workers=2, timeout=TIMEOUT)[0]
    elapsed = time.monotonic() - t
    assert elapsed <= TIMEOUT + SLACK, (name, elapsed, v)
    t = time.monotonic()
    as_answer = grade_many([{"gold": "5", "answer": PATHOLOGICAL[name]}], workers=2, timeout=TIMEOUT)[0]
    assert time.monotonic() - t <= TIMEOUT + SLACK, (name, as_answer)
    assert v.reason in ("equal", "not_equal", "timeout", "no_answer", "error"), v
    if name.startswith("megabyte"):
        assert v.correct and v.reason == "equal"  # a huge response is still graded
    else:
        assert not v.correct


def test_pool_survives_and_mixes_timeouts_with_verdicts():
    CACHE.clear()
    items = [{"gold": "7", "response": PATHOLOGICAL["power-tower"]}, {"gold": "\\frac{\\sqrt3}{3}", "answer": "\\frac{1}{\\sqrt3}"},
             {"gold": "7", "response": PATHOLOGICAL["power-tower-2"]}, {"gold": "2", "answer": "\\sqrt{4}"},
             {"gold": "2", "answer": "\\sqrt{5}"}]
    t = time.monotonic()
    vs = grade_many(items, workers=2, timeout=TIMEOUT)
    assert time.monotonic() - t <= 2 * (TIMEOUT + SLACK)
    assert [v.correct for v in vs] == [False, True, False, True, False]
    assert vs[0].reason == "timeout" and "within" in vs[0].detail
    killed = shared_pool().killed_total
    assert killed >= 2
    # Timeouts are not cached: the same item is retried (and times out again), good items are cached.
    assert grade_many(items[1:2], workers=2, timeout=TIMEOUT)[0].correct


def test_timeout_works_from_a_thread():
    CACHE.clear()
    out: list = []

    def work() -> None:
        t = time.monotonic()
        out.append((grade(response=PATHOLOGICAL["power-tower"], gold="7", timeout=TIMEOUT), time.monotonic() - t))
        out.append(grade(response="\\boxed{\\frac{2}{\\sqrt{2}}}", gold="\\sqrt2", timeout=TIMEOUT))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert len(out) == 4
    timed = [o for o in out if isinstance(o, tuple)]
    assert all(v.reason == "timeout" and s <= 2 * (TIMEOUT + SLACK) for v, s in timed)  # the two calls queue on one pool
    assert all(v.correct for v in out if not isinstance(v, tuple))


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_choice_extraction_is_quick(name):
    from reasonflux.grading import extract_choice

    t = time.monotonic()
    v = grade_many([{"gold": "B", "response": PATHOLOGICAL[name], "kind": "choice"},
                    {"gold": "B", "answer": PATHOLOGICAL[name], "kind": "choice"}], workers=2, timeout=TIMEOUT)
    extract_choice(PATHOLOGICAL[name])
    assert time.monotonic() - t <= TIMEOUT + SLACK
    assert not any(x.correct for x in v)
