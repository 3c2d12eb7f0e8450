"""The gradient-boosted trees behind decontamination's learned judge (reasonflux/synth/trees.py)."""

from __future__ import annotations

import json
import random

import pytest

from reasonflux.synth.trees import Trees, fit


def _toy(n: int = 600, seed: int = 0):
    """A label that needs two features together (an interaction no single cut finds), plus noise."""
    rng = random.Random(seed)
    x = [[rng.random(), rng.random(), rng.random()] for _ in range(n)]
    y = [int(a > 0.5 and b > 0.5) for a, b, _ in x]
    return x, y


def test_trees_learn_an_interaction_and_ignore_noise():
    x, y = _toy()
    trees = fit(x, y, ["a", "b", "noise"], n_trees=60, rate=0.2, depth=3, min_leaf=5)
    test_x, test_y = _toy(400, seed=1)
    right = sum((trees.probability(v) >= 0.5) == bool(t) for v, t in zip(test_x, test_y))
    assert right / len(test_y) >= 0.95, right
    assert trees.probability({"a": 0.9, "b": 0.9, "noise": 0.1}) > 0.8
    assert trees.probability({"a": 0.9, "b": 0.1, "noise": 0.9}) < 0.2
    used = {int(n[0]) for t in trees.trees for n in t if n[0] >= 0}
    splits = [int(n[0]) for t in trees.trees for n in t if n[0] >= 0]
    assert {0, 1} <= used and splits.count(2) < 0.1 * len(splits), splits  # the noise is hardly used
    assert trees.meta["rows"] == 600 and trees.meta["positives"] == sum(y)


def test_trees_round_trip_through_json(tmp_path):
    x, y = _toy(200)
    trees = fit(x, y, ["a", "b", "noise"], n_trees=10, rate=0.3, depth=2, min_leaf=5)
    path = tmp_path / "m.json"
    trees.save(path)
    back = Trees.load(path)
    assert back.features == ["a", "b", "noise"] and len(back.trees) == 10
    for v in x[:50]:
        assert back.probability(v) == pytest.approx(trees.probability(v), abs=1e-5)
    assert json.loads(path.read_text())["meta"]["depth"] == 2


def test_a_constant_label_or_a_constant_feature_gives_no_split():
    trees = fit([[1.0], [1.0], [1.0], [1.0]], [1, 0, 1, 0], ["c"], n_trees=3, min_leaf=1)
    assert all(len(t) == 1 and t[0][0] == -1 for t in trees.trees)  # nothing to cut on: leaves only
    assert trees.probability([1.0]) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="2 columns but 1 feature names"):
        fit([[0.0, 1.0]], [1], ["only"])
