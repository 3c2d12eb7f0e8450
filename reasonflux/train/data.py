"""SFT data for training: conversations → ``input_ids`` + ``labels`` with loss on assistant turns only.

We render with our own chat format (``reasonflux.chat.render``), never the base tokenizer's template:
the R1-distill template deletes the reasoning from assistant turns, so training through it would
teach answers without ``<think>``. Each conversation is cut into pieces at the assistant turns
(prompt pieces end with the generation prompt, e.g. ``<｜Assistant｜>``; assistant pieces are the
message plus its end-of-turn token), every piece is tokenised on its own, and labels are ``-100``
on exactly the non-assistant pieces — so the loss boundary is exact by construction and the prompt
tokens equal what ``apply_chat_template(..., add_generation_prompt=True)`` gives at inference.

Examples longer than the cutoff are dropped and counted (``truncate=True`` keeps their first
``cutoff_len`` tokens instead).

    python -m reasonflux.train.data sft.jsonl MODEL_DIR --cutoff-len 16384
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from reasonflux.chat import THINK_PREFILL, get_format, render

IGNORE_INDEX = -100  # label of tokens without loss (the value torch's cross-entropy ignores)


@dataclass
class DataStats:
    """What happened to each conversation on its way to the trainer."""

    conversations: int = 0
    kept: int = 0
    dropped_too_long: int = 0  # longer than cutoff_len (truncate=False)
    truncated: int = 0  # cut to cutoff_len (truncate=True)
    dropped_no_loss: int = 0  # nothing left to learn (no assistant turn within the cutoff)
    without_think: int = 0  # deepseek-r1 assistant turns that do not open with "<think>\n"
    tokens: int = 0
    loss_tokens: int = 0
    max_tokens: int = 0
    cutoff_len: int = 0
    dropped_examples: list[int] = field(default_factory=list)  # indices of dropped conversations (first 20)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def segments(fmt: str, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """``(text, is_assistant)`` pieces whose concatenation is the rendered conversation.

    Raises ValueError for a conversation the format cannot cut at its assistant turns (e.g. a
    system message after the first turn in deepseek-r1, which the format moves to the front).
    """
    get_format(fmt).jinja()  # refuses "model": the tokenizer's own template may drop the reasoning
    pieces: list[tuple[str, bool]] = []
    done = ""
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = render(fmt, messages[:i], add_generation_prompt=True)
        full = render(fmt, messages[: i + 1], add_generation_prompt=False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise ValueError(f"the {fmt} format cannot split this conversation at assistant turn {i}")
        if len(prompt) > len(done):
            pieces.append((prompt[len(done):], False))
        pieces.append((full[len(prompt):], True))
        done = full
    whole = render(fmt, messages, add_generation_prompt=False)
    if not whole.startswith(done):
        raise ValueError(f"the {fmt} format cannot split this conversation")
    if len(whole) > len(done):
        pieces.append((whole[len(done):], False))
    return pieces


def tokenize_conversation(messages: list[dict[str, str]], tokenizer: Any, fmt: str = "deepseek-r1") -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` for one conversation; labels are ``IGNORE_INDEX`` off assistant turns."""
    input_ids: list[int] = []
    labels: list[int] = []
    for text, is_assistant in segments(fmt, messages):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids += ids
        labels += ids if is_assistant else [IGNORE_INDEX] * len(ids)
    return input_ids, labels


def build_examples(
    convs: list[list[dict[str, str]]],
    tokenizer: Any,
    *,
    fmt: str = "deepseek-r1",
    cutoff_len: int = 16384,
    truncate: bool = False,
) -> tuple[list[dict[str, list[int]]], DataStats]:
    """Tokenise conversations into rows ``{"input_ids", "labels", "conversation"}`` (the index of the
    conversation in ``convs``) and count what was dropped."""
    stats = DataStats(conversations=len(convs), cutoff_len=cutoff_len)
    rows: list[dict[str, list[int]]] = []
    for n, messages in enumerate(convs):
        if fmt == "deepseek-r1":
            stats.without_think += sum(
                1 for m in messages if m["role"] == "assistant" and not m["content"].startswith(THINK_PREFILL)
            )
        ids, labels = tokenize_conversation(messages, tokenizer, fmt)
        if len(ids) > cutoff_len:
            if not truncate:
                stats.dropped_too_long += 1
                if len(stats.dropped_examples) < 20:
                    stats.dropped_examples.append(n)
                continue
            ids, labels = ids[:cutoff_len], labels[:cutoff_len]
            stats.truncated += 1
        if all(x == IGNORE_INDEX for x in labels):
            stats.dropped_no_loss += 1
            if len(stats.dropped_examples) < 20:
                stats.dropped_examples.append(n)
            continue
        rows.append({"input_ids": ids, "labels": labels, "conversation": n})
        stats.kept += 1
        stats.tokens += len(ids)
        stats.loss_tokens += sum(1 for x in labels if x != IGNORE_INDEX)
        stats.max_tokens = max(stats.max_tokens, len(ids))
    return rows, stats


ROLES = ("system", "user", "assistant")


def check_conversation(row: dict[str, Any], messages: list[dict[str, str]], fmt: str) -> None:
    """Raise ValueError (one line) unless ``messages`` (normalised from ``row``) trains as it is:
    string contents, known roles, no empty assistant turn, and cut at its assistant turns by ``fmt``."""
    raw = row.get("messages")
    for j, m in enumerate(raw if isinstance(raw, list) else [], 1):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
            raise ValueError(f"message {j} needs a string 'role' and a string 'content' (got {json.dumps(m)[:80]})")
    for j, m in enumerate(messages, 1):
        if m["role"] not in ROLES:
            raise ValueError(f"message {j} has role {m['role']!r} (expected one of {', '.join(ROLES)})")
        if m["role"] == "assistant" and not m["content"].strip():
            raise ValueError(f"message {j} is an empty assistant turn")
    segments(fmt, messages)


def read_conversations(source: str, fmt: str = "deepseek-r1") -> list[list[dict[str, str]]]:
    """Every conversation of ``source`` (messages / sharegpt / alpaca rows: JSONL, JSON, Parquet, saved
    HF dataset, hub id), each checked by :func:`check_conversation`; the first bad row raises UserError
    naming the file and row number. Pure Python: the preflight runs it before torch is imported."""
    from reasonflux.errors import UserError
    from reasonflux.synth.formats import read_source, to_messages

    rows, where = read_source(source)
    convs = []
    for i, row in rows:
        try:
            if not isinstance(row, dict):
                raise ValueError("expected a JSON object")
            messages = to_messages(row)
            check_conversation(row, messages, fmt)
        except (ValueError, KeyError, TypeError) as e:
            msg = str(e) if not isinstance(e, KeyError) else f"missing key {e}"
            raise UserError(f"{where}:{i}: {msg}") from None
        convs.append(messages)
    if not convs:
        raise UserError(f"training data {source} has no conversations")
    return convs


def load_examples(
    source: str, tokenizer: Any, *, fmt: str = "deepseek-r1", cutoff_len: int = 16384, truncate: bool = False
) -> tuple[list[dict[str, list[int]]], DataStats]:
    """Read messages / sharegpt / alpaca rows (JSONL, JSON, Parquet, saved HF dataset, hub id) and tokenise."""
    return build_examples(read_conversations(source, fmt), tokenizer, fmt=fmt, cutoff_len=cutoff_len, truncate=truncate)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="tokenise SFT data and print what would be trained on")
    ap.add_argument("data")
    ap.add_argument("tokenizer")
    ap.add_argument("--format", default="deepseek-r1")
    ap.add_argument("--cutoff-len", type=int, default=16384)
    ap.add_argument("--truncate", action="store_true")
    a = ap.parse_args()
    from transformers import AutoTokenizer

    _, st = load_examples(a.data, AutoTokenizer.from_pretrained(a.tokenizer), fmt=a.format, cutoff_len=a.cutoff_len, truncate=a.truncate)
    json.dump(st.as_dict(), sys.stdout, indent=2)
    print()
