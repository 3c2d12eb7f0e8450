"""Scale-out on Ray (CPU, a local Ray instance with 2 CPUs): ``reasonflux eval --executor ray`` with
2 replicas of the tiny model equals the local run; a replica that dies mid-run (its process exits
while holding a shard) or is ``ray.kill``-ed has its shard retried elsewhere, every (problem, sample)
lands exactly once and the retry is reported; ``reasonflux synth --executor ray`` runs."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reasonflux.cli import app

ray = pytest.importorskip("ray")

BENCHES = "aime24,math500"
LIMIT = 4
N = 2
EVAL_FLAGS = ["--benchmarks", BENCHES, "--limit", str(LIMIT), "--n", str(N), "--temperature", "0", "--max-tokens", "8",
              "--prompt-style", "instruct", "--quiet"]


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, tiny_model_dir, data_dir) -> Path:
    out = tmp_path_factory.mktemp("scale") / "local"
    res = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out", str(out), *EVAL_FLAGS])
    assert res.exit_code == 0, res.output
    return out


def _lines(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]


def _by_key(run: Path) -> dict:
    return {(s["benchmark"], s["problem_id"], s["sample_index"]): s for s in _lines(run)}


def _same_as_local(run: Path, local: Path) -> None:
    rows = _lines(run)
    counts = Counter((s["benchmark"], s["problem_id"], s["sample_index"]) for s in rows)
    assert len(rows) == 2 * LIMIT * N and set(counts.values()) == {1}  # every (problem, sample) exactly once
    mine, ref = _by_key(run), _by_key(local)
    assert mine.keys() == ref.keys()
    for k, s in ref.items():  # greedy + deterministic engine: the same samples, whatever replica made them
        for f in ("text", "finish_reason", "completion_tokens", "prompt_tokens", "seed", "prompt_hash", "prefilled", "extracted"):
            assert mine[k][f] == s[f], (k, f)
    assert json.loads((run / "metrics.json").read_text()) == json.loads((local / "metrics.json").read_text())


def test_eval_executor_ray_two_replicas_equals_local(ray_instance, local_run, tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "ray"
    res = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out", str(out),
                                   "--executor", "ray", "--replicas", "2", *EVAL_FLAGS])
    assert res.exit_code == 0, res.output
    _same_as_local(out, local_run)
    scale = json.loads((out / "scale.json").read_text())
    assert scale["replicas"] == 2 and scale["samples"] == 2 * LIMIT * N and scale["shards"] >= 2
    assert scale["retried"] == [] and scale["failed"] == []
    assert "executor: ray" in (out / "config.yaml").read_text()
    # a finished run resumes to nothing: no replicas are started, nothing is appended
    before = (out / "samples.jsonl").read_bytes()
    res = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out", str(out),
                                   "--executor", "ray", "--replicas", "2", *EVAL_FLAGS])
    assert res.exit_code == 0 and (out / "samples.jsonl").read_bytes() == before


def test_replica_death_mid_run_is_retried_and_reported(ray_instance, local_run, tiny_model_dir, data_dir, tmp_path):
    from reasonflux.config import resolve
    from reasonflux.evals.runner import EvalConfig, run
    from reasonflux.scale.ray_pool import RayPoolBackend
    from reasonflux.types import Request

    out = tmp_path / "faulty"
    flags = dict(zip(EVAL_FLAGS[:-1:2], EVAL_FLAGS[1:-1:2]))
    cfg = resolve(EvalConfig, {k.lstrip("-"): v for k, v in flags.items()},
                  {"model": str(tiny_model_dir), "data_dir": str(data_dir), "out": str(out), "quiet": True})
    # The replica that receives shard 1 exits its process on the first attempt, as an OOM kill would.
    pool = RayPoolBackend({"backend": "hf", "model": str(tiny_model_dir), "device": "cpu"}, replicas=2, shard_size=3,
                          fault_shard=1, report_path=out / "scale.json")
    try:
        assert pool.wait_ready() == 2
        run(cfg, backend=pool)
        _same_as_local(out, local_run)
        assert [(r["shard"], r["attempt"], r["replica_died"]) for r in pool.retried] == [(1, 1, True)]
        assert pool.retried[0]["request_ids"] and pool.failed == []
        scale = json.loads((out / "scale.json").read_text())
        assert scale["retried"][0]["shard"] == 1 and scale["replacements"] == 1
        assert [s["state"] for s in scale["replica_detail"]][:2] == ["ready", "dead"]

        # ray.kill on a live replica (node loss): found when its next shard fails, retried on another.
        victim = pool.slots[0]
        ray.kill(victim.actor, no_restart=True)
        for _ in range(600):  # ray.kill is asynchronous: wait until the process is really gone
            try:
                ray.get(victim.actor.tokenizer.remote(), timeout=60)
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("ray.kill did not kill the replica")
        reqs = [Request(messages=[{"role": "user", "content": f"What is {i}+1?"}], max_tokens=4, id=f"q{i}") for i in range(6)]
        seen: list[int] = []
        outs = pool.generate(reqs, progress=lambda i, c: seen.append(i))
        assert sorted(seen) == list(range(6)) and all(len(o) == 1 and o[0].finish_reason != "error" for o in outs)
        assert len(pool.retried) == 2 and pool.retried[1]["replica"] == 0 and pool.retried[1]["replica_died"]
    finally:
        pool.close()


def test_synth_executor_ray_against_scripted_teacher(ray_instance, tmp_path):
    from reasonflux.testing.server import ScriptedServer

    problems = [{"id": f"p{i}", "problem": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(1, 7)]
    (tmp_path / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in problems))

    def teacher(body: dict, index: int) -> str:
        i = int(body["messages"][-1]["content"].split("What is ")[1].split(" ")[0])
        right = 2 * i if i != 3 else 99  # p3 is always answered wrongly
        return f"<think>\n{i}+{i}={right}\n</think>\n\n$\\boxed{{{right}}}$"

    out = tmp_path / "synth"
    with ScriptedServer(teacher) as srv:
        res = CliRunner().invoke(app, ["synth", "--problems", str(tmp_path / "problems.jsonl"), "--backend", "openai",
                                       "--teacher", "scripted", "--base-url", srv.base_url, "--samples", "2",
                                       "--templates", "none", "--no-decontaminate", "--out", str(out), "--chunk", "6",
                                       "--executor", "ray", "--replicas", "2", "--shard-size", "2"])
        assert res.exit_code == 0, res.output
        assert len(srv.requests) >= 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 6 and summary["solved"] == 5 and summary["failed"] == 0
    kept = [json.loads(x)["meta"]["problem_id"] for x in (out / "trajectories.jsonl").read_text().splitlines()]
    assert sorted(kept) == ["p1", "p2", "p4", "p5", "p6"]
    scale = json.loads((out / "scale.json").read_text())
    assert scale["backend"] == "openai" and scale["samples"] == 12 and scale["shards"] == 6


def test_out_of_retries_is_recorded_as_errors_and_a_replacement_takes_over(ray_instance):
    from reasonflux.scale.ray_pool import RayPoolBackend
    from reasonflux.testing.server import ScriptedServer
    from reasonflux.types import Request

    with ScriptedServer(lambda body, i: "\\boxed{4}") as srv:
        pool = RayPoolBackend({"backend": "openai", "model": "served", "base_url": srv.base_url, "max_retries": 0},
                              replicas=1, shard_size=1, max_retries=0, fault_shard=0)
        try:
            reqs = [Request(messages=[{"role": "user", "content": f"q{i}"}], n=2, max_tokens=4, id=f"q{i}") for i in range(3)]
            outs = pool.generate(reqs)
        finally:
            pool.close()
    assert [len(o) for o in outs] == [2, 2, 2]
    assert all(c.finish_reason == "error" and "failed 1 times" in c.error for c in outs[0])
    assert all(c.text == "\\boxed{4}" for o in outs[1:] for c in o)  # the only replica died; its replacement did the rest
    assert pool.retried == [] and [(f["shard"], f["request_ids"]) for f in pool.failed] == [(0, ["q0"])]
    assert pool.replacements == 1 and [s.state for s in pool.slots] == ["dead", "closed"]


def test_scale_settings_are_checked(ray_instance, tmp_path):
    from reasonflux.errors import UserError
    from reasonflux.scale import ScaleConfig, make_backend

    with pytest.raises(UserError, match="--executor 'dask'"):
        make_backend(ScaleConfig(executor="dask"))
    with pytest.raises(UserError, match="need --executor ray"):
        make_backend(ScaleConfig(replicas=2))
    with pytest.raises(UserError, match="use --replicas N"):
        make_backend(ScaleConfig(executor="ray", data_parallel=2))
    from reasonflux.scale.ray_pool import RayPoolBackend

    with pytest.raises(UserError, match="less than --tensor-parallel-size 2"):
        RayPoolBackend({"backend": "vllm", "tensor_parallel_size": 2}, gpus_per_replica=1)
    with pytest.raises(UserError, match=r"no replica fits .*no node has 64 CPU \(largest node: 2\)"):  # 2-CPU instance
        RayPoolBackend({"backend": "hf", "device": "cpu"}, cpus_per_replica=64)
    # --data-parallel 2 on one machine: a pool of 2 (the running instance is reused); a model that
    # cannot load comes back from the replica as its one-line error.
    from reasonflux.evals.runner import EvalConfig
    from reasonflux.types import Request

    pool = make_backend(EvalConfig(model=str(tmp_path / "no-such-model"), data_parallel=2), log_dir=tmp_path)
    try:
        assert isinstance(pool, RayPoolBackend) and pool.replicas == 2
        with pytest.raises(UserError, match="no-such-model"):
            pool.generate([Request(messages=[{"role": "user", "content": "hi"}])])
    finally:
        pool.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_address_fails_fast_with_one_line(tmp_path, data_dir):
    """Nothing listens at --address: one line, exit 2, in seconds (ray.init alone retries for minutes)."""
    import subprocess
    import sys

    for address in (f"127.0.0.1:{_free_port()}", f"ray://127.0.0.1:{_free_port()}"):
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "eval", "--executor", "ray", "--address", address,
                            "--benchmarks", "math500", "--limit", "1", "--data-dir", str(data_dir), "--out", str(tmp_path / "r"),
                            "--quiet"], capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and took < 30, (r.returncode, took, r.stderr[-800:])
        assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Ray cluster at") and "refused" in lines[0], lines


def test_address_that_is_not_a_ray_head_gives_up_in_time(tmp_path):
    """Something accepts TCP but never speaks Ray: ray.init is bounded (shortened here to 3 s), one line."""
    import socket
    import subprocess
    import sys

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        port = srv.getsockname()[1]
        code = ("import ray, sys\nfrom reasonflux.errors import UserError\nfrom reasonflux.scale import ray_pool\n"
                "ray_pool.CONNECT_TIMEOUT_S = 3\n"
                f"try:\n    ray_pool.connect_ray(ray, '127.0.0.1:{port}')\nexcept UserError as e:\n    print('ONE', e)\n")
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    out = [ln for ln in r.stdout.splitlines() if ln.startswith("ONE")]
    assert len(out) == 1 and ("no Ray session" in out[0] or "cannot connect" in out[0]), (r.stdout[-500:], r.stderr[-500:])
    assert time.monotonic() - t0 < 30


def test_replica_that_cannot_be_placed_names_the_missing_resource(ray_instance):
    """A replica no node can hold (this 2-CPU, 0-GPU instance) is one line naming the resource, after
    the placement wait (30 s by default, for an autoscaler; 1 s here) instead of waiting an hour."""
    from reasonflux.errors import UserError
    from reasonflux.scale.ray_pool import PLACEMENT_WAIT_S, RayPoolBackend

    assert PLACEMENT_WAIT_S <= 50  # with start-up, inside the 60 s promised
    t0 = time.monotonic()
    with pytest.raises(UserError, match=r"no replica can be placed .*no node has 1 GPU \(largest node: 0\)"):
        RayPoolBackend({"backend": "hf", "model": "x"}, replicas=1, gpus_per_replica=1, placement_wait_s=1)
    with pytest.raises(UserError, match=r"no node has 64 CPU \(largest node: 2\)"):
        RayPoolBackend({"backend": "hf", "model": "x"}, replicas=2, gpus_per_replica=0, cpus_per_replica=64, placement_wait_s=1)
    assert time.monotonic() - t0 < 20


def test_eval_navigator_method_on_ray_equals_local(ray_instance, tiny_model_dir, data_dir, tmp_path):
    """(#14) --method navigator through a pool of 2 replicas: each round's generate call is sharded
    like any other; with a greedy deterministic engine the samples and traces equal a local run."""
    flags = ["--model", str(tiny_model_dir), "--data-dir", str(data_dir), "--benchmarks", "math500", "--limit", "2",
             "--n", "1", "--temperature", "0", "--max-tokens", "6", "--method", "navigator", "--max-solver-steps", "1",
             "--json-retries", "0", "--navigator-max-tokens", "6", "--quiet"]
    res = CliRunner().invoke(app, ["eval", "--out", str(tmp_path / "local"), *flags])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["eval", "--out", str(tmp_path / "ray"), "--executor", "ray", "--replicas", "2", *flags])
    assert res.exit_code == 0, res.output
    local, pooled = _by_key(tmp_path / "local"), _by_key(tmp_path / "ray")
    assert local.keys() == pooled.keys() and len(local) == 2
    for k, s in local.items():
        assert pooled[k]["method"] == "navigator" and pooled[k]["text"] == s["text"]
        assert [c["text"] for c in pooled[k]["trace"]["calls"]] == [c["text"] for c in s["trace"]["calls"]]
    assert json.loads((tmp_path / "ray" / "scale.json").read_text())["replicas"] == 2
