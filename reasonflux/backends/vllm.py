"""The ``vllm`` backend: offline ``vllm.LLM`` on local GPUs.

Owns: building the engine (tensor parallelism, dtype, memory share, context length, seed), rendering
prompts with our chat formats and tokenizing them once here (so a template's BOS is never doubled),
the mapping of :class:`~reasonflux.types.Request` fields to ``vllm.SamplingParams``, and the mapping
of ``RequestOutput`` back to :class:`~reasonflux.types.Completion`.

All requests go to vLLM in ONE ``llm.generate(prompts, [SamplingParams, ...])`` call with ``n`` in
the sampling parameters, so vLLM schedules everything together and the ``n`` samples of a prompt
share its KV-cache blocks (prefix caching). Greedy requests are sent with ``n=1`` and copied: greedy
samples are identical. Latency is the wall time of that one call (vLLM reports no per-sample clock
that is stable across versions).

    pip install 'reasonflux[vllm]'
    reasonflux solve "What is 2+3?" --backend vllm --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --json
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any, Callable

from reasonflux.chat import get_format, render_request
from reasonflux.errors import UserError
from reasonflux.types import Completion, Request

INSTALL_HINT = "backend 'vllm' needs the package vllm (a CUDA machine): pip install 'reasonflux[vllm]'"
DTYPES = {"auto": "auto", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16",
          "half": "float16", "float32": "float32", "fp32": "float32", "float": "float32"}
FINISH = {"stop": "stop", "length": "length"}  # vLLM's "abort" (and anything unknown) → error

ProgressFn = Callable[[int, Completion], None]


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return vllm


class VLLMBackend:
    """Batch generation with ``vllm.LLM`` (see the module docstring)."""

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
        vllm = _import_vllm()
        kwargs: dict[str, Any] = dict(
            model=os.path.join(ref.path, ref.gguf_file) if ref.gguf_file else ref.path,
            dtype=DTYPES[dtype],
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            seed=seed,
        )
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [e.__class__.__name__])[0]
            raise UserError(f"vllm cannot load model {model!r}: {first}") from None
        self._vllm = vllm
        self.format = format
        self.seed = seed
        self.tokenizer = self.llm.get_tokenizer()
        if format == "model" and not getattr(self.tokenizer, "chat_template", None):
            raise UserError(f"model {model!r} has no chat template of its own; pass --format deepseek-r1 or --format chatml")
        self._format_stops = list(get_format(format).stop)

    def __repr__(self) -> str:
        return f"VLLMBackend(format={self.format!r})"

    def prompt_text(self, request: Request) -> str:
        try:
            return render_request(self.format, request.messages, request.prefill, tokenizer=self.tokenizer)
        except ValueError as e:
            raise UserError(f"cannot render the prompt in format {self.format!r}: {e}") from None

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
        """``requests[i].n`` completions per request, in request order, from one ``llm.generate`` call."""
        if not requests:
            return []
        texts = [self.prompt_text(r) for r in requests]
        ids = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        prompts = [{"prompt_token_ids": p} for p in ids]  # a vllm TokensPrompt
        params = [self.sampling_params(r) for r in requests]
        t0 = time.perf_counter()
        outputs = self.llm.generate(prompts, params)
        wall = time.perf_counter() - t0
        results: list[list[Completion]] = []
        for i, (r, p, out) in enumerate(zip(requests, ids, outputs)):
            comps = [self._completion(o, len(out.prompt_token_ids or p), wall) for o in out.outputs]
            if r.temperature <= 0 and r.n > 1:
                comps = comps[:1] + [Completion(**comps[0].to_dict()) for _ in range(r.n - 1)]
            results.append(comps)
            if progress is not None:
                for c in comps:
                    progress(i, c)
        return results

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
        """Shut the engine down and free GPU memory."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        del llm
        try:  # vLLM keeps process-group state; drop it so another engine can start in this process
            from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

            destroy_model_parallel()
            destroy_distributed_environment()
        except Exception:  # noqa: BLE001 - best effort, absent in some versions and in the test stand-in
            pass
        gc.collect()
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
