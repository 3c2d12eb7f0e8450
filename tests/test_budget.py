"""Budget forcing (s1): the reasoning stops at the cap and an answer is still forced; "Wait" suppresses
the end of thinking K times within the budget.

The cap is tested on the real hf backend with the tiny model (random weights rarely close their
reasoning). The Wait path needs a model that does close it, so it runs on ``ScriptedThinker``, a
deterministic backend written here: ``generate_with_budget`` accepts any backend, and this one
honours prefill, stop strings and max_tokens the way the real ones do.
"""

from __future__ import annotations

import pytest

from reasonflux.budget import ANSWER_CUE, CLOSE_AND_CUE, WAIT, generate_with_budget
from reasonflux.chat import THINK_CLOSE, THINK_PREFILL, split_reasoning
from reasonflux.types import Completion, Request

QUESTION = [{"role": "user", "content": "What is 2+3?"}]


class ScriptedThinker:
    """Thinks ``THOUGHT`` (one token per piece) then closes with ``</think>``; after the answer cue it
    answers `` 5`` and ends. Stop strings end a sample (not included in the text, finish "stop");
    ``max_tokens`` caps it (finish "length")."""

    name = "scripted"
    THOUGHT = ["add ", "two ", "and ", "three", THINK_CLOSE, "It is 5."]
    ANSWER = [" 5"]

    def __init__(self) -> None:
        self.calls: list[list[Request]] = []

    def generate(self, requests, progress=None):
        self.calls.append(list(requests))
        out = []
        for r in requests:
            pieces = self.ANSWER if r.prefill.endswith(ANSWER_CUE) else self.THOUGHT
            comps = []
            for _ in range(r.n):
                text, used, finish = "", 0, "stop"
                for piece in pieces:
                    if used == r.max_tokens:
                        finish = "length"
                        break
                    text += piece
                    used += 1
                    hit = next((s for s in r.stop if s in text), None)
                    if hit:
                        text = text[: text.index(hit)]
                        break
                comps.append(Completion(text=text, finish_reason=finish, prompt_tokens=10, completion_tokens=used,
                                        latency_s=0.01))
            out.append(comps)
        return out

    def close(self):
        pass


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    from reasonflux.backends.hf import HFBackend

    b = HFBackend(str(tiny_model_dir))
    yield b
    b.close()


def test_cap_stops_reasoning_and_still_yields_an_answer(tiny_backend):
    req = Request(QUESTION, max_tokens=64)
    (c,) = generate_with_budget(tiny_backend, [req], max_thinking_tokens=6, answer_max_tokens=5)[0]
    assert c.text.startswith(THINK_PREFILL) and CLOSE_AND_CUE in c.text
    # the reasoning is exactly what the model writes in 6 tokens after "<think>\n"
    six = tiny_backend.generate([Request(QUESTION, max_tokens=6, prefill=THINK_PREFILL)])[0][0]
    assert c.text.startswith(THINK_PREFILL + six.text + CLOSE_AND_CUE)
    assert c.completion_tokens == 6 + 5  # reasoning at the cap + the forced answer
    sp = split_reasoning(c.text)
    assert sp.answer is not None and sp.answer.startswith(ANSWER_CUE) and not sp.truncated
    assert c.finish_reason in ("stop", "length") and c.prompt_tokens > 0


def test_wait_suppresses_the_end_of_thinking_k_times():
    b = ScriptedThinker()
    (c,) = generate_with_budget(b, [Request(QUESTION, max_tokens=100)], max_thinking_tokens=50, num_wait=2)[0]
    thought = "add two and three"
    assert c.text == THINK_PREFILL + thought + WAIT + thought + WAIT + thought + CLOSE_AND_CUE + " 5"
    assert c.finish_reason == "stop"
    assert c.completion_tokens == 5 * 3 + 1  # three rounds of 4 pieces + the stop piece, then the answer
    first = b.calls[0][0]
    assert THINK_CLOSE in first.stop and first.max_tokens == 50 and first.prefill == THINK_PREFILL
    assert [len(calls) for calls in b.calls] == [1, 1, 1, 1]
    assert b.calls[1][0].max_tokens == 50 - 5  # later rounds get what is left of the budget
    assert split_reasoning(c.text).answer == "Final Answer: 5"


def test_wait_respects_the_budget_and_n():
    b = ScriptedThinker()
    out = generate_with_budget(b, [Request(QUESTION, n=2, temperature=0.7, max_tokens=100)], max_thinking_tokens=7,
                               num_wait=3)[0]
    assert len(out) == 2
    for c in out:
        # round 1 uses 5 of 7 tokens; the Wait round is cut at 2 tokens; no budget left for more waits
        assert c.text == THINK_PREFILL + "add two and three" + WAIT + "add two " + CLOSE_AND_CUE + " 5"
        assert c.completion_tokens == 5 + 2 + 1
    assert [len(calls) for calls in b.calls] == [1, 2, 2]  # n samples diverge after round 1


def test_without_budget_it_is_plain_generate():
    b = ScriptedThinker()
    (c,) = generate_with_budget(b, [Request(QUESTION)], max_thinking_tokens=None, num_wait=0)[0]
    assert c.text == "add two and three" + THINK_CLOSE + "It is 5."
    assert len(b.calls) == 1
