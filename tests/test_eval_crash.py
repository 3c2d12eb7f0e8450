"""kill -9 in the middle of an eval costs only in-flight samples: the resumed run has every
(problem, sample) exactly once and the same metrics.json as an uninterrupted run.

``EchoBackend`` is a deterministic backend (its output depends only on the request's seed), loaded by
the CLI as ``--backend test_eval_crash:EchoBackend``; ``ECHO_DELAY`` slows it so the kill lands mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reasonflux.types import Completion, Request

TESTS = Path(__file__).resolve().parent
ECHO = "test_eval_crash:EchoBackend"
KILL_AFTER_LINES = 30
TOTAL = (12 + 12) * 4  # math500 + aime24, --limit 12, --n 4


class EchoBackend:
    """Answers ``\\boxed{seed % 4 + 1}`` after a short reasoning; ``seed % 7 == 0`` hits the token cap
    mid-reasoning (no answer)."""

    name = "echo"

    def __init__(self, **_: object) -> None:
        self.delay = float(os.environ.get("ECHO_DELAY", "0"))

    def generate(self, requests: list[Request], progress=None) -> list[list[Completion]]:  # noqa: ANN001
        out = []
        for i, r in enumerate(requests):
            comps = []
            for k in range(r.n):
                if self.delay:
                    time.sleep(self.delay)
                s = (r.seed or 0) + k
                v = s % 4 + 1
                capped = s % 7 == 0
                text = (f"Let me think about problem {r.id} and" if capped else
                        f"Let me think about problem {r.id}. </think> The answer is \\boxed{{{v}}}.")
                c = Completion(text=text, finish_reason="length" if capped else "stop", prompt_tokens=11,
                               completion_tokens=32 if capped else 20 + 3 * v, latency_s=0.0)
                if progress is not None:
                    progress(i, c)
                comps.append(c)
            out.append(comps)
        return out

    def close(self) -> None:
        pass


def eval_cmd(out: Path, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "reasonflux.cli", "eval", "--backend", ECHO, "--model", "echo",
            "--benchmarks", "math500,aime24", "--limit", "12", "--n", "4", "--temperature", "0.6",
            "--max-tokens", "32", "--data-dir", str(data_dir), "--out", str(out), "--quiet", *extra]


def env(delay: float) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(TESTS), e.get("PYTHONPATH", "")])
    e["ECHO_DELAY"] = str(delay)
    return e


def lines(p: Path) -> int:
    return p.read_bytes().count(b"\n") if p.exists() else 0


def test_kill_resume_equals_uninterrupted(tmp_path, data_dir):
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    r = subprocess.run(eval_cmd(full, data_dir), env=env(0), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]

    proc = subprocess.Popen(eval_cmd(crashed, data_dir), env=env(0.03), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = crashed / "samples.jsonl"
    deadline = time.time() + 90
    while lines(samples) < KILL_AFTER_LINES and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = lines(samples)
    assert KILL_AFTER_LINES <= done < TOTAL, done
    assert not (crashed / "metrics.json").exists()
    with samples.open("ab") as f:  # as if the kill had landed in the middle of a write
        f.write(b'{"benchmark": "math500", "problem_id": "test/alg')

    r = subprocess.run(eval_cmd(crashed, data_dir), env=env(0), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    keys = [(s["benchmark"], s["problem_id"], s["sample_index"]) for s in rows]
    assert len(keys) == TOTAL and len(set(keys)) == TOTAL
    assert {i for _, _, i in keys} == {0, 1, 2, 3}

    def strip(rs: list[dict]) -> dict:
        return {(s["benchmark"], s["problem_id"], s["sample_index"]): {k: v for k, v in s.items() if k != "latency_s"} for s in rs}

    full_rows = [json.loads(x) for x in (full / "samples.jsonl").read_text().splitlines()]
    assert strip(rows) == strip(full_rows)
    m_full = json.loads((full / "metrics.json").read_text())
    m_crashed = json.loads((crashed / "metrics.json").read_text())
    assert m_crashed == m_full
    assert 0 < m_full["benchmarks"]["math500"]["avg@n"]["value"] < 1  # a real mix of verdicts
    assert m_full["benchmarks"]["math500"]["cap_hit_rate"] > 0 and m_full["benchmarks"]["aime24"]["no_answer_rate"] > 0

    # Finished: a rerun generates nothing; changed sampling settings are refused, nothing lost.
    before = samples.read_bytes()
    r = subprocess.run(eval_cmd(crashed, data_dir), env=env(5.0), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and samples.read_bytes() == before
    r = subprocess.run(eval_cmd(crashed, data_dir, "--temperature", "0.7"), env=env(0), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "other settings" in r.stderr and "temperature" in r.stderr
    assert "Traceback" not in r.stderr and samples.read_bytes() == before
