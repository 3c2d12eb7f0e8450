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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonflux import store as _store
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


def is_failure(s: dict[str, Any]) -> bool:
    """Whether a sample record is a failed request (``finish_reason == "error"``, reason in ``error``):
    stored so the failure is visible, never graded as an answer, and retried by the next run."""
    return s.get("finish_reason") == "error"


def read_samples(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """All complete lines of ``samples.jsonl``, one record per key: for a repeated key the first
    finished record wins over failures (:func:`is_failure`); a key with only failures keeps the last.

    A last line without its newline was cut by a crash: it is ignored, and with ``repair`` the
    file is truncated to the end of the last complete line. A complete line that is not JSON is
    damage we cannot explain: a clear error naming the line. (The generic run store,
    :func:`reasonflux.store.read_log`, does the reading.)
    """
    from reasonflux.store import read_log

    return read_log(path, key=sample_key, repair=repair, what="sample record", replaceable=is_failure)


class SampleWriter(_store.Appender):
    """Appends sample records to ``samples.jsonl``, one whole line per ``os.write``; thread-safe."""

    def __enter__(self) -> "SampleWriter":
        return self


def rewrite_samples(path: str | Path, samples: list[dict[str, Any]]) -> None:
    """Replace ``samples.jsonl`` atomically (write a sibling, fsync, rename): used by rescore."""
    _store.rewrite_log(path, samples)


write_json = _store.write_json
write_text = _store.write_text


def write_problems(path: str | Path, rows: list[dict[str, Any]]) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    with p.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


RunLock = _store.RunLock  # exclusive advisory lock on RUN/.lock (the generic run store's)


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
