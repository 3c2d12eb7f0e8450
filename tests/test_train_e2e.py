"""End to end on CPU: the tiny recipe trains a tiny random Qwen2 on ten synthetic trajectories,
the loss falls, the checkpoint reloads with our chat template, greedy decoding (and `reasonflux
solve`) reproduces training answers, resume continues an interrupted run exactly, and torchrun
with two processes runs the same entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

QUESTIONS = [
    ("What is 2+3?", "2+3 = 5.", "5"), ("What is 4+4?", "4+4 = 8.", "8"), ("Find x if 2x+1=7.", "Subtract 1, divide by 2, x = 3.", "3"),
    ("Compute 6*7.", "6*7 = 42.", "42"), ("What is 10-3?", "10-3 = 7.", "7"), ("What is 9+1?", "9+1 = 10.", "10"),
    ("Compute the sum of 1, 2 and 3.", "1+2+3 = 6.", "6"), ("What is 12/4?", "12/4 = 3.", "3"), ("What is 5*5?", "5*5 = 25.", "25"),
    ("What is 2^5?", "2^5 = 32.", "32"),
]


def conversation(q: str, r: str, a: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": q},
            {"role": "assistant", "content": f"<think>\nLet me think step by step. {r}\n</think>\n\nThe answer is \\boxed{{{a}}}."}]


CONVS = [conversation(*q) for q in QUESTIONS]


def train_cfg(model: Path, data: Path, out: Path, **over):
    from reasonflux.config import resolve
    from reasonflux.train.sft import TrainConfig, load_recipe

    return resolve(TrainConfig, load_recipe("tiny"), {"model": str(model), "data": str(data), "output_dir": str(out), **over})


@pytest.fixture(scope="module")
def run(tiny_model_dir, tmp_path_factory):
    from reasonflux.commands.train import main

    d = tmp_path_factory.mktemp("train")
    data = d / "sft.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    summary = main(train_cfg(tiny_model_dir, data, d / "out"))
    return {"dir": d, "data": data, "out": d / "out", "summary": summary, "model": tiny_model_dir}


def test_loss_falls_and_the_checkpoint_reloads(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reasonflux.chat import get_format

    s, out = run["summary"], run["out"]
    losses = [loss for _, loss in s["losses"]]
    assert s["global_step"] == 160 and s["memory_mode"] == "fast" and s["data"]["kept"] == 10
    assert s["labels"] == "trl assistant_only_loss"  # TRL built the labels (checked equal to ours row by row)
    assert losses[0] > 4.0 and losses[-1] < 0.1 * losses[0]
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template == get_format("deepseek-r1").jinja()  # not the base model's (reasoning-dropping) one
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert (out / "train_config.yaml").exists() and (out / "checkpoint-80" / "train_config.yaml").exists()
    assert json.loads((out / "data_stats.json").read_text())["loss_tokens"] > 0


def test_saved_tokenizer_gives_the_training_prompt_tokens(run):
    from transformers import AutoTokenizer

    from reasonflux.train.data import IGNORE_INDEX, tokenize_conversation

    tok = AutoTokenizer.from_pretrained(run["out"])
    for conv in CONVS:
        ids, labels = tokenize_conversation(conv, tok)
        prompt = tok.apply_chat_template(conv[:-1], add_generation_prompt=True, tokenize=True)["input_ids"]
        assert ids[: len(prompt)] == prompt
        assert tok.decode([t for t, lab in zip(ids, labels) if lab != IGNORE_INDEX]).startswith("<think>\nLet me think")


def test_greedy_decoding_reproduces_training_answers(run):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run["out"])
    model = AutoModelForCausalLM.from_pretrained(run["out"])
    exact = 0
    for conv in CONVS:
        enc = tok.apply_chat_template(conv[:-1], add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=48, do_sample=False)
        text = tok.decode(gen[0, enc["input_ids"].shape[1]:])
        exact += text == conv[1]["content"].removeprefix("<think>\n") + tok.eos_token
    assert exact >= 8, exact


def test_reasonflux_solve_on_the_checkpoint_reproduces_an_answer(run):
    pytest.importorskip("reasonflux.backends.hf", reason="hf backend not available")
    from typer.testing import CliRunner

    from reasonflux.cli import app

    res = CliRunner().invoke(app, ["solve", "What is 2+3?", "--model", str(run["out"]), "--format", "model",
                                   "--backend", "hf", "--device", "cpu", "--max-tokens", "48", "--json"])
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if '{"answer"' in ln)  # stderr progress bars share the stream
    row = json.loads(line[line.index('{"answer"'):])
    assert row["answer"] == "The answer is \\boxed{5}." and row["extracted"] == "5"
    assert row["reasoning"] == "Let me think step by step. 2+3 = 5."


def test_resume_continues_an_interrupted_run_exactly(run):
    import torch
    from safetensors.torch import load_file

    from reasonflux.commands.train import main
    from reasonflux.errors import UserError

    b = run["dir"] / "interrupted"
    b.mkdir()
    shutil.copytree(run["out"] / "checkpoint-80", b / "checkpoint-80")  # as if killed after step 80's save...
    half = b / "checkpoint-120"  # ...and again while saving step 120: weights written, trainer state not yet
    half.mkdir()
    shutil.copy(run["out"] / "checkpoint-80" / "model.safetensors", half / "model.safetensors")
    with pytest.raises(UserError, match="--resume"):
        main(train_cfg(run["model"], run["data"], b))  # never trains over an earlier run's work by accident
    s = main(train_cfg(run["model"], run["data"], b, resume=True))
    assert s["resumed_from"].endswith("checkpoint-80") and s["global_step"] == 160
    assert (b / "incomplete-checkpoint-120" / "model.safetensors").exists()  # set aside, not deleted
    assert not (b / "checkpoint-120").exists() and (b / "checkpoint-160" / "trainer_state.json").exists()
    assert [st for st, _ in s["losses"]][0] <= 80 < [st for st, _ in s["losses"]][-1]
    full, resumed = load_file(run["out"] / "model.safetensors"), load_file(b / "model.safetensors")
    assert all(torch.allclose(full[k], resumed[k], atol=1e-5) for k in full)


def test_memory_modes_give_the_same_gradients():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from reasonflux.testing.tiny import build_model, build_tokenizer
    from reasonflux.train.sft import apply_memory_mode

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops: dict[str, int] = {}

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops[str(func)] = self.ops.get(str(func), 0) + 1
            return func(*args, **(kwargs or {}))

    tok = build_tokenizer()
    ids = torch.randint(0, len(tok), (2, 40))
    labels = ids.clone()
    labels[:, :10] = -100
    grads, backward_ops = {}, {}
    for mode in ("fast", "lean", "min"):
        model = build_model(tok, seed=0)
        model.train()
        apply_memory_mode(model, mode)
        loss = model(input_ids=ids, labels=labels).loss
        with Count() as c:
            loss.backward()
        grads[mode] = [p.grad for p in model.parameters()]
        backward_ops[mode] = c.ops
    for mode in ("lean", "min"):
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads["fast"], grads[mode]))
    fwd_attn = lambda ops: sum(n for op, n in ops.items() if "scaled_dot_product" in op and "backward" not in op)  # noqa: E731
    mm = lambda ops: sum(n for op, n in ops.items() if op.startswith(("aten.mm", "aten.addmm")))  # noqa: E731
    # lean recomputes the projections but keeps the attention output; min recomputes attention too
    assert fwd_attn(backward_ops["fast"]) == fwd_attn(backward_ops["lean"]) == 0 < fwd_attn(backward_ops["min"])
    assert mm(backward_ops["fast"]) < mm(backward_ops["lean"]) == mm(backward_ops["min"])


def test_lean_checkpoints_only_the_layers_the_budget_needs():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from reasonflux.config import resolve
    from reasonflux.testing.tiny import build_model, build_tokenizer
    from reasonflux.train.estimate import GIB, activation_bytes, shape_from_config
    from reasonflux.train.sft import TrainConfig, apply_memory_mode, compile_layers, decoder_layers, resolve_memory_plan

    class CountMM(TorchDispatchMode):
        mm = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.mm += str(func).startswith(("aten.mm", "aten.addmm"))
            return func(*args, **(kwargs or {}))

    tok = build_tokenizer()
    ids = torch.randint(0, len(tok), (1, 48))
    model = build_model(tok, layers=4, seed=0)
    budget = activation_bytes(shape_from_config(model.config), 48, "lean", checkpoint_layers=2)  # what 2 of 4 layers need
    cfg = resolve(TrainConfig, {"model": "m", "data": "d", "memory_mode": "lean", "cutoff_len": 48, "compile": False,
                                "activation_budget_gb": budget / GIB})
    plan = resolve_memory_plan(cfg, model.config, 1)
    assert (plan.mode, plan.checkpoint_layers, plan.compiled) == ("lean", 2, False)

    def grads(mode, k=None, compiled=False):
        torch._dynamo.reset()
        m = build_model(tok, layers=4, seed=0)
        m.train()
        n = apply_memory_mode(m, mode, k)
        if compiled:  # aot_eager: dynamo traces the checkpoint (selective policy included) without code generation
            from reasonflux.train.sft import checkpoint_traces_into_compile

            # older transformers checkpoint outside the compiled call: the checkpointed layers stay eager
            assert compile_layers(m, backend="aot_eager") == (4 if checkpoint_traces_into_compile() else 4 - n)
        loss = m(input_ids=ids, labels=ids).loss
        with CountMM() as c:
            loss.backward()
        return n, [x.gradient_checkpointing for x in decoder_layers(m)], [p.grad for p in m.parameters()], c.mm

    _, _, ref, mm_fast = grads("fast")
    n, flags, g, mm_k2 = grads("lean", plan.checkpoint_layers)
    assert n == 2 and flags == [True, True, False, False]  # the first layers: recomputed last, after the others are freed
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ref, g))
    _, _, _, mm_all = grads("lean")
    assert mm_fast < mm_k2 < mm_all  # only the checkpointed layers recompute their projections
    n, flags, g, _ = grads("lean", 2, compiled=True)
    assert n == 2 and all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ref, g))


def test_torchrun_two_processes_run_the_same_entry_point(run):
    torchrun = Path(sys.executable).parent / "torchrun"
    out = run["dir"] / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "reasonflux.train", "--recipe", "tiny",
                           "--model", str(run["model"]), "--data", str(run["data"]), "--output-dir", str(out), "--max-steps", "6"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads((out / "train_summary.json").read_text())
    assert s["world_size"] == 2 and s["global_step"] == 6
    assert (out / "model.safetensors").exists() and (out / "checkpoint-6").is_dir()


def test_trl_labels_and_reasonflux_labels_train_the_same_weights(run):
    """--no-assistant-only-loss (our pre-tokenised rows) and TRL's assistant_only_loss give one run."""
    import torch
    from safetensors.torch import load_file

    from reasonflux.commands.train import main

    outs = {}
    for trl_labels in (True, False):
        out = run["dir"] / f"labels-{trl_labels}"
        s = main(train_cfg(run["model"], run["data"], out, max_steps=6, assistant_only_loss=trl_labels))
        assert s["labels"] == ("trl assistant_only_loss" if trl_labels else "reasonflux")
        outs[trl_labels] = load_file(out / "model.safetensors")
    assert all(torch.equal(outs[True][k], outs[False][k]) for k in outs[True])
