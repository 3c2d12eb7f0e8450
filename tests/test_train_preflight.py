"""Before any weights load: the preflight (packages, model path, output, every data row, memory plan),
checkpoint completeness for --resume, the F1 recipes' memory plans, the one memory plan shared by
--estimate / preflight / the run, and TRL's assistant-only labels against reasonflux's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reasonflux.chat import THINK_PREFILL

GOOD = [{"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": f"{THINK_PREFILL}2+3=5\n</think>\n\n\\boxed{{5}}"}]
MULTI = [
    {"role": "system", "content": "Please reason step by step."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": f"{THINK_PREFILL}Let me think. 2+3 = 5.\n</think>\n\nThe answer is \\boxed{{5}}."},
    {"role": "user", "content": "Find x if 2x+1=7."},
    {"role": "assistant", "content": f"{THINK_PREFILL}Subtract 1, divide by 2.\n</think>\n\nFinal Answer: \\boxed{{3}}"},
    {"role": "user", "content": "And 6*7?"},
    {"role": "assistant", "content": "42"},  # no reasoning: still trained, still the same labels
]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def train(*args: str):
    from reasonflux.cli import app

    return CliRunner().invoke(app, ["train", *args])


def one_line_error(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


# ----------------------------------------------------------------------------------------------
# packages


def test_missing_deepspeed_for_an_f1_recipe_is_one_line_within_seconds(tmp_path):
    """The real entry point in a fresh process, deepspeed hidden: exit 2, one line, no torch imported."""
    data = write_jsonl(tmp_path / "sft.jsonl", [{"messages": GOOD}])
    child = (
        "import sys, atexit\n"
        "sys.modules['deepspeed'] = None  # as if not installed (find_spec returns None)\n"
        "atexit.register(lambda: print('TORCH_IMPORTED' if 'torch' in sys.modules else 'NO_TORCH', file=sys.stderr))\n"
        "import runpy\n"
        f"sys.argv = ['reasonflux.train', '--recipe', 'f1-7b', '--data', {str(data)!r}, '--output-dir', {str(tmp_path / 'out')!r}]\n"
        "runpy.run_module('reasonflux.train', run_name='__main__')\n"
    )
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    elapsed = time.perf_counter() - t
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert lines == [lines[0], "NO_TORCH"], proc.stderr  # one line; refused before torch was imported
    assert "recipe f1-7b uses DeepSpeed" in lines[0] and "pip install 'reasonflux[deepspeed]'" in lines[0]
    assert elapsed < 10, elapsed


def test_missing_training_packages_are_named(monkeypatch):
    import importlib.util

    from reasonflux.config import resolve
    from reasonflux.errors import UserError
    from reasonflux.train.preflight import check_packages
    from reasonflux.train.sft import TrainConfig

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("trl", "accelerate") else real(name, *a))
    with pytest.raises(UserError, match=r"training needs trl, accelerate, not installed"):
        check_packages(resolve(TrainConfig, {"model": "m", "data": "d"}))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "deepspeed" else real(name, *a))
    check_packages(resolve(TrainConfig, {"model": "m", "data": "d"}))  # no ZeRO config: deepspeed not needed
    with pytest.raises(UserError, match=r"this config uses DeepSpeed \(deepspeed: zero3_offload\)"):
        check_packages(resolve(TrainConfig, {"model": "m", "data": "d", "deepspeed": "zero3_offload"}))


# ----------------------------------------------------------------------------------------------
# data: every row valid, the bad row's number in the error


BAD_ROWS = [
    ('{"messages": [', ":2: not valid JSON"),  # JSONL: the row number is the line number
    ({"text": "hello"}, ":2: row is none of messages/sharegpt/alpaca"),
    ({"messages": [{"role": "user", "content": "hi"}]}, ":2: conversation does not end with an assistant turn"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]}, ":2: message 2 needs a string 'role' and a string 'content'"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}, ":2: missing key 'content'"),
    ({"messages": [{"role": "tool", "content": "x"}, *GOOD]}, ":2: message 1 has role 'tool'"),
    ({"messages": [GOOD[0], {"role": "assistant", "content": "  "}]}, ":2: message 2 is an empty assistant turn"),
    ({"messages": [*GOOD, {"role": "system", "content": "late"}, *GOOD]}, ":2: the deepseek-r1 format cannot split"),
    ({"conversations": [{"from": "narrator", "value": "x"}, {"from": "gpt", "value": "y"}]}, ":2: unknown sharegpt role 'narrator'"),
    ([1, 2], ":2: expected a JSON object"),
]


@pytest.mark.parametrize("bad,message", BAD_ROWS, ids=[m[4:34] for _, m in BAD_ROWS])
def test_a_malformed_row_is_named_by_its_number(tmp_path, tiny_model_dir, bad, message):
    data = write_jsonl(tmp_path / "sft.jsonl", [{"messages": GOOD}, bad, {"messages": GOOD}])
    t = time.perf_counter()
    line = one_line_error(train("--recipe", "tiny", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(tmp_path / "out")))
    assert f"{data}{message}" in line, line
    assert time.perf_counter() - t < 10
    assert not any((tmp_path / "out").iterdir())  # nothing written


def test_bad_rows_in_json_and_saved_dataset_are_numbered_too(tmp_path):
    from reasonflux.errors import UserError
    from reasonflux.train.data import read_conversations

    (tmp_path / "sft.json").write_text(json.dumps([{"messages": GOOD}, {"messages": GOOD}, {"messages": GOOD[:1]}]))
    with pytest.raises(UserError, match=r"sft.json:3: conversation does not end"):
        read_conversations(str(tmp_path / "sft.json"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(UserError, match="has no conversations"):
        read_conversations(str(tmp_path / "empty.jsonl"))
    with pytest.raises(UserError, match="data file not found"):
        read_conversations(str(tmp_path / "missing.jsonl"))
    assert read_conversations(str(write_jsonl(tmp_path / "ok.jsonl", [{"messages": MULTI}]))) == [MULTI]


# ----------------------------------------------------------------------------------------------
# model path and output directory


def test_missing_model_and_unwritable_output_are_refused_before_loading(tmp_path, tiny_model_dir):
    data = write_jsonl(tmp_path / "sft.jsonl", [{"messages": GOOD}])
    line = one_line_error(train("--recipe", "tiny", "--model", str(tmp_path / "nope"), "--data", str(data), "--output-dir", str(tmp_path / "o")))
    assert "model not found" in line and "nope" in line
    (tmp_path / "file").write_text("x")
    line = one_line_error(train("--recipe", "tiny", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(tmp_path / "file")))
    assert str(tmp_path / "file") in line and "is a file" in line  # the CLI's own check of --out may answer first
    line = one_line_error(train("--recipe", "tiny", "--model", str(tiny_model_dir), "--data", str(data),
                                "--output-dir", str(tmp_path / "file" / "sub")))
    assert str(tmp_path / "file") in line
    # the preflight itself, for callers that build the config in Python
    from reasonflux.errors import UserError
    from reasonflux.train.preflight import check_output

    with pytest.raises(UserError, match="output directory .* is a file"):
        check_output(recipe_cfg("tiny", model="m", output_dir=str(tmp_path / "file")))
    with pytest.raises(UserError, match="output directory .* is not writable"):
        check_output(recipe_cfg("tiny", model="m", output_dir=str(tmp_path / "file" / "sub")))


# ----------------------------------------------------------------------------------------------
# memory: the plan against the GPU, one plan for --estimate, preflight and the run


def recipe_cfg(name: str, **over):
    from reasonflux.config import resolve
    from reasonflux.train.sft import TrainConfig, load_recipe

    return resolve(TrainConfig, load_recipe(name), {"data": "sft.jsonl", **over})


@pytest.mark.parametrize("name", ["f1-7b", "f1-14b", "f1-32b"])
def test_f1_recipes_fit_8_gpus_of_80_gib_with_headroom(name):
    from reasonflux.train.estimate import estimate

    cfg = recipe_cfg(name, gpus=8)
    assert (cfg.memory_mode, cfg.save_steps) == ("min", 100)  # full checkpointing; the seed's save_steps
    r = estimate(cfg)
    assert r["fits"] and r["memory_mode"] == "min" and r["compile"] is False  # ZeRO-3 runs eager
    assert r["headroom"] >= 0.10, (name, r["per_gpu_bytes"] / 2**30)


def test_memory_check_refuses_a_plan_that_does_not_fit(tmp_path, monkeypatch):
    from reasonflux.errors import UserError
    from reasonflux.train.estimate import GIB
    from reasonflux.train.preflight import check_memory

    cfg = recipe_cfg("f1-7b")
    # ZeRO-3 over 8 GPUs of one node: fits; the same recipe in one process: 18 bytes/param on one GPU
    plan = check_memory(cfg, 80 * GIB, world_size=8, local_world_size=8)
    assert plan.fits and plan.headroom > 0.10 and plan.gpus_per_node == 8
    with pytest.raises(UserError, match=r"memory plan does not fit: .* on 1 GPU\(s\) of 80 GiB, limit 85%"):
        check_memory(cfg, 80 * GIB, world_size=1, local_world_size=None)
    assert check_memory(recipe_cfg("f1-7b", check_memory=False), 80 * GIB, 1, None) is None
    assert check_memory(cfg, None, 1, None) is None  # no GPU: nothing to check (CPU run)
    # through the CLI: no ZeRO (16 bytes/param on one 80 GiB card), refused in preflight, one line
    data = write_jsonl(tmp_path / "sft.jsonl", [{"messages": GOOD}])
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    line = one_line_error(train("--recipe", "f1-7b", "--deepspeed", "none", "--data", str(data), "--output-dir",
                                str(tmp_path / "o"), "--gpu-memory-gb", "80"))
    assert "memory plan does not fit" in line and "--no-check-memory" in line


def test_nvidia_smi_memory_respects_visible_devices(tmp_path, monkeypatch):
    from reasonflux.train import preflight

    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, 81559'\necho '1, 40960'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert preflight.nvidia_smi_gpu_bytes() == 40960 * 2**20  # the smallest GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert preflight.nvidia_smi_gpu_bytes() == 81559 * 2**20
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert preflight.nvidia_smi_gpu_bytes() is None


def test_run_estimate_and_preflight_share_one_plan(monkeypatch):
    """The run's resolve_memory_plan, --estimate and preflight come from estimate.plan_run alike."""
    from reasonflux.train import estimate, sft
    from reasonflux.train.preflight import check_memory

    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    shape = estimate.KNOWN_SHAPES["deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"]
    config = {"hidden_size": shape["hidden"], "num_hidden_layers": shape["layers"], "num_attention_heads": shape["heads"],
              "num_key_value_heads": shape["kv_heads"], "intermediate_size": shape["intermediate"], "vocab_size": shape["vocab"],
              "model_type": "qwen2"}
    for mode in ("auto", "lean", "min"):
        cfg = recipe_cfg("f1-7b", memory_mode=mode, gpu_memory_gb=80, gpus=16, nodes=2)
        run = sft.resolve_memory_plan(cfg, config, world_size=16)  # two nodes of 8 (LOCAL_WORLD_SIZE)
        r = estimate.estimate(cfg)
        pre = check_memory(cfg, 80 * estimate.GIB, 16, 8, model_config=config)
        assert (run.mode, run.checkpoint_layers, run.activation_bytes) == (r["memory_mode"], r["checkpoint_layers"], r["plan_activation_bytes"])
        assert pre.memory == run and pre.per_gpu_bytes == r["per_gpu_bytes"]


# ----------------------------------------------------------------------------------------------
# checkpoints: what --resume takes


def fake_checkpoint(path: Path, step: int, *, state: str | None = "ok", weights: bool = True, optimizer: bool = True) -> Path:
    path.mkdir(parents=True)
    if weights:
        (path / "model.safetensors").write_bytes(b"w")
    if optimizer:
        (path / "optimizer.pt").write_bytes(b"o")
    if state == "ok":
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    elif state == "torn":
        (path / "trainer_state.json").write_text('{"global_st')
    return path


def test_checkpoint_completeness():
    import tempfile

    from reasonflux.train.sft import checkpoint_problem

    d = Path(tempfile.mkdtemp())
    assert checkpoint_problem(fake_checkpoint(d / "checkpoint-10", 10), 10) is None
    assert checkpoint_problem(fake_checkpoint(d / "checkpoint-20", 20, state=None), 20) == "no trainer_state.json"
    assert checkpoint_problem(fake_checkpoint(d / "checkpoint-30", 30, state="torn"), 30) == "trainer_state.json is cut short"
    assert checkpoint_problem(fake_checkpoint(d / "checkpoint-40", 40, weights=False), 40) == "no model weights"
    assert checkpoint_problem(fake_checkpoint(d / "checkpoint-50", 50, optimizer=False), 50) == "no optimizer state"
    assert checkpoint_problem(fake_checkpoint(d / "checkpoint-60", 61), 60) == "trainer_state.json is for step 61"
    ds = fake_checkpoint(d / "checkpoint-70", 70, weights=False, optimizer=False)
    (ds / "global_step70").mkdir()  # a ZeRO checkpoint keeps weights and optimizer partitions there
    assert checkpoint_problem(ds, 70) is None


def test_resume_sets_half_written_checkpoints_aside(tmp_path, capsys, monkeypatch):
    from reasonflux.errors import UserError
    from reasonflux.train.sft import find_resume_checkpoint

    out = tmp_path / "run"
    fake_checkpoint(out / "checkpoint-100", 100)
    fake_checkpoint(out / "checkpoint-200", 200, state=None)  # killed while saving
    fake_checkpoint(out / "checkpoint-300", 300, state="torn")
    (out / "incomplete-checkpoint-200").mkdir()  # an earlier set-aside of the same step is kept too
    with pytest.raises(UserError, match="already holds checkpoint-300: pass --resume"):
        find_resume_checkpoint(recipe_cfg("tiny", model="m", output_dir=str(out)))
    monkeypatch.setenv("RANK", "1")  # other ranks choose the same checkpoint and rename nothing
    assert find_resume_checkpoint(recipe_cfg("tiny", model="m", output_dir=str(out), resume=True)) == str(out / "checkpoint-100")
    assert (out / "checkpoint-200").is_dir() and (out / "checkpoint-300").is_dir()
    monkeypatch.setenv("RANK", "0")
    got = find_resume_checkpoint(recipe_cfg("tiny", model="m", output_dir=str(out), resume=True))
    assert got == str(out / "checkpoint-100")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-100", "incomplete-checkpoint-200", "incomplete-checkpoint-200.2",
                                                    "incomplete-checkpoint-300"]
    assert (out / "incomplete-checkpoint-200.2" / "model.safetensors").exists()  # set aside, not deleted
    err = capsys.readouterr().err
    assert "checkpoint-300 is incomplete (trainer_state.json is cut short" in err and "moved it to incomplete-checkpoint-300" in err
    # only incomplete ones: start from the base model, with a message
    only = tmp_path / "only"
    fake_checkpoint(only / "checkpoint-5", 5, state=None)
    assert find_resume_checkpoint(recipe_cfg("tiny", model="m", output_dir=str(only), resume=True)) is None
    assert "no complete checkpoint-*" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# TRL's assistant_only_loss: the labels it builds from the template are ours


@pytest.mark.parametrize("fmt", ["deepseek-r1", "chatml"])
def test_trl_assistant_only_loss_labels_equal_ours_on_multi_turn(fmt, tmp_path):
    import datasets
    from trl import SFTConfig, SFTTrainer

    from reasonflux.chat import get_format
    from reasonflux.testing.tiny import build_model, build_tokenizer
    from reasonflux.train.data import build_examples

    tok = build_tokenizer()
    tok.chat_template = get_format(fmt).jinja()  # the shipped template, generation markers included
    convs = [MULTI, GOOD, MULTI[1:3], [*MULTI[:3], {"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}]]
    ours, stats = build_examples(convs, tok, fmt=fmt, cutoff_len=4096)
    assert stats.kept == len(convs)
    args = SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, max_length=4096, report_to=[], use_cpu=True,
                     dataset_kwargs={"skip_prepare_dataset": False})
    trainer = SFTTrainer(model=build_model(tok), args=args, processing_class=tok,
                         train_dataset=datasets.Dataset.from_list([{"messages": c} for c in convs]))
    assert trainer.chat_template is None  # TRL found our markers: it did not swap in a template of its own
    got = list(trainer.train_dataset)
    for g, o in zip(got, ours, strict=True):
        assert g["input_ids"] == o["input_ids"] and g["labels"] == o["labels"]
    assert sum(lab != -100 for lab in got[0]["labels"]) > 0


def test_trl_label_check_names_the_conversation():
    from reasonflux.errors import UserError
    from reasonflux.train.sft import check_trl_labels

    cfg = recipe_cfg("tiny", model="m")
    rows = [{"input_ids": [1, 2, 3], "labels": [-100, 2, 3], "conversation": 0},
            {"input_ids": [1, 2, 3], "labels": [-100, 2, 3], "conversation": 4}]
    check_trl_labels([{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}] * 2, rows, cfg)
    with pytest.raises(UserError, match=r"conversation 5: TRL's assistant_only_loss labels differ .* --no-assistant-only-loss"):
        check_trl_labels([{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}, {"input_ids": [1, 2, 3], "labels": [-100, -100, 3]}], rows, cfg)
