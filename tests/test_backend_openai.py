"""The openai backend against a real HTTP server on 127.0.0.1 (reasonflux.testing.server), with faults."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from reasonflux.backends import load_backend
from reasonflux.backends.openai_api import OpenAIBackend
from reasonflux.chat import THINK_PREFILL, render_request
from reasonflux.testing.server import Fault, ScriptedServer
from reasonflux.types import Request

FAST = dict(backoff_base=0.001, backoff_max=0.01)  # retries without real waiting


def ask(text: str = "What is 2+3?", **kw) -> Request:
    return Request(messages=[{"role": "user", "content": text}], **kw)


def backend(srv: ScriptedServer, **kw) -> OpenAIBackend:
    return OpenAIBackend("test-model", base_url=srv.base_url, **{**FAST, **kw})


def test_survives_500_500_200() -> None:
    with ScriptedServer(responses=[Fault.status(500), Fault.status(500), "It is 5."]) as srv:
        [[c]] = backend(srv).generate([ask()])
        assert (c.text, c.finish_reason, c.error) == ("It is 5.", "stop", None)
        assert len(srv.requests) == 3
        assert srv.paths == ["/v1/chat/completions"] * 3


def test_dropped_connection_then_200() -> None:
    with ScriptedServer(responses=[Fault.drop(), "ok"]) as srv:
        [[c]] = backend(srv).generate([ask()])
        assert c.text == "ok" and len(srv.requests) == 2


def test_slow_reply_times_out_and_is_retried() -> None:
    with ScriptedServer(responses=[Fault.delay(3.0, then="too late"), "fast"]) as srv:
        t0 = time.monotonic()
        [[c]] = backend(srv, request_timeout=0.5).generate([ask()])
        assert c.text == "fast" and len(srv.requests) == 2
        assert time.monotonic() - t0 < 2.5  # gave up on the slow reply after 0.5 s (close() ends its delay)
    with ScriptedServer(responses=[Fault.delay(0.2, then="slow but in time")]) as srv:
        [[c]] = backend(srv, request_timeout=0.5).generate([ask()])
        assert c.text == "slow but in time" and len(srv.requests) == 1 and c.latency_s >= 0.2


def test_n_when_the_server_ignores_n() -> None:
    with ScriptedServer(responses=["a", "b", "c"], ignore_n=True) as srv:
        [comps] = backend(srv, seed=10).generate([ask(n=3, temperature=0.7)])
        assert sorted(c.text for c in comps) == ["a", "b", "c"]
        assert srv.requests[0]["n"] == 3 and [r["n"] for r in srv.requests[1:]] == [1, 1]
        assert len({r["seed"] for r in srv.requests}) == 3  # extra calls must not repeat the sample
    with ScriptedServer(responses=["x", "y", "z"]) as srv:  # a server that honours n: one call
        [comps] = backend(srv).generate([ask(n=3)])
        assert [c.text for c in comps] == ["x", "y", "z"] and len(srv.requests) == 1


def test_reasoning_content_finish_reasons_and_token_split() -> None:
    script = [{"text": "The answer is 5.", "reasoning_content": "2 plus 3 is 5", "completion_tokens": 11},
              {"text": "cut off", "reasoning": "thinking", "finish_reason": "length", "completion_tokens": 5}]
    with ScriptedServer(responses=script) as srv:
        [[a, b]] = backend(srv).generate([ask(n=2)])
        assert (a.text, a.reasoning, a.finish_reason) == ("The answer is 5.", "2 plus 3 is 5", "stop")
        assert (b.text, b.reasoning, b.finish_reason) == ("cut off", "thinking", "length")
        # usage is aggregate (16); split over the choices in proportion to their lengths
        assert a.completion_tokens + b.completion_tokens == 16 and a.completion_tokens > b.completion_tokens
        assert a.prompt_tokens == b.prompt_tokens == 3  # the scripted server counts words: "What is 2+3?"
        assert a.latency_s > 0


def test_deepseek_r1_format_sends_the_rendered_prompt_to_completions() -> None:
    msgs = [{"role": "user", "content": "Find x if 2x+1=7."}]
    with ScriptedServer(responses=["x = 3</think>\\boxed{3}"]) as srv:
        [[c]] = backend(srv, format="deepseek-r1").generate([Request(messages=msgs, prefill=THINK_PREFILL, stop=["</think>"])])
        assert srv.paths == ["/v1/completions"]
        body = srv.requests[0]
        assert body["prompt"] == render_request("deepseek-r1", msgs, THINK_PREFILL)
        assert body["prompt"].endswith("<｜Assistant｜><think>\n") and "messages" not in body
        assert body["stop"][0] == "</think>" and c.text == "x = 3"  # stop strings are not in the text


def test_prefill_is_continued_via_continue_final_message() -> None:
    with ScriptedServer(responses=["more thoughts"]) as srv:
        [[c]] = backend(srv).generate([ask(prefill="<think>\nLet me see.", max_tokens=33, top_p=0.9, temperature=0.6,
                                           stop=["STOP"], seed=5)])
        body = srv.requests[0]
        assert body["messages"] == [{"role": "user", "content": "What is 2+3?"},
                                    {"role": "assistant", "content": "<think>\nLet me see."}]
        assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
        assert (body["max_tokens"], body["top_p"], body["temperature"], body["stop"], body["seed"], body["model"]) == \
            (33, 0.9, 0.6, ["STOP"], 5, "test-model")
        assert c.text == "more thoughts"
        [[_]] = backend(srv).generate([ask()])
        assert "continue_final_message" not in srv.requests[1] and "stop" not in srv.requests[1]


def test_always_500_yields_errors_and_the_batch_goes_on() -> None:
    def responder(body: dict, index: int):
        return Fault.status(500, "boom") if "bad" in body["messages"][-1]["content"] else "fine"

    seen: list[tuple[int, str]] = []
    with ScriptedServer(responder) as srv:
        t0 = time.monotonic()
        out = backend(srv, max_retries=2).generate([ask("good"), ask("bad", n=2), ask("good too")],
                                                   progress=lambda i, c: seen.append((i, c.finish_reason)))
        assert time.monotonic() - t0 < 5
        assert [c.text for c in out[0]] == ["fine"] and [c.text for c in out[2]] == ["fine"]
        assert [c.finish_reason for c in out[1]] == ["error", "error"]
        assert out[1][0].error == "HTTP 500 after 3 tries: boom" and out[1][0].text == ""
        assert sum("bad" in r["messages"][-1]["content"] for r in srv.requests) == 3
        assert sorted(seen) == [(0, "stop"), (1, "error"), (1, "error"), (2, "stop")]


def test_client_errors_are_not_retried_and_api_key_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RF_TEST_KEY", "sk-test")
    with ScriptedServer(responses=[Fault.status(400, {"error": {"message": "context too long"}})]) as srv:
        [[c]] = backend(srv, api_key_env="RF_TEST_KEY").generate([ask()])
        assert c.finish_reason == "error" and c.error.startswith("HTTP 400: ") and "context too long" in c.error
        assert len(srv.requests) == 1
        assert srv.headers[0].get("Authorization") == "Bearer sk-test"
    with ScriptedServer() as srv:  # no key in the environment: no header (local servers need none)
        backend(srv, api_key_env="RF_TEST_KEY_UNSET").generate([ask()])
        assert "Authorization" not in srv.headers[0]


def test_concurrency_bound_is_respected() -> None:
    with ScriptedServer(responses=[Fault.delay(0.1, then="done")]) as srv:
        out = backend(srv, concurrency=3).generate([ask(f"q{i}") for i in range(12)])
        assert [c.text for comps in out for c in comps] == ["done"] * 12
        assert srv.max_in_flight == 3  # bounded, and the bound is actually used


def test_generate_inside_a_running_loop_and_from_threads() -> None:
    with ScriptedServer(responses=["hi"]) as srv:
        b = load_backend("openai", model="m", base_url=srv.base_url, batch_size=3, device="cpu")  # ignores other fields

        async def inside() -> list:
            return b.generate([ask()])

        assert asyncio.run(inside())[0][0].text == "hi"
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(b.generate([ask()]))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert [r[0][0].text for r in results] == ["hi"] * 3


def test_model_auto_asks_the_server() -> None:
    with ScriptedServer(responses=["hi"], model="served-name") as srv:
        OpenAIBackend("auto", base_url=srv.base_url).generate([ask()])
        assert srv.requests[0]["model"] == "served-name"


def test_solve_cli_end_to_end() -> None:
    with ScriptedServer(responses=[{"text": "So the answer is \\boxed{5}.", "reasoning_content": "2+3 = 5"}]) as srv:
        env = dict(os.environ, REASONFLUX_DEBUG="1")
        p = subprocess.run([sys.executable, "-m", "reasonflux.cli", "solve", "2+3?", "--backend", "openai",
                            "--model", "m", "--base-url", srv.base_url, "--json"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert out["text"] == "So the answer is \\boxed{5}." and out["reasoning"] == "2+3 = 5"
        assert out["finish_reason"] == "stop" and out["extracted"] == "5" and out["completion_tokens"] > 0
        assert srv.requests[0]["messages"] == [{"role": "user", "content": "2+3?"}]
