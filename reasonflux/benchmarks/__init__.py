"""The benchmarks of the ReasonFlux-F1 results table, one file each, and the one registry.

Each benchmark module has ``NAME``, ``TITLE`` (table column), ``KIND`` (``math`` or ``choice``),
the hub id and pinned revision, the local file, ``load(data_dir) -> list[Problem]`` and
``prompt(problem, style) -> str``. Adding a benchmark is one file plus one line below.

    python -c "from reasonflux.benchmarks import load_problems; print(len(load_problems('aime24', '../shared/benchdata')))"
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from reasonflux.errors import UserError
from reasonflux.types import Problem

REGISTRY: dict[str, str] = {
    "aime24": "reasonflux.benchmarks.aime24",
    "aime25": "reasonflux.benchmarks.aime25",
    "math500": "reasonflux.benchmarks.math500",
    "gpqa_diamond": "reasonflux.benchmarks.gpqa_diamond",
}

# The seed's table order.
TABLE_ORDER = ("aime24", "aime25", "math500", "gpqa_diamond")


def get(name: str) -> ModuleType:
    """The benchmark module for ``name``."""
    if name not in REGISTRY:
        raise UserError(f"unknown benchmark {name!r}; choose from {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name])


def load_problems(name: str, data_dir: str | Path | None = None) -> list[Problem]:
    """All problems of benchmark ``name`` from ``data_dir`` (or $REASONFLUX_DATA_DIR, else the hub)."""
    from reasonflux.benchmarks._common import data_dir as resolve_dir

    return get(name).load(resolve_dir(data_dir))
