"""Every user mistake, on every command: one line on stderr, exit status 2, before anything loads.

The matrix runs each command in-process against tiny files: missing file, empty file, a malformed
line in the middle, an unknown config key (and a broken config file), an output that cannot be
written, an out-of-range number, an unknown preset/recipe/format/benchmark/choice, and usage
mistakes (unknown option, a word where a number goes, a missing argument). Nothing here loads a
model: the default backend would take a minute, so a case that got that far would time out.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reasonflux.cli import app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture()
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REASONFLUX_DATA_DIR", str(tmp_path / "no-benchdata"))  # nothing may reach the hub
    f = {
        "missing": tmp_path / "missing.jsonl",
        "empty": tmp_path / "empty.jsonl",
        "blank": tmp_path / "blank.jsonl",
        "graded": tmp_path / "rows.jsonl",
        "problems_bad": tmp_path / "problems_bad.jsonl",
        "sft_bad": tmp_path / "sft_bad.jsonl",
        "sft": tmp_path / "sft.jsonl",
        "afile": tmp_path / "afile",
        "adir": tmp_path / "adir",
        "unknown_key": tmp_path / "unknown_key.yaml",
        "empty_yaml": tmp_path / "empty.yaml",
        "bad_yaml": tmp_path / "bad.yaml",
        "list_yaml": tmp_path / "list.yaml",
        "range_yaml": tmp_path / "range.yaml",
        "json_bad": tmp_path / "reference.json",
    }
    f["empty"].write_text("")
    f["blank"].write_text("\n  \n")
    f["graded"].write_text('{"gold": "5", "response": "The answer is \\\\boxed{5}."}\n')
    f["problems_bad"].write_text('{"problem": "1+1?", "answer": "2"}\n{"problem": "2+2?", "answer": \n{"problem": "3+3?", "answer": "6"}\n')
    conv = {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}
    f["sft"].write_text(json.dumps(conv) + "\n")
    f["sft_bad"].write_text(json.dumps(conv) + "\n{not json\n" + json.dumps(conv) + "\n")
    f["afile"].write_text("a file, not a directory\n")
    f["adir"].mkdir()
    f["unknown_key"].write_text("no_such_setting: 1\n")
    f["empty_yaml"].write_text("")
    f["bad_yaml"].write_text("model: smollm2\n  bad: [unclosed\n")
    f["list_yaml"].write_text("- a\n- b\n")
    f["range_yaml"].write_text("workers: -3\n")
    f["json_bad"].write_text('{"Algebra": {"Linear": [\n  {"name": "x",\n  oops\n]}}\n')
    return f


def one_error_line(args: list[str], expect: str | tuple[str, ...] = "") -> str:
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, [str(a) for a in args])
    took = time.perf_counter() - t0
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2, f"{args}: exit {r.exit_code}\nstdout: {r.stdout}\nstderr: {r.stderr}\n{r.exception!r}"
    assert len(err) == 1 and err[0].startswith("error: "), f"{args}: not one line: {r.stderr!r}"
    assert "Traceback" not in r.output
    for e in (expect,) if isinstance(expect, str) else expect:
        assert e.lower() in err[0].lower(), f"{args}: {err[0]!r} does not mention {e!r}"
    assert took < 20, f"{args}: {took:.1f} s: something heavy ran before the check"
    return err[0]


# (command, args before the case's own, the flag/argument that names a file or dir)
FILE_INPUTS = [
    ("grade", ["grade", "{f}"]),
    ("rescore", ["rescore", "{f}"]),
    ("report", ["report", "{f}"]),
    ("compare", ["compare", "{f}", "{f}"]),
    ("data export", ["data", "export", "{f}", "--out", "o.jsonl"]),
    ("data load", ["data", "load", "{f}", "--out", "o.jsonl"]),
    ("data clean", ["data", "clean", "{f}", "--out", "o.jsonl"]),
    ("data stats", ["data", "stats", "{f}", "--tokenizer", "tok"]),
    ("synth", ["synth", "--problems", "{f}", "--backend", "openai", "--out", "s"]),
    ("train", ["train", "--data", "{f}", "--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"]),
    ("templates search", ["templates", "search", "x", "--library", "{f}"]),
    ("templates stats", ["templates", "stats", "--library", "{f}"]),
    ("templates validate", ["templates", "validate", "{f}"]),
    ("templates import", ["templates", "import", "{f}", "-o", "t.jsonl"]),
    ("solve", ["solve", "x", "--templates", "{f}", "--backend", "openai"]),
    ("reason", ["reason", "x", "--templates", "{f}", "--navigator-backend", "openai"]),
    ("eval", ["eval", "--data-dir", "{f}", "--backend", "openai", "--out", "e"]),
]


def _fill(args: list[str], path: Path) -> list[str]:
    return [str(path) if a == "{f}" else a for a in args]


@pytest.mark.parametrize("name,args", FILE_INPUTS, ids=[n for n, _ in FILE_INPUTS])
def test_missing_file(files, name, args):
    line = one_error_line(_fill(args, files["missing"]), "not found")
    assert "missing.jsonl" in line


DIR_INPUTS = {"rescore", "report", "compare", "eval"}


@pytest.mark.parametrize("name,args", [c for c in FILE_INPUTS if c[0] not in DIR_INPUTS],
                         ids=[n for n, _ in FILE_INPUTS if n not in DIR_INPUTS])
@pytest.mark.parametrize("which", ["empty", "blank"])
def test_empty_file(files, name, args, which):
    line = one_error_line(_fill(args, files[which]), "empty")
    assert files[which].name in line


@pytest.mark.parametrize("name,args", [c for c in FILE_INPUTS if c[0] in DIR_INPUTS], ids=sorted(DIR_INPUTS))
def test_file_where_a_directory_is_expected(files, name, args):
    one_error_line(_fill(args, files["afile"]), ("afile", "file"))


MALFORMED = [
    ("data export", ["data", "export", "{sft_bad}", "--out", "o.jsonl"], "sft_bad.jsonl:2"),
    ("data load", ["data", "load", "{sft_bad}", "--out", "o.jsonl"], "sft_bad.jsonl:2"),
    ("data clean", ["data", "clean", "{sft_bad}", "--out", "o.jsonl", "--no-decontaminate"], "sft_bad.jsonl:2"),
    ("data stats", ["data", "stats", "{sft_bad}", "--tokenizer", "tok"], "sft_bad.jsonl:2"),
    ("synth", ["synth", "--problems", "{problems_bad}", "--backend", "openai", "--out", "s", "--no-decontaminate"], "problems_bad.jsonl:2"),
    ("templates validate", ["templates", "validate", "{sft_bad}"], "sft_bad.jsonl"),
    ("templates stats", ["templates", "stats", "--library", "{sft_bad}"], "sft_bad.jsonl:2"),
    ("templates import", ["templates", "import", "{json_bad}", "-o", "t.jsonl"], "reference.json"),
]


@pytest.mark.parametrize("name,args,where", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_line_in_the_middle(files, name, args, where):
    filled = [str(files[a[1:-1]]) if a.startswith("{") else a for a in args]
    one_error_line(filled, where)


def test_grade_malformed_line_is_reported_and_the_rest_graded(files, tmp_path):
    bad = tmp_path / "mixed.jsonl"
    bad.write_text('{"gold": "1", "answer": "1"}\n{"gold": "2", oops\n{"gold": "3", "answer": "3"}\n')
    out = tmp_path / "graded.jsonl"
    r = CliRunner().invoke(app, ["grade", str(bad), "--out", str(out), "--workers", "0"])
    assert r.exit_code == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["correct"] for x in rows] == [True, False, True] and rows[1]["line"] == 2
    assert "mixed.jsonl:2" in r.stderr and "Traceback" not in r.output


# every command: a config file with an unknown key, an empty one, broken YAML, a list
ALL_COMMANDS = [
    ["solve", "x"], ["grade", "{graded}"], ["eval"], ["rescore", "{adir}"], ["report", "{adir}"],
    ["compare", "{adir}", "{adir}"], ["reason", "x"], ["synth", "--problems", "{graded}"],
    ["data", "export", "{sft}", "--out", "o.jsonl"], ["data", "load", "{sft}"], ["data", "clean", "{sft}"],
    ["data", "stats", "{sft}", "--tokenizer", "t"], ["templates", "search", "x"], ["templates", "stats"],
    ["templates", "validate", "{sft}"], ["templates", "import", "{sft}", "-o", "t.jsonl"], ["train"],
]
IDS = [" ".join(a for a in c if not a.startswith("{") and a not in ("x", "t", "o.jsonl", "t.jsonl", "-o", "--out", "--tokenizer", "--problems")) for c in ALL_COMMANDS]


def _cmd(files, c: list[str]) -> list[str]:
    return [str(files[a[1:-1]]) if a.startswith("{") else a for a in c]


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=IDS)
@pytest.mark.parametrize("cfg,expect", [("unknown_key", "unknown key 'no_such_setting'"), ("empty_yaml", "empty"),
                                        ("bad_yaml", "not valid YAML"), ("list_yaml", "mapping"),
                                        ("missing", "not found")])
def test_bad_config_file(files, cmd, cfg, expect):
    line = one_error_line(_cmd(files, cmd) + ["--config", str(files[cfg])], expect)
    assert files[cfg].name in line


def test_config_value_out_of_range_names_file_and_key(files):
    one_error_line(["grade", str(files["graded"]), "--config", str(files["range_yaml"])], ("range.yaml", "workers", "at least 0"))


UNWRITABLE = [
    ("grade", ["grade", "{graded}", "--out", "{afile}/x.jsonl"]),
    ("grade into a directory", ["grade", "{graded}", "--out", "{adir}"]),
    ("eval", ["eval", "--out", "{afile}", "--backend", "openai"]),
    ("synth", ["synth", "--problems", "{graded}", "--out", "{afile}"]),
    ("reason", ["reason", "x", "--out", "{afile}/t.json"]),
    ("data export", ["data", "export", "{sft}", "--out", "{afile}/o.jsonl"]),
    ("data load", ["data", "load", "{sft}", "--out", "{afile}/o.jsonl"]),
    ("data clean", ["data", "clean", "{sft}", "--out", "{afile}/o.jsonl"]),
    ("data stats", ["data", "stats", "{sft}", "--tokenizer", "t", "--png", "{afile}/h.png"]),
    ("templates import", ["templates", "import", "{sft}", "-o", "{afile}/t.jsonl"]),
    ("train", ["train", "--out", "{afile}", "--model", "m", "--data", "{sft}"]),
    ("train --output-dir", ["train", "--output-dir", "{afile}", "--model", "m", "--data", "{sft}"]),
]


@pytest.mark.parametrize("name,args", UNWRITABLE, ids=[u[0] for u in UNWRITABLE])
def test_unwritable_output(files, name, args):
    filled = [a.replace("{afile}", str(files["afile"])).replace("{adir}", str(files["adir"]))
              .replace("{graded}", str(files["graded"])).replace("{sft}", str(files["sft"])) for a in args]
    one_error_line(filled, "--out" if "--out" in args or "-o" in args else "--")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_directory(files, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_error_line(["grade", str(files["graded"]), "--out", str(ro / "x.jsonl")], "not writable")
    finally:
        ro.chmod(0o755)


OUT_OF_RANGE = [
    (["solve", "x", "--n", "0"], "--n"),
    (["solve", "x", "--max-tokens", "0"], "--max-tokens"),
    (["solve", "x", "--top-p", "1.5"], "--top-p"),
    (["solve", "x", "--temperature", "-1"], "--temperature"),
    (["grade", "{graded}", "--workers", "-1"], "--workers"),
    (["grade", "{graded}", "--timeout", "0"], "--timeout"),
    (["eval", "--n", "0", "--backend", "openai"], "--n"),
    (["eval", "--limit", "0"], "--limit"),
    (["eval", "--request-batch", "0"], "--request-batch"),
    (["eval", "--data-parallel", "0"], "--data-parallel"),
    (["rescore", "{adir}", "--workers", "-2"], "--workers"),
    (["reason", "x", "--max-solver-steps", "0"], "--max-solver-steps"),
    (["reason", "x", "--max-steps", "0"], "--max-steps"),  # the old name still works, and is named back
    (["reason", "x", "-k", "0"], "--templates-k"),
    (["synth", "--problems", "{graded}", "--n", "0"], "--n"),
    (["synth", "--problems", "{graded}", "--samples", "0"], "--samples"),
    (["synth", "--problems", "{graded}", "--chunk", "0"], "--chunk"),
    (["data", "clean", "{sft}", "--ngram", "0"], "--ngram"),
    (["data", "stats", "{sft}", "--tokenizer", "t", "--cutoff", "0"], "--cutoff"),
    (["templates", "search", "x", "-k", "0"], "--k"),
    (["train", "--learning-rate", "0"], "--learning-rate"),
    (["train", "--gradient-accumulation-steps", "0"], "--gradient-accumulation-steps"),
    (["solve", "x", "--batch-size", "0"], "--batch-size"),
    (["solve", "x", "--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization"),
]


@pytest.mark.parametrize("args,flag", OUT_OF_RANGE, ids=[" ".join(a[:1] + [f]) for a, f in OUT_OF_RANGE])
def test_out_of_range_number(files, args, flag):
    line = one_error_line(_cmd(files, args), flag)
    assert "must be" in line


UNKNOWN_NAMES = [
    (["eval", "--preset", "nope"], "unknown preset 'nope'"),
    (["eval", "--benchmarks", "math500,aime2099", "--backend", "openai"], "unknown benchmark 'aime2099'"),
    (["train", "--recipe", "nope"], "unknown recipe 'nope'"),
    (["solve", "x", "--format", "llama9"], "--format: unknown value 'llama9'"),
    (["eval", "--format", "llama9"], "--format"),
    (["synth", "--problems", "{graded}", "--format", "llama9"], "--format"),
    (["reason", "x", "--navigator-format", "llama9"], "--navigator-format"),
    (["reason", "x", "--solver-format", "llama9"], "--solver-format"),
    (["train", "--format", "llama9"], "--format"),
    (["solve", "x", "--backend", "tpu"], "--backend"),
    (["solve", "x", "--dtype", "int3"], "--dtype"),
    (["eval", "--executor", "slurm"], "--executor"),
    (["grade", "{graded}", "--kind", "essay"], "--kind"),
    (["synth", "--problems", "{graded}", "--mode", "magic"], "--mode"),
    (["data", "export", "{sft}", "--to", "csv", "--out", "o.csv"], "--to"),
    (["data", "export", "{sft}", "--format", "csv", "--out", "o.csv"], "--format"),  # old name of --to
    (["templates", "search", "x", "--retriever", "psychic"], "--retriever"),
    (["train", "--engine", "axolotl"], "--engine"),
]


@pytest.mark.parametrize("args,expect", UNKNOWN_NAMES, ids=[" ".join(a[:1] + a[-2:-1]) for a, _ in UNKNOWN_NAMES])
def test_unknown_name(files, args, expect):
    one_error_line(_cmd(files, args), expect)


USAGE = [
    (["solve"], "missing argument"),
    (["grade"], "missing argument"),
    (["report"], "missing argument"),
    (["compare", "a"], "missing argument"),
    (["templates", "search"], "missing argument"),
    (["data", "export", "{sft}"], "missing --out"),
    (["data", "stats", "{sft}"], "missing --tokenizer"),
    (["synth"], "missing --problems"),
    (["templates", "import", "{sft}"], "missing --out"),
    (["solve", "x", "--no-such-flag"], "no such option"),
    (["eval", "--n", "three"], "--n"),
    (["nosuchcommand"], "no such command"),
    (["grade", "{graded}", "--output", "a.jsonl", "--out", "b.jsonl"], "given twice"),
]


@pytest.mark.parametrize("args,expect", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_mistakes_are_one_line(files, args, expect):
    one_error_line(_cmd(files, args), expect)


def test_solve_n_zero_fails_before_the_model_loads(tmp_path):
    """The issue's case: `solve --n 0` used to load the model for 96 s first."""
    import subprocess
    import sys

    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "reasonflux.cli", "solve", "What is 2+3?", "--n", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == "error: --n must be at least 1 (got 0)"
    assert time.perf_counter() - t0 < 15


@pytest.mark.parametrize("exc,expect", [
    (PermissionError(errno.EACCES, "Permission denied", "/srv/out/x.jsonl"), "/srv/out/x.jsonl: permission denied"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "runs/demo"), "runs/demo: is a directory"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "afile/x"), "afile/x: a file is in the way"),
    (FileExistsError(errno.EEXIST, "File exists", "runs"), "runs: already exists"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/x"), "no space left"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "x.jsonl"), "x.jsonl: not found"),
])
def test_os_errors_become_one_line(capsys, exc, expect):
    from reasonflux.errors import run_cli

    def boom():
        raise exc

    with pytest.raises(SystemExit) as e:
        run_cli(boom)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and expect in err


def test_old_flag_names_still_work(files, tmp_path):
    out = tmp_path / "old.jsonl"
    r = CliRunner().invoke(app, ["grade", str(files["graded"]), "--output", str(out), "--workers", "0"])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["correct"] is True


def test_yaml_old_keys_map_to_new_fields():
    from reasonflux.commands.reason import ReasonConfig
    from reasonflux.commands.synth import SynthConfig
    from reasonflux.config import resolve
    from reasonflux.train.sft import TrainConfig

    t = resolve(TrainConfig, {"output_dir": "runs/x"})
    assert t.out == "runs/x" and t.output_dir == "runs/x"
    r = resolve(ReasonConfig, {"text": "x", "max_steps": 4, "k": 2, "library": "builtin"})
    assert (r.max_solver_steps, r.templates_k, r.templates) == (4, 2, "builtin")
    s = resolve(SynthConfig, {"problems": "org/problems", "samples": 3, "max_steps": 5})
    assert (s.n, s.max_solver_steps) == (3, 5)
