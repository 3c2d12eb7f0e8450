"""``reasonflux solve TEXT``: one problem, any backend, reasoning shown dimmed, answer in bold.

    reasonflux solve "What is 2+3?"
    reasonflux solve "What is 2+3?" --json --n 2 --temperature 0.7
    reasonflux solve "Find x if 2x+1=7." --model DIR --format deepseek-r1 --think --max-thinking-tokens 512
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from reasonflux.backends import BackendConfig
from reasonflux.config import register as register_command


@dataclass
class SolveConfig(BackendConfig):
    text: str = field(default="", metadata={"help": "the problem", "argument": True, "required": True})
    system: str | None = field(default=None, metadata={"help": "system prompt (none by default)"})
    max_tokens: int = field(default=1024, metadata={"help": "new tokens per sample (reasoning + answer)", "min": 1})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy", "min": 0})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling", "gt": 0, "max": 1})
    n: int = field(default=1, metadata={"help": "samples", "min": 1})
    think: bool = field(default=False, metadata={"help": "prefill '<think>\\n' after the generation prompt (R1-style models)"})
    max_thinking_tokens: int | None = field(default=None, metadata={"help": "budget forcing: close the reasoning after N tokens and force the answer", "min": 1})
    wait: int = field(default=0, metadata={"help": "budget forcing: suppress the end of thinking K times by appending 'Wait'", "min": 0})
    templates: str | None = field(default=None, metadata={"help": "template library (JSONL) or 'builtin': give the top templates as hints", "path": "library"})
    templates_k: int = field(default=3, metadata={"help": "how many templates to offer with --templates", "min": 1})
    json: bool = field(default=False, metadata={"help": "print one JSON object per sample"})
    quiet: bool = field(default=False, metadata={"help": "no library progress bars or info logs (transformers, huggingface_hub)"})


def build_messages(cfg: SolveConfig) -> list[dict[str, str]]:
    if cfg.templates:
        from reasonflux.templates.hints import hint_messages

        return hint_messages(cfg.text, cfg.templates, k=cfg.templates_k, system=cfg.system)
    msgs = [{"role": "system", "content": cfg.system}] if cfg.system else []
    return msgs + [{"role": "user", "content": cfg.text}]


def result_dict(c, prefilled: bool) -> dict:  # noqa: ANN001
    from reasonflux.chat import split_completion
    from reasonflux.grading import extract_answer

    sp = split_completion(c.text, c.reasoning, prefilled=prefilled)
    return {
        "answer": sp.answer,
        "extracted": extract_answer(sp.answer) if sp.answer is not None else None,
        "reasoning": sp.reasoning,
        "text": c.text,
        "finish_reason": c.finish_reason,
        "truncated": sp.truncated,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "latency_s": round(c.latency_s, 3),
        "error": c.error,
    }


def main(cfg: SolveConfig) -> list[dict]:
    from reasonflux.backends import from_config
    from reasonflux.budget import generate_with_budget
    from reasonflux.chat import THINK_PREFILL
    from reasonflux.errors import UserError
    from reasonflux.types import Request

    if not cfg.text.strip():
        raise UserError("solve needs a problem text: reasonflux solve \"What is 2+3?\"")
    req = Request(messages=build_messages(cfg), n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                  max_tokens=cfg.max_tokens, seed=cfg.seed, prefill=THINK_PREFILL if cfg.think else "")
    backend = from_config(cfg)
    try:
        prefilled = cfg.think or _prompt_opens_think(backend, req)
        comps = generate_with_budget(backend, [req], max_thinking_tokens=cfg.max_thinking_tokens, num_wait=cfg.wait)[0]
    finally:
        backend.close()
    results = [result_dict(c, prefilled=prefilled) for c in comps]
    if cfg.json:
        for r in results:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    else:
        _print_human(results)
    return results


def _prompt_opens_think(backend, req) -> bool:  # noqa: ANN001
    """True when the rendered prompt already opens the reasoning (R1-distill templates end with
    ``<think>\\n``): the output then starts inside it and a missing ``</think>`` means truncated."""
    from reasonflux.chat import THINK_OPEN

    prompt_text = getattr(backend, "prompt_text", None)  # hf and vllm render prompts themselves
    return prompt_text is not None and prompt_text(req).rstrip().endswith(THINK_OPEN)


def _print_human(results: list[dict]) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for i, r in enumerate(results):
        if len(results) > 1:
            console.rule(f"sample {i + 1}/{len(results)}")
        if r["reasoning"]:
            console.print(Text(r["reasoning"], style="dim"))
            console.print()
        if r["answer"] is None:
            console.print(Text("(no answer: the reasoning was cut off before it closed)", style="bold red"))
        else:
            console.print(Text(r["answer"], style="bold"))
        if r["extracted"] is not None:
            console.print(Text(f"answer: {r['extracted']}", style="bold green"))
        console.print(Text(f"[{r['finish_reason']}, {r['completion_tokens']} tokens, {r['latency_s']} s]", style="dim"))


def register(app) -> None:  # noqa: ANN001
    register_command(app, "solve", SolveConfig, main, help="Solve one problem and show reasoning and answer.")
