"""A run directory on disk: what it holds and how it is written so that a crash loses nothing finished.

    RUN/config.yaml     the resolved EvalConfig (written before generation starts)
    RUN/problems.jsonl  the selected problems: benchmark, id, gold answer, kind, meta (and the problem
                        text, except for benchmarks whose text must not be published: GPQA)
    RUN/samples.jsonl   one line per finished (benchmark, problem, sample index), appended at once
    RUN/metrics.json    metrics from the sample pool (deterministic: no timings, no paths)
    RUN/report.md, RUN/report.html

Appends are one ``os.write`` of a whole line on an unbuffered descriptor, so a ``kill -9`` leaves at
most one half-written last line (no trailing newline); :func:`read_samples` drops it and truncates
the file back to the last complete line. A lock file keeps two processes from writing one run.

    python -c "from reasonflux.evals.store import read_samples; print(len(read_samples('runs/demo/samples.jsonl')))"
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonflux.errors import UserError

CONFIG = "config.yaml"
PROBLEMS = "problems.jsonl"
SAMPLES = "samples.jsonl"
METRICS = "metrics.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
LOCK = ".lock"
HASH_CHARS = 16

# The fields of one samples.jsonl line (the one declaration of that schema): the sample's key, prompt
# hash and seed, the completion, its verdict, and whether its text starts inside an open <think> block
# (how to read it when regrading).
SAMPLE_FIELDS = ("benchmark", "problem_id", "sample_index", "prompt_hash", "seed", "text", "reasoning",
                 "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "extracted", "correct",
                 "reason", "error", "prefilled")

Key = tuple[str, str, int]


def prompt_hash(messages: list[dict[str, str]], prefill: str = "") -> str:
    """Stable hash of what the model is asked: the chat messages and the assistant prefill."""
    blob = json.dumps({"messages": messages, "prefill": prefill}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:HASH_CHARS]


def sample_key(s: dict[str, Any]) -> Key:
    return (s["benchmark"], s["problem_id"], int(s["sample_index"]))


def read_samples(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """All complete lines of ``samples.jsonl`` (first occurrence wins for a repeated key).

    A last line without its newline was cut by a crash: it is ignored, and with ``repair`` the
    file is truncated to the end of the last complete line. A complete line that is not JSON is
    damage we cannot explain: a clear error naming the line.
    """
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    end = data.rfind(b"\n") + 1  # 0 when there is no complete line
    if end < len(data) and repair:
        with p.open("r+b") as f:
            f.truncate(end)
    out: list[dict[str, Any]] = []
    seen: set[Key] = set()
    for i, line in enumerate(data[:end].split(b"\n")[:-1], 1):
        if not line.strip():
            continue
        try:
            s = json.loads(line)
            key = sample_key(s)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise UserError(f"{p} line {i} is not a sample record; move the file aside or fix that line") from None
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


class SampleWriter:
    """Appends sample records to ``samples.jsonl``, one whole line per ``os.write``; thread-safe."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> "SampleWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def rewrite_samples(path: str | Path, samples: list[dict[str, Any]]) -> None:
    """Replace ``samples.jsonl`` atomically (write a sibling, fsync, rename): used by rescore."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)


def write_json(path: str | Path, obj: Any) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def write_text(path: str | Path, text: str) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)


def write_problems(path: str | Path, rows: list[dict[str, Any]]) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    with p.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class RunLock:
    """An exclusive advisory lock on RUN/.lock; released by the OS if the process dies."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self._f: Any = None

    def __enter__(self) -> "RunLock":
        import fcntl

        self._f = self.path.open("a")
        try:
            fcntl.flock(self._f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.close()
            raise UserError(f"another reasonflux process is writing {self.path.parent}; wait for it or use another --out") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        import fcntl

        fcntl.flock(self._f, fcntl.LOCK_UN)
        self._f.close()


@dataclass
class Run:
    """A run directory as read back by rescore, report and compare."""

    path: Path
    config: dict[str, Any]
    problems: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(self.config.get("name") or self.path.name)


def load_run(path: str | Path, *, need_metrics: bool = False) -> Run:
    import yaml

    p = Path(path)
    if not (p / CONFIG).is_file():
        raise UserError(f"{p} is not an eval run directory (no {CONFIG})")
    if not (p / PROBLEMS).is_file():
        raise UserError(f"{p} has no {PROBLEMS}: the run stopped before it began; run reasonflux eval --out {p} again")
    config = yaml.safe_load((p / CONFIG).read_text()) or {}
    metrics: dict[str, Any] = {}
    if (p / METRICS).is_file():
        metrics = json.loads((p / METRICS).read_text())
    elif need_metrics:
        raise UserError(f"{p} has no {METRICS} yet: finish it with reasonflux eval --out {p}, or reasonflux rescore {p}")
    return Run(p, config, read_jsonl(p / PROBLEMS), read_samples(p / SAMPLES), metrics)
