"""The ``openai`` backend: any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp, hosted APIs).

Owns: async HTTP (httpx) with bounded concurrency, retries with exponential backoff and jitter on
429/5xx/timeouts/dropped connections, a long per-request timeout (32k-token generations are slow),
``n`` even where a server ignores it, reasoning returned separately (``reasoning_content`` or
``reasoning``) and the mapping of replies to :class:`~reasonflux.types.Completion`.

Endpoints: with ``format="model"`` requests go to ``/chat/completions`` as messages (the server
applies the model's template); a ``prefill`` is sent as a final assistant message with
``continue_final_message: true, add_generation_prompt: false`` (the vLLM/SGLang extension). With an
explicit format (``deepseek-r1``, ``chatml``) the prompt is rendered here by
:func:`reasonflux.chat.render_request` and sent raw to ``/completions``.

A request that still fails after ``max_retries`` retries (or fails with a non-retryable 4xx) yields
``Completion(text="", finish_reason="error", error="HTTP 500 after 7 tries: …")`` for each of its
samples; the rest of the batch goes on.

    vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --port 8000 &
    reasonflux solve "What is 2+3?" --backend openai --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B \\
        --base-url http://127.0.0.1:8000/v1 --json
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from reasonflux.chat import FORMATS, render_request
from reasonflux.errors import UserError
from reasonflux.models import DEFAULT_MODEL
from reasonflux.types import Completion, Request

CONNECT_TIMEOUT_S = 30.0  # a server that does not accept within this is down or overloaded: retry
BACKOFF_BASE_S = 1.0  # first retry waits ~1 s, then 2, 4, 8 … (× jitter 0.5–1.5)
BACKOFF_MAX_S = 60.0
RETRY_STATUS = frozenset({408, 409, 425, 429})  # plus every 5xx
ERROR_BODY_CHARS = 300  # how much of a failing reply goes into Completion.error
CHARS_PER_TOKEN = 4  # token estimate when a server sends no usage
# Ask the server's /models for the first model id. The CLI's default model (a local alias) means
# "whatever the server serves" here: a user who only gives --base-url gets the served model.
MODEL_AUTO = ("", "auto", DEFAULT_MODEL)
FINISH_MAP = {"length": "length", "abort": "error", "error": "error"}  # anything else (stop, eos, None …) → stop
# Start-up probe: a server that accepts no connection within this many seconds is down; the user gets
# one line at once instead of every request's retries (minutes). Any HTTP answer counts as up.
PROBE_DEADLINE_S = 8.0
PROBE_CONNECT_S = 3.0
# Mid-run: once every connection has been refused for this long (no HTTP answer of any kind in
# between), the server is gone: requests stop retrying and fail at once, so a run whose server died
# ends in seconds with its failures stored (and retried by the rerun) instead of spending each
# request's whole backoff. A restart faster than this is ridden out by the ordinary retries.
SERVER_GONE_S = 10.0


@dataclass
class _Reply:
    """One successful HTTP reply: its choices as completions (prompt tokens filled in)."""

    completions: list[Completion]


@dataclass
class _Failure:
    message: str
    latency_s: float


class OpenAIBackend:
    """Batch generation against an OpenAI-compatible server.

    ``generate`` runs its own event loop (in a worker thread when the caller already runs one), so
    it may be called from any thread; ``progress(request_index, completion)`` is called from that
    loop's thread as each completion finishes. ``backoff_base`` scales the retry waits (tests use
    a few milliseconds).
    """

    name = "openai"

    def __init__(
        self,
        model: str = "auto",
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        format: str = "model",  # noqa: A002 - the shared config field name
        concurrency: int = 64,
        request_timeout: float = 3600.0,
        max_retries: int = 6,
        seed: int | None = 0,
        backoff_base: float = BACKOFF_BASE_S,
        backoff_max: float = BACKOFF_MAX_S,
        **_: Any,
    ) -> None:
        if format not in FORMATS:
            raise UserError(f"openai backend: unknown --format {format!r}; choose one of {', '.join(FORMATS)}")
        if not base_url.startswith(("http://", "https://")):
            raise UserError(f"openai backend: --base-url must start with http:// or https:// (got {base_url!r})")
        if concurrency < 1:
            raise UserError(f"openai backend: --concurrency must be at least 1 (got {concurrency})")
        if request_timeout <= 0:
            raise UserError(f"openai backend: --request-timeout must be positive (got {request_timeout})")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.format = format
        self.concurrency = int(concurrency)
        self.request_timeout = float(request_timeout)
        self.max_retries = max(0, int(max_retries))
        self.seed = seed
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._rng = random.Random()
        self._probed = False
        self._refused_since: float | None = None  # first refused connection since the last HTTP answer

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, format={self.format!r})"

    def close(self) -> None:
        """Nothing to release: each ``generate`` call owns (and closes) its HTTP client."""

    # -- public ----------------------------------------------------------------------------------
    def probe(self, deadline_s: float = PROBE_DEADLINE_S) -> None:
        """Check once that something answers HTTP at ``base_url`` (GET /models); raise a one-line
        UserError within ``deadline_s`` when nothing does (refused, unknown host, no reply). Any
        HTTP status counts as up: servers without /models still serve completions. Called by the
        first ``generate`` (and by the eval runner before it), so a mistyped URL or a server that
        is not running costs seconds, not every request's retries."""
        import httpx

        if self._probed:
            return
        started = time.monotonic()
        what = ""
        while True:
            left = deadline_s - (time.monotonic() - started)
            try:
                httpx.get(self.base_url + "/models", timeout=httpx.Timeout(max(0.5, min(PROBE_CONNECT_S * 2, left)),
                                                                           connect=max(0.5, min(PROBE_CONNECT_S, left))))
                self._probed = True
                return
            except httpx.TransportError as e:
                what = f"{type(e).__name__}: {str(e) or 'no reply'}".splitlines()[0][:160]
            if time.monotonic() - started + 1.0 >= deadline_s:
                break
            time.sleep(1.0)
        raise UserError(f"openai backend: no server answers at {self.base_url} ({what}); start the server or fix --base-url")

    def generate(self, requests: list[Request], progress: Any = None) -> list[list[Completion]]:
        if not requests:
            return []
        self.probe()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._generate(requests, progress))
        # Called from inside a running loop (a notebook, an async app): run ours in a worker thread.
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reasonflux-openai") as pool:
            return pool.submit(asyncio.run, self._generate(requests, progress)).result()

    # -- request building ------------------------------------------------------------------------
    def payload(self, req: Request) -> tuple[str, dict[str, Any]]:
        """The endpoint path and JSON body (without ``n``/``seed``) for ``req``."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": req.max_tokens,
                                "temperature": req.temperature, "top_p": req.top_p}
        stop = list(req.stop)
        if self.format == "model":
            messages = [dict(m) for m in req.messages]
            if req.prefill:
                messages.append({"role": "assistant", "content": req.prefill})
                body.update(continue_final_message=True, add_generation_prompt=False)
            body["messages"] = messages
            path = "/chat/completions"
        else:
            body["prompt"] = render_request(self.format, req.messages, req.prefill)
            stop += [s for s in FORMATS[self.format].stop if s not in stop]
            path = "/completions"
        if stop:
            body["stop"] = stop
        return path, body

    # -- async core ------------------------------------------------------------------------------
    async def _generate(self, requests: list[Request], progress: Any) -> list[list[Completion]]:
        import httpx

        headers = {}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(self.request_timeout, connect=min(CONNECT_TIMEOUT_S, self.request_timeout), pool=None)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        sem = asyncio.Semaphore(self.concurrency)
        results: list[list[Completion | None]] = [[None] * max(0, r.n) for r in requests]
        async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as client:
            if self.model in MODEL_AUTO:
                self.model = await self._first_model(client)
            await asyncio.gather(*(self._request(client, sem, i, r, results[i], progress) for i, r in enumerate(requests)))
        return results  # type: ignore[return-value] - every slot is filled by _request

    async def _first_model(self, client: Any) -> str:
        try:
            resp = await client.get(self.base_url + "/models")
            resp.raise_for_status()
            return resp.json()["data"][0]["id"]
        except Exception as e:  # noqa: BLE001 - any failure here means: tell the user to name the model
            raise UserError(f"openai backend: could not list models at {self.base_url}/models ({type(e).__name__}); pass --model") from None

    async def _request(self, client: Any, sem: asyncio.Semaphore, i: int, req: Request,
                       slots: list[Completion | None], progress: Any) -> None:
        """Fill ``slots`` (req.n of them): one call with ``n``, then one call per missing sample."""
        if not slots:
            return
        path, body = self.payload(req)
        seed = req.seed if req.seed is not None else self.seed

        def put(j: int, c: Completion) -> None:
            slots[j] = c
            if progress is not None:
                progress(i, c)

        def call_body(n: int, offset: int) -> dict[str, Any]:
            b = dict(body, n=n)
            if seed is not None:
                b["seed"] = seed + offset  # distinct seeds: repeated n=1 calls must not repeat a sample
            return b

        got = await self._call(client, sem, path, call_body(len(slots), 0))
        if isinstance(got, _Failure):
            for j in range(len(slots)):
                put(j, _error(got))
            return
        for j, c in enumerate(got.completions[: len(slots)]):
            put(j, c)
        # The server ignored n (or capped it): ask for each missing sample separately, in parallel.
        missing = [j for j, c in enumerate(slots) if c is None]
        while missing:
            replies = await asyncio.gather(*(self._call(client, sem, path, call_body(1, j)) for j in missing))
            advanced = False
            for j, r in zip(missing, replies):
                if isinstance(r, _Failure):
                    put(j, _error(r))
                elif r.completions:
                    put(j, r.completions[0])
                    advanced = True
            missing = [j for j in missing if slots[j] is None]
            if missing and not advanced:
                for j in missing:
                    put(j, Completion(text="", finish_reason="error", error="server returned no choices"))
                missing = []

    async def _call(self, client: Any, sem: asyncio.Semaphore, path: str, body: dict[str, Any]) -> _Reply | _Failure:
        """POST with retries; the semaphore is held only while a request is in flight."""
        import httpx

        tries = self.max_retries + 1
        started = time.monotonic()
        what, detail, retry_after = "", "", None
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(self._backoff(attempt, retry_after))
            async with sem:
                t0 = time.monotonic()
                try:
                    resp = await client.post(self.base_url + path, json=body)
                except httpx.ConnectError as e:  # refused: nothing listens (or it cannot accept)
                    what, detail, retry_after = type(e).__name__, str(e) or "connection refused", None
                    gone = self._refused_for()
                    if gone >= SERVER_GONE_S:
                        return _Failure(f"{what}: no server has answered at {self.base_url} for {gone:.0f} s; "
                                        f"gave up retrying", time.monotonic() - started)
                    continue
                except httpx.TransportError as e:  # timeouts, dropped connections, protocol errors
                    what, detail, retry_after = type(e).__name__, str(e) or "no reply", None
                    continue
                self._refused_since = None  # any HTTP answer: the server is there
                latency = time.monotonic() - t0
            if resp.status_code == 200:
                try:
                    return _parse(resp.json(), path, latency, body)
                except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
                    what, detail, retry_after = "bad reply", f"{type(e).__name__}: {e}; {resp.text[:ERROR_BODY_CHARS]}", None
                    continue
            what, detail = f"HTTP {resp.status_code}", resp.text[:ERROR_BODY_CHARS]
            retry_after = _retry_after(resp.headers.get("retry-after"))
            if not (resp.status_code >= 500 or resp.status_code in RETRY_STATUS):
                return _Failure(f"{what}: {detail}", time.monotonic() - started)
        return _Failure(f"{what} after {tries} tries: {detail}", time.monotonic() - started)

    def _refused_for(self) -> float:
        """Seconds that connections have been refused with no HTTP answer in between (0 at the first)."""
        now = time.monotonic()
        if self._refused_since is None:
            self._refused_since = now
        return now - self._refused_since

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        wait = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.5)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max))
        return wait


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _error(f: _Failure) -> Completion:
    return Completion(text="", finish_reason="error", latency_s=f.latency_s, error=f.message)


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _split_total(total: int, weights: list[int]) -> list[int]:
    """Split an aggregate token count over choices in proportion to their lengths (largest remainder)."""
    if not weights:
        return []
    w = [max(1, x) for x in weights]
    exact = [total * x / sum(w) for x in w]
    parts = [int(e) for e in exact]
    for k in sorted(range(len(w)), key=lambda k: exact[k] - parts[k], reverse=True)[: total - sum(parts)]:
        parts[k] += 1
    return parts


def _parse(data: dict[str, Any], path: str, latency: float, body: dict[str, Any]) -> _Reply:
    chat = path.endswith("/chat/completions")
    raw = sorted(data["choices"], key=lambda c: c.get("index", 0))
    texts, reasonings, finishes = [], [], []
    for c in raw:
        holder = c["message"] if chat else c
        texts.append(holder.get("content" if chat else "text") or "")
        reasonings.append(holder.get("reasoning_content") or holder.get("reasoning") or None)
        finishes.append(FINISH_MAP.get(c.get("finish_reason") or "stop", "stop"))
    usage = data.get("usage") or {}
    lengths = [len(t) + len(r or "") for t, r in zip(texts, reasonings)]
    if usage.get("completion_tokens") is not None:
        counts = _split_total(int(usage["completion_tokens"]), lengths)
    else:
        counts = [_estimate_tokens(t) + _estimate_tokens(r or "") for t, r in zip(texts, reasonings)]
    if usage.get("prompt_tokens") is not None:
        prompt_tokens = int(usage["prompt_tokens"])
    else:
        prompt = body.get("prompt") or "".join(str(m.get("content") or "") for m in body.get("messages", []))
        prompt_tokens = _estimate_tokens(prompt)
    return _Reply([
        Completion(text=t, finish_reason=f, prompt_tokens=prompt_tokens, completion_tokens=n, latency_s=latency,
                   reasoning=r, error="server aborted the request" if f == "error" else None)  # type: ignore[arg-type]
        for t, r, f, n in zip(texts, reasonings, finishes, counts)
    ])
