"""Stand-in for ``torchaudio`` inside the LLaMA-Factory test environment (.venv-lf), installed by
``make lf-env`` as site-packages/torchaudio/__init__.py.

Why: LLaMA-Factory 0.9.5 imports torchaudio at module level in ``llamafactory/data/mm_plugin.py``
(reached from its template module), but only calls it to decode audio inputs
(``torchaudio.load`` / ``torchaudio.functional.resample``). PyPI's torchaudio (<= 2.11.1) and
torchvision wheels are not ABI-compatible with torch 2.13.0+cpu: importing them fails with
"Could not load this library: _torchaudio.so" / "operator torchvision::nms does not exist".
So the Makefile uninstalls both and puts this module in torchaudio's place: text-only training
never touches it, and any audio use fails loudly with this explanation instead of a silent
fallback. (``transformers`` finds the module and so reports torchaudio as importable; only its
audio feature extractors would call into it, and they would hit the same error. Text models and
LLaMA-Factory's text templates never do.)
"""

_WHY = ("torchaudio is a stub in this environment (PyPI's torchaudio wheels do not match torch 2.13.0+cpu); "
        "audio datasets are not supported here")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise ImportError(f"torchaudio.{name}: {_WHY}")
