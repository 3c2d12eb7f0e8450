"""Keep GPQA text out of reports: redact any stretch of model text that shares
``REDACT_WORDS`` (8) consecutive words with a GPQA-Diamond question or its choices.

GPQA's authors ask that its questions never appear in plain text online; models that restate the
question (R1-style models do) would otherwise copy it into report.md / report.html / printed tables.
The index of 8-word runs is built in memory from the decrypted benchmark (never written anywhere):
words are lower-cased runs of letters and digits, so punctuation, LaTeX braces and line breaks do not
hide a copy. A matched stretch is replaced by :data:`MARK`. It runs on every report of a run that
includes GPQA (all model text of the run, not only GPQA samples'). When the GPQA data cannot be
loaded locally, GPQA samples' text is withheld from reports entirely (fail closed).

samples.jsonl keeps the raw responses (the user's own data, needed to rescore); the run directory's
README.md says so. See docs/evaluation.md ("GPQA").

    python -c "from reasonflux.evals.redact import Redactor; print(Redactor.from_data(None).ready)"
"""

from __future__ import annotations

import re
from typing import Any, Iterable

REDACT_WORDS = 8
MARK = "[… GPQA text redacted …]"
WITHHELD_TEXT = "[response withheld: the GPQA data needed to redact it could not be loaded]"
_WORD = re.compile(r"[A-Za-z0-9]+")


def words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text or ""))


def _grams(tokens: list[str], k: int = REDACT_WORDS) -> Iterable[tuple[str, ...]]:
    return (tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1))


def source_texts(problem: Any) -> list[str]:
    """The texts a response must not copy: the question, each choice, and the question with its
    choices as the prompt lists them (with and without the letters)."""
    choices = [str(c) for c in (problem.meta.get("choices") or [])]
    lettered = "\n".join(f"{'ABCD'[i]}) {c}" for i, c in enumerate(choices))
    return [problem.problem, *choices, " ".join(choices), f"{problem.problem}\n{lettered}", f"{problem.problem} {' '.join(choices)}"]


class Redactor:
    """Finds and masks 8-word runs shared with GPQA. ``ready`` is False when no GPQA data could be
    loaded: then :meth:`text` withholds GPQA samples' text and passes other text through."""

    def __init__(self, problems: Iterable[Any] | None):
        self.grams: set[tuple[str, ...]] = set()
        self.ready = problems is not None
        for p in problems or ():
            for t in source_texts(p):
                self.grams.update(_grams([m.group(0).lower() for m in words(t)]))

    @classmethod
    def from_data(cls, data_dir: Any) -> "Redactor":
        """From local GPQA data (``data_dir``, else $REASONFLUX_DATA_DIR); never from the hub here."""
        from reasonflux.benchmarks import _common, gpqa_diamond

        try:
            root = _common.data_dir(data_dir)
            if root is None or not (root / gpqa_diamond.LOCAL_FILE).is_file():
                return cls(None)
            return cls(gpqa_diamond.load(root))
        except Exception:  # noqa: BLE001 - unreadable data: fail closed (withhold GPQA text)
            return cls(None)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text`` covered by a shared 8-word run (merged)."""
        ms = words(text)
        toks = [m.group(0).lower() for m in ms]
        out: list[tuple[int, int]] = []
        for i, g in enumerate(_grams(toks)):
            if g in self.grams:
                a, b = ms[i].start(), ms[i + REDACT_WORDS - 1].end()
                if out and a <= out[-1][1]:
                    out[-1] = (out[-1][0], max(out[-1][1], b))
                else:
                    out.append((a, b))
        return out

    def redact(self, text: str | None) -> str | None:
        if not text or not self.grams:
            return text
        spans = self.spans(text)
        if not spans:
            return text
        parts, at = [], 0
        for a, b in spans:
            parts += [text[at:a], MARK]
            at = b
        parts.append(text[at:])
        return "".join(parts)

    def text(self, text: str | None, *, gpqa: bool) -> str | None:
        """``text`` as a report may show it: redacted, or withheld for GPQA when not ``ready``."""
        if gpqa and not self.ready and text:
            return WITHHELD_TEXT
        return self.redact(text)


_CACHE: dict[tuple, Redactor] = {}


def for_run(run: Any) -> Redactor:
    """The redactor for a run directory's reports. Runs without GPQA get a pass-through one (no GPQA
    load: decrypting the zip takes about a second); the GPQA index is cached per process."""
    if not any(p.get("benchmark") == "gpqa_diamond" for p in run.problems):
        return Redactor([])
    import os

    key = (str(run.config.get("data_dir") or ""), os.environ.get("REASONFLUX_DATA_DIR", ""))
    if key not in _CACHE or not _CACHE[key].ready:
        _CACHE[key] = Redactor.from_data(run.config.get("data_dir"))
    return _CACHE[key]
