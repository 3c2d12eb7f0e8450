"""Supervised fine-tuning on TRL's ``SFTTrainer`` (used as it is): the ReasonFlux-F1 recipes.

This module owns the training config (field = flag = YAML key), the recipe layer, the model setup
(memory modes, attention kernel) and the run itself: build the training arguments first (so that
DeepSpeed ZeRO-3 partitions the model while it loads), load tokenizer and model, tokenise the data
with our chat format and assistant-only labels (``reasonflux.train.data``), train, and save the
model with the training chat template written into its tokenizer, the resolved config and the
data statistics. ``--resume`` continues from the newest ``checkpoint-*`` in the output directory.

Memory modes (``memory_mode``), the model-side knob that trades compute for memory; all of them
use TRL's fused LM head, which scores tokens tile by tile without materialising the full logits:
  fast  no activation checkpointing: every activation is kept (fastest, most memory)
  lean  selective checkpointing of the first ``checkpoint_layers`` decoder layers (default: as
        few as fit the activation budget): each keeps only its input and the attention kernel's
        output, the projections, MLP and norms are recomputed in the backward; the other layers
        keep everything
  min   full checkpointing of every decoder layer (least memory; recomputes attention too)
  auto  fast if it fits the GPU, else lean with the fewest checkpointed layers that fit, else min
        (``reasonflux.train.estimate.plan_memory``)
``compile`` (default: on with CUDA and without ZeRO-3) runs ``torch.compile`` on every decoder
layer, checkpointed ones included (the checkpoint is traced into the compiled graph), and on the
final norm.

    python -m reasonflux.train --recipe tiny --model MODEL_DIR --data sft.jsonl --output-dir runs/tiny
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

RECIPES = ("f1-7b", "f1-14b", "f1-32b", "tiny")
DEEPSPEED_CONFIGS = {"zero3": "zero3.json", "zero3_offload": "zero3_offload.json"}
MEMORY_MODES = ("auto", "fast", "lean", "min")
SDPA_BACKENDS = ("auto", "flash", "cudnn", "efficient", "fa3", "fa4")
ENGINES = ("trl", "llamafactory")
CONFIG_FILE = "train_config.yaml"  # resolved config, beside the model and in every checkpoint
STATS_FILE = "data_stats.json"
SUMMARY_FILE = "train_summary.json"
COMPILE_MIN_CAPABILITY = (8, 0)  # compile by default from Ampere on
# Substrings of the attention kernels' op names that the lean mode keeps instead of recomputing:
# torch SDPA (flash / memory-efficient / cuDNN / CPU flash) and the flash-attn package's ops.
ATTENTION_OP_MARKERS = ("scaled_dot_product", "flash_attention", "efficient_attention", "cudnn_attention", "flash_attn")


@dataclass
class TrainConfig:
    """``reasonflux train`` settings. Defaults are the seed's F1 hyperparameters; a recipe
    (``--recipe``) is a YAML layer above these defaults and below ``--config`` and flags."""

    recipe: str | None = field(default=None, metadata={"cli": False, "help": "recipe these settings started from (set by --recipe)"})
    model: str = field(default="", metadata={"help": "base model: HF id or local directory", "short": "-m"})
    data: str = field(default="", metadata={"help": "SFT data: messages/sharegpt/alpaca JSONL, JSON, Parquet, saved HF dataset or hub id"})
    output_dir: str = field(default="runs/sft", metadata={"help": "where checkpoints and the final model go"})
    format: str = field(default="deepseek-r1", metadata={"help": "chat format trained on and written into the saved tokenizer: deepseek-r1 | chatml"})
    cutoff_len: int = field(default=16384, metadata={"help": "longest example in tokens; longer ones are dropped (see --truncate)"})
    truncate: bool = field(default=False, metadata={"help": "cut examples to cutoff_len instead of dropping them"})
    learning_rate: float = field(default=1e-5, metadata={"help": "peak learning rate"})
    num_train_epochs: float = field(default=5.0, metadata={"help": "epochs over the data"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: run the epochs)"})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name"})
    warmup_ratio: float = field(default=0.0, metadata={"help": "share of steps spent warming up"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "micro-batch per GPU"})
    gradient_accumulation_steps: int = field(default=2, metadata={"help": "micro-batches per optimizer step"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    optim: str = field(default="adamw_torch", metadata={"help": "transformers optimizer name"})
    bf16: bool = field(default=True, metadata={"help": "bf16 mixed precision (needs a GPU that supports it)"})
    seed: int = field(default=42, metadata={"help": "seed for init, data order and dropout"})
    deepspeed: str | None = field(default=None, metadata={"help": "zero3 | zero3_offload | path to a DeepSpeed JSON (none: plain DDP / one device)"})
    memory_mode: str = field(default="auto", metadata={"help": "auto | fast | lean | min (activation checkpointing; see docs/training.md)"})
    attn_implementation: str = field(default="auto", metadata={"help": "auto | sdpa | flash_attention_2 | eager"})
    sdpa_backend: str = field(default="auto", metadata={"help": "sdpa kernel: auto | flash | cudnn | efficient | fa3 | fa4 (fa3/fa4 need their packages)"})
    compile: bool | None = field(default=None, metadata={"help": "torch.compile each decoder layer and the final norm (default: on with CUDA and without ZeRO-3; --no-compile: off)"})
    checkpoint_layers: int | None = field(default=None, metadata={"help": "lean: decoder layers to checkpoint, from the first (default: as few as fit the activation budget)"})
    activation_budget_gb: float | None = field(default=None, metadata={"help": "GPU memory for activations in GiB (default: 85% of gpu_memory_gb less model states); sizes auto and lean"})
    logging_steps: int = field(default=10, metadata={"help": "log every N steps"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps"})
    save_total_limit: int | None = field(default=None, metadata={"help": "keep only the newest N checkpoints"})
    report_to: str = field(default="none", metadata={"help": "none | tensorboard | wandb | ..."})
    resume: bool = field(default=False, metadata={"help": "continue from the newest checkpoint-* in output_dir"})
    engine: str = field(default="trl", metadata={"help": "trl (train here) | llamafactory (write a LLaMA-Factory config instead)"})
    estimate: bool = field(default=False, metadata={"help": "print per-GPU and host memory for this config and exit"})
    print_launch: bool = field(default=False, metadata={"help": "print torchrun / accelerate command lines for --nodes x --gpus-per-node and exit"})
    nodes: int = field(default=1, metadata={"help": "machines (for --print-launch / --estimate)"})
    gpus_per_node: int = field(default=8, metadata={"help": "GPUs per machine (for --print-launch / --estimate)"})
    gpus: int | None = field(default=None, metadata={"help": "total GPUs for --estimate (default: nodes x gpus_per_node)"})
    gpu_memory_gb: float | None = field(default=None, metadata={"help": "GPU memory to plan for (default: the visible GPU's; --estimate: 80)"})
    master_port: int = field(default=29500, metadata={"help": "rendezvous port in printed launch commands"})


def load_recipe(name: str) -> dict[str, Any]:
    """The YAML layer of recipe ``name`` (plus ``recipe: name`` so the saved config records it)."""
    from reasonflux.config import ConfigError, load_yaml

    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    path = resources.files("reasonflux.train").joinpath("recipes", f"{name}.yaml")
    return {**load_yaml(str(path)), "recipe": name}


def deepspeed_config_path(spec: str | None) -> str | None:
    """``zero3`` / ``zero3_offload`` → the packaged JSON; anything else must be an existing file."""
    from reasonflux.errors import UserError

    if not spec or spec.lower() == "none":
        return None
    if spec in DEEPSPEED_CONFIGS:
        return str(resources.files("reasonflux.train").joinpath("deepspeed", DEEPSPEED_CONFIGS[spec]))
    if not Path(spec).is_file():
        raise UserError(f"deepspeed config not found: {spec} (use zero3, zero3_offload or a JSON path)")
    return spec


def validate(cfg: TrainConfig) -> None:
    """Check the settings a run cannot start without; one line per mistake."""
    from reasonflux.chat import FORMATS
    from reasonflux.errors import UserError

    if cfg.engine not in ENGINES:
        raise UserError(f"unknown engine {cfg.engine!r}; choose one of {', '.join(ENGINES)}")
    if cfg.memory_mode not in MEMORY_MODES:
        raise UserError(f"unknown memory_mode {cfg.memory_mode!r}; choose one of {', '.join(MEMORY_MODES)}")
    if cfg.format not in FORMATS or FORMATS[cfg.format].template_file is None:
        trainable = [n for n, f in FORMATS.items() if f.template_file]
        raise UserError(f"cannot train with chat format {cfg.format!r}; choose one of {', '.join(trainable)} "
                        "(the tokenizer's own template may drop the reasoning)")
    if not 0 <= cfg.warmup_ratio < 1:
        raise UserError(f"warmup_ratio must be in [0, 1) (got {cfg.warmup_ratio})")
    if cfg.sdpa_backend not in SDPA_BACKENDS:
        raise UserError(f"unknown sdpa_backend {cfg.sdpa_backend!r}; choose one of {', '.join(SDPA_BACKENDS)}")
    if cfg.cutoff_len < 2:
        raise UserError(f"cutoff_len must be at least 2 (got {cfg.cutoff_len})")
    if cfg.nodes < 1 or cfg.gpus_per_node < 1:
        raise UserError("nodes and gpus_per_node must be at least 1")
    if cfg.checkpoint_layers is not None and cfg.checkpoint_layers < 0:
        raise UserError(f"checkpoint_layers must be 0 or more (got {cfg.checkpoint_layers})")
    if cfg.activation_budget_gb is not None and cfg.activation_budget_gb <= 0:
        raise UserError(f"activation_budget_gb must be positive (got {cfg.activation_budget_gb})")
    if not cfg.model:
        raise UserError("train needs a base model: --model HF_ID_OR_DIR (or a --recipe that names one)")
    if not cfg.estimate and not cfg.data:
        raise UserError("train needs data: --data sft.jsonl (messages rows, as `reasonflux synth` writes)")
    deepspeed_config_path(cfg.deepspeed)


# ----------------------------------------------------------------------------------------------
# model setup: attention kernel and memory mode


def resolve_attn_implementation(name: str) -> str:
    """``auto``: flash-attn 2 when installed on a CUDA machine, else torch SDPA."""
    if name != "auto":
        return name
    import importlib.util

    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def configure_sdpa(backend: str) -> str:
    """Choose torch SDPA's kernel for this process; returns what is in effect.

    ``flash`` / ``cudnn`` / ``efficient`` switch the other fused kernels off (the math kernel stays as
    the fallback for shapes a kernel refuses); ``fa3`` / ``fa4`` activate FlashAttention 3/4 through
    torch's registry (needs ``flash_attn_interface`` / ``flash_attn.cute``); ``auto`` keeps torch's
    defaults. Has no effect with ``attn_implementation=flash_attention_2``.
    """
    import torch

    if backend in ("fa3", "fa4"):
        from torch.nn.attention import activate_flash_attention_impl

        from reasonflux.errors import UserError

        try:
            activate_flash_attention_impl(backend.upper())
        except Exception as e:  # noqa: BLE001 - missing package or unsupported GPU
            raise UserError(f"sdpa_backend {backend}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        return backend
    if backend in ("flash", "cudnn", "efficient"):
        torch.backends.cuda.enable_flash_sdp(backend == "flash")
        torch.backends.cuda.enable_cudnn_sdp(backend == "cudnn")
        torch.backends.cuda.enable_mem_efficient_sdp(backend == "efficient")
        torch.backends.cuda.enable_math_sdp(True)
    return backend


def _keep_attention_policy(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
    """Selective-checkpoint policy: keep the attention kernel's outputs, recompute everything else."""
    from torch.utils.checkpoint import CheckpointPolicy

    name = str(op)
    if any(m in name for m in ATTENTION_OP_MARKERS):
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


def keep_attention_context() -> Any:
    """``context_fn`` for ``torch.utils.checkpoint.checkpoint`` (a fresh pair of contexts per call)."""
    from torch.utils.checkpoint import create_selective_checkpoint_contexts

    return create_selective_checkpoint_contexts(_keep_attention_policy)


def decoder_layers(model: Any) -> list[Any]:
    """The model's repeated decoder blocks, in order (transformers' checkpointable layers)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def apply_memory_mode(model: Any, mode: str, checkpoint_layers: int | None = None) -> int:
    """Set activation checkpointing on a transformers model for ``mode`` (fast | lean | min); ``lean``
    checkpoints only the first ``checkpoint_layers`` decoder layers when given. Returns how many
    decoder layers are checkpointed."""
    layers = decoder_layers(model)
    if mode == "lean" and checkpoint_layers == 0:
        mode = "fast"  # nothing to checkpoint
    if mode == "fast":
        if getattr(model, "is_activation_checkpointing", False) or any(layer.gradient_checkpointing for layer in layers):
            model.activation_checkpointing_disable()
    elif mode == "lean":
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False, "context_fn": keep_attention_context})
        if checkpoint_layers is not None:
            for i, layer in enumerate(layers):  # the first ones: their recompute comes last in the backward,
                layer.gradient_checkpointing = i < checkpoint_layers  # after the later layers' memory is freed
    elif mode == "min":
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        raise ValueError(f"memory mode must be fast, lean or min here (got {mode!r})")
    model.config.use_cache = False
    return sum(bool(layer.gradient_checkpointing) for layer in layers)


def compile_layers(model: Any, checkpointed: bool = True, backend: str = "inductor") -> int:
    """``torch.compile`` every decoder layer and the final norm in place; returns how many decoder
    layers were compiled. Fuses the norms, rotary and MLP element-wise work; one graph serves all
    layers of a shape (two when some layers are checkpointed and some not). A checkpointed layer's
    ``torch.utils.checkpoint`` call (non-reentrant, selective policy included) is traced into its
    graph, so the recompute is compiled too; ``checkpointed=False`` leaves those layers eager.
    ``backend`` is torch.compile's (tests use ``aot_eager``: the same tracing without code generation).
    The fused LM head (TRL's Triton kernels) stays eager: its token selection has a data-dependent
    shape that would break the graph."""
    compiled = 0
    for layer in decoder_layers(model):
        if checkpointed or not layer.gradient_checkpointing:
            layer.compile(backend=backend)
            compiled += 1
    norm = getattr(getattr(model, "model", model), "norm", None)
    if compiled and norm is not None:
        norm.compile(backend=backend)
    return compiled


def resolve_compile(cfg: TrainConfig, cuda: bool | None = None) -> bool:
    """``compile`` as set, else on for CUDA runs without ZeRO-3 (whose parameter gathering hooks do
    not trace); ``cuda`` defaults to whether this machine has a CUDA GPU that inductor's Triton
    kernels serve well (Ampere or newer)."""
    if cfg.compile is not None:
        return cfg.compile
    from reasonflux.train.estimate import offload_of

    if cuda is None:
        import torch

        cuda = torch.cuda.is_available() and torch.cuda.get_device_capability() >= COMPILE_MIN_CAPABILITY
    return bool(cuda) and not offload_of(cfg.deepspeed)[0]


def resolve_memory_plan(cfg: TrainConfig, model_config: Any, world_size: int) -> Any:
    """The :class:`~reasonflux.train.estimate.MemoryPlan` for this run: ``memory_mode`` and, for lean,
    how many layers to checkpoint, within ``activation_budget_gb`` (default: what the GPU leaves after
    the model states). CPU runs without a budget: ``auto`` is ``fast``, ``lean`` checkpoints all."""
    import torch

    from reasonflux.train import estimate

    shape = estimate.shape_from_config(model_config)
    tokens = cfg.cutoff_len * cfg.per_device_train_batch_size
    budget = None
    if cfg.activation_budget_gb:
        budget = cfg.activation_budget_gb * estimate.GIB
    elif cfg.gpu_memory_gb or torch.cuda.is_available():
        gpu_bytes = (cfg.gpu_memory_gb * estimate.GIB if cfg.gpu_memory_gb
                     else torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE") or min(world_size, cfg.gpus_per_node))  # set by torchrun
        nodes = max(1, world_size // max(per_node, 1))
        states = estimate.model_states(shape, deepspeed=cfg.deepspeed, gpus_per_node=per_node, nodes=nodes)
        budget = estimate.activation_budget(states["gpu"], gpu_bytes)
    return estimate.plan_memory(shape, tokens, budget, mode=cfg.memory_mode, compiled=resolve_compile(cfg),
                                checkpoint_layers=cfg.checkpoint_layers)


# ----------------------------------------------------------------------------------------------
# the run


def build_args(cfg: TrainConfig) -> Any:
    """TRL ``SFTConfig`` for ``cfg``. Create it BEFORE loading the model: with a ZeRO-3 config it
    registers DeepSpeed globally so that ``from_pretrained`` partitions the weights as they load."""
    import torch
    from trl import SFTConfig

    return SFTConfig(
        use_cpu=not torch.accelerator.is_available(),  # without it, torchrun on CPUs runs unconnected copies
        output_dir=cfg.output_dir,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float below 1 is a share of the steps
        weight_decay=cfg.weight_decay,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim,
        bf16=cfg.bf16,
        fp16=False,
        seed=cfg.seed,
        deepspeed=deepspeed_config_path(cfg.deepspeed),
        activation_checkpointing=False,  # set on the model by apply_memory_mode (selective policies need a callable)
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        report_to=[] if cfg.report_to in ("", "none") else [cfg.report_to],
        max_length=cfg.cutoff_len,
        packing=False,
        dataset_kwargs={"skip_prepare_dataset": True},  # rows arrive tokenised with our labels
        ddp_timeout=7200,
        disable_tqdm=not sys.stderr.isatty(),
    )


def find_resume_checkpoint(cfg: TrainConfig) -> str | None:
    """The checkpoint to resume from; refuses to start over on top of an earlier run's work."""
    from transformers.trainer_utils import get_last_checkpoint

    from reasonflux.errors import UserError

    out = Path(cfg.output_dir)
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    if cfg.resume:
        if last is None:
            print(f"no checkpoint-* in {out}: starting from {cfg.model}", file=sys.stderr)
        return last
    if last is not None:
        raise UserError(f"{out} already holds {Path(last).name}: pass --resume to continue that run, or choose another --output-dir")
    if (out / "config.json").exists():
        raise UserError(f"{out} already holds a trained model: choose another --output-dir")
    return None


def load_tokenizer(cfg: TrainConfig) -> Any:
    """The base tokenizer with our chat format's template (what inference on the checkpoint uses)."""
    from transformers import AutoTokenizer

    from reasonflux.chat import get_format
    from reasonflux.errors import UserError

    tok = AutoTokenizer.from_pretrained(cfg.model)
    fmt = get_format(cfg.format)
    markers = _format_markers(cfg.format)
    split = [t for t in markers if len(tok(t, add_special_tokens=False)["input_ids"]) != 1]
    if split:
        raise UserError(f"tokenizer of {cfg.model} has no single token for {', '.join(split)}: the {cfg.format} format does not fit this model")
    tok.chat_template = fmt.jinja()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _format_markers(fmt: str) -> list[str]:
    from reasonflux import chat

    return [chat.BOS, chat.EOS, chat.USER, chat.ASSISTANT] if fmt == "deepseek-r1" else [chat.IM_START, chat.IM_END]


def load_model(cfg: TrainConfig, tokenizer: Any) -> Any:
    """Load the base model (after :func:`build_args`). bf16 weights under DeepSpeed (it keeps fp32
    masters itself); fp32 weights with bf16 autocast otherwise, like LLaMA-Factory."""
    import torch
    from transformers import AutoModelForCausalLM

    from reasonflux.chat import get_format

    dtype = torch.bfloat16 if (cfg.bf16 and cfg.deepspeed) else torch.float32
    model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype, attn_implementation=resolve_attn_implementation(cfg.attn_implementation))
    stop_ids = [tokenizer.convert_tokens_to_ids(s) for s in get_format(cfg.format).stop]
    stop_ids = [i for i in stop_ids if i is not None and i != tokenizer.unk_token_id]
    if stop_ids:
        model.generation_config.eos_token_id = stop_ids[0] if len(stop_ids) == 1 else stop_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _save_config_callback(cfg: TrainConfig) -> Any:
    from transformers import TrainerCallback

    from reasonflux.config import save_config

    class SaveConfig(TrainerCallback):
        """Writes the resolved config into every checkpoint, so each one says how it was made."""

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if state.is_world_process_zero:
                ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if ckpt.is_dir():
                    save_config(cfg, ckpt / CONFIG_FILE)

    return SaveConfig()


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run SFT; returns (and writes to ``output_dir/train_summary.json``) what happened."""
    import datasets
    from trl import SFTTrainer

    from reasonflux.config import save_config
    from reasonflux.errors import UserError
    from reasonflux.train.data import load_examples

    resume_from = find_resume_checkpoint(cfg)
    args = build_args(cfg)  # before the model (ZeRO-3 partitions at load)
    tokenizer = load_tokenizer(cfg)
    rows, stats = load_examples(cfg.data, tokenizer, fmt=cfg.format, cutoff_len=cfg.cutoff_len, truncate=cfg.truncate)
    if not rows:
        raise UserError(f"no trainable examples in {cfg.data}: {stats.dropped_too_long} longer than cutoff_len={cfg.cutoff_len} "
                        f"(raise it or pass --truncate), {stats.dropped_no_loss} without an assistant turn")
    model = load_model(cfg, tokenizer)
    plan = resolve_memory_plan(cfg, model.config, args.world_size)
    checkpointed = apply_memory_mode(model, plan.mode, plan.checkpoint_layers)
    configure_sdpa(cfg.sdpa_backend)
    if plan.compiled:
        compile_layers(model)

    out = Path(cfg.output_dir)
    main_process = args.process_index == 0
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / CONFIG_FILE)
        (out / STATS_FILE).write_text(json.dumps(stats.as_dict(), indent=2))
        _report_data(stats)

    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tokenizer, callbacks=[_save_config_callback(cfg)])
    result = trainer.train(resume_from_checkpoint=resume_from)
    trainer.save_model(str(out))  # weights + tokenizer (with our chat template)
    losses = [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]
    summary = {
        "output_dir": str(out),
        "recipe": cfg.recipe,
        "format": cfg.format,
        "memory_mode": plan.mode,
        "checkpoint_layers": checkpointed,
        "compile": plan.compiled,
        "attn_implementation": resolve_attn_implementation(cfg.attn_implementation),
        "sdpa_backend": cfg.sdpa_backend,
        "world_size": args.world_size,
        "resumed_from": resume_from,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "losses": losses,
        "data": stats.as_dict(),
    }
    if main_process:
        trainer.save_state()
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def _report_data(stats: Any) -> None:
    msg = f"data: {stats.kept}/{stats.conversations} conversations, {stats.tokens} tokens ({stats.loss_tokens} with loss)"
    if stats.dropped_too_long:
        msg += f"; dropped {stats.dropped_too_long} longer than cutoff_len={stats.cutoff_len} (--truncate keeps them cut)"
    if stats.truncated:
        msg += f"; truncated {stats.truncated} to {stats.cutoff_len} tokens"
    if stats.dropped_no_loss:
        msg += f"; dropped {stats.dropped_no_loss} with no assistant tokens"
    if stats.without_think:
        msg += f"; {stats.without_think} assistant turns do not open with <think> (inference will prefill it)"
    print(msg, file=sys.stderr)
