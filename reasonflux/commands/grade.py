"""``reasonflux grade INPUT.jsonl``: grade rows of ``gold`` + ``response`` (or ``answer``) offline.

Each row comes back with ``extracted`` (string or null), ``correct`` (bool) and ``reason`` (equal,
not_equal, no_answer, truncated, timeout, error). A row may carry its own ``kind``, ``prefilled``
and ``finish_reason``; ``answer`` (already extracted) wins over ``response``. A bad row (not JSON,
not an object, no gold) is written back as ``{"line": N, "correct": false, "reason": "error",
"error": "..."}`` so output lines match input lines, is named on stderr, and the rest of the file
is graded; the exit status is then 1.

    reasonflux grade samples.jsonl -o graded.jsonl
    reasonflux grade gpqa.jsonl --kind choice --workers 4 --timeout 10
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from reasonflux.config import register as register_command

CHUNK_ROWS = 5000  # rows graded (and written) per batch: finished work reaches the file early


@dataclass
class GradeConfig:
    input: str = field(default="", metadata={"help": "JSONL rows with gold and response (or answer)", "argument": True})
    output: str | None = field(default=None, metadata={"help": "graded rows (default: stdout)", "short": "-o"})
    kind: str = field(default="math", metadata={"help": "math or choice (a row's own 'kind' wins)"})
    prefilled: bool = field(default=False, metadata={"help": "responses start inside <think> (the prompt opened it)"})
    workers: int = field(default=2, metadata={"help": "grading processes (0: in-process, no timeout)"})
    timeout: float = field(default=5.0, metadata={"help": "seconds per comparison before the verdict is 'timeout'"})


def _bad(line: int, msg: str) -> dict[str, Any]:
    return {"line": line, "extracted": None, "correct": False, "reason": "error", "error": msg}


def _read_rows(path: Path, cfg: GradeConfig) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, row or None, error) for every non-empty line."""
    out = []
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as e:
                out.append((n, None, f"not valid JSON ({e.msg} at column {e.colno})"))
                continue
            if not isinstance(row, dict):
                out.append((n, None, "a row must be a JSON object"))
            elif row.get("gold") in (None, ""):
                out.append((n, row, "no 'gold' field"))
            elif row.get("response") is None and row.get("answer") is None:
                out.append((n, row, "neither 'response' nor 'answer'"))
            elif (row.get("kind") or cfg.kind) not in ("math", "choice"):
                out.append((n, row, f"unknown kind {row.get('kind')!r} (math or choice)"))
            else:
                out.append((n, row, None))
    return out


def _item(row: dict[str, Any], cfg: GradeConfig) -> dict[str, Any]:
    return {"gold": str(row["gold"]), "response": None if row.get("response") is None else str(row["response"]),
            "answer": None if row.get("answer") is None else str(row["answer"]),
            "kind": row.get("kind") or cfg.kind, "prefilled": bool(row.get("prefilled", cfg.prefilled)),
            "finish_reason": row.get("finish_reason")}


def grade_file(cfg: GradeConfig, out: TextIO) -> dict[str, Any]:
    from reasonflux.errors import UserError
    from reasonflux.grading import grade_many

    path = Path(cfg.input)
    if not cfg.input or not path.is_file():
        raise UserError(f"grade: input file not found: {cfg.input or '(none given)'}")
    if cfg.kind not in ("math", "choice"):
        raise UserError(f"grade: --kind must be math or choice, not {cfg.kind!r}")
    rows = _read_rows(path, cfg)
    counts: Counter[str] = Counter()
    bad = 0
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        good = [(n, row) for n, row, err in chunk if err is None]
        verdicts = iter(grade_many([_item(row, cfg) for _, row in good], workers=cfg.workers, timeout=cfg.timeout if cfg.workers > 0 else None))
        for n, row, err in chunk:
            if err is not None:
                bad += 1
                print(f"error: {path}:{n}: {err}", file=sys.stderr)
                rec = _bad(n, err) if row is None else {**row, **_bad(n, err)}
            else:
                v = next(verdicts)
                rec = {**row, "extracted": v.extracted, "correct": v.correct, "reason": v.reason}
                if v.detail:
                    rec["detail"] = v.detail
            counts[rec["reason"]] += 1
            counts["correct"] += bool(rec["correct"])
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        out.flush()
    n = len(rows)
    return {"rows": n, "correct": counts["correct"], "accuracy": counts["correct"] / n if n else 0.0,
            "reasons": {k: v for k, v in counts.items() if k != "correct"}, "bad_rows": bad}


def main(cfg: GradeConfig) -> dict[str, Any]:
    from reasonflux.config import save_config

    if cfg.output:
        out_path = Path(cfg.output)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with out_path.open("w", encoding="utf-8", errors="surrogateescape") as f:
            summary = grade_file(cfg, f)
        save_config(cfg, out_path.with_suffix(".config.yaml"))
    else:
        summary = grade_file(cfg, sys.stdout)
    r = summary["reasons"]
    line = (f"graded {summary['rows']} rows: {summary['correct']} correct ({100 * summary['accuracy']:.1f}%), "
            f"{r.get('not_equal', 0)} wrong, {r.get('no_answer', 0)} no answer, {r.get('truncated', 0)} truncated, "
            f"{r.get('timeout', 0)} timeouts, {r.get('error', 0)} errors ({summary['bad_rows']} bad rows)"
            + (f" -> {cfg.output}" if cfg.output else ""))
    print(line, file=sys.stdout if cfg.output else sys.stderr)
    return summary


def _cli(cfg: GradeConfig) -> dict[str, Any]:
    summary = main(cfg)
    if summary["bad_rows"]:
        raise SystemExit(1)
    return summary


def register(app) -> None:  # noqa: ANN001
    register_command(app, "grade", GradeConfig, _cli, help="Grade JSONL rows of gold + response (or answer).")
