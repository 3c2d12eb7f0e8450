"""Trajectory synthesis: problems → teacher trajectories (template hints or the navigator loop) →
graded against the reference → kept by policy → F1-style SFT records in ``DIR/trajectories.jsonl``.

Resumable by problem id: ``DIR/progress.jsonl`` gets one line per finished problem after its
records are written; a rerun skips those problems and drops records of unfinished ones.

    reasonflux synth --problems problems.jsonl --teacher smollm2 --samples 2 --out runs/synth
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from reasonflux.chat import THINK_PREFILL, split_completion
from reasonflux.errors import UserError
from reasonflux.synth.text import normalize

PROBLEM_KEYS = ("problem", "question", "prompt", "instruction")
ANSWER_KEYS = ("answer", "reference_answer", "gold", "final_answer", "solution")
ID_KEYS = ("id", "problem_id", "unique_id", "uid")
FALLBACK_ANSWER_LINE = "The final answer is $\\boxed{{{answer}}}$."


@dataclass
class SynthProblem:
    id: str
    problem: str
    answer: str


@dataclass
class Candidate:
    text: str
    reasoning: str
    answer_part: str | None
    finish_reason: str
    completion_tokens: int
    extracted: str | None
    correct: bool
    reason: str
    template_ids: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def read_problems(path: str) -> list[SynthProblem]:
    """Rows with a problem and a reference answer; the keys are auto-detected. A file path or a
    hub dataset id. Bad rows are errors naming the line."""
    from reasonflux.synth.formats import read_source

    rows, _ = read_source(path)
    out, seen = [], set()
    for line, row in rows:
        row = dict(row)
        text = next((row[k] for k in PROBLEM_KEYS if row.get(k)), None)
        ans = next((row[k] for k in ANSWER_KEYS if row.get(k) not in (None, "")), None)
        if text is None:
            raise UserError(f"{path}:{line}: no problem field (one of {', '.join(PROBLEM_KEYS)})")
        if ans is None:
            raise UserError(f"{path}:{line}: no reference answer field (one of {', '.join(ANSWER_KEYS)})")
        if "answer" not in row and "solution" in row:  # a worked solution: its boxed answer is the reference
            from reasonflux.grading import extract_answer

            ans = extract_answer(str(ans)) or ans
        pid = next((str(row[k]) for k in ID_KEYS if row.get(k) not in (None, "")), None)
        pid = pid or hashlib.sha1(normalize(str(text)).encode()).hexdigest()[:12]
        if pid in seen:
            raise UserError(f"{path}:{line}: duplicate problem id {pid!r}")
        seen.add(pid)
        out.append(SynthProblem(pid, str(text), str(ans)))
    return out


def select(cands: list[Candidate], keep: str) -> list[Candidate]:
    """``shortest``: the correct candidate with the fewest tokens; ``all-distinct:K``: up to K
    correct candidates with distinct normalised text (shortest first)."""
    good = sorted((c for c in cands if c.correct), key=lambda c: c.completion_tokens)
    if keep == "shortest":
        return good[:1]
    if keep.startswith("all-distinct"):
        _, _, k = keep.partition(":")
        limit = int(k) if k else len(good)
        out, seen = [], set()
        for c in good:
            key = normalize(c.text)
            if key not in seen:
                seen.add(key)
                out.append(c)
            if len(out) >= limit:
                break
        return out
    raise UserError(f"unknown --keep {keep!r}: use shortest or all-distinct:K")


def parse_keep(keep: str) -> str:
    select([], keep)  # validates
    return keep


def assistant_content(c: Candidate) -> str:
    """F1 style: ``<think>\\n…\\n</think>\\n\\n…final solution with \\boxed{}``."""
    answer = c.answer_part
    reasoning = c.reasoning
    if not reasoning:  # a teacher without a think block: its solution is the reasoning
        reasoning, answer = c.text.strip(), FALLBACK_ANSWER_LINE.format(answer=c.extracted)
    elif not answer or "\\boxed" not in answer:
        answer = ((answer or "").rstrip() + "\n\n" + FALLBACK_ANSWER_LINE.format(answer=c.extracted)).strip()
    return f"{THINK_PREFILL}{reasoning.strip()}\n</think>\n\n{answer.strip()}"


def record(p: SynthProblem, c: Candidate, teacher: str, verdicts: list[bool], sample: int) -> dict[str, Any]:
    return {
        "id": f"{p.id}#{sample}",
        "messages": [{"role": "user", "content": p.problem}, {"role": "assistant", "content": assistant_content(c)}],
        "meta": {
            "problem_id": p.id, "reference_answer": p.answer, "extracted": c.extracted, "template_ids": c.template_ids,
            "teacher": teacher, "verdicts": verdicts, "completion_tokens": c.completion_tokens, **c.extra,
        },
    }


class Store:
    """``trajectories.jsonl`` + ``progress.jsonl`` in one run directory, resumable."""

    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.traj = out / "trajectories.jsonl"
        self.progress = out / "progress.jsonl"
        self.done: dict[str, dict] = {}
        self.failed: dict[str, str] = {}  # problem id -> engine error, this run only
        for line in self._lines(self.progress):
            self.done[line["problem_id"]] = line
        kept = [r for r in self._lines(self.traj) if r.get("meta", {}).get("problem_id") in self.done]
        with self.traj.open("w", encoding="utf-8") as f:  # drop records of problems that never finished
            for r in kept:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    @staticmethod
    def _lines(p: Path) -> list[dict]:
        if not p.exists():
            return []
        out = []
        for raw in p.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                break  # a half-written last line from a crash
        return out

    def finish(self, p: SynthProblem, records: list[dict], summary: dict) -> None:
        with self.traj.open("a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
        line = {"problem_id": p.id, **summary}
        with self.progress.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
        self.done[p.id] = line


def grade_candidates(problem: SynthProblem, comps: list, prefilled: bool, template_ids: list[str], workers: int) -> list[Candidate]:  # noqa: ANN001
    from reasonflux.grading import grade_many

    verdicts = grade_many([{"response": c.text, "gold": problem.answer, "kind": "math", "prefilled": prefilled, "finish_reason": c.finish_reason} for c in comps], workers=workers)
    out = []
    for c, v in zip(comps, verdicts):
        sp = split_completion(c.text, c.reasoning, prefilled=prefilled)
        out.append(Candidate(text=c.text, reasoning=sp.reasoning, answer_part=sp.answer, finish_reason=c.finish_reason,
                             completion_tokens=c.completion_tokens, extracted=v.extracted, correct=v.correct, reason=v.reason,
                             template_ids=list(template_ids)))
    return out


def run_hint_mode(
    problems: list[SynthProblem],
    store: Store,
    backend,  # noqa: ANN001
    build_messages: Callable[[str], tuple[list[dict[str, str]], list[str]]],
    *,
    samples: int,
    keep: str,
    teacher: str,
    request_kwargs: dict[str, Any],
    prefill: str,
    chunk: int,
    workers: int,
    on_problem: Callable[[dict], None] | None = None,
) -> None:
    """Generate ``samples`` trajectories per problem in chunks of problems (one backend call per
    chunk), grade, keep, write."""
    from reasonflux.types import Request

    todo = [p for p in problems if p.id not in store.done]
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        prompts = [build_messages(p.problem) for p in part]
        reqs = [Request(messages=m, n=samples, prefill=prefill, id=p.id, **request_kwargs) for p, (m, _) in zip(part, prompts)]
        outs = backend.generate(reqs)
        for p, (_, tids), comps in zip(part, prompts, outs):
            if comps and all(c.finish_reason == "error" for c in comps):
                store.failed[p.id] = comps[0].error or "error"
                continue  # engine failure, not a verdict: a rerun tries this problem again
            cands = grade_candidates(p, comps, bool(prefill), tids, workers)
            kept = select(cands, keep)
            verdicts = [c.correct for c in cands]
            recs = [record(p, c, teacher, verdicts, i) for i, c in enumerate(kept)]
            summary = {"samples": len(cands), "correct": sum(verdicts), "kept": len(recs),
                       "tokens": sum(c.completion_tokens for c in cands), "reasons": [c.reason for c in cands]}
            store.finish(p, recs, summary)
            if on_problem:
                on_problem(summary)


def summarize(store: Store, started: float) -> dict[str, Any]:
    lines = list(store.done.values())
    return {
        "problems": len(lines),
        "solved": sum(1 for x in lines if x.get("correct", 0) > 0),
        "kept": sum(x.get("kept", 0) for x in lines),
        "samples": sum(x.get("samples", 0) for x in lines),
        "tokens": sum(x.get("tokens", 0) for x in lines),
        "failed": len(store.failed),
        "wall_s": round(time.time() - started, 2),
    }
