"""Gradient-boosted decision trees for a binary label: a small, dependency-free model that
decontamination's learned stage uses (``reasonflux.synth.decontam``).

Fitting (:func:`fit`, numpy) grows each tree depth-first on the Newton step of the logistic loss:
every feature is cut at up to ``bins`` quantiles of its values, a node is split on the cut with the
largest gain ``G_l^2/(H_l+lam) + G_r^2/(H_r+lam) - G^2/(H+lam)`` (``G``, ``H``: sums of the loss's
first and second derivatives over the node's rows), and a leaf's value is ``-G/(H+lam)`` times the
learning rate. Prediction (:meth:`Trees.probability`) is plain Python over a JSON-able structure, so
a fitted model ships as a JSON file and loads without numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


@dataclass
class Trees:
    features: list[str]  # the names of the inputs, in the order the nodes index them
    base: float  # the log-odds every prediction starts from
    trees: list[list[list[float]]] = field(default_factory=list)  # per tree, its nodes: [feature, cut, left, right] or [-1, value]
    meta: dict[str, Any] = field(default_factory=dict)  # how it was fitted (on what, which settings)

    def logit(self, x: dict[str, float] | Sequence[float]) -> float:
        v = [x[k] for k in self.features] if isinstance(x, dict) else x
        z = self.base
        for nodes in self.trees:
            n = nodes[0]
            while n[0] >= 0:
                n = nodes[int(n[2]) if v[int(n[0])] <= n[1] else int(n[3])]
            z += n[1]
        return z

    def probability(self, x: dict[str, float] | Sequence[float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"features": self.features, "base": self.base, "meta": self.meta,
                "trees": [[[round(a, 6) if isinstance(a, float) else a for a in n] for n in t] for t in self.trees]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Trees":
        return cls(list(d["features"]), float(d["base"]), [[list(n) for n in t] for t in d["trees"]], dict(d.get("meta", {})))

    @classmethod
    def load(cls, path: str | Path) -> "Trees":
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")


def fit(x: Any, y: Any, features: list[str], n_trees: int = 200, rate: float = 0.05, depth: int = 4,
        min_leaf: int = 20, lam: float = 1.0, bins: int = 64) -> Trees:
    """Fit ``n_trees`` trees of at most ``depth`` levels (a leaf holds at least ``min_leaf`` rows) to
    rows ``x`` (n x len(features)) and 0/1 labels ``y``."""
    import numpy as np

    X = np.asarray(x, dtype=np.float64)
    Y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    if d != len(features):
        raise ValueError(f"{d} columns but {len(features)} feature names")
    pos = min(max(Y.mean(), 1e-6), 1 - 1e-6)
    base = math.log(pos / (1 - pos))
    # candidate cuts per feature: midpoints between distinct quantile values
    cuts = []
    for k in range(d):
        q = np.unique(np.quantile(X[:, k], np.linspace(0, 1, bins + 1)))
        cuts.append((q[:-1] + q[1:]) / 2 if len(q) > 1 else np.array([]))
    binned = np.stack([np.searchsorted(cuts[k], X[:, k], side="left") for k in range(d)], axis=1)  # x <= cut[b] iff bin <= b
    width = max(len(c) for c in cuts) + 1
    flat = binned + width * np.arange(d)  # one bincount covers every feature's bins
    z = np.full(n, base)
    out: list[list[list[float]]] = []
    for _ in range(n_trees):
        p = 1.0 / (1.0 + np.exp(-z))
        g, h = p - Y, np.maximum(p * (1 - p), 1e-12)
        nodes: list[list[float]] = []
        step = np.zeros(n)

        def grow(rows: Any, level: int) -> int:
            at = len(nodes)
            nodes.append([])
            G, H = g[rows].sum(), h[rows].sum()
            best = None
            if level < depth and len(rows) >= 2 * min_leaf:
                fb = flat[rows].ravel()
                size = width * d
                gl = np.bincount(fb, weights=np.repeat(g[rows], d), minlength=size).reshape(d, width).cumsum(1)[:, :-1]
                hl = np.bincount(fb, weights=np.repeat(h[rows], d), minlength=size).reshape(d, width).cumsum(1)[:, :-1]
                cl = np.bincount(fb, minlength=size).reshape(d, width).cumsum(1)[:, :-1]
                ok = (cl >= min_leaf) & (len(rows) - cl >= min_leaf)
                for k in range(d):
                    ok[k, len(cuts[k]):] = False  # past this feature's last cut
                if ok.any():
                    gain = gl * gl / (hl + lam) + (G - gl) ** 2 / (H - hl + lam) - G * G / (H + lam)
                    gain[~ok] = -np.inf
                    k, c = np.unravel_index(int(gain.argmax()), gain.shape)
                    if gain[k, c] > 1e-9:
                        best = (int(k), int(c))
            if best is None:
                value = float(-rate * G / (H + lam))
                nodes[at] = [-1, value]
                step[rows] = value
                return at
            k, c = best
            go_left = binned[rows, k] <= c
            li = grow(rows[go_left], level + 1)
            ri = grow(rows[~go_left], level + 1)
            nodes[at] = [k, float(cuts[k][c]), li, ri]
            return at

        grow(np.arange(n), 0)
        z = z + step
        out.append(nodes)
    return Trees(list(features), base, out, {"n_trees": n_trees, "rate": rate, "depth": depth, "min_leaf": min_leaf,
                                             "lam": lam, "bins": bins, "rows": n, "positives": int(Y.sum())})
