"""Scale-out throughput: samples/s of the tiny random model (hf backend, CPU, greedy, one torch thread
per engine) in this process (one call; and the pool's shards one after another, to separate sharding
from Ray) versus a :class:`~reasonflux.scale.ray_pool.RayPoolBackend` with 1 and 2 replicas on a local
Ray instance, and the driver's own overhead per sample (time the driver spends on the pool — cutting
shards, sending requests, receiving completions — not waiting for replicas). Replicas are started and
warmed up before timing (start-up is reported separately); the configurations are timed in turns.
On a shared 2-core machine other load lowers the 2-replica figure: the ``busy`` column (replica-seconds
in the engine per wall second) shows whether both replicas were working at once.

    .venv/bin/python benchmarks/scale_out.py                     # prints a table, writes JSON
    .venv/bin/python benchmarks/scale_out.py --requests 128 --max-tokens 32 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_out.json"
PROMPT = "Compute the sum of the first {i} positive integers, then add {j}."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=256, help="greedy requests (one sample each) per generate call")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16, help="hf: sequences per model.generate call")
    ap.add_argument("--replicas", default="1,2", help="pool sizes to time")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs of the local Ray instance")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import ray
    import torch

    torch.set_num_threads(1)
    from reasonflux.backends import load_backend
    from reasonflux.scale.ray_pool import SHARDS_PER_REPLICA, RayPoolBackend
    from reasonflux.testing.tiny import save_tiny
    from reasonflux.types import Request

    model_dir = save_tiny(Path(tempfile.mkdtemp(prefix="scale-out-")) / "tiny")
    options = {"backend": "hf", "model": str(model_dir), "device": "cpu", "batch_size": args.batch_size}
    requests = [Request(messages=[{"role": "user", "content": PROMPT.format(i=i % 97 + 3, j=i)}], n=1, temperature=0.0,
                        max_tokens=args.max_tokens, id=f"r{i}") for i in range(args.requests)]

    def timed(backend) -> tuple[float, int, list]:  # noqa: ANN001
        t0 = time.perf_counter()
        outs = backend.generate(requests)
        return time.perf_counter() - t0, sum(c.completion_tokens for o in outs for c in o), outs

    sizes = [int(x) for x in args.replicas.split(",")]
    local = load_backend("hf", **{k: v for k, v in options.items() if k != "backend"})
    timed(local)  # warm-up
    _, tokens, reference = timed(local)
    # Every pool lives for the whole run and the configurations are timed in turns, so that other load
    # on the machine (a shared 2-core box) hits them alike; only one generates at a time, so the Ray
    # instance is given enough logical CPUs for all pools at once.
    ray.init(num_cpus=max(args.cpus, sum(sizes)), include_dashboard=False, logging_level="WARNING")
    rows = []
    try:
        pools, start_s = {}, {}
        for n in sizes:
            t0 = time.perf_counter()
            pools[n] = RayPoolBackend(options, replicas=n)
            assert pools[n].wait_ready() == n
            start_s[n] = time.perf_counter() - t0
            timed(pools[n])  # warm-up: the first batches pay lazy initialisation in each replica
            for k in pools[n].stats:
                pools[n].stats[k] = 0 if isinstance(pools[n].stats[k], int) else 0.0
            for slot in pools[n].slots:
                slot.busy_s = 0.0
        walls: dict = {"local": [], "local_shards": [], **{n: [] for n in sizes}}
        same = dict.fromkeys(sizes, True)
        shard = -(-args.requests // (sizes[0] * SHARDS_PER_REPLICA))  # the first pool's auto shard size
        for _ in range(args.repeats):
            walls["local"].append(timed(local)[0])
            t0 = time.perf_counter()
            for k in range(0, args.requests, shard):  # the same shards, one after another, in process
                local.generate(requests[k:k + shard])
            walls["local_shards"].append(time.perf_counter() - t0)
            for n in sizes:
                wall, _, outs = timed(pools[n])
                walls[n].append(wall)
                same[n] &= [o[0].text for o in outs] == [o[0].text for o in reference]
        base = statistics.median(walls["local"])
        rows.append({"executor": "local (in process)", "replicas": 1, "start_s": None, "wall_s": base,
                     "samples_per_s": args.requests / base, "tokens_per_s": tokens / base, "speedup_vs_1_replica": None,
                     "driver_ms_per_sample": None, "same_outputs": True, "walls": walls["local"]})
        wall = statistics.median(walls["local_shards"])
        rows.append({"executor": f"local, shards of {shard}", "replicas": 1, "start_s": None, "wall_s": wall,
                     "samples_per_s": args.requests / wall, "tokens_per_s": tokens / wall, "speedup_vs_1_replica": None,
                     "driver_ms_per_sample": None, "same_outputs": True, "walls": walls["local_shards"]})
        one = statistics.median(walls[sizes[0]])
        for n in sizes:
            wall, pool = statistics.median(walls[n]), pools[n]
            rows.append({"executor": "ray pool", "replicas": n, "start_s": start_s[n], "wall_s": wall,
                         "samples_per_s": args.requests / wall, "tokens_per_s": tokens / wall,
                         "speedup_vs_1_replica": one / wall,
                         "driver_ms_per_sample": 1000 * pool.driver_overhead_s() / pool.stats["samples"],
                         "same_outputs": same[n], "shards_per_call": pool.stats["shards"] // max(1, pool.stats["calls"]),
                         # replica-seconds inside engine.generate per wall second: n when the replicas never wait
                         "replicas_busy": sum(sl.busy_s for sl in pool.slots) / sum(walls[n]),
                         "walls": walls[n]})
        for pool in pools.values():
            pool.close()
    finally:
        local.close()
        ray.shutdown()
    load = os.getloadavg()

    print(f"{args.requests} greedy samples × ≤{args.max_tokens} tokens, tiny model, hf on CPU, {args.cpus} CPUs, "
          f"median of {args.repeats} (configurations in turns); load average {load[0]:.1f}")
    print(f"{'executor':<22}{'replicas':>9}{'start s':>9}{'wall s':>9}{'samples/s':>11}{'tok/s':>9}{'vs 1 rep':>10}"
          f"{'driver ms/sample':>18}{'busy':>6}{'same text':>11}")
    for r in rows:
        start = f"{r['start_s']:.1f}" if r["start_s"] is not None else "-"
        drv = f"{r['driver_ms_per_sample']:.3f}" if r["driver_ms_per_sample"] is not None else "-"
        sp = f"{r['speedup_vs_1_replica']:.2f}x" if r["speedup_vs_1_replica"] is not None else "-"
        print(f"{r['executor']:<22}{r['replicas']:>9}{start:>9}{r['wall_s']:>9.2f}{r['samples_per_s']:>11.1f}"
              f"{r['tokens_per_s']:>9.0f}{sp:>10}{drv:>18}{r.get('replicas_busy', 1.0):>6.2f}{str(r['same_outputs']):>11}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "scale_out", "requests": args.requests, "max_tokens": args.max_tokens, "batch_size": args.batch_size,
        "cpus": args.cpus, "repeats": args.repeats, "load_average_1_5_15": load, "machine": platform.platform(), "python": platform.python_version(),
        "rows": rows,
    }, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
