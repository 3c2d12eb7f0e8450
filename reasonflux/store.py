"""The one run store: how eval, synth and grade keep finished work on disk so that a crash, a second
process or a changed setting never loses or mixes it.

A run directory holds append-only JSONL logs, a lock and the settings that define its records:

    RUN/.lock            exclusive advisory lock (``RunLock``); a second writer is refused with a message
    RUN/settings.json    the defining settings (``check_settings``); a changed one is refused by name
    RUN/<log>.jsonl      one JSON object per line, each appended with ONE ``os.write`` (``Appender``)

Reading a log (``read_log``):

- a last line without its newline was cut by a crash: it is ignored, and with ``repair=True`` the
  file is truncated back to the last complete line (if the cut tail happens to be a whole JSON object,
  e.g. a hand-edited file without a final newline, it is kept and the newline added instead);
- a complete line in the middle that is not a JSON object (or lacks its key) is damage nobody can
  explain: a :class:`~reasonflux.errors.UserError` names the file and line number. Nothing is ever
  deleted silently;
- with ``key=``, a later record for the same key SUPERSEDES the kept one (taking its position in the
  result) unless ``replaceable(kept)`` says the kept one is final (eval: a finished sample is final,
  a failed one is not). A retry is therefore just a new append; the log is never edited in place.

    python -c "from reasonflux.store import read_log; print(len(read_log('runs/synth/progress.jsonl')))"
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable

from reasonflux.errors import UserError

LOCK = ".lock"
SETTINGS = "settings.json"


def read_log(path: str | Path, *, key: Callable[[dict[str, Any]], Hashable] | None = None, repair: bool = False,
             what: str = "record", replaceable: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
    """All complete records of a JSONL log (``[]`` when the file does not exist).

    ``key``: records with the same key collapse to one, kept at the first one's position: a later
    record supersedes the kept one when ``replaceable(kept)`` is true (default: always, so the last
    record wins). Eval passes ``replaceable=is_failure``: a finished sample is never replaced, a
    failed one is superseded by its retry (or by a newer failure).
    ``repair``: a torn last line is truncated away (call it only while holding the run's lock).
    ``what``: how a record is called in the error for a damaged line (``"sample record"``, ...).
    """
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    end = data.rfind(b"\n") + 1  # 0 when there is no complete line
    tail = data[end:]
    tail_record = None
    if tail.strip():
        try:
            tail_record = json.loads(tail)
            if not isinstance(tail_record, dict):
                tail_record = None
        except ValueError:
            tail_record = None
    if repair and end < len(data):
        if tail_record is not None:  # whole record, only its newline missing: keep it
            with p.open("ab") as f:
                f.write(b"\n")
        else:
            with p.open("r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
    lines = data[:end].split(b"\n")[:-1]
    if tail_record is not None:
        lines.append(tail)
    out: dict[Hashable, dict[str, Any]] = {}
    plain: list[dict[str, Any]] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise TypeError
            k = key(rec) if key else None
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{p} line {i} is not a {what}; move the file aside or fix that line "
                            f"(the records after it are finished work and are kept)") from None
        if key is None:
            plain.append(rec)
        elif k not in out or replaceable is None or replaceable(out[k]):
            out[k] = rec  # a later record supersedes; dict keeps the first position
    return plain if key is None else list(out.values())


def json_line(record: Any) -> str:
    """One JSONL line. UTF-8 where the text allows it; a string holding a lone surrogate (valid JSON,
    not encodable as UTF-8) makes the line fall back to ASCII escapes, so writing never fails on it."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line + "\n"


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out (a regular file takes it in one call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Appender:
    """Appends records to a JSONL log, each record one whole line written by ONE ``os.write`` on an
    ``O_APPEND`` descriptor (a ``kill -9`` leaves at most one torn last line); thread-safe.
    ``write_many`` puts several records in one write (all or, after a crash, a torn tail)."""

    def __init__(self, path: str | Path, *, truncate: bool = False):
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(self.path, flags, 0o644)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        self.write_many([record])

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        self.write_bytes("".join(json_line(r) for r in records).encode("utf-8"))

    def write_bytes(self, data: bytes) -> None:
        """Append ready-made whole lines (``data`` ends with a newline) in one write."""
        if not data:
            return
        with self._lock:
            if self._fd < 0:
                raise ValueError(f"{self.path} is closed")
            write_all(self._fd, data)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> "Appender":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RunLock:
    """An exclusive advisory lock on ``RUN/.lock``; released by the OS if the process dies. Usable as
    a context manager or with ``acquire()`` / ``release()``."""

    def __init__(self, run_dir: str | Path, name: str = LOCK):
        self.path = Path(run_dir) / name
        self._f: Any = None

    def acquire(self) -> "RunLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = self.path.open("a")
        try:
            fcntl.flock(self._f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.close()
            self._f = None
            raise UserError(f"another reasonflux process is writing {self.path.parent}; wait for it or use another --out") from None
        return self

    def release(self) -> None:
        import fcntl

        if self._f is not None:
            fcntl.flock(self._f, fcntl.LOCK_UN)
            self._f.close()
            self._f = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def check_settings(run_dir: str | Path, settings: dict[str, Any], *, file: str = SETTINGS) -> None:
    """Record the settings that define a run's records, or refuse if the run was made with other ones.

    Compares each key present both in ``RUN/settings.json`` and in ``settings`` (after a JSON round
    trip, so tuples and lists compare equal); a difference is a UserError naming every changed
    setting with its old and new value. Keys new to this version are added. Call under the lock."""
    p = Path(run_dir) / file
    now = json.loads(json.dumps(settings, ensure_ascii=False, default=str))
    old: dict[str, Any] = {}
    if p.is_file():
        try:
            old = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError
        except ValueError:
            raise UserError(f"{p} is damaged (not a JSON object); move it aside or fix it") from None
        diff = [f"{k}: {old[k]!r} -> {now[k]!r}" for k in now if k in old and old[k] != now[k]]
        if diff:
            raise UserError(f"{Path(run_dir)} holds records made with other settings ({'; '.join(diff)}); "
                            f"use the same settings or another --out")
    merged = {**old, **now}
    if merged != old or not p.is_file():
        write_json(p, merged)


def write_json(path: str | Path, obj: Any) -> None:
    """Replace a file with JSON atomically (sibling + fsync + rename)."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)


def rewrite_log(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a JSONL log atomically (sibling + fsync + rename): a crash leaves the old or the new."""
    write_text(path, "".join(json_line(r) for r in records))
