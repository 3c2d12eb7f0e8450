"""``reasonflux data``: load, export, clean and inspect SFT data.

    reasonflux data load Gen-Verse/ReasonFlux-F1-SFT --out f1.jsonl
    reasonflux data export runs/synth/trajectories.jsonl --format llamafactory --out data/
    reasonflux data clean problems.jsonl --out clean.jsonl
    reasonflux data stats f1.jsonl --tokenizer MODEL_DIR --png lengths.png
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from reasonflux.config import register as register_command


@dataclass
class ExportConfig:
    input: str = field(default="", metadata={"help": "trajectories / SFT rows (messages, sharegpt or alpaca)", "argument": True})
    format: str = field(default="messages", metadata={"help": "messages | sharegpt | alpaca | hf | llamafactory"})
    out: str = field(default="", metadata={"help": "output file (directory for hf and llamafactory)"})


@dataclass
class LoadConfig:
    source: str = field(default="Gen-Verse/ReasonFlux-F1-SFT", metadata={"help": "hub dataset id or local file/dir", "argument": True})
    out: str = field(default="sft.jsonl", metadata={"help": "normalised messages JSONL"})


@dataclass
class CleanConfig:
    input: str = field(default="", metadata={"help": "problems or SFT rows (JSONL/JSON/Parquet)", "argument": True})
    out: str = field(default="clean.jsonl", metadata={"help": "rows kept"})
    key: str = field(default="problem", metadata={"help": "field holding the problem text (for messages rows: the first user turn is used)"})
    ngram: int = field(default=13, metadata={"help": "decontamination n-gram size"})
    decontaminate: bool = field(default=True, metadata={"help": "drop rows overlapping the evaluation sets"})
    dedup: bool = field(default=True, metadata={"help": "drop exact and near-duplicate rows"})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data dir (default: REASONFLUX_DATA_DIR, else the hub)"})


@dataclass
class StatsConfig:
    input: str = field(default="", metadata={"help": "SFT rows", "argument": True})
    tokenizer: str = field(default="", metadata={"help": "tokenizer (model dir or HF id)"})
    cutoff: int = field(default=16384, metadata={"help": "training cutoff in tokens"})
    png: str | None = field(default=None, metadata={"help": "write a histogram PNG here"})
    json: bool = field(default=False, metadata={"help": "print the summary as JSON"})


def export_main(cfg: ExportConfig) -> list[str]:
    from reasonflux.errors import UserError
    from reasonflux.synth.formats import export, load_conversations

    if not cfg.out:
        raise UserError("data export needs --out")
    convs = load_conversations(cfg.input)
    paths = export(convs, cfg.format, cfg.out)
    print(f"{len(convs)} conversations → {', '.join(map(str, paths))}")
    return [str(p) for p in paths]


def load_main(cfg: LoadConfig) -> int:
    from reasonflux.synth.formats import export, load_conversations

    convs = load_conversations(cfg.source)
    export(convs, "messages", cfg.out)
    print(f"{len(convs)} conversations from {cfg.source} → {cfg.out}")
    return len(convs)


def clean_main(cfg: CleanConfig) -> dict:
    import os
    from pathlib import Path

    from reasonflux.errors import UserError
    from reasonflux.synth.decontam import benchmark_items, build_index, decontaminate
    from reasonflux.synth.dedup import dedup
    from reasonflux.synth.formats import read_rows

    rows = []
    for line, row in read_rows(cfg.input):
        if cfg.key not in row and isinstance(row.get("messages"), list):
            user = next((m.get("content", "") for m in row["messages"] if m.get("role") == "user"), None)
            if user is None:
                raise UserError(f"{cfg.input}:{line}: no user turn")
            row = {**row, cfg.key: user}
        if cfg.key not in row:
            raise UserError(f"{cfg.input}:{line}: no {cfg.key!r} field")
        rows.append(row)
    report: dict = {"input": len(rows)}
    if cfg.dedup:
        rows, dups = dedup(rows, text_key=cfg.key)
        report["duplicates"] = [d.__dict__ for d in dups]
    if cfg.decontaminate:
        idx = build_index(benchmark_items(cfg.data_dir or os.environ.get("REASONFLUX_DATA_DIR")), n=cfg.ngram)
        rows, matches = decontaminate(rows, idx, text_key=cfg.key)
        report["contaminated"] = [m.__dict__ for m in matches]
    report["kept"] = len(rows)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    with open(cfg.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    rep_path = Path(cfg.out).with_suffix(".report.json")
    rep_path.write_text(json.dumps(report, indent=2))
    print(f"kept {report['kept']}/{report['input']}  duplicates {len(report.get('duplicates', []))}  "
          f"contaminated {len(report.get('contaminated', []))}  → {cfg.out} (report {rep_path})")
    return report


def stats_main(cfg: StatsConfig) -> dict:
    from reasonflux.errors import UserError
    from reasonflux.models import resolve_model
    from reasonflux.synth import stats
    from reasonflux.synth.formats import load_conversations

    if not cfg.tokenizer:
        raise UserError("data stats needs --tokenizer MODEL_DIR|HF_ID")
    convs = load_conversations(cfg.input)
    from transformers import AutoTokenizer

    ref = resolve_model(cfg.tokenizer)
    tok = AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file) if ref.gguf_file else AutoTokenizer.from_pretrained(ref.path)
    lengths = stats.token_lengths(convs, tok)
    s = stats.summary(lengths, cfg.cutoff)
    if cfg.png:
        stats.save_png(lengths, cfg.png, cfg.cutoff)
        s["png"] = cfg.png
    if cfg.json:
        print(json.dumps(s))
    else:
        print(stats.histogram(lengths))
        print(f"{s['examples']} examples, {s['tokens']} tokens; median {s['median']:.0f}, p90 {s['p90']:.0f}, max {s['max']}; "
              f"over cutoff {s['cutoff']}: {s['over_cutoff']} ({100 * s['share_over_cutoff']:.1f}%)")
    return s


def register(app) -> None:  # noqa: ANN001
    import typer

    sub = typer.Typer(help="Load, export, clean and inspect SFT data.", no_args_is_help=True)
    register_command(sub, "export", ExportConfig, export_main, help="Convert SFT rows to messages/sharegpt/alpaca/hf/llamafactory.")
    register_command(sub, "load", LoadConfig, load_main, help="Load the published ReasonFlux-F1-SFT (or any file) as messages JSONL.")
    register_command(sub, "clean", CleanConfig, clean_main, help="Dedup and decontaminate against the evaluation sets.")
    register_command(sub, "stats", StatsConfig, stats_main, help="Token lengths under the training chat format.")
    app.add_typer(sub, name="data")
