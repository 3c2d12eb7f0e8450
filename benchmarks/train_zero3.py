"""The F1 recipe's configuration on one GPU: DeepSpeed ZeRO-3, the optimizer stepping, per memory mode —
tokens/s, MFU, peak memory, and the memory planner's estimate beside each measured peak.

Unlike ``train_mfu.py`` (bf16 weights, no optimizer, no ZeRO, compiled layers), every path here runs
``reasonflux train``'s own code under the f1-7b recipe's settings: ``sft.build_args`` (the SFTConfig
with the recipe's DeepSpeed JSON, ``adamw_torch``, bf16, gradient accumulation 2, registered before the
model is built so ZeRO-3 partitions it), ``sft.resolve_memory_plan`` / ``sft.apply_memory_mode``, and
TRL's ``SFTTrainer.train()`` — forward, backward, gradient clipping and the DeepSpeed optimizer step,
as a run does them (compile stays off: the run's default under ZeRO-3).

The model is a random-init R1-Distill-Qwen-7B shape (hidden 3584, 28 heads, 4 KV heads, intermediate
18944, vocab 152064, untied head) with ``--layers`` decoder layers (default 8 of 28: on one GPU ZeRO-3
keeps 18 bytes per parameter, 128 GiB for the full 7.6B, so the full depth cannot fit one card with
activations; per-layer costs are the same, and the planner is given this same shape). Each row is one
16,384-token sequence with a label on every token; an optimizer step is 2 micro-batches (32,768 tokens).

Paths (one process each, so peak counters are clean and a failure cannot take the others down):
  min        full activation checkpointing (the f1 recipes' memory_mode)
  lean       selective checkpointing of every layer (``lean-kN``: of the first N)
  fast       no checkpointing
  auto       what ``memory_mode: auto`` picks for this GPU
  *-offload  the same with ``deepspeed: zero3_offload`` (parameters and optimizer in CPU memory;
             DeepSpeedCPUAdam is compiled just in time on first use, which takes minutes)

Measured: s/step (median of the timed optimizer steps, after ``--warmup`` untimed ones that also create
the optimizer states), tokens/s, MFU = tokens/s x (6 N + 6 L T d) / 989 TFLOP/s (N: parameters in
matmuls, L layers, T sequence, d = heads x head_dim; recomputation is not counted), peak
``max_memory_allocated`` and ``max_memory_reserved`` over the timed steps, and the planner's
``estimate.plan_run`` for the same config on one GPU: its per-GPU bytes less the CUDA context (what
the allocator sees) beside the measured peak.

Writes ``$OUT/train_zero3.json`` when ``$OUT`` is set, else ``benchmarks/results/train_zero3.json``
(``--quick``: ``train_zero3_quick.json``), rewritten after every path.

    bash benchmarks/device_wheels.sh            # once, with PyPI: deepspeed (built with DS_BUILD_OPS=0),
                                                 # trl, datasets, transformers as wheels in .whl/
    python benchmarks/train_zero3.py             # CUDA machine: min, lean, fast (a few minutes expected; not yet timed)
    python benchmarks/train_zero3.py --quick     # tiny shape, DeepSpeed on the CPU: the same code end to end
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_mfu import (  # noqa: E402 - one MFU formula, child runner and CLI plumbing for both
    PEAK_BF16_FLOPS,
    checked_paths,
    child_result,
    flops_per_token,
    result_path,
)

R1_DISTILL_7B_SHAPE = dict(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                           intermediate_size=18944, vocab_size=152064)
QUICK_SHAPE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=512)
DEFAULT_LAYERS = 8  # of 28: ZeRO-3's 18 bytes/param on one GPU leave room for fast's activations
SEQ_LEN, QUICK_SEQ_LEN = 16384, 128
RECIPE = "f1-7b"
BASES = ("min", "lean", "fast", "auto")
DEFAULT_PATHS = ("min", "lean", "fast")
DEFAULT_BUDGET_S = 420  # start no path after this (the whole run fits one GPU lease with a rerun's margin)
CHILD_TIMEOUT_S = 240
MIN_PATH_S = 60
GIB = 1024**3


def shape_for(quick: bool, layers: int | None) -> tuple[dict, int]:
    shape = dict(QUICK_SHAPE if quick else R1_DISTILL_7B_SHAPE)
    if layers:
        shape["num_hidden_layers"] = layers
    elif not quick:
        shape["num_hidden_layers"] = DEFAULT_LAYERS
    return shape, QUICK_SEQ_LEN if quick else SEQ_LEN


def parse_path(name: str) -> dict:
    """``lean-k4-offload`` -> {"base": "lean", "k": 4, "offload": True}; ValueError when malformed."""
    base, *mods = name.split("-")
    if base not in BASES:
        raise ValueError(f"path {name!r}: starts with one of {', '.join(BASES)}")
    spec = {"base": base, "k": None, "offload": False}
    for m in mods:
        if m.startswith("k") and m[1:].isdigit() and base == "lean":
            spec["k"] = int(m[1:])
        elif m == "offload":
            spec["offload"] = True
        else:
            raise ValueError(f"path {name!r}: unknown modifier {m!r} (kN for lean, offload)")
    return spec


def run_path(path: str, quick: bool, layers: int | None, warmup: int, steps: int) -> dict:
    """One path in this process (a single-rank distributed run); returns its measurements."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config, TrainerCallback
    from transformers.trainer_utils import SaveStrategy
    from trl import SFTTrainer

    from reasonflux.config import resolve
    from reasonflux.testing.tiny import build_tokenizer
    from reasonflux.train import estimate, sft

    spec = parse_path(path)
    shape, seq = shape_for(quick, layers)
    cuda = torch.cuda.is_available() and not quick
    recipe = sft.load_recipe(RECIPE)
    ga = recipe["gradient_accumulation_steps"]
    mode = spec["base"]
    k = spec["k"] if spec["k"] is not None else (shape["num_hidden_layers"] if mode == "lean" else None)
    out = tempfile.mkdtemp(prefix="train_zero3-")
    cfg = resolve(sft.TrainConfig, recipe, {
        "model": "random", "data": "random", "output_dir": out, "memory_mode": mode, "checkpoint_layers": k,
        "cutoff_len": seq, "max_steps": warmup + steps, "save_steps": 10**9, "logging_steps": 1, "report_to": "none",
        "deepspeed": "zero3_offload" if spec["offload"] else recipe["deepspeed"], "bf16": cuda,
        "assistant_only_loss": False,  # rows arrive tokenised: every token has a label
    })
    args = sft.build_args(cfg)  # before the model: registers ZeRO-3, so from_config partitions it
    args.disable_tqdm = True
    args.save_strategy = SaveStrategy.NO  # a run saves at its last step; here that would write ~50 GB of ZeRO states
    model_cfg = Qwen2Config(**shape, max_position_embeddings=max(seq, 4096), tie_word_embeddings=False,
                            bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    attn = sft.resolve_attn_implementation(cfg.attn_implementation)
    model = AutoModelForCausalLM.from_config(model_cfg, dtype=torch.bfloat16 if cuda else torch.float32, attn_implementation=attn)
    plan = sft.resolve_memory_plan(cfg, model.config, 1)
    checkpointed = sft.apply_memory_mode(model, plan.mode, plan.checkpoint_layers)
    gpu_bytes = sft.visible_gpu_bytes(cfg)
    predicted = estimate.plan_run(cfg, estimate.shape_from_config(model_cfg), gpus_per_node=1, nodes=1,
                                  gpu_bytes=gpu_bytes, cuda=cuda)

    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range((warmup + steps) * ga):
        ids = torch.randint(3, shape["vocab_size"], (seq,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": ids})
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    class Timer(TrainerCallback):
        """Times optimizer steps end to end (micro-batches, clipping, DeepSpeed step); resets the peak
        counters when the timed steps begin (the optimizer states exist by then)."""

        def __init__(self) -> None:
            self.ends: list[float] = []
            self.losses: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            sync()
            self.ends.append(time.perf_counter())
            if state.global_step == warmup and cuda:
                torch.cuda.reset_peak_memory_stats()

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    timer = Timer()
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=build_tokenizer(), callbacks=[timer])
    t0 = time.perf_counter()
    trainer.train()
    total_s = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    times = [b - a for a, b in zip(timer.ends[warmup - 1:], timer.ends[warmup:])] if warmup >= 1 else []
    if not times:
        raise RuntimeError("no timed steps (need --warmup >= 1 and --steps >= 1)")
    s_per_step = statistics.median(times)
    tokens_per_step = seq * cfg.per_device_train_batch_size * ga
    tps = tokens_per_step / s_per_step
    used = None
    if cuda:
        free, total = torch.cuda.mem_get_info()
        used = round((total - free) / GIB, 2)
    est_alloc = predicted.per_gpu_bytes - estimate.CUDA_CONTEXT_BYTES
    peak = torch.cuda.max_memory_allocated() if cuda else None
    return {
        "path": path, "device": "cuda" if cuda else "cpu", "deepspeed": cfg.deepspeed, "optim": cfg.optim,
        "attn_implementation": attn, "bf16": cfg.bf16, "seq_len": seq, "gradient_accumulation_steps": ga,
        "tokens_per_step": tokens_per_step, "layers": shape["num_hidden_layers"], "memory_mode": plan.mode,
        "checkpoint_layers": checkpointed, "compile": plan.compiled,
        "warmup_steps": warmup, "timed_steps": len(times), "step_times_s": [round(x, 4) for x in times],
        "s_per_step": round(s_per_step, 4), "tokens_per_s": round(tps, 1),
        "mfu": round(tps * flops_per_token(shape, seq) / PEAK_BF16_FLOPS, 4), "train_s": round(total_s, 1),
        "losses": [round(x, 4) for x in timer.losses],
        "peak_gib": round(peak / GIB, 2) if peak is not None else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2) if cuda else None,
        "device_used_gib_at_end": used, "gpu_gib": round(gpu_bytes / GIB, 2) if gpu_bytes else None,
        "estimate_gib": round(est_alloc / GIB, 2),  # the planner, less the CUDA context it adds
        "estimate_states_gib": round(predicted.states["gpu"] / GIB, 2),
        "estimate_activations_gib": round(predicted.memory.activation_bytes / GIB, 2),
        "estimate_source": predicted.states["source"],
        "estimate_minus_peak_gib": round((est_alloc - peak) / GIB, 2) if peak is not None else None,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_child(path: str, a: argparse.Namespace, timeout_s: float) -> dict:
    cmd = [sys.executable, __file__, "--child", path, "--warmup", str(a.warmup), "--steps", str(a.steps)]
    cmd += (["--quick"] if a.quick else []) + (["--layers", str(a.layers)] if a.layers else [])
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
           "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1"}
    if a.quick:
        env["OMP_NUM_THREADS"] = "1"
    return child_result(path, cmd, env, timeout_s)


def table(results: list[dict]) -> str:
    head = (f"{'path':<14}{'ckpt':>6}{'s/step':>8}{'tokens/s':>10}{'MFU':>7}{'peak GiB':>10}{'reserved':>10}"
            f"{'est GiB':>9}{'est-peak':>9}")
    rows = [head, "-" * len(head)]
    for r in results:
        if "error" in r or "skipped" in r:
            rows.append(f"{r['path']:<14}{'error: ' + r['error'][:120] if 'error' in r else 'skipped: ' + r['skipped']}")
            continue
        f = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
        ckpt = f"{r['checkpoint_layers']}/{r['layers']}"
        rows.append(f"{r['path']:<14}{ckpt:>6}{r['s_per_step']:>8.3f}{r['tokens_per_s']:>10.0f}"
                    f"{r['mfu']:>7.1%}{f(r['peak_gib']):>10}{f(r['peak_reserved_gib']):>10}{f(r['estimate_gib']):>9}"
                    f"{f(r['estimate_minus_peak_gib']):>9}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny shape on the CPU (DeepSpeed's CPU accelerator): an end-to-end smoke test")
    ap.add_argument("--paths", default=None, help=f"comma-separated: {', '.join(BASES)}, lean-kN, any with -offload "
                    f"(default {','.join(DEFAULT_PATHS)})")
    ap.add_argument("--layers", type=int, default=None, help=f"decoder layers of the 7B shape (default {DEFAULT_LAYERS} of 28)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed optimizer steps per path (at least 1)")
    ap.add_argument("--steps", type=int, default=3, help="timed optimizer steps per path")
    ap.add_argument("--budget-s", type=float, default=None, help=f"start no path after this many seconds (default {DEFAULT_BUDGET_S}; quick: none)")
    ap.add_argument("--out", default=None, help="JSON path (default $OUT/train_zero3.json or benchmarks/results/)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.warmup < 1 or a.steps < 1:
        sys.exit("--warmup and --steps must be at least 1")
    if a.child:
        import torch

        if a.quick:
            torch.set_num_threads(1)
        print("RESULT " + json.dumps(run_path(a.child, a.quick, a.layers, a.warmup, a.steps)), flush=True)
        return

    import importlib.util

    missing = [p for p in ("deepspeed", "trl", "datasets") if importlib.util.find_spec(p) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: bash benchmarks/device_wheels.sh here, then install .whl/*.whl there "
                 "(see the module docstring)")
    import torch

    if not a.quick and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --quick for a CPU smoke test")
    paths = checked_paths(a.paths, list(DEFAULT_PATHS), parse_path)
    out = result_path(a.out, "train_zero3", a.quick)
    import deepspeed
    import transformers
    import trl

    card = torch.cuda.get_device_name(0) if torch.cuda.is_available() and not a.quick else platform.processor() or "cpu"
    shape, seq = shape_for(a.quick, a.layers)
    budget_s = a.budget_s if a.budget_s is not None else (float("inf") if a.quick else DEFAULT_BUDGET_S)
    report = {"benchmark": "train_zero3", "quick": a.quick, "card": card, "recipe": RECIPE, "torch": torch.__version__,
              "transformers": transformers.__version__, "trl": trl.__version__, "deepspeed": deepspeed.__version__,
              "shape": shape, "full_depth_layers": (QUICK_SHAPE if a.quick else R1_DISTILL_7B_SHAPE)["num_hidden_layers"],
              "seq_len": seq, "flops_per_token": flops_per_token(shape, seq), "peak_flops": PEAK_BF16_FLOPS,
              "mfu_formula": "tokens/s * (6*N_matmul + 6*L*T*d) / 989e12", "paths": paths, "results": []}
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{card}: recipe {RECIPE} settings, {shape['num_hidden_layers']} of {report['full_depth_layers']} layers, "
          f"{seq} tokens x 2 micro-batches per optimizer step; paths {', '.join(paths)}", flush=True)
    print(table([]).splitlines()[0], flush=True)
    t_start = time.monotonic()
    for p in paths:
        left = budget_s - (time.monotonic() - t_start)
        r = ({"path": p, "skipped": f"time budget of {budget_s:.0f} s spent"} if left < MIN_PATH_S
             else run_child(p, a, min(CHILD_TIMEOUT_S if not parse_path(p)["offload"] else 2 * CHILD_TIMEOUT_S, left)))
        report["results"].append(r)
        out.write_text(json.dumps(report, indent=2))  # after every path: a killed run keeps what it measured
        print(table([r]).splitlines()[-1], flush=True)
    report["total_s"] = round(time.monotonic() - t_start, 1)
    out.write_text(json.dumps(report, indent=2))
    print(f"\n{card}, {report['flops_per_token'] / 1e9:.2f} GFLOP/token, peak {PEAK_BF16_FLOPS / 1e12:.0f} TFLOP/s, "
          f"{report['total_s']:.0f} s in all")
    print(table(report["results"]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
