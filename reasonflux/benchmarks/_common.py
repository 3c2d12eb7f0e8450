"""What every benchmark file shares: where local data lives, reading and validating rows, the hub
call, and the prompt wording of the two prompt styles.

Local data is laid out like ``../shared/benchdata`` (``math500/test.jsonl``, ``aime2024/test.jsonl``,
``aime2025/test.jsonl``, ``gpqa_diamond/gpqa_diamond.zip``); ``--data-dir`` or
``REASONFLUX_DATA_DIR`` points at it. Without either, benchmarks load from the hub. Each benchmark
file pins its local file's sha256 (``LOCAL_SHA256``, the manifest; the same values as the data
directory's README): a file that passes the row and field checks but has other bytes is refused with
one line naming both hashes (``REASONFLUX_SKIP_CHECKSUM=1`` evaluates a deliberately edited copy).

    python -c "from reasonflux.benchmarks._common import data_dir; print(data_dir(None))"
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from reasonflux.errors import UserError

DATA_DIR_ENV = "REASONFLUX_DATA_DIR"
SKIP_CHECKSUM_ENV = "REASONFLUX_SKIP_CHECKSUM"

# Prompt styles (the ``prompt_style`` eval setting):
#   raw       the problem text alone as the user turn (the seed's ReasonFlux-F1 protocol);
#   instruct  the problem plus the benchmark's answer-format instruction (DeepSeek-R1 protocol).
PROMPT_STYLES = ("raw", "instruct")

# DeepSeek-R1's recommended instruction for math problems (its model card, "Usage Recommendations").
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def data_dir(given: str | os.PathLike | None) -> Path | None:
    """The local benchmark directory: ``given``, else ``$REASONFLUX_DATA_DIR``, else None (hub)."""
    d = given or os.environ.get(DATA_DIR_ENV) or None
    if d is None:
        return None
    p = Path(d).expanduser()
    if not p.is_dir():
        raise UserError(f"benchmark data directory not found: {p} (from {'--data-dir' if given else DATA_DIR_ENV})")
    return p


def local_file(root: Path, rel: str, benchmark: str) -> Path:
    p = root / rel
    if not p.is_file():
        raise UserError(f"{benchmark}: expected {rel} under the data directory {root} (layout like ../shared/benchdata)")
    return p


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path: Path, expected: str, benchmark: str) -> None:
    """Refuse a local benchmark file whose bytes are not the pinned ones (one line, both hashes)."""
    if os.environ.get(SKIP_CHECKSUM_ENV):
        return
    got = sha256_file(path)
    if got != expected:
        raise UserError(f"{benchmark}: {path} has sha256 {got[:16]}…, expected {expected[:16]}… (the pinned upstream file); "
                        f"use the original file, or set {SKIP_CHECKSUM_ENV}=1 to evaluate an edited copy")


def read_jsonl(path: Path, benchmark: str) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"{benchmark}: {path} line {i} is not valid JSON ({e.msg})") from None
    return rows


def validate(rows: list[dict[str, Any]], *, benchmark: str, source: str, count: int, fields: Iterable[str]) -> None:
    """Fail with one clear line unless ``rows`` has ``count`` rows each carrying ``fields``."""
    if len(rows) != count:
        raise UserError(f"{benchmark}: {source} has {len(rows)} rows, expected {count}")
    need = list(fields)
    for i, row in enumerate(rows):
        missing = [f for f in need if f not in row or row[f] is None or str(row[f]).strip() == ""]
        if missing:
            raise UserError(f"{benchmark}: {source} row {i + 1} lacks field(s) {', '.join(missing)}")


def load_hub(benchmark: str, repo: str, revision: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a hub dataset at ``revision`` (``datasets`` imported here only)."""
    try:
        import datasets
    except ImportError:
        raise UserError(f"{benchmark}: loading from the hub needs the package 'datasets' "
                        f"(pip install datasets), or give --data-dir / {DATA_DIR_ENV}") from None
    try:
        ds = datasets.load_dataset(repo, config, split=split, revision=revision)
    except Exception as e:  # noqa: BLE001 - network, auth, missing revision: all user-fixable
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        raise UserError(f"{benchmark}: cannot load {repo}{'/' + config if config else ''}@{revision} from the hub "
                        f"({first}); give --data-dir or {DATA_DIR_ENV} for local files") from None
    return [dict(r) for r in ds]


def math_prompt(problem: str, style: str) -> str:
    if style == "raw":
        return problem
    if style == "instruct":
        return f"{problem}\n\n{MATH_INSTRUCTION}"
    raise UserError(f"unknown prompt_style {style!r}; choose one of {', '.join(PROMPT_STYLES)}")
