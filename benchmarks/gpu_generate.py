"""GPU throughput of the hf backend against calling ``model.generate_batch`` directly.

A random-init model of the DeepSeek-R1-Distill-Qwen-7B shape (Qwen2: hidden 3584, 28 layers, 28
heads, 4 KV heads, intermediate 18944, vocab 152064, bf16) is built straight on the GPU. 256 prompts
of ~256 random tokens each (a user message of random tokens rendered with the tiny test tokenizer's
chat template) get 512 new tokens each, with EOS ignored so every sequence runs to the cap:

  (a) direct:     ``model.generate_batch(prompt_ids, GenerationConfig(greedy, eos=-1))``
  (b) hf backend: ``HFBackend.from_model(model, tokenizer, eos_token_ids=[]).generate(requests)`` —
                  rendering, tokenizing, continuous batching and output conversion included.

Both see the same prompt token ids (the direct path is fed ``backend.encode(requests)``). It prints
both tokens/s, the ratio (goal ≥ 0.95) and writes JSON to ``$OUT/gpu_generate.json`` when ``$OUT``
is set, else ``benchmarks/results/gpu_generate.json``. Each path runs once (about 2.5 minutes each at
the ≈942 tokens/s measured for the direct path on an H200); ``--new-tokens`` shortens it.

    python benchmarks/gpu_generate.py            # on a CUDA machine, ~5 minutes on an H200
    python benchmarks/gpu_generate.py --quick    # tiny shape on the CPU: checks the script end to end
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

R1_DISTILL_7B_SHAPE = dict(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                           intermediate_size=18944, vocab_size=152064)
QUICK_SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=128, vocab_size=512)
BASELINE_H200_TOKENS_PER_S = 942.0  # direct generate_batch, measured on an H200 before this project
GOAL_RATIO = 0.95
INIT_STD = 0.02


def build_model(shape: dict, device: str, dtype):  # noqa: ANN001
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    cfg = Qwen2Config(**shape, max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
                      bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    with torch.device(device):  # allocate and initialise directly on the device: seconds, not minutes
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    with torch.no_grad():  # one cheap init for every weight (the config's init is fine too, this is explicit)
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif p.dim() > 1:
                p.normal_(0.0, INIT_STD)
            else:
                p.zero_()
    model.generation_config.eos_token_id = None
    return model.eval()


def make_requests(tokenizer, n: int, prompt_tokens: int, new_tokens: int, seed: int):  # noqa: ANN001
    """Requests whose user message is ~``prompt_tokens`` random ordinary tokens (no special ones)."""
    import random

    from reasonflux.types import Request

    rng = random.Random(seed)
    special = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    ordinary = [i for i in range(len(tokenizer)) if i not in special]
    template_tokens = len(tokenizer(tokenizer.apply_chat_template([{"role": "user", "content": ""}], tokenize=False,
                                                                  add_generation_prompt=True),
                                    add_special_tokens=False)["input_ids"])
    want = max(1, prompt_tokens - template_tokens)
    reqs = []
    for _ in range(n):
        ids = [rng.choice(ordinary) for _ in range(want)]
        for _ in range(4):  # decode → encode until the token count is stable at ``want``
            ids = tokenizer(tokenizer.decode(ids), add_special_tokens=False)["input_ids"][:want]
            while len(ids) < want:
                ids.append(rng.choice(ordinary))
        reqs.append(Request([{"role": "user", "content": tokenizer.decode(ids)}], max_tokens=new_tokens))
    return reqs


def release() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def run_direct(model, prompt_ids, new_tokens: int, pad_id: int, cb_config):  # noqa: ANN001
    from transformers import GenerationConfig

    gen = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, eos_token_id=-1, pad_token_id=pad_id)
    release()
    t0 = time.perf_counter()
    out = model.generate_batch(prompt_ids, generation_config=gen, continuous_batching_config=cb_config)
    release()
    seconds = time.perf_counter() - t0
    tokens = sum(len(o.generated_tokens) for o in out.values() if o.error is None)
    return {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds, "outputs": len(out),
            "errors": sum(o.error is not None for o in out.values())}


def run_backend(backend, requests):  # noqa: ANN001
    release()
    t0 = time.perf_counter()
    out = backend.generate(requests)
    release()
    seconds = time.perf_counter() - t0
    comps = [c for cs in out for c in cs]
    tokens = sum(c.completion_tokens for c in comps if c.finish_reason != "error")
    return {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds, "outputs": len(comps),
            "errors": sum(c.finish_reason == "error" for c in comps),
            "finish_reasons": sorted({c.finish_reason for c in comps})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny shape on the CPU, few tokens: an end-to-end smoke test")
    ap.add_argument("--requests", type=int, default=None, help="default 256 (quick: 8)")
    ap.add_argument("--prompt-tokens", type=int, default=None, help="default 256 (quick: 32)")
    ap.add_argument("--new-tokens", type=int, default=None, help="default 512 (quick: 16)")
    ap.add_argument("--order", choices=["direct-first", "backend-first"], default="direct-first")
    ap.add_argument("--out", default=None, help="JSON path (default $OUT/gpu_generate.json or benchmarks/results/)")
    args = ap.parse_args()
    n_req = args.requests or (8 if args.quick else 256)
    n_prompt = args.prompt_tokens or (32 if args.quick else 256)
    n_new = args.new_tokens or (16 if args.quick else 512)

    import torch
    import transformers

    from reasonflux.backends.hf import CPU_CB_OPTIONS, HFBackend
    from reasonflux.testing.tiny import build_tokenizer

    if args.quick:
        torch.set_num_threads(1)
        device, dtype, shape = "cpu", torch.float32, QUICK_SHAPE
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --quick for a CPU smoke test", file=sys.stderr)
            return 2
        device, dtype, shape = "cuda", torch.bfloat16, R1_DISTILL_7B_SHAPE
    card = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu"

    t0 = time.perf_counter()
    tokenizer = build_tokenizer()  # token ids < 401 < vocab: fine for a random model
    model = build_model(shape, device, dtype)
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e9:.2f} B params on {card} ({dtype}), built in {build_s:.1f} s", flush=True)

    backend = HFBackend.from_model(model, tokenizer, format="model", engine="continuous", eos_token_ids=[])
    requests = make_requests(tokenizer, n_req, n_prompt, n_new, seed=0)
    prompt_ids = backend.encode(requests)
    lengths = [len(p) for p in prompt_ids]
    print(f"{n_req} requests, prompt tokens mean {sum(lengths) / len(lengths):.1f} (min {min(lengths)}, max {max(lengths)}), "
          f"{n_new} new tokens each, EOS ignored", flush=True)
    from transformers import ContinuousBatchingConfig

    direct_cb = None if device == "cuda" else ContinuousBatchingConfig(**CPU_CB_OPTIONS)

    results = {}
    order = ["direct", "hf_backend"] if args.order == "direct-first" else ["hf_backend", "direct"]
    for name in order:
        if name == "direct":
            results[name] = run_direct(model, prompt_ids, n_new, backend.pad_token_id, direct_cb)
        else:
            results[name] = run_backend(backend, requests)
        r = results[name]
        print(f"{name:<11} {r['tokens']:>8} tokens in {r['seconds']:8.1f} s = {r['tokens_per_s']:8.1f} tokens/s "
              f"(errors {r['errors']})", flush=True)
    ratio = results["hf_backend"]["tokens_per_s"] / results["direct"]["tokens_per_s"]
    expected = n_req * n_new
    complete = all(r["tokens"] == expected for r in results.values())
    print(f"\n{'path':<11} {'tokens/s':>10}\n{'direct':<11} {results['direct']['tokens_per_s']:>10.1f}\n"
          f"{'hf_backend':<11} {results['hf_backend']['tokens_per_s']:>10.1f}")
    print(f"ratio hf_backend/direct = {ratio:.3f} (goal >= {GOAL_RATIO}); every sequence ran to {n_new} tokens: {complete}")
    if device == "cuda":
        print(f"reference: direct generate_batch on an H200 measured {BASELINE_H200_TOKENS_PER_S} tokens/s before this project")
    backend.close()

    report = {
        "benchmark": "gpu_generate", "quick": args.quick, "card": card, "device": device, "dtype": str(dtype),
        "shape": shape, "params": params, "requests": n_req, "prompt_tokens_mean": sum(lengths) / len(lengths),
        "new_tokens": n_new, "order": order, "results": results, "ratio": ratio, "goal_ratio": GOAL_RATIO,
        "meets_goal": ratio >= GOAL_RATIO, "all_sequences_full_length": complete,
        "reference_direct_h200_tokens_per_s": BASELINE_H200_TOKENS_PER_S, "build_s": build_s,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
    }
    out = Path(args.out) if args.out else (Path(os.environ["OUT"]) / "gpu_generate.json" if os.environ.get("OUT")
                                           else Path(__file__).resolve().parent / "results" / "gpu_generate.json")
    if args.quick and not args.out and not os.environ.get("OUT"):
        out = out.with_name("gpu_generate_quick.json")  # never overwrite a real GPU result with a smoke test
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
