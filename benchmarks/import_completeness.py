"""Import completeness on the real ReasonFlux-v1 template library (../shared/upstream, 420 templates;
read from there, never copied): templates imported, examples whose problem / solution / answer were
split out, how each answer was found (a key or marker in the source, ``\\boxed{}``, or the heuristic
"final step / final sentence" fallbacks), literal backslash-n sequences left, and the warning summary.

Measured automatically: "problem" = a problem statement separated from the worked solution (not
the placeholder), "answer" = not the "(not stated ...)" placeholder, "split" = both plus a non-empty
solution. The heuristic answers are counted apart because they may be a whole last step rather than
a bare value.

    .venv/bin/python benchmarks/import_completeness.py [--file ../shared/upstream/reasonflux_v1_template_library.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from reasonflux.templates.importer import ANSWER_MISSING, import_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("REASONFLUX_UPSTREAM") or REPO.parent / "shared" / "upstream") / "reasonflux_v1_template_library.json"
RESULTS = Path(__file__).parent / "results" / "import_completeness.json"
NO_PROBLEM = "(see the solution)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(DEFAULT))
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    if not Path(args.file).is_file():
        print(f"upstream library not found: {args.file}", file=sys.stderr)
        return 2
    raw = json.loads(Path(args.file).read_text(encoding="utf-8"))
    n_raw = sum(len(items) for secs in raw.values() for items in secs.values())
    res = import_file(args.file, id_prefix="v1")
    ex = [t["example"] for t in res.templates]
    n = len(ex)
    summary = res.summary()
    heuristic = summary.get("answer taken from the final step", 0) + summary.get("answer taken from the final sentence", 0)
    texts = [s for t in res.templates for s in (t["description"], t["applicability"], *t["steps"], *t["example"].values())]
    rows = {
        "templates in file": n_raw,
        "templates imported": n,
        "problem split out": sum(e["problem"] != NO_PROBLEM for e in ex),
        "answer found": sum(e["answer"] != ANSWER_MISSING for e in ex),
        "  of which by key/marker/boxed": sum(e["answer"] != ANSWER_MISSING for e in ex) - heuristic,
        "  of which final step/sentence": heuristic,
        "problem+solution+answer split": sum(e["problem"] != NO_PROBLEM and e["answer"] != ANSWER_MISSING and bool(e["solution"].strip()) for e in ex),
        "literal \\n left": sum(bool(re.search(r"\\n(?!eq|u\b|ot|abla|eg|i\b|ewline|onumber)", s)) for s in texts),
    }
    print(f"{'measure':34s} {'count':>6s} {'share':>7s}")
    for k, v in rows.items():
        print(f"{k:34s} {v:6d} {100 * v / max(1, n):6.1f}%")
    print("warnings by kind: " + "; ".join(f"{k}: {v}" for k, v in summary.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"file": Path(args.file).name, "rows": rows, "warnings": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
