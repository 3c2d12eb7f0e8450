"""``reasonflux eval`` end to end: the tiny model (hf backend) on all four benchmarks, then rescore,
report and compare on its run; and an eval over HTTP against the scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reasonflux.cli import app

BENCHES = "aime24,aime25,math500,gpqa_diamond"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir, data_dir) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "tiny"
    res = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--preset", "quick", "--benchmarks", BENCHES,
                                   "--limit", "3", "--max-tokens", "8", "--data-dir", str(data_dir), "--out", str(out),
                                   "--name", "tiny", "--quiet"])
    assert res.exit_code == 0, res.output
    return out


def test_tiny_model_all_four_benchmarks(tiny_run):
    rows = [json.loads(x) for x in (tiny_run / "samples.jsonl").read_text().splitlines()]
    keys = {(s["benchmark"], s["problem_id"], s["sample_index"]) for s in rows}
    assert len(rows) == len(keys) == 4 * 3 * 2  # quick preset: n = 2
    for s in rows:
        assert s["finish_reason"] in ("stop", "length") and 0 < s["completion_tokens"] <= 8
        assert s["prompt_tokens"] > 0 and len(s["prompt_hash"]) == 16 and isinstance(s["correct"], bool)
        assert s["prefilled"] is True  # the tiny model's template opens <think>: unclosed reasoning is no answer
    m = json.loads((tiny_run / "metrics.json").read_text())
    assert list(m["benchmarks"]) == ["aime24", "aime25", "math500", "gpqa_diamond"]
    for b in m["benchmarks"].values():
        assert b["problems"] == 3 and b["n"] == 2 and b["complete"] and set(b["pass@k"]) == {"1", "2"}
    assert set(m["benchmarks"]["math500"]["by_level"]) <= {"1", "2", "3", "4", "5"}
    cfg = (tiny_run / "config.yaml").read_text()
    assert "temperature: 0.6" in cfg and "max_tokens: 8" in cfg and "prompt_style: instruct" in cfg
    md = (tiny_run / "report.md").read_text()
    assert "| MATH500 (incomplete) |" not in md and "| MATH500 | 3 of 500 | 2 |" in md and "## MATH500 by level" in md
    assert "Partial run: AIME24 3 of 30 problems" in md and (tiny_run / "README.md").is_file()
    assert (tiny_run / "report.html").read_text().startswith("<!DOCTYPE html>")
    problems = [json.loads(x) for x in (tiny_run / "problems.jsonl").read_text().splitlines()]
    gpqa = [p for p in problems if p["benchmark"] == "gpqa_diamond"]
    assert len(gpqa) == 3 and all("problem" not in p and "choices" not in p["meta"] for p in gpqa)  # ids only


def test_resume_finished_run_rescore_report_compare(tiny_run, tiny_model_dir, data_dir):
    before = (tiny_run / "samples.jsonl").read_bytes()
    metrics = (tiny_run / "metrics.json").read_text()
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--preset", "quick", "--benchmarks", BENCHES,
                              "--limit", "3", "--max-tokens", "8", "--data-dir", str(data_dir), "--out", str(tiny_run),
                              "--name", "tiny", "--quiet"])
    assert res.exit_code == 0 and (tiny_run / "samples.jsonl").read_bytes() == before
    res = runner.invoke(app, ["rescore", str(tiny_run), "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads((tiny_run / "metrics.json").read_text()) == json.loads(metrics)
    res = runner.invoke(app, ["report", str(tiny_run), "--markdown"])
    assert res.exit_code == 0, res.output
    assert "| run | model | AIME24 | AIME25 | MATH500 | GPQA-D |" in res.output and "| tiny |" in res.output
    res = runner.invoke(app, ["report", str(tiny_run), "--json", "--all-reported"])
    table = json.loads(res.output)
    assert table[-2]["run"].startswith("ReasonFlux-F1-32B") and table[-2]["MATH500"] == "96.0" and table[-2]["GPQA-D"] == "67.2"
    res = runner.invoke(app, ["compare", str(tiny_run), str(tiny_run), "--json"])
    assert res.exit_code == 0 and res.output.strip() == ""
    res = runner.invoke(app, ["report", str(tiny_run / "nope")])
    assert res.exit_code == 2 and "run directory not found" in res.output  # the CLI checks the path first


def test_problems_filter_and_bad_settings(tmp_path, tiny_model_dir, data_dir):
    runner = CliRunner()
    base = ["eval", "--model", str(tiny_model_dir), "--data-dir", str(data_dir), "--max-tokens", "4", "--quiet"]
    res = runner.invoke(app, base + ["--benchmarks", "aime24,aime25", "--problems", "2024-I-1,2025-II-15", "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "f" / "metrics.json").read_text())
    assert {b: v["problems"] for b, v in m["benchmarks"].items()} == {"aime24": 1, "aime25": 1}
    assert m["benchmarks"]["aime24"]["n"] == 1  # reasonflux-f1 defaults: one greedy sample
    res = runner.invoke(app, base + ["--benchmarks", "aime24", "--problems", "2024-III-1", "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "not in aime24" in res.output
    res = runner.invoke(app, base + ["--benchmarks", "aime23", "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "unknown benchmark 'aime23'" in res.output
    res = runner.invoke(app, base + ["--preset", "nope", "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "unknown preset 'nope'" in res.output


def test_eval_over_http_against_scripted_server(tmp_path, data_dir):
    """The CLI in a subprocess, the server here: AIME 2024 I-1 is answered right, GPQA always 'B'."""
    from reasonflux.benchmarks import load_problems
    from reasonflux.testing.server import ScriptedServer

    def responder(body: dict, index: int) -> dict:
        content = body["messages"][-1]["content"]
        if "\nB) " in content:
            return {"text": "Answer: B", "reasoning_content": "Comparing the options.", "completion_tokens": 3}
        return {"text": "</think> So the answer is \\boxed{204}.", "completion_tokens": 9}

    gold = [p.answer for p in load_problems("gpqa_diamond", data_dir)[:4]]
    out = tmp_path / "http"
    with ScriptedServer(responder) as srv:
        r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "eval", "--backend", "openai", "--base-url", srv.base_url,
                            "--model", "served", "--benchmarks", "aime24,gpqa_diamond", "--limit", "4", "--max-tokens", "64",
                            "--data-dir", str(data_dir), "--out", str(out), "--quiet"],
                           capture_output=True, text=True, timeout=120, env=dict(os.environ))
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(srv.requests) == 8
        assert all(req.get("max_tokens") == 64 or req.get("max_completion_tokens") == 64 for req in srv.requests)
    m = json.loads((out / "metrics.json").read_text())
    assert m["benchmarks"]["aime24"]["avg@n"]["value"] == pytest.approx(1 / 4)  # only 2024-I-1 is 204
    assert m["benchmarks"]["gpqa_diamond"]["avg@n"]["value"] == pytest.approx(gold.count("B") / 4)
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    gp = [s for s in rows if s["benchmark"] == "gpqa_diamond"]
    assert all(s["extracted"] == "B" and s["reasoning"] == "Comparing the options." for s in gp)


def test_presets_are_eval_config_layers():
    from reasonflux.config import resolve
    from reasonflux.evals import load_preset, preset_names
    from reasonflux.evals.runner import EvalConfig, n_for

    assert preset_names() == ["deepseek-r1", "quick", "reasonflux-f1"]
    f1 = resolve(EvalConfig, load_preset("reasonflux-f1"))
    assert (f1.temperature, f1.max_tokens, f1.prompt_style, f1.format, f1.prefill, f1.system) == (0.0, 32768, "raw", "model", "", None)
    assert all(n_for(f1, b) == 1 for b in BENCHES.split(","))
    r1 = resolve(EvalConfig, load_preset("deepseek-r1"))
    assert (r1.temperature, r1.top_p, r1.max_tokens, r1.prefill, r1.prompt_style) == (0.6, 0.95, 32768, "<think>\n", "instruct")
    assert [n_for(r1, b) for b in BENCHES.split(",")] == [64, 64, 4, 8]
    flagged = resolve(EvalConfig, load_preset("deepseek-r1"), {"n": "2", "temperature": "0.7"})  # flags win
    assert [n_for(flagged, b) for b in BENCHES.split(",")] == [2, 2, 2, 2] and flagged.temperature == 0.7
    quick = resolve(EvalConfig, load_preset("quick"))
    assert quick.max_tokens <= 512 and n_for(quick, "math500") == 2
