"""One grader for evaluation, synthesis and rewards: answer extraction, math equivalence, choice
letters, and a process pool that cannot hang. No API judge; math-verify (pinned) plus our own
policies (docs/grading.md).

    python -c "from reasonflux.grading import grade; print(grade(response='<think>..</think> \\\\boxed{\\\\frac12}', gold='0.5'))"
"""

from reasonflux.grading.api import DEFAULT_TIMEOUT_S, Verdict, grade, grade_iter, grade_many, is_equivalent
from reasonflux.grading.choice import extract_choice
from reasonflux.grading.extract import extract_answer

__all__ = ["DEFAULT_TIMEOUT_S", "Verdict", "extract_answer", "extract_choice", "grade", "grade_iter", "grade_many", "is_equivalent"]
