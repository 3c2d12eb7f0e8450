"""Training data: our chat format's tokens, assistant-only labels, cutoff handling.

The tiny tokenizer's own template behaves like the R1-distill one (it deletes the reasoning from
assistant turns); these tests prove training never goes through it.
"""

from __future__ import annotations

import json

import pytest

from reasonflux.chat import ASSISTANT, EOS, THINK_PREFILL, get_format, render

REASONING = "Let me think step by step. 2+3 = 5."
CONV = [
    {"role": "system", "content": "Please reason step by step."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": f"{THINK_PREFILL}{REASONING}\n</think>\n\nThe answer is \\boxed{{5}}."},
    {"role": "user", "content": "Find x if 2x+1=7."},
    {"role": "assistant", "content": f"{THINK_PREFILL}Subtract 1, divide by 2.\n</think>\n\nFinal Answer: \\boxed{{3}}"},
]


@pytest.fixture(scope="module")
def tok():
    from reasonflux.testing.tiny import build_tokenizer

    return build_tokenizer()


def _saved_tokenizer(tok, tmp_path):
    """The tokenizer as training saves it: our format's template, written and read back."""
    from transformers import AutoTokenizer

    tok.chat_template = get_format("deepseek-r1").jinja()
    tok.save_pretrained(tmp_path)
    return AutoTokenizer.from_pretrained(tmp_path)


def test_training_prompt_tokens_equal_inference_prompt_tokens(tok, tmp_path):
    from reasonflux.testing.tiny import R1_DISTILL_STYLE_TEMPLATE
    from reasonflux.train.data import IGNORE_INDEX, tokenize_conversation

    # the trap: the base template drops the reasoning of assistant turns
    tok.chat_template = R1_DISTILL_STYLE_TEMPLATE
    assert REASONING not in tok.apply_chat_template(CONV, tokenize=False)

    ids, labels = tokenize_conversation(CONV, tok, "deepseek-r1")
    saved = _saved_tokenizer(tok, tmp_path)
    for upto in (2, 4):  # before each assistant turn
        prompt = saved.apply_chat_template(CONV[:upto], add_generation_prompt=True, tokenize=True)["input_ids"]
        assert ids[: len(prompt)] == prompt
        assert saved.decode(prompt).endswith(ASSISTANT + THINK_PREFILL)
    # the assistant part keeps its reasoning, and it is what the loss sees
    trained = saved.decode([t for t, lab in zip(ids, labels) if lab != IGNORE_INDEX])
    assert REASONING in trained and trained.count("<think>") == 2 and trained.count(EOS) == 2


def test_labels_are_ignored_exactly_on_non_assistant_tokens(tok):
    """Checked against an independent derivation: character spans of the assistant turns in the
    whole rendered text, mapped to tokens through the tokenizer's offsets."""
    from reasonflux.train.data import IGNORE_INDEX, tokenize_conversation

    ids, labels = tokenize_conversation(CONV, tok, "deepseek-r1")
    text = render("deepseek-r1", CONV, add_generation_prompt=False)
    spans, start = [], 0
    for m in CONV:
        if m["role"] == "assistant":
            piece = m["content"] + EOS
            at = text.index(ASSISTANT + piece, start) + len(ASSISTANT)
            spans.append((at, at + len(piece)))
            start = at + len(piece)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == ids  # pieces tokenised apart == the whole text tokenised at once
    expected = [any(a <= s and e <= b for a, b in spans) for s, e in enc["offset_mapping"]]
    assert [lab != IGNORE_INDEX for lab in labels] == expected
    assert all(lab == t for t, lab in zip(ids, labels) if lab != IGNORE_INDEX)
    assert 0 < sum(expected) < len(ids)


def test_cutoff_drops_and_counts_or_truncates(tok):
    from reasonflux.train.data import IGNORE_INDEX, build_examples, tokenize_conversation

    short = CONV[1:3]
    n_short = len(tokenize_conversation(short, tok)[0])
    n_long = len(tokenize_conversation(CONV, tok)[0])
    rows, st = build_examples([short, CONV], tok, cutoff_len=n_short + 1)
    assert (st.kept, st.dropped_too_long, st.truncated, st.dropped_examples) == (1, 1, 0, [1])
    assert len(rows[0]["input_ids"]) == n_short and st.tokens == n_short

    rows, st = build_examples([short, CONV], tok, cutoff_len=n_short + 1, truncate=True)
    assert (st.kept, st.dropped_too_long, st.truncated) == (2, 0, 1)
    assert len(rows[1]["input_ids"]) == n_short + 1 < n_long
    assert len(rows[1]["labels"]) == n_short + 1

    # a cutoff inside the first prompt leaves nothing to learn: dropped, counted
    rows, st = build_examples([short], tok, cutoff_len=3, truncate=True)
    assert rows == [] and st.dropped_no_loss == 1
    assert IGNORE_INDEX == -100


def test_sharegpt_and_alpaca_rows_train_like_messages(tok, tmp_path):
    from reasonflux.train.data import load_examples

    msgs = CONV[1:3]
    (tmp_path / "m.jsonl").write_text(json.dumps({"messages": msgs}) + "\n")
    (tmp_path / "s.jsonl").write_text(json.dumps({"conversations": [{"from": "human", "value": msgs[0]["content"]},
                                                                    {"from": "gpt", "value": msgs[1]["content"]}]}) + "\n")
    (tmp_path / "a.jsonl").write_text(json.dumps({"instruction": msgs[0]["content"], "input": "", "output": msgs[1]["content"]}) + "\n")
    got = [load_examples(str(tmp_path / f), tok, cutoff_len=512)[0] for f in ("m.jsonl", "s.jsonl", "a.jsonl")]
    assert got[0] == got[1] == got[2] and len(got[0]) == 1


def test_chatml_format_and_refused_formats(tok):
    from reasonflux.chat import IM_END
    from reasonflux.train.data import IGNORE_INDEX, segments, tokenize_conversation

    pieces = segments("chatml", CONV[1:3])
    assert [a for _, a in pieces] == [False, True]
    assert pieces[0][0].endswith("<|im_start|>assistant\n") and pieces[1][0].endswith(IM_END + "\n")
    ids, labels = tokenize_conversation(CONV[1:3], tok, "chatml")
    assert labels[0] == IGNORE_INDEX and labels[-1] != IGNORE_INDEX
    with pytest.raises(ValueError, match="no template"):
        segments("model", CONV)  # the tokenizer's own template may drop the reasoning
    late_system = CONV[1:3] + [{"role": "system", "content": "late"}] + CONV[3:]
    with pytest.raises(ValueError, match="cannot split"):
        segments("deepseek-r1", late_system)  # deepseek-r1 moves system text to the front
