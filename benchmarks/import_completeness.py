"""Import completeness and answer quality on the real ReasonFlux-v1 template library
(../shared/upstream, 420 templates; read from there, never copied): templates imported, examples
whose problem / solution / answer were split out, how each answer was found, how long the answers
are, a hand check of 30 random examples, literal backslash-n sequences left, and the warning summary.

Measured automatically: "problem" = a problem statement separated from the worked solution (not
the placeholder; 22 source examples are "Example k Analysis: ..." with no problem in them, and
none is invented), "answer" = not the "(not stated ...)" placeholder, "split" = both plus a
non-empty solution. Each answer is classed by its source (``split_example``): explicit in the
source -- a dict key, ``\\boxed{}``, an "Answer: / Conclusion:" line ("marker"), or a "the answer /
the minimum value / the range ... is X", "choose B" phrase ("stated") -- or heuristic: the final
"therefore ..." sentence or the final step, cut to its last equation / result phrase. Length is in
characters; an answer of at most 40 is "short" (a value or expression rather than a sentence).

Hand check: ``import_answer_handcheck.json`` beside this file holds verdicts written by a person
for 30 examples drawn with ``random.Random(17).sample(range(420), 30)``, with the answer each
verdict was given for and the rule used, plus 20 drawn from the heuristic answers alone
(``random.Random(18)``), plus a fresh 20 (``random.Random(19)`` over the heuristic answers outside the
seed-18 sample) drawn before the heuristic rules were last changed and not tuned on. A verdict whose
answer has since changed is reported as stale (re-judge it), not counted.

    .venv/bin/python benchmarks/import_completeness.py [--file ../shared/upstream/reasonflux_v1_template_library.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import sys
from pathlib import Path

from reasonflux.templates.importer import ANSWER_MISSING, import_file, split_example

REPO = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("REASONFLUX_UPSTREAM") or REPO.parent / "shared" / "upstream") / "reasonflux_v1_template_library.json"
RESULTS = Path(__file__).parent / "results" / "import_completeness.json"
HANDCHECK = Path(__file__).parent / "import_answer_handcheck.json"


def _sha(text: str) -> str:
    """How the hand check names the answer it judged (the upstream text itself is not copied here)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
NO_PROBLEM = "(see the solution)"
EXPLICIT = ("key", "boxed", "marker", "stated")
HEURISTIC = ("final sentence", "final step")
SHORT = 40
SAMPLE_SEED, SAMPLE_N = 17, 30


def _lengths(xs: list[int]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    q = statistics.quantiles(xs, n=10) if len(xs) > 1 else [xs[0]] * 9
    return {"n": len(xs), "median": statistics.median(xs), "p90": round(q[8], 1), "max": max(xs),
            f"short (<={SHORT})": sum(x <= SHORT for x in xs), "over 80": sum(x > 80 for x in xs)}


def sample_indices(n: int) -> list[int]:
    return sorted(random.Random(SAMPLE_SEED).sample(range(n), min(SAMPLE_N, n)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(DEFAULT))
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--show-sample", action="store_true", help="print the hand-check sample (id, problem, answer) and exit")
    args = ap.parse_args()
    if not Path(args.file).is_file():
        print(f"upstream library not found: {args.file}", file=sys.stderr)
        return 2
    raw = json.loads(Path(args.file).read_text(encoding="utf-8"))
    flat = [t for secs in raw.values() for items in secs.values() for t in items]
    res = import_file(args.file, id_prefix="v1")
    n = len(res.templates)
    if n != len(flat):
        print(f"imported {n} of {len(flat)}; the answer classes below need one template per source item", file=sys.stderr)
        return 1
    ex = [t["example"] for t in res.templates]
    how = [split_example(t.get("example_application"))[2] or "none" for t in flat]
    summary = res.summary()
    if args.show_sample:
        for i in sample_indices(n):
            e = ex[i]
            print(f"## {res.templates[i]['id']} [{how[i]}]\nP: {e['problem'][:200]!r}\nS: ...{e['solution'][-240:]!r}\nA: {e['answer']!r}\n")
        return 0
    has_p = [e["problem"] != NO_PROBLEM for e in ex]
    has_a = [e["answer"] != ANSWER_MISSING for e in ex]
    split = [p and a and bool(e["solution"].strip()) for p, a, e in zip(has_p, has_a, ex)]
    short = [a and len(e["answer"]) <= SHORT for a, e in zip(has_a, ex)]
    texts = [s for t in res.templates for s in (t["description"], t["applicability"], *t["steps"], *t["example"].values())]
    rows = {
        "templates in file": len(flat),
        "templates imported": n,
        "problem split out": sum(has_p),
        "answer found": sum(has_a),
        "  explicit: dict key": how.count("key"),
        "  explicit: \\boxed{}": how.count("boxed"),
        "  explicit: Answer:/Conclusion:": how.count("marker"),
        "  explicit: 'the X is ..'/'choose B'": how.count("stated"),
        "  heuristic: final sentence": how.count("final sentence"),
        "  heuristic: final step": how.count("final step"),
        f"answer short (<={SHORT} chars)": sum(short),
        "problem+solution+answer split": sum(split),
        "  ... with an explicit answer": sum(s and h in EXPLICIT for s, h in zip(split, how)),
        "  ... with an explicit or short answer": sum(s and (h in EXPLICIT or sh) for s, h, sh in zip(split, how, short)),
        "literal \\n left": sum(bool(re.search(r"\\n(?!eq|u\b|ot|abla|eg|i\b|ewline|onumber)", s)) for s in texts),
    }
    lengths = {cls: _lengths([len(e["answer"]) for e, h in zip(ex, how) if h in group])
               for cls, group in (("explicit", EXPLICIT), ("heuristic", HEURISTIC), ("all", EXPLICIT + HEURISTIC))}

    hand: dict = {}
    if HANDCHECK.is_file():
        hc = json.loads(HANDCHECK.read_text(encoding="utf-8"))
        by_id = {t["id"]: (t["example"]["answer"], h) for t, h in zip(res.templates, how)}
        judged = [v for v in hc["verdicts"] if v["id"] in by_id and _sha(by_id[v["id"]][0]) == v["answer_sha256"]]
        stale = [v["id"] for v in hc["verdicts"] if v not in judged]
        ok = [v for v in judged if v["ok"]]
        heur = [v for v in judged if by_id[v["id"]][1] in HEURISTIC]
        hand = {"rule": hc["rule"], "judged": len(judged), "ok": len(ok), "stale (answer changed; re-judge)": stale,
                "heuristic judged": len(heur), "heuristic ok": sum(v["ok"] for v in heur),
                "not ok": [f"{v['id']}: {v.get('why', '')}" for v in judged if not v["ok"]]}
        hv = hc.get("heuristic_verdicts", [])
        hjudged = [v for v in hv if v["id"] in by_id and _sha(by_id[v["id"]][0]) == v["answer_sha256"]]
        hand["heuristic sample (20 of the heuristic answers)"] = {
            "judged": len(hjudged), "ok": sum(v["ok"] for v in hjudged), "stale": [v["id"] for v in hv if v not in hjudged],
            "not ok": [f"{v['id']}: {v.get('why', '')}" for v in hjudged if not v["ok"]]}
        fv = hc.get("fresh_verdicts", [])
        fjudged = [v for v in fv if v["id"] in by_id and _sha(by_id[v["id"]][0]) == v["answer_sha256"]]
        hand["heuristic sample, fresh (seed 19)"] = {
            "judged": len(fjudged), "ok": sum(v["ok"] for v in fjudged), "stale": [v["id"] for v in fv if v not in fjudged],
            "not ok": [f"{v['id']}: {v.get('why', '')}" for v in fjudged if not v["ok"]]}
        heur_idx = [i for i, h in enumerate(how) if h in HEURISTIC]
        seed18 = {v["id"] for v in hv}
        pool = [i for i in heur_idx if res.templates[i]["id"] not in seed18]
        fresh_ids = {res.templates[i]["id"] for i in random.Random(19).sample(pool, min(20, len(pool)))}
        if fv and {v["id"] for v in fv} != fresh_ids:
            hand["fresh warning"] = "the fresh verdicts are not for the seed-19 sample of the current heuristic answers"
        sample_ids = {res.templates[i]["id"] for i in sample_indices(n)}
        if {v["id"] for v in hc["verdicts"]} != sample_ids:
            hand["warning"] = "the verdicts are not for the current random sample (run --show-sample)"

    print(f"{'measure':40s} {'count':>6s} {'share':>7s}")
    for k, v in rows.items():
        print(f"{k:40s} {v:6d} {100 * v / max(1, n):6.1f}%")
    stating = sum(has_p)  # the other examples hold no problem statement to split out (ids below)
    print(f"problem+solution+answer split, of the {stating} examples that state a problem: "
          f"{sum(split)} ({100 * sum(split) / max(1, stating):.1f}%)")
    no_problem = [t["id"] for t, p in zip(res.templates, has_p) if not p]
    print(f"{len(no_problem)} examples state no problem (the source gives only an analysis): {', '.join(no_problem)}")
    print("answer length (chars): " + "; ".join(f"{k}: " + ", ".join(f"{a} {b}" for a, b in d.items()) for k, d in lengths.items()))
    if hand:
        print(f"hand check: {hand['ok']}/{hand['judged']} answers usable ({hand['heuristic ok']}/{hand['heuristic judged']} of the heuristic ones)"
              + (f"; stale: {len(hand['stale (answer changed; re-judge)'])}" if hand["stale (answer changed; re-judge)"] else "")
              + (f"; {hand['warning']}" if "warning" in hand else ""))
        hs = hand["heuristic sample (20 of the heuristic answers)"]
        print(f"hand check, heuristic answers only: {hs['ok']}/{hs['judged']} usable" + (f"; stale: {len(hs['stale'])}" if hs["stale"] else ""))
        fs = hand["heuristic sample, fresh (seed 19)"]
        print(f"hand check, heuristic answers, fresh sample (seed 19): {fs['ok']}/{fs['judged']} usable"
              + (f"; stale: {len(fs['stale'])}" if fs["stale"] else "") + (f"; {hand['fresh warning']}" if "fresh warning" in hand else ""))
    print("warnings by kind: " + "; ".join(f"{k}: {v}" for k, v in summary.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out = {"file": Path(args.file).name, "rows": rows, "examples stating a problem": stating,
           "split, of the examples stating a problem": sum(split),
           "examples stating no problem": no_problem, "answer_length": lengths, "hand_check": hand,
           "hand_check_verdicts": json.loads(HANDCHECK.read_text(encoding="utf-8")) if HANDCHECK.is_file() else {},
           "warnings": summary}
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
