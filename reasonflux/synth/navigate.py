"""Navigator-mode synthesis: each candidate trajectory is one full navigator run (plan → retrieve
→ adjust → instruct/solve/judge → final), rendered as F1-style reasoning that names the template
and walks its steps. All candidates run on the same batch-first engine as ``eval --method
navigator`` (``reasonflux.reasoning.navigator.reason_many``): one generate call per round.

    reasonflux synth --mode navigator --problems problems.jsonl --teacher MODEL --n 2 --out runs/synth-nav
"""

from __future__ import annotations

from typing import Any, Callable

from reasonflux.synth.pipeline import Candidate, SynthProblem, Store, record, select

STEP_HEADER = "Step {i}: {instruction}"


def trace_reasoning(trace: Any) -> str:
    """The trace as one reasoning text: the chosen template, its plan, each step and its result."""
    chosen = next((r for r in trace.retrieved if r.get("id") == trace.template_id), None)
    lines = []
    if chosen:
        lines.append(f"This calls for the template \"{chosen['name']}\".")
    elif trace.plan.get("method"):
        lines.append(f"Method: {trace.plan['method']}.")
    if trace.planned_steps:
        lines.append("Plan: " + " ".join(f"({i}) {s}" for i, s in enumerate(trace.planned_steps, 1)))
    for st in trace.steps:
        lines.append(STEP_HEADER.format(i=st.index, instruction=st.instruction.strip()))
        lines.append(st.response.strip())
    for rev in trace.revisions:
        lines.append(f"(After step {rev['after_step']} the remaining plan was revised: {rev.get('reason', '')})")
    return "\n\n".join(x for x in lines if x)


# Navigator runs in flight at once (each round sends one request per live run).
MAX_LIVE_RUNS = 256


def run_navigator_mode(problems: list[SynthProblem], store: Store, backend: Any, cfg: Any,
                       on_problem: Callable[[dict], None] | None = None) -> None:
    """Every (problem, sample) still to do is one navigator run; all of them advance together on the
    batch-first scheduler (``reason_many``), and a problem is stored as soon as its samples finish."""
    from reasonflux.reasoning.navigator import Job, NavigatorSettings, reason_many
    from reasonflux.templates.retrieve import get_retriever

    retriever = get_retriever(cfg.templates) if cfg.templates != "none" else None
    samples = cfg.n
    todo = [p for p in problems if p.id not in store.done]
    jobs, owners = [], []
    for p in todo:
        for i in range(samples):
            opts = dict(k=cfg.templates_k, max_steps=cfg.max_solver_steps,
                        solver_max_tokens=cfg.max_tokens, temperature=cfg.temperature, seed=cfg.seed + i)
            # R1-style teachers (--think): room to think before the navigator's JSON, read after </think>
            settings = NavigatorSettings.for_reasoning_model(**opts) if cfg.think else NavigatorSettings(**opts)
            jobs.append(Job(p.problem, settings=settings, tag=f"{p.id}/{i}/"))
            owners.append((p, i))
    results: dict[str, dict[int, Any]] = {}

    def done(j: int, trace: Any) -> None:
        p, i = owners[j]
        got = results.setdefault(p.id, {})
        got[i] = _candidate(p, trace, cfg)
        if len(got) == samples:
            _finish(p, [got[k] for k in range(samples)], store, cfg, on_problem)
            del results[p.id]

    reason_many(jobs, backend, backend, retriever, max_live=MAX_LIVE_RUNS, on_done=done)


def _candidate(p: SynthProblem, trace: Any, cfg: Any) -> Candidate:
    from reasonflux.chat import split_reasoning
    from reasonflux.grading import grade

    final = split_reasoning(trace.final_response, prefilled=cfg.think)
    v = grade(response=trace.final_response, gold=p.answer, kind="math", prefilled=cfg.think)
    if v.extracted is None and trace.final_answer is not None:
        v = grade(answer=trace.final_answer, gold=p.answer, kind="math")
    tokens = sum(t["completion"] for t in trace.tokens.values())
    return Candidate(text=trace.final_response, reasoning=trace_reasoning(trace), answer_part=final.answer,
                     finish_reason="stop", completion_tokens=tokens, extracted=v.extracted, correct=v.correct,
                     reason=v.reason, template_ids=[r["id"] for r in trace.retrieved],
                     extra={"navigator_template": trace.template_id, "stop_reason": trace.stop_reason,
                            "navigator_fallbacks": trace.fallback_count})


def _finish(p: SynthProblem, cands: list[Candidate], store: Store, cfg: Any, on_problem: Callable[[dict], None] | None) -> None:
    kept = select(cands, cfg.keep)
    verdicts = [c.correct for c in cands]
    summary = {"samples": len(cands), "correct": sum(verdicts), "kept": len(kept),
               "tokens": sum(c.completion_tokens for c in cands), "reasons": [c.reason for c in cands]}
    store.finish(p, [record(p, c, cfg.model, verdicts, i) for i, c in enumerate(kept)], summary)
    if on_problem:
        on_problem(summary)
