"""``reasonflux solve``: JSON and human output on the tiny model, budget-forcing flags, a one-line
error with exit code 2 for a missing model, and SmolLM2 (a real model, GGUF) answering 2+3."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

JSON_KEYS = {"answer", "reasoning", "text", "finish_reason", "completion_tokens"}


@pytest.fixture(scope="module")
def cli():
    from reasonflux.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["solve", *args], catch_exceptions=False)

    return invoke


def test_json_prints_one_object(cli, tiny_model_dir):
    r = cli("What is 2+3?", "--model", str(tiny_model_dir), "--max-tokens", "8", "--json")
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("{")]
    obj = json.loads(line)
    assert JSON_KEYS <= set(obj)
    assert obj["finish_reason"] == "length" and obj["completion_tokens"] == 8
    # the tiny model's template opens <think>; 8 tokens never close it: truncated, no answer
    assert obj["answer"] is None and obj["truncated"] is True and obj["reasoning"] == obj["text"].strip("\n")


def test_json_n2_with_budget_forcing_has_an_answer(cli, tiny_model_dir):
    r = cli("What is 2+3?", "--model", str(tiny_model_dir), "--max-tokens", "20", "--n", "2", "--temperature", "0.8",
            "--max-thinking-tokens", "5", "--json")
    assert r.exit_code == 0, r.output
    objs = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert len(objs) == 2
    for o in objs:
        assert "</think>" in o["text"] and o["answer"] is not None and o["answer"].startswith("Final Answer:")


def test_human_output(cli, tiny_model_dir):
    r = cli("What is 2+3?", "--model", str(tiny_model_dir), "--max-tokens", "6", "--format", "deepseek-r1", "--think")
    assert r.exit_code == 0, r.output
    assert "no answer" in r.stdout  # reasoning cut off before it closed
    assert "[length, 6 tokens" in r.stdout


def test_missing_model_is_one_line_exit_2(tmp_path):
    missing = tmp_path / "no-such-model"
    p = subprocess.run([sys.executable, "-m", "reasonflux.cli", "solve", "What is 2+3?", "--model", str(missing)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert "error:" in p.stderr and str(missing) in p.stderr
    assert "Traceback" not in p.stderr


def test_smollm2_answers_2_plus_3(cli, smollm2):
    r = cli("What is 2+3?", "--model", smollm2, "--max-tokens", "24", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads([x for x in r.stdout.splitlines() if x.startswith("{")][0])
    assert obj["finish_reason"] == "stop"
    assert "5" in obj["answer"]
