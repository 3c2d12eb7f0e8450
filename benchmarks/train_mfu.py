"""Training step throughput, MFU and peak GPU memory: our SFT paths against plain HF.

A random-init bf16 model of the DeepSeek-R1-Distill-Qwen-1.5B shape (Qwen2: hidden 1536, 28 layers,
12 heads, 2 KV heads, intermediate 8960, vocab 151936, untied head) is built on the GPU and trained
on one 16,384-token sequence per step (forward + backward; every token has a label). Paths:

  plain         HF forward/backward with the model's default loss (full fp32 logits), SDPA,
                no checkpointing — the baseline (H200, before this project: 0.66 s/step,
                24.9k tokens/s, 34% MFU, 39.5 GiB)
  fast          our memory_mode=fast: TRL's fused LM head (chunked cross-entropy, no full logits),
                no activation checkpointing, attention from ``attn_implementation=auto``
                (flash-attn 2 when installed, else SDPA)                        goal: MFU >= 50%
  fast-cudnn    fast + ``sdpa_backend: cudnn`` (cuDNN's attention kernel instead of torch's FA2)
  fast-compile  fast + ``compile: true`` (torch.compile of each decoder layer: fused norms/MLP)
  lean          our memory_mode=lean: selective checkpointing (each layer keeps its input and the
                attention output, recomputes the rest) + fused LM head  goal: <= 24 GiB, MFU >= plain
  min           our memory_mode=min: full layer checkpointing + fused LM head

Our paths run the training code itself: ``sft.build_args`` (the SFTConfig a run uses),
``sft.apply_memory_mode``, ``sft.compile_layers``, and TRL's ``SFTTrainer.training_step`` (its fused
LM head loss, autocast context and backward). The optimizer step is left out of every path (its
states are sharded or offloaded by ZeRO-3 in the real recipes and cost the same in every path), so
peak memory = bf16 weights + gradients + activations + loss buffers. Each path runs in its own
process (clean peak-memory counters; an out-of-memory path cannot take the others down).

MFU = tokens/s x FLOPs/token / peak, peak = 989 TFLOP/s (H200/H100 SXM bf16 dense), with
    FLOPs/token = 6 N + 6 L T d
N = parameters in matmuls (all but the input embedding, lm_head included) = 1.544e9, L = 28 layers,
T = 16,384 (sequence), d = heads x head_dim = 1536: forward attention scores and weighted values
cost 2·2·T·d per token and layer, halved by the causal mask, x3 for forward + backward
(13.49 GFLOP/token; the baseline's 24.9k tokens/s is 34% by this formula). Recomputation by
checkpointing is not model FLOPs and is not counted.

Prints a table; writes JSON to ``$OUT/train_mfu.json`` when ``$OUT`` is set, else
``benchmarks/results/train_mfu.json`` (``--quick``: ``train_mfu_quick.json``).

    python benchmarks/train_mfu.py            # CUDA machine: ~3 minutes on an H200
    python benchmarks/train_mfu.py --quick    # tiny shape on the CPU: checks the script end to end
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

R1_DISTILL_1_5B_SHAPE = dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                             intermediate_size=8960, vocab_size=151936)
QUICK_SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=512)
SEQ_LEN, QUICK_SEQ_LEN = 16384, 256
PEAK_BF16_FLOPS = 989e12  # H200 (and H100 SXM) dense bf16
PATHS = ("plain", "fast", "fast-cudnn", "lean", "min", "fast-compile")
BASELINE_H200 = {"s_per_step": 0.66, "tokens_per_s": 24.9e3, "mfu": 0.34, "peak_gib": 39.5}
GOALS = {"fast": "MFU >= 50%", "lean": "peak <= 24 GiB and MFU >= plain"}
CHILD_TIMEOUT_S = 170  # one path; compile takes the longest
GIB = 1024**3


def flops_per_token(shape: dict, seq: int) -> float:
    from reasonflux.train.estimate import Shape

    s = Shape(hidden=shape["hidden_size"], layers=shape["num_hidden_layers"], heads=shape["num_attention_heads"],
              kv_heads=shape["num_key_value_heads"], intermediate=shape["intermediate_size"], vocab=shape["vocab_size"])
    return 6 * s.matmul_params() + 6 * s.layers * seq * s.heads * s.hd


def run_path(path: str, quick: bool, warmup: int, steps: int) -> dict:
    """One path in this process; returns its measurements."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from reasonflux.train import sft

    device = "cuda" if torch.cuda.is_available() and not quick else "cpu"
    shape, seq = (QUICK_SHAPE, QUICK_SEQ_LEN) if quick else (R1_DISTILL_1_5B_SHAPE, SEQ_LEN)
    attn = "sdpa" if path in ("plain", "fast-cudnn") else sft.resolve_attn_implementation("auto")
    sdpa_backend = "cudnn" if path == "fast-cudnn" and device == "cuda" else "auto"
    cfg = Qwen2Config(**shape, max_position_embeddings=max(seq, 4096), tie_word_embeddings=False,
                      bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation=attn)
    ids = torch.randint(3, shape["vocab_size"], (1, seq), device=device)
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}

    if path == "plain":
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

        mode = path.split("-")[0]
        tcfg = resolve(sft.TrainConfig, {"model": "random", "data": "random", "output_dir": tempfile.mkdtemp(),
                                         "memory_mode": mode, "cutoff_len": seq, "bf16": device == "cuda",
                                         "compile": path.endswith("compile"), "report_to": "none",
                                         "attn_implementation": attn, "sdpa_backend": sdpa_backend})
        args = sft.build_args(tcfg)
        sft.apply_memory_mode(model, mode)
        sft.configure_sdpa(tcfg.sdpa_backend)
        if tcfg.compile:
            sft.compile_layers(model)
        row = {"input_ids": ids[0].tolist(), "labels": ids[0].tolist()}
        trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list([row]),
                             processing_class=build_tokenizer())
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop, which we do not run

        def step() -> None:
            trainer.training_step(trainer.model, dict(batch))
            trainer.model.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm_s = time.perf_counter() - t0
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    s_per_step = sorted(times)[len(times) // 2]  # median
    tps = seq / s_per_step
    return {
        "path": path, "device": device, "attn_implementation": attn,
        "sdpa_backend": sdpa_backend, "seq_len": seq, "warmup_steps": warmup,
        "timed_steps": steps, "warmup_s": round(warm_s, 2), "step_times_s": [round(x, 4) for x in times],
        "s_per_step": round(s_per_step, 4), "tokens_per_s": round(tps, 1),
        "mfu": round(tps * flops_per_token(shape, seq) / PEAK_BF16_FLOPS, 4),
        "peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 2) if device == "cuda" else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2) if device == "cuda" else None,
    }


def run_child(path: str, quick: bool, warmup: int, steps: int) -> dict:
    cmd = [sys.executable, __file__, "--child", path, "--warmup", str(warmup), "--steps", str(steps)] + (["--quick"] if quick else [])
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
                              env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    except subprocess.TimeoutExpired:
        return {"path": path, "error": f"timed out after {CHILD_TIMEOUT_S} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            r["process_s"] = round(time.perf_counter() - t, 1)
            return r
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"path": path, "error": " | ".join(tail) or f"exit code {proc.returncode}"}


def table(results: list[dict]) -> str:
    head = f"{'path':<13}{'attention':<19}{'s/step':>8}{'tokens/s':>10}{'MFU':>7}{'peak GiB':>10}  note"
    rows = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            rows.append(f"{r['path']:<13}error: {r['error'][:90]}")
            continue
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "-"
        attn = r["attn_implementation"] + (f"/{r['sdpa_backend']}" if r["sdpa_backend"] != "auto" else "")
        rows.append(f"{r['path']:<13}{attn:<19}{r['s_per_step']:>8.3f}{r['tokens_per_s']:>10.0f}"
                    f"{r['mfu']:>7.1%}{peak:>10}  {GOALS.get(r['path'], '')}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny shape on the CPU: an end-to-end smoke test")
    ap.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps per path (default 2, quick 1)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per path (default 5, quick 2)")
    ap.add_argument("--out", default=None, help="JSON path (default $OUT/train_mfu.json or benchmarks/results/)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    steps = args.steps or (2 if args.quick else 5)
    if args.child:
        import torch

        torch.set_num_threads(1) if args.quick else None
        print("RESULT " + json.dumps(run_path(args.child, args.quick, warmup, steps)), flush=True)
        return

    import torch

    if not args.quick and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --quick for a CPU smoke test")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(paths) - set(PATHS)
    if unknown:
        sys.exit(f"unknown path(s) {', '.join(sorted(unknown))}; choose from {', '.join(PATHS)}")
    out = Path(args.out) if args.out else (Path(os.environ["OUT"]) / "train_mfu.json" if os.environ.get("OUT")
                                           else Path(__file__).parent / "results" / "train_mfu.json")
    if args.quick and not args.out:
        out = out.with_name("train_mfu_quick.json")  # never overwrite a real GPU result with a smoke test
    card = torch.cuda.get_device_name(0) if torch.cuda.is_available() and not args.quick else platform.processor() or "cpu"
    shape, seq = (QUICK_SHAPE, QUICK_SEQ_LEN) if args.quick else (R1_DISTILL_1_5B_SHAPE, SEQ_LEN)
    report = {"benchmark": "train_mfu", "quick": args.quick, "card": card, "torch": torch.__version__,
              "shape": shape, "seq_len": seq, "flops_per_token": flops_per_token(shape, seq),
              "mfu_formula": "tokens/s * (6*N_matmul + 6*L*T*d) / 989e12", "peak_flops": PEAK_BF16_FLOPS,
              "baseline_h200_before": BASELINE_H200, "goals": GOALS, "results": []}
    out.parent.mkdir(parents=True, exist_ok=True)
    for p in paths:
        r = run_child(p, args.quick, warmup, steps)
        report["results"].append(r)
        out.write_text(json.dumps(report, indent=2))  # after every path: a killed run keeps what it measured
        print(table([r]).splitlines()[-1], flush=True)
    print(f"\n{card}, {seq} tokens/step, {report['flops_per_token'] / 1e9:.2f} GFLOP/token, peak {PEAK_BF16_FLOPS / 1e12:.0f} TFLOP/s")
    print(table(report["results"]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
