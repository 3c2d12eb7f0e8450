"""The ``hf`` backend: transformers on CPU or GPU, for HF ids, local directories and GGUF files.

Owns: loading (``reasonflux.models.resolve_model`` → ``from_pretrained``, GGUF via ``gguf_file``),
prompt rendering with our chat formats, and two engines behind one ``generate``:

* ``generate`` (CPU default): left-padded batched ``model.generate``; requests with identical sampling
  parameters are grouped, sorted by prompt length and cut into calls of ``batch_size`` sequences.
* ``continuous`` (CUDA default): continuous batching with ``model.generate_batch`` (paged KV cache,
  ``n`` as forked children that share the prompt's cache blocks), one call per sampling group.

Stop handling is the same for both: EOS and stop strings that are single added tokens (``</think>``,
``<|im_end|>``) end a sequence inside the engine; other stop strings end it through
``StopStringCriteria`` (``generate``) or are cut afterwards (``continuous``). The text is trimmed
before the first stop string (OpenAI semantics) and ``completion_tokens`` counts the tokens
generated up to and including the one that completed the stop (no padding, nothing after it).
Greedy requests with ``n`` > 1 are generated once and copied: greedy samples are identical.

    reasonflux solve "What is 2+3?" --backend hf --model smollm2 --json
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any, Callable

from reasonflux.chat import get_format, render_request
from reasonflux.errors import UserError
from reasonflux.types import Completion, Request

DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16", "half": "float16",
          "float32": "float32", "fp32": "float32", "float": "float32"}
# Continuous batching sizes its paged cache from free GPU memory; on a CPU (tests, --quick runs) that
# would allocate gigabytes, so a small explicit cache is used there unless cb_options says otherwise.
CPU_CB_OPTIONS = {"num_blocks": 64, "max_batch_tokens": 512}
TOP_K_OFF = 0  # transformers defaults to top_k=50; requests ask for plain temperature/top-p sampling

ProgressFn = Callable[[int, Completion], None]


@dataclass
class _Item:
    """One request's prompt, ready for an engine."""

    index: int  # position in the caller's request list
    request: Request
    ids: list[int]


class HFBackend:
    """Batch generation with transformers. See the module docstring for the engines.

    ``engine``: ``auto`` (continuous batching on CUDA, batched ``generate`` elsewhere), ``generate`` or
    ``continuous``. ``cb_options``: keyword arguments for ``transformers.ContinuousBatchingConfig``.
    ``eos_token_ids`` (also on :meth:`from_model`): token ids that end a sequence; None = the model's
    EOS ids, [] = never stop on a token (benchmarks that must generate exactly ``max_tokens``).
    """

    name = "hf"

    def __init__(
        self,
        model: str = "smollm2",
        format: str = "model",  # noqa: A002 - the shared config field name
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int = 16,
        seed: int = 0,
        *,
        engine: str = "auto",
        cb_options: dict[str, Any] | None = None,
        eos_token_ids: list[int] | None = None,
        **_: Any,
    ) -> None:
        from reasonflux.models import resolve_model

        _check_format(format)
        ref = resolve_model(model)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dev = _device(device)
        kwargs: dict[str, Any] = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
        if dev != "cpu":
            kwargs["device_map"] = dev  # load straight onto the GPU
        try:
            tokenizer = AutoTokenizer.from_pretrained(ref.path, **{k: v for k, v in kwargs.items() if k == "gguf_file"})
            lm = AutoModelForCausalLM.from_pretrained(ref.path, dtype=_dtype(dtype, dev), **kwargs)
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [e.__class__.__name__])[0]
            raise UserError(f"cannot load model {model!r}: {first}") from None
        lm.to(torch.device(dev)).eval()
        self._setup(lm, tokenizer, format=format, batch_size=batch_size, seed=seed, engine=engine,
                    cb_options=cb_options, eos_token_ids=eos_token_ids, label=model)

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        format: str = "model",  # noqa: A002
        batch_size: int = 16,
        seed: int = 0,
        engine: str = "auto",
        cb_options: dict[str, Any] | None = None,
        eos_token_ids: list[int] | None = None,
    ) -> HFBackend:
        """Wrap an already-built model and tokenizer (benchmarks, training loops, tests)."""
        _check_format(format)
        self = cls.__new__(cls)
        self._setup(model, tokenizer, format=format, batch_size=batch_size, seed=seed, engine=engine,
                    cb_options=cb_options, eos_token_ids=eos_token_ids, label=type(model).__name__)
        return self

    def _setup(self, model: Any, tokenizer: Any, *, format: str, batch_size: int, seed: int, engine: str,  # noqa: A002
               cb_options: dict[str, Any] | None, eos_token_ids: list[int] | None, label: str) -> None:
        if format == "model" and not getattr(tokenizer, "chat_template", None):
            raise UserError(f"model {label!r} has no chat template of its own; pass --format deepseek-r1 or --format chatml")
        if engine not in ("auto", "generate", "continuous"):
            raise UserError(f"hf engine must be auto, generate or continuous, not {engine!r}")
        if batch_size < 1:
            raise UserError(f"batch_size must be at least 1, not {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.format = format
        self.batch_size = batch_size
        self.seed = seed
        self.device = model.device
        self.engine = engine if engine != "auto" else ("continuous" if model.device.type == "cuda" else "generate")
        self.cb_options = dict(cb_options) if cb_options is not None else (
            {} if model.device.type == "cuda" else dict(CPU_CB_OPTIONS))
        self._added = dict(tokenizer.get_added_vocab())  # added/special token text -> id
        if eos_token_ids is None:
            eos_token_ids = _as_list(getattr(model.generation_config, "eos_token_id", None))
            eos_token_ids += _as_list(tokenizer.eos_token_id)
            self._format_stops = list(get_format(format).stop)
        else:
            self._format_stops = []
        self.eos_token_ids = sorted(set(eos_token_ids))
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = getattr(model.generation_config, "pad_token_id", None)
        if pad is None:
            pad = self.eos_token_ids[0] if self.eos_token_ids else 0
        self.pad_token_id = int(pad)

    def __repr__(self) -> str:
        return f"HFBackend(model={type(self.model).__name__}, device={self.device}, engine={self.engine}, format={self.format!r})"

    # ------------------------------------------------------------------------------------------ public

    def prompt_text(self, request: Request) -> str:
        """The exact prompt string the engine sees for ``request`` (chat format + prefill)."""
        try:
            return render_request(self.format, request.messages, request.prefill, tokenizer=self.tokenizer)
        except ValueError as e:  # a bad message or a tokenizer template that rejects the messages
            raise UserError(f"cannot render the prompt in format {self.format!r}: {e}") from None

    def encode(self, requests: list[Request]) -> list[list[int]]:
        """Prompt token ids per request. No special tokens are added: the chat format has BOS."""
        if not requests:
            return []
        texts = [self.prompt_text(r) for r in requests]
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[list[Completion]]:
        """``requests[i].n`` completions per request, in request order (see the module docstring)."""
        for r in requests:
            if r.n < 1 or r.max_tokens < 1:
                raise UserError(f"request {r.id or ''}: n and max_tokens must be at least 1 (got n={r.n}, max_tokens={r.max_tokens})")
        ids = self.encode(requests)
        results: list[list[Completion]] = [[] for _ in requests]
        groups: dict[tuple, list[_Item]] = {}
        for i, (r, p) in enumerate(zip(requests, ids)):
            sample = r.temperature > 0  # greedy ignores temperature/top_p/n: one group for all greedy requests
            key = (float(r.temperature), float(r.top_p), r.n, r.max_tokens, tuple(r.stop)) if sample else (
                0.0, 1.0, 1, r.max_tokens, tuple(r.stop))
            groups.setdefault(key, []).append(_Item(i, r, p))
        run = self._run_continuous if self.engine == "continuous" else self._run_generate
        for items in groups.values():
            for item, comps in run(items):
                if item.request.temperature <= 0 and item.request.n > 1:  # greedy: n identical samples
                    comps = [comps[0]] + [Completion(**comps[0].to_dict()) for _ in range(item.request.n - 1)]
                results[item.index] = comps
                if progress is not None:
                    for c in comps:
                        progress(item.index, c)
        return results

    def close(self) -> None:
        """Free the model (and GPU memory); the backend cannot generate afterwards."""
        model = getattr(self, "model", None)
        if model is None:
            return
        destroy = getattr(model, "destroy_cached_continuous_batching_manager", None)
        if destroy is not None:
            destroy()
        is_cuda = model.device.type == "cuda"
        self.model = None
        del model
        gc.collect()
        if is_cuda:
            import torch

            torch.cuda.empty_cache()

    # ------------------------------------------------------------------------------------------ engines

    def _stops(self, request: Request) -> tuple[list[int], list[str]]:
        """(token ids that end the sequence in the engine, stop strings to cut the text at)."""
        strings = list(dict.fromkeys(s for s in [*request.stop, *self._format_stops] if s))
        ids = set(self.eos_token_ids)
        ids.update(self._added[s] for s in strings if s in self._added)
        return sorted(ids), strings

    def _generation_config(self, r: Request, stop_ids: list[int], n: int, *, continuous: bool) -> Any:
        from transformers import GenerationConfig

        sample = r.temperature > 0
        kw: dict[str, Any] = dict(max_new_tokens=r.max_tokens, do_sample=sample, pad_token_id=self.pad_token_id,
                                  num_return_sequences=n)
        if sample:
            kw.update(temperature=float(r.temperature), top_p=float(r.top_p), top_k=TOP_K_OFF)
        if stop_ids:
            kw["eos_token_id"] = stop_ids
        elif continuous:
            kw["eos_token_id"] = -1  # continuous batching's "no EOS"
        return GenerationConfig(**kw)

    def _run_generate(self, items: list[_Item]):  # noqa: ANN202 - yields (item, completions)
        import torch

        r0 = items[0].request
        sample = r0.temperature > 0
        n = r0.n if sample else 1
        stop_ids, stop_strings = self._stops(r0)
        text_stops = [s for s in stop_strings if s not in self._added]
        gen_config = self._generation_config(r0, stop_ids, n, continuous=False)
        if text_stops:
            gen_config.stop_strings = text_stops
        per_call = max(1, self.batch_size // n)
        order = sorted(items, key=lambda it: len(it.ids), reverse=True)  # similar lengths → little padding
        stop_tensor = torch.tensor(stop_ids or [-1], dtype=torch.long)
        for start in range(0, len(order), per_call):
            chunk = order[start:start + per_call]
            width = max(len(it.ids) for it in chunk)
            input_ids = torch.full((len(chunk), width), self.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, it in enumerate(chunk):
                if it.ids:
                    input_ids[row, width - len(it.ids):] = torch.tensor(it.ids, dtype=torch.long)
                    mask[row, width - len(it.ids):] = 1
            if sample:
                torch.manual_seed((r0.seed if r0.seed is not None else self.seed) + start)
            t0 = time.perf_counter()
            with torch.inference_mode():  # cheaper per op than generate's own no_grad: matters for small models
                out = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                          generation_config=gen_config, tokenizer=self.tokenizer if text_stops else None,
                                          streamer=_token_streamer(self.pad_token_id))
            latency = time.perf_counter() - t0
            gen = out[:, width:].cpu()
            hits = torch.isin(gen, stop_tensor)
            first = torch.where(hits.any(1), hits.int().argmax(1), -1).tolist()
            rows = gen.tolist()
            for row, it in enumerate(chunk):
                comps = [self._completion(rows[k], first[k], len(it.ids), stop_strings, latency)
                         for k in range(row * n, row * n + n)]
                yield it, comps

    def _run_continuous(self, items: list[_Item]):  # noqa: ANN202 - yields (item, completions)
        from transformers import ContinuousBatchingConfig

        r0 = items[0].request
        sample = r0.temperature > 0
        n = r0.n if sample else 1
        stop_ids, stop_strings = self._stops(r0)
        gen_config = self._generation_config(r0, stop_ids, n, continuous=True)
        cb_config = ContinuousBatchingConfig(**{"seed": r0.seed if r0.seed is not None else self.seed, **self.cb_options})
        cached = getattr(self.model, "_cached_continuous_batching_manager", None)
        offset = getattr(cached, "_request_counter", 0) if cached is not None else 0  # ids are req_<counter>
        t0 = time.perf_counter()
        outputs = self.model.generate_batch([it.ids for it in items], generation_config=gen_config,
                                            continuous_batching_config=cb_config, progress_bar=False)
        wall = time.perf_counter() - t0
        stop_set = set(stop_ids)
        for j, it in enumerate(items):
            rid = f"req_{offset + j}"
            comps = []
            for rid_k in [f"{rid}__child#{c}" for c in range(n - 1)] + [rid]:
                o = outputs.get(rid_k)
                if o is None or o.error is not None:
                    why = "continuous batching returned no output" if o is None else str(o.error)
                    comps.append(Completion(text="", finish_reason="error", prompt_tokens=len(it.ids), latency_s=wall, error=why))
                    continue
                toks = list(o.generated_tokens)
                first = len(toks) - 1 if toks and toks[-1] in stop_set else -1  # a stop token ends the request
                latency = o.lifespan[1] - o.created_time if o.lifespan[1] > 0 else wall
                comps.append(self._completion(toks, first, len(it.ids), stop_strings, latency))
            yield it, comps

    # ------------------------------------------------------------------------------------------ outputs

    def _completion(self, toks: list[int], first_stop: int, prompt_tokens: int,
                    stop_strings: list[str], latency: float) -> Completion:
        """Turn one generated row into a Completion: trim at the first stop, count true tokens."""
        decode = self.tokenizer.decode
        if first_stop >= 0:  # ended by EOS or a stop token: the token itself is generated, not text
            body, used, finish = toks[:first_stop], first_stop + 1, "stop"
        else:
            body, used, finish = toks, len(toks), "length"  # the cap (or the model's context) ended it
        text = decode(body, skip_special_tokens=False)
        if stop_strings:
            cut, hit = _first_stop(text, stop_strings)
            if hit is not None:
                text, finish = text[:cut], "stop"
                used = _tokens_until(decode, body, hit)
        return Completion(text=text, finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=used,
                          latency_s=latency)


def _token_streamer(pad_token_id: int | None) -> Any:
    """Live token counts for the heartbeat (reasonflux.progress), only while one is running."""
    from reasonflux import progress

    return progress.TokenStreamer(pad_token_id) if progress.listening() else None


def _first_stop(text: str, stops: list[str]) -> tuple[int, str | None]:
    best, hit = len(text) + 1, None
    for s in stops:
        p = text.find(s)
        if 0 <= p < best:
            best, hit = p, s
    return best, hit


def _tokens_until(decode: Callable[..., str], toks: list[int], stop: str) -> int:
    """The fewest leading tokens whose text contains ``stop`` (binary search: log n decodes)."""
    lo, hi = 1, len(toks)
    while lo < hi:
        mid = (lo + hi) // 2
        if stop in decode(toks[:mid], skip_special_tokens=False):
            hi = mid
        else:
            lo = mid + 1
    return hi


def _as_list(x: Any) -> list[int]:
    if x is None:
        return []
    if isinstance(x, int):
        return [x] if x >= 0 else []
    return [int(v) for v in x if v is not None and int(v) >= 0]


def _check_format(fmt: str) -> None:
    try:
        get_format(fmt)
    except ValueError as e:
        raise UserError(str(e)) from None


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but no CUDA device is available; use --device cpu")
    return device


def _dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        # The checkpoint's dtype on a GPU; float32 on a CPU, where bf16/fp16 matmuls are slow or missing.
        return "auto" if device.startswith("cuda") else torch.float32
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; choose auto, bfloat16, float16 or float32")
    return getattr(torch, DTYPES[dtype])
