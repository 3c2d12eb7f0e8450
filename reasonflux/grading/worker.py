"""A grading worker process: reads ``[id, gold, pred]`` JSON lines on stdin, writes ``[id, verdict]``.

The pool (:mod:`reasonflux.grading.pool`) starts it as ``python -m reasonflux.grading.worker`` and
kills it when a comparison runs past its timeout. It says ``{"ready": true}`` once sympy and the
LaTeX parser are imported and warm. It caps its own memory and exits when its parent dies.

    printf '[1, "\\\\frac12", "0.5"]\\n' | python -m reasonflux.grading.worker
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

MEMORY_LIMIT_BYTES = 3 * 1024 ** 3  # address space cap: a runaway sympy evaluation fails, not the machine
PARENT_POLL_S = 1.0
WARMUP = (("x+1", "1+x"), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt3}"))


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
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


def main() -> None:
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _limit_memory()
    _exit_with_parent()
    import logging

    logging.disable(logging.CRITICAL)
    from reasonflux.grading.math import math_equal

    for g, p in WARMUP:
        math_equal(g, p)
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        try:
            task_id, gold, pred = json.loads(line)
        except ValueError:
            continue
        try:
            result: object = bool(math_equal(gold, pred))
        except MemoryError:
            result = "error: out of memory"
        except RecursionError:
            result = "error: expression nested too deeply"
        except Exception as e:  # noqa: BLE001 - any failure is a verdict, never a dead worker
            result = f"error: {type(e).__name__}: {str(e)[:200]}"
        out.write(json.dumps([task_id, result]) + "\n")


if __name__ == "__main__":
    main()
