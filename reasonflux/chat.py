"""Chat formats (explicit and versioned) and the reasoning/answer split.

Formats:
  ``deepseek-r1`` (v1)  R1-distill / ReasonFlux-F1: BOS, system text, ``<｜User｜>`` turns,
                        ``<｜Assistant｜>`` turns closed by EOS; the generation prompt may prefill
                        ``<think>\\n``. Assistant turns keep their reasoning (the tokenizer's own
                        template drops everything up to ``</think>``; training through it silently
                        trains on answers only).
  ``chatml``   (v1)     Qwen ``<|im_start|>role\\n…<|im_end|>\\n``; no default system prompt.
  ``model``             the tokenizer's own ``chat_template``.

The Jinja files in ``chat_templates/`` render exactly what :func:`render` renders; training writes
them into the saved tokenizer so that inference on a checkpoint sees the training format.

    python -c "from reasonflux.chat import render; print(render('deepseek-r1', [{'role':'user','content':'1+1?'}], think=True))"
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
THINK_PREFILL = "<think>\n"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
R1_SPECIAL_TOKENS = [BOS, EOS, USER, ASSISTANT, THINK_OPEN, THINK_CLOSE]


@dataclass(frozen=True)
class ChatFormat:
    name: str
    version: str
    stop: tuple[str, ...]
    template_file: str | None  # Jinja file in reasonflux/chat_templates, None for "model"

    def jinja(self) -> str:
        if self.template_file is None:
            raise ValueError(f"chat format {self.name!r} has no template of its own")
        return resources.files("reasonflux.chat_templates").joinpath(self.template_file).read_text()


FORMATS: dict[str, ChatFormat] = {
    "deepseek-r1": ChatFormat("deepseek-r1", "1", (EOS,), "deepseek-r1.jinja"),
    "chatml": ChatFormat("chatml", "1", (IM_END, "<|endoftext|>"), "chatml.jinja"),
    "model": ChatFormat("model", "1", (), None),
}


def get_format(name: str) -> ChatFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown chat format {name!r}; choose one of {', '.join(FORMATS)}") from None


def _render_deepseek_r1(messages: list[dict[str, str]], add_generation_prompt: bool, think: bool) -> str:
    system = "".join(m["content"] for m in messages if m["role"] == "system")
    out = [BOS, system]
    for m in messages:
        if m["role"] == "user":
            out.append(USER + m["content"])
        elif m["role"] == "assistant":
            out.append(ASSISTANT + m["content"] + EOS)
    if add_generation_prompt:
        out.append(ASSISTANT + (THINK_PREFILL if think else ""))
    return "".join(out)


def _render_chatml(messages: list[dict[str, str]], add_generation_prompt: bool, think: bool) -> str:
    out = [f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages]
    if add_generation_prompt:
        out.append(f"{IM_START}assistant\n" + (THINK_PREFILL if think else ""))
    return "".join(out)


def render(
    fmt: str,
    messages: list[dict[str, str]],
    *,
    tokenizer: Any = None,
    add_generation_prompt: bool = True,
    think: bool = False,
) -> str:
    """Render ``messages`` as one prompt string in chat format ``fmt``.

    ``think`` prefills ``<think>\\n`` after the generation prompt (skipped when the model's own
    template already ends with it).
    """
    for m in messages:
        if "role" not in m or "content" not in m:
            raise ValueError(f"chat message needs 'role' and 'content': {m!r}")
    if fmt == "deepseek-r1":
        return _render_deepseek_r1(messages, add_generation_prompt, think)
    if fmt == "chatml":
        return _render_chatml(messages, add_generation_prompt, think)
    if fmt == "model":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat format 'model' needs a tokenizer with a chat_template; use --format deepseek-r1 or chatml")
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        if add_generation_prompt and think and not text.endswith(THINK_PREFILL):
            text += THINK_PREFILL
        return text
    get_format(fmt)  # raises with the list of formats
    raise AssertionError("unreachable")


@dataclass
class Split:
    """A model output split into reasoning and final answer part.

    ``answer`` is None when the reasoning never closed (truncated: there is no answer).
    """

    reasoning: str
    answer: str | None
    truncated: bool


def split_reasoning(text: str, *, prefilled: bool = False) -> Split:
    """Split ``text`` at the last ``</think>``.

    ``prefilled``: the prompt already opened ``<think>`` so the text starts inside the reasoning.
    No close tag with an open one (in the text or prefilled) means truncated reasoning: no answer.
    Text without any tags is all answer.
    """
    if THINK_CLOSE in text:
        reasoning, _, answer = text.rpartition(THINK_CLOSE)
        reasoning = reasoning.split(THINK_OPEN, 1)[1] if THINK_OPEN in reasoning else reasoning
        return Split(reasoning.strip("\n"), answer.strip(), False)
    if THINK_OPEN in text or prefilled:
        reasoning = text.split(THINK_OPEN, 1)[1] if THINK_OPEN in text else text
        return Split(reasoning.strip("\n"), None, True)
    return Split("", text.strip(), False)


def split_completion(text: str, reasoning: str | None = None, *, prefilled: bool = False) -> Split:
    """Like :func:`split_reasoning`, honouring a server that returned reasoning separately."""
    if reasoning:
        inner = split_reasoning(text, prefilled=False)
        return Split(reasoning.strip("\n"), inner.answer, inner.truncated)
    return split_reasoning(text, prefilled=prefilled)


def render_request(fmt: str, messages: list[dict[str, str]], prefill: str = "", *, tokenizer: Any = None) -> str:
    """The full prompt text a backend feeds its engine: generation prompt plus ``prefill``.

    A prefill the template already emits (the R1-distill template ends with ``<think>\\n``) is not
    doubled.
    """
    text = render(fmt, messages, tokenizer=tokenizer, add_generation_prompt=True)
    if prefill:
        for cut in range(len(prefill), 0, -1):  # longest suffix of the prompt that starts prefill
            if text.endswith(prefill[:cut]):
                return text + prefill[cut:]
        return text + prefill
    return text
