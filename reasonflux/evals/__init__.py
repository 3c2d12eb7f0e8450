"""Evaluation: the runner (``runner.py``), metrics (``metrics.py``), run directories (``store.py``),
reports (``report.py``, ``html.py``) and the protocol presets (``presets/*.yaml``, whose keys are the
fields of :class:`reasonflux.evals.runner.EvalConfig`).

    reasonflux eval --preset quick --benchmarks math500 --limit 5 --out runs/demo && reasonflux report runs/demo
"""

from __future__ import annotations

from importlib import resources
from typing import Any

PRESETS_PACKAGE = "reasonflux.evals.presets"


def preset_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files(PRESETS_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> dict[str, Any]:
    """The YAML layer of protocol preset ``name`` (reasonflux-f1, deepseek-r1, quick)."""
    import yaml

    from reasonflux.errors import UserError

    f = resources.files(PRESETS_PACKAGE).joinpath(f"{name}.yaml")
    if not f.is_file():
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    data = yaml.safe_load(f.read_text()) or {}
    if not isinstance(data, dict):
        raise UserError(f"preset {name!r} is not a mapping of eval settings")
    return data
