"""What a training run checks before it loads any weights, and before torch is imported.

In order, each failure one line (``UserError``, exit 2), within seconds:
  packages  torch, transformers, trl, datasets, accelerate; deepspeed when the config names a
            ZeRO config (the f1 recipes) — found with ``importlib.util.find_spec``, never imported
  model     a local path that does not exist (hub ids are left to the download)
  output    the output directory can be created and written to
  data      readable, and every row a conversation the chat format trains on (the bad row's number)
  memory    the memory plan (``reasonflux.train.estimate.plan_run``, what ``--estimate`` prints) for
            this launch (WORLD_SIZE / LOCAL_WORLD_SIZE as torchrun sets them, else one process) fits
            ``HEADROOM`` of the GPU: ``gpu_memory_gb`` when set, else the smallest visible GPU as
            ``nvidia-smi`` reports it; skipped without a GPU (CPU runs) and with ``--no-check-memory``.
            When nvidia-smi is missing, ``sft.train`` runs the same check with torch's number, still
            before the weights load.

    python -m reasonflux.train --recipe f1-7b --data sft.jsonl   # refused in ~1 s without deepspeed
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from reasonflux.errors import UserError

PACKAGES = ("torch", "transformers", "trl", "datasets", "accelerate")
NVIDIA_SMI_TIMEOUT_S = 10


def check_packages(cfg: Any) -> None:
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise UserError(f"training needs {', '.join(missing)}, not installed: pip install 'reasonflux[train]'")
    if cfg.deepspeed and cfg.deepspeed != "none" and importlib.util.find_spec("deepspeed") is None:
        what = f"recipe {cfg.recipe} uses" if cfg.recipe else "this config uses"
        raise UserError(f"{what} DeepSpeed (deepspeed: {cfg.deepspeed}), which is not installed: "
                        "pip install 'reasonflux[deepspeed]' (or --deepspeed none for one device or DDP)")


def check_model(cfg: Any) -> None:
    model = cfg.model
    if Path(model).expanduser().exists():
        return
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise UserError(f"model not found: {model} (a local directory or a hub id such as deepseek-ai/DeepSeek-R1-Distill-Qwen-7B)")


def check_output(cfg: Any) -> None:
    out = Path(cfg.output_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"output directory {out} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"output directory {out} is not writable ({e.strerror or type(e).__name__})") from None


def check_data(cfg: Any) -> list[list[dict[str, str]]]:
    from reasonflux.train.data import read_conversations

    return read_conversations(cfg.data, cfg.format)


def launch_world() -> tuple[int, int | None]:
    """(WORLD_SIZE, LOCAL_WORLD_SIZE) as torchrun / accelerate set them; (1, None) for one process."""
    world = int(os.environ.get("WORLD_SIZE") or 1)
    local = os.environ.get("LOCAL_WORLD_SIZE")
    return world, int(local) if local else None


def nvidia_smi_gpu_bytes() -> float | None:
    """Memory of the smallest GPU this process may use, from nvidia-smi (None: no GPU or no nvidia-smi)."""
    exe = shutil.which("nvidia-smi")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if exe is None or visible in ("", "-1"):
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sizes = {}
    for line in out.strip().splitlines():
        try:
            idx, mib = (x.strip() for x in line.split(","))
            sizes[idx] = float(mib) * 1024**2
        except ValueError:
            continue
    if visible:
        chosen = [sizes[i.strip()] for i in visible.split(",") if i.strip() in sizes]
        sizes = dict(enumerate(chosen)) if chosen else sizes  # UUIDs: fall back to every GPU
    return min(sizes.values()) if sizes else None


def check_memory(cfg: Any, gpu_bytes: float | None, world_size: int, local_world_size: int | None,
                 model_config: Any = None) -> Any:
    """Refuse a plan that does not fit ``HEADROOM`` of ``gpu_bytes``; returns the RunPlan (None when
    there is nothing to check)."""
    from reasonflux.train import estimate

    if not cfg.check_memory or not gpu_bytes:
        return None
    shape = estimate.shape_from_config(model_config) if model_config is not None else estimate.model_shape(cfg.model)
    per_node, nodes = estimate.run_cluster(cfg, world_size, local_world_size)
    plan = estimate.plan_run(cfg, shape, gpus_per_node=per_node, nodes=nodes, gpu_bytes=gpu_bytes,
                             cuda=True)
    if not plan.fits:
        G = estimate.GIB
        mem = plan.memory
        raise UserError(
            f"memory plan does not fit: {plan.per_gpu_bytes / G:.1f} GiB per GPU (model states {plan.states['gpu'] / G:.1f}, "
            f"activations {mem.activation_bytes / G:.1f}, memory_mode={mem.mode}) on {per_node * nodes} GPU(s) of "
            f"{gpu_bytes / G:.0f} GiB, limit {estimate.HEADROOM:.0%}; use more GPUs, --deepspeed zero3_offload, "
            f"--memory-mode min or a lower --cutoff-len (see --estimate), or --no-check-memory to try anyway")
    return plan


def preflight(cfg: Any) -> tuple[list[list[dict[str, str]]], bool]:
    """Run every check; returns the checked conversations and whether the memory check ran."""
    check_packages(cfg)
    check_model(cfg)
    check_output(cfg)
    convs = check_data(cfg)
    world, local = launch_world()
    from reasonflux.train.estimate import GIB

    plan = check_memory(cfg, cfg.gpu_memory_gb * GIB if cfg.gpu_memory_gb else nvidia_smi_gpu_bytes(), world, local)
    return convs, plan is not None
