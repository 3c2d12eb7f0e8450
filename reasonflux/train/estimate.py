"""Memory estimates for a training config: model states (DeepSpeed's ZeRO-3 estimator) plus
activations per memory mode, per GPU and per host; and the memory plan (``auto`` mode choice and
how many decoder layers ``lean`` checkpoints). This module owns all of it: :func:`plan_run` is the one
plan that ``--estimate`` prints, the preflight checks against the GPU and the run applies
(``sft.resolve_memory_plan``); it imports nothing from the rest of ``reasonflux.train``.

Model states use DeepSpeed's own estimator (``estimate_zero3_model_states_mem_needs``, the function
behind ``estimate_zero3_model_states_mem_needs_all_cold``, which only prints) when deepspeed is
importable; otherwise the same formulas, implemented in :func:`zero3_model_states` below
(from ``deepspeed/runtime/zero/stage3.py``: 18 bytes per parameter for bf16 weights + fp32 master,
gradients and Adam moments, sharded over the GPUs or held by the host when offloaded, plus 4 bytes
per parameter of the largest layer, gathered whole; 1.5x buffer factor on host memory).
Without DeepSpeed every GPU holds fp32 weights, gradients and Adam moments: 16 bytes per parameter.

Activations are per token and layer. An uncheckpointed eager layer keeps 20·hidden + 4·kv_dim +
8·intermediate bytes (measured with saved-tensor hooks on a bf16 Qwen2 with SDPA); a compiled one
(``torch.compile`` per layer, fused element-wise work) 12·hidden + 4·kv_dim + 6·intermediate
(fitted to the H200 run of ``benchmarks/train_mfu.py``: 36.6 GiB compiled vs 49.5 GiB eager for
28 layers at 16k tokens). A ``lean`` layer keeps its input and the attention output; a ``min``
layer only its input. ``lean`` checkpoints the first ``k`` layers and keeps the rest whole:
:func:`plan_memory` picks the smallest ``k`` whose activations fit the budget, so a large GPU
recomputes little and a small one recomputes every layer.

    reasonflux train --recipe f1-32b --estimate --gpus 8
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIB = 1024**3
DEFAULT_GPU_MEMORY_GB = 80.0  # an 80 GB H100/A100 when --gpu-memory-gb is not given and no GPU is visible
HEADROOM = 0.85  # share of GPU memory a plan may use (allocator fragmentation, NCCL buffers)
CUDA_CONTEXT_BYTES = 1.5 * GIB  # CUDA context, cuBLAS workspaces, kernels
DS_BUFFER_FACTOR = 1.5  # DeepSpeed estimator's additional_buffer_factor
# bytes per token kept by an uncheckpointed decoder layer: coefficients of hidden, kv_dim, intermediate
FAST_COEF = (20, 4, 8)  # eager (saved-tensor hooks, bf16 Qwen2, SDPA)
COMPILED_COEF = (12, 4, 6)  # torch.compile'd layer (fitted to the H200 benchmark, see the docstring)
MEMORY_MODES = ("fast", "lean", "min")
LOSS_TILE_BYTES = 4096 * 32768 * 2 * 2  # TRL's fused LM head: one bf16 tile in forward, one in backward

# Shapes of the models the recipes train (config.json of each hub repo), so --estimate works offline.
KNOWN_SHAPES: dict[str, dict[str, Any]] = {
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": dict(hidden=1536, layers=28, heads=12, kv_heads=2, intermediate=8960, vocab=151936),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": dict(hidden=3584, layers=28, heads=28, kv_heads=4, intermediate=18944, vocab=152064),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": dict(hidden=5120, layers=48, heads=40, kv_heads=8, intermediate=13824, vocab=152064),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": dict(hidden=5120, layers=64, heads=40, kv_heads=8, intermediate=27648, vocab=152064),
}


@dataclass(frozen=True)
class Shape:
    """What memory depends on in a dense decoder-only transformer."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    head_dim: int = 0  # 0: hidden // heads
    tied: bool = False
    qkv_bias: bool = True  # Qwen2 has biases on q, k, v

    @property
    def hd(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.hd

    def layer_params(self) -> int:
        h, q, kv = self.hidden, self.heads * self.hd, self.kv_dim
        attn = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.qkv_bias else 0)
        return attn + 3 * h * self.intermediate + 2 * h

    def total_params(self) -> int:
        embed = self.vocab * self.hidden
        return embed * (1 if self.tied else 2) + self.layers * self.layer_params() + self.hidden

    def largest_layer_params(self) -> int:
        """Parameters of the largest single module (DeepSpeed gathers one module at a time)."""
        return max(self.vocab * self.hidden, self.hidden * self.intermediate, self.hidden * self.heads * self.hd)

    def matmul_params(self) -> int:
        """Parameters that take part in matmuls per token: everything but the input embedding."""
        return self.layers * self.layer_params() + self.vocab * self.hidden


def shape_from_config(config: Any) -> Shape:
    """A :class:`Shape` from a transformers config object or a config.json dict."""
    get = (lambda k, d=None: config.get(k, d)) if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
    heads = get("num_attention_heads")
    return Shape(
        hidden=get("hidden_size"), layers=get("num_hidden_layers"), heads=heads,
        kv_heads=get("num_key_value_heads") or heads, intermediate=get("intermediate_size"), vocab=get("vocab_size"),
        head_dim=get("head_dim") or 0, tied=bool(get("tie_word_embeddings", False)),
        qkv_bias=get("model_type") == "qwen2" or bool(get("attention_bias", False)),
    )


def model_shape(model: str) -> Shape:
    """Shape of ``model``: a local directory's config.json, a known hub id, or the hub config."""
    from reasonflux.errors import UserError

    p = Path(model).expanduser()
    if (p / "config.json").is_file():
        return shape_from_config(json.loads((p / "config.json").read_text()))
    if model in KNOWN_SHAPES:
        return Shape(**KNOWN_SHAPES[model])
    try:
        from transformers import AutoConfig

        return shape_from_config(AutoConfig.from_pretrained(model))
    except Exception as e:  # noqa: BLE001 - hub and parsing errors come in many types
        raise UserError(f"cannot read the shape of {model}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


# ----------------------------------------------------------------------------------------------
# model states


def zero3_model_states(total_params: int, largest_layer_params: int, *, gpus_per_node: int = 1, nodes: int = 1,
                       cpu_offload: bool = True, cpu_offload_params: bool = True, zero_init: bool = True,
                       additional_buffer_factor: float = DS_BUFFER_FACTOR) -> tuple[int, int]:
    """(host bytes per node, GPU bytes per GPU) — DeepSpeed's estimate_zero3_model_states_mem_needs."""
    total_gpus = nodes * gpus_per_node
    gpus_factor = 1 / nodes
    largest_layer_memory = 4 * largest_layer_params
    if cpu_offload:
        if cpu_offload_params:
            gpu_mem = largest_layer_memory
            per_param = 18 * gpus_factor if zero_init else max(4 * gpus_per_node, 18 * gpus_factor)
        else:
            gpu_mem = largest_layer_memory + int(2 * total_params / total_gpus)
            per_param = 16 * gpus_factor if zero_init else max(4 * gpus_per_node, 16 * gpus_factor)
        cpu_mem = total_params * per_param * additional_buffer_factor
    else:
        gpu_mem = largest_layer_memory + int(18 * total_params / total_gpus)
        cpu_mem = (largest_layer_params if zero_init else total_params) * 4 * gpus_per_node * additional_buffer_factor
    return int(cpu_mem), int(gpu_mem)


def _deepspeed_estimator() -> Any:
    try:
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - not installed, or installed without its CUDA pieces
        return None
    return estimate_zero3_model_states_mem_needs


def offload_of(deepspeed: str | None) -> tuple[bool, bool, bool]:
    """(zero3?, offload optimizer?, offload params?) of a deepspeed setting (name or JSON path)."""
    if not deepspeed or deepspeed == "none":
        return False, False, False
    if deepspeed in ("zero3", "zero3_offload"):
        return True, deepspeed == "zero3_offload", deepspeed == "zero3_offload"
    zero = json.loads(Path(deepspeed).read_text()).get("zero_optimization", {})
    dev = lambda k: (zero.get(k) or {}).get("device", "none") in ("cpu", "nvme")  # noqa: E731
    return zero.get("stage") == 3, dev("offload_optimizer"), dev("offload_param")


def model_states(shape: Shape, *, deepspeed: str | None, gpus_per_node: int, nodes: int) -> dict[str, Any]:
    """Model-state bytes per GPU and per host for one deepspeed setting, and the formula's source."""
    zero3, off_opt, off_par = offload_of(deepspeed)
    total, largest = shape.total_params(), shape.largest_layer_params()
    if not zero3:  # one device or DDP: fp32 weights + grads + Adam moments on every GPU
        return {"gpu": 16 * total, "host": 4 * total, "source": "16 bytes/param (no ZeRO)"}
    ds = _deepspeed_estimator()
    if ds is not None:
        host, gpu, _ = ds(total, largest, num_gpus_per_node=gpus_per_node, num_nodes=nodes, cpu_offload=off_opt,
                          cpu_offload_params=off_par, zero_init=True, additional_buffer_factor=DS_BUFFER_FACTOR)
    else:
        host, gpu = zero3_model_states(total, largest, gpus_per_node=gpus_per_node, nodes=nodes,
                                       cpu_offload=off_opt, cpu_offload_params=off_par)
    return {"gpu": gpu, "host": host, "source": "deepspeed estimator" if ds else "DeepSpeed ZeRO-3 formulas (deepspeed not installed)"}


# ----------------------------------------------------------------------------------------------
# activations


@dataclass(frozen=True)
class MemoryPlan:
    """What the model keeps: ``mode`` and how many decoder layers (the first ones) are checkpointed."""

    mode: str  # fast | lean | min
    checkpoint_layers: int  # 0 in fast, all layers in min
    layers: int
    compiled: bool
    activation_bytes: int
    budget_bytes: float | None  # None: no budget known (CPU run without settings)

    @property
    def fits(self) -> bool:
        return self.budget_bytes is None or self.activation_bytes <= self.budget_bytes


def layer_bytes(shape: Shape, tokens: int, kind: str, compiled: bool = False) -> int:
    """Bytes one decoder layer keeps for the backward: ``kind`` fast (nothing recomputed), lean
    (selective checkpoint: input + attention output and its log-sum-exp) or min (input only)."""
    if kind == "fast":
        a, b, c = COMPILED_COEF if compiled else FAST_COEF
        return (a * shape.hidden + b * shape.kv_dim + c * shape.intermediate) * tokens
    if kind == "lean":
        return (4 * shape.hidden + 4 * shape.heads) * tokens
    if kind == "min":
        return 2 * shape.hidden * tokens
    raise ValueError(f"unknown memory mode {kind!r}")


def activation_bytes(shape: Shape, tokens: int, mode: str, *, checkpoint_layers: int | None = None,
                     compiled: bool = False) -> int:
    """Peak activation bytes per GPU for ``tokens`` tokens per micro-batch in memory ``mode``;
    ``lean`` checkpoints ``checkpoint_layers`` layers (default all) and keeps the others whole."""
    if mode not in MEMORY_MODES:
        raise ValueError(f"unknown memory mode {mode!r}")
    # LM head (TRL fused): last hidden states, fp32 grad of them, fp32 grad of the head weight, tiles
    head = tokens * shape.hidden * (2 + 4) + 4 * shape.vocab * shape.hidden + LOSS_TILE_BYTES
    whole = layer_bytes(shape, tokens, "fast", compiled)
    k = {"fast": 0, "min": shape.layers}.get(mode, shape.layers if checkpoint_layers is None else checkpoint_layers)
    k = max(0, min(shape.layers, k))
    kept = layer_bytes(shape, tokens, "min" if mode == "min" else "lean", compiled)
    # the backward recomputes one checkpointed layer at a time; when some layers are kept whole, the
    # (later) whole layers' activations are freed before the first recompute, so it adds no peak
    recompute = whole if k == shape.layers else 0
    return k * kept + (shape.layers - k) * whole + recompute + head


def plan_memory(shape: Shape, tokens: int, budget_bytes: float | None, *, mode: str = "auto", compiled: bool = False,
                checkpoint_layers: int | None = None) -> MemoryPlan:
    """The memory plan for ``mode`` under an activation budget.

    ``auto``: ``fast`` if everything fits (or no budget is known), else ``lean`` with the fewest
    checkpointed layers that fit, else ``min``. ``lean``: ``checkpoint_layers`` when given, else the
    fewest layers that fit (all of them when no budget is known or none fits).
    """
    L = shape.layers

    def make(m: str, k: int) -> MemoryPlan:
        return MemoryPlan(m, k, L, compiled, activation_bytes(shape, tokens, m, checkpoint_layers=k, compiled=compiled), budget_bytes)

    def fewest_lean() -> int | None:
        if budget_bytes is None:
            return None
        for k in range(1, L + 1):  # activations fall as k grows: the first that fits is the fastest
            if activation_bytes(shape, tokens, "lean", checkpoint_layers=k, compiled=compiled) <= budget_bytes:
                return k
        return None

    if mode == "fast":
        return make("fast", 0)
    if mode == "min":
        return make("min", L)
    if mode == "lean":
        if checkpoint_layers is not None:
            return make("lean", max(0, min(L, checkpoint_layers)))
        k = fewest_lean()
        return make("lean", L if k is None else k)
    if mode != "auto":
        raise ValueError(f"unknown memory mode {mode!r}")
    fast = make("fast", 0)
    if fast.fits:
        return fast
    k = fewest_lean()
    return make("lean", k) if k is not None else make("min", L)


def activation_budget(states_gpu: float, gpu_bytes: float) -> float:
    """GPU bytes left for activations: ``HEADROOM`` of the card less the CUDA context and model states."""
    return HEADROOM * gpu_bytes - CUDA_CONTEXT_BYTES - states_gpu


def pick_memory_mode(shape: Shape, tokens: int, states_gpu: int, gpu_bytes: float, compiled: bool = False) -> str:
    """The fastest mode whose states + activations fit ``HEADROOM`` of the GPU (``min`` if none does)."""
    return plan_memory(shape, tokens, activation_budget(states_gpu, gpu_bytes), compiled=compiled).mode


# ----------------------------------------------------------------------------------------------
# the plan of one run: what --estimate prints, what preflight checks and what the run applies


def resolve_compile(cfg: Any, cuda: bool) -> bool:
    """``compile`` as set, else on for CUDA runs (Ampere or newer) without ZeRO-3, whose parameter
    gathering hooks do not trace."""
    if cfg.compile is not None:
        return bool(cfg.compile)
    return bool(cuda) and not offload_of(cfg.deepspeed)[0]


@dataclass(frozen=True)
class RunPlan:
    """Model states + activations per GPU for one config on one cluster shape."""

    shape: Shape
    tokens: int  # per micro-batch
    gpus_per_node: int
    nodes: int
    gpu_bytes: float | None  # None: no GPU to plan for (CPU run without --gpu-memory-gb)
    states: dict[str, Any]  # model_states() of the config's deepspeed setting
    memory: MemoryPlan

    @property
    def per_gpu_bytes(self) -> int:
        return int(self.states["gpu"] + self.memory.activation_bytes + CUDA_CONTEXT_BYTES)

    @property
    def fits(self) -> bool:
        """Within ``HEADROOM`` of the GPU (always true when there is no GPU to plan for)."""
        return self.gpu_bytes is None or self.per_gpu_bytes <= HEADROOM * self.gpu_bytes

    @property
    def headroom(self) -> float | None:
        """Share of the GPU's memory the plan leaves free."""
        return None if self.gpu_bytes is None else 1 - self.per_gpu_bytes / self.gpu_bytes


def plan_run(cfg: Any, shape: Shape, *, gpus_per_node: int, nodes: int, gpu_bytes: float | None, cuda: bool) -> RunPlan:
    """The one memory plan of a TrainConfig: ``--estimate``, the preflight check and the run itself
    all call this (the run with its real world size and GPU, the others with the flags')."""
    tokens = cfg.cutoff_len * cfg.per_device_train_batch_size
    states = model_states(shape, deepspeed=cfg.deepspeed, gpus_per_node=gpus_per_node, nodes=nodes)
    if cfg.activation_budget_gb:
        budget: float | None = cfg.activation_budget_gb * GIB
    elif gpu_bytes:
        budget = activation_budget(states["gpu"], gpu_bytes)
    else:
        budget = None
    memory = plan_memory(shape, tokens, budget, mode=cfg.memory_mode, compiled=resolve_compile(cfg, cuda),
                         checkpoint_layers=cfg.checkpoint_layers)
    return RunPlan(shape, tokens, gpus_per_node, nodes, gpu_bytes, states, memory)


def cluster_of(cfg: Any) -> tuple[int, int]:
    """(GPUs per node, nodes) that ``--gpus`` / ``--nodes`` / ``--gpus-per-node`` describe."""
    total_gpus = cfg.gpus or cfg.nodes * cfg.gpus_per_node
    nodes = max(cfg.nodes, math.ceil(total_gpus / cfg.gpus_per_node))
    return max(1, total_gpus // nodes), nodes


def run_cluster(cfg: Any, world_size: int, local_world_size: int | None = None) -> tuple[int, int]:
    """(GPUs per node, nodes) of a launched run with ``world_size`` processes (torchrun sets
    LOCAL_WORLD_SIZE; without it, ``gpus_per_node`` caps one node)."""
    per_node = max(1, local_world_size or min(world_size, cfg.gpus_per_node))
    return per_node, max(1, world_size // per_node)


# ----------------------------------------------------------------------------------------------
# the --estimate report


def estimate(cfg: Any) -> dict[str, Any]:
    """Everything ``--estimate`` prints, as a dict (``cfg`` is a TrainConfig; planned for CUDA GPUs)."""
    shape = model_shape(cfg.model)
    per_node, nodes = cluster_of(cfg)
    gpu_bytes = (cfg.gpu_memory_gb or DEFAULT_GPU_MEMORY_GB) * GIB
    run = plan_run(cfg, shape, gpus_per_node=per_node, nodes=nodes, gpu_bytes=gpu_bytes, cuda=True)
    plan, tokens = run.memory, run.tokens
    options = {name: model_states(shape, deepspeed=name, gpus_per_node=per_node, nodes=nodes)
               for name in (None, "zero3", "zero3_offload")}
    acts = {m: activation_bytes(shape, tokens, m, compiled=plan.compiled) for m in MEMORY_MODES}
    return {
        "model": cfg.model, "params": shape.total_params(), "largest_layer_params": shape.largest_layer_params(),
        "gpus": per_node * nodes, "nodes": nodes, "gpus_per_node": per_node, "gpu_memory_gb": gpu_bytes / GIB,
        "tokens_per_micro_batch": tokens, "deepspeed": cfg.deepspeed, "memory_mode": plan.mode,
        "checkpoint_layers": plan.checkpoint_layers, "layers": shape.layers, "compile": plan.compiled,
        "activation_budget_bytes": plan.budget_bytes, "plan_activation_bytes": plan.activation_bytes,
        "states": {str(k or "none"): v for k, v in options.items()}, "activations": acts,
        "per_gpu_bytes": run.per_gpu_bytes, "host_bytes_per_node": run.states["host"], "source": run.states["source"],
        "fits": run.fits, "headroom": run.headroom,
    }


def format_report(r: dict[str, Any]) -> str:
    g = lambda b: f"{b / GIB:8.1f} GiB"  # noqa: E731
    lines = [
        f"model {r['model']}: {r['params'] / 1e9:.2f}B parameters, largest layer {r['largest_layer_params'] / 1e9:.2f}B",
        f"{r['gpus']} GPUs ({r['nodes']} node(s) x {r['gpus_per_node']}), planning for {r['gpu_memory_gb']:.0f} GiB each; "
        f"{r['tokens_per_micro_batch']} tokens per micro-batch",
        "",
        f"model states ({r['source']}):",
        f"  {'deepspeed':<16}{'per GPU':>14}{'host per node':>16}",
    ]
    for name, s in r["states"].items():
        mark = "  <- this config" if name == str(r["deepspeed"] or "none") else ""
        lines.append(f"  {name:<16}{g(s['gpu']):>14}{g(s['host']):>16}{mark}")
    compiled = "compiled layers" if r["compile"] else "eager layers"
    lines += ["", f"activations per GPU ({compiled}; lean and min checkpoint all {r['layers']} layers here):"]
    for mode, b in r["activations"].items():
        mark = "  <- memory_mode" if mode == r["memory_mode"] and r["checkpoint_layers"] in (0, r["layers"]) else ""
        lines.append(f"  {mode:<16}{g(b):>14}{mark}")
    if r["memory_mode"] == "lean" and r["checkpoint_layers"] < r["layers"]:
        lines.append(f"  {'lean ' + str(r['checkpoint_layers']) + '/' + str(r['layers']):<16}{g(r['plan_activation_bytes']):>14}"
                     f"  <- memory_mode (fewest checkpointed layers within {r['activation_budget_bytes'] / GIB:.1f} GiB)")
    verdict = "fits" if r["fits"] else "does NOT fit"
    ckpt = f" (checkpoint_layers={r['checkpoint_layers']}/{r['layers']})" if r["memory_mode"] == "lean" else ""
    lines += ["", f"plan: deepspeed={r['deepspeed'] or 'none'}, memory_mode={r['memory_mode']}{ckpt}, compile={r['compile']}: "
              f"{r['per_gpu_bytes'] / GIB:.1f} GiB per GPU ({verdict} in {HEADROOM:.0%} of {r['gpu_memory_gb']:.0f} GiB; "
              f"headroom {r['headroom']:.0%}), "
              f"{r['host_bytes_per_node'] / GIB:.1f} GiB host memory per node"]
    return "\n".join(lines)
