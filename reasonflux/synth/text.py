"""Text normalisation and shingling shared by decontamination and dedup.

Normalisation lowercases, turns LaTeX commands into their names (``\\frac`` → ``frac``), and keeps
runs of letters and digits as tokens, so formatting-only edits (``$``, braces, spacing,
punctuation) do not hide an overlap.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z]+|\d+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\\", " "))


def normalize(text: str) -> str:
    return " ".join(tokens(text))


def ngrams(toks: list[str], n: int) -> set[tuple[str, ...]]:
    """All word n-grams; a text shorter than ``n`` yields itself as a single gram."""
    if not toks:
        return set()
    if len(toks) < n:
        return {tuple(toks)}
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}
