"""Cluster command lines for a training config: torchrun and accelerate, one line per node.

``--print-launch`` writes the resolved config (with the action flags cleared) to
``OUTPUT_DIR/launch_config.yaml`` and prints the commands that run it on ``--nodes`` machines with
``--gpus-per-node`` GPUs each; every node runs the same line with its own ``NODE_RANK``. The output
directory must be on storage all nodes see (it holds the config, checkpoints and the model).

    reasonflux train --recipe f1-32b --data sft.jsonl --print-launch --nodes 2 --gpus-per-node 8
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

LAUNCH_CONFIG = "launch_config.yaml"
MODULE = "reasonflux.train"


def write_launch_config(cfg: Any) -> Path:
    """The config every rank reads: ``cfg`` with the one-off actions switched off and local paths
    made absolute (ranks may start in another directory)."""
    from reasonflux.config import save_config

    local = lambda p: str(Path(p).resolve()) if p and Path(p).exists() else p  # noqa: E731 - hub ids stay as they are
    run_cfg = replace(cfg, print_launch=False, estimate=False, model=local(cfg.model), data=local(cfg.data),
                      out=str(Path(cfg.out).resolve()))
    return save_config(run_cfg, Path(run_cfg.output_dir) / LAUNCH_CONFIG)


def commands(cfg: Any, config_path: str | Path) -> dict[str, str]:
    """``{"torchrun": ..., "accelerate": ...}`` for ``cfg.nodes`` x ``cfg.gpus_per_node``."""
    conf = shlex.quote(str(config_path))
    nodes, per_node = cfg.nodes, cfg.gpus_per_node
    if nodes == 1:
        rdzv = "--standalone"
        acc_rdzv = ""
    else:
        rdzv = f"--nnodes {nodes} --node_rank $NODE_RANK --master_addr $MASTER_ADDR --master_port {cfg.master_port}"
        acc_rdzv = f" --num_machines {nodes} --machine_rank $NODE_RANK --main_process_ip $MASTER_ADDR --main_process_port {cfg.master_port}"
    torchrun = f"torchrun {rdzv} --nproc_per_node {per_node} -m {MODULE} --config {conf}"
    multi = " --multi_gpu" if nodes * per_node > 1 else ""
    # DeepSpeed is configured by the training arguments (the config's `deepspeed` key), so accelerate
    # is only the process launcher here.
    accelerate = (f"accelerate launch{multi} --num_processes {nodes * per_node}{acc_rdzv} --mixed_precision "
                  f"{'bf16' if cfg.bf16 else 'no'} -m {MODULE} --config {conf}")
    return {"torchrun": torchrun, "accelerate": accelerate}


def format_commands(cfg: Any, config_path: str | Path) -> str:
    cmds = commands(cfg, config_path)
    head = f"# {cfg.nodes} node(s) x {cfg.gpus_per_node} GPU(s); config: {config_path}"
    if cfg.nodes > 1:
        head += "\n# on every node: export MASTER_ADDR=<node 0 hostname> NODE_RANK=<0..{}>".format(cfg.nodes - 1)
    return "\n".join([head, "# torchrun", cmds["torchrun"], "# or accelerate", cmds["accelerate"],
                      "# SLURM: see docs/training.md"])
