"""Grading worker processes: a zygote that imports sympy once, and the workers it forks.

The pool (:mod:`reasonflux.grading.pool`) starts ``python -m reasonflux.grading.worker --zygote FD``.
The zygote imports sympy, latex2sympy and math-verify, warms them up, then waits on the control
socket FD: each byte that arrives carries one socket (SCM_RIGHTS), and the zygote forks a worker
that serves that socket. A fork of a warm zygote is ready in milliseconds, so a worker killed for a
timeout is replaced at once. The zygote is single-threaded when it forks.

A worker reads ``[id, gold, pred]`` JSON lines and writes ``[id, true|false|"error: ..."]``; its first
line is ``{"ready": true, "pid": PID}``. It caps its own memory and exits when its parent dies.

    python -m reasonflux.grading.worker --selftest
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

MEMORY_LIMIT_BYTES = 3 * 1024 ** 3  # address space cap: a runaway sympy evaluation fails, not the machine
PARENT_POLL_S = 0.5
WARMUP = (("x+1", "1+x"),)  # one comparison loads what every worker needs; more only delays the first fork


def _limit_memory() -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass


def _exit_with_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def judge(gold: str, pred: str) -> object:
    """One comparison as the wire value: True/False, or an "error: ..." string."""
    from reasonflux.grading.math import math_equal

    try:
        return bool(math_equal(gold, pred))
    except MemoryError:
        return "error: out of memory"
    except RecursionError:
        return "error: expression nested too deeply"
    except Exception as e:  # noqa: BLE001 - any failure is a verdict, never a dead worker
        return f"error: {type(e).__name__}: {str(e)[:200]}"


def serve(sock: socket.socket) -> None:
    """A worker's life: answer comparisons on ``sock`` until it closes."""
    _limit_memory()
    _exit_with_parent()
    reader = sock.makefile("rb")  # buffered: a long line is read in large chunks
    sock.sendall((json.dumps({"ready": True, "pid": os.getpid()}) + "\n").encode())
    for line in reader:
        try:
            task_id, gold, pred = json.loads(line)
        except ValueError:
            continue
        sock.sendall((json.dumps([task_id, judge(gold, pred)]) + "\n").encode())


def zygote(fd: int) -> None:
    ctrl = socket.socket(fileno=fd)
    import logging

    logging.disable(logging.CRITICAL)
    for g, p in WARMUP:
        judge(g, p)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 1, 1)
        except OSError:
            break
        if not msg:
            break  # the pool's process is gone
        for wfd in fds:
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                ctrl.close()
                try:
                    serve(socket.socket(fileno=wfd))
                finally:
                    os._exit(0)
            os.close(wfd)
    os._exit(0)


def main() -> None:
    # Anything a library prints must not reach the pool's pipes.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    elif len(sys.argv) == 2 and sys.argv[1] == "--selftest":
        print(judge("\\frac12", "0.5"), judge("5", "500"), file=sys.stderr)
    else:
        print("usage: python -m reasonflux.grading.worker --zygote FD | --selftest", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
