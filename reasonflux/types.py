"""Plain data passed between the parts of reasonflux. No logic beyond (de)serialisation helpers.

A ``Request`` goes into ``Backend.generate``; ``n`` ``Completion`` objects come back for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "error"]


@dataclass
class Request:
    """One prompt to sample ``n`` completions for.

    ``messages`` are chat messages (``{"role": ..., "content": ...}``); the backend renders them with
    its chat format. ``prefill`` is assistant text placed after the generation prompt and continued
    by the model (e.g. ``"<think>\\n"``, or the partial answer of a budget-forcing round); it is not
    part of the returned ``Completion.text``.
    """

    messages: list[dict[str, str]]
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    prefill: str = ""
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    """One sampled continuation.

    ``finish_reason`` is ``stop`` (EOS or a stop string), ``length`` (hit ``max_tokens``) or
    ``error`` (the engine failed for this sample; ``error`` says why). ``reasoning`` is filled when a
    server returns reasoning separately (``reasoning_content``); otherwise reasoning stays inside
    ``text`` and :func:`reasonflux.chat.split_reasoning` separates it.
    """

    text: str
    finish_reason: FinishReason = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    reasoning: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Problem:
    """A benchmark or training problem. ``answer`` is the gold answer (a letter for choice tasks)."""

    id: str
    problem: str
    answer: str
    kind: Literal["math", "choice"] = "math"
    meta: dict[str, Any] = field(default_factory=dict)
