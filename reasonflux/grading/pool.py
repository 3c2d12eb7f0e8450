"""Worker processes with a hard wall-clock timeout per comparison; usable from any thread.

No SIGALRM: each worker is a child process (``python -m reasonflux.grading.worker``) fed one task at
a time over a pipe. A task that runs past its timeout gets its worker killed (SIGKILL) and replaced;
the task's verdict is ``timeout`` and the run goes on. A task's clock starts when it is handed to a
ready worker, so worker start-up (imports, about half a second) never counts against it.

One pool per process is kept warm between calls (``shared_pool``) and closed at exit.

    python -c "from reasonflux.grading.pool import shared_pool; print(shared_pool(2).run([('\\\\frac12', '0.5')], 5.0))"
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT_S = 120.0  # a worker that is not ready by then is broken
MAX_START_FAILURES = 3  # workers dying before ready this many times in a row: give up
POLL_S = 0.05


@dataclass
class _Worker:
    proc: subprocess.Popen
    buf: bytes = b""
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    task: int | None = None  # index of the task it is working on
    deadline: float = 0.0

    def send(self, task: int, gold: str, pred: str, timeout: float) -> None:
        line = json.dumps([task, gold, pred]) + "\n"
        self.proc.stdin.write(line.encode("ascii"))
        self.proc.stdin.flush()
        self.task, self.deadline = task, time.monotonic() + timeout

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # so a source checkout works without install
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


class WorkerPool:
    """``run(tasks, timeout)``: tasks are (gold, pred) pairs; results are ("ok", bool),
    ("timeout", None) or ("error", message), in order."""

    def __init__(self, workers: int = 2):
        self.size = max(1, int(workers))
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._start_failures = 0
        self.started_total = 0
        self.killed_total = 0

    # -- process management -------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        stderr = None if os.environ.get("REASONFLUX_DEBUG") else subprocess.DEVNULL
        proc = subprocess.Popen([sys.executable, "-m", "reasonflux.grading.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=stderr, env=_worker_env(), close_fds=True)
        os.set_blocking(proc.stdout.fileno(), False)
        self.started_total += 1
        return _Worker(proc)

    def _fill(self, n: int) -> None:
        self._workers = [w for w in self._workers if w.proc.poll() is None]
        while len(self._workers) < n:
            self._workers.append(self._spawn())

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                try:
                    w.proc.stdin.close()
                except OSError:
                    pass
            deadline = time.monotonic() + 1.0
            for w in self._workers:
                try:
                    w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                w.kill()
            self._workers = []

    def warm(self, workers: int | None = None) -> None:
        """Start the workers now (they import sympy in the background)."""
        with self._lock:
            self.size = max(self.size, workers or self.size)
            self._fill(self.size)

    # -- running tasks ------------------------------------------------------------------------
    def run(self, tasks: list[tuple[str, str]], timeout: float, workers: int | None = None) -> list[tuple[str, object]]:
        with self._lock:
            n_workers = max(1, min(workers or self.size, max(len(tasks), 1)))
            self.size = max(self.size, n_workers)
            try:
                return self._run(tasks, float(timeout), n_workers)
            except RuntimeError as e:  # workers cannot start: every task gets an error verdict
                return [("error", str(e))] * len(tasks)

    def _run(self, tasks: list[tuple[str, str]], timeout: float, n_workers: int) -> list[tuple[str, object]]:
        results: list[tuple[str, object] | None] = [None] * len(tasks)
        queue = list(range(len(tasks)))[::-1]
        remaining = len(tasks)
        self._fill(n_workers)
        sel = selectors.DefaultSelector()
        try:
            while remaining:
                self._fill(n_workers)
                for w in list(self._workers):
                    if w.ready and w.task is None and queue:
                        i = queue.pop()
                        try:
                            w.send(i, *tasks[i], timeout)
                        except (BrokenPipeError, OSError):
                            queue.append(i)
                            self._retire(w)
                for key in list(sel.get_map().values()):
                    sel.unregister(key.fileobj)
                for w in self._workers:
                    sel.register(w.proc.stdout, selectors.EVENT_READ, w)
                now = time.monotonic()
                deadlines = [w.deadline for w in self._workers if w.task is not None]
                wait = min([d - now for d in deadlines] + [POLL_S * 10]) if deadlines else POLL_S * 10
                for key, _ in sel.select(max(0.0, wait)):
                    remaining -= self._read(key.data, results)
                now = time.monotonic()
                for w in list(self._workers):
                    if w.task is not None and now >= w.deadline and results[w.task] is None:
                        results[w.task] = ("timeout", None)
                        remaining -= 1
                        self.killed_total += 1
                        self._retire(w)
                    elif w.proc.poll() is not None:
                        remaining -= self._died(w, results, queue)
                    elif not w.ready and now - w.started > STARTUP_TIMEOUT_S:
                        self._retire(w)
                        self._start_failed(results, queue)
        finally:
            sel.close()
        return [r if r is not None else ("error", "not run") for r in results]

    def _retire(self, w: _Worker) -> None:
        w.kill()
        if w in self._workers:
            self._workers.remove(w)

    def _start_failed(self, results: list, queue: list[int]) -> None:
        self._start_failures += 1
        if self._start_failures >= MAX_START_FAILURES:
            raise RuntimeError("grading workers fail to start; run `python -m reasonflux.grading.worker` to see why")

    def _died(self, w: _Worker, results: list, queue: list[int]) -> int:
        """A worker exited on its own (crash, memory). Its task gets an error verdict."""
        done = 0
        if w.task is not None and results[w.task] is None:
            results[w.task] = ("error", f"grading worker died (exit code {w.proc.returncode})")
            done = 1
        was_ready = w.ready
        self._retire(w)
        if not was_ready:
            self._start_failed(results, queue)
        return done

    def _read(self, w: _Worker, results: list) -> int:
        try:
            chunk = os.read(w.proc.stdout.fileno(), 1 << 16)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            chunk = b""
        if not chunk:
            return 0  # EOF: handled by the poll() check
        w.buf += chunk
        done = 0
        while b"\n" in w.buf:
            line, w.buf = w.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("ready"):
                w.ready = True
                self._start_failures = 0
                continue
            task, value = msg
            if w.task == task and results[task] is None:
                results[task] = ("ok", value) if isinstance(value, bool) else ("error", str(value))
                done += 1
            w.task = None
        return done


_SHARED: WorkerPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool(workers: int = 2) -> WorkerPool:
    """The process-wide pool (created on first use, grown to ``workers``, closed at exit)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = WorkerPool(workers)
            atexit.register(_SHARED.close)
        return _SHARED


def close_shared_pool() -> None:
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is not None:
            _SHARED.close()
            _SHARED = None
