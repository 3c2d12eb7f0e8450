"""Benchmark loaders: row counts, fields, known answers, clear errors, GPQA read in memory with its
choices shuffled by a fixed seed. GPQA text is never printed: assertions on it use booleans only."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from reasonflux.benchmarks import REGISTRY, TABLE_ORDER, get, load_problems
from reasonflux.errors import UserError


def test_registry_and_module_contract():
    assert set(REGISTRY) == set(TABLE_ORDER) == {"aime24", "aime25", "math500", "gpqa_diamond"}
    for name in REGISTRY:
        mod = get(name)
        assert mod.NAME == name and mod.KIND in ("math", "choice") and mod.HUB_ID and mod.HUB_REVISION
        assert callable(mod.load) and callable(mod.prompt) and mod.ROWS > 0
    with pytest.raises(UserError, match="unknown benchmark 'aime23'"):
        get("aime23")


def test_math_sets_known_answers(data_dir):
    aime24 = load_problems("aime24", data_dir)
    assert len(aime24) == 30 and aime24[0].id == "2024-I-1" and aime24[0].answer == "204"
    assert aime24[-1].id == "2024-II-15"
    aime25 = {p.id: p.answer for p in load_problems("aime25", data_dir)}
    assert len(aime25) == 30 and aime25["2025-I-1"] == "70" and aime25["2025-II-15"] == "240"
    math500 = load_problems("math500", data_dir)
    assert len(math500) == 500 and len({p.id for p in math500}) == 500
    assert Counter(p.meta["level"] for p in math500) == {1: 43, 2: 90, 3: 105, 4: 128, 5: 134}
    assert len({p.meta["subject"] for p in math500}) == 7
    p = aime24[0]
    mod = get("aime24")
    assert mod.prompt(p, "raw") == p.problem
    assert mod.prompt(p, "instruct").endswith("Please reason step by step, and put your final answer within \\boxed{}.")


def test_data_dir_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("REASONFLUX_DATA_DIR", str(data_dir))
    assert len(load_problems("aime25")) == 30
    monkeypatch.setenv("REASONFLUX_DATA_DIR", str(data_dir / "nope"))
    with pytest.raises(UserError, match="data directory not found"):
        load_problems("aime25")


def test_gpqa_in_memory_gold_letters_spread(data_dir):
    probs = load_problems("gpqa_diamond", data_dir)
    assert len(probs) == 198 and len({p.id for p in probs}) == 198
    counts = Counter(p.answer for p in probs)
    # 198 questions, 49.5 per letter expected: a fixed-seed shuffle lands each letter 30-70 times
    assert set(counts) == set("ABCD") and all(30 <= c <= 70 for c in counts.values()), dict(counts)
    assert counts == Counter(p.answer for p in load_problems("gpqa_diamond", data_dir))  # same order every load
    mod = get("gpqa_diamond")
    assert sorted(mod.permutation("recX")) == [0, 1, 2, 3] and mod.permutation("recX") == mod.permutation("recX")
    ok_choices = all(len(p.meta["choices"]) == 4 for p in probs)  # (a few questions repeat an option text)
    assert ok_choices is True
    prompt = mod.prompt(probs[0], "instruct")
    has_letters = all(f"\n{x}) " in prompt for x in "ABCD")
    has_instruction = prompt.startswith(mod.INSTRUCTION + "\n\n") and "'Answer: $LETTER'" in mod.INSTRUCTION
    raw_has_no_instruction = mod.INSTRUCTION not in mod.prompt(probs[0], "raw")
    assert (has_letters, has_instruction, raw_has_no_instruction) == (True, True, True)
    assert {p.meta["domain"] for p in probs} == {"Biology", "Chemistry", "Physics"}


def test_clear_errors_for_bad_local_files(data_dir, tmp_path):
    bad = tmp_path / "data"
    (bad / "math500").mkdir(parents=True)
    lines = (data_dir / "math500" / "test.jsonl").read_text().splitlines()
    (bad / "math500" / "test.jsonl").write_text("\n".join(lines[:5]) + "\n")
    with pytest.raises(UserError, match=r"math500: .* has 5 rows, expected 500"):
        load_problems("math500", bad)
    rows = [json.loads(x) for x in lines]
    del rows[7]["level"]
    (bad / "math500" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match="row 8 lacks field"):
        load_problems("math500", bad)
    (bad / "math500" / "test.jsonl").write_text(lines[0] + "\n{oops\n")
    with pytest.raises(UserError, match="line 2 is not valid JSON"):
        load_problems("math500", bad)
    with pytest.raises(UserError, match="expected aime2024/test.jsonl"):
        load_problems("aime24", bad)
    (bad / "gpqa_diamond").mkdir()
    shutil.copy(data_dir / "aime2024" / "test.jsonl", bad / "gpqa_diamond" / "gpqa_diamond.zip")
    with pytest.raises(UserError, match="cannot open"):
        load_problems("gpqa_diamond", bad)


def test_hub_path_fails_clearly_offline(monkeypatch):
    monkeypatch.delenv("REASONFLUX_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(UserError, match=r"cannot load HuggingFaceH4/MATH-500@main from the hub .*--data-dir"):
        load_problems("math500")


def test_hub_rows_map_to_the_local_ids():
    """Hub AIME 2024 rows carry integer ids and AoPS URLs; ids come from the URL."""
    mod = get("aime24")
    row = {"id": 60, "url": "https://artofproblemsolving.com/wiki/index.php/2024_AIME_II_Problems/Problem_15"}
    assert mod.problem_id(row, "hub") == "2024-II-15"
    assert mod.problem_id({"id": "2024-I-3"}, "local") == "2024-I-3"
    with pytest.raises(UserError, match="no 2024-I-1 style id"):
        mod.problem_id({"id": 3, "url": ""}, "hub")


def test_gpqa_instruct_is_the_simple_evals_template(data_dir):
    """deepseek-r1 / quick (prompt_style instruct) send openai/simple-evals' zero-shot GPQA prompt:
    compared on placeholders, so no question text is involved."""
    from reasonflux.types import Problem

    simple_evals = ("Answer the following multiple choice question. The last line of your response should be of the "
                    "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by "
                    "step before answering.\n\n{Question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}")
    mod = get("gpqa_diamond")
    p = Problem(id="x", problem="{Question}", answer="A", kind="choice", meta={"choices": ["{A}", "{B}", "{C}", "{D}"]})
    assert mod.prompt(p, "instruct") == simple_evals


def test_local_files_are_checksummed(data_dir, tmp_path, monkeypatch):
    """A file that passes the row and field checks but differs in its bytes is refused (one line, both hashes)."""
    for name in REGISTRY:
        mod = get(name)
        from reasonflux.benchmarks._common import sha256_file

        assert sha256_file(data_dir / mod.LOCAL_FILE) == mod.LOCAL_SHA256, name
    bad = tmp_path / "data"
    (bad / "aime2024").mkdir(parents=True)
    rows = [json.loads(x) for x in (data_dir / "aime2024" / "test.jsonl").read_text().splitlines()]
    rows[3]["answer"] = "999"  # a silently edited gold answer
    (bad / "aime2024" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"aime24: .*test.jsonl has sha256 [0-9a-f]{16}…, expected 401dc05397947fcc…"):
        load_problems("aime24", bad)
    monkeypatch.setenv("REASONFLUX_SKIP_CHECKSUM", "1")
    assert load_problems("aime24", bad)[3].answer == "999"
