"""`reasonflux train` without training: recipes, config layering, launch lines, memory estimates,
the LLaMA-Factory export and user errors."""

from __future__ import annotations

import json
import shlex

import pytest
import yaml
from typer.testing import CliRunner

from reasonflux.cli import app

SEED = dict(cutoff_len=16384, learning_rate=1e-5, num_train_epochs=5.0, lr_scheduler_type="cosine", warmup_ratio=0.0,
            per_device_train_batch_size=1, gradient_accumulation_steps=2, bf16=True, max_grad_norm=1.0, optim="adamw_torch",
            format="deepseek-r1")


def run(*args: str):
    return CliRunner().invoke(app, ["train", *args])


@pytest.mark.parametrize("name,deepspeed", [("f1-7b", "zero3"), ("f1-14b", "zero3"), ("f1-32b", "zero3_offload")])
def test_recipes_carry_the_seed_hyperparameters(name, deepspeed):
    from reasonflux.config import resolve
    from reasonflux.train.sft import TrainConfig, load_recipe

    cfg = resolve(TrainConfig, load_recipe(name))
    assert {k: getattr(cfg, k) for k in SEED} == SEED
    assert cfg.deepspeed == deepspeed and cfg.recipe == name and cfg.truncate is False
    assert cfg.model == f"deepseek-ai/DeepSeek-R1-Distill-Qwen-{name[3:-1].upper()}B"


def test_layers_recipe_below_config_below_flags_and_print_launch(tmp_path):
    (tmp_path / "over.yaml").write_text("learning_rate: 2.0e-5\ncutoff_len: 4096\n")
    out = tmp_path / "run"
    res = run("--recipe", "f1-7b", "--config", str(tmp_path / "over.yaml"), "--cutoff-len", "8192", "--data", "sft.jsonl",
              "--output-dir", str(out), "--print-launch", "--nodes", "2", "--gpus-per-node", "8")
    assert res.exit_code == 0, res.output
    saved = yaml.safe_load((out / "launch_config.yaml").read_text())
    assert saved["recipe"] == "f1-7b" and saved["learning_rate"] == 2e-5 and saved["cutoff_len"] == 8192
    assert saved["num_train_epochs"] == 5.0 and saved["deepspeed"] == "zero3"
    assert saved["print_launch"] is False  # every rank runs this file: it must train, not print again
    lines = {ln.split()[0]: ln for ln in res.output.splitlines() if ln.startswith(("torchrun", "accelerate"))}
    tr = shlex.split(lines["torchrun"])
    for flag, value in [("--nnodes", "2"), ("--nproc_per_node", "8"), ("--node_rank", "$NODE_RANK"), ("-m", "reasonflux.train"),
                        ("--config", str(out / "launch_config.yaml"))]:
        assert tr[tr.index(flag) + 1] == value
    acc = shlex.split(lines["accelerate"])
    assert acc[acc.index("--num_processes") + 1] == "16" and acc[acc.index("--num_machines") + 1] == "2"
    # the saved config resolves to the same settings when read back (what each rank does)
    from reasonflux.config import load_yaml, resolve
    from reasonflux.train.sft import TrainConfig, load_recipe

    again = resolve(TrainConfig, load_recipe(saved["recipe"]), load_yaml(out / "launch_config.yaml"))
    assert again.cutoff_len == 8192 and again.learning_rate == 2e-5 and again.print_launch is False


def test_zero3_formulas_match_deepspeeds_published_table():
    """DeepSpeed's memory docs: 2851M params, 32.9M largest layer, 1 node x 8 GPUs (GiB)."""
    from reasonflux.train.estimate import GIB, zero3_model_states

    total, largest = 2851e6, 32.9e6
    cases = {(True, True): (71.71, 0.12), (True, False): (63.74, 0.79), (False, False): (1.47, 6.10)}
    for (opt, par), (cpu, gpu) in cases.items():
        host, dev = zero3_model_states(int(total), int(largest), gpus_per_node=8, nodes=1, cpu_offload=opt, cpu_offload_params=par)
        assert abs(host / GIB - cpu) < 0.05 and abs(dev / GIB - gpu) < 0.02, (opt, par, host / GIB, dev / GIB)


def test_estimate_prints_per_gpu_and_host_memory():
    res = run("--recipe", "f1-32b", "--estimate", "--gpus", "16")
    assert res.exit_code == 0, res.output
    assert "32.76B parameters" in res.output and "2 node(s) x 8" in res.output
    assert "zero3_offload" in res.output and "<- this config" in res.output and "host memory per node" in res.output
    from reasonflux.config import resolve
    from reasonflux.train.estimate import GIB, estimate
    from reasonflux.train.sft import TrainConfig, load_recipe

    r = estimate(resolve(TrainConfig, load_recipe("f1-32b"), {"gpus": 8}))
    # offloaded params and optimizer: the GPU holds only the largest layer (fp32) of the model states
    assert r["states"]["zero3_offload"]["gpu"] == 4 * r["largest_layer_params"]
    assert r["states"]["zero3"]["gpu"] > 60 * GIB and r["memory_mode"] in ("lean", "min") and r["fits"]
    # the fast mode keeps every activation: far beyond one 80 GB GPU at 16k tokens for 32B
    assert r["activations"]["fast"] > 200 * GIB > r["activations"]["lean"] > r["activations"]["min"]


def test_memory_mode_auto_picks_by_gpu_memory():
    from reasonflux.train.estimate import GIB, KNOWN_SHAPES, Shape, pick_memory_mode

    s = Shape(**KNOWN_SHAPES["deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"])
    states = 16 * s.total_params()
    assert pick_memory_mode(s, 16384, states, 141 * GIB) == "fast"
    assert pick_memory_mode(s, 16384, states, 80 * GIB) == "lean"
    assert pick_memory_mode(s, 16384, states, 32 * GIB) == "min"


# H200 run of benchmarks/train_mfu.py (1.5B shape, 16k tokens, bf16 weights + grads, no optimizer): peak GiB
H200_PEAK_GIB = {("fast", False): 49.5, ("fast", True): 36.6, ("lean", False): 8.6}


def test_lean_checkpoints_the_fewest_layers_that_fit_the_budget():
    from reasonflux.train.estimate import GIB, KNOWN_SHAPES, Shape, activation_bytes, plan_memory

    s, T = Shape(**KNOWN_SHAPES["deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"]), 16384
    acts = [activation_bytes(s, T, "lean", checkpoint_layers=k, compiled=True) for k in range(s.layers + 1)]
    assert all(a > b for a, b in zip(acts[:-1], acts[1:-1]))  # every checkpointed layer frees memory...
    assert acts[-1] > acts[-2]  # ...but the last: its recompute needs what keeping it whole does
    for k in (1, 10, 26):
        p = plan_memory(s, T, acts[k], mode="lean", compiled=True)
        assert (p.mode, p.checkpoint_layers, p.fits) == ("lean", k, True)
        assert plan_memory(s, T, acts[k] - 1, mode="lean", compiled=True).checkpoint_layers == k + 1
    # auto: fast while everything fits, then lean with the fewest layers, then min
    fast = activation_bytes(s, T, "fast", compiled=True)
    assert plan_memory(s, T, fast, compiled=True).mode == "fast"
    assert (plan_memory(s, T, fast - 1, compiled=True).mode, plan_memory(s, T, fast - 1, compiled=True).checkpoint_layers) == ("lean", 1)
    assert plan_memory(s, T, acts[-2] - 1, compiled=True).mode == "min"
    assert plan_memory(s, T, None).mode == "fast"  # a CPU run without a budget
    # the benchmark's lean goal: 24 GiB less bf16 weights and gradients -> a part of the layers, predicted within 24 GiB
    states = 4 * s.total_params()
    p = plan_memory(s, T, 24 * GIB - states, mode="lean", compiled=True)
    assert 0 < p.checkpoint_layers < s.layers and states + p.activation_bytes <= 24 * GIB
    # compiled layers keep less, so fewer layers are checkpointed for the same budget
    assert plan_memory(s, T, 24 * GIB - states, mode="lean").checkpoint_layers > p.checkpoint_layers
    assert plan_memory(s, T, None, mode="lean").checkpoint_layers == s.layers
    assert plan_memory(s, T, 24 * GIB - states, mode="lean", checkpoint_layers=5).checkpoint_layers == 5
    # the estimate is an upper bound of the measured peaks, within 4 GiB
    for (mode, compiled), measured in H200_PEAK_GIB.items():
        predicted = (states + activation_bytes(s, T, mode, compiled=compiled)) / GIB
        assert measured <= predicted <= measured + 4, (mode, compiled, predicted)


def test_compile_defaults_to_cuda_without_zero3():
    from reasonflux.config import resolve
    from reasonflux.train.estimate import resolve_compile
    from reasonflux.train.sft import TrainConfig

    cfg = lambda **kw: resolve(TrainConfig, kw)  # noqa: E731
    assert resolve_compile(cfg(), cuda=True) is True and resolve_compile(cfg(), cuda=False) is False
    assert resolve_compile(cfg(deepspeed="zero3"), cuda=True) is False
    assert resolve_compile(cfg(compile=False), cuda=True) is False and resolve_compile(cfg(compile=True), cuda=False) is True


def test_llamafactory_export_reproduces_the_recipe(tmp_path):
    conv = [{"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "<think>\n2+3=5\n</think>\n\n\\boxed{5}"}]
    (tmp_path / "sft.jsonl").write_text(json.dumps({"messages": conv}) + "\n")
    out = tmp_path / "lf"
    res = run("--recipe", "f1-32b", "--data", str(tmp_path / "sft.jsonl"), "--output-dir", str(out), "--engine", "llamafactory")
    assert res.exit_code == 0, res.output
    y = yaml.safe_load((out / "llamafactory" / "train.yaml").read_text())
    assert y["template"] == "deepseekr1" and y["finetuning_type"] == "full" and y["stage"] == "sft"
    assert (y["cutoff_len"], y["learning_rate"], y["num_train_epochs"], y["lr_scheduler_type"], y["warmup_ratio"]) == (16384, 1e-5, 5.0, "cosine", 0.0)
    assert (y["per_device_train_batch_size"], y["gradient_accumulation_steps"], y["bf16"], y["max_grad_norm"], y["optim"]) == (1, 2, True, 1.0, "adamw_torch")
    assert y["packing"] is False and y["train_on_prompt"] is False
    assert y["model_name_or_path"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"
    ds = json.loads(open(y["deepspeed"]).read())
    assert ds["zero_optimization"]["stage"] == 3 and ds["zero_optimization"]["offload_param"]["device"] == "cpu"
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())[y["dataset"]]
    rows = json.loads((out / "llamafactory" / info["file_name"]).read_text())
    assert info["formatting"] == "sharegpt" and rows[0]["conversations"][1]["value"].startswith("<think>\n2+3=5")


def test_user_errors_are_one_line(tmp_path):
    res = run("--recipe", "f1-99b", "--estimate")
    assert res.exit_code == 2 and "unknown recipe 'f1-99b'" in res.output
    res = run("--recipe", "tiny", "--model", "m", "--data", "d.jsonl", "--format", "model")
    assert res.exit_code == 2 and "cannot train with chat format 'model'" in res.output
    res = run("--recipe", "f1-7b")
    assert res.exit_code == 2 and "train needs data" in res.output
    res = run("--recipe", "f1-7b", "--data", "x.jsonl", "--memory-mode", "turbo")
    assert res.exit_code == 2 and "unknown memory_mode" in res.output
    res = run("--recipe", "f1-7b", "--data", "x.jsonl", "--checkpoint-layers", "-1")
    assert res.exit_code == 2 and "checkpoint_layers must be 0 or more" in res.output
    res = run("--recipe", "f1-7b", "--data", "x.jsonl", "--deepspeed", str(tmp_path / "nope.json"))
    assert res.exit_code == 2 and "deepspeed config not found" in res.output
