"""Progress you can trust on long jobs: a heartbeat line at least every 15 s, and quiet libraries.

A long generation can run for minutes before its first sample finishes (a batch of 16 finishes
together; a 32k-token sample takes an hour). :class:`Heartbeat` prints, on a fixed clock and whether
or not anything finished::

    [eval] 00:45 elapsed · 3,412 tokens · 75.8 tok/s · 0/20 samples · ETA ≤ 1:40

to the terminal (stderr) and appends the same line, time-stamped, to a log file in the run directory
(``progress.log``). Tokens come from two sources: backends that see tokens while they are being
generated report them with :func:`add_tokens` (the hf backend per decoding step; a streaming server
client per chunk), and finished samples report their ``completion_tokens``; the larger count is
shown. ETA: remaining samples x tokens per finished sample, at the current rate; before anything
finished the cap (``max_tokens`` per sample) bounds it, shown as ``ETA ≤``.

``REASONFLUX_HEARTBEAT_S`` sets the interval (default 15 s).

:func:`silence_third_party` turns off the progress bars of transformers, datasets, huggingface_hub
and tqdm (``--quiet``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

DEFAULT_INTERVAL_S = 15.0
RATE_WINDOW_S = 60.0  # tok/s over the last minute
LOG_NAME = "progress.log"

_lock = threading.Lock()
_live_tokens = 0
_listeners = 0


def add_tokens(n: int) -> None:
    """Called by backends for tokens generated so far (per decoding step or streamed chunk)."""
    global _live_tokens
    if n:
        with _lock:
            _live_tokens += int(n)


def live_tokens() -> int:
    return _live_tokens


def listening() -> bool:
    """True while a heartbeat runs: backends may skip token counting otherwise."""
    return _listeners > 0


def interval_s() -> float:
    try:
        v = float(os.environ.get("REASONFLUX_HEARTBEAT_S", DEFAULT_INTERVAL_S))
    except ValueError:
        v = DEFAULT_INTERVAL_S
    return max(0.05, v)


def fmt_duration(s: float) -> str:
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class Heartbeat:
    """A background clock that reports progress every ``interval`` seconds.

    ``done`` returns (samples finished, tokens of finished samples); ``total`` is the number of
    samples this job will finish; ``max_tokens`` per sample bounds the ETA before any finished.
    ``emit`` prints a line to the terminal (default: stderr; None: log file only).
    """

    def __init__(self, label: str, total: int, done: Callable[[], tuple[int, int]], *,
                 max_tokens: int | None = None, log_path: str | Path | None = None,
                 emit: Callable[[str], None] | None = print, interval: float | None = None):
        self.label = label
        self.total = int(total)
        self.done = done
        self.max_tokens = max_tokens
        self.log_path = Path(log_path) if log_path is not None else None
        self.emit = emit
        self.interval = interval if interval is not None else interval_s()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.start_time = time.perf_counter()
        self._live0 = live_tokens()
        self._hist: list[tuple[float, int]] = []
        self.lines: list[str] = []

    # -------------------------------------------------------------------------------------- content

    def snapshot(self) -> dict[str, Any]:
        done, fin_tokens = self.done()
        elapsed = time.perf_counter() - self.start_time
        tokens = max(int(fin_tokens), live_tokens() - self._live0)
        now = time.perf_counter()
        self._hist.append((now, tokens))
        while len(self._hist) > 2 and now - self._hist[1][0] >= RATE_WINDOW_S:
            self._hist.pop(0)
        t_then, tok_then = self._hist[0]
        # the recent rate (last minute) once there is one: the start (model warm-up, prefill) skews the mean
        if now - t_then >= min(RATE_WINDOW_S, elapsed) * 0.5 and now > t_then and tokens > tok_then:
            tps = (tokens - tok_then) / (now - t_then)
        else:
            tps = tokens / elapsed if elapsed > 0 else 0.0
        eta, bound = None, False
        left = max(0, self.total - done)
        if left == 0:
            eta = 0.0
        elif tps > 0:
            per = fin_tokens / done if done and fin_tokens else self.max_tokens
            bound = not (done and fin_tokens)
            if per:
                eta = max(0.0, (self.total * per - tokens) / tps)
        elif done:
            eta = elapsed / done * left
        return {"elapsed_s": elapsed, "tokens": tokens, "tok_s": tps, "done": done, "total": self.total,
                "eta_s": eta, "eta_is_bound": bound}

    def line(self) -> str:
        s = self.snapshot()
        if s["eta_s"] is None:
            eta = "ETA unknown"
        else:
            eta = f"ETA {'≤ ' if s['eta_is_bound'] else ''}{fmt_duration(s['eta_s'])}"
        return (f"[{self.label}] {fmt_duration(s['elapsed_s'])} elapsed · {s['tokens']:,} tokens · "
                f"{s['tok_s']:,.1f} tok/s · {s['done']}/{s['total']} samples · {eta}")

    def beat(self) -> str:
        line = self.line()
        self.lines.append(line)
        if self.log_path is not None:  # the file first: whoever sees the terminal line finds it there too
            try:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
            except OSError:
                pass
        self._say(line)  # a closed terminal must not stop the job
        return line

    # -------------------------------------------------------------------------------------- clock

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def start(self) -> Heartbeat:
        global _listeners
        with _lock:
            _listeners += 1
        self._live0 = live_tokens()
        self.start_time = time.perf_counter()
        self._hist = [(self.start_time, 0)]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        where = f" (also in {self.log_path})" if self.log_path is not None else ""
        self._say(f"[{self.label}] generating {self.total} samples; a progress line every {self.interval:g} s{where}")
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{self.label}", daemon=True)
        self._thread.start()
        return self

    def _say(self, line: str) -> None:
        if self.emit is not None:
            try:
                self.emit(line)
            except Exception:  # noqa: BLE001
                pass

    def stop(self, final: bool = True) -> None:
        global _listeners
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._thread = None
        with _lock:
            _listeners -= 1
        if final and self.log_path is not None:  # the log ends with where the job stood
            emit, self.emit = self.emit, None
            self.beat()
            self.emit = emit

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def stderr_emit(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def silence_third_party() -> None:
    """Turn off library progress bars and info logs (transformers, datasets, huggingface_hub, tqdm)."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    mods = sys.modules
    if "transformers" in mods:
        try:
            from transformers.utils import logging as tlog

            tlog.disable_progress_bar()
            tlog.set_verbosity_error()
        except Exception:  # noqa: BLE001
            pass
    if "datasets" in mods:
        try:
            import datasets

            datasets.disable_progress_bars()
        except Exception:  # noqa: BLE001
            pass
    if "huggingface_hub" in mods:
        try:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        except Exception:  # noqa: BLE001
            pass


class TokenStreamer:
    """A transformers streamer that reports generated tokens to :func:`add_tokens` (hf backend).

    The first ``put`` is the prompt; later ones are one token per sequence per decoding step.
    Padding (what finished sequences emit) is not counted.
    """

    def __init__(self, pad_token_id: int | None):
        self.pad = pad_token_id
        self._first = True

    def put(self, value: Any) -> None:
        if self._first:
            self._first = False
            return
        try:
            n = int((value != self.pad).sum()) if self.pad is not None else int(value.numel())
        except Exception:  # noqa: BLE001
            n = 0
        add_tokens(n)

    def end(self) -> None:
        self._first = True
