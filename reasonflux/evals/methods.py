"""Evaluation methods: how one benchmark problem becomes one sample.

* ``direct``: the benchmark prompt as the user turn, one completion (the seed's protocol).
* ``hints``: the top ``templates_k`` retrieved thought templates (the best one with its worked
  example) in the user turn above the benchmark prompt, one completion.
* ``navigator``: template-guided hierarchical reasoning (``reasonflux.reasoning.navigator``): plan,
  retrieve, adjust, instruct/solve/judge, final answer; the same model navigates and solves. Every
  pending sample is one navigator run and all runs advance together (one ``generate`` call per
  round, ``request_batch`` runs in flight), so the Ray executor and every backend work unchanged.

The method and its settings are defining settings of a run (a run directory holds one method; a
rerun with another is refused by name). Sample records of ``hints`` and ``navigator`` carry
``method``; navigator records also carry ``trace`` (the compact Trace: every call's reply, no
prompts, and no problem text for benchmarks whose text must stay out of outputs: GPQA) and are
graded on the final solver response, so ``rescore`` regrades them like any other.
``metrics.json`` gets ``method`` (with the navigator's fallback counts), and ``report`` shows the
method beside the model, so runs of one model with different methods are rows of one table.

    reasonflux eval --method navigator --benchmarks math500 --limit 2 --preset quick
    reasonflux eval --method hints --templates-k 3 --benchmarks math500 --limit 20 --preset quick
    reasonflux report runs/smollm2 runs/smollm2-hints runs/smollm2-navigator
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

METHODS = ("direct", "hints", "navigator")
RETRIEVERS = ("hierarchical", "flat", "embeddings")
# Settings that change what a sample of a method *is* (the eval runner adds them to SAMPLE_DEFINING).
METHOD_DEFINING = ("method", "templates", "templates_k", "retriever", "max_solver_steps", "json_retries",
                   "navigator_max_tokens")
# Navigator budget per call when the config leaves it at 0: plain models answer the JSON at once;
# completions that start inside <think> (R1-style) need room to think first.
NAVIGATOR_MAX_TOKENS = 256
HINTS_PROMPT = """Solution methods (thought templates) that may fit this problem; use one if it fits, ignore them if not.

{templates}

{prompt}"""


@dataclass
class MethodConfig:
    """How eval turns a problem into a sample (a base of EvalConfig). Field = flag = YAML key."""

    method: str = field(default="direct", metadata={"help": "direct (the prompt alone) | hints (retrieved thought templates in the prompt) | navigator (template-guided plan/solve loop)", "choices": METHODS})
    templates: str = field(default="builtin", metadata={"help": "hints/navigator: template library (builtin, JSONL file(s) or directory); 'none' for no templates"})
    templates_k: int = field(default=3, metadata={"help": "hints/navigator: templates retrieved per problem", "min": 0})
    retriever: str = field(default="hierarchical", metadata={"help": "hints/navigator: hierarchical | flat | embeddings", "choices": RETRIEVERS})
    max_solver_steps: int = field(default=6, metadata={"help": "navigator: solver steps at most (revisions included)", "min": 1})
    json_retries: int = field(default=2, metadata={"help": "navigator: retries after an unusable navigator reply, then a fallback (counted)", "min": 0})
    navigator_max_tokens: int = field(default=0, metadata={"help": f"navigator: new tokens per navigator call (0: {NAVIGATOR_MAX_TOKENS}, or 4096 when completions open <think>); solver steps get --max-tokens", "min": 0})


def check(cfg: Any) -> None:
    """Reject bad method settings with one line (the CLI checks choices and bounds already)."""
    from reasonflux.errors import UserError

    method = getattr(cfg, "method", "direct")
    if method not in METHODS:
        raise UserError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if getattr(cfg, "retriever", "hierarchical") not in RETRIEVERS:
        raise UserError(f"--retriever {cfg.retriever!r}: choose one of {', '.join(RETRIEVERS)}")
    for name, low in (("templates_k", 0), ("max_solver_steps", 1), ("json_retries", 0), ("navigator_max_tokens", 0)):
        if getattr(cfg, name, low) < low:
            raise UserError(f"--{name.replace('_', '-')} must be at least {low} (got {getattr(cfg, name)})")


def _retriever(cfg: Any) -> Any:
    if str(cfg.templates).lower() == "none" or cfg.templates_k == 0:
        return None
    from reasonflux.templates.retrieve import get_retriever

    return get_retriever(cfg.templates, cfg.retriever)


def method_messages(cfg: Any, messages: list[dict[str, str]], problem: Any) -> list[dict[str, str]]:
    """The chat messages of one sample under ``cfg.method`` (``messages``: the direct ones).

    hints: the retrieved templates (the best one with its worked example) above the benchmark
    prompt, retrieved with the problem text alone. direct and navigator: unchanged (the navigator
    shows the models the last user turn)."""
    if getattr(cfg, "method", "direct") != "hints":
        return messages
    check(cfg)
    retriever = _retriever(cfg)
    hits = retriever.search(problem.problem, cfg.templates_k) if retriever is not None else []
    if not hits:
        return messages
    from reasonflux.templates.hints import hint_block

    *head, last = messages
    return head + [{"role": "user", "content": HINTS_PROMPT.format(templates=hint_block(hits), prompt=last["content"])}]


class _MethodWriter:
    """Stamps ``method`` on every record written."""

    def __init__(self, writer: Any, method: str) -> None:
        self.writer, self.method = writer, method

    def write(self, rec: dict[str, Any]) -> None:
        self.writer.write({**rec, "method": self.method})


def generate_with_method(backend: Any, items: list[Any], cfg: Any, writer: Any, tracker: Any, prefilled: bool,
                         breaker: Any = None) -> None:
    """The eval runner's generation for ``hints`` and ``navigator`` (direct never comes here)."""
    from reasonflux.evals import runner

    check(cfg)
    if cfg.method == "hints":  # plain generation of the hint messages (built by method_messages)
        runner.generate_pending(backend, items, dataclasses.replace(cfg, method="direct"),
                                _MethodWriter(writer, "hints"), tracker, prefilled, breaker=breaker)
        return
    generate_navigator(backend, items, cfg, writer, tracker, prefilled, breaker)


def navigator_settings(cfg: Any, seed: int, prefilled: bool) -> Any:
    """NavigatorSettings of one sample: the eval's sampling settings; R1-style budgets when the
    completions start inside <think> (by prefill or by the model's chat template)."""
    from reasonflux.chat import THINK_OPEN
    from reasonflux.reasoning.navigator import REASONING_NAVIGATOR_MAX_TOKENS, NavigatorSettings

    prefill_think = THINK_OPEN in (cfg.prefill or "")
    nav_tokens = cfg.navigator_max_tokens or (REASONING_NAVIGATOR_MAX_TOKENS if prefilled else NAVIGATOR_MAX_TOKENS)
    return NavigatorSettings(k=cfg.templates_k, max_steps=cfg.max_solver_steps, json_retries=cfg.json_retries,
                             navigator_max_tokens=nav_tokens, solver_max_tokens=cfg.max_tokens,
                             temperature=cfg.temperature, top_p=cfg.top_p, seed=seed,
                             solver_think=prefill_think, navigator_think=prefill_think,
                             opens_think=prefilled and not prefill_think)


def trace_completion(trace: Any) -> Any:
    """The Completion a navigator run amounts to: the final solver response, the tokens of every
    call, and an engine failure when the final call failed (a failed sample is retried)."""
    from reasonflux.types import Completion

    final = next((c for c in reversed(trace.calls) if c.purpose == "final"), None)
    finish = final.finish_reason if final is not None else "error"
    error = None
    if finish == "error":
        error = (final.error if final is not None else None) or "navigator: the final call failed"
    tok = trace.tokens
    return Completion(text=trace.final_response, finish_reason=finish,
                      prompt_tokens=tok["navigator"]["prompt"] + tok["solver"]["prompt"],
                      completion_tokens=tok["navigator"]["completion"] + tok["solver"]["completion"],
                      latency_s=trace.elapsed_s, error=error)


def generate_navigator(backend: Any, items: list[Any], cfg: Any, writer: Any, tracker: Any, prefilled: bool,
                       breaker: Any = None) -> None:
    """One navigator run per pending sample, all advancing together; each sample is graded and
    appended as soon as its run finishes."""
    import threading

    from reasonflux.evals.runner import make_record, sample_seed
    from reasonflux.reasoning.navigator import Job, Trace, reason_many

    from reasonflux.benchmarks import get

    retriever = _retriever(cfg)
    public = {b: getattr(get(b), "TEXT_IN_OUTPUTS", True) for b in {it.benchmark for it in items}}
    seeds = [sample_seed(cfg.seed, it.benchmark, it.problem.id, it.index) for it in items]
    jobs = []
    for it, seed in zip(items, seeds):
        settings = navigator_settings(cfg, seed, prefilled)
        trace = Trace(problem=it.messages[-1]["content"], navigator={"model": cfg.model, "backend": cfg.backend},
                      solver={"model": cfg.model, "backend": cfg.backend})
        jobs.append(Job(it.messages[-1]["content"], query=it.problem.problem, settings=settings, trace=trace,
                        tag=f"{it.benchmark}/{it.problem.id}/{it.index}/"))
    lock = threading.Lock()

    def done(i: int, trace: Any) -> None:
        comp = trace_completion(trace)
        rec = make_record(items[i], comp, seed=seeds[i], prefilled=jobs[i].settings.thinks("solver"))
        compact = trace.compact()
        if not public[items[i].benchmark]:  # GPQA: the question text never goes into outputs
            compact["problem"] = ""
        rec.update(method="navigator", trace=compact)
        writer.write(rec)
        with lock:
            tracker.add(rec)
        if breaker is not None:
            breaker.record(rec)  # raises (ending the runs) once the backend looks down

    reason_many(jobs, backend, backend, retriever, max_live=cfg.request_batch, on_done=done)


# ------------------------------------------------------------------------------------ metrics, report

def method_metrics(run: Any) -> dict[str, Any]:
    """metrics.json's ``method``: the name, and for the navigator how often it fell back."""
    from reasonflux.reasoning.navigator import fallback_summary

    name = run.config.get("method") or "direct"
    out: dict[str, Any] = {"name": name}
    if name == "navigator":
        traces = [s["trace"] for s in run.samples if isinstance(s.get("trace"), dict)]
        fb = fallback_summary(traces)
        fb["fallback_rate"] = round(fb["fallbacks"] / fb["navigator_calls"], 4) if fb["navigator_calls"] else 0.0
        out["navigator"] = fb
    return out


def label(config: dict[str, Any]) -> str:
    """The model cell of a report row: the model, and the method unless it is direct."""
    method = config.get("method") or "direct"
    model = str(config.get("model", ""))
    return model if method == "direct" else f"{model} [{method}]"


def summary_line(metrics: dict[str, Any]) -> str | None:
    """One line on the navigator's fallbacks (None for other methods)."""
    nav = (metrics.get("method") or {}).get("navigator")
    if not nav:
        return None
    kinds = ", ".join(f"{k} {v}" for k, v in nav["by_kind"].items() if v) or "none"
    return (f"navigator: {nav['fallbacks']} fallback(s) in {nav['navigator_calls']} navigator calls "
            f"({kinds}); {nav['runs_with_fallback']} of {nav['runs']} runs fell back at least once, "
            f"{nav['plan_fallback_runs']} without a usable plan")


def report_lines(run: Any) -> list[str]:
    """report.md lines for the method (empty for direct)."""
    m = (run.metrics or {}).get("method") or {}
    if m.get("name", "direct") == "direct":
        return []
    lines = [f"## Method: {m['name']}", ""]
    c = run.config
    lines.append(f"templates={c.get('templates')!r} · templates_k={c.get('templates_k')} · retriever={c.get('retriever')!r}"
                 + (f" · max_solver_steps={c.get('max_solver_steps')} · json_retries={c.get('json_retries')}"
                    if m["name"] == "navigator" else ""))
    line = summary_line(run.metrics)
    if line:
        lines += ["", line]
    return lines + [""]


def default_out(cfg: Any) -> str:
    """The default run directory: runs/<model> for direct, runs/<model>-<method> otherwise."""
    from reasonflux.evals.runner import default_out as base

    out = base(cfg.model)
    method = getattr(cfg, "method", "direct")
    return out if method == "direct" else f"{out}-{method}"
