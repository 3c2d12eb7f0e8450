"""How fast a broken backend stops ``reasonflux eval``, and what it leaves behind: the CLI in a
subprocess against the scripted OpenAI-compatible server (real HTTP on 127.0.0.1), default retry
settings unless a scenario says otherwise.

Scenarios: a server that was never started; a server killed mid-run (default ``--max-retries 6``,
concurrency 64, and ``--max-retries 1``); and the rerun with the server back (requests sent must
equal the samples left unfinished). Prints a table, writes benchmarks/results/eval_failures.json.

    .venv/bin/python benchmarks/eval_failures.py
    .venv/bin/python benchmarks/eval_failures.py --limit 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "eval_failures.json"
KILL_AT = 150  # the server dies when this request (0-based) arrives


def answer(body: dict, index: int) -> dict:
    content = body["messages"][-1]["content"]
    return {"text": f"</think> \\boxed{{{len(content) % 7}}}", "completion_tokens": 9}


def eval_cli(url: str, out: Path, data_dir: str, limit: int, *extra: str) -> tuple[int, float, str]:
    cmd = [sys.executable, "-m", "reasonflux.cli", "eval", "--backend", "openai", "--base-url", url, "--model", "served",
           "--benchmarks", "math500", "--limit", str(limit), "--max-tokens", "64", "--data-dir", data_dir,
           "--out", str(out), "--quiet", *extra]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    return r.returncode, time.monotonic() - t0, lines[-1] if lines else ""


def counts(out: Path) -> tuple[int, int]:
    from reasonflux.evals import store

    rows = store.read_samples(out / store.SAMPLES)
    return sum(not store.is_failure(s) for s in rows), sum(store.is_failure(s) for s in rows)


def main() -> None:
    from reasonflux.testing.server import ScriptedServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=300, help="MATH500 problems (one sample each)")
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(ROOT.parent / "shared" / "benchdata"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        rc, took, line = eval_cli(f"http://127.0.0.1:{port}/v1", Path(tmp) / "never", args.data_dir, args.limit)
        rows.append({"scenario": "server never started", "exit": rc, "seconds": round(took, 1), "done": 0, "failed": 0,
                     "pending": args.limit, "line": line})
        for label, extra in (("killed mid-run, --max-retries 6", ()), ("killed mid-run, --max-retries 1", ("--max-retries", "1"))):
            holder: list = []

            def dying(body: dict, index: int):  # noqa: ANN202
                if index == KILL_AT:
                    threading.Thread(target=holder[0].close, daemon=True).start()
                return answer(body, index)

            holder.append(ScriptedServer(dying))
            out = Path(tmp) / label.split(",")[1].strip().replace(" ", "")
            rc, took, line = eval_cli(holder[0].base_url, out, args.data_dir, args.limit, *extra)
            holder[0].close()
            done, failed = counts(out)
            rows.append({"scenario": label, "exit": rc, "seconds": round(took, 1), "done": done, "failed": failed,
                         "pending": args.limit - done, "line": line})
            with ScriptedServer(answer) as back:
                rc2, took2, _ = eval_cli(back.base_url, out, args.data_dir, args.limit)
                sent = len(back.requests)
            done2, failed2 = counts(out)
            rows.append({"scenario": f"  rerun, server back ({label.split(',')[1].strip()})", "exit": rc2, "seconds": round(took2, 1),
                         "done": done2, "failed": failed2, "pending": args.limit - done2, "requests_sent": sent,
                         "sent_equals_unfinished": sent == args.limit - done, "line": ""})
    print(f"{'scenario':<36} {'exit':>4} {'s':>6} {'done':>5} {'failed':>6} {'pending':>7}  sent")
    for r in rows:
        print(f"{r['scenario']:<36} {r['exit']:>4} {r['seconds']:>6} {r['done']:>5} {r['failed']:>6} {r['pending']:>7}  "
              f"{r.get('requests_sent', '')}")
    for r in rows:
        if r["line"]:
            print(f"{r['scenario']}: {r['line']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"limit": args.limit, "kill_at_request": KILL_AT, "machine": platform.machine(),
                                   "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
