"""Template-guided hierarchical reasoning: the navigator loop and its batch-first scheduler
(``navigator``) and its prompts (``prompts``). ``reason(problem, navigator, solver, retriever)``
returns a JSON-serialisable Trace; ``reason_many(jobs, ...)`` runs many problems at once, one
``generate`` call per round.

    reasonflux reason "Find the last digit of 7^2024." --max-solver-steps 3 --json
"""

from reasonflux.reasoning.navigator import Job, NavigatorSettings, Trace, parse_json_object, reason, reason_many

__all__ = ["Job", "NavigatorSettings", "Trace", "parse_json_object", "reason", "reason_many"]
