"""Worker processes with a hard wall-clock timeout per comparison; usable from any thread.

No SIGALRM. One zygote process (``python -m reasonflux.grading.worker --zygote``) imports sympy once;
workers are forked from it on request, each fed one comparison at a time over its own socket. A
comparison that runs past its timeout gets its worker killed (SIGKILL) and a fresh fork takes its
place in milliseconds; the comparison's verdict is ``timeout`` and the run goes on. A comparison's
clock starts when a ready worker takes it, so start-up never counts against it.

One pool per process is kept warm between calls (``shared_pool``) and closed at exit.

    python -c "from reasonflux.grading.pool import shared_pool; print(shared_pool(2).run([('\\\\frac12', '0.5')], 5.0))"
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT_S = 120.0  # a zygote or worker that is not ready by then is broken
MAX_START_FAILURES = 3  # zygotes dying before they fork anything this many times in a row: give up
IDLE_WAIT_S = 0.5


@dataclass
class _Worker:
    sock: socket.socket
    pid: int | None = None
    buf: bytes = b""
    started: float = field(default_factory=time.monotonic)
    task: int | None = None  # index of the comparison it is working on
    deadline: float = 0.0
    dead: bool = False

    @property
    def ready(self) -> bool:
        return self.pid is not None and not self.dead

    def send(self, task: int, gold: str, pred: str, timeout: float) -> None:
        self.task, self.deadline = task, time.monotonic() + timeout
        self.sock.settimeout(timeout)  # a worker that stops reading cannot block us past the deadline
        try:
            self.sock.sendall((json.dumps([task, gold, pred]) + "\n").encode("ascii"))
        finally:
            self.sock.settimeout(None)

    def kill(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self.dead = True
        try:
            self.sock.close()
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
        self._zygote: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._lock = threading.Lock()
        self._failures = 0
        self.started_total = 0
        self.killed_total = 0
        self.tasks_total = 0

    # -- processes ------------------------------------------------------------------------------
    def _ensure_zygote(self) -> None:
        if self._zygote is not None and self._zygote.poll() is None:
            return
        if self._zygote is not None:
            self._failures += 1
            self._drop_zygote()
            if self._failures >= MAX_START_FAILURES:
                raise RuntimeError("grading workers fail to start; run `python -m reasonflux.grading.worker --selftest` to see why")
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        stderr = None if os.environ.get("REASONFLUX_DEBUG") else subprocess.DEVNULL
        self._zygote = subprocess.Popen(
            [sys.executable, "-m", "reasonflux.grading.worker", "--zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            env=_worker_env(), close_fds=True)
        theirs.close()
        self._ctrl = mine
        self._zygote_started = time.monotonic()

    def _drop_zygote(self) -> None:
        if self._ctrl is not None:
            try:
                self._ctrl.close()
            except OSError:
                pass
        if self._zygote is not None:
            try:
                self._zygote.kill()
                self._zygote.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._zygote, self._ctrl = None, None
        for w in self._workers:
            if not w.ready:
                w.kill()
        self._workers = [w for w in self._workers if not w.dead]

    def _spawn(self) -> None:
        self._ensure_zygote()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self._ctrl, [b"w"], [theirs.fileno()])
        except OSError:
            mine.close()
            self._drop_zygote()
            self._failures += 1
            return
        finally:
            theirs.close()
        self._workers.append(_Worker(mine))
        self.started_total += 1

    def _fill(self, n: int) -> None:
        self._workers = [w for w in self._workers if not w.dead]
        while len(self._workers) < n:
            before = len(self._workers)
            self._spawn()
            if len(self._workers) == before:
                self._ensure_zygote()  # raises after repeated failures

    def start(self, workers: int | None = None) -> None:
        """Start the zygote and workers now, without waiting (they warm up in the background)."""
        with self._lock:
            self.size = max(self.size, workers or self.size)
            try:
                self._fill(self.size)
            except RuntimeError:
                pass

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                w.kill()
            self._workers = []
            self._drop_zygote()

    # -- running comparisons --------------------------------------------------------------------
    def run(self, tasks: list[tuple[str, str]], timeout: float, workers: int | None = None) -> list[tuple[str, object]]:
        with self._lock:
            n_workers = max(1, min(workers or self.size, max(len(tasks), 1)))
            self.tasks_total += len(tasks)
            self.size = max(self.size, n_workers)
            try:
                return self._run(tasks, float(timeout), n_workers)
            except RuntimeError as e:  # workers cannot start: every comparison gets an error verdict
                return [("error", str(e))] * len(tasks)

    def _run(self, tasks: list[tuple[str, str]], timeout: float, n_workers: int) -> list[tuple[str, object]]:
        results: list[tuple[str, object] | None] = [None] * len(tasks)
        queue = list(range(len(tasks)))[::-1]
        remaining = len(tasks)
        sel = selectors.DefaultSelector()
        try:
            while remaining:
                self._fill(n_workers)
                for w in self._workers:
                    if w.ready and w.task is None and queue:
                        i = queue.pop()
                        try:
                            w.send(i, *tasks[i], timeout)
                        except TimeoutError:
                            results[i] = ("timeout", None)
                            remaining -= 1
                            self.killed_total += 1
                            w.kill()
                        except OSError:
                            w.task = None
                            queue.append(i)
                            w.kill()
                for key in list(sel.get_map().values()):
                    sel.unregister(key.fileobj)
                for w in self._workers:
                    if not w.dead:
                        sel.register(w.sock, selectors.EVENT_READ, w)
                now = time.monotonic()
                deadlines = [w.deadline - now for w in self._workers if w.task is not None]
                wait = max(0.0, min(deadlines + [IDLE_WAIT_S]))
                for key, _ in sel.select(wait):
                    remaining -= self._read(key.data, results, queue)
                now = time.monotonic()
                for w in self._workers:
                    if w.dead:
                        continue
                    if w.task is not None and now >= w.deadline:
                        if results[w.task] is None:
                            results[w.task] = ("timeout", None)
                            remaining -= 1
                        self.killed_total += 1
                        w.kill()
                    elif not w.ready and now - w.started > STARTUP_TIMEOUT_S:
                        w.kill()
                        self._failures += 1
                        self._drop_zygote()
                if self._failures >= MAX_START_FAILURES:
                    raise RuntimeError("grading workers fail to start; run `python -m reasonflux.grading.worker --selftest` to see why")
        finally:
            sel.close()
        return [r if r is not None else ("error", "not run") for r in results]

    def _read(self, w: _Worker, results: list, queue: list[int]) -> int:
        try:
            chunk = w.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            chunk = b""
        if not chunk:  # the worker died on its own (crash, memory): its comparison is an error
            done = 0
            if w.task is not None and results[w.task] is None:
                results[w.task] = ("error", "grading worker died")
                done = 1
            w.kill()
            return done
        w.buf += chunk
        done = 0
        while b"\n" in w.buf:
            line, w.buf = w.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("ready"):
                w.pid = int(msg["pid"])
                self._failures = 0
                continue
            task, value = msg
            if w.task == task and results[task] is None:
                results[task] = ("ok", value) if isinstance(value, bool) else ("error", str(value))
                done += 1
            w.task = None
        return done


_SHARED: WorkerPool | None = None
_SHARED_LOCK = threading.Lock()


_SHARED_PID = 0


def shared_pool(workers: int = 2) -> WorkerPool:
    """The process-wide pool (created on first use, grown to ``workers``, closed at exit). A forked
    child gets a pool of its own and leaves its parent's workers alone."""
    global _SHARED, _SHARED_PID
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED_PID != os.getpid():
            _SHARED, _SHARED_PID = WorkerPool(workers), os.getpid()
            atexit.register(close_shared_pool)
        return _SHARED


def close_shared_pool() -> None:
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is not None and _SHARED_PID == os.getpid():
            _SHARED.close()
        _SHARED = None
