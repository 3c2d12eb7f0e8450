"""Generation backends. One batch-first method for every engine::

    backend.generate(requests: list[Request]) -> list[list[Completion]]   # n per request

Each backend owns its own concurrency (vLLM batching, HTTP semaphores, HF batched/continuous
generation); callers never know which engine they drive. Backends are imported lazily by name so
that ``import reasonflux`` never imports torch or vllm.

    python -c "from reasonflux.backends import load_backend; print(load_backend('hf', model='smollm2'))"
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from reasonflux.types import Completion, Request

BACKENDS: dict[str, str] = {
    "hf": "reasonflux.backends.hf:HFBackend",
    "vllm": "reasonflux.backends.vllm:VLLMBackend",
    "openai": "reasonflux.backends.openai_api:OpenAIBackend",
}

ProgressFn = Callable[[int, Completion], None]  # (request index, finished completion)

# Chat formats (reasonflux.chat.FORMATS), one line each for --help.
CHAT_FORMAT_HELP = {
    "model": "the model's own chat template (from its tokenizer)",
    "deepseek-r1": "DeepSeek-R1 / R1-distill / ReasonFlux-F1, reasoning in <think>",
    "chatml": "<|im_start|>role ... <|im_end|> turns (Qwen, SmolLM2)",
}


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[list[Completion]]:
        """Return ``requests[i].n`` completions for each request, in request order.

        ``progress`` (optional) is called once per finished completion, as it finishes.
        """
        ...

    def close(self) -> None: ...


@dataclass
class BackendConfig:
    """Engine settings shared by every command that generates. Field = flag = YAML key."""

    model: str = field(default="smollm2", metadata={"help": "HF id, local directory, .gguf file, or a known alias (smollm2); for openai: the served model name", "short": "-m"})
    backend: str = field(default="hf", metadata={"help": "hf | vllm | openai", "choices": ("hf", "vllm", "openai"),
                                                 "choices_extra": lambda v: ":" in v})  # or module:Class
    format: str = field(default="model", metadata={"help": "chat format (listed below)", "choices": CHAT_FORMAT_HELP, "choices_title": "Chat formats"})
    dtype: str = field(default="auto", metadata={"help": "auto | bfloat16 | float16 | float32",
                                                 "choices": ("auto", "bfloat16", "bf16", "float16", "fp16", "half", "float32", "fp32", "float")})
    device: str = field(default="auto", metadata={"help": "hf: auto | cpu | cuda | cuda:N"})
    batch_size: int = field(default=16, metadata={"help": "hf: sequences per generate call on CPU", "min": 1})
    tensor_parallel_size: int = field(default=1, metadata={"help": "vllm: GPUs per replica", "min": 1})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "vllm: fraction of GPU memory for the engine", "gt": 0, "max": 1})
    max_model_len: int | None = field(default=None, metadata={"help": "vllm: context length (default: the model's)", "min": 1})
    base_url: str = field(default="http://127.0.0.1:8000/v1", metadata={"help": "openai: server URL"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key"})
    concurrency: int = field(default=64, metadata={"help": "openai: requests in flight", "min": 1})
    request_timeout: float = field(default=3600.0, metadata={"help": "openai: seconds per request (long: 32k-token generations are slow)", "gt": 0})
    max_retries: int = field(default=6, metadata={"help": "openai: retries on 429/5xx/timeouts/dropped connections", "min": 0})
    seed: int = field(default=0, metadata={"help": "sampling seed"})


def backend_options(cfg: Any) -> dict[str, Any]:
    """The BackendConfig fields of any config dataclass that carries them."""
    names = {f.name for f in dataclasses.fields(BackendConfig)}
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k in names}


def load_backend(name: str, **options: Any) -> Backend:
    """Build backend ``name`` ("hf", "vllm", "openai" or "module:Class") with ``options``."""
    from reasonflux.errors import UserError

    target = BACKENDS.get(name, name)
    if ":" not in target:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, cls = target.split(":", 1)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise UserError(f"backend {name!r} needs the package {e.name!r}: pip install 'reasonflux[{name}]'") from None
    options.pop("backend", None)
    return getattr(mod, cls)(**options)


def from_config(cfg: Any) -> Backend:
    opts = backend_options(cfg)
    return load_backend(opts.pop("backend"), **opts)
