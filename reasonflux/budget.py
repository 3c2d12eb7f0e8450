"""Thinking budget (s1-style budget forcing) on top of any backend that honours ``Request.prefill``.

Round 1 generates reasoning with ``</think>`` as a stop string and at most ``max_thinking_tokens``
tokens. If the model closes its reasoning early and ``num_wait`` > 0, the close tag is suppressed
by appending ``"Wait"`` and the reasoning continues (up to ``num_wait`` times, within the same
budget). Then the think block is closed by us and the answer is forced with ``ANSWER_CUE``.
Works for hf and vllm (raw prompt continuation) and openai (continuation requests).

    reasonflux solve "What is 2+3?" --max-thinking-tokens 64 --wait 1
"""

from __future__ import annotations

from dataclasses import replace

from reasonflux.chat import THINK_CLOSE, THINK_PREFILL
from reasonflux.types import Completion, Request

WAIT = "Wait"
ANSWER_CUE = "Final Answer:"
CLOSE_AND_CUE = f"\n{THINK_CLOSE}\n\n{ANSWER_CUE}"


def generate_with_budget(
    backend,  # noqa: ANN001 - any reasonflux Backend
    requests: list[Request],
    *,
    max_thinking_tokens: int | None,
    num_wait: int = 0,
    answer_max_tokens: int | None = None,
) -> list[list[Completion]]:
    """Like ``backend.generate`` but with the reasoning capped at ``max_thinking_tokens``.

    Each returned completion's text is the whole continuation after the caller's prefill: the
    reasoning, ``</think>``, the cue and the answer. Token counts add up over rounds; latency too.
    """
    if max_thinking_tokens is None and num_wait <= 0:
        return backend.generate(requests)
    budget = max_thinking_tokens if max_thinking_tokens is not None else max(r.max_tokens for r in requests)
    # One state per (request, sample): samples diverge after the first round.
    states: list[dict] = []
    first = []
    for i, r in enumerate(requests):
        prefill = r.prefill if r.prefill.endswith(THINK_PREFILL) or "<think>" in r.prefill else r.prefill + THINK_PREFILL
        first.append(replace(r, prefill=prefill, stop=list(r.stop) + [THINK_CLOSE], max_tokens=min(budget, r.max_tokens)))
    outs = backend.generate(first)
    for i, (r, comps) in enumerate(zip(requests, outs)):
        added = first[i].prefill[len(r.prefill):]
        for c in comps:
            states.append({"req": i, "text": added + c.text, "used": c.completion_tokens, "c": c,
                           "prompt": c.prompt_tokens, "lat": c.latency_s, "waits": 0, "done": c.finish_reason != "stop",
                           "error": c.finish_reason == "error"})
    # Wait rounds: the model closed its reasoning; suppress the close and let it think more.
    for _ in range(max(0, num_wait)):
        todo = [s for s in states if not s["done"] and not s["error"] and s["used"] < budget]
        if not todo:
            break
        reqs = [replace(requests[s["req"]], n=1, prefill=requests[s["req"]].prefill + s["text"] + WAIT,
                        stop=list(requests[s["req"]].stop) + [THINK_CLOSE], max_tokens=budget - s["used"]) for s in todo]
        for s, comps in zip(todo, backend.generate(reqs)):
            c = comps[0]
            s["text"] += WAIT + c.text
            s["used"] += c.completion_tokens
            s["lat"] += c.latency_s
            s["waits"] += 1
            s["done"] = c.finish_reason != "stop"
            s["error"] = c.finish_reason == "error"
            if s["error"]:
                s["c"] = c  # report the failing round, not the first one
    # Close the think block and force the answer.
    live = [s for s in states if not s["error"]]
    reqs = []
    for s in live:
        r = requests[s["req"]]
        cap = answer_max_tokens if answer_max_tokens is not None else max(16, r.max_tokens - s["used"])
        reqs.append(replace(r, n=1, prefill=r.prefill + s["text"] + CLOSE_AND_CUE, max_tokens=cap))
    for s, comps in zip(live, backend.generate(reqs) if reqs else []):
        c = comps[0]
        s["text"] += CLOSE_AND_CUE + c.text
        s["used"] += c.completion_tokens
        s["lat"] += c.latency_s
        s["final"] = c.finish_reason
        s["final_error"] = c.error
    result: list[list[Completion]] = [[] for _ in requests]
    for s in states:
        if s["error"]:
            result[s["req"]].append(s["c"])
            continue
        result[s["req"]].append(Completion(text=s["text"], finish_reason=s.get("final", "stop"), prompt_tokens=s["prompt"],
                                           completion_tokens=s["used"], latency_s=s["lat"], error=s.get("final_error")))
    return result
