"""``reasonflux grade`` and the grader on hostile input: every row is accounted for, in bounded time,
and nothing in the input can crash the reader or the writer. Also: where the run opened <think>."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reasonflux.commands.grade import GradeConfig, dump_line, main
from reasonflux.grading import grade, grade_many
from reasonflux.grading.api import _prepare, _quick

REPO = Path(__file__).resolve().parents[1]
BOUND_S = 2.0  # per hostile row, extraction and the cheap layers together (measured: < 0.1 s)

BOMBS = {
    "answer+50k newlines": "The answer" + "\n" * 50_000,
    "answer+50k spaces": "Answer" + " " * 50_000 + "x",
    "answer is+tabs": "the answer is" + "\t" * 50_000,
    "final answer header+newlines": "**Final Answer**" + "\n" * 50_000 + "x",
    "unclosed display math": "\\[" * 100_000,
    "unclosed $$": "$$" + "a" * 2_000_000,
    "dollars": "$a" * 500_000,
    "braces": "{" * 1_000_000,
    "unclosed boxes": "\\boxed{" * 100_000,
    "many answer phrases": "Answer: " * 100_000,
    "letters": "(A) " * 100_000,
    "hedges": "Answer: A or " * 50_000,
    "options": "option " * 100_000,
    "statements": "The value is " * 100_000,
    "equals": "x = " * 100_000,
    "digits": "1" * 1_000_000,
    "overlines": "0." + "\\overline{" * 50_000,
    "unit words": "5" + " apples" * 100_000,
}


@pytest.mark.parametrize("name", sorted(BOMBS))
@pytest.mark.parametrize("kind", ["math", "choice"])
@pytest.mark.parametrize("field", ["response", "answer"])
def test_extraction_is_bounded(name: str, kind: str, field: str):
    t = time.perf_counter()
    final, key, _ = _prepare({"gold": "A" if kind == "choice" else "5", field: BOMBS[name], "kind": kind})
    if key is not None:
        _quick(key)
    assert time.perf_counter() - t < BOUND_S, name


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_hostile_rows_each_get_a_row(tmp_path: Path):
    deep = "[" * 500 + "]" * 500
    lines = [
        json.dumps({"gold": "A", "kind": "choice", "response": "The answer" + "\n" * 50_000}),  # 1 regex bomb
        json.dumps({"gold": "5", "response": "x " * 1_000_000 + "\\boxed{5}"}),  # 2 a 2 MB row
        '{"gold": "5", "response": "\\ud800 so \\\\boxed{5}"}',  # 3 lone surrogate (valid JSON)
        '{"gold": "\\udfff", "response": "\\ud800"}',  # 4 lone surrogates everywhere
        '{"gold": "1", "answer": "1", "meta": %s}' % deep,  # 5 500-deep nesting
        "[" * 100_000 + "]" * 100_000,  # 6 too deep for any JSON reader
        '{"gold": "1"}',  # 7 no response
        '{"response": "1"}',  # 8 no gold
        "not json at all",  # 9
        '"a string"',  # 10
        "null",  # 11
        '{"gold": {"a": 1}, "answer": "1"}',  # 12 gold not text
        '{"gold": "1", "answer": ["1"]}',  # 13 answer not text
        '{"gold": "1", "answer": "1", "prefilled": "maybe"}',  # 14
        '{"gold": 5, "answer": 5}',  # 15 numbers are text
        '{"gold": "1", "answer": "1", "kind": ["math"]}',  # 16
    ]
    src = _write(tmp_path / "in.jsonl", lines)
    with src.open("ab") as f:
        f.write(b'{"gold": "1", "answer": "\xff\xfe"}\n')  # 17 bytes that are not UTF-8
    out = tmp_path / "out.jsonl"
    t = time.perf_counter()
    summary = main(GradeConfig(input=str(src), out=str(out), workers=2, timeout=5.0))
    assert time.perf_counter() - t < 60
    rows = _read(out)
    assert len(rows) == 17 == summary["rows"]
    reasons = [r["reason"] for r in rows]
    assert reasons[:5] == ["no_answer", "equal", "equal", "not_equal", "equal"]
    assert [i + 1 for i, r in enumerate(rows) if r["reason"] == "error"] == [6, 7, 8, 9, 10, 11, 12, 13, 14, 16]
    assert all(r["line"] == i + 1 and r["error"] for i, r in enumerate(rows) if r["reason"] == "error")
    assert rows[14]["correct"] is True and rows[16]["reason"] == "not_equal"
    assert rows[2]["response"].startswith("\ud800")  # echoed back losslessly (as a JSON escape)


def test_dump_line_never_raises():
    assert json.loads(dump_line({"a": "\ud800"})) == {"a": "\ud800"}
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    rec = json.loads(dump_line({"line": 3, "reason": "error", "nested": deep}))
    assert rec["line"] == 3 and "nested" in rec["error"]


def test_cli_stdout_with_surrogates_and_bad_rows(tmp_path: Path):
    src = _write(tmp_path / "in.jsonl", ['{"gold": "5", "response": "\\ud800 \\\\boxed{5}"}', "nope", '{"gold": "2", "answer": "2"}'])
    proc = subprocess.run([sys.executable, "-m", "reasonflux.cli", "grade", str(src), "--workers", "0"],
                          capture_output=True, cwd=REPO, timeout=120)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [r["reason"] for r in rows] == ["equal", "error", "equal"]


def test_killed_run_keeps_what_it_graded(tmp_path: Path):
    """Rows reach the file as they are graded: a run killed midway leaves whole lines, in order."""
    row = {"gold": "7", "response": "<think>" + "thinking. " * 400 + "</think> \\boxed{7}"}
    src = tmp_path / "in.jsonl"
    with src.open("w") as f:
        for i in range(5_000):
            f.write(json.dumps({**row, "i": i}) + "\n")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "reasonflux.cli", "grade", str(src), "-o", str(out), "--workers", "0"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 100_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = out.read_bytes().split(b"\n")
    whole = [json.loads(x) for x in lines[:-1]]
    assert len(whole) > 0 and [r["i"] for r in whole] == list(range(len(whole)))
    assert all(r["reason"] == "equal" for r in whole)


def test_prefilled_from_row_prompt_and_flag(tmp_path: Path):
    resp = "so x = 5, \\boxed{5}"  # no tags at all
    lines = [
        json.dumps({"gold": "5", "response": resp}),  # nothing known: all answer
        json.dumps({"gold": "5", "response": resp, "prefilled": True}),  # samples.jsonl field
        json.dumps({"gold": "5", "response": resp, "prompt": "<|User|>q<|Assistant|><think>\n"}),  # the prompt opened it
        json.dumps({"gold": "5", "response": resp, "prompt": "<think>planned</think> now answer"}),  # opened and closed
        json.dumps({"gold": "5", "text": resp, "prefilled": True, "reasoning": "server split it off"}),  # answer part only
        json.dumps({"gold": "5", "response": resp + "\n</think>\n\\boxed{5}", "prefilled": True}),
        json.dumps({"gold": "5", "response": resp, "prefilled": False}),  # the row's own field beats the flag
    ]
    src = _write(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    main(GradeConfig(input=str(src), out=str(out), workers=0))
    assert [r["reason"] for r in _read(out)] == ["equal", "truncated", "truncated", "equal", "equal", "equal", "equal"]
    main(GradeConfig(input=str(src), out=str(out), workers=0, prefilled=True))
    assert [r["reason"] for r in _read(out)] == ["truncated", "truncated", "truncated", "equal", "equal", "equal", "equal"]


def test_samples_file_of_a_run_is_graded_with_its_problems(tmp_path: Path):
    """A run's samples.jsonl (text, prefilled, no gold) next to its problems.jsonl regrades as is."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "problems.jsonl").write_text(
        json.dumps({"benchmark": "math500", "id": "p1", "answer": "10", "kind": "math", "problem": "By what percent does it fall?"}) + "\n"
        + json.dumps({"benchmark": "gpqa_diamond", "id": "g1", "answer": "C", "kind": "choice"}) + "\n")
    samples = [{"benchmark": "math500", "problem_id": "p1", "text": "thinking</think> It falls by \\boxed{10\\%}.", "prefilled": True},
               {"benchmark": "gpqa_diamond", "problem_id": "g1", "text": "no close tag. Answer: C", "prefilled": True},
               {"benchmark": "gpqa_diamond", "problem_id": "g1", "text": "x</think>\nAnswer: c", "prefilled": True},
               {"benchmark": "math500", "problem_id": "missing", "text": "\\boxed{1}"}]
    src = _write(run / "samples.jsonl", [json.dumps(s) for s in samples])
    out = tmp_path / "graded.jsonl"
    main(GradeConfig(input=str(src), out=str(out), workers=0))
    assert [(r["correct"], r["reason"]) for r in _read(out)] == [(True, "equal"), (False, "truncated"), (True, "equal"), (False, "error")]


def test_grade_many_never_raises_on_odd_items():
    items = [{"gold": "1", "response": "\ud800"}, {"gold": "\udfff", "answer": "\udfff"}, {"gold": "1", "answer": "x" * 3_000_000},
             {"gold": "A", "kind": "choice", "response": "Answer:" + " " * 100_000}]
    vs = grade_many(items, workers=2, timeout=5.0)
    assert [v.reason for v in vs] == ["not_equal", "equal", "not_equal", "no_answer"]


def test_percent_needs_the_question():
    assert not grade(answer="10\\%", gold="10", timeout=None).correct
    assert grade(answer="10\\%", gold="10", problem="By what percent does the area decrease?", timeout=None).correct
    assert grade(answer="10", gold="10", problem="By what percent does the area decrease?", timeout=None).correct


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the pool needs fork")
def test_pool_timeout_bounds_a_hostile_comparison():
    t = time.perf_counter()
    v = grade_many([{"gold": "1", "answer": "10^{10^{10^{10}}}-10^{10^{10^{10}}}+1"}], workers=1, timeout=1.0)[0]
    assert v.reason in ("timeout", "equal", "not_equal")
    assert v.correct or v.reason == "timeout"  # the value is 1: a verdict, if any, must say so
    assert time.perf_counter() - t < 30  # pool start-up plus the 1 s budget, not the evaluation
