"""Template schema, validation, reference import, CLI (search/stats/validate/import), hints, and the
builtin library's acceptance checks (counts, validity, no near-duplicates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reasonflux.errors import UserError
from reasonflux.templates.importer import ANSWER_MISSING, convert, import_file
from reasonflux.templates.library import (
    Library, Template, builtin_paths, load_library, near_duplicates, validate,
)

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "templates_small.jsonl"
REFERENCE = FIXTURES / "reference_templates.json"
MATH_DOMAINS = {"algebra", "number_theory", "combinatorics", "geometry", "probability", "inequalities", "polynomials",
                "sequences_series", "complex_numbers", "trigonometry", "functional_equations"}
SCIENCE_DOMAINS = {"physics", "chemistry", "biology"}


@pytest.fixture()
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    from reasonflux.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def _good(**over) -> dict:
    rec = json.loads(SMALL.read_text().splitlines()[0])
    rec.update(over)
    return rec


def test_validation_reports_every_bad_record_with_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    ok = _good()
    no_steps = {k: v for k, v in _good(id="nt.other").items() if k != "steps"}
    lines = [
        json.dumps(ok),                                               # 1 fine
        json.dumps(no_steps),                                         # 2 steps missing
        json.dumps(_good(id="nt.third", domain="astrology")),         # 3 bad domain
        "{not json",                                                  # 4 broken JSON
        "",                                                           # 5 blank: skipped
        json.dumps(_good()),                                          # 6 repeats the id of line 1
        json.dumps(_good(id="nt.fourth", tags=["Upper"], example={"problem": "p", "solution": "s"})),  # 7
    ]
    bad.write_text("\n".join(lines) + "\n")
    found = {(i.line, i.field) for i in validate(bad)}
    assert found == {(2, "steps"), (3, "domain"), (4, "(json)"), (6, "id"), (7, "tags[0]"), (7, "example.answer")}
    with pytest.raises(UserError) as e:
        load_library(bad)
    msg = str(e.value)
    assert "6 problem(s)" in msg and f"{bad}:3: field 'domain'" in msg and f"{bad}:6: field 'id'" in msg


def test_library_load_stats_and_hash(tmp_path):
    lib = load_library(SMALL)
    assert len(lib) == 14 and lib.get("comb.stars-and-bars").example.answer == "286"
    st = lib.stats()
    assert st["templates"] == 14 and st["domains"]["combinatorics"] == 3 and sum(st["domains"].values()) == 14
    # the hash is of content, not formatting; any edit changes it
    pretty = tmp_path / "pretty.jsonl"
    pretty.write_text("\n".join(json.dumps(json.loads(ln), indent=None, separators=(", ", ": ")) for ln in SMALL.read_text().splitlines()))
    assert load_library(pretty).hash == lib.hash
    recs = [json.loads(ln) for ln in SMALL.read_text().splitlines()]
    recs[0]["steps"][0] += " carefully"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(json.dumps(r) for r in recs))
    assert load_library(edited).hash != lib.hash
    assert Template.from_dict(lib.templates[0].to_dict()) == lib.templates[0]


def test_near_duplicates_flags_same_method_twice():
    lib = load_library(SMALL)
    assert near_duplicates(lib) == []
    twin = Template.from_dict({**lib.get("comb.stars-and-bars").to_dict(), "id": "comb.stars-bars-2", "name": "The stars and bars method"})
    pairs = near_duplicates(Library(lib.templates + [twin]))
    assert [(a, b) for a, b, _ in pairs] == [("comb.stars-and-bars", "comb.stars-bars-2")]


def test_import_reference_fixture(tmp_path, cli):
    out = tmp_path / "imported.jsonl"
    r = cli("templates", "import", str(REFERENCE), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert validate(out) == []
    lib = load_library(out)
    assert len(lib) == 6
    by_name = {t.name: t for t in lib}
    arith = by_name["Sum of an arithmetic sequence from two terms"]
    assert arith.domain == "sequences_series" and arith.section == "Arithmetic and geometric sequences"
    assert arith.id == "seq.sum-of-an-arithmetic-sequence-from-two-terms"
    assert arith.tags == ["arithmetic sequence", "sum formula", "formula application"]
    assert arith.example.answer == "145" and "a_3 = 7" in arith.example.problem
    tele = by_name["Telescoping a sum of reciprocal products"]   # str example, list scenario, dict steps, str tags
    assert tele.example.problem.startswith("Compute 1/(1*2)") and tele.example.answer == "99/100"
    assert tele.steps[0].startswith("Decompose") and len(tele.steps) == 3
    assert "consecutive factors" in tele.applicability and "telescoping" in tele.tags
    rec = by_name["Linear recurrence by shifting to a geometric sequence"]  # dict example with other keys
    assert rec.example.problem.startswith("a_1 = 1") and rec.example.answer == "1023"
    assert "Analysis" in rec.example.solution and "Final answer" not in rec.example.solution
    assert by_name["Auxiliary angle for a sin x + b cos x"].example.answer == "5"            # key "result"
    assert by_name["Linearity of expectation with indicator variables"].example.answer == "1"  # \boxed in a string
    assert {t.domain for t in lib} == {"sequences_series", "trigonometry", "probability", "number_theory"}


def test_import_unknown_chapter_and_missing_answer():
    data = {"Misc Topics": {"S": [{"template_name": "A method", "description": "d", "reason_flow": ["x"],
                                   "example_application": "Just do it."}]}}
    res = convert(data)  # an unknown chapter is mapped by the rule (nothing votes: algebra), not refused
    (t,) = res.templates
    assert t["domain"] == "algebra" and t["example"]["answer"] == ANSWER_MISSING
    assert res.summary() == {"chapter mapped by rule": 1, "example without a final answer": 1,
                             "example without a problem statement": 1}
    assert convert(data, default_domain="geometry").templates[0]["domain"] == "geometry"
    assert any("no final answer" in w for w in res.warnings)
    with pytest.raises(UserError, match="default-domain"):
        convert(data, default_domain="astrology")
    with pytest.raises(UserError, match="not found"):
        import_file("/nonexistent/ref.json")


def test_cli_search_json_stats_validate(tmp_path, cli):
    r = cli("templates", "search", "How many ways can 9 identical candies be put into 4 distinct boxes?",
            "--library", str(SMALL), "-k", "3", "--json")
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)
    assert 1 <= len(hits) <= 3 and hits[0]["id"] == "comb.stars-and-bars"
    assert set(hits[0]) >= {"id", "name", "score", "tags"} and hits[0]["score"] >= hits[-1]["score"]
    r = cli("templates", "search", "chords meeting at a point inside a circle", "--library", str(SMALL), "--retriever", "flat", "--json")
    assert json.loads(r.stdout)[0]["id"] == "geo.power-of-a-point"

    r = cli("templates", "stats", "--library", str(SMALL), "--json")
    st = json.loads(r.stdout)
    assert st["templates"] == 14 and st["domains"]["number_theory"] == 2

    r = cli("templates", "validate", str(SMALL))
    assert r.exit_code == 0 and "14 templates" in r.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_good(domain="x")) + "\n")
    r = cli("templates", "validate", str(bad))
    assert r.exit_code == 2 and f"{bad}:1: field 'domain'" in r.stdout
    r = cli("templates", "search", "anything", "--library", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2 and "not found" in r.output


def test_hint_messages_and_solve_wiring(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path))
    from reasonflux.commands.solve import SolveConfig, build_messages
    from reasonflux.templates.hints import HINT_PROMPT, hint_messages

    problem = "Three fair coins are flipped. What is the probability that at least one shows heads?"
    msgs = hint_messages(problem, str(SMALL), k=2, system="Be brief.")
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert user.startswith(HINT_PROMPT.split("\n")[0]) and "[1] Complementary probability" in user and "[3]" not in user
    assert user.rstrip().endswith("\\boxed{}.") and problem in user
    one = build_messages(SolveConfig(text=problem, templates=str(SMALL), templates_k=1))
    assert len(one) == 1 and "[1] Complementary probability" in one[0]["content"] and "[2]" not in one[0]["content"]
    assert hint_messages("zzzz qqqq", str(SMALL)) == [{"role": "user", "content": "zzzz qqqq"}]


# ---------------------------------------------------------------------------------- builtin library

def _builtin() -> Library:
    if not builtin_paths():
        pytest.skip("the builtin template library is not written yet")
    return load_library("builtin")


def test_builtin_library_valid_and_large_enough():
    lib = _builtin()
    assert validate("builtin") == []
    st = lib.stats()
    math_n = sum(n for d, n in st["domains"].items() if d in MATH_DOMAINS)
    sci_n = sum(n for d, n in st["domains"].items() if d in SCIENCE_DOMAINS)
    assert math_n >= 150 and sci_n >= 30, st["domains"]
    assert MATH_DOMAINS <= set(st["domains"]), "every competition domain has templates"


def test_builtin_library_has_no_near_duplicates():
    pairs = near_duplicates(_builtin())
    assert pairs == [], "\n".join(f"{a} ~ {b}: {why}" for a, b, why in pairs)
