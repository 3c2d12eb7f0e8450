"""The grader on our own labeled corpus (tests/grading_cases.py), its API contracts, the verdict
cache and the ``reasonflux grade`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grading_cases import CASES, Case
from reasonflux.grading import Verdict, extract_answer, extract_choice, grade, grade_many, is_equivalent
from reasonflux.grading.api import CACHE

IN_PROCESS = [c for c in CASES if not c.id.startswith("patho-huge")]  # those need the pool's timeout


def _item(c: Case) -> dict:
    return {"gold": c.gold, "kind": c.kind, **({"answer": c.given} if c.mode == "answer" else {"response": c.given})}


def _check(c: Case, v: Verdict) -> None:
    assert v.correct == c.correct, f"{c.id}: {c.note} -> {v}"
    if c.reason is not None:
        assert v.reason == c.reason, f"{c.id}: {c.note} -> {v}"
    elif c.correct:
        assert v.reason == "equal"
    else:
        assert v.reason in ("not_equal", "timeout"), f"{c.id}: {v}"


def test_corpus_size_and_coverage():
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)
    traps = {c.id for c in CASES if c.id.startswith("trap-")}
    assert len(traps) >= 20  # every DESIGN.md trap, both ways where it matters
    assert {c.kind for c in CASES} == {"math", "choice"}
    assert sum(c.correct for c in CASES) > 60 and sum(not c.correct for c in CASES) > 60


@pytest.mark.parametrize("case", IN_PROCESS, ids=[c.id for c in IN_PROCESS])
def test_case(case: Case):
    _check(case, grade(**_item(case), timeout=None))


def test_cases_through_the_pool_agree():
    """The same corpus through grade_many's worker processes (hard timeouts, cache) gives the same verdicts."""
    CACHE.clear()
    verdicts = grade_many([_item(c) for c in CASES], workers=2, timeout=2.0)
    for c, v in zip(CASES, verdicts):
        _check(c, v)


def test_extract_answer_contract():
    assert extract_answer("<think>\\boxed{1}</think>So \\boxed{2}.") == "2"
    assert extract_answer("\\boxed{1}\n</think>\n\\boxed{2}", prefilled=True) == "2"
    assert extract_answer("still thinking \\boxed{3}", prefilled=True) is None  # prefilled <think> never closed
    assert extract_answer("So 3 + 4 = 7.") is None
    assert extract_answer("") is None
    assert extract_answer("\\boxed{\\frac{1}{\\sqrt{2}}}") == "\\frac{1}{\\sqrt{2}}"


def test_extract_choice_contract():
    assert extract_choice("<think>Answer: A</think>\nAnswer: (B)") == "B"
    assert extract_choice("Answer: (B)", prefilled=True) is None  # reasoning never closed
    assert extract_choice("A mix of both effects explains it.") is None
    assert extract_choice("") is None


def test_prefilled_and_finish_reason():
    assert grade(response="x = 5, so \\boxed{5}\n</think>\n\\boxed{5}", gold="5", prefilled=True).reason == "equal"
    assert grade(response="\\boxed{5} and more", gold="5", prefilled=True).reason == "truncated"
    # Cut off by the length limit: a finished box still counts; a phrase does not (it may be cut mid-number).
    assert grade(response="</think> So \\boxed{125}", gold="125", prefilled=True, finish_reason="length").correct
    v = grade(response="</think> The answer is 12", gold="12", prefilled=True, finish_reason="length")
    assert (v.correct, v.reason) == (False, "truncated")


def test_bad_items_get_error_verdicts():
    vs = grade_many([{"response": "\\boxed{1}"}, {"gold": "1"}, "not a dict", {"gold": "5", "answer": "5", "kind": "essay"},
                     {"gold": "maybe", "response": "Answer: B", "kind": "choice"}, {"gold": "1", "answer": "1"}], timeout=None)
    assert [v.reason for v in vs] == ["error"] * 5 + ["equal"]
    assert all(v.detail for v in vs[:5])


def test_is_equivalent_is_symmetric():
    pairs = [("\\frac12", "0.5"), ("5", "500"), ("-2, 1", "1, -2"), ("(1,2)", "(2,1)"), ("x=3", "3"), ("\\sqrt{20}", "2\\sqrt5"),
             ("\\text{(C)}", "C"), ("[2,5)", "(2,5]"), ("10\\%", "10"), ("\\pi", "3.14159")]
    for a, b in pairs:
        assert is_equivalent(a, b, timeout=None) == is_equivalent(b, a, timeout=None), (a, b)
    assert is_equivalent("b", "(B)", kind="choice") and not is_equivalent("B", "C", kind="choice")
    assert not is_equivalent(None, "1")


def test_verdict_cache_makes_repeats_free():
    from reasonflux.grading.pool import shared_pool

    CACHE.clear()
    pool = shared_pool(2)
    items = [{"gold": "\\frac{\\sqrt{3}}{3}", "response": f"Sample {i}: \\boxed{{\\frac{{1}}{{\\sqrt{{3}}}}}}"} for i in range(64)]
    before = pool.tasks_total
    assert all(v.correct for v in grade_many(items, workers=2, timeout=5.0))
    assert pool.tasks_total - before == 1  # 64 samples, one comparison
    assert all(v.correct for v in grade_many(items, workers=2, timeout=5.0))
    assert pool.tasks_total - before == 1  # the second batch is served from the cache


def _rows(tmp_path):
    lines = [
        json.dumps({"gold": "\\frac12", "response": "<think>hmm \\boxed{3}</think> So \\boxed{0.5}.", "id": 1}),
        json.dumps({"gold": "23", "answer": "023"}),
        "{not json",
        json.dumps({"response": "no gold here"}),
        json.dumps({"gold": "B", "response": "Answer: (B)", "kind": "choice"}),
        "",
        json.dumps({"gold": "7", "response": "<think>long thinking about 7"}),
        json.dumps(["a", "list"]),
    ]
    p = tmp_path / "in.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_grade_command_main(tmp_path, capsys):
    from reasonflux.commands.grade import GradeConfig, main

    out = tmp_path / "out" / "graded.jsonl"
    summary = main(GradeConfig(input=str(_rows(tmp_path)), out=str(out), workers=0))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7  # one output row per non-empty input line, in order
    assert [r["reason"] for r in rows] == ["equal", "equal", "error", "error", "equal", "truncated", "error"]
    assert rows[0]["id"] == 1 and rows[0]["extracted"] == "0.5" and rows[0]["correct"] is True
    assert rows[2]["line"] == 3 and "not valid JSON" in rows[2]["error"]
    assert rows[3]["line"] == 4 and "gold" in rows[3]["error"] and rows[3]["response"] == "no gold here"
    assert summary["bad_rows"] == 3 and summary["correct"] == 3 and summary["rows"] == 7
    assert (tmp_path / "out" / "graded.config.yaml").exists()
    captured = capsys.readouterr()
    assert "in.jsonl:3: not valid JSON" in captured.err and "graded 7 rows: 3 correct" in captured.out


def test_grade_command_cli(tmp_path):
    src = _rows(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "reasonflux.cli", "grade", str(src), "--workers", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 1  # bad rows: the file is graded, the exit status says so
    assert len(proc.stdout.splitlines()) == 7
    assert "in.jsonl:4: no 'gold' field" in proc.stderr and "graded 7 rows" in proc.stderr
    missing = subprocess.run([sys.executable, "-m", "reasonflux.cli", "grade", str(tmp_path / "nope.jsonl")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "input file not found" in missing.stderr and "Traceback" not in missing.stderr
