"""Chat formats render exact, versioned prompt strings; our Jinja files render the same strings as
:func:`reasonflux.chat.render`; the reasoning/answer split handles prefill, truncation and no tags."""

from __future__ import annotations

import copy

import pytest

from reasonflux.chat import FORMATS, render, render_request, split_completion, split_reasoning
from reasonflux.testing.tiny import build_tokenizer

SYSTEM = {"role": "system", "content": "Be brief."}
USER1 = {"role": "user", "content": "1+1?"}
ASSISTANT1 = {"role": "assistant", "content": "<think>\nadd one and one\n</think>\n\n2"}
USER2 = {"role": "user", "content": "2+2?"}
MULTI_TURN = [SYSTEM, USER1, ASSISTANT1, USER2]
PROMPTS_WITHOUT_ASSISTANT = [[USER1], [SYSTEM, USER1], [USER1, USER2]]


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny tokenizer; its own template behaves like the R1-distill tokenizer's."""
    return build_tokenizer()


def _with_template(tok, jinja: str):
    t = copy.deepcopy(tok)
    t.chat_template = jinja
    return t


def test_deepseek_r1_exact_strings():
    assert render("deepseek-r1", [USER1]) == "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜>"
    assert render("deepseek-r1", [USER1], think=True) == "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜><think>\n"
    assert render("deepseek-r1", MULTI_TURN, think=True) == (
        "<｜begin▁of▁sentence｜>Be brief.<｜User｜>1+1?<｜Assistant｜><think>\nadd one and one\n</think>\n\n2"
        "<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n"
    )
    assert render("deepseek-r1", MULTI_TURN, add_generation_prompt=False).endswith("<｜User｜>2+2?")


def test_chatml_exact_strings():
    assert render("chatml", [SYSTEM, USER1]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render("chatml", [USER1], think=True) == "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert render("chatml", MULTI_TURN, add_generation_prompt=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nadd one and one\n</think>\n\n2<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
    )


def test_model_format_is_the_tokenizer_template(tokenizer):
    assert render("model", [USER1], tokenizer=tokenizer) == "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜><think>\n"
    # think=True does not double a <think> the template already emits
    assert render("model", [USER1], tokenizer=tokenizer, think=True) == render("model", [USER1], tokenizer=tokenizer)
    # the R1-distill-style template drops the reasoning of earlier assistant turns (the trap we avoid)
    assert "add one and one" not in render("model", MULTI_TURN, tokenizer=tokenizer)


def test_model_format_needs_a_template(tokenizer):
    bare = _with_template(tokenizer, None)
    with pytest.raises(ValueError, match="chat_template"):
        render("model", [USER1], tokenizer=bare)
    with pytest.raises(ValueError, match="unknown chat format"):
        render("alpaca", [USER1])


def test_deepseek_r1_jinja_equals_render(tokenizer):
    tok = _with_template(tokenizer, FORMATS["deepseek-r1"].jinja())
    for msgs in [MULTI_TURN, [USER1, ASSISTANT1], *PROMPTS_WITHOUT_ASSISTANT]:
        # the Jinja generation prompt opens the think block, like the R1-distill template
        assert tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == render("deepseek-r1", msgs, think=True)
        assert tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False) == render(
            "deepseek-r1", msgs, add_generation_prompt=False)
    # and the same token ids (what training and inference must share)
    text = render("deepseek-r1", MULTI_TURN, think=True)
    assert tok.apply_chat_template(MULTI_TURN, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"] == \
        tok(text, add_special_tokens=False)["input_ids"]


def test_deepseek_r1_think_equals_r1_distill_template_without_assistant_turns(tokenizer):
    for msgs in PROMPTS_WITHOUT_ASSISTANT:
        assert render("deepseek-r1", msgs, think=True) == tokenizer.apply_chat_template(
            msgs, tokenize=False, add_generation_prompt=True)


def test_chatml_jinja_equals_render(tokenizer):
    tok = _with_template(tokenizer, FORMATS["chatml"].jinja())
    for msgs in [MULTI_TURN, *PROMPTS_WITHOUT_ASSISTANT]:
        for gen in (True, False):
            assert tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen) == render(
                "chatml", msgs, add_generation_prompt=gen)


def test_render_request_prefill_is_not_doubled(tokenizer):
    assert render_request("deepseek-r1", [USER1], "<think>\n") == "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜><think>\n"
    # the R1-distill template already ends with <think>\n: only the rest of the prefill is added
    assert render_request("model", [USER1], "<think>\nLet me", tokenizer=tokenizer).endswith("<｜Assistant｜><think>\nLet me")
    assert render_request("chatml", [USER1], "Sure") == render("chatml", [USER1]) + "Sure"


def test_split_reasoning_cases():
    s = split_reasoning("<think>\nadd them\n</think>\n\nThe answer is 5.")
    assert (s.reasoning, s.answer, s.truncated) == ("add them", "The answer is 5.", False)
    # prefilled open tag: the text starts inside the reasoning
    s = split_reasoning("add them\n</think>\nThe answer is 5.", prefilled=True)
    assert (s.reasoning, s.answer, s.truncated) == ("add them", "The answer is 5.", False)
    # missing close tag = truncated: no answer at all
    s = split_reasoning("add them and then", prefilled=True)
    assert (s.reasoning, s.answer, s.truncated) == ("add them and then", None, True)
    s = split_reasoning("<think>\nadd them and then")
    assert (s.reasoning, s.answer, s.truncated) == ("add them and then", None, True)
    # no tags and no prefill: all answer
    s = split_reasoning("The answer is 5.")
    assert (s.reasoning, s.answer, s.truncated) == ("", "The answer is 5.", False)
    # the last close tag wins (a model that quotes the tag while thinking)
    s = split_reasoning("<think>a </think> b</think>c")
    assert (s.reasoning, s.answer) == ("a </think> b", "c")


def test_split_completion_with_server_reasoning():
    s = split_completion("The answer is 5.", "add them")
    assert (s.reasoning, s.answer, s.truncated) == ("add them", "The answer is 5.", False)
    s = split_completion("add them\n</think>\n5", None, prefilled=True)
    assert (s.reasoning, s.answer) == ("add them", "5")
