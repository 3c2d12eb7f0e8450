"""Prompts of the navigator loop, as named constants (``str.format`` fields in braces).

Each prompt is one stateless user turn that carries everything the model needs, so navigator and
solver can be any backends (and different ones). Once a template is chosen, its worked example
(``EXAMPLE_BLOCK``) goes into the instruction and step prompts. Navigator prompts that expect JSON say so and show
the keys; ``JSON_RETRY_PROMPT`` follows an unparseable reply.

    python -c "from reasonflux.reasoning import prompts; print(prompts.PLAN_PROMPT)"
"""

PLAN_PROMPT = """Plan how to solve the problem below. Do not solve it yet.

Problem:
{problem}

Reply with only a JSON object with these keys:
"domain": one of {domains},
"section": the sub-area, e.g. "modular arithmetic",
"method": the solution method in a few words,
"tags": a list of 2 to 6 short lowercase keywords,
"steps": an ordered list of 2 to {max_steps} short steps.
Example: {{"domain": "number_theory", "section": "modular arithmetic", "method": "cycle of powers", "tags": ["last digit", "periodicity"], "steps": ["Find the period of the powers mod 10", "Reduce the exponent", "Read off the digit"]}}"""

ADJUST_PROMPT = """Adapt your plan to a thought template.

Problem:
{problem}

Your plan:
{plan}

Thought templates retrieved for this plan (best match first):
{templates}

Pick the template that fits the problem best (or none) and rewrite the steps so that they follow it,
made concrete for this problem (at most {max_steps} steps).
Reply with only a JSON object: {{"template_id": "<id of the template, or null>", "steps": ["...", "..."]}}"""

INSTRUCT_PROMPT = """Write the next instruction for a solver that works one step at a time.

Problem:
{problem}

Method: {method}
{example}Plan:
{plan}

Work so far:
{history}

Next step: {step}

Write a short, concrete instruction for this step only: what to compute or show, using the results
so far. Reply with the instruction only."""

SOLVE_STEP_PROMPT = """Problem:
{problem}
{example}
Work so far:
{history}

Your task now: {instruction}

Carry out only this step, show the work briefly, and state the result of the step."""

JUDGE_PROMPT = """Judge the progress on a problem that is being solved step by step.

Problem:
{problem}

Plan:
{plan}

Work so far:
{history}

Steps still planned: {remaining}

Reply with only a JSON object: {{"status": "continue" | "revise" | "done", "remaining_steps": ["..."], "reason": "..."}}
"continue": the last step worked; remaining_steps are the steps still planned.
"revise": the last step failed or the plan must change; remaining_steps are the new steps to take.
"done": the work already answers the problem; remaining_steps is []."""

FINAL_PROMPT = """Problem:
{problem}

Work so far:
{history}

Using the work above, give the final answer to the problem. Explain briefly, then put the final
answer in \\boxed{{}}."""

JSON_RETRY_PROMPT = """That reply could not be used: {problem}. Reply again with only the JSON object, nothing else."""

NO_HISTORY = "(nothing yet)"
HISTORY_ENTRY = "Step {index}: {step}\nResult: {result}"
# The chosen template's worked example; ``{example}`` in INSTRUCT/SOLVE_STEP is this block plus
# newlines, or empty (no template chosen, or NavigatorSettings.example_max_tokens = 0).
EXAMPLE_BLOCK = "Worked example of the method ({name}):\nProblem: {problem}\nSolution: {solution}\nAnswer: {answer}"
TEMPLATE_ENTRY = "[{id}] {name} ({domain}, {section}; score {score:.2f})\nWhen to use: {applicability}\nSteps: {steps}"
FALLBACK_STEP = "Solve the problem"
