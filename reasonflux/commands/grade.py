"""``reasonflux grade INPUT.jsonl``: grade rows of ``gold`` + ``response`` (or ``answer``) offline.

Each row comes back with ``extracted`` (string or null), ``correct`` (bool) and ``reason`` (equal,
not_equal, no_answer, truncated, timeout, error). A row may carry its own ``kind``, ``prefilled``,
``finish_reason`` and ``problem``/``question``; ``answer`` (already extracted) wins over
``response`` (or ``text``, as in a run's samples.jsonl, whose gold comes from the problems.jsonl
beside it). Whether the prompt opened ``<think>`` is learned from the row (``prefilled``, or a
``prompt``/``prefill`` ending inside ``<think>``), else from ``--prefilled``. A bad row (not JSON,
not an object, too deep, no gold, a field of the wrong type) is written back as ``{"line": N,
"correct": false, "reason": "error", "error": "..."}`` so output lines match input lines, is named
on stderr, and the rest of the file is graded; the exit status is then 1. Rows are written (one
``os.write`` each) as soon as they and every row before them are graded; any JSON value, lone
surrogates included, is written back.

    reasonflux grade samples.jsonl -o graded.jsonl
    reasonflux grade gpqa.jsonl --kind choice --workers 4 --timeout 10
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from reasonflux.chat import THINK_CLOSE, THINK_OPEN
from reasonflux.config import register as register_command
from reasonflux.store import json_line

CHUNK_ROWS = 256  # comparisons sent to the workers together; a row is written once it and all before it are graded
EARLY_POOL_BYTES = 1 << 20  # an input this large starts the workers at once: loading sympy overlaps reading


@dataclass
class GradeConfig:
    input: str = field(default="", metadata={"help": "JSONL rows with gold and response (or answer)", "argument": True, "required": True, "path": "file"})
    out: str | None = field(default=None, metadata={"help": "graded rows (default: stdout)", "short": "-o", "old": ["output"], "path": "out_file"})
    kind: str = field(default="math", metadata={"help": "math or choice (a row's own 'kind' wins)", "choices": ("math", "choice")})
    prefilled: bool = field(default=False, metadata={"help": "responses start inside <think> (the prompt opened it)"})
    workers: int = field(default=2, metadata={"help": "grading processes (0: in-process, no timeout)", "min": 0})
    timeout: float = field(default=5.0, metadata={"help": "seconds per comparison before the verdict is 'timeout'", "gt": 0})


def _bad(line: int, msg: str) -> dict[str, Any]:
    return {"line": line, "extracted": None, "correct": False, "reason": "error", "error": msg}


def dump_line(rec: Any) -> bytes:
    """One JSONL line for any record (``store.json_line``: UTF-8, ASCII escapes for a lone surrogate
    from the input); a record too deeply nested to write is cut to its verdict fields."""
    try:
        return json_line(rec).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        rec = {k: rec.get(k) for k in ("line", "extracted", "correct", "reason", "error", "detail") if isinstance(rec, dict) and k in rec}
        rec.setdefault("error", "input row could not be echoed back (too deeply nested)")
        return json_line(rec).encode("utf-8")


class RowWriter:
    """Writes graded rows as they finish: one write of one whole line per row, so a killed run keeps
    every row it graded (at most a torn last line). A file goes through the run store's
    :class:`~reasonflux.store.Appender` (emptied first: grade rewrites its output); ``path=None``
    writes to stdout."""

    def __init__(self, path: Path | None):
        from reasonflux.store import Appender

        self.path = path
        self._file = Appender(path, truncate=True) if path is not None else None
        if path is None:
            sys.stdout.flush()
        self._fd = sys.stdout.fileno() if path is None and _has_fileno(sys.stdout) else -1

    def write(self, rec: dict[str, Any]) -> None:
        from reasonflux.store import write_all

        data = dump_line(rec)
        if self._file is not None:
            self._file.write_bytes(data)
        elif self._fd >= 0:
            write_all(self._fd, data)
        else:  # stdout replaced by something without a descriptor (pytest capture)
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
        return True
    except (OSError, ValueError, AttributeError):
        return False


def _text(row: dict[str, Any], *names: str) -> tuple[str | None, str | None]:
    """(value, error) of the first present field in ``names``: strings and numbers are text."""
    for name in names:
        v = row.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            return None, f"'{name}' must be a string, not {type(v).__name__}"
        return str(v), None
    return None, None


def _flag(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "1", "yes", "false", "0", "no", ""):
        return v.strip().lower() in ("true", "1", "yes")
    if isinstance(v, int):
        return bool(v)
    raise ValueError(f"'prefilled' must be true or false, not {v!r}")


def prompt_opened_think(row: dict[str, Any], default: bool) -> bool:
    """Whether the row's response starts inside an open ``<think>``: the row's own ``prefilled``
    (samples.jsonl writes it), else a ``prompt``/``prefill`` that ends inside an open ``<think>``,
    else ``default`` (the --prefilled flag). A server that returned ``reasoning`` separately hands
    us the answer part only."""
    if isinstance(row.get("reasoning"), str) and row["reasoning"].strip():
        return False
    own = _flag(row.get("prefilled"))
    if own is not None:
        return own
    for name in ("prompt", "prefill"):
        text = row.get(name)
        if isinstance(text, str) and text:
            tail = text[-4000:]
            return tail.rfind(THINK_OPEN) > tail.rfind(THINK_CLOSE)
    return default


def load_problems(input_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """A run's problems.jsonl beside the samples file (gold answers for rows without ``gold``)."""
    p = input_path.parent / "problems.jsonl"
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if input_path.name == "problems.jsonl" or not p.is_file():
        return out
    with p.open(encoding="utf-8", errors="surrogateescape") as f:
        for raw in f:
            try:
                r = json.loads(raw)
            except ValueError:
                continue
            if isinstance(r, dict) and isinstance(r.get("benchmark"), str) and r.get("id") is not None:
                out[(r["benchmark"], str(r["id"]))] = r
    return out


def parse_row(n: int, raw: str, cfg: GradeConfig, problems: dict[tuple[str, str], dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """(row, grading item, error) for one input line; never raises."""
    try:
        row = json.loads(raw)
    except RecursionError:
        return None, None, "nested too deeply to read"
    except ValueError as e:
        msg = f"not valid JSON ({e.msg} at column {e.colno})" if isinstance(e, json.JSONDecodeError) else f"not valid JSON ({e})"
        return None, None, msg
    if not isinstance(row, dict):
        return None, None, f"a row must be a JSON object, not {type(row).__name__}"
    try:
        gold, err = _text(row, "gold")
        kind = row.get("kind")
        problem_text, _ = _text(row, "problem", "question")
        if gold is None and err is None and problems and row.get("benchmark") is not None and row.get("problem_id") is not None:
            prob = problems.get((str(row["benchmark"]), str(row["problem_id"])))
            if prob is not None:
                gold, err = _text(prob, "answer")
                kind = kind or prob.get("kind")
                problem_text = problem_text or (prob.get("problem") if isinstance(prob.get("problem"), str) else None)
        if err:
            return row, None, err
        if gold is None or not gold.strip():
            return row, None, "no 'gold' field"
        response, err = _text(row, "response", "text")
        if err:
            return row, None, err
        answer, err = _text(row, "answer")
        if err:
            return row, None, err
        if response is None and answer is None:
            return row, None, "neither 'response' nor 'answer'"
        kind = kind or cfg.kind
        if not isinstance(kind, str) or kind not in ("math", "choice"):
            return row, None, f"unknown kind {kind!r} (math or choice)"
        finish = row.get("finish_reason")
        item = {"gold": gold, "response": response, "answer": answer, "kind": kind,
                "prefilled": prompt_opened_think(row, cfg.prefilled),
                "finish_reason": finish if isinstance(finish, str) else None, "problem": problem_text}
        return row, item, None
    except (ValueError, TypeError, RecursionError) as e:
        return row, None, str(e)[:300] or type(e).__name__


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-empty line; undecodable bytes are kept as escapes."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            text = raw.decode("utf-8", errors="surrogateescape")
            if text.strip():
                yield n, text


def grade_file(cfg: GradeConfig, writer: RowWriter) -> dict[str, Any]:
    from reasonflux.errors import UserError
    from reasonflux.grading.api import grade_iter

    path = Path(cfg.input)
    if not cfg.input or not path.is_file():
        raise UserError(f"grade: input file not found: {cfg.input or '(none given)'}")
    if cfg.kind not in ("math", "choice"):
        raise UserError(f"grade: --kind must be math or choice, not {cfg.kind!r}")
    problems = load_problems(path)
    if cfg.workers > 0 and path.stat().st_size >= EARLY_POOL_BYTES:
        from reasonflux.grading.pool import shared_pool

        shared_pool(cfg.workers).start(cfg.workers)  # sympy loads in the workers while we read and extract
    counts: Counter[str] = Counter()
    bad = rows = 0

    def parsed() -> Iterator[tuple[tuple[int, dict[str, Any] | None, str | None], dict[str, Any] | None]]:
        for n, raw in _lines(path):
            row, item, err = parse_row(n, raw, cfg, problems)
            yield (n, row, err), item

    timeout = cfg.timeout if cfg.workers > 0 else None
    for (n, row, err), v in grade_iter(parsed(), workers=cfg.workers, timeout=timeout, batch=CHUNK_ROWS):
        rows += 1
        if err is not None or v is None:
            bad += 1
            err = err or "not graded"
            print(f"error: {path}:{n}: {err}", file=sys.stderr)
            rec = _bad(n, err) if row is None else {**row, **_bad(n, err)}
        else:
            rec = {**row, "extracted": v.extracted, "correct": v.correct, "reason": v.reason}
            if v.detail:
                rec["detail"] = v.detail
        counts[rec["reason"]] += 1
        counts["correct"] += bool(rec["correct"])
        writer.write(rec)
    return {"rows": rows, "correct": counts["correct"], "accuracy": counts["correct"] / rows if rows else 0.0,
            "reasons": {k: v for k, v in counts.items() if k != "correct"}, "bad_rows": bad}


def main(cfg: GradeConfig) -> dict[str, Any]:
    from reasonflux.config import save_config

    out_path = Path(cfg.out) if cfg.out else None
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = RowWriter(out_path)
    try:
        summary = grade_file(cfg, writer)
    finally:
        writer.close()
    if out_path is not None:
        save_config(cfg, out_path.with_suffix(".config.yaml"))
    r = summary["reasons"]
    line = (f"graded {summary['rows']} rows: {summary['correct']} correct ({100 * summary['accuracy']:.1f}%), "
            f"{r.get('not_equal', 0)} wrong, {r.get('no_answer', 0)} no answer, {r.get('truncated', 0)} truncated, "
            f"{r.get('timeout', 0)} timeouts, {r.get('error', 0)} errors ({summary['bad_rows']} bad rows)"
            + (f" -> {cfg.out}" if cfg.out else ""))
    print(line, file=sys.stdout if cfg.out else sys.stderr)
    return summary


def _cli(cfg: GradeConfig) -> dict[str, Any]:
    summary = main(cfg)
    if summary["bad_rows"]:
        raise SystemExit(1)
    return summary


def register(app) -> None:  # noqa: ANN001
    register_command(app, "grade", GradeConfig, _cli, help="Grade JSONL rows of gold + response (or answer).")
