"""``reasonflux eval``, ``rescore``, ``report`` and ``compare``: benchmark runs and their tables.

    reasonflux eval --model smollm2 --preset quick --benchmarks math500 --limit 5 --out runs/demo
    reasonflux eval --model Gen-Verse/ReasonFlux-F1 --backend vllm --preset reasonflux-f1 --out runs/f1
    reasonflux rescore runs/demo          # regrade samples.jsonl, no generation
    reasonflux report runs/demo runs/f1   # the seed's table: benchmarks as columns, runs as rows
    reasonflux compare runs/demo runs/f1  # problems whose verdict differs
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from reasonflux.config import register as register_command
from reasonflux.evals.runner import EvalConfig

BENCHMARK_HELP = {
    "aime24": "AIME 2024, 30 problems, integer answers",
    "aime25": "AIME 2025, 30 problems, integer answers",
    "math500": "MATH-500, 500 competition problems, free-form answers",
    "gpqa_diamond": "GPQA-Diamond, 198 multiple-choice science questions (A-D)",
}
TABLE_WIDTH = 160  # tables printed to a pipe or file (make demo | tee) are not squeezed to 80 columns


@dataclass
class RescoreConfig:
    run: str = field(default="", metadata={"help": "run directory", "argument": True, "required": True, "path": "dir"})
    workers: int = field(default=2, metadata={"help": "grading processes", "min": 0})
    timeout: float = field(default=5.0, metadata={"help": "seconds per answer before it counts as a grading timeout", "gt": 0})
    quiet: bool = field(default=False, metadata={"help": "no table"})


@dataclass
class ReportConfig:
    runs: list[str] = field(default_factory=list, metadata={"help": "run directories", "argument": True, "required": True, "path": "dir"})
    all_reported: bool = field(default=False, metadata={"help": "also list every reported reference row"})
    markdown: bool = field(default=False, metadata={"help": "print a Markdown table"})
    json: bool = field(default=False, metadata={"help": "print the table as JSON"})


@dataclass
class CompareConfig:
    run_a: str = field(default="", metadata={"help": "first run directory", "argument": True, "required": True, "path": "dir"})
    run_b: str = field(default="", metadata={"help": "second run directory", "argument": True, "required": True, "path": "dir"})
    json: bool = field(default=False, metadata={"help": "print one JSON object per differing problem"})


def _print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for r in rows:
        t.add_row(*r)
    console = Console()
    (console if console.is_terminal else Console(width=TABLE_WIDTH)).print(t)


def eval_main(cfg: EvalConfig) -> dict[str, Any]:
    from reasonflux.evals import store
    from reasonflux.evals.report import COMPACT_HEADER, compact_rows, partial_note
    from reasonflux.evals.runner import SamplesFailed, failure_summary, run

    from reasonflux.evals import methods

    out = cfg.out = cfg.out or methods.default_out(cfg)  # runs/<model>-<method> unless direct
    metrics = run(cfg)
    if not cfg.quiet:
        _print_table(f"reasonflux eval: {cfg.name or out}", COMPACT_HEADER, compact_rows(metrics))
        note = partial_note(metrics)
        if note:
            print(note)
        line = methods.summary_line(metrics)  # the navigator's fallback count
        if line:
            print(line)
        print(f"wrote {out}/{store.SAMPLES}, {store.METRICS}, {store.REPORT_MD}, {store.REPORT_HTML}")
    failed = failure_summary(out, metrics)
    if failed:
        raise SamplesFailed(failed)  # exit code 3: failures are not answers; the next run retries them
    return metrics


def rescore_main(cfg: RescoreConfig) -> dict[str, Any]:
    """Regrade every sample of a run from its text (no generation) and rewrite metrics and reports."""
    from reasonflux.errors import UserError
    from reasonflux.evals import store
    from reasonflux.evals.report import COMPACT_HEADER, compact_rows
    from reasonflux.evals.runner import finalize
    from reasonflux.grading import grade_many

    if not cfg.run:
        raise UserError("rescore needs a run directory: reasonflux rescore runs/NAME")
    run = store.load_run(cfg.run)
    gold = {(p["benchmark"], p["id"]): (p["answer"], p.get("kind", "math")) for p in run.problems}
    questions = {(p["benchmark"], p["id"]): p.get("problem") for p in run.problems}  # #12: percent questions
    todo = [s for s in run.samples if (s["benchmark"], s["problem_id"]) in gold and not store.is_failure(s)]
    items = [{"response": s.get("text") or "", "gold": gold[(s["benchmark"], s["problem_id"])][0],
              "kind": gold[(s["benchmark"], s["problem_id"])][1], "prefilled": bool(s.get("prefilled")),
              "finish_reason": s.get("finish_reason"), "problem": questions[(s["benchmark"], s["problem_id"])]} for s in todo]
    changed = 0
    with store.RunLock(run.path):
        for s, v in zip(todo, grade_many(items, workers=cfg.workers, timeout=cfg.timeout)):
            new = (v.extracted, bool(v.correct), v.reason)
            if new != (s.get("extracted"), bool(s.get("correct")), s.get("reason")):
                changed += 1
            s["extracted"], s["correct"], s["reason"] = new
        store.rewrite_samples(run.path / store.SAMPLES, run.samples)
        metrics = finalize(run.path)
    if not cfg.quiet:
        _print_table(f"rescored {run.path} ({changed} of {len(todo)} verdicts changed)", COMPACT_HEADER, compact_rows(metrics))
    return metrics


def report_main(cfg: ReportConfig) -> tuple[list[str], list[list[str]]]:
    from reasonflux.errors import UserError
    from reasonflux.evals import store
    from reasonflux.evals.report import REPORTED_SOURCE, md_table, seed_table

    if not cfg.runs:
        raise UserError("report needs one or more run directories: reasonflux report runs/A runs/B")
    runs = [store.load_run(r, need_metrics=True) for r in cfg.runs]
    header, rows = seed_table(runs, all_reported=cfg.all_reported)
    if cfg.json:
        print(json.dumps([dict(zip(header, r)) for r in rows], ensure_ascii=False, indent=2))
    elif cfg.markdown:
        print(md_table(header, rows))
        print(f"\navg@n % ± standard error (pass@1 as the mean over samples); * = run incomplete; [3 of 500] = partial "
              f"(not comparable with reported figures); (N failed) = failed requests, retried on rerun. Reported: {REPORTED_SOURCE}.")
    else:
        _print_table("pass@1 (avg@n %)", header, rows)
        print(f"± standard error over problems; * = run incomplete; [3 of 500] = partial (not comparable with reported "
              f"figures); (N failed) = failed requests, retried on rerun. Reported rows: {REPORTED_SOURCE}.")
    return header, rows


def compare_main(cfg: CompareConfig) -> list[dict[str, Any]]:
    from reasonflux.errors import UserError
    from reasonflux.evals import store
    from reasonflux.evals.report import TITLES, compare_runs

    if not cfg.run_a or not cfg.run_b:
        raise UserError("compare needs two run directories: reasonflux compare runs/A runs/B")
    a, b = store.load_run(cfg.run_a), store.load_run(cfg.run_b)
    diffs = compare_runs(a, b)
    if cfg.json:
        for d in diffs:
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
        return diffs
    rows = [[TITLES.get(d["benchmark"], d["benchmark"]), d["problem_id"], str(d["gold"]),
             f"{d['a']:.2f} ({d['a_answer']})", f"{d['b']:.2f} ({d['b_answer']})"] for d in diffs]
    _print_table(f"{len(diffs)} problems with different verdicts: A = {a.label}, B = {b.label}",
                 ["benchmark", "problem", "gold", "A correct (answer)", "B correct (answer)"], rows)
    better_a = sum(d["a"] > d["b"] for d in diffs)
    print(f"A better on {better_a}, B better on {len(diffs) - better_a} (fraction of correct samples per problem; answer of sample 0)")
    return diffs


def register(app) -> None:  # noqa: ANN001
    from reasonflux.benchmarks import REGISTRY
    from reasonflux.config import yaml_descriptions
    from reasonflux.evals import PRESETS_PACKAGE, load_preset, preset_names

    register_command(app, "eval", EvalConfig, eval_main, presets=load_preset,
                     listings={"Presets (--preset)": lambda: yaml_descriptions(PRESETS_PACKAGE, preset_names()),
                               "Benchmarks (--benchmarks)": lambda: BENCHMARK_HELP if set(BENCHMARK_HELP) == set(REGISTRY)
                               else dict.fromkeys(REGISTRY, "")},
                     help="Evaluate a model on AIME24/AIME25/MATH500/GPQA-Diamond; resumable (rerun to continue).")
    register_command(app, "rescore", RescoreConfig, rescore_main, help="Regrade a run's samples without generating.")
    register_command(app, "report", ReportConfig, report_main, help="The seed-style table of one or more runs.")
    register_command(app, "compare", CompareConfig, compare_main, help="Problems whose verdict differs between two runs.")
