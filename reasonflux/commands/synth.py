"""``reasonflux synth``: verified, decontaminated, template-augmented SFT trajectories.

    reasonflux synth --problems problems.jsonl --teacher smollm2 --samples 4 --keep shortest --out runs/synth
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from reasonflux.backends import BackendConfig
from reasonflux.config import register as register_command
from reasonflux.scale import ScaleConfig


@dataclass
class SynthConfig(ScaleConfig, BackendConfig):
    model: str = field(default="smollm2", metadata={"help": "teacher model (HF id, local dir, .gguf, alias; served name for openai)", "aliases": ["--teacher"], "short": "-m"})
    problems: str = field(default="", metadata={"help": "problems with reference answers: JSONL/JSON/Parquet file or hub id"})
    out: str = field(default="runs/synth", metadata={"help": "output directory (resumable)"})
    templates: str = field(default="builtin", metadata={"help": "template library JSONL, or builtin; 'none' disables hints"})
    templates_k: int = field(default=2, metadata={"help": "templates offered per problem"})
    mode: str = field(default="hint", metadata={"help": "hint (templates in one prompt) | navigator (full plan/retrieve/solve loop)"})
    samples: int = field(default=4, metadata={"help": "candidate trajectories per problem"})
    keep: str = field(default="shortest", metadata={"help": "shortest | all-distinct:K"})
    max_tokens: int = field(default=4096, metadata={"help": "new tokens per trajectory"})
    temperature: float = field(default=0.7, metadata={"help": "teacher sampling temperature"})
    top_p: float = field(default=0.95, metadata={"help": "teacher nucleus sampling"})
    think: bool = field(default=False, metadata={"help": "prefill '<think>\\n' (R1-style teachers)"})
    limit: int | None = field(default=None, metadata={"help": "only the first N problems"})
    chunk: int = field(default=64, metadata={"help": "problems per backend call"})
    workers: int = field(default=2, metadata={"help": "grading processes"})
    decontaminate: bool = field(default=True, metadata={"help": "drop problems overlapping AIME24/25, MATH500, GPQA-Diamond"})
    dedup: bool = field(default=True, metadata={"help": "drop exact and near-duplicate problems"})
    ngram: int = field(default=13, metadata={"help": "decontamination n-gram size"})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data dir for decontamination (default: REASONFLUX_DATA_DIR, else the hub)"})
    max_steps: int = field(default=6, metadata={"help": "navigator mode: step limit"})


def clean_problems(problems, cfg, out: Path):  # noqa: ANN001, ANN201
    """Dedup and decontaminate; writes ``out/cleaning.json`` naming what was dropped and why."""
    import os

    from reasonflux.synth.decontam import benchmark_items, build_index, decontaminate
    from reasonflux.synth.dedup import dedup

    rows = [{"problem": p.problem, "_p": p} for p in problems]
    report: dict = {"input": len(rows)}
    if cfg.dedup:
        rows, dups = dedup(rows)
        report["duplicates"] = [{"problem_id": problems[d.row].id, "kept": problems[d.kept_row].id, "kind": d.kind, "similarity": d.similarity} for d in dups]
    if cfg.decontaminate:
        index = build_index(benchmark_items(cfg.data_dir or os.environ.get("REASONFLUX_DATA_DIR")), n=cfg.ngram)
        rows, matches = decontaminate(rows, index)
        report["contaminated"] = [{"benchmark": m.benchmark, "benchmark_id": m.problem_id, "shared_ngrams": m.shared_ngrams} for m in matches]
    report["kept"] = len(rows)
    (out / "cleaning.json").write_text(json.dumps(report, indent=2))
    return [r["_p"] for r in rows], report


def main(cfg: SynthConfig) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from reasonflux.chat import THINK_PREFILL
    from reasonflux.config import save_config
    from reasonflux.errors import UserError
    from reasonflux.scale import make_backend
    from reasonflux.synth import pipeline

    if not cfg.problems:
        raise UserError("synth needs --problems FILE|HUB_ID (rows with a problem and a reference answer)")
    if cfg.mode not in ("hint", "navigator"):
        raise UserError(f"unknown --mode {cfg.mode!r}: use hint or navigator")
    pipeline.parse_keep(cfg.keep)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    problems = pipeline.read_problems(cfg.problems)[: cfg.limit]
    problems, cleaning = clean_problems(problems, cfg, out)
    store = pipeline.Store(out)
    console = Console(stderr=True)
    started = time.time()
    backend = make_backend(cfg, log_dir=out)
    todo = sum(1 for p in problems if p.id not in store.done)
    try:
        with Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TextColumn("kept {task.fields[kept]}"),
                      TimeElapsedColumn(), console=console, disable=not console.is_terminal) as bar:
            task = bar.add_task("synth", total=todo, kept=0)
            kept = [0]

            def on_problem(s: dict) -> None:
                kept[0] += s["kept"]
                bar.update(task, advance=1, kept=kept[0])

            if cfg.mode == "hint":
                pipeline.run_hint_mode(
                    problems, store, backend, _hint_builder(cfg), samples=cfg.samples, keep=cfg.keep, teacher=cfg.model,
                    request_kwargs={"max_tokens": cfg.max_tokens, "temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed},
                    prefill=THINK_PREFILL if cfg.think else "", chunk=cfg.chunk, workers=cfg.workers, on_problem=on_problem)
            else:
                from reasonflux.synth.navigate import run_navigator_mode

                run_navigator_mode(problems, store, backend, cfg, on_problem=on_problem)
    finally:
        backend.close()
    summary = pipeline.summarize(store, started)
    summary["cleaning"] = {k: (len(v) if isinstance(v, list) else v) for k, v in cleaning.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"problems {summary['problems']}  solved {summary['solved']}  kept {summary['kept']}  "
                  f"tokens {summary['tokens']}  → {out / 'trajectories.jsonl'}")
    return summary


def _hint_builder(cfg: SynthConfig):  # noqa: ANN202
    if cfg.templates == "none":
        return lambda problem: ([{"role": "user", "content": problem}], [])
    from reasonflux.templates.hints import hints_with_ids

    return lambda problem: hints_with_ids(problem, cfg.templates, k=cfg.templates_k)


def register(app) -> None:  # noqa: ANN001
    register_command(app, "synth", SynthConfig, main, help="Synthesize verified, decontaminated SFT trajectories.")
