"""Fit the weights of decontamination's learned embedding path (``reasonflux.synth.decontam``:
``COPY_WEIGHTS``, ``COPY_BIAS``, used with ``COPY_P``) on our labeled sets, and check them by
leave-one-group-out.

Each labeled row is paired with its nearest benchmark problem by embedding cosine
(``copy_features``): a paraphrase row paired with its own benchmark problem is a copy, an innocent
row (or a paraphrase paired with another problem) is not. The model is an L2-regularised logistic
regression (C = 1, as scikit-learn's default) on the raw features, fitted with L-BFGS in torch. The
groups ``_44`` to ``_51`` and ``_52`` to ``_59`` are held out by default (``--hold-out``): they were
written after the fit, so the defaults reproduce the shipped weights.

Leave-one-group-out: for each group of the fitting sets, the model fitted on the others adds its
matches (probability >= ``--p``) to what the other stages already flag on that group; the table
counts the rows gained per class (paraphrase level; stock phrasing = boilerplate + ordinary
innocents; near-topic innocents).

    .venv/bin/python benchmarks/fit_decontam_weights.py [--data-dir ../shared/benchdata] [--hold-out blind_44to51,blind_52to59] [--p 0.8]
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decontam_quality import SETS, fit_inputs, fit_parser, read  # noqa: E402

from reasonflux.synth import decontam as D  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "decontam_weights.json"


def fit(x, y, c: float = 1.0):
    """(weights, bias) of an L2-regularised logistic regression: minimises 0.5 |w|^2 + c * sum of log losses."""
    import torch

    X = torch.tensor(x, dtype=torch.float64)
    Y = torch.tensor(y, dtype=torch.float64)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w * w).sum() + c * torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, Y, reduction="sum")
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().tolist(), float(b.detach())


def label_class(row: dict) -> str:
    if row.get("level"):
        return row["level"]
    return "near-topic" if row.get("kind") == "near-topic" else "stock"


def main() -> int:
    ap = fit_parser(__doc__, "blind_44to51,blind_52to59", RESULTS)
    ap.add_argument("--p", type=float, default=D.COPY_P, help="probability from which the path matches")
    args = ap.parse_args()
    inputs = fit_inputs(args)
    if inputs is None:
        return 2
    model, held = inputs
    t0 = time.perf_counter()
    items = D.benchmark_items(args.data_dir)
    index = D.build_index(items, embed_model=model)
    sim, emb = index.similarity, index.embedding
    saved = dict(D.COPY_WEIGHTS)
    D.COPY_WEIGHTS.clear()  # what the other paths flag, without the learned one (COPY_WEIGHTS empty: off)
    rows, x, y = [], [], []
    for group, (pp, ip) in SETS.items():
        if group in held or not all(p.exists() for p in pp + ip):
            continue
        for row in read(pp) + read(ip):
            text = row["problem"]
            (i, cos), (_, cos2) = emb.neighbours(text, None, 2)
            j = sim.index_of(emb.keys[i])
            feats = D.copy_features(text, sim, j, cos, cos - cos2)
            rows.append({"group": group, "class": label_class(row), "nearest_is_target": emb.keys[i][1] == row.get("benchmark_id"),
                         "flagged": index.find(text) is not None})
            x.append([feats[k] for k in D.COPY_FEATURES])
            y.append(int(bool(row.get("level")) and rows[-1]["nearest_is_target"]))
    D.COPY_WEIGHTS.update(saved)
    print(f"{len(rows)} rows from {len({r['group'] for r in rows})} groups (held out: {', '.join(sorted(held)) or 'none'}), "
          f"features in {time.perf_counter() - t0:.0f}s")
    gained: Counter = Counter()
    total: Counter = Counter()
    for group in sorted({r["group"] for r in rows}):
        tr = [k for k, r in enumerate(rows) if r["group"] != group]
        w, b = fit([x[k] for k in tr], [y[k] for k in tr])
        for k, r in enumerate(rows):
            if r["group"] != group:
                continue
            p = D.copy_probability(dict(zip(D.COPY_FEATURES, x[k])), dict(zip(D.COPY_FEATURES, w)), b)
            if r["class"] in ("light", "moderate", "heavy"):
                gained[r["class"]] += p >= args.p and not r["flagged"] and r["nearest_is_target"]
            else:
                gained[r["class"]] += p >= args.p and not r["flagged"]
    for r in rows:
        total[r["class"]] += 1
    classes = ("light", "moderate", "heavy", "stock", "near-topic")
    print(f"\nleave-one-group-out at p >= {args.p}: rows the learned path adds to the other stages' matches")
    print(" ".join(f"{c:>12s}" for c in classes))
    print(" ".join(f"{f'+{gained[c]}/{total[c]}':>12s}" for c in classes))
    w, b = fit(x, y)
    weights = {k: round(v, 4) for k, v in zip(D.COPY_FEATURES, w)}
    print("\nfitted on all of them (paste into reasonflux/synth/decontam.py):")
    print(f"COPY_WEIGHTS = {weights}")
    print(f"COPY_BIAS = {round(b, 4)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"held_out": sorted(held), "p": args.p, "rows": len(rows),
                                          "leave_one_group_out_gain": {c: gained[c] for c in classes},
                                          "totals": {c: total[c] for c in classes},
                                          "weights": weights, "bias": round(b, 4)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
