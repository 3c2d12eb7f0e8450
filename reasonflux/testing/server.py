"""A scripted OpenAI-compatible HTTP server for tests and demos (stdlib only, no network beyond
127.0.0.1).

It serves ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models`` from a
background thread, with answers from a script and injected faults, so the ``openai`` backend (and
everything above it) is tested against real HTTP rather than a mocked client::

    from reasonflux.testing.server import ScriptedServer, Fault

    with ScriptedServer(responses=[Fault.status(500), Fault.drop(), "The answer is 5."]) as srv:
        backend = load_backend("openai", model="m", base_url=srv.base_url)
        ...
        srv.requests        # the JSON bodies received, in arrival order

Answers:
  * ``responder(body, index) -> str | dict | Fault`` is called once per choice (``n`` times for a
    request with ``n``, once with ``ignore_n=True``); ``index`` is the running count of calls over
    the server's life. ``responses=[...]`` serves a list in order, cycling at the end.
  * a ``str`` is the completion text (finish_reason ``stop``); a ``dict`` may give ``text``,
    ``finish_reason``, ``reasoning_content`` (or ``reasoning``, sent under that key),
    ``completion_tokens`` and ``prompt_tokens``.
  * Like a real server, the scripted text is cut before the first of the request's ``stop``
    strings (finish_reason ``stop``). ``max_tokens`` is not enforced: script ``length`` yourself.
  * Token counts are whitespace words unless the dict gives them; ``usage`` sums over choices.
Faults (one fault among the choices answers the whole request):
  * ``Fault.status(code, body=None)`` replies with that HTTP status (body: str or JSON-able dict);
  * ``Fault.delay(seconds, then="")`` waits, then answers with ``then`` (str, dict or another Fault);
  * ``Fault.drop()`` closes the connection without any reply.
  A responder (or backend) that raises answers HTTP 500 with the exception in the error message.

``ScriptedServer.from_backend(backend)`` answers with a real reasonflux backend (e.g. hf on the tiny
model): chat requests become a ``Request`` (a final assistant message with
``continue_final_message: true`` becomes its ``prefill``). ``/v1/completions`` prompts are passed raw
to ``backend.generate_raw(prompts, requests)`` when the backend has that method; otherwise the
prompt is sent as one user message (rendered by the backend's chat format). Backend calls are
serialised (engines are not assumed thread-safe).

Run one by hand (prints its URL, echoes the last user message)::

    python -m reasonflux.testing.server
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

HOST = "127.0.0.1"
DEFAULT_MODEL = "scripted"
LISTEN_BACKLOG = 256  # the stdlib default (5) refuses bursts from a 64-wide client
CLOSE_GRACE_S = 2.0  # how long close() waits for in-flight handlers to notice shutdown
BACKEND_DEFAULT_MAX_TOKENS = 256  # from_backend: a request without max_tokens


@dataclass(frozen=True)
class Fault:
    """An injected failure; build with :meth:`status`, :meth:`delay` or :meth:`drop`."""

    kind: str  # "status" | "delay" | "drop"
    code: int = 0
    body: Any = None
    seconds: float = 0.0
    then: Any = ""

    @staticmethod
    def status(code: int, body: str | dict | None = None) -> "Fault":
        return Fault("status", code=code, body=body)

    @staticmethod
    def delay(seconds: float, then: "str | dict | Fault" = "") -> "Fault":
        return Fault("delay", seconds=seconds, then=then)

    @staticmethod
    def drop() -> "Fault":
        return Fault("drop")


Answer = Union[str, dict, Fault]
Responder = Callable[[dict, int], Answer]


def count_words(text: str | None) -> int:
    return len((text or "").split())


def _prompt_text(body: dict) -> str:
    if "messages" in body:
        return "\n".join(str(m.get("content") or "") for m in body["messages"])
    p = body.get("prompt", "")
    return "\n".join(p) if isinstance(p, list) else str(p)


def _cut_at_stop(text: str, stop: Any) -> tuple[str, bool]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    hits = [text.find(s) for s in stops if s and s in text]
    return (text[: min(hits)], True) if hits else (text, False)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real servers (so dropped reused connections happen)
    server: "_HTTPServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        pass

    def _send(self, code: int, payload: Any) -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(payload, str) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        owner = self.server.owner
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": owner.model, "object": "model", "created": 0, "owned_by": "reasonflux"}]})
        else:
            self._send(404, {"error": {"message": f"no route GET {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802
        owner = self.server.owner
        path = self.path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        if path not in ("/v1/chat/completions", "/v1/completions"):
            self._send(404, {"error": {"message": f"no route POST {self.path}", "type": "not_found"}})
            return
        owner._enter(path, body, dict(self.headers.items()))
        try:
            try:
                kind, payload = owner._answer(path, body)
            except Exception as e:  # noqa: BLE001 - a broken responder/backend answers 500, visibly
                kind, payload = "status", (500, {"error": {"message": f"scripted server: {type(e).__name__}: {e}",
                                                           "type": "server_error", "code": 500}})
            if owner._closing.is_set():
                self.close_connection = True
                return
            if kind == "drop":
                self.close_connection = True  # finish() closes the socket: no status line at all
                return
            self._send(payload[0], payload[1])
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
            self.close_connection = True
        finally:
            owner._leave()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    owner: "ScriptedServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-reply is expected here, not an error worth a traceback


class ScriptedServer:
    """An OpenAI-compatible server on 127.0.0.1 at a free port, answering from a script.

    ``responder`` / ``responses``: see the module docstring. ``ignore_n``: answer one choice
    whatever ``n`` asks (like servers that ignore it). ``model``: the id listed by ``/v1/models``
    and echoed in replies. Attributes: ``base_url`` (``http://127.0.0.1:PORT/v1``), ``requests``
    (JSON bodies), ``paths`` and ``headers`` (of each), ``in_flight`` and ``max_in_flight``.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        responses: list[Answer] | None = None,
        ignore_n: bool = False,
        model: str = DEFAULT_MODEL,
    ) -> None:
        if responder is not None and responses is not None:
            raise ValueError("give responder or responses, not both")
        if responses is not None:
            if not responses:
                raise ValueError("responses must not be empty")
            script = list(responses)
            responder = lambda body, i: script[i % len(script)]  # noqa: E731
        self._responder: Responder = responder or _echo
        self._batch: Callable[[str, dict], list[dict]] | None = None
        self.ignore_n = ignore_n
        self.model = model
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._closing = threading.Event()
        self._httpd = _HTTPServer((HOST, 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://{HOST}:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scripted-server-{self.port}", daemon=True)
        self._thread.start()

    # -- construction from a real backend -------------------------------------------------------
    @classmethod
    def from_backend(cls, backend: Any, *, model: str = DEFAULT_MODEL, ignore_n: bool = False) -> "ScriptedServer":
        """Serve completions of a real reasonflux ``backend`` (see the module docstring)."""
        srv = cls(model=model, ignore_n=ignore_n)
        gen_lock = threading.Lock()

        def batch(path: str, body: dict) -> list[dict]:
            from reasonflux.types import Request

            n = 1 if ignore_n else int(body.get("n") or 1)
            stop = body.get("stop") or []
            def num(key: str, default: float) -> float:
                return float(body[key]) if body.get(key) is not None else default

            common = dict(n=n, temperature=num("temperature", 1.0), top_p=num("top_p", 1.0),
                          max_tokens=int(num("max_tokens", BACKEND_DEFAULT_MAX_TOKENS)),
                          stop=[stop] if isinstance(stop, str) else list(stop), seed=body.get("seed"))
            if path.endswith("/chat/completions"):
                messages = [{"role": m["role"], "content": m.get("content") or ""} for m in body.get("messages", [])]
                prefill = ""
                if body.get("continue_final_message") and messages and messages[-1]["role"] == "assistant":
                    prefill = messages.pop()["content"]
                with gen_lock:
                    comps = backend.generate([Request(messages=messages, prefill=prefill, **common)])[0]
            else:
                prompt = _prompt_text(body)
                raw = getattr(backend, "generate_raw", None)
                with gen_lock:
                    if raw is not None:
                        comps = raw([prompt], [Request(messages=[], **common)])[0]
                    else:
                        comps = backend.generate([Request(messages=[{"role": "user", "content": prompt}], **common)])[0]
            return [{"text": c.text, "finish_reason": c.finish_reason if c.finish_reason != "error" else "abort",
                     "reasoning_content": c.reasoning, "completion_tokens": c.completion_tokens,
                     "prompt_tokens": c.prompt_tokens, "error": c.error} for c in comps]

        srv._batch = batch
        return srv

    # -- request handling (called from handler threads) -----------------------------------------
    def _enter(self, path: str, body: dict, headers: dict) -> None:
        with self._lock:
            self.requests.append(body)
            self.paths.append(path)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _resolve(self, ans: Answer) -> tuple[str, Any]:
        """Follow delays; return ("ok", dict) | ("status", Fault) | ("drop", None)."""
        while isinstance(ans, Fault) and ans.kind == "delay":
            if self._closing.wait(ans.seconds):
                return "drop", None
            ans = ans.then
        if isinstance(ans, Fault):
            return ("drop", None) if ans.kind == "drop" else ("status", ans)
        if isinstance(ans, str):
            return "ok", {"text": ans}
        if isinstance(ans, dict):
            return "ok", ans
        raise TypeError(f"responder returned {type(ans).__name__}; want str, dict or Fault")

    def _answer(self, path: str, body: dict) -> tuple[str, Any]:
        chat = path.endswith("/chat/completions")
        if body.get("stream"):
            return "ok", (400, {"error": {"message": "stream is not supported by the scripted server", "type": "invalid_request_error"}})
        if self._batch is not None:
            choices = self._batch(path, body)
        else:
            n = 1 if self.ignore_n else max(1, int(body.get("n") or 1))
            choices = []
            for _ in range(n):
                with self._lock:
                    index = next(self._counter)
                kind, val = self._resolve(self._responder(body, index))
                if kind == "drop":
                    return "drop", None
                if kind == "status":
                    err = val.body if val.body is not None else {
                        "error": {"message": f"scripted HTTP {val.code}", "type": "server_error", "code": val.code}}
                    return "status", (val.code, err)
                choices.append(val)
        return "ok", (200, self._reply(chat, body, choices))

    def _reply(self, chat: bool, body: dict, choices: list[dict]) -> dict:
        prompt_tokens = next((c["prompt_tokens"] for c in choices if c.get("prompt_tokens") is not None),
                             count_words(_prompt_text(body)))
        out, completion_tokens = [], 0
        for i, c in enumerate(choices):
            text, hit = _cut_at_stop(str(c.get("text") or ""), body.get("stop"))
            finish = "stop" if hit else c.get("finish_reason", "stop")
            toks = c["completion_tokens"] if c.get("completion_tokens") is not None else \
                count_words(text) + count_words(c.get("reasoning_content") or c.get("reasoning"))
            completion_tokens += toks
            choice: dict[str, Any] = {"index": i, "finish_reason": finish, "logprobs": None}
            extra = {k: c[k] for k in ("reasoning_content", "reasoning") if c.get(k) is not None}
            if chat:
                choice["message"] = {"role": "assistant", "content": text, **extra}
            else:
                choice["text"] = text
                choice.update(extra)
            out.append(choice)
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": out,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop serving; pending delays end at once and their connections are dropped."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=CLOSE_GRACE_S)

    def __enter__(self) -> "ScriptedServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScriptedServer({self.base_url}, {len(self.requests)} requests)"


def _echo(body: dict, index: int) -> str:
    """Default responder: echo the last message (or the prompt)."""
    msgs = body.get("messages")
    return f"echo: {msgs[-1].get('content', '') if msgs else _prompt_text(body)}"


if __name__ == "__main__":
    with ScriptedServer() as _srv:
        print(f"serving {_srv.base_url} (echo); Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
