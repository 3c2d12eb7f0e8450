"""Grading speed through the CLI, cold: ``reasonflux grade ROWS.jsonl -o OUT`` as a fresh process
(interpreter start, imports, worker pool start included) against math-verify's plain
``verify(parse(\\boxed{gold}), parse(response))`` in one fresh process, on the same rows; prints both
verdicts' agreement with how the rows were built and where the two graders differ.

Rows (``--rows``, default 1000): for MATH500 problems, long-CoT responses (a ``<think>`` block of
``--think-kb`` KB built from the reference solution with its boxes removed, re-checks and hesitation)
and a short final part. Half are correct: mostly the gold boxed as written, some restated
("The final answer is $...$", "**Answer:** ...", ``x = ...``, ``\\dfrac``, and ~2% that only sympy
can confirm: reordered sums with variables, ``\\sqrt{n^2}`` for n); half are wrong (another problem's
answer). 2% are truncated (the prompt opened ``<think>``,
the response never closed it; ``prefilled`` on the row). The machine's load is recorded: other jobs
share the 2 cores.

    python benchmarks/grading_speed.py --data-dir ../shared/benchdata
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "grading_speed.json"
WRONG_OFFSET = 7
FILLERS = ("Wait, let me double-check this step. ", "Hmm, maybe I should verify the arithmetic again. ",
           "Actually, let me reconsider the constraint on the boundary case. ", "Let me recompute: ")

MV_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from math_verify import parse, verify
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
out = []
for r in rows:
    try:
        out.append(bool(verify(parse("\\boxed{" + r["gold"] + "}"), parse(r["response"]))))
    except Exception:
        out.append(False)
json.dump({"verdicts": out, "in_process_s": time.perf_counter() - t0}, open(sys.argv[2], "w"))
"""


def _swap_sum(gold: str) -> str | None:
    """``a+b`` -> ``b+a`` at the top level (an equal answer only sympy can confirm)."""
    depth, cut = 0, None
    for i, ch in enumerate(gold):
        depth += ch in "({[" and 1 or ch in ")}]" and -1 or 0
        if ch == "+" and depth == 0 and i > 0:
            cut = i
            break
    if cut is None or "=" in gold or "," in gold or "\\" in gold[:cut].rstrip()[-1:]:
        return None
    a, b = gold[:cut].strip(), gold[cut + 1:].strip()
    if not a or not b or b.startswith("-"):
        return None
    return f"{b}+{a}"


def _final(gold: str, rng: random.Random) -> tuple[str, bool]:
    """A correct final part for ``gold`` in one of the ways models write it; (text, needs_sympy)."""
    r = rng.random()
    if r < 0.05:
        swapped = _swap_sum(gold) or (f"\\sqrt{{{int(gold) ** 2}}}" if re.fullmatch(r"\d{1,6}", gold) else None)
        if swapped:
            return f"So the answer is $\\boxed{{{swapped}}}$.", True
    if r < 0.60:
        return f"Putting the steps together, the final answer is $\\boxed{{{gold}}}$.", False
    if r < 0.72:
        return f"The final answer is ${gold}$.", False
    if r < 0.82:
        return f"**Answer:** $\\boxed{{{gold}}}$", False
    if r < 0.90 and re.fullmatch(r"-?\d+", gold):
        return f"Therefore $x = {gold}$, so the answer is $\\boxed{{x = {gold}}}$.", False
    if r < 0.95 and "\\frac" in gold:
        return f"Hence $\\boxed{{{gold.replace(chr(92) + 'frac', chr(92) + 'dfrac')}}}$.", False
    return f"$$\\boxed{{ {gold} }}$$", False


def build_rows(data_dir: Path, n_rows: int, think_kb: tuple[int, int], seed: int = 0) -> list[dict]:
    probs = [json.loads(line) for line in (data_dir / "math500" / "test.jsonl").open(encoding="utf-8")]
    rng = random.Random(seed)
    rows = []
    i = 0
    while len(rows) < n_rows:
        p = probs[i % len(probs)]
        j = (i + WRONG_OFFSET) % len(probs)
        while probs[j]["answer"].strip() == p["answer"].strip():
            j = (j + 1) % len(probs)
        base = re.sub(r"\\(?:boxed|fbox)\s*\{", "{", p["solution"])
        target = rng.randint(*think_kb) * 1024
        think = base
        while len(think) < target:
            think += "\n\n" + rng.choice(FILLERS) + base[: rng.randint(200, 1200)]
        for correct in (True, False):
            if len(rows) >= n_rows:
                break
            gold = p["answer"]
            if correct:
                final, needs = _final(gold, rng)
            else:
                final, needs = f"Putting the steps together, the final answer is $\\boxed{{{probs[j]['answer']}}}$.", False
            truncated = rng.random() < 0.02
            response = think[:target] + ("" if truncated else "\n</think>\n\n" + final)
            rows.append({"id": f"{p['unique_id']}#{int(correct)}", "gold": gold, "response": response, "prefilled": True,
                         "built_correct": correct and not truncated, "needs_sympy": needs and not truncated})
        i += 1
    return rows


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _child_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_cli(rows_path: Path, out_path: Path, workers: int, timeout: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the CLI process and its worker zygote)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cpu = _child_cpu()
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reasonflux.cli", "grade", str(rows_path), "--out", str(out_path),
                           "--workers", str(workers), "--timeout", str(timeout)], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"reasonflux grade failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, _child_cpu() - cpu


def run_math_verify(rows_path: Path, out_path: Path) -> tuple[float, float, list[bool]]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", MV_SCRIPT, str(rows_path), str(out_path)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"math-verify run failed: {proc.stderr[-2000:]}")
    res = json.loads(out_path.read_text())
    return wall, res["in_process_s"], res["verdicts"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(ROOT.parent / "shared" / "benchdata"))
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--think-kb", type=int, nargs=2, default=(6, 16), metavar=("MIN", "MAX"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3, help="cold CLI runs (the best and all are reported)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()

    rows = build_rows(Path(args.data_dir), args.rows, tuple(args.think_kb))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "rows.jsonl"
        src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        load_before = _load()
        cli_runs = [run_cli(src, Path(tmp) / f"graded{k}.jsonl", args.workers, args.timeout) for k in range(args.repeats)]
        cli_walls = [w for w, _ in cli_runs]
        graded = [json.loads(line) for line in (Path(tmp) / "graded0.jsonl").open(encoding="utf-8")]
        mv_wall, mv_inproc, mv = run_math_verify(src, Path(tmp) / "mv.json")
        load_after = _load()
        size = src.stat().st_size

    n = len(rows)
    ours = [bool(g["correct"]) for g in graded]
    built = [r["built_correct"] for r in rows]
    best = min(cli_walls)
    result = {
        "rows": n, "input_mb": round(size / 2 ** 20, 1), "mean_response_kb": round(size / n / 1024, 1),
        "needs_sympy_rows": sum(r["needs_sympy"] for r in rows), "truncated_rows": sum(not r["response"].count("</think>") for r in rows),
        "workers": args.workers, "timeout_s": args.timeout,
        "cli_cold_wall_s": [round(w, 3) for w in cli_walls], "cli_cold_cpu_s": [round(c, 3) for _, c in cli_runs],
        "cli_cold_pairs_per_s_best": round(n / best, 1),
        "cli_cold_pairs_per_s_median": round(n / sorted(cli_walls)[len(cli_walls) // 2], 1),
        "math_verify_wall_s": round(mv_wall, 3), "math_verify_in_process_s": round(mv_inproc, 3),
        "math_verify_pairs_per_s": round(n / mv_wall, 1),
        "ours_vs_built_disagreements": sum(o != b for o, b in zip(ours, built)),
        "math_verify_vs_built_disagreements": sum(m != b for m, b in zip(mv, built)),
        "ours_vs_math_verify": [
            {"id": r["id"], "gold": r["gold"], "extracted": g.get("extracted"), "ours": o, "reason": g.get("reason"),
             "math_verify": m, "built_correct": r["built_correct"]}
            for r, g, o, m in zip(rows, graded, ours, mv) if o != m],
        "reasons": {k: sum(g.get("reason") == k for g in graded) for k in sorted({g.get("reason") for g in graded})},
        "load_avg_before": load_before, "load_avg_after": load_after,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(f"{'grader (fresh process, cold)':<44}{'seconds':>9}{'pairs/s':>10}{'CPU s':>8}{'vs built':>10}")
    print(f"{'math-verify verify(parse, parse), 1 process':<44}{mv_wall:>9.2f}{n / mv_wall:>10.1f}{'':>8}{result['math_verify_vs_built_disagreements']:>10}")
    for k, (w, c) in enumerate(cli_runs):
        print(f"{f'reasonflux grade, {args.workers} workers, run {k + 1}':<44}{w:>9.2f}{n / w:>10.1f}{c:>8.2f}{result['ours_vs_built_disagreements']:>10}")
    print(f"{n} rows, {result['mean_response_kb']} KB mean response, {result['needs_sympy_rows']} need sympy, "
          f"{result['truncated_rows']} truncated; load average before {load_before}, after {load_after}")
    print(f"ours and math-verify differ on {len(result['ours_vs_math_verify'])} rows (listed in the JSON)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
