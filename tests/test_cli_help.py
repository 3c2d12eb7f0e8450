"""``--help`` a person can scan: options in panels, required arguments marked, and the names a
flag accepts (presets, recipes, chat formats, data formats, benchmarks) listed with one line each."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from reasonflux.cli import app

COMMANDS = [["solve"], ["grade"], ["eval"], ["rescore"], ["report"], ["compare"], ["reason"], ["synth"],
            ["data", "export"], ["data", "load"], ["data", "clean"], ["data", "stats"],
            ["templates", "search"], ["templates", "stats"], ["templates", "validate"], ["templates", "import"], ["train"]]


def help_text(cmd: list[str]) -> str:
    r = CliRunner().invoke(app, [*cmd, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    return r.stdout


def listed(text: str, title: str) -> dict[str, str]:
    """The entries under ``title`` in the help epilog: name -> its one line."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith(title))
    out = {}
    for ln in lines[start + 1:]:
        m = re.match(r"\s+(\S+)\s{2,}(\S.*)$", ln)
        if not m:
            break
        out[m.group(1)] = m.group(2).strip()
    return out


def test_eval_lists_presets_benchmarks_and_chat_formats():
    from reasonflux.benchmarks import REGISTRY
    from reasonflux.chat import FORMATS
    from reasonflux.evals import preset_names

    text = help_text(["eval"])
    presets = listed(text, "Presets (--preset)")
    assert set(presets) == set(preset_names()) and all(presets.values())
    assert set(listed(text, "Benchmarks (--benchmarks)")) == set(REGISTRY)
    formats = listed(text, "Chat formats (--format)")
    assert set(formats) == set(FORMATS) and all(formats.values())


def test_train_lists_recipes():
    from reasonflux.train.sft import RECIPES

    recipes = listed(help_text(["train"]), "Recipes (--recipe)")
    assert set(recipes) == set(RECIPES)
    assert "DeepSeek-R1-Distill-Qwen-32B" in recipes["f1-32b"]


@pytest.mark.parametrize("cmd,title", [(["solve"], "Chat formats (--format)"), (["synth"], "Chat formats (--format)"),
                                       (["reason"], "Chat formats (--navigator-format)"),
                                       (["data", "export"], "Data formats (--to)")])
def test_format_names_are_listed(cmd, title):
    entries = listed(help_text(cmd), title)
    assert len(entries) >= 3 and all(entries.values())


@pytest.mark.parametrize("cmd,panels", [
    (["solve"], ["Model and backend", "Sampling", "Output"]),
    (["eval"], ["Model and backend", "Sampling", "Data", "Output", "Scale"]),
    (["synth"], ["Model and backend", "Sampling", "Data", "Output", "Scale"]),
    (["reason"], ["Model and backend", "Sampling", "Output"]),
    (["train"], ["Model and backend", "Data", "Output", "Scale", "Training"]),
    (["grade"], ["Sampling", "Output"]),
])
def test_options_are_grouped_in_panels(cmd, panels):
    text = help_text(cmd)
    for p in panels:
        assert re.search(rf"╭─ {re.escape(p)} ─", text), f"{cmd}: no panel {p!r}"
    assert not re.search(r"╭─ Options ─.*\n(│.*\n){12,}", text), "a catch-all panel of a dozen options"


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help_and_required_marks(cmd):
    text = help_text(cmd)
    usage = next(ln for ln in text.splitlines() if "Usage:" in ln)
    from reasonflux.config import register  # noqa: F401 - the machinery under test

    required_args = {"solve": "TEXT", "grade": "INPUT", "rescore": "RUN", "report": "RUNS", "compare": "RUN_A",
                     "reason": "TEXT", "export": "INPUT", "clean": "INPUT", "stats": "INPUT", "search": "QUERY",
                     "validate": "FILE", "import": "FILE"}
    arg = required_args.get(cmd[-1])
    if arg and not (cmd == ["templates", "stats"]):
        assert arg in usage and f"[{arg}" not in usage, f"{usage!r}: {arg} is shown as optional"
        assert "required" in text


@pytest.mark.parametrize("cmd,flag", [(["data", "export"], "--out"), (["data", "stats"], "--tokenizer"),
                                      (["synth"], "--problems"), (["templates", "import"], "--out")])
def test_required_options_are_marked(cmd, flag):
    text = help_text(cmd)
    line = next(ln for ln in text.splitlines() if re.search(rf"{flag}\b", ln))
    assert "[required]" in line


def test_out_is_the_output_flag_everywhere():
    for cmd in (["grade"], ["eval"], ["reason"], ["synth"], ["data", "export"], ["data", "load"], ["data", "clean"],
                ["templates", "import"], ["train"]):
        text = help_text(cmd)
        assert re.search(r"--out\b", text), cmd
        assert not re.search(r"--output(?![-\w])", text), cmd  # old names are hidden
        if cmd != ["train"]:
            assert not re.search(r"--max-steps\b", text), cmd
    train = help_text(["train"])
    assert "--output-dir" in train and "--max-steps" in train
    assert "--max-solver-steps" in help_text(["reason"]) and "--max-steps" not in help_text(["reason"])
