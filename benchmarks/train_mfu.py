"""Training step throughput, MFU and peak GPU memory: our SFT paths against plain HF.

What this measures is NOT an F1 recipe's configuration: bf16 weights and gradients, no optimizer
(no states, no step), no ZeRO-3, compiled layers. The recipes run ZeRO-3 (eager) with AdamW
stepping: that is ``benchmarks/train_zero3.py``.

A random-init bf16 model of the DeepSeek-R1-Distill-Qwen-1.5B shape (Qwen2: hidden 1536, 28 layers,
12 heads, 2 KV heads, intermediate 8960, vocab 151936, untied head) is built on the GPU and trained
on one 16,384-token sequence per step (forward + backward; every token has a label). A path is a
base with optional modifiers (``lean-k14-eager``):

  plain      HF forward/backward with the model's default loss (full fp32 logits), SDPA, no
             checkpointing — the baseline (H200, before this project: 0.66 s/step, 24.9k
             tokens/s, 34% MFU, 39.5 GiB)
  fast       our memory_mode=fast as a CUDA run configures it by default: TRL's fused LM head
             (chunked cross-entropy, no full logits), no activation checkpointing, torch.compile
             of every decoder layer and the final norm                  goal: MFU >= 50%
  lean       our memory_mode=lean with ``activation_budget_gb`` = 24 GiB less the weights and
             gradients: selective checkpointing (input + attention output kept) of only as many
             decoder layers as the estimate says must be, the first ones; every layer compiled,
             the checkpoint traced into the graph          goal: <= 24 GiB, MFU >= plain
  min        our memory_mode=min: full checkpointing of every layer
  -kN        (lean) checkpoint exactly N layers instead of the estimate's choice
  -eager     (lean, min) compile only the layers that are not checkpointed
  -nocompile no torch.compile at all (the fast/lean of the earlier H200 run; ``-compile``, the
             default, is accepted so that that run's ``fast-compile`` still parses)
  -cudnn     sdpa_backend cudnn (torch already prefers cuDNN attention on Hopper with cuDNN >= 9.15)

Default paths: fast, lean, plain, and lean-kN for N = 3 and 5 fewer checkpointed layers than lean
picks (the estimate is conservative; these bracket the 24 GiB goal in the same run). When a
compiled path fails, its fallback runs right after (lean: ``-eager``, then ``-nocompile``; fast:
``-nocompile``), and the queued paths built the same way switch to their fallbacks too.

Our paths run the training code itself: ``sft.resolve_memory_plan`` (mode, checkpointed layers,
compile), ``sft.build_args`` (the SFTConfig a run uses), ``sft.apply_memory_mode``,
``sft.compile_layers``, and TRL's ``SFTTrainer.training_step`` (its fused LM head loss, autocast
context and backward). The optimizer step is left out of every path (its states are sharded or
offloaded by ZeRO-3 in the real recipes and cost the same in every path), so peak memory = bf16
weights + gradients + activations + loss buffers. Each path runs in its own process (clean
peak-memory counters and compile state; a failing path cannot take the others down), and the
JSON is rewritten after every path. ``--budget-s`` stops starting paths when the time is spent.

MFU = tokens/s x FLOPs/token / peak, peak = 989 TFLOP/s (H200/H100 SXM bf16 dense), with
    FLOPs/token = 6 N + 6 L T d
N = parameters in matmuls (all but the input embedding, lm_head included) = 1.544e9, L = 28 layers,
T = 16,384 (sequence), d = heads x head_dim = 1536: forward attention scores and weighted values
cost 2·2·T·d per token and layer, halved by the causal mask, x3 for forward + backward
(13.49 GFLOP/token; the baseline's 24.9k tokens/s is 34% by this formula). Recomputation by
checkpointing is not model FLOPs and is not counted. s/step is the median of the timed steps.

Prints a table; writes JSON to ``$OUT/train_mfu.json`` when ``$OUT`` is set, else
``benchmarks/results/train_mfu.json`` (``--quick``: ``train_mfu_quick.json``).

    python benchmarks/train_mfu.py            # CUDA machine: ~2.5 minutes on an H200 (5 paths)
    python benchmarks/train_mfu.py --quick    # tiny shape on the CPU: checks every path end to end
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

R1_DISTILL_1_5B_SHAPE = dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                             intermediate_size=8960, vocab_size=151936)
QUICK_SHAPE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=512)
SEQ_LEN, QUICK_SEQ_LEN = 16384, 256
PEAK_BF16_FLOPS = 989e12  # H200 (and H100 SXM) dense bf16
BASES = ("plain", "fast", "lean", "min")
MODIFIERS = ("eager", "nocompile", "compile", "cudnn")  # plus kN
BASELINE_H200 = {"s_per_step": 0.66, "tokens_per_s": 24.9e3, "mfu": 0.34, "peak_gib": 39.5}
GOALS = {"fast": "MFU >= 50%", "lean": "peak <= 24 GiB and MFU >= plain"}
FAST_GOAL_MFU = 0.50
LEAN_TARGET_GIB = 24.0  # the lean goal's peak
BENCH_STATE_BYTES_PER_PARAM = 4  # bf16 weights + bf16 gradients: no optimizer states in this benchmark
LEAN_VARIANT_OFFSETS = (-3, -5)  # default lean-kN paths: checkpoint fewer layers than the estimate's pick
QUICK_LEAN_VARIANT_OFFSETS = (-1, 1)
DEFAULT_BUDGET_S = 210  # stop starting paths after this (the whole run fits a ~4-minute GPU lease)
CHILD_TIMEOUT_S = 150  # one path; compiling takes the longest (~10 s per graph on an H200)
MIN_PATH_S = 35  # do not start a path with less time left than this
GIB = 1024**3


def flops_per_token(shape: dict, seq: int) -> float:
    s = model_shape(shape)
    return 6 * s.matmul_params() + 6 * s.layers * seq * s.heads * s.hd


def model_shape(shape: dict):  # noqa: ANN201 - reasonflux.train.estimate.Shape
    from reasonflux.train.estimate import Shape

    return Shape(hidden=shape["hidden_size"], layers=shape["num_hidden_layers"], heads=shape["num_attention_heads"],
                 kv_heads=shape["num_key_value_heads"], intermediate=shape["intermediate_size"], vocab=shape["vocab_size"])


def parse_path(name: str) -> dict:
    """``lean-k14-eager`` → {"base": "lean", "k": 14, "eager": True, ...}; ValueError when malformed."""
    base, *mods = name.split("-")
    if base not in BASES:
        raise ValueError(f"path {name!r}: starts with one of {', '.join(BASES)}")
    spec = {"base": base, "k": None, "eager": False, "compile": True, "cudnn": False}
    for m in mods:
        if m.startswith("k") and m[1:].isdigit() and base == "lean":
            spec["k"] = int(m[1:])
        elif m in ("eager", "cudnn") and base != "plain":
            spec[m] = True
        elif m in ("nocompile", "compile") and base != "plain":
            spec["compile"] = m == "compile"
        else:
            raise ValueError(f"path {name!r}: unknown modifier {m!r} (kN for lean; {', '.join(MODIFIERS)})")
    return spec


def bench_budget_bytes(shape: dict, seq: int, quick: bool) -> float:
    """The activation budget the lean paths plan with: 24 GiB less bf16 weights and gradients (quick:
    what half of the layers checkpointed needs, so that the CPU run also checkpoints a part)."""
    from reasonflux.train.estimate import activation_bytes

    s = model_shape(shape)
    if quick:
        return float(activation_bytes(s, seq, "lean", checkpoint_layers=s.layers // 2, compiled=True))
    return LEAN_TARGET_GIB * GIB - BENCH_STATE_BYTES_PER_PARAM * s.total_params()


def lean_pick(shape: dict, seq: int, quick: bool) -> int:
    """How many layers the lean path checkpoints (the estimate's fewest that fit the budget)."""
    from reasonflux.train.estimate import plan_memory

    return plan_memory(model_shape(shape), seq, bench_budget_bytes(shape, seq, quick), mode="lean", compiled=True).checkpoint_layers


def default_paths(quick: bool) -> list[str]:
    shape, seq = (QUICK_SHAPE, QUICK_SEQ_LEN) if quick else (R1_DISTILL_1_5B_SHAPE, SEQ_LEN)
    k, layers = lean_pick(shape, seq, quick), shape["num_hidden_layers"]
    variants = []
    for off in (QUICK_LEAN_VARIANT_OFFSETS if quick else LEAN_VARIANT_OFFSETS):
        v = max(1, min(layers, k + off))
        if v != k and v not in variants:
            variants.append(v)
    return ["fast", "lean", "plain"] + [f"lean-k{v}" for v in variants]


def fallback(name: str) -> str | None:
    """What to run when path ``name`` fails: a lean/min path without compiling its checkpointed
    layers, then without compile at all; a fast path without compile."""
    spec = parse_path(name)
    if spec["base"] == "plain" or not spec["compile"]:
        return None
    if spec["base"] in ("lean", "min") and not spec["eager"]:
        return f"{name}-eager"
    return name.replace("-eager", "") + "-nocompile"


def same_build(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` differ only in how many layers they checkpoint."""
    pa, pb = parse_path(a), parse_path(b)
    return all(pa[key] == pb[key] for key in ("base", "eager", "compile", "cudnn"))


def run_path(path: str, quick: bool, warmup: int, steps: int) -> dict:
    """One path in this process; returns its measurements."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from reasonflux.train import sft

    spec = parse_path(path)
    device = "cuda" if torch.cuda.is_available() and not quick else "cpu"
    shape, seq = (QUICK_SHAPE, QUICK_SEQ_LEN) if quick else (R1_DISTILL_1_5B_SHAPE, SEQ_LEN)
    attn = "sdpa" if spec["base"] == "plain" or spec["cudnn"] else sft.resolve_attn_implementation("auto")
    sdpa_backend = "cudnn" if spec["cudnn"] and device == "cuda" else "auto"
    cfg = Qwen2Config(**shape, max_position_embeddings=max(seq, 4096), tie_word_embeddings=False,
                      bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation=attn)
    ids = torch.randint(3, shape["vocab_size"], (1, seq), device=device)
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    info: dict = {"memory_mode": None, "checkpoint_layers": 0, "layers": shape["num_hidden_layers"], "compile": False,
                  "compiled_layers": 0, "predicted_peak_gib": None}

    if spec["base"] == "plain":
        model.train()
        model.config.use_cache = False

        def step() -> None:
            model(**batch).loss.backward()  # the model's own loss: full logits, upcast to fp32
            model.zero_grad(set_to_none=True)
    else:
        import datasets
        from trl import SFTTrainer

        from reasonflux.config import resolve
        from reasonflux.testing.tiny import build_tokenizer

        budget = bench_budget_bytes(shape, seq, quick)
        # CUDA: compile left to the run's default (on); the CPU smoke test compiles explicitly
        compile_flag = None if spec["compile"] and device == "cuda" else spec["compile"]
        tcfg = resolve(sft.TrainConfig, {"model": "random", "data": "random", "output_dir": tempfile.mkdtemp(),
                                         "memory_mode": spec["base"], "cutoff_len": seq, "bf16": device == "cuda",
                                         "compile": compile_flag, "checkpoint_layers": spec["k"],
                                         "activation_budget_gb": budget / GIB, "report_to": "none",
                                         "attn_implementation": attn, "sdpa_backend": sdpa_backend,
                                         "assistant_only_loss": False})  # rows arrive tokenised
        plan = sft.resolve_memory_plan(tcfg, model.config, 1)
        args = sft.build_args(tcfg)
        checkpointed = sft.apply_memory_mode(model, plan.mode, plan.checkpoint_layers)
        sft.configure_sdpa(tcfg.sdpa_backend)
        compiled = sft.compile_layers(model, checkpointed=not spec["eager"]) if plan.compiled else 0
        states = BENCH_STATE_BYTES_PER_PARAM * model_shape(shape).total_params()
        info.update(memory_mode=plan.mode, checkpoint_layers=checkpointed, compile=plan.compiled, compiled_layers=compiled,
                    activation_budget_gib=round(budget / GIB, 2), predicted_peak_gib=round((states + plan.activation_bytes) / GIB, 2))
        row = {"input_ids": ids[0].tolist(), "labels": ids[0].tolist()}
        trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list([row]),
                             processing_class=build_tokenizer())
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop, which we do not run

        def step() -> None:
            trainer.training_step(trainer.model, dict(batch))
            trainer.model.zero_grad(set_to_none=True)

    def graphs() -> int:
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm_s = time.perf_counter() - t0
    graphs_after_warmup = graphs()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    s_per_step = statistics.median(times)
    tps = seq / s_per_step
    return {
        "path": path, "device": device, "attn_implementation": attn, "sdpa_backend": sdpa_backend, "seq_len": seq, **info,
        "compiled_graphs": graphs_after_warmup, "recompiles_while_timed": graphs() - graphs_after_warmup,
        "warmup_steps": warmup, "timed_steps": steps, "warmup_s": round(warm_s, 2), "step_times_s": [round(x, 4) for x in times],
        "s_per_step": round(s_per_step, 4), "mean_s_per_step": round(statistics.mean(times), 4), "tokens_per_s": round(tps, 1),
        "mfu": round(tps * flops_per_token(shape, seq) / PEAK_BF16_FLOPS, 4),
        "peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 2) if device == "cuda" else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2) if device == "cuda" else None,
    }


def run_child(path: str, quick: bool, warmup: int, steps: int, timeout_s: float) -> dict:
    cmd = [sys.executable, __file__, "--child", path, "--warmup", str(warmup), "--steps", str(steps)] + (["--quick"] if quick else [])
    return child_result(path, cmd, {**os.environ, "TOKENIZERS_PARALLELISM": "false"}, timeout_s)


def child_result(path: str, cmd: list[str], env: dict[str, str], timeout_s: float) -> dict:
    """Run one measured path in its own process (a fresh CUDA context and allocator per path) and
    read its ``RESULT {json}`` line; a crash or timeout becomes an ``error`` entry."""
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {"path": path, "error": f"timed out after {timeout_s:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            r["process_s"] = round(time.perf_counter() - t, 1)
            return r
    tail = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()][-3:]
    return {"path": path, "error": " | ".join(tail) or f"exit code {proc.returncode}", "process_s": round(time.perf_counter() - t, 1)}


def checked_paths(arg: str | None, default: list[str], parse) -> list[str]:  # noqa: ANN001 - the benchmark's parse_path
    """The ``--paths`` list (default: ``default``); a name ``parse`` refuses ends the run with its message."""
    paths = [p.strip() for p in arg.split(",") if p.strip()] if arg else list(default)
    for p in paths:
        try:
            parse(p)
        except ValueError as e:
            sys.exit(str(e))
    return paths


def result_path(out: str | None, name: str, quick: bool) -> Path:
    """``--out``, else ``$OUT/NAME.json``, else ``benchmarks/results/NAME.json``; a ``--quick`` smoke
    test writes ``NAME_quick.json`` so it never overwrites a GPU result."""
    if out:
        return Path(out)
    base = Path(os.environ["OUT"]) if os.environ.get("OUT") else Path(__file__).parent / "results"
    return base / (f"{name}_quick.json" if quick else f"{name}.json")


def table(results: list[dict]) -> str:
    head = f"{'path':<17}{'ckpt':>6}{'comp':>6}{'s/step':>8}{'tokens/s':>10}{'MFU':>7}{'peak GiB':>10}{'est GiB':>9}  note"
    rows = [head, "-" * len(head)]
    for r in results:
        if "error" in r or "skipped" in r:
            rows.append(f"{r['path']:<17}{'error: ' + r['error'][:110] if 'error' in r else 'skipped: ' + r['skipped']}")
            continue
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "-"
        est = f"{r['predicted_peak_gib']:.1f}" if r.get("predicted_peak_gib") is not None else "-"
        ckpt = f"{r['checkpoint_layers']}/{r['layers']}"
        comp = str(r["compiled_layers"]) if r["compile"] else "-"
        note = GOALS.get(r["path"], "") + (f" RECOMPILED x{r['recompiles_while_timed']}" if r.get("recompiles_while_timed") else "")
        rows.append(f"{r['path']:<17}{ckpt:>6}{comp:>6}{r['s_per_step']:>8.3f}{r['tokens_per_s']:>10.0f}"
                    f"{r['mfu']:>7.1%}{peak:>10}{est:>9}  {note}")
    return "\n".join(rows)


def verdict(results: list[dict]) -> list[str]:
    """One line per goal: met or not, and by which path."""
    ok = [r for r in results if "mfu" in r]
    plain = next((r for r in ok if r["path"] == "plain"), None)
    fast = [r for r in ok if parse_path(r["path"])["base"] == "fast"]
    best_fast = max(fast, key=lambda r: r["mfu"], default=None)
    lines = []
    if best_fast:
        met = "MET" if best_fast["mfu"] >= FAST_GOAL_MFU else "not met"
        lines.append(f"fast goal (MFU >= {FAST_GOAL_MFU:.0%}): {met}, best {best_fast['path']} {best_fast['mfu']:.1%}")
    lean = [r for r in ok if parse_path(r["path"])["base"] == "lean" and r["peak_gib"] is not None]
    if plain is None:
        lines.append("lean goal: no plain measurement in this run")
    elif lean:
        fits = [r for r in lean if r["peak_gib"] <= LEAN_TARGET_GIB]
        best = max(fits, key=lambda r: r["mfu"], default=None)
        if best is None:
            lines.append(f"lean goal: not met, no lean path within {LEAN_TARGET_GIB:.0f} GiB")
        else:
            met = "MET" if best["mfu"] >= plain["mfu"] else "not met"
            lines.append(f"lean goal (<= {LEAN_TARGET_GIB:.0f} GiB, MFU >= plain {plain['mfu']:.1%}): {met}, best {best['path']} "
                         f"{best['mfu']:.1%} at {best['peak_gib']:.1f} GiB ({best['checkpoint_layers']}/{best['layers']} layers checkpointed)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny shape on the CPU: an end-to-end smoke test")
    ap.add_argument("--paths", default=None, help="comma-separated paths, e.g. fast,lean,plain,lean-k12,lean-k14-eager "
                    f"(bases {', '.join(BASES)}; modifiers kN, {', '.join(MODIFIERS)}; default: fast, lean, plain, two lean-kN)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps per path (default 2, quick 1)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per path (default 4, quick 2)")
    ap.add_argument("--budget-s", type=float, default=None, help=f"start no path after this many seconds (default {DEFAULT_BUDGET_S}; quick: none)")
    ap.add_argument("--out", default=None, help="JSON path (default $OUT/train_mfu.json or benchmarks/results/)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    steps = args.steps or (2 if args.quick else 4)
    if args.child:
        import torch

        torch.set_num_threads(1) if args.quick else None
        print("RESULT " + json.dumps(run_path(args.child, args.quick, warmup, steps)), flush=True)
        return

    t_start = time.monotonic()
    budget_s = args.budget_s if args.budget_s is not None else (float("inf") if args.quick else DEFAULT_BUDGET_S)
    import torch

    if not args.quick and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --quick for a CPU smoke test")
    paths = checked_paths(args.paths, default_paths(args.quick), parse_path)
    out = result_path(args.out, "train_mfu", args.quick)
    card = torch.cuda.get_device_name(0) if torch.cuda.is_available() and not args.quick else platform.processor() or "cpu"
    shape, seq = (QUICK_SHAPE, QUICK_SEQ_LEN) if args.quick else (R1_DISTILL_1_5B_SHAPE, SEQ_LEN)
    report = {"benchmark": "train_mfu", "quick": args.quick, "card": card, "torch": torch.__version__,
              "shape": shape, "seq_len": seq, "flops_per_token": flops_per_token(shape, seq),
              "mfu_formula": "tokens/s * (6*N_matmul + 6*L*T*d) / 989e12", "peak_flops": PEAK_BF16_FLOPS,
              "baseline_h200_before": BASELINE_H200, "goals": GOALS,
              "lean_activation_budget_gib": round(bench_budget_bytes(shape, seq, args.quick) / GIB, 2),
              "lean_pick": lean_pick(shape, seq, args.quick), "paths": paths, "results": []}
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{card}: paths {', '.join(paths)}; lean checkpoints {report['lean_pick']}/{shape['num_hidden_layers']} layers "
          f"(activation budget {report['lean_activation_budget_gib']} GiB)", flush=True)
    print(table([]).splitlines()[0], flush=True)
    queue, tried = list(paths), set()
    while queue:
        p = queue.pop(0)
        tried.add(p)
        left = budget_s - (time.monotonic() - t_start)
        if left < MIN_PATH_S:
            r = {"path": p, "skipped": f"time budget of {budget_s:.0f} s spent"}
        else:
            r = run_child(p, args.quick, warmup, steps, min(CHILD_TIMEOUT_S, left))
        report["results"].append(r)
        out.write_text(json.dumps(report, indent=2))  # after every path: a killed run keeps what it measured
        print(table([r]).splitlines()[-1], flush=True)
        fb = fallback(p) if "error" in r else None
        if fb:
            # the queued paths built the same way would fail the same way: run their fallbacks instead
            queue = [fallback(q) or q if same_build(q, p) else q for q in queue]
            if fb not in tried and fb not in queue:
                queue.insert(0, fb)
    report["verdict"] = [] if args.quick else verdict(report["results"])
    report["total_s"] = round(time.monotonic() - t_start, 1)
    out.write_text(json.dumps(report, indent=2))
    print(f"\n{card}, {seq} tokens/step, {report['flops_per_token'] / 1e9:.2f} GFLOP/token, peak {PEAK_BF16_FLOPS / 1e12:.0f} TFLOP/s, "
          f"{report['total_s']:.0f} s in all")
    print(table(report["results"]))
    for line in report["verdict"]:
        print(line)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
