"""``reasonflux train``: SFT of reasoning models on TRL with the ReasonFlux-F1 recipes.

    reasonflux train --recipe f1-7b --data sft.jsonl                   # train here (one device)
    reasonflux train --recipe f1-32b --data sft.jsonl --print-launch --nodes 2 --gpus-per-node 8
    reasonflux train --recipe f1-32b --estimate --gpus 8               # memory per GPU and host
    reasonflux train --recipe f1-32b --data sft.jsonl --engine llamafactory
"""

from __future__ import annotations

import json
import sys
from typing import Any

from reasonflux.config import register as register_command
from reasonflux.train.sft import TrainConfig, load_recipe

HELP = "Fine-tune a model on SFT trajectories (TRL; recipes f1-7b, f1-14b, f1-32b, tiny)."


def main(cfg: TrainConfig) -> Any:
    from reasonflux.train import sft

    sft.validate(cfg)
    if cfg.estimate:
        from reasonflux.train.estimate import estimate, format_report

        report = estimate(cfg)
        print(format_report(report))
        return report
    if cfg.print_launch:
        from reasonflux.train.launch import format_commands, write_launch_config

        path = write_launch_config(cfg)
        print(format_commands(cfg, path))
        return path
    if cfg.engine == "llamafactory":
        from reasonflux.train.llamafactory import write

        paths = write(cfg)
        for kind, p in paths.items():
            print(f"{kind}: {p}")
        print(f"run: llamafactory-cli train {paths['yaml']}")
        return paths
    summary = sft.train(cfg)
    if summary["world_size"] == 1 or _rank() == 0:
        short = {k: summary[k] for k in ("output_dir", "memory_mode", "global_step", "train_loss")}
        sys.stdout.write(json.dumps(short) + "\n")
    return summary


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))


def register(app) -> None:  # noqa: ANN001
    register_command(app, "train", TrainConfig, main, help=HELP, presets=load_recipe, preset_flag="recipe")
