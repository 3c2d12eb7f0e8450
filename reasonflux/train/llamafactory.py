"""``--engine llamafactory``: the same recipe as a LLaMA-Factory run, for users of that trainer.

Writes ``OUTPUT_DIR/llamafactory/``: ``train.yaml`` (LLaMA-Factory's keys), the data as sharegpt
JSON with its ``dataset_info.json`` entry, and the DeepSpeed JSON. Not run here: LLaMA-Factory's
pins conflict with TRL's; install it in its own environment.

The chat template matters: LLaMA-Factory's ``deepseekr1`` template renders exactly our deepseek-r1
format (BOS, system, ``<｜User｜>…<｜Assistant｜>``, answer, EOS) and keeps the ``<think>`` reasoning of
the trained turns (``deepseek3`` is the same text without the reasoning handling; ``qwen``, which the
seed's README names, is ChatML with a default system prompt — the wrong format for R1-distill models).

    reasonflux train --recipe f1-32b --data sft.jsonl --engine llamafactory
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

LF_TEMPLATES = {"deepseek-r1": "deepseekr1", "chatml": "chatml"}
LF_ATTN = {"auto": "auto", "sdpa": "sdpa", "flash_attention_2": "fa2", "eager": "disabled"}
SUBDIR = "llamafactory"


def build_yaml(cfg: Any, *, dataset_dir: str, dataset: str, deepspeed: str | None) -> dict[str, Any]:
    """LLaMA-Factory training arguments reproducing ``cfg`` (a TrainConfig)."""
    out: dict[str, Any] = {
        # model
        "model_name_or_path": cfg.model,
        "trust_remote_code": True,
        # method
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "full",
    }
    if deepspeed:
        out["deepspeed"] = deepspeed
    out.update({
        # dataset
        "dataset": dataset,
        "dataset_dir": dataset_dir,
        "template": LF_TEMPLATES[cfg.format],
        "cutoff_len": cfg.cutoff_len,
        "train_on_prompt": False,  # loss on assistant turns only
        "mask_history": False,  # every assistant turn is trained, as in reasonflux
        # deepseekr1 is a reasoning template: with enable_thinking (and mask_history off) it keeps the
        # <think> block of every assistant turn in the trained tokens; with it off it would strip them
        "enable_thinking": True,
        "packing": False,
        "overwrite_cache": True,
        "preprocessing_num_workers": 16,
        # output
        "output_dir": cfg.output_dir,
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "plot_loss": True,
        "overwrite_output_dir": False,
        "report_to": cfg.report_to,
        # train
        "per_device_train_batch_size": cfg.per_device_train_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.num_train_epochs,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        "warmup_ratio": cfg.warmup_ratio,
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        "optim": cfg.optim,
        "bf16": cfg.bf16,
        "seed": cfg.seed,
        "flash_attn": LF_ATTN.get(cfg.attn_implementation, "auto"),
        # LLaMA-Factory checkpoints whole layers or nothing: our lean/min both map to its default
        "disable_gradient_checkpointing": cfg.memory_mode == "fast",
        "ddp_timeout": 180000000,
    })
    if cfg.max_steps and cfg.max_steps > 0:
        out["max_steps"] = cfg.max_steps
    if cfg.save_total_limit:
        out["save_total_limit"] = cfg.save_total_limit
    return out


def write(cfg: Any) -> dict[str, Path]:
    """Write the LLaMA-Factory run for ``cfg``; returns the paths written."""
    from reasonflux.synth.formats import LLAMAFACTORY_NAME, export, load_conversations
    from reasonflux.train.sft import deepspeed_config_path

    if cfg.format not in LF_TEMPLATES:
        from reasonflux.errors import UserError

        raise UserError(f"no LLaMA-Factory template for chat format {cfg.format!r}")
    d = (Path(cfg.output_dir) / SUBDIR).resolve()
    d.mkdir(parents=True, exist_ok=True)
    data_file, info_file = export(load_conversations(cfg.data), "llamafactory", d)
    ds = deepspeed_config_path(cfg.deepspeed)
    ds_copy = None
    if ds:
        ds_copy = d / Path(ds).name
        shutil.copyfile(ds, ds_copy)
    args = build_yaml(cfg, dataset_dir=str(d), dataset=LLAMAFACTORY_NAME, deepspeed=str(ds_copy) if ds_copy else None)
    yaml_path = d / "train.yaml"
    header = (f"# LLaMA-Factory run written by `reasonflux train --engine llamafactory` (recipe: {cfg.recipe or 'none'}).\n"
              f"# Run: llamafactory-cli train {yaml_path}   (several GPUs/nodes: FORCE_TORCHRUN=1 NNODES=N NODE_RANK=R "
              f"MASTER_ADDR=HOST MASTER_PORT={cfg.master_port} llamafactory-cli train ...)\n"
              f"# Differences from reasonflux's own trainer: LLaMA-Factory truncates examples over cutoff_len (reasonflux\n"
              f"# drops them unless --truncate) and has no selective activation checkpointing.\n")
    yaml_path.write_text(header + yaml.safe_dump(args, sort_keys=False, allow_unicode=True))
    out = {"yaml": yaml_path, "data": data_file, "dataset_info": info_file}
    if ds_copy:
        out["deepspeed"] = ds_copy
    return out
