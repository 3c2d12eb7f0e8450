"""``reasonflux reason PROBLEM``: template-guided hierarchical reasoning with a navigator and a solver.

The navigator plans, retrieves templates, instructs and judges; the solver carries out each step.
Both are any reasonflux backends (``--solver*`` knobs default to the navigator's); when they are the
same model on the same backend one engine serves both. The Trace is printed (``--json``) and/or
saved (``--out``); an interrupted run still saves what it finished.

    reasonflux reason "Find the last digit of 7^2024." --max-steps 3 --out trace.json
    reasonflux reason "..." --navigator big-model --navigator-backend openai --navigator-base-url http://h:8000/v1 \\
        --solver smollm2 --solver-backend hf --json
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from reasonflux.config import register as register_command


@dataclass
class ReasonConfig:
    text: str = field(default="", metadata={"help": "the problem", "argument": True})
    navigator: str = field(default="smollm2", metadata={"help": "navigator model: HF id, local dir, .gguf, alias, or served name"})
    navigator_backend: str = field(default="hf", metadata={"help": "navigator backend: hf | vllm | openai"})
    navigator_format: str = field(default="model", metadata={"help": "navigator chat format: model | deepseek-r1 | chatml"})
    navigator_base_url: str = field(default="http://127.0.0.1:8000/v1", metadata={"help": "navigator openai server URL"})
    navigator_max_tokens: int = field(default=512, metadata={"help": "new tokens per navigator call"})
    solver: str | None = field(default=None, metadata={"help": "solver model (default: the navigator's)"})
    solver_backend: str | None = field(default=None, metadata={"help": "solver backend (default: the navigator's)"})
    solver_format: str | None = field(default=None, metadata={"help": "solver chat format (default: the navigator's)"})
    solver_base_url: str | None = field(default=None, metadata={"help": "solver openai server URL (default: the navigator's)"})
    solver_max_tokens: int = field(default=1024, metadata={"help": "new tokens per solver call"})
    solver_think: bool = field(default=False, metadata={"help": "prefill '<think>\\n' for the solver (R1-style models)"})
    library: str = field(default="builtin", metadata={"help": "template library: 'builtin', JSONL file(s) or directory; 'none' for no templates"})
    retriever: str = field(default="hierarchical", metadata={"help": "hierarchical | flat | embeddings"})
    k: int = field(default=3, metadata={"help": "templates retrieved for the navigator", "short": "-k"})
    max_steps: int = field(default=6, metadata={"help": "solver steps at most (revisions included)"})
    json_retries: int = field(default=2, metadata={"help": "retries after an unparseable navigator reply, then a fallback"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature for both models (0 = greedy)"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    dtype: str = field(default="auto", metadata={"help": "hf/vllm: auto | bfloat16 | float16 | float32"})
    device: str = field(default="auto", metadata={"help": "hf: auto | cpu | cuda | cuda:N"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key"})
    request_timeout: float = field(default=3600.0, metadata={"help": "openai: seconds per request"})
    json: bool = field(default=False, metadata={"help": "print the Trace as JSON"})
    out: str | None = field(default=None, metadata={"help": "save the Trace as JSON here", "short": "-o"})


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
    from reasonflux.reasoning.navigator import NavigatorSettings, Trace, reason
    from reasonflux.templates.retrieve import get_retriever

    if not cfg.text.strip():
        raise UserError('reason needs a problem text: reasonflux reason "Find the last digit of 7^2024."')
    if cfg.max_steps < 1:
        raise UserError(f"--max-steps must be at least 1 (got {cfg.max_steps})")
    retriever = None if cfg.library.lower() == "none" else get_retriever(cfg.library, cfg.retriever)
    nav_spec, sol_spec = backend_specs(cfg)
    settings = NavigatorSettings(k=cfg.k, max_steps=cfg.max_steps, json_retries=max(0, cfg.json_retries),
                                 navigator_max_tokens=cfg.navigator_max_tokens, solver_max_tokens=cfg.solver_max_tokens,
                                 temperature=cfg.temperature, seed=cfg.seed, solver_think=cfg.solver_think)
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
