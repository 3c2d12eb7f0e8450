"""The navigator loop (ReasonFlux-v1 template-guided hierarchical reasoning) and its Trace.

1. the navigator writes a JSON plan (domain, section, method, tags, steps);
2. the plan and problem retrieve the best thought templates;
3. the navigator adjusts its steps to the template it picks;
4. per step: the navigator writes an instruction, the solver carries it out, and the navigator
   judges progress (``continue`` / ``revise`` with new remaining steps / ``done``);
5. the solver writes the final answer, extracted with ``reasonflux.grading.extract_answer``.

Navigator JSON is parsed leniently (think blocks, fenced blocks, the first ``{...}``); an
unusable reply is retried ``json_retries`` times with a correction, then a fallback is used (a
single-step plan, the unadjusted steps, "continue") — never an endless loop; at most ``max_steps``
solver steps run. Every call, instruction, response and revision lands in the returned
:class:`Trace`, which serialises to JSON for eval, synthesis and training.

    reasonflux reason "Find the last digit of 7^2024." --navigator smollm2 --max-steps 3 --out trace.json
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from reasonflux.chat import THINK_PREFILL, split_completion
from reasonflux.reasoning import prompts as P
from reasonflux.types import Completion, Request

TRACE_VERSION = 1
STATUSES = ("continue", "revise", "done")
MAX_PLAN_TAGS = 8
MAX_STEP_CHARS = 400         # a "step" longer than this is cut (a model pasting its whole solution)
MAX_INSTRUCTION_CHARS = 1200
FENCE_RE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")


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
    calls: list[Call] = field(default_factory=list)
    navigator: dict[str, Any] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    version: int = TRACE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    seed: int = 0
    solver_think: bool = False      # prefill "<think>\n" for the solver (R1-style models)
    max_history_chars: int = 1500   # per step result quoted back into prompts (the tail is kept)


# ------------------------------------------------------------------------------------ JSON parsing

def _visible(text: str) -> str:
    """The part of a reply after its reasoning (the whole text when there is no think block)."""
    sp = split_completion(text)
    return sp.answer if sp.answer is not None else ""


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model reply: think blocks skipped, fenced blocks first, then the
    first ``{...}`` that decodes (trailing commas and curly quotes forgiven). None if there is none."""
    text = _visible(text or "")
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

class _Run:
    """State of one navigator run (backends, settings, the growing trace)."""

    def __init__(self, trace: Trace, navigator: Any, solver: Any, settings: NavigatorSettings) -> None:
        self.trace, self.nav, self.sol, self.s = trace, navigator, solver, settings

    def call(self, role: str, purpose: str, messages: list[dict[str, str]], attempt: int = 0) -> Completion:
        backend = self.nav if role == "navigator" else self.sol
        think = role == "solver" and self.s.solver_think
        req = Request(messages=messages, max_tokens=self.s.navigator_max_tokens if role == "navigator" else self.s.solver_max_tokens,
                      temperature=self.s.temperature, seed=self.s.seed, prefill=THINK_PREFILL if think else "",
                      id=f"{role}-{purpose}-{len(self.trace.calls)}")
        try:
            comp = backend.generate([req])[0][0]
        except Exception as e:  # noqa: BLE001 - a failing engine is recorded, the run goes on to its fallbacks
            comp = Completion(text="", finish_reason="error", error=f"{type(e).__name__}: {e}")
        self.trace.calls.append(Call(role, purpose, attempt, messages[-1]["content"], comp.text, comp.finish_reason,
                                     comp.prompt_tokens, comp.completion_tokens, round(comp.latency_s, 4), comp.error))
        tok = self.trace.tokens[role]
        tok["prompt"] += comp.prompt_tokens
        tok["completion"] += comp.completion_tokens
        if comp.finish_reason == "error":
            self.trace.errors.append(f"{role} {purpose}: engine error: {comp.error}")
        return comp

    def ask_json(self, purpose: str, prompt: str, check: Callable[[dict[str, Any]], tuple[dict | None, str]]) -> dict | None:
        """Ask the navigator for JSON; retry with a correction; None after ``json_retries`` retries."""
        messages = [{"role": "user", "content": prompt}]
        for attempt in range(self.s.json_retries + 1):
            comp = self.call("navigator", purpose, messages, attempt)
            obj = parse_json_object(comp.text) if comp.finish_reason != "error" else None
            if obj is None:
                why = "the engine failed" if comp.finish_reason == "error" else "it contains no JSON object"
            else:
                value, why = check(obj)
                if value is not None:
                    return value
            messages = messages + [{"role": "assistant", "content": comp.text},
                                   {"role": "user", "content": P.JSON_RETRY_PROMPT.format(problem=why)}]
        self.trace.errors.append(f"navigator {purpose}: no usable JSON after {self.s.json_retries + 1} attempt(s); fallback used")
        return None

    def solver_text(self, comp: Completion) -> str:
        """The part of a solver reply to quote back: the answer, or the reasoning tail if truncated."""
        sp = split_completion(comp.text, comp.reasoning, prefilled=self.s.solver_think)
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


def reason(problem: str, navigator: Any, solver: Any | None = None, retriever: Any | None = None,
           settings: NavigatorSettings | None = None, trace: Trace | None = None) -> Trace:
    """Run the navigator loop on ``problem``; returns (and fills, if given) ``trace``.

    ``navigator``/``solver`` are reasonflux backends (the solver defaults to the navigator);
    ``retriever`` has ``search(query, k) -> hits`` (None: no templates).
    """
    from reasonflux.templates.library import DOMAINS

    s = settings or NavigatorSettings()
    solver = solver if solver is not None else navigator
    trace = trace if trace is not None else Trace(problem=problem)
    trace.navigator = trace.navigator or {"backend": getattr(navigator, "name", type(navigator).__name__)}
    trace.solver = trace.solver or {"backend": getattr(solver, "name", type(solver).__name__)}
    run = _Run(trace, navigator, solver, s)
    t0 = time.perf_counter()
    max_steps = max(1, s.max_steps)

    # 1. plan
    plan = run.ask_json("plan", P.PLAN_PROMPT.format(problem=problem, domains=", ".join(DOMAINS), max_steps=max_steps),
                        lambda o: check_plan(o, max_steps))
    if plan is None:
        plan = {"domain": "", "section": "", "method": "", "tags": [], "steps": [P.FALLBACK_STEP]}
        trace.plan_source = "fallback"
    else:
        trace.plan_source = "navigator"
    trace.plan = plan
    steps = list(plan["steps"])

    # 2. retrieve, 3. adjust to the template
    hits: list[Any] = []
    if retriever is not None and s.k > 0:
        plan_text = " ".join([plan["method"], plan["section"], plan["domain"].replace("_", " "), " ".join(plan["tags"])])
        hits = retriever.search(f"{problem}\n{plan_text}", s.k)
        trace.retrieved = [h.to_dict() for h in hits]
    if hits:
        ids = {h.template.id for h in hits}
        adj = run.ask_json("adjust", P.ADJUST_PROMPT.format(problem=problem, plan=json.dumps(plan, ensure_ascii=False),
                                                           templates=_template_block(hits), max_steps=max_steps),
                           lambda o: check_adjust(o, max_steps, ids))
        if adj is not None:
            trace.template_id = adj["template_id"]
            steps = adj["steps"]
    trace.planned_steps = list(steps)
    method = plan["method"] or (next((h.template.name for h in hits if h.template.id == trace.template_id), "") or "as planned")

    # 4. steps: instruct, solve, judge
    pending = list(steps)
    trace.stop_reason = "plan_complete"
    while pending:
        if len(trace.steps) >= max_steps:
            trace.stop_reason = "max_steps"
            break
        step = pending[0]
        all_steps = [r.step for r in trace.steps] + pending
        comp = run.call("navigator", "instruct", [{"role": "user", "content": P.INSTRUCT_PROMPT.format(
            problem=problem, method=method, plan=_numbered(all_steps), history=run.history(), step=step)}])
        instruction = _visible(comp.text).strip()[:MAX_INSTRUCTION_CHARS] or step
        comp = run.call("solver", "solve", [{"role": "user", "content": P.SOLVE_STEP_PROMPT.format(
            problem=problem, history=run.history(), instruction=instruction)}])
        record = StepRecord(len(trace.steps) + 1, step, instruction, run.solver_text(comp))
        trace.steps.append(record)
        judgement = run.ask_json("judge", P.JUDGE_PROMPT.format(
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
    comp = run.call("solver", "final", [{"role": "user", "content": P.FINAL_PROMPT.format(problem=problem, history=run.history())}])
    trace.final_response = comp.text
    trace.final_answer = _extract(comp.text, s.solver_think)
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


def _extract(text: str, prefilled: bool) -> str | None:
    from reasonflux.grading import extract_answer

    return extract_answer(text, prefilled=prefilled) if text else None
