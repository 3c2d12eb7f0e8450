"""The hf backend on the tiny random Qwen2: n samples, true finish reasons and token counts, stop
strings, EOS, left-padded batching, progress, both engines (continuous batching runs on the CPU
too, with a small paged cache), and one-line errors for user mistakes."""

from __future__ import annotations

import re

import pytest

from reasonflux.errors import UserError
from reasonflux.types import Request

QUESTION = [{"role": "user", "content": "What is 2+3?"}]
LONGER = [{"role": "user", "content": "Compute the sum of the first ten positive integers, then add 7."}]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    from reasonflux.backends.hf import HFBackend

    b = HFBackend(str(tiny_model_dir), batch_size=8)
    yield b
    b.close()


@pytest.fixture(scope="module")
def cb_backend(backend):
    """The same model through transformers' continuous batching (``generate_batch``)."""
    from reasonflux.backends.hf import HFBackend

    return HFBackend.from_model(backend.model, backend.tokenizer, engine="continuous")


def test_n4_sampled_returns_four_length_capped_completions(backend):
    seen = []
    out = backend.generate([Request(QUESTION, n=4, temperature=1.0, max_tokens=6, seed=1)],
                           progress=lambda i, c: seen.append(i))
    assert len(out) == 1 and len(out[0]) == 4
    assert seen == [0, 0, 0, 0]
    prompt_tokens = len(backend.encode([Request(QUESTION)])[0])
    for c in out[0]:
        assert c.finish_reason == "length"
        assert c.completion_tokens == 6
        assert c.prompt_tokens == prompt_tokens
        assert c.latency_s > 0
    assert len({c.text for c in out[0]}) == 4  # independent samples


def test_greedy_n_copies_and_order_is_kept(backend):
    reqs = [Request(QUESTION, n=3, max_tokens=5), Request(LONGER, n=2, temperature=0.7, max_tokens=4, seed=3),
            Request(QUESTION, max_tokens=3)]
    out = backend.generate(reqs)
    assert [len(cs) for cs in out] == [3, 2, 1]
    assert len({c.text for c in out[0]}) == 1  # greedy samples are identical
    assert [c.completion_tokens for c in out[1]] == [4, 4]
    assert out[2][0].completion_tokens == 3
    assert out[0][0].text.startswith(out[2][0].text)  # same prompt, greedy, shorter cap


def test_left_padding_does_not_change_greedy_output(backend):
    alone = backend.generate([Request(QUESTION, max_tokens=8)])[0][0]
    batched = backend.generate([Request(LONGER, max_tokens=8), Request(QUESTION, max_tokens=8)])[1][0]
    assert batched.text == alone.text


def _pick_stop(text: str) -> tuple[str, int]:
    """A two-character ASCII stop string from ``text`` that first occurs after position 2."""
    for m in re.finditer(r"[A-Za-z]{2}", text):
        if m.start() >= 2 and text.find(m.group()) == m.start():
            return m.group(), m.start()
    pytest.skip("sample had no usable stop string")


@pytest.mark.parametrize("engine", ["generate", "continuous"])
def test_stop_string_trims_text_and_counts_tokens(backend, cb_backend, engine):
    b = backend if engine == "generate" else cb_backend
    base = Request(QUESTION, temperature=1.0, max_tokens=24, seed=7)
    full = b.generate([base])[0][0]
    assert full.finish_reason == "length" and full.completion_tokens == 24
    stop, pos = _pick_stop(full.text)
    cut = b.generate([Request(QUESTION, temperature=1.0, max_tokens=24, seed=7, stop=[stop])])[0][0]
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[:pos]  # the stop string and what follows are not in the text
    assert stop not in cut.text
    # completion_tokens = the tokens up to and including the one that completed the stop string
    k = cut.completion_tokens
    assert 1 <= k < 24
    upto = b.generate([Request(QUESTION, temperature=1.0, max_tokens=k, seed=7)])[0][0]
    before = b.generate([Request(QUESTION, temperature=1.0, max_tokens=k - 1, seed=7)])[0][0] if k > 1 else None
    assert stop in upto.text and (before is None or stop not in before.text)


@pytest.mark.parametrize("engine", ["generate", "continuous"])
def test_eos_gives_stop_and_counts_the_eos_token(backend, engine):
    from reasonflux.backends.hf import HFBackend

    first = backend.generate([Request(QUESTION, max_tokens=1)])[0][0]
    first_id = backend.tokenizer(first.text, add_special_tokens=False)["input_ids"][0]
    # make the greedy first token the end of sequence: the sample ends at once
    b = HFBackend.from_model(backend.model, backend.tokenizer, engine=engine, eos_token_ids=[first_id])
    c = b.generate([Request(QUESTION, n=2, max_tokens=10)])[0]
    assert [(x.text, x.finish_reason, x.completion_tokens) for x in c] == [("", "stop", 1)] * 2


def test_continuous_engine_matches_batched_generate(backend, cb_backend):
    reqs = [Request(QUESTION, max_tokens=6), Request(LONGER, n=3, temperature=0.9, max_tokens=5, seed=2)]
    a, b = backend.generate(reqs), cb_backend.generate(reqs)
    assert a[0][0].text == b[0][0].text  # greedy: same model, same tokens
    assert [len(x) for x in b] == [1, 3]
    assert all(c.finish_reason == "length" and c.completion_tokens == 5 for c in b[1])


def test_prefill_is_continued_not_returned(backend):
    req = Request(QUESTION, max_tokens=4, prefill="<think>\nFirst,")
    assert backend.prompt_text(req).endswith("<｜Assistant｜><think>\nFirst,")  # template's <think> not doubled
    c = backend.generate([req])[0][0]
    assert not c.text.startswith("<think>") and c.completion_tokens == 4


def test_explicit_formats(tiny_model_dir, backend):
    from reasonflux.backends.hf import HFBackend

    b = HFBackend.from_model(backend.model, backend.tokenizer, format="deepseek-r1")
    assert b.prompt_text(Request(QUESTION)) == "<｜begin▁of▁sentence｜><｜User｜>What is 2+3?<｜Assistant｜>"
    ids = b.encode([Request(QUESTION)])[0]
    assert ids.count(backend.tokenizer.bos_token_id) == 1  # the template's BOS, no second one


def test_user_errors_are_one_line(tiny_model_dir, tmp_path, backend):
    from reasonflux.backends.hf import HFBackend

    with pytest.raises(UserError, match="does not exist") as e:
        HFBackend(str(tmp_path / "no-such-model"))
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="unknown chat format"):
        HFBackend(str(tiny_model_dir), format="alpaca")
    import copy

    bare = copy.deepcopy(backend.tokenizer)
    bare.chat_template = None
    with pytest.raises(UserError, match="no chat template"):
        HFBackend.from_model(backend.model, bare)
    assert HFBackend.from_model(backend.model, bare, format="chatml").format == "chatml"


def test_close_frees_the_model(tiny_model_dir):
    from reasonflux.backends import load_backend

    b = load_backend("hf", model=str(tiny_model_dir), format="model", device="cpu", dtype="float32", base_url="ignored")
    assert b.name == "hf" and b.tokenizer is not None
    b.close()
    assert b.model is None
    b.close()  # twice is fine
