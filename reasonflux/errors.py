"""User-facing errors: one clear line, no traceback, exit code 2.

Raise :class:`UserError` (or a ``ValueError`` subclass from config) for anything a user can fix: a
missing file, an unknown benchmark, a bad row. ``run_cli`` prints it and exits; operating-system
errors (a missing file, an unwritable ``--out``, a file where a directory is expected, a full disk)
are reported the same way, naming the path. Real bugs keep their traceback (set
``REASONFLUX_DEBUG=1`` to see tracebacks for user errors too).
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, Callable


class UserError(Exception):
    """Something the user can fix; printed as one line."""


_OS_WHAT = {
    errno.ENOENT: "not found",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a directory, expected a file",
    errno.ENOTDIR: "a file is in the way where a directory is expected",
    errno.EEXIST: "already exists and is not a directory",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "file name too long",
}


def os_error_line(e: OSError) -> str:
    """One line for an operating-system error: what went wrong, and the path."""
    what = _OS_WHAT.get(e.errno or -1) or (e.strerror or e.__class__.__name__).lower()
    paths = [p for p in (e.filename, e.filename2) if p not in (None, "")]
    if not paths:
        return str(e) or what
    return f"{' -> '.join(map(str, paths))}: {what}"


def one_line(msg: str) -> str:
    lines = [ln.strip() for ln in str(msg).splitlines() if ln.strip()]
    return "; ".join(lines) if lines else ""


def run_cli(fn: Callable[[], Any]) -> Any:
    from reasonflux.config import ConfigError

    try:
        return fn()
    except (UserError, ConfigError) as e:
        if os.environ.get("REASONFLUX_DEBUG"):
            raise
        print(f"error: {one_line(str(e)) or e.__class__.__name__}", file=sys.stderr)
        raise SystemExit(getattr(e, "exit_code", 2)) from None  # a subclass may carry its own code (eval failures: 3)
    except OSError as e:
        # BrokenPipe (``| head``) is not a mistake; connection errors to a server are reported by the
        # backends themselves, but one that escapes still deserves one line.
        if isinstance(e, BrokenPipeError):
            raise SystemExit(1) from None
        if os.environ.get("REASONFLUX_DEBUG"):
            raise
        print(f"error: {one_line(os_error_line(e))}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted; finished work is saved", file=sys.stderr)
        raise SystemExit(130) from None
