"""An error is not an answer: failed requests are stored as failures, left out of accuracy, counted in
every table, retried by the next run, and make the run exit 3 with one line; a dead backend stops the
run early. Partial runs say so. GPQA text never reaches a report (checked in memory, never printed).

The server is the scripted OpenAI-compatible one (real HTTP on 127.0.0.1); the CLI runs in a
subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reasonflux.evals import store
from reasonflux.evals.runner import BackendDown, FailureBreaker, sample_seed
from reasonflux.testing.server import Fault, ScriptedServer

LIMIT = 40  # MATH500 problems, one greedy sample each
KILL_AT = 10  # the server dies while answering its 11th request


def answer_from_prompt(body: dict, index: int) -> dict:
    """Deterministic: the answer depends only on the prompt (so reruns and fresh runs agree)."""
    content = body["messages"][-1]["content"]
    return {"text": f"</think> The answer is \\boxed{{{len(content) % 7}}}.", "completion_tokens": 9}


def eval_cli(base_url: str, out: Path, data_dir: Path, *extra: str, timeout: float = 120, quiet: bool = True):
    cmd = [sys.executable, "-m", "reasonflux.cli", "eval", "--backend", "openai", "--base-url", base_url,
           "--model", "served", "--benchmarks", "math500", "--limit", str(LIMIT), "--max-tokens", "64",
           "--data-dir", str(data_dir), "--out", str(out), *(["--quiet"] if quiet else []), *extra]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    return r, time.monotonic() - t0


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("[")]  # "[eval]"/"[ray]" = progress


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dying_server() -> ScriptedServer:
    """A scripted server that shuts itself down while answering its KILL_AT-th request."""
    holder: list[ScriptedServer] = []

    def dying(body: dict, index: int) -> dict:
        if index == KILL_AT:
            threading.Thread(target=holder[0].close, daemon=True).start()
        return answer_from_prompt(body, index)

    holder.append(ScriptedServer(dying))
    return holder[0]


def test_server_killed_mid_run_then_rerun_retries_exactly_the_failed(tmp_path, data_dir):
    out = tmp_path / "killed"
    with dying_server() as srv:
        r, took = eval_cli(srv.base_url, out, data_dir, "--max-retries", "1", "--concurrency", "2")
    assert r.returncode == 3, r.stderr[-2000:]
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and re.match(r"error: \d+ samples? failed \(.+\).*; rerun the same command to retry", lines[0]), lines
    assert "ConnectError" in lines[0] or "RemoteProtocolError" in lines[0] or "ReadError" in lines[0], lines[0]
    assert took < 60

    rows = store.read_samples(out / store.SAMPLES)
    done = {store.sample_key(s) for s in rows if not store.is_failure(s)}
    failed = [s for s in rows if store.is_failure(s)]
    assert failed and all(s["error"] and s["correct"] is False and s["extracted"] is None for s in failed)
    assert len(done) >= KILL_AT - 2 and len(done) + len(failed) < LIMIT  # the breaker stopped the run early
    m = json.loads((out / store.METRICS).read_text())["benchmarks"]["math500"]
    assert m["errors"] == len(failed) and m["problems"] == len(done) and not m["complete"] and m["partial"]
    assert m["missing_samples"] == LIMIT - len(done) - len(failed)
    md = (out / store.REPORT_MD).read_text()
    assert "| errors |" in md and f"{len(failed)} (+{m['missing_samples']} missing)" in md and "Partial run" in md

    # The rerun with the server back sends exactly the unfinished samples (failed + never sent).
    from reasonflux.benchmarks import load_problems

    ids = [p.id for p in load_problems("math500", data_dir)[:LIMIT]]
    want = {sample_seed(0, "math500", pid, 0) for pid in ids if ("math500", pid, 0) not in done}
    with ScriptedServer(answer_from_prompt) as back:
        r2, _ = eval_cli(back.base_url, out, data_dir)
        seeds = [req["seed"] for req in back.requests]
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert sorted(seeds) == sorted(want)
    assert [s for s in store.read_samples(out / store.SAMPLES) if store.is_failure(s)] == []

    with ScriptedServer(answer_from_prompt) as fresh:  # an uninterrupted run: the same metrics, byte for byte
        r3, _ = eval_cli(fresh.base_url, tmp_path / "clean", data_dir)
    assert r3.returncode == 0 and len(fresh.requests) == LIMIT
    assert (out / store.METRICS).read_bytes() == (tmp_path / "clean" / store.METRICS).read_bytes()


def test_server_dying_mid_run_stops_the_run_in_seconds_with_default_retries(tmp_path, data_dir):
    """With the default --max-retries (6: about a minute of backoff per request), a server that
    stops answering mid-run is given up once connections have been refused for SERVER_GONE_S:
    the run ends in seconds with exit 3 and one line, and what finished is kept."""
    from reasonflux.backends.openai_api import SERVER_GONE_S

    out = tmp_path / "gone"
    with dying_server() as srv:
        r, took = eval_cli(srv.base_url, out, data_dir, "--concurrency", "2", timeout=150)
    assert r.returncode == 3, r.stderr[-2000:]
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "rerun the same command to retry" in lines[0], lines
    assert took < SERVER_GONE_S + 35, took  # not 6 retries x 16 requests of backoff
    done = [s for s in store.read_samples(out / store.SAMPLES) if not store.is_failure(s)]
    assert len(done) >= KILL_AT - 2


def test_never_started_server_exits_fast_with_one_line(tmp_path, data_dir):
    r, took = eval_cli(f"http://127.0.0.1:{free_port()}/v1", tmp_path / "dead", data_dir, timeout=90)
    assert r.returncode != 0 and took < 30, (r.returncode, took, r.stderr[-1000:])
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in r.stderr


def test_scattered_failures_are_counted_not_graded_and_retried(tmp_path, data_dir):
    """A few requests fail for good (HTTP 400: not retried) while the rest succeed: no early stop,
    exit 3, errors in metrics, reports and the printed table; a rerun retries only those."""
    bad = {3, 7, 11}

    def flaky(body: dict, index: int):
        if int(body["seed"]) % 13 in bad:
            return Fault.status(400, {"error": {"message": "context length exceeded", "type": "invalid_request_error"}})
        return answer_from_prompt(body, index)

    out = tmp_path / "flaky"
    with ScriptedServer(flaky) as srv:
        r, _ = eval_cli(srv.base_url, out, data_dir, quiet=False)
    rows = store.read_samples(out / store.SAMPLES)
    failed = [s for s in rows if store.is_failure(s)]
    assert r.returncode == 3 and failed and len(rows) == LIMIT
    assert f"error: {len(failed)} samples failed (HTTP 400: " in r.stderr and "rerun the same command to retry" in r.stderr
    assert f"{LIMIT - len(failed)} of 500" in r.stdout and "errors" in r.stdout  # the printed table
    m = json.loads((out / store.METRICS).read_text())["benchmarks"]["math500"]
    assert m["errors"] == len(failed) and m["problems"] == LIMIT - len(failed)
    html = (out / store.REPORT_HTML).read_text()
    assert "failed (not an answer; retried on rerun)" in html and "<th>errors</th>" in html
    # the same failures again: the last failure is kept, still exit 3, nothing else re-sent
    with ScriptedServer(flaky) as srv:
        r2, _ = eval_cli(srv.base_url, out, data_dir)
        assert len(srv.requests) == len(failed)
    assert r2.returncode == 3
    assert len(store.read_samples(out / store.SAMPLES)) == LIMIT
    assert (out / store.SAMPLES).read_text().count('"finish_reason": "error"') == 2 * len(failed)


def test_breaker_counts_failures_in_a_row():
    ok, bad = {"finish_reason": "stop"}, {"finish_reason": "error", "error": "ConnectError after 7 tries: refused"}
    b = FailureBreaker(3)
    for rec in (bad, bad, ok, bad, bad):
        b.record(rec)
    with pytest.raises(BackendDown, match="3 samples failed in a row .*ConnectError"):
        b.record(bad)
    with pytest.raises(BackendDown):  # once tripped, every later failure aborts too
        b.record(bad)
    never = FailureBreaker(0)
    for _ in range(100):
        never.record(bad)
    assert not never.tripped


def test_read_samples_success_beats_failure(tmp_path):
    p = tmp_path / store.SAMPLES
    key = {"benchmark": "math500", "problem_id": "p", "sample_index": 0}
    with store.SampleWriter(p) as w:
        w.write({**key, "finish_reason": "error", "error": "first"})
        w.write({**key, "finish_reason": "error", "error": "second"})
    assert [s["error"] for s in store.read_samples(p)] == ["second"]  # only failures: the latest
    with store.SampleWriter(p) as w:
        w.write({**key, "finish_reason": "stop", "text": "ok"})
        w.write({**key, "finish_reason": "error", "error": "late"})
    assert [s.get("text") for s in store.read_samples(p)] == ["ok"]  # a finished sample is never replaced


def test_partial_runs_are_never_beside_the_reported_figures(tmp_path, data_dir):
    from typer.testing import CliRunner

    from reasonflux.cli import app

    out = tmp_path / "f1"
    with ScriptedServer(answer_from_prompt) as srv:
        r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "eval", "--backend", "openai", "--base-url", srv.base_url,
                            "--model", "Gen-Verse/ReasonFlux-F1", "--benchmarks", "aime24,math500", "--limit", "3",
                            "--max-tokens", "64", "--data-dir", str(data_dir), "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "3 of 30" in r.stdout and "3 of 500" in r.stdout and "Partial run" in r.stdout
    md = (out / store.REPORT_MD).read_text()
    assert "| AIME24 | 3 of 30 |" in md and "| MATH500 | 3 of 500 |" in md and "Partial run: AIME24 3 of 30 problems" in md
    beside = md.split("## Beside the reported figures")[1]
    assert "not comparable (3 of 30 problems)" in beside and "not comparable (3 of 500 problems)" in beside
    html = (out / store.REPORT_HTML).read_text()
    assert "<td>3 of 500</td>" in html and "Partial run" in html
    res = CliRunner().invoke(app, ["report", str(out), "--json"])
    table = json.loads(res.output)
    assert "[3 of 500]" in table[0]["MATH500"]
    assert table[1]["run"] == "ReasonFlux-F1-32B (reported)" and table[1]["MATH500"] == "– (run partial)"
    m = json.loads((out / store.METRICS).read_text())["benchmarks"]
    assert m["math500"]["benchmark_problems"] == 500 and m["math500"]["partial"] and m["math500"]["complete"]


# ---- GPQA text stays out of reports ------------------------------------------------------------

def gpqa_grams(data_dir: Path) -> set[tuple[str, ...]]:
    from reasonflux.benchmarks import load_problems
    from reasonflux.evals.redact import REDACT_WORDS, source_texts

    grams: set[tuple[str, ...]] = set()
    for p in load_problems("gpqa_diamond", data_dir):
        for t in source_texts(p):
            toks = re.findall(r"[a-z0-9]+", t.lower())
            grams.update(tuple(toks[i:i + REDACT_WORDS]) for i in range(len(toks) - REDACT_WORDS + 1))
    return grams


def leaks(text: str, grams: set[tuple[str, ...]]) -> int:
    """How many 8-word runs of ``text`` appear in GPQA (a count: never the text itself)."""
    toks = re.findall(r"[a-z0-9]+", text.lower())
    return sum(tuple(toks[i:i + 8]) in grams for i in range(len(toks) - 7))


def echo_everything(body: dict, index: int) -> dict:
    """An R1-style model at its worst: restates the whole prompt in its reasoning and its answer."""
    content = body["messages"][-1]["content"]
    return {"text": f"Restating: {content}\nAnswer: B", "reasoning_content": f"The question says: {content}"}


def test_gpqa_text_never_reaches_reports_or_the_table(tmp_path, data_dir):
    grams = gpqa_grams(data_dir)
    out = tmp_path / "gpqa"
    with ScriptedServer(echo_everything) as srv:
        r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "eval", "--backend", "openai", "--base-url", srv.base_url,
                            "--model", "served", "--benchmarks", "gpqa_diamond", "--limit", "6", "--prompt-style", "instruct",
                            "--max-tokens", "64", "--data-dir", str(data_dir), "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.returncode
    raw = (out / store.SAMPLES).read_text()
    assert leaks(raw, grams) > 0  # the model did quote the questions: samples.jsonl keeps raw responses
    md, html = (out / store.REPORT_MD).read_text(), (out / store.REPORT_HTML).read_text()
    found = {"report.md": leaks(md, grams), "report.html": leaks(html, grams), "stdout": leaks(r.stdout, grams),
             "stderr": leaks(r.stderr, grams), "problems.jsonl": leaks((out / store.PROBLEMS).read_text(), grams)}
    assert found == dict.fromkeys(found, 0), found
    assert html.count("GPQA text redacted") >= 6  # redacted in place, not dropped silently
    note = (out / "README.md").read_text()
    assert "samples.jsonl" in note and "keep this directory private" in note
    m = json.loads((out / store.METRICS).read_text())["benchmarks"]["gpqa_diamond"]
    assert m["problems"] == 6 and m["errors"] == 0


def test_redactor_masks_copies_and_fails_closed():
    from reasonflux.evals.redact import MARK, WITHHELD_TEXT, Redactor
    from reasonflux.types import Problem

    q = "Which of the following statements about the invented compound zorblax is true at room temperature?"
    p = Problem(id="r1", problem=q, answer="A", kind="choice", meta={"choices": ["one", "two", "three", "four"]})
    red = Redactor([p])
    text = "Let me restate. which of the following STATEMENTS about the invented\ncompound zorblax is true! So, A."
    out = red.redact(text)
    assert MARK in out and "zorblax" not in out and out.startswith("Let me restate. ") and out.endswith(" So, A.")
    assert red.redact("which of the following statements about the weather") == "which of the following statements about the weather"
    assert red.text("anything at all", gpqa=False) == "anything at all"
    closed = Redactor(None)  # no GPQA data to compare with: GPQA samples' text is withheld entirely
    assert not closed.ready and closed.text("anything", gpqa=True) == WITHHELD_TEXT
    assert closed.text("math text", gpqa=False) == "math text"
