"""MATH500: the 500-problem test split of PRM800K (Lightman et al., 2023) drawn from MATH
(Hendrycks et al., 2021). Graded as free-form math; reported by subject and level as well.

Data: the hub dataset ``HuggingFaceH4/MATH-500`` (split ``test``; the same 500 problems as
``openai/prm800k`` ``math_splits/test.jsonl``), or ``math500/test.jsonl`` in the local data
directory. Problem ids are the dataset's ``unique_id`` (e.g. ``test/precalculus/807.json``).

    reasonflux eval --benchmarks math500 --limit 5 --preset quick --data-dir ../shared/benchdata
"""

from __future__ import annotations

from pathlib import Path

from reasonflux.benchmarks._common import check_sha256, load_hub, local_file, math_prompt, read_jsonl, validate
from reasonflux.types import Problem

NAME = "math500"
TITLE = "MATH500"
KIND = "math"
HUB_ID = "HuggingFaceH4/MATH-500"
# A branch name, not a commit: see docs/evaluation.md ("Pinning hub revisions"); one-line change.
HUB_REVISION = "main"
HUB_SPLIT = "test"
LOCAL_FILE = "math500/test.jsonl"
LOCAL_SHA256 = "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132"  # the manifest: local files are refused unless their bytes match
ROWS = 500
FIELDS = ("problem", "answer", "subject", "level", "unique_id")
GROUPS = ("subject", "level")  # accuracy is also reported by these meta keys


def load(data_dir: Path | None) -> list[Problem]:
    if data_dir is not None:
        path = local_file(data_dir, LOCAL_FILE, NAME)
        rows, source = read_jsonl(path, NAME), str(path)
    else:
        rows, source = load_hub(NAME, HUB_ID, HUB_REVISION, HUB_SPLIT), f"{HUB_ID}@{HUB_REVISION}"
    validate(rows, benchmark=NAME, source=source, count=ROWS, fields=FIELDS)
    if data_dir is not None:
        check_sha256(path, LOCAL_SHA256, NAME)
    return [Problem(id=str(r["unique_id"]), problem=r["problem"], answer=str(r["answer"]), kind="math",
                    meta={"subject": r["subject"], "level": int(r["level"])}) for r in rows]


def prompt(problem: Problem, style: str) -> str:
    return math_prompt(problem.problem, style)
