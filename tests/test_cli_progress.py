"""Progress you can trust: a heartbeat line on a clock, whether or not a sample has finished.

A long eval against a slow scripted OpenAI-compatible server (every answer takes longer than the
test waits) must print ``[eval] ... 0/N samples ...`` lines to stderr and to ``progress.log`` in the
run directory; the hf backend reports tokens while they are generated, so the heartbeat shows
tokens and tok/s before anything finishes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reasonflux import progress
from reasonflux.testing.server import Fault, ScriptedServer

BEAT = re.compile(r"\[eval\] (\d\d:\d\d) elapsed · ([\d,]+) tokens · ([\d.,]+) tok/s · (\d+)/(\d+) samples · ETA")


def _eval_until_beat(tmp_path: Path, data_dir: Path, interval: str | None, wait_s: float) -> tuple[list[str], float, Path]:
    """Start a slow eval, read stderr until the first heartbeat; returns (lines, seconds after the first
    request reached the server, run dir)."""
    out = tmp_path / "run"
    env = dict(os.environ)
    env.pop("REASONFLUX_HEARTBEAT_S", None)
    if interval is not None:
        env["REASONFLUX_HEARTBEAT_S"] = interval
    first_request = threading.Event()

    def slow(body, index):  # noqa: ANN001, ANN202 - no answer within the test's patience
        first_request.set()
        return Fault.delay(wait_s + 30, then="The answer is \\boxed{1}.")

    with ScriptedServer(slow) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reasonflux.cli", "eval", "--backend", "openai", "--model", "scripted",
             "--base-url", srv.base_url, "--benchmarks", "math500", "--limit", "3", "--n", "2", "--max-tokens", "512",
             "--data-dir", str(data_dir), "--out", str(out), "--request-timeout", "120", "--max-retries", "0"],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        lines: list[str] = []
        t_first = None
        try:
            deadline = time.time() + 60 + wait_s
            reader = iter(proc.stderr.readline, "")
            while time.time() < deadline:
                line = next(reader, "")
                if not line:
                    break
                lines.append(line.rstrip())
                if BEAT.search(line):
                    assert first_request.wait(1), "heartbeat before any request was sent"
                    t_first = time.time()
                    break
        finally:
            proc.kill()
            proc.wait(10)
    assert t_first is not None, "no heartbeat line:\n" + "\n".join(lines[-20:])
    return lines, t_first, out


def test_slow_eval_prints_heartbeat_before_any_sample_finishes(tmp_path, data_dir):
    t0 = time.time()
    lines, t_beat, out = _eval_until_beat(tmp_path, data_dir, "1", wait_s=5)
    beat = next(BEAT.search(ln) for ln in lines if BEAT.search(ln))
    assert beat.group(4) == "0" and beat.group(5) == "6"  # nothing finished; 3 problems x 2 samples
    assert t_beat - t0 < 20
    samples = out / "samples.jsonl"
    assert not samples.exists() or samples.read_text() == ""
    log = (out / progress.LOG_NAME).read_text().splitlines()
    assert log and BEAT.search(log[0]) and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", log[0])


@pytest.mark.slow
def test_default_heartbeat_within_15_seconds(tmp_path, data_dir):
    t0 = time.time()
    _lines, t_beat, _out = _eval_until_beat(tmp_path, data_dir, None, wait_s=20)
    # the first beat comes 15 s after generation starts; process start and imports come on top
    assert t_beat - t0 < 15 + 10


def test_heartbeat_counts_live_hf_tokens_before_any_sample_finishes(tiny_model_dir, tmp_path):
    from reasonflux.backends.hf import HFBackend
    from reasonflux.types import Request

    backend = HFBackend(model=str(tiny_model_dir), format="deepseek-r1", device="cpu", batch_size=4)
    try:
        hb = progress.Heartbeat("eval", total=4, done=lambda: (0, 0), max_tokens=400,
                                log_path=tmp_path / "progress.log", emit=None, interval=0.05)
        with hb:
            backend.generate([Request(messages=[{"role": "user", "content": f"count {i}"}], max_tokens=400,
                                      temperature=0.0, stop=["<no-stop>"]) for i in range(4)])
            time.sleep(0.12)
    finally:
        backend.close()
    live = [BEAT.search(ln) for ln in hb.lines]
    live = [m for m in live if m and int(m.group(2).replace(",", "")) > 0]
    assert live, hb.lines
    m = live[0]
    assert m.group(4) == "0" and float(m.group(3).replace(",", "")) > 0
    assert "ETA ≤" in hb.lines[hb.lines.index(m.string)]  # bounded by max_tokens until a sample finishes
    assert len((tmp_path / "progress.log").read_text().splitlines()) == len(hb.lines)


def test_eta_from_finished_samples():
    clock = {"done": 0, "tok": 0}
    hb = progress.Heartbeat("x", total=10, done=lambda: (clock["done"], clock["tok"]), max_tokens=1000, emit=None)
    hb.start_time = time.perf_counter() - 10  # 10 s in
    s = hb.snapshot()
    assert s["eta_s"] is None  # no tokens, nothing finished: no honest ETA
    clock.update(done=5, tok=500)  # 50 tok/s, 100 tokens per sample, 500 to go
    s = hb.snapshot()
    assert s["tok_s"] == pytest.approx(50, rel=0.05) and s["eta_s"] == pytest.approx(10, rel=0.1) and not s["eta_is_bound"]
    clock.update(done=10, tok=1000)
    assert hb.snapshot()["eta_s"] == 0


def test_quiet_silences_library_progress_bars(monkeypatch):
    for k in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE", "TRANSFORMERS_VERBOSITY"):
        monkeypatch.delenv(k, raising=False)
    import transformers

    progress.silence_third_party()
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and os.environ["TQDM_DISABLE"] == "1"
    assert not transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.enable_progress_bar()


def test_quiet_flag_reaches_the_silencer(tmp_path, monkeypatch):
    """--quiet on a command runs silence_third_party before the command body."""
    from typer.testing import CliRunner

    from reasonflux.cli import app

    called = []
    monkeypatch.setattr(progress, "silence_third_party", lambda: called.append(1))
    r = CliRunner().invoke(app, ["rescore", str(tmp_path), "--quiet"])
    assert r.exit_code == 2 and called == [1]  # the run dir is not a run; silenced first all the same


def test_slow_synth_prints_heartbeat(tmp_path):
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"problem": "What is 2+3?", "answer": "5"}\n{"problem": "What is 4+4?", "answer": "8"}\n')
    env = {**os.environ, "REASONFLUX_HEARTBEAT_S": "1"}
    with ScriptedServer(lambda body, i: Fault.delay(40, then="\\boxed{5}")) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reasonflux.cli", "synth", "--problems", str(problems), "--backend", "openai",
             "--model", "scripted", "--base-url", srv.base_url, "--n", "2", "--max-tokens", "256", "--templates", "none",
             "--no-decontaminate", "--out", str(tmp_path / "run"), "--max-retries", "0"],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        got = None
        try:
            deadline = time.time() + 40
            for line in iter(proc.stderr.readline, ""):
                if re.search(r"\[synth\] .* 0/4 samples · ETA", line):
                    got = line
                    break
                if time.time() > deadline:
                    break
        finally:
            proc.kill()
            proc.wait(10)
    assert got is not None
    assert (tmp_path / "run" / progress.LOG_NAME).read_text().count("[synth]") >= 1
