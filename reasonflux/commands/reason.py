"""`reasonflux reason` (to be written)."""

from __future__ import annotations


def register(app) -> None:  # noqa: ANN001
    """Add this module's command(s) to the typer app."""
