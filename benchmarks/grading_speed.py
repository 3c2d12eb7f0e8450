"""Grading speed: our ``grade_many`` (2 worker processes) against math-verify's plain
``verify(parse(gold), parse(response))`` in one process, on the same MATH500-style responses, in
one run; checks that the verdicts are identical and prints the mismatches.

Responses: for every MATH500 problem one correct response (its own answer boxed) and one wrong
response (another problem's answer boxed), each a ``<think>`` block padded to ~1-2 KB with text
from the reference solution (boxes removed) and a short final part. The baseline parses the gold
as ``\\boxed{gold}`` (math-verify's usual way to read a reference answer) with default configs.

    python benchmarks/grading_speed.py --data-dir ../shared/benchdata
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "grading_speed.json"
TARGET_BYTES = (1000, 2000)  # response size range
WRONG_OFFSET = 7  # the wrong response of problem i boxes the answer of problem i + 7
FINAL = "</think>\n\nPutting the steps together, the final answer is $\\boxed{{{answer}}}$."


def build_pairs(data_dir: Path, limit: int | None = None) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (data_dir / "math500" / "test.jsonl").open(encoding="utf-8")]
    if limit:
        rows = rows[:limit]
    pairs = []
    for i, row in enumerate(rows):
        pad = re.sub(r"\\(?:boxed|fbox)\s*\{", "{", row["solution"])
        while len(pad) < TARGET_BYTES[0]:
            pad += "\n\nLet me double-check this step by step. " + pad
        pad = pad[: TARGET_BYTES[1] - 200]
        j = (i + WRONG_OFFSET) % len(rows)
        k = 1
        while rows[j]["answer"].strip() == row["answer"].strip():
            j = (i + WRONG_OFFSET + k) % len(rows)
            k += 1
        for answer, correct in ((row["answer"], True), (rows[j]["answer"], False)):
            pairs.append({"gold": row["answer"], "response": "<think>\n" + pad + "\n" + FINAL.format(answer=answer),
                          "built_correct": correct})
    return pairs


def run_ours(pairs: list[dict[str, str]], workers: int, timeout: float) -> tuple[list, float]:
    from reasonflux.grading import grade_many

    t = time.perf_counter()
    verdicts = grade_many([{"gold": p["gold"], "response": p["response"]} for p in pairs], workers=workers, timeout=timeout)
    return verdicts, time.perf_counter() - t


def run_baseline(pairs: list[dict[str, str]]) -> tuple[list[bool], float]:
    from math_verify import parse, verify

    t = time.perf_counter()
    out = [bool(verify(parse("\\boxed{" + p["gold"] + "}"), parse(p["response"]))) for p in pairs]
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "benchdata"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--limit", type=int, default=None, help="use the first N problems only")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from reasonflux.grading.api import CACHE
    from reasonflux.grading.pool import close_shared_pool, shared_pool

    pairs = build_pairs(Path(args.data_dir), args.limit)
    sizes = [len(p["response"].encode()) for p in pairs]

    ours_cold, t_cold = run_ours(pairs, args.workers, args.timeout)  # includes starting the workers
    CACHE.clear()
    ours_warm, t_warm = run_ours(pairs, args.workers, args.timeout)  # workers already running
    pool = shared_pool()
    stats = {"workers_started": pool.started_total, "workers_killed": pool.killed_total}
    close_shared_pool()
    base, t_base = run_baseline(pairs)

    ours = [v.correct for v in ours_cold]
    mismatches = [
        {"gold": p["gold"], "extracted": v.extracted, "ours": v.correct, "reason": v.reason, "math_verify": b,
         "built_correct": p["built_correct"]}
        for p, v, b in zip(pairs, ours_cold, base) if v.correct != b
    ]
    wrong_vs_built = sum(1 for p, o in zip(pairs, ours) if o != p["built_correct"])
    n = len(pairs)
    result = {
        "pairs": n, "response_bytes": {"min": min(sizes), "mean": round(sum(sizes) / n), "max": max(sizes)},
        "workers": args.workers, "timeout_s": args.timeout,
        "ours_cold_s": round(t_cold, 3), "ours_warm_s": round(t_warm, 3), "math_verify_s": round(t_base, 3),
        "ours_cold_pairs_per_s": round(n / t_cold, 1), "ours_warm_pairs_per_s": round(n / t_warm, 1),
        "math_verify_pairs_per_s": round(n / t_base, 1),
        "speedup_cold": round(t_base / t_cold, 2), "speedup_warm": round(t_base / t_warm, 2),
        "identical_verdicts": not mismatches, "mismatches": mismatches,
        "ours_vs_construction_disagreements": wrong_vs_built,
        "timeouts": sum(v.reason == "timeout" for v in ours_cold), **stats,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(f"{'grader':<34}{'seconds':>9}{'pairs/s':>10}{'speedup':>9}")
    print(f"{'math-verify verify(parse, parse)':<34}{t_base:>9.2f}{n / t_base:>10.1f}{1.0:>9.2f}")
    print(f"{'grade_many, 2 workers, cold':<34}{t_cold:>9.2f}{n / t_cold:>10.1f}{t_base / t_cold:>9.2f}")
    print(f"{'grade_many, 2 workers, warm':<34}{t_warm:>9.2f}{n / t_warm:>10.1f}{t_base / t_warm:>9.2f}")
    print(f"{n} pairs, {result['response_bytes']['mean']} B mean response; verdicts identical: "
          f"{not mismatches} ({len(mismatches)} mismatches); ours vs construction: {wrong_vs_built} differ")
    for m in mismatches[:20]:
        print(f"  mismatch: gold={m['gold']!r} extracted={m['extracted']!r} ours={m['ours']} math-verify={m['math_verify']} built={m['built_correct']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
