"""Accuracy on labelled cases, ours beside raw math-verify: the held-out cases
(tests/grading_cases_heldout.py, by failure class) and the shared real outputs
(../shared/gradecorpus/real_outputs.jsonl). Prints false positives / false negatives per class for
both graders and writes every case's two verdicts to benchmarks/results/grading_heldout.json, so a
reader sees where we differ from math-verify and why (the case's note).

math-verify is run as it is usually called: ``verify(parse("\\boxed{gold}"), parse(text))`` with its
default extraction; it has no notion of an unclosed ``<think>`` or of choice letters beyond what its
parser finds.

    python benchmarks/grading_heldout.py [--corpus ../shared/gradecorpus]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "grading_heldout.json"


def math_verify_verdict(gold: str, text: str) -> bool:
    from math_verify import parse, verify

    try:
        return bool(verify(parse("\\boxed{" + gold + "}"), parse(text)))
    except Exception:  # noqa: BLE001 - a crash is "not equal" for the comparison
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.environ.get("REASONFLUX_GRADECORPUS") or str(ROOT.parent / "shared" / "gradecorpus"))
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    import logging

    logging.disable(logging.CRITICAL)
    from grading_cases_heldout import HELDOUT

    from reasonflux.grading import grade_many

    cases = [{"set": "heldout", "id": c.id, "cls": c.cls, "kind": c.kind, "gold": c.gold, "text": c.given, "mode": c.mode,
              "prefilled": c.prefilled, "expected": c.correct, "note": c.note} for c in HELDOUT]
    real = Path(args.corpus) / "real_outputs.jsonl"
    if real.is_file():
        for line in real.open(encoding="utf-8"):
            r = json.loads(line)
            cases.append({"set": "real_outputs", "id": r["id"], "cls": "real", "kind": "math", "gold": r["gold"], "text": r["response"],
                          "mode": "response", "prefilled": False, "expected": bool(r["label"]), "note": r.get("label_source", "")})
    items = [{"gold": c["gold"], "kind": c["kind"], "prefilled": c["prefilled"],
              **({"answer": c["text"]} if c["mode"] == "answer" else {"response": c["text"]})} for c in cases]
    verdicts = grade_many(items, workers=2, timeout=10.0)
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = []
    for c, v in zip(cases, verdicts):
        mv = math_verify_verdict(c["gold"], c["text"] if c["mode"] == "response" else f"${c['text']}$")
        s = per[c["cls"]]
        s["n"] += 1
        s["pos"] += c["expected"]
        s["ours_fp"] += v.correct and not c["expected"]
        s["ours_fn"] += c["expected"] and not v.correct
        s["mv_fp"] += mv and not c["expected"]
        s["mv_fn"] += c["expected"] and not mv
        rows.append({"set": c["set"], "id": c["id"], "class": c["cls"], "gold": c["gold"], "text": c["text"][-300:],
                     "expected": c["expected"], "ours": v.correct, "reason": v.reason, "extracted": v.extracted,
                     "math_verify": mv, "note": c["note"]})
    total = defaultdict(int)
    print(f"{'class':<10}{'cases':>7}{'correct':>9}{'ours FP':>9}{'ours FN':>9}{'m-v FP':>9}{'m-v FN':>9}")
    for cls in sorted(per):
        s = per[cls]
        for k, x in s.items():
            total[k] += x if cls != "real" else 0
        print(f"{cls:<10}{s['n']:>7}{s['pos']:>9}{s['ours_fp']:>9}{s['ours_fn']:>9}{s['mv_fp']:>9}{s['mv_fn']:>9}")
    print(f"{'held-out':<10}{total['n']:>7}{total['pos']:>9}{total['ours_fp']:>9}{total['ours_fn']:>9}{total['mv_fp']:>9}{total['mv_fn']:>9}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"per_class": {k: dict(v) for k, v in per.items()}, "heldout_total": dict(total),
               "differ": sum(r["ours"] != r["math_verify"] for r in rows), "cases": rows}
    out.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(f"ours and math-verify differ on {summary['differ']} of {len(rows)} cases; wrote {out}")


if __name__ == "__main__":
    main()
