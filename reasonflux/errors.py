"""User-facing errors: one clear line, no traceback, exit code 2.

Raise :class:`UserError` (or a ``ValueError`` subclass from config) for anything a user can fix: a
missing file, an unknown benchmark, a bad row. ``run_cli`` prints it and exits; real bugs keep
their traceback (set ``REASONFLUX_DEBUG=1`` to see tracebacks for user errors too).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable


class UserError(Exception):
    """Something the user can fix; printed as one line."""


def run_cli(fn: Callable[[], Any]) -> Any:
    from reasonflux.config import ConfigError

    try:
        return fn()
    except (UserError, ConfigError, FileNotFoundError) as e:
        if os.environ.get("REASONFLUX_DEBUG"):
            raise
        msg = str(e) or e.__class__.__name__
        print(f"error: {msg}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted; finished work is saved", file=sys.stderr)
        raise SystemExit(130) from None
