"""Shared fixtures. CPU only, no network; one torch thread (OpenMP oversubscription on 2 cores
turns milliseconds into seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Benchmark data laid out like ../shared/benchdata (REASONFLUX_DATA_DIR wins)."""
    d = Path(os.environ.get("REASONFLUX_DATA_DIR") or SHARED / "benchdata")
    if not (d / "math500" / "test.jsonl").exists():
        pytest.skip(f"benchmark data not found at {d}")
    return d


@pytest.fixture(scope="session")
def gradecorpus_dir() -> Path:
    d = Path(os.environ.get("REASONFLUX_GRADECORPUS") or SHARED / "gradecorpus")
    if not d.exists():
        pytest.skip(f"grade corpus not found at {d}")
    return d


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 + in-process tokenizer with an R1-distill-style chat template."""
    from reasonflux.testing.tiny import save_tiny

    return save_tiny(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def smollm2() -> str:
    from reasonflux.errors import UserError
    from reasonflux.models import resolve_model

    try:
        resolve_model("smollm2")
    except UserError as e:
        pytest.skip(str(e))
    return "smollm2"
