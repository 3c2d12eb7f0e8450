"""The scripted OpenAI-compatible server, exercised over real HTTP with httpx."""

from __future__ import annotations

import time

import httpx
import pytest

from reasonflux.testing.server import Fault, ScriptedServer


def post(srv: ScriptedServer, path: str, body: dict, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(srv.base_url + path, json=body, timeout=timeout)


def test_models_and_chat_shape() -> None:
    with ScriptedServer(responses=["five is the answer"], model="m1") as srv:
        models = httpx.get(srv.base_url + "/models").json()
        assert [m["id"] for m in models["data"]] == ["m1"]
        r = post(srv, "/chat/completions", {"model": "x", "messages": [{"role": "user", "content": "what is 2 + 3"}]})
        assert r.status_code == 200
        d = r.json()
        assert d["object"] == "chat.completion" and d["id"].startswith("chatcmpl-") and d["model"] == "x"
        assert d["choices"] == [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                 "message": {"role": "assistant", "content": "five is the answer"}}]
        assert d["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
        assert srv.requests[0]["messages"][0]["content"] == "what is 2 + 3"
        assert srv.paths == ["/v1/chat/completions"]


def test_completions_n_reasoning_stop_and_counts() -> None:
    script = [{"text": "a b</think>tail", "reasoning_content": "r1 r2", "completion_tokens": 9, "finish_reason": "length"},
              "c d e"]
    with ScriptedServer(responses=script) as srv:
        d = post(srv, "/completions", {"prompt": "p q", "n": 3, "stop": ["</think>"]}).json()
        assert d["object"] == "text_completion"
        texts = [c["text"] for c in d["choices"]]
        assert texts == ["a b", "c d e", "a b"]  # stop cut, cycling script
        assert [c["finish_reason"] for c in d["choices"]] == ["stop", "stop", "stop"]  # a stop hit wins over scripted length
        assert d["choices"][0]["reasoning_content"] == "r1 r2"
        assert d["usage"]["completion_tokens"] == 9 + 3 + 9
        d2 = post(srv, "/completions", {"prompt": "p", "n": 1}).json()
        assert d2["choices"][0]["text"] == "c d e"  # the running index carries across requests


def test_ignore_n_and_responder_index() -> None:
    seen = []

    def responder(body: dict, index: int) -> str:
        seen.append(index)
        return f"sample {index}"

    with ScriptedServer(responder, ignore_n=True) as srv:
        d = post(srv, "/chat/completions", {"messages": [{"role": "user", "content": "q"}], "n": 4}).json()
        assert [c["message"]["content"] for c in d["choices"]] == ["sample 0"]
        post(srv, "/chat/completions", {"messages": [{"role": "user", "content": "q"}], "n": 4})
        assert seen == [0, 1]


def test_faults_status_delay_drop() -> None:
    script = [Fault.status(503), Fault.status(429, {"error": {"message": "slow down"}}), Fault.status(500, "plain"),
              Fault.delay(0.3, then="late"), Fault.delay(0.01, then=Fault.status(502)), Fault.drop(), "ok"]
    with ScriptedServer(responses=script) as srv:
        chat = {"messages": [{"role": "user", "content": "q"}]}
        r = post(srv, "/chat/completions", chat)
        assert r.status_code == 503 and r.json()["error"]["code"] == 503
        r = post(srv, "/chat/completions", chat)
        assert r.status_code == 429 and r.json() == {"error": {"message": "slow down"}}
        r = post(srv, "/chat/completions", chat)
        assert r.status_code == 500 and r.text == "plain"
        t0 = time.monotonic()
        r = post(srv, "/chat/completions", chat)
        assert r.json()["choices"][0]["message"]["content"] == "late" and time.monotonic() - t0 >= 0.3
        assert post(srv, "/chat/completions", chat).status_code == 502
        with pytest.raises(httpx.RemoteProtocolError):
            post(srv, "/chat/completions", chat)
        assert post(srv, "/chat/completions", chat).status_code == 200
        assert len(srv.requests) == 7
        assert post(srv, "/nope", chat).status_code == 404


def test_close_is_quick_with_a_pending_delay() -> None:
    srv = ScriptedServer(responses=[Fault.delay(30.0, then="never")])
    with pytest.raises(httpx.ReadTimeout):
        post(srv, "/chat/completions", {"messages": []}, timeout=0.2)
    t0 = time.monotonic()
    srv.close()
    assert time.monotonic() - t0 < 2.0
    with pytest.raises(httpx.ConnectError):
        post(srv, "/chat/completions", {"messages": []}, timeout=1.0)


def test_from_backend_serves_a_real_backend() -> None:
    """A server fronting the openai backend, which talks to a scripted server: a real chain."""
    from reasonflux.backends.openai_api import OpenAIBackend

    with ScriptedServer(responses=["inner says hi"]) as inner:
        backend = OpenAIBackend("m", base_url=inner.base_url, backoff_base=0.001)
        with ScriptedServer.from_backend(backend) as outer:
            body = {"model": "m", "n": 2, "max_tokens": 7, "temperature": 0.5, "seed": 3,
                    "messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "<think>\n"}],
                    "continue_final_message": True, "add_generation_prompt": False}
            d = post(outer, "/chat/completions", body).json()
            assert [c["message"]["content"] for c in d["choices"]] == ["inner says hi", "inner says hi"]
            sent = inner.requests[-1]
            assert sent["messages"][-1] == {"role": "assistant", "content": "<think>\n"}  # prefill went through
            assert (sent["n"], sent["max_tokens"], sent["temperature"], sent["seed"]) == (2, 7, 0.5, 3)
            d = post(outer, "/completions", {"prompt": "raw text", "max_tokens": 4}).json()
            assert d["choices"][0]["text"] == "inner says hi"
            assert inner.requests[-1]["messages"] == [{"role": "user", "content": "raw text"}]


def test_a_raising_responder_answers_500() -> None:
    def responder(body: dict, index: int) -> str:
        raise RuntimeError("scripted bug")

    with ScriptedServer(responder) as srv:
        r = post(srv, "/chat/completions", {"messages": []})
        assert r.status_code == 500 and "scripted bug" in r.json()["error"]["message"]


def test_from_backend_with_hf_on_the_tiny_model(tiny_model_dir) -> None:  # noqa: ANN001
    """Greedy text through HTTP (openai backend → server → hf) equals the hf backend's own."""
    from reasonflux.backends import load_backend
    from reasonflux.types import Request

    hf = load_backend("hf", model=str(tiny_model_dir), format="deepseek-r1", device="cpu")
    req = Request(messages=[{"role": "user", "content": "What is 2+3?"}], max_tokens=6, prefill="<think>\n")
    try:
        [[direct]] = hf.generate([req])
        with ScriptedServer.from_backend(hf) as srv:
            [[via]] = load_backend("openai", model="tiny", base_url=srv.base_url).generate([req])
    finally:
        hf.close()
    assert (via.text, via.finish_reason, via.completion_tokens, via.prompt_tokens) == \
        (direct.text, direct.finish_reason, direct.completion_tokens, direct.prompt_tokens)
