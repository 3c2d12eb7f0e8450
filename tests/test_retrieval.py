"""Retrieval: tokenisation of math text, flat vs hierarchical BM25, the on-disk index cache, and
recall on the team's labeled sets (tests/data/retrieval_*.jsonl) against the builtin library."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reasonflux.templates import retrieve as R
from reasonflux.templates.library import Library, Template, builtin_paths, load_library

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "templates_small.jsonl"
LABELED = sorted((Path(__file__).parent / "data").glob("retrieval_*.jsonl"))
RECALL5_GOAL = 0.8
# Flat and hierarchical differ by a few problems on this library (~1.5 templates per section): the
# default must be the better one up to this many recall points (3 of ~200 problems), not a coin flip.
TIE_TOLERANCE = 0.015


def _tpl(tid: str, domain: str, section: str, name: str, desc: str) -> Template:
    return Template.from_dict({
        "id": tid, "name": name, "domain": domain, "section": section, "tags": [name.lower()], "description": desc,
        "applicability": desc, "steps": [desc], "example": {"problem": "p", "solution": "s", "answer": "1"}, "source": "test"})


def test_tokenize_math_text():
    toks = R.tokenize(r"Find $n$ such that $n \equiv 3 \pmod{7}$, $\binom{10}{3}$, 5! and $\frac{1}{2}$; Inclusion-Exclusion counting")
    assert [t for t in toks if not t.startswith("~")] == [
        "congruent", "mod", "binomial", "factorial", "inclusion", "exclusion", "inclusionexclusion", "count"]
    shapes = R.tokenize("A sequence has a_1 = 1 and a_(n+2) = a_(n+1) + 6a_n. Let z = cos(2pi/5) + i sin(2pi/5); "
                        "x^2 + y^2 = 625; g((x - 1)/x) = 7^2024")
    assert {"~indexshift", "~subscript", "~complex", "~sumsq", "~moebius", "~bigpow", "sequenc", "sin"} <= set(shapes)
    assert R.tokenize("triangles") == R.tokenize("triangle") and R.tokenize("probabilities") == R.tokenize("probability")
    assert R.tokenize("x y 12 the of") == []


def test_hierarchical_uses_section_and_domain_scores(tmp_path):
    # Two templates with the same text in different sections: flat BM25 ties them (library order
    # wins); the hierarchical retriever prefers the one whose section siblings match the query.
    lib = Library([
        _tpl("geo.widget", "geometry", "circles", "Widget method", "apply the widget transform"),
        _tpl("comb.widget", "combinatorics", "basics", "Widget method", "apply the widget transform"),
        _tpl("comb.seating", "combinatorics", "basics", "Round table seating", "arrangements of people around a table in a row"),
    ])
    idx = R.load_index(lib, tmp_path)
    query = "use the widget transform to count arrangements of people in a row"
    flat = [h.template.id for h in R.Retriever(lib, idx, "flat").search(query, 3)]
    hier_hits = R.Retriever(lib, idx, "hierarchical").search(query, 3)
    hier = [h.template.id for h in hier_hits]
    assert flat.index("geo.widget") < flat.index("comb.widget")
    assert hier.index("comb.widget") < hier.index("geo.widget")
    # the combined score is the documented formula of the per-level scores
    r = R.Retriever(lib, idx, "hierarchical")
    total, levels = r.scores(query)
    for h in hier_hits:
        i = idx.template_ids.index(h.template.id)
        expect = (levels["template"][i] / levels["template"].max() + R.W_SECTION * levels["section"][i] / levels["section"].max()
                  + R.W_DOMAIN * levels["domain"][i] / levels["domain"].max())
        assert h.score == pytest.approx(expect) == pytest.approx(total[i])
    assert R.Retriever(lib, idx, "flat").search("zzz unknown words", 3) == []


def test_index_is_cached_on_disk_and_reused(tmp_path):
    lib = load_library(SMALL)
    first = R.load_index(lib, tmp_path)
    assert first.built and first.path is not None and (first.path / "meta.json").is_file()
    assert first.path.name.startswith(lib.hash[:20])
    stamp = {p: p.stat().st_mtime_ns for p in first.path.rglob("*")}
    second = R.load_index(lib, tmp_path)
    assert not second.built and second.path == first.path
    assert {p: p.stat().st_mtime_ns for p in first.path.rglob("*")} == stamp  # nothing rewritten
    q = "expected number of fixed points of a random permutation"
    a = [(h.template.id, h.score) for h in R.Retriever(lib, first).search(q, 5)]
    b = [(h.template.id, h.score) for h in R.Retriever(lib, second).search(q, 5)]
    assert a == b and a[0][0] == "prob.expected-value-linearity"
    # a damaged cache is rebuilt, not trusted; another library gets its own directory
    (first.path / "meta.json").write_text("{broken")
    assert R.load_index(lib, tmp_path).built
    other = Library(lib.templates[:5])
    assert R.load_index(other, tmp_path).path != first.path


def test_get_retriever_uses_env_cache_and_memoises(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path))
    r1 = R.get_retriever(str(SMALL), "flat")
    assert r1 is R.get_retriever(str(SMALL), "flat")
    assert r1.index.path is not None and str(r1.index.path).startswith(str(tmp_path))
    with pytest.raises(Exception, match="unknown retriever"):
        R.get_retriever(str(SMALL), "magic")


@pytest.mark.skipif(not os.environ.get(R.EMBED_MODEL_ENV), reason=f"no local embedding model (${R.EMBED_MODEL_ENV})")
def test_embeddings_retriever(tmp_path):
    pytest.importorskip("sentence_transformers")
    r = R.EmbeddingRetriever(load_library(SMALL), cache_dir=tmp_path)
    assert r.search("distribute identical balls into boxes", 3)[0].template.id == "comb.stars-and-bars"


# --------------------------------------------------------------------------- recall on labeled sets

def _labeled() -> list[dict]:
    if not LABELED or not builtin_paths():
        pytest.skip("labeled retrieval sets or builtin library not written yet")
    rows = [json.loads(ln) for p in LABELED for ln in p.read_text().splitlines() if ln.strip()]
    return rows


def test_labeled_sets_point_at_builtin_templates():
    rows = _labeled()
    lib = load_library("builtin")
    missing = sorted({r["template_id"] for r in rows} - set(lib.by_id))
    assert not missing, f"labels name templates the library lacks: {missing}"
    assert sum(1 for r in rows if lib.by_id[r["template_id"]].domain not in ("physics", "chemistry", "biology")) >= 60


def test_recall_of_default_retriever(tmp_path):
    rows = _labeled()
    lib = load_library("builtin")
    idx = R.load_index(lib, tmp_path)
    res = {mode: R.evaluate(R.Retriever(lib, idx, mode), rows) for mode in ("flat", "hierarchical")}
    summary = {m: {k: v for k, v in r.items() if k != "misses"} for m, r in res.items()}
    best = max(res, key=lambda m: (res[m]["recall@5"], res[m]["recall@1"]))
    assert res[R.DEFAULT_MODE]["recall@5"] >= res[best]["recall@5"] - TIE_TOLERANCE, summary
    assert res[R.DEFAULT_MODE]["recall@5"] >= RECALL5_GOAL, summary
