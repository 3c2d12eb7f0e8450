"""The navigator loop (ReasonFlux-v1 template-guided hierarchical reasoning), its Trace, and the
batch-first scheduler that runs it over many problems at once.

1. the navigator writes a JSON plan (domain, section, method, tags, steps);
2. the problem and the plan's method names retrieve the best thought templates;
3. the navigator adjusts its steps to the template it picks; that template's worked example
   (problem, solution, answer; cut to ``example_max_tokens``) is shown from then on;
4. per step: the navigator writes an instruction, the solver carries it out, and the navigator
   judges progress (``continue`` / ``revise`` with new remaining steps / ``done``);
5. the solver writes the final answer, extracted with ``reasonflux.grading.extract_answer``.

Each problem's loop is a generator that yields one model request at a time. :func:`reason_many`
advances every live problem by one request per round and sends the round as one
``backend.generate`` call per backend (navigator and solver share one call when they are the same
backend), so N problems cost about the rounds of the slowest one, not N times the sequential
latency. :func:`reason` is ``reason_many`` of one problem.

Navigator JSON is read from the reply after its reasoning (``</think>``; a reply still inside an
open think block has no JSON), then leniently (fenced blocks, the first ``{...}``); an unusable reply
is retried ``json_retries`` times with a correction, then a fallback is used (a single-step plan,
the unadjusted steps, "continue") — never an endless loop; at most ``max_steps`` solver steps run.
Every fallback is counted in ``Trace.fallbacks``. R1-style models need room to think before the
JSON: :meth:`NavigatorSettings.for_reasoning_model` gives their step budgets. Every call,
instruction, response and revision lands in the returned :class:`Trace`, which serialises to JSON
for eval, synthesis and training.

    reasonflux reason "Find the last digit of 7^2024." --navigator smollm2 --max-solver-steps 3 --out trace.json
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator, Iterable

from reasonflux.chat import THINK_PREFILL, split_completion
from reasonflux.reasoning import prompts as P
from reasonflux.types import Completion, Request

TRACE_VERSION = 2           # 2: fallbacks, example_id
STATUSES = ("continue", "revise", "done")
MAX_PLAN_TAGS = 8
MAX_STEP_CHARS = 400         # a "step" longer than this is cut (a model pasting its whole solution)
MAX_INSTRUCTION_CHARS = 1200
FENCE_RE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
# Step budgets for R1-style (reasoning) models: they think before the JSON or the step result, and a
# 512-token navigator budget ends inside <think> on every call (then every step falls back).
REASONING_NAVIGATOR_MAX_TOKENS = 4096
REASONING_SOLVER_MAX_TOKENS = 8192
# The chosen template's worked example is cut to about this many tokens (4 characters a token).
EXAMPLE_MAX_TOKENS = 320
CHARS_PER_TOKEN = 4
FALLBACK_KINDS = ("plan", "adjust", "instruct", "judge")


# ------------------------------------------------------------------------------------------ trace

@dataclass
class Call:
    """One model call: who, what for, which attempt, the prompt (last user turn) and the reply."""

    role: str      # navigator | solver
    purpose: str   # plan | adjust | instruct | solve | judge | final
    attempt: int
    prompt: str
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    error: str | None = None


@dataclass
class StepRecord:
    index: int
    step: str
    instruction: str
    response: str
    judgement: dict[str, Any] | None = None


@dataclass
class Trace:
    """Everything one navigator run did; ``to_json`` / ``from_dict`` round-trip it."""

    problem: str
    plan: dict[str, Any] = field(default_factory=dict)
    plan_source: str = ""                       # navigator | fallback
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # {id, name, score, tags, ...}
    template_id: str | None = None
    planned_steps: list[str] = field(default_factory=list)          # after adjusting to the template
    steps: list[StepRecord] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)   # {after_step, old, new, reason}
    final_answer: str | None = None
    final_response: str = ""
    stop_reason: str = ""                       # done | plan_complete | max_steps | error
    tokens: dict[str, dict[str, int]] = field(default_factory=lambda: {
        "navigator": {"prompt": 0, "completion": 0}, "solver": {"prompt": 0, "completion": 0}})
    errors: list[str] = field(default_factory=list)
    # navigator replies that were unusable after every retry, by purpose (plan, adjust, instruct, judge)
    fallbacks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FALLBACK_KINDS, 0))
    example_id: str | None = None               # the template whose worked example was shown
    calls: list[Call] = field(default_factory=list)
    navigator: dict[str, Any] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    version: int = TRACE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def compact(self) -> dict[str, Any]:
        """The trace without the prompts of its calls (they repeat the problem and the history): the
        form eval keeps in samples.jsonl. ``from_dict`` reads it back (prompts empty)."""
        d = self.to_dict()
        for c in d["calls"]:
            c["prompt"] = ""
        return d

    @property
    def fallback_count(self) -> int:
        return sum(self.fallbacks.values())

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(self.to_json(indent=2), encoding="utf-8")
        tmp.replace(p)
        return p

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Trace":
        d = dict(d)
        d["steps"] = [StepRecord(**s) for s in d.get("steps", [])]
        d["calls"] = [Call(**c) for c in d.get("calls", [])]
        return cls(**d)


@dataclass
class NavigatorSettings:
    k: int = 3                      # templates retrieved
    max_steps: int = 8              # solver steps at most (revisions included)
    json_retries: int = 2           # extra tries after an unusable navigator reply
    navigator_max_tokens: int = 512
    solver_max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    solver_think: bool = False      # prefill "<think>\n" for the solver (R1-style models)
    navigator_think: bool = False   # prefill "<think>\n" for the navigator: its JSON comes after </think>
    opens_think: bool = False       # the chat template itself opens <think> (R1-distill): replies start inside it
    max_history_chars: int = 1500   # per step result quoted back into prompts (the tail is kept)
    example_max_tokens: int = EXAMPLE_MAX_TOKENS  # the chosen template's worked example (0: not shown)

    @classmethod
    def for_reasoning_model(cls, **overrides: Any) -> "NavigatorSettings":
        """Budgets and parsing for R1-style models: room to think, JSON read after </think>."""
        base = dict(navigator_max_tokens=REASONING_NAVIGATOR_MAX_TOKENS, solver_max_tokens=REASONING_SOLVER_MAX_TOKENS,
                    navigator_think=True, solver_think=True)
        return cls(**{**base, **overrides})

    def thinks(self, role: str) -> bool:
        """Whether ``role``'s replies start inside an open <think> block."""
        return self.opens_think or (self.navigator_think if role == "navigator" else self.solver_think)


# ------------------------------------------------------------------------------------ JSON parsing

def _visible(text: str, prefilled: bool = False) -> str:
    """The part of a reply after its reasoning (the whole text when there is no think block);
    ``prefilled``: the reply starts inside <think>, so nothing is visible before </think>."""
    sp = split_completion(text, prefilled=prefilled)
    return sp.answer if sp.answer is not None else ""


def parse_json_object(text: str, prefilled: bool = False) -> dict[str, Any] | None:
    """The first JSON object in a model reply: think blocks skipped (``prefilled``: the reply began
    inside one, so only the text after </think> counts), fenced blocks first, then the first
    ``{...}`` that decodes (trailing commas and curly quotes forgiven). None if there is none."""
    text = _visible(text or "", prefilled)
    candidates = [m.group(1) for m in FENCE_RE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for cand in candidates:
        for variant in (cand, TRAILING_COMMA_RE.sub(r"\1", cand.replace("“", '"').replace("”", '"'))):
            start = variant.find("{")
            while start != -1:
                try:
                    obj, _ = decoder.raw_decode(variant, start)
                except json.JSONDecodeError:
                    start = variant.find("{", start + 1)
                    continue
                if isinstance(obj, dict):
                    return obj
                start = variant.find("{", start + 1)
    return None


def _str_list(v: Any, cap: int) -> list[str] | None:
    """A list of non-empty strings (a string becomes its lines; dict items their values)."""
    if isinstance(v, str):
        v = [ln for ln in v.splitlines() if ln.strip()]
    if not isinstance(v, list):
        return None
    out = []
    for item in v:
        if isinstance(item, dict):
            item = " ".join(str(x) for x in item.values() if x)
        s = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", str(item)).strip()[:MAX_STEP_CHARS]
        if s:
            out.append(s)
    return out[:cap]


def check_plan(obj: dict[str, Any], max_steps: int) -> tuple[dict[str, Any] | None, str]:
    steps = _str_list(obj.get("steps"), max_steps)
    if not steps:
        return None, 'the key "steps" must be a non-empty list of strings'
    tags = _str_list(obj.get("tags") if not isinstance(obj.get("tags"), str) else obj["tags"].split(","), MAX_PLAN_TAGS) or []
    plan = {k: str(obj.get(k) or "").strip() for k in ("domain", "section", "method")}
    plan.update(tags=[t.lower() for t in tags], steps=steps)
    return plan, ""


def check_adjust(obj: dict[str, Any], max_steps: int, ids: set[str]) -> tuple[dict[str, Any] | None, str]:
    steps = _str_list(obj.get("steps"), max_steps)
    if not steps:
        return None, 'the key "steps" must be a non-empty list of strings'
    tid = obj.get("template_id")
    return {"template_id": tid if isinstance(tid, str) and tid in ids else None, "steps": steps}, ""


def check_judgement(obj: dict[str, Any], max_steps: int) -> tuple[dict[str, Any] | None, str]:
    status = str(obj.get("status", "")).strip().lower()
    if status not in STATUSES:
        return None, f'"status" must be one of {", ".join(STATUSES)}'
    remaining = _str_list(obj.get("remaining_steps", []), max_steps)
    if remaining is None:
        return None, '"remaining_steps" must be a list of strings'
    return {"status": status, "remaining_steps": remaining, "reason": str(obj.get("reason") or "")}, ""


# ------------------------------------------------------------------------------------------ the loop

Ask = tuple[str, Request]                       # (role, request) yielded by a problem's loop
Loop = Generator[Ask, Completion, Any]


class _Run:
    """State of one problem's navigator run (settings, the growing trace). Its methods are
    generators: each model call yields ``(role, Request)`` and receives the Completion."""

    def __init__(self, trace: Trace, settings: NavigatorSettings, tag: str = "") -> None:
        self.trace, self.s, self.tag = trace, settings, tag

    def call(self, role: str, purpose: str, messages: list[dict[str, str]], attempt: int = 0) -> Loop:
        s = self.s
        prefill = THINK_PREFILL if (s.navigator_think if role == "navigator" else s.solver_think) else ""
        req = Request(messages=messages, max_tokens=s.navigator_max_tokens if role == "navigator" else s.solver_max_tokens,
                      temperature=s.temperature, top_p=s.top_p, seed=s.seed, prefill=prefill,
                      id=f"{self.tag}{role}-{purpose}-{len(self.trace.calls)}")
        comp = yield role, req
        self.trace.calls.append(Call(role, purpose, attempt, messages[-1]["content"], comp.text, comp.finish_reason,
                                     comp.prompt_tokens, comp.completion_tokens, round(comp.latency_s, 4), comp.error))
        tok = self.trace.tokens[role]
        tok["prompt"] += comp.prompt_tokens
        tok["completion"] += comp.completion_tokens
        if comp.finish_reason == "error":
            self.trace.errors.append(f"{role} {purpose}: engine error: {comp.error}")
        return comp

    def ask_json(self, purpose: str, prompt: str, check: Callable[[dict[str, Any]], tuple[dict | None, str]]) -> Loop:
        """Ask the navigator for JSON; retry with a correction; None (a counted fallback) after
        ``json_retries`` retries."""
        messages = [{"role": "user", "content": prompt}]
        for attempt in range(self.s.json_retries + 1):
            comp = yield from self.call("navigator", purpose, messages, attempt)
            obj = parse_json_object(comp.text, self.s.thinks("navigator")) if comp.finish_reason != "error" else None
            if obj is None:
                if comp.finish_reason == "error":
                    why = "the engine failed"
                elif self.s.thinks("navigator") and not _visible(comp.text, True):
                    why = ("it ran out of tokens before </think> and the JSON (think briefly)" if comp.finish_reason == "length"
                           else "it never closed </think>, so there is no JSON after it (think briefly)")
                else:
                    why = "it contains no JSON object"
            else:
                value, why = check(obj)
                if value is not None:
                    return value
            messages = messages + [{"role": "assistant", "content": comp.text},
                                   {"role": "user", "content": P.JSON_RETRY_PROMPT.format(problem=why)}]
        self.trace.fallbacks[purpose] = self.trace.fallbacks.get(purpose, 0) + 1
        self.trace.errors.append(f"navigator {purpose}: no usable JSON after {self.s.json_retries + 1} attempt(s); fallback used")
        return None

    def solver_text(self, comp: Completion) -> str:
        """The part of a solver reply to quote back: the answer, or the reasoning tail if truncated."""
        sp = split_completion(comp.text, comp.reasoning, prefilled=self.s.thinks("solver"))
        return (sp.answer if sp.answer is not None else sp.reasoning).strip()

    def history(self) -> str:
        if not self.trace.steps:
            return P.NO_HISTORY
        n = self.s.max_history_chars
        return "\n\n".join(P.HISTORY_ENTRY.format(index=r.index, step=r.step,
                                                  result=r.response if len(r.response) <= n else "…" + r.response[-n:])
                           for r in self.trace.steps)


def _numbered(steps: list[str]) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def _template_block(hits: list[Any]) -> str:
    blocks = []
    for h in hits:
        t = h.template
        blocks.append(P.TEMPLATE_ENTRY.format(id=t.id, name=t.name, domain=t.domain, section=t.section, score=h.score,
                                              applicability=t.applicability,
                                              steps=" ".join(f"({i}) {s}" for i, s in enumerate(t.steps, 1))))
    return "\n\n".join(blocks)


def worked_example(template: Any, max_tokens: int = EXAMPLE_MAX_TOKENS) -> str:
    """The template's worked example (problem, solution, answer) within about ``max_tokens`` tokens:
    the problem and the answer are kept whole when they fit; the solution is cut in the middle."""
    if template is None or max_tokens <= 0:
        return ""
    ex = template.example
    budget = max_tokens * CHARS_PER_TOKEN
    frame = P.EXAMPLE_BLOCK.format(name=template.name, problem=ex.problem, solution="", answer=ex.answer)
    room = budget - len(frame)
    solution = ex.solution
    if room < len(solution):
        if room < 80:  # no room for a useful solution: the problem and answer alone, cut to the budget
            return frame[:budget].rstrip()
        half = (room - 3) // 2
        solution = solution[:half].rstrip() + " … " + solution[-half:].lstrip()
    return P.EXAMPLE_BLOCK.format(name=template.name, problem=ex.problem, solution=solution, answer=ex.answer)


def plan_query(problem: str, plan: dict[str, Any]) -> str:
    """The retrieval query: the problem, then the plan's method names (method, section, domain, tags)."""
    words = [plan.get("method", ""), plan.get("section", ""), str(plan.get("domain", "")).replace("_", " "),
             " ".join(plan.get("tags", []))]
    return problem + "\n" + " ".join(w for w in words if w)


def _navigate(problem: str, query: str, run: _Run, retriever: Any | None) -> Loop:
    """One problem's loop (a generator of model calls); fills ``run.trace``."""
    from reasonflux.templates.library import DOMAINS

    s, trace = run.s, run.trace
    t0 = time.perf_counter()
    max_steps = max(1, s.max_steps)

    # 1. plan
    plan = yield from run.ask_json("plan", P.PLAN_PROMPT.format(problem=problem, domains=", ".join(DOMAINS), max_steps=max_steps),
                                   lambda o: check_plan(o, max_steps))
    if plan is None:
        plan = {"domain": "", "section": "", "method": "", "tags": [], "steps": [P.FALLBACK_STEP]}
        trace.plan_source = "fallback"
    else:
        trace.plan_source = "navigator"
    trace.plan = plan
    steps = list(plan["steps"])

    # 2. retrieve (the problem and the plan's method names), 3. adjust to the template
    hits: list[Any] = []
    if retriever is not None and s.k > 0:
        hits = retriever.search(plan_query(query, plan), s.k)
        trace.retrieved = [h.to_dict() for h in hits]
    if hits:
        ids = {h.template.id for h in hits}
        adj = yield from run.ask_json("adjust", P.ADJUST_PROMPT.format(
            problem=problem, plan=json.dumps(plan, ensure_ascii=False), templates=_template_block(hits), max_steps=max_steps),
            lambda o: check_adjust(o, max_steps, ids))
        if adj is not None:
            trace.template_id = adj["template_id"]
            steps = adj["steps"]
    trace.planned_steps = list(steps)
    chosen = next((h.template for h in hits if h.template.id == trace.template_id), None)
    if chosen is None and hits and trace.plan_source == "fallback":
        chosen = hits[0].template  # no usable plan: the best retrieved template's example still helps the solver
    example = worked_example(chosen, s.example_max_tokens)
    trace.example_id = chosen.id if example else None
    example_part = f"\n{example}\n" if example else ""
    method = plan["method"] or (chosen.name if chosen is not None else "") or "as planned"

    # 4. steps: instruct, solve, judge
    pending = list(steps)
    trace.stop_reason = "plan_complete"
    while pending:
        if len(trace.steps) >= max_steps:
            trace.stop_reason = "max_steps"
            break
        step = pending[0]
        all_steps = [r.step for r in trace.steps] + pending
        comp = yield from run.call("navigator", "instruct", [{"role": "user", "content": P.INSTRUCT_PROMPT.format(
            problem=problem, method=method, example=example_part, plan=_numbered(all_steps), history=run.history(), step=step)}])
        instruction = _visible(comp.text, s.thinks("navigator")).strip()[:MAX_INSTRUCTION_CHARS]
        if not instruction:
            trace.fallbacks["instruct"] += 1  # no usable instruction: the planned step itself is the instruction
            instruction = step
        comp = yield from run.call("solver", "solve", [{"role": "user", "content": P.SOLVE_STEP_PROMPT.format(
            problem=problem, example=example_part, history=run.history(), instruction=instruction)}])
        record = StepRecord(len(trace.steps) + 1, step, instruction, run.solver_text(comp))
        trace.steps.append(record)
        judgement = yield from run.ask_json("judge", P.JUDGE_PROMPT.format(
            problem=problem, plan=_numbered(all_steps), history=run.history(),
            remaining=json.dumps(pending[1:], ensure_ascii=False)), lambda o: check_judgement(o, max_steps))
        record.judgement = judgement
        if judgement is None or judgement["status"] == "continue":
            pending = pending[1:]
        elif judgement["status"] == "done":
            trace.stop_reason = "done"
            break
        else:  # revise
            trace.revisions.append({"after_step": record.index, "old": pending[1:], "new": judgement["remaining_steps"],
                                    "reason": judgement["reason"]})
            pending = judgement["remaining_steps"]

    # 5. final answer
    comp = yield from run.call("solver", "final", [{"role": "user", "content": P.FINAL_PROMPT.format(problem=problem, history=run.history())}])
    trace.final_response = comp.text
    trace.final_answer = _extract(comp.text, s.thinks("solver"))
    if trace.final_answer is None:
        for r in reversed(trace.steps):  # the final call failed or gave no answer: the last stated one
            trace.final_answer = _extract(r.response, False)
            if trace.final_answer is not None:
                break
    if trace.final_answer is None:
        trace.errors.append("no final answer could be extracted")
    if comp.finish_reason == "error" and not trace.steps:
        trace.stop_reason = "error"
    trace.elapsed_s = round(time.perf_counter() - t0, 3)
    return trace


# --------------------------------------------------------------------------------- the scheduler

@dataclass
class Job:
    """One navigator run for :func:`reason_many`: the problem as shown to the models, the text to
    retrieve with (default: the problem), its own settings (seed, budgets; default: the call's) and a
    trace to fill (default: a new one)."""

    problem: str
    query: str | None = None
    settings: NavigatorSettings | None = None
    trace: Trace | None = None
    tag: str = ""


def _generate(backend: Any, requests: list[Request]) -> list[Completion]:
    """One generate call; a failing engine answers every request with an error completion."""
    try:
        outs = backend.generate(requests)
    except Exception as e:  # noqa: BLE001 - a failing engine is recorded, the runs go on to their fallbacks
        return [Completion(text="", finish_reason="error", error=f"{type(e).__name__}: {e}") for _ in requests]
    comps = []
    for out in list(outs) + [[]] * (len(requests) - len(outs)):
        comps.append(out[0] if out else Completion(text="", finish_reason="error", error="backend returned no completion"))
    return comps[: len(requests)]


def reason_many(jobs: Iterable[Job | str], navigator: Any, solver: Any | None = None, retriever: Any | None = None,
                settings: NavigatorSettings | None = None, *, max_live: int | None = None,
                on_done: Callable[[int, Trace], None] | None = None,
                on_round: Callable[[int, int], None] | None = None) -> list[Trace]:
    """Run the navigator loop on every job, batch-first; returns the Traces in job order.

    Each round advances every live problem by one model call and sends the round as one
    ``generate`` call per backend (one in all when ``solver`` is ``navigator`` or None; with two
    backends both calls run at once). ``max_live`` caps the problems in flight (the rest start as
    others finish); ``on_done(job index, trace)`` runs as each problem finishes (eval appends its
    sample there), ``on_round(round, requests)`` after each round.
    """
    base = settings or NavigatorSettings()
    solver = solver if solver is not None else navigator
    job_list = [Job(problem=j) if isinstance(j, str) else j for j in jobs]
    traces: list[Trace] = []
    queue: list[int] = []
    loops: dict[int, Loop] = {}
    nav_name = {"backend": getattr(navigator, "name", type(navigator).__name__)}
    sol_name = {"backend": getattr(solver, "name", type(solver).__name__)}
    for i, job in enumerate(job_list):
        trace = job.trace if job.trace is not None else Trace(problem=job.problem)
        trace.navigator = trace.navigator or dict(nav_name)
        trace.solver = trace.solver or dict(sol_name)
        traces.append(trace)
        queue.append(i)
    queue.reverse()  # pop() takes jobs in order
    cap = max_live if max_live and max_live > 0 else len(job_list)
    asks: dict[int, Ask] = {}

    def start(i: int) -> None:
        job = job_list[i]
        run = _Run(traces[i], job.settings or base, job.tag or (f"{i}/" if len(job_list) > 1 else ""))
        loop = _navigate(job.problem, job.query or job.problem, run, retriever)
        loops[i] = loop
        advance(i, None)

    def advance(i: int, comp: Completion | None) -> None:
        try:
            asks[i] = loops[i].send(comp)  # type: ignore[arg-type]
        except StopIteration:
            asks.pop(i, None)
            del loops[i]
            if on_done is not None:
                on_done(i, traces[i])

    rounds = 0
    pool = ThreadPoolExecutor(max_workers=2) if solver is not navigator else None
    try:
        while queue or asks:
            while queue and len(loops) < cap:
                start(queue.pop())
            if not asks:
                continue
            order = sorted(asks)
            groups: dict[str, list[int]] = {}
            for i in order:
                role = asks[i][0]
                groups.setdefault("navigator" if role == "navigator" or solver is navigator else "solver", []).append(i)
            backends = {"navigator": navigator, "solver": solver}
            calls = {g: (backends[g], [asks[i][1] for i in ids]) for g, ids in groups.items()}
            if pool is not None and len(calls) > 1:
                futures = {g: pool.submit(_generate, b, reqs) for g, (b, reqs) in calls.items()}
                results = {g: f.result() for g, f in futures.items()}
            else:
                results = {g: _generate(b, reqs) for g, (b, reqs) in calls.items()}
            rounds += 1
            for g, ids in groups.items():
                for i, comp in zip(ids, results[g]):
                    advance(i, comp)
            if on_round is not None:
                on_round(rounds, len(order))
    finally:
        for loop in loops.values():
            loop.close()
        if pool is not None:
            pool.shutdown(wait=True)
    return traces


def reason(problem: str, navigator: Any, solver: Any | None = None, retriever: Any | None = None,
           settings: NavigatorSettings | None = None, trace: Trace | None = None, *, query: str | None = None) -> Trace:
    """Run the navigator loop on ``problem``; returns (and fills, if given) ``trace``.

    ``navigator``/``solver`` are reasonflux backends (the solver defaults to the navigator);
    ``retriever`` has ``search(query, k) -> hits`` (None: no templates); ``query`` is the text
    retrieval starts from (default: ``problem``).
    """
    return reason_many([Job(problem, query=query, trace=trace)], navigator, solver, retriever, settings)[0]


def fallback_summary(traces: Iterable[Trace | dict[str, Any]]) -> dict[str, Any]:
    """How often the navigator's replies were unusable, over many traces (eval's metrics)."""
    runs = plan_fb = with_fb = 0
    by_kind = dict.fromkeys(FALLBACK_KINDS, 0)
    calls = 0
    for t in traces:  # a Trace is read in place (no asdict copy of its calls), a stored one as a dict
        if isinstance(t, Trace):
            fb, plan_source, roles = t.fallbacks, t.plan_source, [c.role for c in t.calls]
        else:
            fb, plan_source, roles = t.get("fallbacks") or {}, t.get("plan_source"), [c.get("role") for c in t.get("calls", [])]
        runs += 1
        for k, v in fb.items():
            by_kind[k] = by_kind.get(k, 0) + int(v)
        plan_fb += plan_source == "fallback"
        with_fb += any(int(v) for v in fb.values())
        calls += roles.count("navigator")
    total = sum(by_kind.values())
    return {"runs": runs, "fallbacks": total, "by_kind": by_kind, "plan_fallback_runs": plan_fb,
            "runs_with_fallback": with_fb, "navigator_calls": calls}


def _extract(text: str, prefilled: bool) -> str | None:
    from reasonflux.grading import extract_answer

    return extract_answer(text, prefilled=prefilled) if text else None
