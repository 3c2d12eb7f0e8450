"""``reasonflux reason PROBLEM``: template-guided hierarchical reasoning with a navigator and a solver.

The navigator plans, retrieves templates, instructs and judges; the solver carries out each step.
Both are any reasonflux backends (``--solver*`` knobs default to the navigator's); when they are the
same model on the same backend one engine serves both. The Trace is printed (``--json``) and/or
saved (``--out``); an interrupted run still saves what it finished.

    reasonflux reason "Find the last digit of 7^2024." --max-solver-steps 3 --out trace.json
    reasonflux reason "..." --navigator big-model --navigator-backend openai --navigator-base-url http://h:8000/v1 \\
        --solver smollm2 --solver-backend hf --json
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field

from reasonflux.backends import CHAT_FORMAT_HELP
from reasonflux.config import register as register_command


@dataclass
class ReasonConfig:
    text: str = field(default="", metadata={"help": "the problem", "argument": True, "required": True})
    navigator: str = field(default="smollm2", metadata={"help": "navigator model: HF id, local dir, .gguf, alias, or served name"})
    navigator_backend: str = field(default="hf", metadata={"help": "navigator backend: hf | vllm | openai", "choices": ("hf", "vllm", "openai"),
                                                           "choices_extra": lambda v: ":" in v})
    navigator_format: str = field(default="model", metadata={"help": "navigator chat format (listed below)", "choices": CHAT_FORMAT_HELP, "choices_title": "Chat formats"})
    navigator_base_url: str = field(default="http://127.0.0.1:8000/v1", metadata={"help": "navigator openai server URL"})
    navigator_max_tokens: int = field(default=512, metadata={"help": "new tokens per navigator call", "min": 1})
    solver: str | None = field(default=None, metadata={"help": "solver model (default: the navigator's)"})
    solver_backend: str | None = field(default=None, metadata={"help": "solver backend (default: the navigator's)", "choices": ("hf", "vllm", "openai"),
                                                               "choices_extra": lambda v: ":" in v})
    solver_format: str | None = field(default=None, metadata={"help": "solver chat format (default: the navigator's)", "choices": tuple(CHAT_FORMAT_HELP)})
    solver_base_url: str | None = field(default=None, metadata={"help": "solver openai server URL (default: the navigator's)"})
    solver_max_tokens: int = field(default=1024, metadata={"help": "new tokens per solver call", "min": 1})
    solver_think: bool = field(default=False, metadata={"help": "prefill '<think>\\n' for the solver (R1-style models)"})
    reasoning_model: bool = field(default=False, metadata={"help": "R1-style navigator and solver: prefill '<think>\\n' for both, read JSON after </think>, and raise the default budgets to 4096 (navigator) / 8192 (solver) tokens"})
    templates: str = field(default="builtin", metadata={"help": "template library: 'builtin', JSONL file(s) or directory; 'none' for no templates", "old": ["library"], "path": "library"})
    retriever: str = field(default="hierarchical", metadata={"help": "hierarchical | flat | embeddings", "choices": ("hierarchical", "flat", "embeddings")})
    templates_k: int = field(default=3, metadata={"help": "templates retrieved for the navigator", "short": "-k", "old": ["k"], "min": 1})
    max_solver_steps: int = field(default=6, metadata={"help": "solver steps at most (revisions included)", "old": ["max_steps"], "min": 1})
    json_retries: int = field(default=2, metadata={"help": "retries after an unparseable navigator reply, then a fallback", "min": 0})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature for both models (0 = greedy)", "min": 0})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    dtype: str = field(default="auto", metadata={"help": "hf/vllm: auto | bfloat16 | float16 | float32",
                                                 "choices": ("auto", "bfloat16", "bf16", "float16", "fp16", "half", "float32", "fp32", "float")})
    device: str = field(default="auto", metadata={"help": "hf: auto | cpu | cuda | cuda:N"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key"})
    request_timeout: float = field(default=3600.0, metadata={"help": "openai: seconds per request", "gt": 0})
    json: bool = field(default=False, metadata={"help": "print the Trace as JSON"})
    out: str | None = field(default=None, metadata={"help": "save the Trace as JSON here", "short": "-o", "path": "out_file"})


def backend_specs(cfg: ReasonConfig) -> tuple[dict, dict]:
    """(navigator, solver) load_backend options; solver fields fall back to the navigator's."""
    common = {"dtype": cfg.dtype, "device": cfg.device, "api_key_env": cfg.api_key_env,
              "request_timeout": cfg.request_timeout, "seed": cfg.seed}
    nav = {"backend": cfg.navigator_backend, "model": cfg.navigator, "format": cfg.navigator_format,
           "base_url": cfg.navigator_base_url, **common}
    sol = {"backend": cfg.solver_backend or cfg.navigator_backend, "model": cfg.solver or cfg.navigator,
           "format": cfg.solver_format or cfg.navigator_format, "base_url": cfg.solver_base_url or cfg.navigator_base_url,
           **common}
    return nav, sol


def main(cfg: ReasonConfig):  # noqa: ANN201 - returns a Trace
    from reasonflux.backends import load_backend
    from reasonflux.errors import UserError
    from reasonflux.reasoning.navigator import (REASONING_NAVIGATOR_MAX_TOKENS, REASONING_SOLVER_MAX_TOKENS,
                                                NavigatorSettings, Trace, reason)
    from reasonflux.templates.retrieve import get_retriever

    if not cfg.text.strip():
        raise UserError('reason needs a problem text: reasonflux reason "Find the last digit of 7^2024."')
    retriever = None if cfg.templates.lower() == "none" else get_retriever(cfg.templates, cfg.retriever)
    nav_spec, sol_spec = backend_specs(cfg)
    settings = NavigatorSettings(k=cfg.templates_k, max_steps=cfg.max_solver_steps, json_retries=max(0, cfg.json_retries),
                                 navigator_max_tokens=cfg.navigator_max_tokens, solver_max_tokens=cfg.solver_max_tokens,
                                 temperature=cfg.temperature, seed=cfg.seed, solver_think=cfg.solver_think)
    if cfg.reasoning_model:  # budgets that fit thinking unless set explicitly; JSON after </think>
        defaults = {f.name: f.default for f in dataclasses.fields(ReasonConfig)}
        keep = {k: getattr(cfg, k) for k in ("navigator_max_tokens", "solver_max_tokens") if getattr(cfg, k) != defaults[k]}
        settings = NavigatorSettings.for_reasoning_model(**{**vars(settings), "navigator_think": True, "solver_think": True,
                                                            "navigator_max_tokens": REASONING_NAVIGATOR_MAX_TOKENS,
                                                            "solver_max_tokens": REASONING_SOLVER_MAX_TOKENS, **keep})
    trace = Trace(problem=cfg.text,
                  navigator={k: nav_spec[k] for k in ("model", "backend", "format")},
                  solver={k: sol_spec[k] for k in ("model", "backend", "format")})
    nav = load_backend(**{"name": nav_spec["backend"], **nav_spec})
    sol = nav if sol_spec == nav_spec else None
    try:
        if sol is None:
            sol = load_backend(**{"name": sol_spec["backend"], **sol_spec})
        reason(cfg.text, nav, sol, retriever, settings, trace)
    finally:
        if cfg.out:  # also on interruption: what finished is kept
            trace.save(cfg.out)
        nav.close()
        if sol is not None and sol is not nav:
            sol.close()
    if cfg.json:
        sys.stdout.write(trace.to_json() + "\n")
    else:
        _print_human(trace)
    return trace


def _print_human(trace) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.text import Text

    c = Console(highlight=False)
    p = trace.plan
    c.print(Text(f"plan ({trace.plan_source}): {p.get('domain') or '?'} / {p.get('section') or '?'} — {p.get('method') or '?'}", style="bold"))
    for h in trace.retrieved:
        mark = "→" if h["id"] == trace.template_id else " "
        c.print(Text(f" {mark} {h['score']:.3f} {h['id']}  {h['name']}", style="dim" if mark == " " else ""))
    for r in trace.steps:
        c.rule(f"step {r.index}: {r.step}")
        c.print(Text(r.instruction, style="italic dim"))
        c.print(r.response)
        if r.judgement:
            c.print(Text(f"[{r.judgement['status']}] {r.judgement.get('reason', '')}", style="dim"))
    for rev in trace.revisions:
        c.print(Text(f"revised after step {rev['after_step']}: {rev['new']}", style="yellow"))
    c.rule("final")
    c.print(trace.final_response)
    c.print(Text(f"answer: {trace.final_answer}", style="bold green" if trace.final_answer else "bold red"))
    tok = trace.tokens
    c.print(Text(f"[{trace.stop_reason}; navigator {tok['navigator']['completion']} / solver {tok['solver']['completion']} "
                 f"completion tokens; {trace.elapsed_s} s; {len(trace.errors)} errors]", style="dim"))
    for e in trace.errors:
        c.print(Text(f"  {e}", style="red dim"))


def register(app) -> None:  # noqa: ANN001
    register_command(app, "reason", ReasonConfig, main, help="Template-guided reasoning: a navigator plans and judges, a solver solves step by step.")
