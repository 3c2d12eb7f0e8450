"""The eval runner: benchmarks × samples through one backend, graded and appended as they finish.

``run(cfg)`` selects problems (``benchmarks``, ``problems``, ``limit``), writes ``config.yaml`` and
``problems.jsonl``, reads back what ``samples.jsonl`` already holds (dropping a half-written last
line), sends every missing (benchmark, problem, sample index) to the backend in large batches
(``request_batch`` requests per ``generate`` call, one sample per request so each has its own seed),
grades each completion as it arrives and appends it at once. Then it computes ``metrics.json`` and
writes ``report.md`` and ``report.html``. A restarted run skips what is done; because every sample's
seed is derived from (seed, benchmark, problem id, sample index), a resumed run equals an
uninterrupted one with a deterministic backend.

Failures: a request that failed after the backend's retries is appended as a failure
(``finish_reason: "error"``), never graded, and retried by the next run; ``max_consecutive_errors``
failures in a row stop the generation (the backend is down); ``eval`` then exits 3 with one line
(:func:`failure_summary`).

    reasonflux eval --model smollm2 --preset quick --benchmarks math500 --limit 5 --out runs/demo
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonflux.backends import BackendConfig
from reasonflux.benchmarks import TABLE_ORDER
from reasonflux.errors import UserError
from reasonflux.evals.methods import METHOD_DEFINING, MethodConfig, method_messages, method_metrics
from reasonflux.evals.methods import default_out as method_default_out  # runs/<model>[-<method>]
from reasonflux.evals.store import is_failure
from reasonflux.scale import ScaleConfig

RUNS_ROOT = "runs"
# Settings that change what a sample *is*: a run directory refuses to mix samples made under different values.
SAMPLE_DEFINING = ("model", "format", "temperature", "top_p", "max_tokens", "seed", "prompt_style", "system", "prefill") + METHOD_DEFINING
LOG_EVERY_S = 30.0  # progress line interval when stderr is not a terminal (nohup, CI logs)
SEED_BITS = 31
# Requests per generate call: 4x vLLM's default max_num_seqs (256), so the engine stays full except in
# the last chunk's tail, while a crash with a backend that reports only at the end of a call (offline
# vLLM) loses at most one chunk.
REQUEST_BATCH = 1024
# A backend that fails this many samples in a row (after its own retries) is down: the run stops
# instead of turning every remaining sample into an error; finished samples stay, rerun to retry.
MAX_CONSECUTIVE_ERRORS = 16
# Exit code of a run that ended with failed or unattempted samples (a user error is 2).
FAILED_EXIT_CODE = 3


@dataclass
class EvalConfig(MethodConfig, ScaleConfig, BackendConfig):
    """``reasonflux eval`` settings; the presets in ``reasonflux/evals/presets/*.yaml`` use these keys."""

    benchmarks: list[str] = field(default_factory=lambda: list(TABLE_ORDER),
                                  metadata={"help": "comma-separated: aime24,aime25,math500,gpqa_diamond"})
    out: str = field(default="", metadata={"help": f"run directory (default {RUNS_ROOT}/<model name>); rerun the same command to resume", "short": "-o", "path": "out_dir"})
    name: str | None = field(default=None, metadata={"help": "label of this run in tables (default: the run directory's name)"})
    data_dir: str | None = field(default=None, metadata={"help": "local benchmark files laid out like ../shared/benchdata (else $REASONFLUX_DATA_DIR, else the hub)", "path": "dir"})
    prompt_style: str = field(default="raw", metadata={"help": "raw (the problem as the user turn) | instruct (plus the benchmark's answer-format instruction)"})
    system: str | None = field(default=None, metadata={"help": "system prompt (none by default)"})
    prefill: str = field(default="", metadata={"help": "assistant text the model continues, e.g. '<think>\\n'"})
    n: int | None = field(default=None, metadata={"help": "samples per problem for every benchmark (default: n_per_benchmark, else 1)", "min": 1})
    n_per_benchmark: dict[str, int] = field(default_factory=dict, metadata={"cli": False, "help": "YAML only: samples per problem by benchmark"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy", "min": 0})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling", "gt": 0, "max": 1})
    max_tokens: int = field(default=32768, metadata={"help": "new tokens per sample (reasoning + answer)", "min": 1})
    limit: int | None = field(default=None, metadata={"help": "first N problems of each benchmark", "min": 1})
    problems: list[str] = field(default_factory=list, metadata={"help": "comma-separated problem ids (e.g. 2024-I-1)"})
    request_batch: int = field(default=REQUEST_BATCH, metadata={"help": "requests per backend.generate call: large keeps the engine busy; a backend that reports only when a call ends loses at most this many on a crash", "min": 1})
    max_consecutive_errors: int = field(default=MAX_CONSECUTIVE_ERRORS, metadata={"help": "stop the run after this many failed samples in a row (the backend is down); 0 = never stop", "min": 0})
    quiet: bool = field(default=False, metadata={"help": "no progress bars or tables (ours and the libraries'); progress still goes to progress.log"})


def n_for(cfg: EvalConfig | dict[str, Any], benchmark: str) -> int:
    """Samples per problem of ``benchmark``: ``n`` if set, else ``n_per_benchmark``, else 1."""
    get = cfg.get if isinstance(cfg, dict) else lambda k, d=None: getattr(cfg, k, d)
    if get("n") is not None:
        return int(get("n"))
    return int((get("n_per_benchmark") or {}).get(benchmark, 1))


def sample_seed(seed: int, benchmark: str, problem_id: str, index: int) -> int:
    """The sampling seed of one sample: independent of batching, order and resumption."""
    h = hashlib.sha256(f"{seed}/{benchmark}/{problem_id}/{index}".encode()).hexdigest()
    return int(h[:8], 16) & ((1 << SEED_BITS) - 1)


def default_out(model: str) -> str:
    base = Path(model.rstrip("/")).name or "model"
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in base)
    return f"{RUNS_ROOT}/{slug}"


@dataclass
class Item:
    """One pending sample."""

    benchmark: str
    problem: Any  # reasonflux.types.Problem
    index: int
    messages: list[dict[str, str]]
    phash: str


def check(cfg: EvalConfig) -> None:
    from reasonflux.benchmarks import get
    from reasonflux.benchmarks._common import PROMPT_STYLES
    from reasonflux.errors import UserError

    if not cfg.benchmarks:
        raise UserError("--benchmarks is empty; choose from aime24,aime25,math500,gpqa_diamond")
    for b in cfg.benchmarks:
        get(b)
    if len(set(cfg.benchmarks)) != len(cfg.benchmarks):
        raise UserError(f"--benchmarks lists a benchmark twice: {','.join(cfg.benchmarks)}")
    if cfg.prompt_style not in PROMPT_STYLES:
        raise UserError(f"--prompt-style {cfg.prompt_style!r}: choose one of {', '.join(PROMPT_STYLES)}")
    for b in list(cfg.n_per_benchmark):
        get(b)
    for b in cfg.benchmarks:
        if n_for(cfg, b) < 1:
            raise UserError(f"n for {b} must be at least 1 (got {n_for(cfg, b)})")
    if cfg.limit is not None and cfg.limit < 1:
        raise UserError(f"--limit must be at least 1 (got {cfg.limit})")
    if cfg.max_tokens < 1 or cfg.request_batch < 1:
        raise UserError("--max-tokens and --request-batch must be at least 1")
    if cfg.max_consecutive_errors < 0:
        raise UserError(f"--max-consecutive-errors must not be negative (got {cfg.max_consecutive_errors})")


def select_problems(cfg: EvalConfig) -> dict[str, list[Any]]:
    """Problems per benchmark after ``problems`` (ids) and ``limit``."""
    from reasonflux.benchmarks import load_problems
    from reasonflux.errors import UserError

    wanted = set(cfg.problems)
    out: dict[str, list[Any]] = {}
    found: set[str] = set()
    for b in cfg.benchmarks:
        probs = load_problems(b, cfg.data_dir)
        if wanted:
            probs = [p for p in probs if p.id in wanted]
            found |= {p.id for p in probs}
        if cfg.limit is not None:
            probs = probs[: cfg.limit]
        out[b] = probs
    if wanted - found:
        missing = sorted(wanted - found)
        raise UserError(f"--problems: {len(missing)} id(s) not in {','.join(cfg.benchmarks)}: {', '.join(missing[:5])}")
    if wanted:
        out = {b: ps for b, ps in out.items() if ps}
    return out


def build_messages(cfg: EvalConfig, module: Any, problem: Any) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": cfg.system}] if cfg.system else []
    msgs = msgs + [{"role": "user", "content": module.prompt(problem, cfg.prompt_style)}]
    return method_messages(cfg, msgs, problem)  # --method hints: templates in the prompt (evals/methods.py)


def problem_rows(selected: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """problems.jsonl rows; benchmarks whose text must stay unpublished (GPQA) keep ids only."""
    from reasonflux.benchmarks import get

    rows = []
    for b, probs in selected.items():
        public = getattr(get(b), "TEXT_IN_OUTPUTS", True)
        for p in probs:
            meta = dict(p.meta) if public else {k: v for k, v in p.meta.items() if k != "choices"}
            row = {"benchmark": b, "id": p.id, "answer": p.answer, "kind": p.kind, "meta": meta}
            if public:
                row["problem"] = p.problem
            rows.append(row)
    return rows


def _check_same_settings(run_dir: Path, cfg: EvalConfig) -> None:
    import yaml

    from reasonflux.errors import UserError
    from reasonflux.evals.store import CONFIG

    p = run_dir / CONFIG
    if not p.is_file():
        return
    old = yaml.safe_load(p.read_text()) or {}
    diff = [f"{k}: {old.get(k)!r} -> {getattr(cfg, k)!r}" for k in SAMPLE_DEFINING
            if k in old and old.get(k) != getattr(cfg, k)]
    if diff:
        raise UserError(f"{run_dir} holds samples made with other settings ({'; '.join(diff)}); use another --out")


def prompt_opens_think(cfg: EvalConfig, backend: Any) -> bool:
    """Whether completions start inside an open ``<think>`` block: our prefill opens it, or the
    model's own chat template ends its generation prompt with it (R1-distill tokenizers do)."""
    from reasonflux.chat import THINK_OPEN, render

    if THINK_OPEN in cfg.prefill:
        return True
    tok = getattr(backend, "tokenizer", None)
    if cfg.format == "model" and tok is not None and getattr(tok, "chat_template", None):
        try:
            text = render("model", [{"role": "user", "content": "x"}], tokenizer=tok)
        except Exception:  # noqa: BLE001 - a template that cannot render is reported by the backend itself
            return False
        return text.rstrip().endswith(THINK_OPEN)
    return False


def make_record(item: Item, comp: Any, *, seed: int, prefilled: bool) -> dict[str, Any]:
    """One samples.jsonl line: the completion and its verdict."""
    from reasonflux.grading import grade

    if comp.finish_reason == "error":
        extracted, correct, reason = None, False, "error"
    else:
        # A server that returns reasoning separately hands us the answer part only.
        v = grade(response=comp.text, gold=item.problem.answer, kind=item.problem.kind,
                  prefilled=prefilled and not comp.reasoning, finish_reason=comp.finish_reason,
                  problem=item.problem.problem)  # #12: the question tells whether a percent is asked for
        extracted, correct, reason = v.extracted, bool(v.correct), v.reason
    return {
        "benchmark": item.benchmark, "problem_id": item.problem.id, "sample_index": item.index,
        "prompt_hash": item.phash, "seed": seed, "text": comp.text, "reasoning": comp.reasoning,
        "finish_reason": comp.finish_reason, "prompt_tokens": int(comp.prompt_tokens or 0),
        "completion_tokens": int(comp.completion_tokens or 0), "latency_s": round(float(comp.latency_s or 0.0), 4),
        "extracted": extracted, "correct": correct, "reason": reason, "error": comp.error,
        "prefilled": prefilled and not comp.reasoning,
    }


class Tracker:
    """Counts for the progress display: samples, tokens/s, running accuracy per benchmark."""

    def __init__(self, totals: dict[str, int], quiet: bool):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live = not quiet and self.console.is_terminal
        self.log = not quiet and not self.console.is_terminal
        self.done = dict.fromkeys(totals, 0)
        self.correct = dict.fromkeys(totals, 0)
        self.failed = dict.fromkeys(totals, 0)  # failures are not answers: out of the running accuracy
        self.tokens = 0
        self.start = time.perf_counter()
        self.last_log = self.start
        self.total = sum(totals.values())
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}
        if self.live and self.total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=self.console, refresh_per_second=4)
            for b, t in totals.items():
                if t:
                    self.tasks[b] = self.progress.add_task(b, total=t, info="")
            self.tasks["_all"] = self.progress.add_task("all", total=self.total, info="")
            self.progress.start()

    def add(self, rec: dict[str, Any]) -> None:
        b = rec["benchmark"]
        self.done[b] += 1
        self.correct[b] += bool(rec["correct"])
        self.failed[b] += is_failure(rec)
        self.tokens += rec["completion_tokens"]
        if self.progress is not None:
            acc = self.correct[b] / max(1, self.done[b] - self.failed[b])
            errs = f" · {self.failed[b]} failed" if self.failed[b] else ""
            self.progress.update(self.tasks[b], advance=1, info=f"acc {acc:.3f}{errs}")
            self.progress.update(self.tasks["_all"], advance=1, info=f"{self.tps():,.0f} tok/s")
        elif self.log and time.perf_counter() - self.last_log >= LOG_EVERY_S:
            self.last_log = time.perf_counter()
            done = sum(self.done.values())
            accs = " ".join(f"{k} {self.correct[k] / max(1, v - self.failed[k]):.3f}" + (f" ({self.failed[k]} failed)" if self.failed[k] else "")
                            for k, v in self.done.items() if v)
            print(f"[eval] {done}/{self.total} samples, {self.tps():,.0f} tok/s, acc {accs}", file=sys.stderr, flush=True)

    def tps(self) -> float:
        return self.tokens / max(1e-9, time.perf_counter() - self.start)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def heartbeat(cfg: EvalConfig, run_dir: Path, tracker: Tracker) -> Any:
    """The progress heartbeat (reasonflux.progress): tokens, tok/s, samples and ETA every 15 s, to the
    terminal (not with --quiet) and to ``run_dir/progress.log``, whether or not a sample finished."""
    from reasonflux.progress import LOG_NAME, Heartbeat, stderr_emit

    if cfg.quiet:
        emit = None
    elif tracker.progress is not None:  # above the live bars
        emit = lambda line: tracker.console.print(line, markup=False, highlight=False)  # noqa: E731
    else:
        emit = stderr_emit
    return Heartbeat("eval", tracker.total, lambda: (sum(tracker.done.values()), tracker.tokens),
                     max_tokens=cfg.max_tokens, log_path=run_dir / LOG_NAME, emit=emit)


class SamplesFailed(UserError):
    """A run that ended with failed or unattempted samples: one line, its own exit code (3)."""

    exit_code = FAILED_EXIT_CODE


class BackendDown(Exception):
    """Raised from the progress callback to abort ``backend.generate`` once the breaker trips."""


class FailureBreaker:
    """Counts failed samples in a row; at ``limit`` (0 = never) the backend is taken to be down."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.run = 0
        self.tripped = False
        self.last_error = ""

    def record(self, rec: dict[str, Any]) -> None:
        if not is_failure(rec):
            self.run = 0
            return
        self.run += 1
        self.last_error = str(rec.get("error") or "")
        if self.limit and self.run >= self.limit and not self.tripped:
            self.tripped = True
            raise BackendDown(f"{self.run} samples failed in a row (last: {one_line(self.last_error)})")
        if self.tripped:
            raise BackendDown("stopped")


def one_line(text: str, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def generate_guarded(backend: Any, items: list[Item], cfg: EvalConfig, writer: Any, tracker: Tracker, prefilled: bool) -> None:
    """``generate_pending`` with the failure breaker: a backend that stops answering ends the
    generation (finished samples are kept; the rest stay pending for the next run)."""
    # A backend that reports its own outage (the Ray pool) delivers a failed shard as a burst of
    # failures: no breaker there.
    breaker = FailureBreaker(0 if getattr(backend, "handles_outage", False) else cfg.max_consecutive_errors)
    try:
        generate_pending(backend, items, cfg, writer, tracker, prefilled, breaker=breaker)
    except BackendDown as e:
        tracker.stop()
        if not cfg.quiet:
            print(f"[eval] stopping: the backend looks down ({e}); finished samples are saved", file=sys.stderr, flush=True)


def check_backend_ready(backend: Any) -> None:
    """Ask a backend that can tell (``probe()``: the openai backend asks the server) whether it
    answers at all, so a server that was never started stops the run in seconds with one line
    instead of after every request's retries."""
    probe = getattr(backend, "probe", None)
    if callable(probe):
        probe()


def failure_summary(run_dir: str | Path, metrics: dict[str, Any]) -> str | None:
    """The one line for a run that ended with failed or missing samples (None when complete)."""
    from collections import Counter

    from reasonflux.evals import store

    bms = metrics.get("benchmarks", {}).values()
    failed = sum(int(m.get("errors", 0)) for m in bms)
    missing = sum(int(m.get("missing_samples", 0)) for m in bms)
    if not failed and not missing:
        return None
    n_by = metrics.get("n", {})
    reasons = Counter(one_line(s.get("error") or "unknown error", 120)
                      for s in store.read_samples(Path(run_dir) / store.SAMPLES)
                      if store.is_failure(s) and int(s["sample_index"]) < int(n_by.get(s["benchmark"], 0)))
    parts = []
    if failed:
        top = reasons.most_common(1)[0][0] if reasons else "unknown error"
        more = f"; {len(reasons) - 1} other reason(s) in samples.jsonl" if len(reasons) > 1 else ""
        parts.append(f"{failed} sample{'s' if failed != 1 else ''} failed ({top}{more})")
    if missing:
        parts.append(f"{missing} not generated")
    return f"{' and '.join(parts)}; rerun the same command to retry (results so far in {run_dir})"


def generate_pending(backend: Any, items: list[Item], cfg: EvalConfig, writer: Any, tracker: Tracker, prefilled: bool,
                     breaker: FailureBreaker | None = None) -> None:
    """Send ``items`` in chunks of ``request_batch``; grade and append each completion as it finishes."""
    if getattr(cfg, "method", "direct") != "direct":  # hints / navigator (evals/methods.py)
        from reasonflux.evals.methods import generate_with_method
        return generate_with_method(backend, items, cfg, writer, tracker, prefilled, breaker)
    from reasonflux.types import Completion, Request

    for start in range(0, len(items), cfg.request_batch):
        chunk = items[start:start + cfg.request_batch]
        seeds = [sample_seed(cfg.seed, it.benchmark, it.problem.id, it.index) for it in chunk]
        requests = [Request(messages=it.messages, n=1, temperature=cfg.temperature, top_p=cfg.top_p,
                            max_tokens=cfg.max_tokens, seed=s, prefill=cfg.prefill,
                            id=f"{it.benchmark}/{it.problem.id}/{it.index}") for it, s in zip(chunk, seeds)]
        written: set[int] = set()
        lock = threading.Lock()

        def finish(i: int, comp: Completion) -> None:
            with lock:
                if i in written:
                    return
                written.add(i)
            rec = make_record(chunk[i], comp, seed=seeds[i], prefilled=prefilled)
            writer.write(rec)
            with lock:
                tracker.add(rec)
            if breaker is not None:
                breaker.record(rec)  # raises BackendDown (aborting generate) once the backend looks down

        outs = backend.generate(requests, progress=finish)
        for i, comps in enumerate(outs):  # backends that report late (or not at all)
            if i not in written:
                finish(i, comps[0] if comps else Completion(text="", finish_reason="error", error="backend returned no completion"))


def run(cfg: EvalConfig, backend: Any = None) -> dict[str, Any]:
    """Run (or resume) the eval of ``cfg``; returns the metrics. ``backend`` (optional) is used as
    given and not closed; otherwise one is built from ``cfg`` only if anything is left to generate."""
    from reasonflux.benchmarks import get
    from reasonflux.config import save_config
    from reasonflux.errors import UserError
    from reasonflux.evals import store

    check(cfg)
    selected = select_problems(cfg)
    run_dir = Path(cfg.out or method_default_out(cfg))  # runs/<model>[-<method>]
    run_dir.mkdir(parents=True, exist_ok=True)
    with store.RunLock(run_dir):
        _check_same_settings(run_dir, cfg)
        done = {store.sample_key(s): s for s in store.read_samples(run_dir / store.SAMPLES, repair=True)}
        items: list[Item] = []
        stale = 0
        for b, probs in selected.items():
            mod = get(b)
            for p in probs:
                msgs = build_messages(cfg, mod, p)
                ph = store.prompt_hash(msgs, cfg.prefill)
                for i in range(n_for(cfg, b)):
                    old = done.get((b, p.id, i))
                    if old is None or store.is_failure(old):  # failed samples are retried
                        items.append(Item(b, p, i, msgs, ph))
                    elif old.get("prompt_hash") != ph:
                        stale += 1
        if stale:
            raise UserError(f"{run_dir}: {stale} finished sample(s) were made from different prompts "
                            f"(benchmark data or prompt settings changed); use another --out")
        save_config(cfg, run_dir / store.CONFIG)
        store.write_problems(run_dir / store.PROBLEMS, problem_rows(selected))
        if items:
            totals = {b: sum(1 for it in items if it.benchmark == b) for b in selected}
            own = backend is None
            if own:
                from reasonflux.scale import make_backend

                backend = make_backend(cfg, log_dir=run_dir)  # local engine, or replicas on Ray (scale.json)
            try:
                check_backend_ready(backend)
            except BaseException:
                if own:
                    backend.close()
                raise
            tracker = Tracker(totals, cfg.quiet)
            try:
                with store.SampleWriter(run_dir / store.SAMPLES) as writer, heartbeat(cfg, run_dir, tracker):
                    generate_guarded(backend, items, cfg, writer, tracker, prompt_opens_think(cfg, backend))
            finally:
                tracker.stop()
                if own:
                    backend.close()
        return finalize(run_dir)


def finalize(run_dir: str | Path) -> dict[str, Any]:
    """Compute metrics.json and write report.md and report.html from the run's files."""
    from reasonflux.evals import report, store

    run = store.load_run(run_dir)
    metrics = compute_metrics(run)
    store.write_json(run.path / store.METRICS, metrics)
    run.metrics = metrics
    report.write_reports(run)
    return metrics


def compute_metrics(run: Any) -> dict[str, Any]:
    """metrics.json content for a loaded :class:`~reasonflux.evals.store.Run`."""
    from reasonflux.benchmarks import get
    from reasonflux.evals.metrics import run_metrics

    benches = sorted({p["benchmark"] for p in run.problems})
    n_by = {b: n_for(run.config, b) for b in benches}
    groups = {b: getattr(get(b), "GROUPS", ()) for b in benches}
    per = run_metrics(run.problems, run.samples, n_by, equiv=equivalence, groups_by_benchmark=groups)
    mark_partial(per)
    return {
        "model": run.config.get("model"),
        "name": run.config.get("name"),
        "protocol": {k: run.config.get(k) for k in SAMPLE_DEFINING if k != "model"},
        "n": n_by,
        "benchmarks": per,
        "method": method_metrics(run),  # evals/methods.py: name, navigator fallbacks
    }


def mark_partial(per_benchmark: dict[str, Any]) -> None:
    """Add ``benchmark_problems`` (the full set's size) and ``partial`` (fewer problems scored than
    the full set: a --limit/--problems selection, failures or an unfinished run) to each benchmark."""
    from reasonflux.benchmarks import REGISTRY, get

    for b, m in per_benchmark.items():
        rows = getattr(get(b), "ROWS", None) if b in REGISTRY else None
        m["benchmark_problems"] = rows
        m["partial"] = bool(rows) and int(m.get("problems", 0)) < int(rows) or not m.get("complete", True)


def equivalence(kind: str):  # noqa: ANN201
    """Answer equivalence for majority voting (the grader's, so votes agree with verdicts)."""
    from reasonflux.grading import is_equivalent

    return lambda a, b: a == b or bool(is_equivalent(a, b, kind=kind))
