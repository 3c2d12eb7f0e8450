"""Single-shot template hints: the top-k retrieved templates in one user prompt.

The cheap way to use thought templates with F1-style models (no navigator loop): ``reasonflux solve
--templates LIB`` calls :func:`hint_messages`, and ``eval --method hints`` :func:`hint_block`. The
best template carries its worked example.

    reasonflux solve "Find the last two digits of 7^2024." --templates builtin --templates-k 3
"""

from __future__ import annotations

from pathlib import Path

from reasonflux.templates.library import Library, Template

HINT_PROMPT = """Solution methods (thought templates) that may fit this problem; use one if it fits, ignore them if not.

{templates}

Problem:
{problem}

Put the final answer in \\boxed{{}}."""
HINT_TEMPLATE = "[{rank}] {name} ({domain}, {section})\nWhen to use: {applicability}\nSteps: {steps}"
MAX_HINT_STEPS = 8


def format_template(t: Template, rank: int) -> str:
    steps = " ".join(f"({i}) {s}" for i, s in enumerate(t.steps[:MAX_HINT_STEPS], 1))
    return HINT_TEMPLATE.format(rank=rank, name=t.name, domain=t.domain.replace("_", " "), section=t.section,
                                applicability=t.applicability, steps=steps)


def hint_block(hits: list, example_tokens: int | None = None) -> str:
    """The retrieved templates as one prompt block, best first; the best one ends with its worked
    example (problem, solution, answer) cut to ``example_tokens`` (default: the navigator's budget)."""
    from reasonflux.reasoning.navigator import EXAMPLE_MAX_TOKENS, worked_example

    blocks = [format_template(h.template, h.rank) for h in hits]
    if blocks:
        example = worked_example(hits[0].template, EXAMPLE_MAX_TOKENS if example_tokens is None else example_tokens)
        if example:
            blocks[0] += "\n" + example
    return "\n\n".join(blocks)


def hint_messages(problem: str, library: str | Path | Library = "builtin", k: int = 3,
                  system: str | None = None, mode: str | None = None) -> list[dict[str, str]]:
    """Chat messages: optional system prompt, then one user turn with the top-``k`` templates.

    With no template matching at all, the user turn is the bare problem.
    """
    return hints_with_ids(problem, library, k, system, mode)[0]


def hints_with_ids(problem: str, library: str | Path | Library = "builtin", k: int = 3,
                   system: str | None = None, mode: str | None = None) -> tuple[list[dict[str, str]], list[str]]:
    """:func:`hint_messages` plus the ids of the templates offered (synthesis records them)."""
    from reasonflux.templates.retrieve import DEFAULT_MODE, get_retriever

    hits = get_retriever(library, mode or DEFAULT_MODE).search(problem, k) if k > 0 else []
    msgs = [{"role": "system", "content": system}] if system else []
    if not hits:
        return msgs + [{"role": "user", "content": problem}], []
    block = hint_block(hits)
    return msgs + [{"role": "user", "content": HINT_PROMPT.format(templates=block, problem=problem)}], [h.template.id for h in hits]
