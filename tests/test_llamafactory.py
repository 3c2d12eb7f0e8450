"""Our LLaMA-Factory export and train.yaml against the REAL llamafactory==0.9.5, run in its own
environment (``make lf-env`` builds .venv-lf once; its transformers/trl/datasets pins conflict with
ours). ``make test`` sets REASONFLUX_LF_PYTHON; without it the default .venv-lf is used if present.

(a) LLaMA-Factory's own sharegpt converter + ``deepseekr1`` template + SFT processor load every row
    of ``data export --format llamafactory`` (with and without system prompts, multi-turn) and keep
    each assistant turn's ``<think>…</think>`` in the trained tokens; its token ids are compared with
    our ``deepseek-r1`` format.
(b) ``llamafactory-cli train`` on the YAML ``train --engine llamafactory`` writes: the tiny model, CPU,
    2 steps, DeepSpeed off, ending with a checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROBE = REPO / "tools" / "llamafactory" / "dataset_probe.py"

CONVS = [
    # a synthesized row: no system prompt (the rows that failed with KeyError: 'system')
    [{"role": "user", "content": "What is 2+3?"},
     {"role": "assistant", "content": "<think>\nTwo plus three: count 3, 4, 5.\n</think>\n\nThe answer is $\\boxed{5}$."}],
    [{"role": "system", "content": "Please reason step by step."},
     {"role": "user", "content": "Find x if 2x+1=7."},
     {"role": "assistant", "content": "<think>\nSubtract 1, divide by 2.\n</think>\n\n$x = \\boxed{3}$"}],
    # multi-turn: reasoning in BOTH assistant turns must be trained (the seed's dropped-history class)
    [{"role": "user", "content": "Compute 6*7."},
     {"role": "assistant", "content": "<think>\nSix sevens are forty-two.\n</think>\n\n$\\boxed{42}$"},
     {"role": "user", "content": "Now add 13."},
     {"role": "assistant", "content": "<think>\nWait, 42+13 = 55.\n</think>\n\nSo $\\boxed{55}$."}],
    [{"role": "system", "content": "Be brief."},
     {"role": "user", "content": "Sum of the first ten positive integers?"},
     {"role": "assistant", "content": "<think>\n10*11/2 = 55\n</think>\n\n\\boxed{55}"},
     {"role": "user", "content": "And the first twenty?"},
     {"role": "assistant", "content": "<think>\n20*21/2 = 210\n</think>\n\n\\boxed{210}"}],
]


def lf_python() -> str:
    env = os.environ.get("REASONFLUX_LF_PYTHON")
    if env:
        assert Path(env).exists(), f"REASONFLUX_LF_PYTHON={env} does not exist: run `make lf-env`"
        return env
    default = REPO / ".venv-lf" / "bin" / "python"
    if not default.exists():
        pytest.skip("LLaMA-Factory environment not built: run `make lf-env` (make test does)")
    return str(default)


def lf_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", CUDA_VISIBLE_DEVICES="", DISABLE_VERSION_CHECK="1",
               WANDB_DISABLED="true", HF_DATASETS_CACHE=env.get("HF_DATASETS_CACHE", ""))
    if not env["HF_DATASETS_CACHE"]:
        env.pop("HF_DATASETS_CACHE")
    return env


@pytest.fixture(scope="module")
def lf_run(tmp_path_factory, tiny_model_dir):
    """sft.jsonl → ``data export --format llamafactory`` and ``train --engine llamafactory`` (tiny
    model, CPU settings, 2 steps, no DeepSpeed); returns (dir, yaml path, parsed yaml)."""
    from typer.testing import CliRunner

    from reasonflux.cli import app

    d = tmp_path_factory.mktemp("lf")
    (d / "sft.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    res = CliRunner().invoke(app, ["data", "export", str(d / "sft.jsonl"), "--to", "llamafactory", "--out", str(d / "export")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["train", "--model", str(tiny_model_dir), "--data", str(d / "sft.jsonl"),
                                   "--output-dir", str(d / "out"), "--engine", "llamafactory", "--deepspeed", "none",
                                   "--no-bf16", "--max-steps", "2", "--save-steps", "2", "--logging-steps", "1",
                                   "--cutoff-len", "512"])
    assert res.exit_code == 0, res.output
    y_path = d / "out" / "llamafactory" / "train.yaml"
    return d, y_path, yaml.safe_load(y_path.read_text())


def test_export_rows_all_carry_the_mapped_system_column(lf_run):
    d, _, _ = lf_run
    info = json.loads((d / "export" / "dataset_info.json").read_text())["ReasonFlux-F1"]
    rows = json.loads((d / "export" / info["file_name"]).read_text())
    assert len(rows) == 4 and all(info["columns"]["system"] in r for r in rows)
    assert [r["system"] for r in rows] == ["", "Please reason step by step.", "", "Be brief."]


def test_llamafactory_loads_every_row_and_keeps_the_reasoning(lf_run):
    from reasonflux.chat import render
    from reasonflux.train.data import IGNORE_INDEX, segments

    d, _, y = lf_run
    assert y["template"] == "deepseekr1" and y["enable_thinking"] is True and y["mask_history"] is False
    assert "deepspeed" not in y
    seg_path = d / "segments.json"
    seg_path.write_text(json.dumps([segments("deepseek-r1", c) for c in CONVS]))
    # train --engine llamafactory wrote the same dataset files as data export
    for name in ("dataset_info.json", json.loads((d / "export" / "dataset_info.json").read_text())["ReasonFlux-F1"]["file_name"]):
        assert (d / "export" / name).read_bytes() == (Path(y["dataset_dir"]) / name).read_bytes()
    # LLaMA-Factory's own converter + template + SFT processor on the data-export output
    export_yaml = d / "probe_export.yaml"
    export_yaml.write_text(yaml.safe_dump({**y, "dataset_dir": str(d / "export")}))
    out = d / "probe.json"
    res = subprocess.run([lf_python(), str(PROBE), str(export_yaml), str(out), str(seg_path)], capture_output=True,
                         text=True, env=lf_env(), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["rows"] == len(CONVS), res.stderr[-3000:]  # none skipped as "abnormal"
    for conv, ex, ref in zip(CONVS, got["examples"], got["reference"]):
        assistant = [m["content"] for m in conv if m["role"] == "assistant"]
        trained = ex["trained_text"]
        assert trained.count("<think>") == len(assistant) and trained.count("</think>") == len(assistant)
        for a in assistant:  # every assistant turn, reasoning included, is in the loss
            reasoning = a.split("<think>\n")[1].split("\n</think>")[0]
            assert reasoning in trained and a.split("</think>")[1].strip() in trained
        # token for token our deepseek-r1 format (same tokenizer object), and the same loss mask:
        # prompts masked, every assistant turn from "<think>" to EOS trained
        assert ex["input_ids"] == ref["input_ids"]
        assert ex["labels"] == ref["labels"]
        assert sum(lab != IGNORE_INDEX for lab in ex["labels"]) > 0
        assert "".join(t for t, _ in segments("deepseek-r1", conv)) == render("deepseek-r1", conv, add_generation_prompt=False)


def test_llamafactory_cli_trains_the_written_yaml_two_steps(lf_run):
    d, _, y = lf_run
    cli = Path(lf_python()).parent / "llamafactory-cli"
    cfg = {**y, "preprocessing_num_workers": 1, "plot_loss": False}
    run_yaml = d / "train_cpu.yaml"  # only machine-specific keys changed from the written YAML
    run_yaml.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([str(cli), "train", str(run_yaml)], capture_output=True, text=True, env=lf_env(), timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-4000:])
    ckpt = Path(y["output_dir"]) / "checkpoint-2"
    assert ckpt.is_dir(), sorted(p.name for p in Path(y["output_dir"]).iterdir())
    assert (ckpt / "model.safetensors").exists() and (ckpt / "trainer_state.json").exists()
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and all("loss" in h for h in state["log_history"] if "step" in h and "train_runtime" not in h)
