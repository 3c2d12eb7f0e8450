"""Scale-out settings shared by every command that generates, and the one function that builds the
backend for them.

``ScaleConfig`` is a base of ``EvalConfig`` and ``SynthConfig`` (like ``BackendConfig``), so
``--executor``, ``--replicas``, ``--address``, ``--gpus-per-replica``, ``--data-parallel`` … are the
same flags and YAML keys everywhere. ``make_backend(cfg)`` returns the plain engine for a local run
and a :class:`~reasonflux.scale.ray_pool.RayPoolBackend` (a pool of engine replicas on Ray, same
``generate`` contract) otherwise, so the eval runner and the synthesis pipeline never know which
one they drive. See docs/cluster.md.

    reasonflux eval --model deepseek-ai/DeepSeek-R1-Distill-Qwen-7B --backend vllm --executor ray --address auto
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXECUTORS = ("local", "ray")
SCALE_REPORT = "scale.json"  # written into the run directory by a pooled backend


@dataclass
class ScaleConfig:
    """Where generation runs. Field = flag = YAML key."""

    executor: str = field(default="local", metadata={"help": "local (one engine in this process) | ray (a pool of engine replicas on a Ray cluster)", "choices": EXECUTORS})
    replicas: int | None = field(default=None, metadata={"help": "ray: engine replicas (default: as many as the cluster fits)", "min": 1})
    address: str | None = field(default=None, metadata={"help": "ray: cluster address (auto, HOST:6379, ray://HOST:10001; default: $RAY_ADDRESS, a running local cluster, else a new local instance)"})
    gpus_per_replica: float | None = field(default=None, metadata={"help": "ray: GPUs per replica (default: tensor_parallel_size for vllm; 1 for hf when the cluster has GPUs, else 0)", "min": 0})
    cpus_per_replica: float = field(default=1.0, metadata={"help": "ray: CPUs reserved per replica", "min": 0})
    data_parallel: int = field(default=1, metadata={"help": "engine replicas on this machine (N > 1 starts a private local Ray instance; no cluster needed)", "min": 1})
    shard_size: int = field(default=0, metadata={"help": "ray: samples per shard sent to a replica (0 = about 4 shards per replica per call)", "min": 0})
    shard_retries: int = field(default=2, metadata={"help": "ray: times a shard is retried after its replica dies before its samples are recorded as errors", "min": 0})


def check(cfg: Any) -> None:
    """Reject contradictory scale settings with one clear line."""
    from reasonflux.errors import UserError

    if cfg.executor not in EXECUTORS:
        raise UserError(f"--executor {cfg.executor!r}: choose local or ray")
    if cfg.data_parallel < 1:
        raise UserError(f"--data-parallel must be at least 1 (got {cfg.data_parallel})")
    if cfg.replicas is not None and cfg.replicas < 1:
        raise UserError(f"--replicas must be at least 1 (got {cfg.replicas})")
    if cfg.shard_size < 0 or cfg.shard_retries < 0:
        raise UserError("--shard-size and --shard-retries must not be negative")
    if cfg.gpus_per_replica is not None and cfg.gpus_per_replica < 0:
        raise UserError(f"--gpus-per-replica must not be negative (got {cfg.gpus_per_replica})")
    if cfg.executor == "local" and (cfg.replicas is not None or cfg.address):
        raise UserError("--replicas and --address need --executor ray (or use --data-parallel N on one machine)")
    if cfg.executor == "ray" and cfg.data_parallel > 1:
        raise UserError("--data-parallel is the one-machine shortcut; with --executor ray use --replicas N")


def make_backend(cfg: Any, *, log_dir: str | Path | None = None) -> Any:
    """The backend ``cfg`` asks for: the plain engine (``executor: local``, ``data_parallel: 1``) or
    a pool of replicas on Ray. ``log_dir`` (the run directory) receives the pool's ``scale.json``:
    replicas, shards, and every shard that was retried or failed."""
    from reasonflux.backends import backend_options, from_config

    check(cfg)
    if cfg.executor == "local" and cfg.data_parallel == 1:
        return from_config(cfg)
    from reasonflux.scale.ray_pool import RayPoolBackend

    local = cfg.executor == "local"
    return RayPoolBackend(
        backend_options(cfg),
        replicas=cfg.data_parallel if local else cfg.replicas,
        gpus_per_replica=cfg.gpus_per_replica,
        cpus_per_replica=cfg.cpus_per_replica,
        address="local" if local else cfg.address,
        shard_size=cfg.shard_size,
        max_retries=cfg.shard_retries,
        report_path=Path(log_dir) / SCALE_REPORT if log_dir is not None else None,
    )

