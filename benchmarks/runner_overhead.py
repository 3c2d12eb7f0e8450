"""Eval-runner overhead: the same requests through ``reasonflux eval``'s runner (prompt building,
per-sample seeds, grading, appending samples.jsonl, metrics and reports) versus one bare
``backend.generate`` call, on the tiny random model (hf backend, CPU, greedy). Target: ≤ 2 %.

Two measures: (1) A/B — runner wall time vs bare generate, alternating, best of ``--repeats`` (the
minimum filters out other processes on a shared machine; medians are printed too); (2) split — inside
each runner call, the time spent in ``backend.generate`` versus everything else (robust to noise,
since both parts come from the same call).

    .venv/bin/python benchmarks/runner_overhead.py                 # prints a table, writes JSON
    .venv/bin/python benchmarks/runner_overhead.py --limit 64 --max-tokens 64 --repeats 2
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "runner_overhead.json"
TARGET = 0.02


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=256, help="MATH500 problems (one greedy sample each)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(ROOT.parent / "shared" / "benchdata"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from reasonflux.backends import load_backend
    from reasonflux.benchmarks import get
    from reasonflux.config import resolve
    from reasonflux.evals import store
    from reasonflux.evals.runner import EvalConfig, build_messages, run, sample_seed, select_problems
    from reasonflux.testing.tiny import save_tiny
    from reasonflux.types import Request

    tmp = Path(tempfile.mkdtemp(prefix="runner-overhead-"))
    model_dir = save_tiny(tmp / "tiny")
    backend = load_backend("hf", model=str(model_dir), batch_size=args.batch_size)

    def cfg(i: int) -> EvalConfig:
        return resolve(EvalConfig, {"model": str(model_dir), "benchmarks": ["math500"], "limit": args.limit, "n": 1,
                                    "temperature": 0.0, "max_tokens": args.max_tokens, "data_dir": args.data_dir,
                                    "batch_size": args.batch_size, "out": str(tmp / f"run{i}"), "quiet": True})

    base = cfg(0)
    mod = get("math500")
    requests = [Request(messages=build_messages(base, mod, p), n=1, temperature=0.0, top_p=1.0, max_tokens=args.max_tokens,
                        seed=sample_seed(base.seed, "math500", p.id, 0), id=p.id)
                for p in select_problems(base)["math500"]]

    class Timed:
        """The same backend, with the time spent inside generate() recorded."""

        name = backend.name
        tokenizer = backend.tokenizer

        def __init__(self) -> None:
            self.spent = 0.0

        def generate(self, reqs, progress=None):  # noqa: ANN001, ANN202
            t = time.perf_counter()
            try:
                return backend.generate(reqs, progress=progress)
            finally:
                self.spent += time.perf_counter() - t

        def close(self) -> None:
            pass

    run(cfg(0), backend=backend)  # warm-up: imports (grader, sympy), allocator, kernels
    bare, runner, inside, tokens = [], [], [], 0
    for i in range(1, args.repeats + 1):
        t0 = time.perf_counter()
        outs = backend.generate(requests)
        bare.append(time.perf_counter() - t0)
        tokens = sum(c.completion_tokens for cs in outs for c in cs)
        timed = Timed()
        t0 = time.perf_counter()
        run(cfg(i), backend=timed)
        runner.append(time.perf_counter() - t0)
        inside.append(timed.spent)
        assert len(store.read_samples(tmp / f"run{i}" / store.SAMPLES)) == len(requests)
    b, r = min(bare), min(runner)
    overhead = (r - b) / b
    split = statistics.median([(t - g) / g for t, g in zip(runner, inside)])
    result = {
        "requests": len(requests), "max_tokens": args.max_tokens, "batch_size": args.batch_size, "repeats": args.repeats,
        "completion_tokens": tokens, "bare_min_s": round(b, 3), "runner_min_s": round(r, 3),
        "bare_median_s": round(statistics.median(bare), 3), "runner_median_s": round(statistics.median(runner), 3),
        "overhead_ab": round(overhead, 4), "overhead_split": round(split, 4), "target": TARGET,
        "pass": max(overhead, split) <= TARGET, "bare_runs_s": [round(x, 3) for x in bare],
        "runner_runs_s": [round(x, 3) for x in runner], "runner_generate_s": [round(x, 3) for x in inside],
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
    }
    print(f"{'path':<34}{'min s':>8}{'median s':>10}  runs")
    print(f"{'bare backend.generate':<34}{b:>8.3f}{statistics.median(bare):>10.3f}  {result['bare_runs_s']}")
    print(f"{'eval runner (run)':<34}{r:>8.3f}{statistics.median(runner):>10.3f}  {result['runner_runs_s']}")
    print(f"{'  of which backend.generate':<34}{min(inside):>8.3f}{statistics.median(inside):>10.3f}  {result['runner_generate_s']}")
    print(f"overhead A/B (min) {100 * overhead:+.2f}%, split (median) {100 * split:+.2f}% (target ≤ {100 * TARGET:.0f}%): "
          f"{'PASS' if result['pass'] else 'FAIL'}; {len(requests)} requests, {tokens} completion tokens")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    backend.close()


if __name__ == "__main__":
    main()
