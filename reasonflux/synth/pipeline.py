"""Trajectory synthesis: problems → teacher trajectories (template hints or the navigator loop) →
graded against the reference → kept by policy → F1-style SFT records in ``DIR/trajectories.jsonl``.

Resumable by problem id: ``DIR/progress.jsonl`` gets one line per finished problem after its
records are written; a rerun skips those problems and drops records of unfinished ones.

    reasonflux synth --problems problems.jsonl --teacher smollm2 --samples 2 --out runs/synth
"""

from __future__ import annotations

import hashlib
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
    line: int = 0  # row number in the input file (1-based; 0 when built in code)
    given_id: bool = True  # False: ``id`` was derived from the normalised text


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


def derived_id(text: str) -> str:
    return hashlib.sha1(normalize(str(text)).encode()).hexdigest()[:12]


def read_problem_rows(path: str) -> list[SynthProblem]:
    """Rows with a problem and a reference answer, keys auto-detected, each with its input row
    number; ids are NOT checked for uniqueness yet (dedup runs first, then :func:`assign_ids`).
    A file path or a hub dataset id. Bad rows are errors naming the line."""
    from reasonflux.synth.formats import read_source

    rows, _ = read_source(path)
    out = []
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
        out.append(SynthProblem(pid or derived_id(str(text)), str(text), str(ans), line=line, given_id=pid is not None))
    return out


def assign_ids(problems: list[SynthProblem], path: str = "problems") -> list[SynthProblem]:
    """Make ids unique AFTER dedup: two rows with the same given id are an error naming both
    lines; rows without an id whose text repeats (dedup off) get ``-2``, ``-3``, ... suffixes."""
    first: dict[str, SynthProblem] = {}
    for p in problems:
        if p.given_id:
            if p.id in first:
                raise UserError(f"{path}:{p.line}: duplicate problem id {p.id!r} (also on line {first[p.id].line}); "
                                f"give each problem its own id")
            first[p.id] = p
    for p in problems:
        if not p.given_id:
            base, k = p.id, 1
            while p.id in first:
                k += 1
                p.id = f"{base}-{k}"
            first[p.id] = p
    return problems


def read_problems(path: str) -> list[SynthProblem]:
    """:func:`read_problem_rows` with ids made unique (no dedup)."""
    return assign_ids(read_problem_rows(path), path)


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
    """``trajectories.jsonl`` + ``progress.jsonl`` in one run directory, on the generic run store
    (:mod:`reasonflux.store`): locked against a second writer, defining settings checked by name,
    one ``os.write`` per problem's records and one per progress line, a torn last line repaired, a
    damaged middle line refused with its line number.

    A problem is finished when its progress line exists (written after its trajectories). At
    start, trajectory records of problems without a progress line (a crash between the two
    writes) are dropped by an atomic rewrite; nothing finished is ever dropped. Use as a context
    manager, or call :meth:`close`."""

    def __init__(self, out: Path, settings: dict[str, Any] | None = None):
        from reasonflux import store as runstore

        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.traj = out / "trajectories.jsonl"
        self.progress = out / "progress.jsonl"
        self.failed: dict[str, str] = {}  # problem id -> engine error, this run only
        self._lock = runstore.RunLock(out).acquire()
        try:
            if settings is not None:
                runstore.check_settings(out, settings)
            lines = runstore.read_log(self.progress, key=lambda r: str(r["problem_id"]), repair=True, what="progress record")
            self.done: dict[str, dict] = {str(x["problem_id"]): x for x in lines}
            recs = runstore.read_log(self.traj, repair=True, what="trajectory record")
            for i, r in enumerate(recs, 1):
                if not isinstance(r.get("meta"), dict) or "problem_id" not in r["meta"]:
                    raise UserError(f"{self.traj} record {i} has no meta.problem_id; move the file aside or fix that line")
            kept = [r for r in recs if str(r["meta"]["problem_id"]) in self.done]
            self.dropped_unfinished = len(recs) - len(kept)
            if self.dropped_unfinished:  # records of problems that never finished (crash between writes)
                runstore.rewrite_log(self.traj, kept)
            self._traj_w = runstore.Appender(self.traj)
            self._prog_w = runstore.Appender(self.progress)
        except BaseException:
            self._lock.release()
            raise

    def finish(self, p: SynthProblem, records: list[dict], summary: dict) -> None:
        self._traj_w.write_many(records)
        line = {"problem_id": p.id, **summary}
        self._prog_w.write(line)
        self.done[p.id] = line

    def close(self) -> None:
        for w in (getattr(self, "_traj_w", None), getattr(self, "_prog_w", None)):
            if w is not None:
                w.close()
        self._lock.release()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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
