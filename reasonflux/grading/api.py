"""The grading API: ``grade``, ``grade_many``, ``is_equivalent`` and the ``Verdict`` they return.

Extraction and the cheap equivalence layers run in the calling process; comparisons that need
sympy run in worker processes with a hard timeout (``timeout=None`` runs them in-process instead,
with no timeout). Verdicts are cached by (gold, extracted, kind), so 64 samples giving the same
answer cost one comparison.

Reasons: ``equal``, ``not_equal``, ``no_answer`` (nothing explicit to grade), ``truncated`` (the
reasoning never closed, or the output hit the length limit without a finished box), ``timeout``,
``error`` (a bad item, e.g. no gold).

    python -c "from reasonflux.grading import grade; print(grade(response='</think>So \\\\boxed{023}.', gold='23', prefilled=True))"
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from collections import OrderedDict, deque
from typing import Any, Iterable, Iterator, TypeVar

from reasonflux.grading.choice import choice_equal, choice_from_part, letter_of
from reasonflux.grading.extract import ANSWER_TAIL_CHARS, answer_part, clean_answer, extract_from_part, find_boxes, last_boxed
from reasonflux.grading.math import quick_equal
from reasonflux.grading.units import percent_of

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_WORKERS = 2
CACHE_SIZE = 200_000
EARLY_START_ITEMS = 16  # with this many items still to extract, start the workers at the first hard one
KINDS = ("math", "choice")
# a question that asks for its answer in percent ("By what percent...", "as a percentage")
ASKS_PERCENT_RE = re.compile(r"\b(?:what|which|how\s+many)\s+percent|\bas\s+a\s+percent|\bin\s+percent|\bpercentage\b(?!\s+point)", re.I)


@dataclass(frozen=True)
class Verdict:
    extracted: str | None
    correct: bool
    reason: str
    detail: str | None = None  # why, for error verdicts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Cache:
    def __init__(self, size: int):
        self.size = size
        self._d: OrderedDict[tuple[str, str, str], tuple[bool, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> tuple[bool, str] | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: tuple[str, str, str], value: tuple[bool, str]) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def __len__(self) -> int:
        return len(self._d)


CACHE = _Cache(CACHE_SIZE)
T = TypeVar("T")
_NONE = Verdict(None, False, "none")  # placeholder for an item the caller had no item for


def _extract(item: dict[str, Any], kind: str) -> tuple[str | None, str | None]:
    """(extracted answer, reason when there is none)."""
    if item.get("answer") is not None:
        ans = str(item["answer"])[-ANSWER_TAIL_CHARS:]
        if kind == "choice":
            letter = letter_of(ans) or choice_from_part(ans)
            return (letter, None) if letter else (None, "no_answer")
        ans = clean_answer(ans)
        return (ans, None) if ans.strip() else (None, "no_answer")
    response = item.get("response")
    if response is None:
        raise ValueError("item has neither 'response' nor 'answer'")
    part, truncated = answer_part(str(response), prefilled=bool(item.get("prefilled", False)))
    if truncated or part is None:
        return None, "truncated"
    if item.get("finish_reason") == "length":
        # Cut off by the length limit: only a finished box counts (a phrase may be cut mid-number).
        boxes = find_boxes(part)
        if not boxes or boxes[-1][2] is None:
            return None, "truncated"
        if kind == "choice":
            letter = letter_of(boxes[-1][2])
            return (letter, None) if letter else (None, "truncated")
        boxed = last_boxed(part)
        return (boxed, None) if boxed else (None, "truncated")
    ans = choice_from_part(part) if kind == "choice" else extract_from_part(part)
    return (ans, None) if ans else (None, "no_answer")


def _verdict(extracted: str | None, correct: bool) -> Verdict:
    return Verdict(extracted, bool(correct), "equal" if correct else "not_equal")


def _prepare(item: Any, default_kind: str = "math") -> tuple[Verdict | None, tuple[str, str, str] | None, str | None]:
    """(final verdict, or cache key + extracted answer for comparison)."""
    if not isinstance(item, dict):
        return Verdict(None, False, "error", "item is not a dict"), None, None
    kind = item.get("kind") or default_kind
    if kind not in KINDS:
        return Verdict(None, False, "error", f"unknown kind {kind!r} (math or choice)"), None, None
    gold = item.get("gold")
    if gold is None or not str(gold).strip():
        return Verdict(None, False, "error", "no gold answer"), None, None
    gold = str(gold) if kind == "choice" else clean_answer(str(gold))
    problem = item.get("problem")
    if kind == "math" and isinstance(problem, str) and ASKS_PERCENT_RE.search(problem[-2000:]) and percent_of(gold) is None:
        gold += "\\%"  # the question asks for a percent: the gold is a number of percent (docs/grading.md)
    if kind == "choice" and letter_of(gold) is None:
        return Verdict(None, False, "error", f"choice gold {gold!r} is not a letter"), None, None
    try:
        extracted, why = _extract(item, kind)
    except ValueError as e:
        return Verdict(None, False, "error", str(e)), None, None
    if extracted is None:
        return Verdict(None, False, why or "no_answer"), None, None
    return None, (gold, extracted, kind), extracted


def _quick(key: tuple[str, str, str]) -> bool | None:
    gold, extracted, kind = key
    if kind == "choice":
        return choice_equal(gold, extracted)
    return quick_equal(gold, extracted)


def _compare_all(keys: list[tuple[str, str, str]], workers: int, timeout: float | None) -> dict[tuple[str, str, str], tuple[bool, str, str | None]]:
    """Full comparisons for keys the quick layer left open: (correct, reason, detail)."""
    out: dict[tuple[str, str, str], tuple[bool, str, str | None]] = {}
    if not keys:
        return out
    if timeout is None or workers <= 0:
        from reasonflux.grading.math import math_equal

        for k in keys:
            try:
                ok = math_equal(k[0], k[1])
                out[k] = (ok, "equal" if ok else "not_equal", None)
            except Exception as e:  # noqa: BLE001 - a failure is a verdict
                out[k] = (False, "error", f"{type(e).__name__}: {e}")
        return out
    from reasonflux.grading.pool import shared_pool

    results = shared_pool(workers).run([(k[0], k[1]) for k in keys], timeout, workers=workers)
    for k, (status, value) in zip(keys, results):
        if status == "ok":
            out[k] = (bool(value), "equal" if value else "not_equal", None)
        elif status == "timeout":
            out[k] = (False, "timeout", f"no verdict within {timeout:g} s")
        else:
            out[k] = (False, "error", str(value))
    return out


def grade_many(items: Iterable[dict[str, Any]], workers: int = DEFAULT_WORKERS, timeout: float | None = DEFAULT_TIMEOUT_S) -> list[Verdict]:
    """Grade many items (dicts with ``gold`` and ``response`` or ``answer``; optional ``kind``,
    ``prefilled``, ``finish_reason``, ``problem``). Never raises for a bad item: it gets an ``error`` verdict.

    ``workers`` processes compare what the cheap layers cannot, each comparison under a hard
    ``timeout`` (seconds, from any thread); ``timeout=None`` compares in-process without one.
    """
    items = list(items)
    verdicts: list[Verdict | None] = [None] * len(items)
    pending: dict[tuple[str, str, str], list[int]] = {}
    for i, item in enumerate(items):
        final, key, extracted = _prepare(item)
        if final is not None:
            verdicts[i] = final
            continue
        assert key is not None
        cached = CACHE.get(key)
        if cached is None:
            try:
                q = _quick(key)
            except Exception as e:  # noqa: BLE001
                verdicts[i] = Verdict(extracted, False, "error", f"{type(e).__name__}: {e}")
                continue
            if q is not None:
                cached = (q, "equal" if q else "not_equal")
                CACHE.put(key, cached)
        if cached is not None:
            verdicts[i] = Verdict(extracted, cached[0], cached[1])
        else:
            if not pending and timeout is not None and workers > 0 and len(items) - i > EARLY_START_ITEMS:
                from reasonflux.grading.pool import shared_pool

                shared_pool(workers).start(workers)  # the workers warm up while we extract the rest
            pending.setdefault(key, []).append(i)
    results = _compare_all(list(pending), workers, timeout)
    for key, idxs in pending.items():
        ok, reason, detail = results[key]
        if reason in ("equal", "not_equal"):
            CACHE.put(key, (ok, reason))
        for i in idxs:
            verdicts[i] = Verdict(key[1], ok, reason, detail)
    return [v if v is not None else Verdict(None, False, "error", "not graded") for v in verdicts]


def grade_iter(pairs: Iterable[tuple[T, dict[str, Any] | None]], workers: int = DEFAULT_WORKERS,
               timeout: float | None = DEFAULT_TIMEOUT_S, batch: int = 256, hold: int = 1024) -> Iterator[tuple[T, Verdict | None]]:
    """Stream verdicts in input order: ``(tag, item)`` in, ``(tag, verdict)`` out (``item`` None gives
    verdict None), each as soon as it and every earlier item is decided. Items the cheap layers
    decide never wait for the workers; the workers start at the first item that needs them and
    compare in batches of ``batch`` distinct comparisons (or when ``hold`` items are waiting)."""
    window: deque[list[Any]] = deque()  # [tag, verdict or None]
    pending: dict[tuple[str, str, str], list[tuple[list[Any], str]]] = {}
    started = False

    def resolve() -> None:
        results = _compare_all(list(pending), workers, timeout)
        for key, slots in pending.items():
            ok, reason, detail = results[key]
            if reason in ("equal", "not_equal"):
                CACHE.put(key, (ok, reason))
            for slot, extracted in slots:
                slot[1] = Verdict(extracted, ok, reason, detail)
        pending.clear()

    for tag, item in pairs:
        slot: list[Any] = [tag, None]
        window.append(slot)
        if item is None:
            slot[1] = _NONE
        else:
            final, key, extracted = _prepare(item)
            if final is not None:
                slot[1] = final
            else:
                assert key is not None and extracted is not None
                cached = CACHE.get(key)
                if cached is None:
                    try:
                        q = _quick(key)
                    except Exception as e:  # noqa: BLE001
                        slot[1] = Verdict(extracted, False, "error", f"{type(e).__name__}: {e}")
                        q = None
                    if q is not None:
                        cached = (q, "equal" if q else "not_equal")
                        CACHE.put(key, cached)
                if cached is not None:
                    slot[1] = Verdict(extracted, cached[0], cached[1])
                elif slot[1] is None:
                    pending.setdefault(key, []).append((slot, extracted))
                    if not started and timeout is not None and workers > 0:
                        from reasonflux.grading.pool import shared_pool

                        shared_pool(workers).start(workers)  # warms up while the rest is extracted
                        started = True
        if len(pending) >= batch or (pending and len(window) >= hold):
            resolve()
        while window and window[0][1] is not None:
            done = window.popleft()
            yield done[0], (None if done[1] is _NONE else done[1])
    if pending:
        resolve()
    while window:
        done = window.popleft()
        yield done[0], (None if done[1] is _NONE else done[1])


def grade(response: str | None = None, gold: str | None = None, kind: str = "math", answer: str | None = None,
          prefilled: bool = False, *, finish_reason: str | None = None, problem: str | None = None,
          timeout: float | None = DEFAULT_TIMEOUT_S) -> Verdict:
    """Grade one model ``response`` (or an already extracted ``answer``) against ``gold``; ``problem``
    (optional, the question text) only tells whether the question asks for a percent."""
    item = {"response": response, "answer": answer, "gold": gold, "kind": kind, "prefilled": prefilled,
            "finish_reason": finish_reason, "problem": problem}
    return grade_many([item], workers=1, timeout=timeout)[0]


def is_equivalent(a: str, b: str, kind: str = "math", *, timeout: float | None = DEFAULT_TIMEOUT_S) -> bool:
    """Whether two extracted answers are the same answer (symmetric; for majority voting)."""
    if a is None or b is None:
        return False
    if kind == "choice":
        la, lb = letter_of(str(a)), letter_of(str(b))
        return la is not None and la == lb
    items = [{"answer": str(b), "gold": str(a), "kind": "math"}]
    if percent_of(str(a)) is not None or percent_of(str(b)) is not None:
        items.append({"answer": str(a), "gold": str(b), "kind": "math"})  # the percent policy is one-way
    return all(v.correct for v in grade_many(items, workers=1, timeout=timeout))
