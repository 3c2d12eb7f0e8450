"""Template-guided hierarchical reasoning: the navigator loop (``navigator``) and its prompts
(``prompts``). ``reason(problem, navigator, solver, retriever)`` returns a JSON-serialisable Trace.

    reasonflux reason "Find the last digit of 7^2024." --max-steps 3 --json
"""

from reasonflux.reasoning.navigator import NavigatorSettings, Trace, parse_json_object, reason

__all__ = ["NavigatorSettings", "Trace", "parse_json_object", "reason"]
