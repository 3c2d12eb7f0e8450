"""The grader on held-out cases (tests/grading_cases_heldout.py): 0 false positives, at most 1%
false negatives, every class covered in math and choice; through the pool and in-process."""

from __future__ import annotations

from collections import Counter

import pytest

from grading_cases_heldout import HELDOUT, Held
from reasonflux.grading import grade, grade_many
from reasonflux.grading.api import CACHE

FN_BOUND = 0.01
CLASSES = {"exact", "unit", "percent", "hedge", "trunc", "notation", "choice", "extract"}


def item(c: Held) -> dict:
    body = {"answer": c.given} if c.mode == "answer" else {"response": c.given}
    return {"gold": c.gold, "kind": c.kind, "prefilled": c.prefilled, **body}


def test_heldout_size_and_coverage():
    assert len(HELDOUT) >= 150
    assert len({c.id for c in HELDOUT}) == len(HELDOUT)
    per_class = Counter(c.cls for c in HELDOUT)
    assert set(per_class) == CLASSES and min(per_class.values()) >= 8, per_class
    assert {c.kind for c in HELDOUT if c.cls == "hedge"} == {"math", "choice"}
    assert sum(c.id.split("-")[1] == "probe" or "-probe-" in c.id for c in HELDOUT) >= 30  # not designed around
    assert sum(c.correct for c in HELDOUT) > 60 and sum(not c.correct for c in HELDOUT) > 60


@pytest.fixture(scope="module")
def verdicts():
    CACHE.clear()
    return grade_many([item(c) for c in HELDOUT], workers=2, timeout=10.0)


def test_heldout_zero_false_positives(verdicts):
    fps = [(c.id, c.gold, v.extracted) for c, v in zip(HELDOUT, verdicts) if v.correct and not c.correct]
    assert fps == []


def test_heldout_false_negatives(verdicts):
    positives = [(c, v) for c, v in zip(HELDOUT, verdicts) if c.correct]
    fns = [(c.id, c.gold, v.extracted, v.reason) for c, v in positives if not v.correct]
    assert len(fns) <= FN_BOUND * len(positives), fns


def test_heldout_no_timeouts_or_errors(verdicts):
    assert [(c.id, v.reason) for c, v in zip(HELDOUT, verdicts) if v.reason in ("timeout", "error")] == []


def test_heldout_truncated_reason(verdicts):
    for c, v in zip(HELDOUT, verdicts):
        if c.cls == "trunc" and not c.correct:
            assert v.reason == "truncated", (c.id, v)


def test_heldout_in_process_agrees(verdicts):
    """The same verdicts without the pool (timeout=None compares in the calling process)."""
    CACHE.clear()
    for c, v in zip(HELDOUT, verdicts):
        w = grade(**item(c), timeout=None)
        assert (w.correct, w.reason) == (v.correct, v.reason), c.id
