"""``reasonflux train``: SFT of reasoning models on TRL with the ReasonFlux-F1 recipes.

    reasonflux train --recipe f1-7b --data sft.jsonl                   # train here (one device)
    reasonflux train --recipe f1-32b --data sft.jsonl --print-launch --nodes 2 --gpus-per-node 8
    reasonflux train --recipe f1-32b --estimate --gpus 8               # memory per GPU and host
    reasonflux train --recipe f1-32b --data sft.jsonl --engine llamafactory

Training runs check packages, data rows, the output directory and the memory plan before any
weights load (``reasonflux.train.preflight``): one line and exit 2 on the first problem.
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
    from reasonflux.config import yaml_descriptions
    from reasonflux.train.sft import RECIPES, validate

    register_command(app, "train", TrainConfig, main, help=HELP, presets=load_recipe, preset_flag="recipe", precheck=validate, panels={"seed": "Training"},
                     listings={"Recipes (--recipe)": lambda: _recipe_lines(RECIPES, yaml_descriptions("reasonflux.train", RECIPES, "recipes"))})


def _recipe_lines(names, first_lines: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    """One line per recipe: its base model and the knobs that tell recipes apart."""
    from reasonflux.errors import UserError

    out = {}
    for n in names:
        try:
            r = load_recipe(n)
        except (UserError, ValueError, OSError):
            out[n] = first_lines.get(n, "")
            continue
        model = str(r.get("model") or "your --model").rsplit("/", 1)[-1]
        bits = [model, f"lr {r['learning_rate']}" if "learning_rate" in r else "",
                f"{r['num_train_epochs']} epochs" if "num_train_epochs" in r else "",
                f"{r['max_steps']} steps" if r.get("max_steps", -1) not in (-1, None) else "",
                str(r.get("deepspeed") or "")]
        out[n] = " · ".join(b for b in bits if b)
    return out
