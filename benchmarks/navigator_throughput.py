"""Navigator throughput: N problems through the batch-first scheduler against the scripted
OpenAI-compatible server with a fixed latency per request (the openai backend, 64 requests in
flight). Every problem takes the same rounds (plan, adjust, 3 x instruct/solve/judge, final = 12
calls), so the ideal is N problems in the wall time of one. Goal: 64 problems in <= 3 x the wall
time of 1. Also times the old way (one problem after another) for N = 8.

    .venv/bin/python benchmarks/navigator_throughput.py [--latency 0.1] [--sizes 1,8,64]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from reasonflux.backends import load_backend
from reasonflux.reasoning.navigator import Job, NavigatorSettings, reason, reason_many
from reasonflux.templates.retrieve import get_retriever
from reasonflux.testing.server import Fault, ScriptedServer

RESULTS = Path(__file__).parent / "results" / "navigator_throughput.json"
GOAL_RATIO = 3.0
STEPS = 3
PLAN = {"domain": "number_theory", "section": "modular arithmetic", "method": "cycle of powers",
        "tags": ["last digit"], "steps": [f"step {i}" for i in range(1, STEPS + 1)]}


def answer(body: dict) -> str:
    """A scripted navigator and solver that follow the prompt kinds (always valid JSON)."""
    text = body["messages"][0]["content"]
    if "Do not solve it yet" in text:
        return json.dumps(PLAN)
    if "Adapt your plan" in text:
        return json.dumps({"template_id": None, "steps": PLAN["steps"]})
    if "Write the next instruction" in text:
        return "Compute the next power."
    if "Judge the progress" in text:
        return '{"status": "continue", "remaining_steps": []}'
    if "give the final answer" in text:
        return "The last digit is \\boxed{1}."
    return "The powers cycle with period 4."


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.1, help="seconds the server waits before each reply")
    ap.add_argument("--sizes", default="1,8,64")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    retriever = get_retriever("builtin")
    settings = NavigatorSettings(k=3, max_steps=STEPS, json_retries=0, navigator_max_tokens=64, solver_max_tokens=64)
    problems = [f"Find the last digit of {7 + i}^{2024 + i}." for i in range(max(sizes))]
    rows = []
    with ScriptedServer(lambda body, i: Fault.delay(args.latency, answer(body))) as srv:
        backend = load_backend("openai", model="scripted", base_url=srv.base_url, concurrency=64, max_retries=0)
        reason_many(problems[:2], backend, None, retriever, settings)  # warm up connections and the index
        for n in sizes:
            before = len(srv.requests)
            rounds: list[int] = []
            t0 = time.perf_counter()
            traces = reason_many([Job(p) for p in problems[:n]], backend, None, retriever, settings,
                                 on_round=lambda r, k: rounds.append(k))
            wall = time.perf_counter() - t0
            assert all(t.final_answer == "1" and t.fallback_count == 0 for t in traces)
            rows.append({"mode": "batch", "n": n, "wall_s": round(wall, 3), "rounds": len(rounds),
                         "requests": len(srv.requests) - before, "problems_per_s": round(n / wall, 2)})
        n_seq = min(8, max(sizes))
        t0 = time.perf_counter()
        for p in problems[:n_seq]:
            reason(p, backend, None, retriever, settings)
        wall = time.perf_counter() - t0
        rows.append({"mode": "one at a time", "n": n_seq, "wall_s": round(wall, 3), "rounds": None,
                     "requests": None, "problems_per_s": round(n_seq / wall, 2)})
        backend.close()
    base = next(r["wall_s"] for r in rows if r["mode"] == "batch" and r["n"] == 1)
    print(f"scripted server, fixed latency {args.latency:.3f} s per request; {STEPS}-step plans (12 calls per problem)")
    print(f"{'mode':<15}{'N':>5}{'wall s':>10}{'x of N=1':>10}{'rounds':>8}{'requests':>10}{'problems/s':>12}")
    for r in rows:
        print(f"{r['mode']:<15}{r['n']:>5}{r['wall_s']:>10.3f}{r['wall_s'] / base:>10.2f}{r['rounds'] or '-':>8}"
              f"{r['requests'] or '-':>10}{r['problems_per_s']:>12.2f}")
    top = max(sizes)
    ratio = next(r["wall_s"] for r in rows if r["mode"] == "batch" and r["n"] == top) / base
    ok = ratio <= GOAL_RATIO
    print(f"N={top} takes {ratio:.2f} x the wall time of N=1 (goal <= {GOAL_RATIO}): {'met' if ok else 'NOT met'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"latency_s": args.latency, "steps": STEPS, "goal_ratio": GOAL_RATIO, "ratio": round(ratio, 3),
                               "met": ok, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
