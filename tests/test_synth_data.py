"""Decontamination, dedup, SFT formats and data stats (no model needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reasonflux.synth.decontam import build_index, decontaminate
from reasonflux.synth.dedup import dedup
from reasonflux.synth.formats import FORMATS, export, llamafactory_dataset_info, load_conversations, to_messages

CONV = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": "<think>\n2+3=5\n</think>\n\n$\\boxed{5}$"},
]
CONV2 = [
    {"role": "user", "content": "Compute 7*6."},
    {"role": "assistant", "content": "<think>\nseven sixes\n</think>\n\n$\\boxed{42}$"},
]


def _math500(data_dir):
    return [json.loads(x) for x in (data_dir / "math500" / "test.jsonl").read_text().splitlines()]


def test_planted_math500_problem_is_removed_and_reported(data_dir):
    rows = _math500(data_dir)
    target = max(rows, key=lambda r: len(r["problem"]))  # a long problem: many 13-grams
    edited = target["problem"].replace("$", "").replace("Find", "Determine", 1).replace(".", " .") + " Show your work."
    synthetic = [{"problem": "A bag has 3 red and 5 blue marbles. How many ways to pick 2 red ones?"}, {"problem": edited},
                 {"problem": "Let f(x)=x^2+1. Compute f(f(1))."}]
    index = build_index(("math500", r["unique_id"], r["problem"]) for r in rows)
    clean, matches = decontaminate(synthetic, index)
    assert [r["problem"] for r in clean] == [synthetic[0]["problem"], synthetic[2]["problem"]]
    assert len(matches) == 1 and matches[0].row == 1
    assert matches[0].benchmark == "math500" and matches[0].problem_id == target["unique_id"]


def test_short_benchmark_problem_contained_whole_is_contamination():
    index = build_index([("aime", "x-1", "Compute $\\dbinom{8}{4}$.")], n=13)
    clean, matches = decontaminate([{"problem": "Please compute \\dbinom{8}{4} now"}, {"problem": "Compute 8 choose 5"}], index)
    assert len(matches) == 1 and matches[0].problem_id == "x-1" and len(clean) == 1


def test_dedup_exact_and_near():
    base = "Find the number of ordered pairs of positive integers (a, b) with a + b = 100 and gcd(a, b) = 1 and a less than b."
    rows = [{"problem": base}, {"problem": base.upper()}, {"problem": base.replace("100", "100 ,")}, {"problem": base.replace("a less than b", "a is less than b")},
            {"problem": base.replace("ordered pairs", "unordered triples").replace("100", "77").replace("gcd", "lcm").replace("less", "more")}]
    kept, dups = dedup(rows)
    assert [d.kind for d in dups] == ["exact", "exact", "near"]
    assert len(kept) == 2


@pytest.mark.parametrize("fmt", ["messages", "sharegpt", "alpaca"])
def test_round_trip_file_formats(tmp_path, fmt):
    out = tmp_path / f"x.{fmt}.jsonl"
    export([CONV, CONV2], fmt, out)
    assert load_conversations(str(out)) == [CONV, CONV2]


def test_round_trip_hf(tmp_path):
    export([CONV, CONV2], "hf", tmp_path / "ds")
    assert load_conversations(str(tmp_path / "ds")) == [CONV, CONV2]


def test_llamafactory_export_follows_schema(tmp_path):
    paths = export([CONV, CONV2], "llamafactory", tmp_path / "lf")
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    entry = info["ReasonFlux-F1"]
    # LLaMA-Factory's dataset_info schema for sharegpt rows (data/README.md): file_name,
    # formatting, columns.messages/system, tags.role_tag/content_tag/user_tag/assistant_tag.
    assert entry["formatting"] == "sharegpt"
    assert set(entry) <= {"hf_hub_url", "ms_hub_url", "script_url", "file_name", "file_sha1", "subset", "folder",
                          "ranking", "formatting", "columns", "tags", "split", "num_samples"}
    assert set(entry["columns"]) <= {"prompt", "query", "response", "history", "messages", "system", "tools", "images"}
    assert set(entry["tags"]) <= {"role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag"}
    data = json.loads((tmp_path / "lf" / entry["file_name"]).read_text())
    assert isinstance(data, list) and len(data) == 2
    first = data[0]
    assert first[entry["columns"]["system"]] == "Be brief."
    msgs = first[entry["columns"]["messages"]]
    assert [m[entry["tags"]["role_tag"]] for m in msgs] == [entry["tags"]["user_tag"], entry["tags"]["assistant_tag"]]
    assert "<think>" in msgs[1][entry["tags"]["content_tag"]]
    assert load_conversations(str(paths[0])) == [CONV, CONV2]
    assert llamafactory_dataset_info() == {"ReasonFlux-F1": entry}
    assert "llamafactory" in FORMATS


def test_load_rejects_unknown_rows_with_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"messages": CONV}) + "\n" + json.dumps({"text": "no"}) + "\n")
    from reasonflux.errors import UserError

    with pytest.raises(UserError, match=r"bad.jsonl:2: row is none of messages/sharegpt/alpaca"):
        load_conversations(str(p))
    with pytest.raises(ValueError):
        to_messages({"messages": [{"role": "user", "content": "x"}]})


def test_cli_export_and_stats(tmp_path, tiny_model_dir):
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"messages": c}) + "\n" for c in [CONV, CONV2] * 3))
    run = lambda *a: subprocess.run([sys.executable, "-m", "reasonflux.cli", *a], capture_output=True, text=True)  # noqa: E731
    r = run("data", "export", str(src), "--format", "alpaca", "--out", str(tmp_path / "a.jsonl"))
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 6
    r = run("data", "stats", str(src), "--tokenizer", str(tiny_model_dir), "--cutoff", "30", "--json", "--png", str(tmp_path / "h.png"))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["examples"] == 6 and s["cutoff"] == 30 and 0 < s["over_cutoff"] <= 6
    assert (tmp_path / "h.png").stat().st_size > 1000
    r = run("data", "export", str(tmp_path / "missing.jsonl"), "--format", "alpaca", "--out", str(tmp_path / "b.jsonl"))
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
