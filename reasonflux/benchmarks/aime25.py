"""AIME 2025: the 30 problems of the 2025 AIME I and II; integer answers 0-999, graded as math.

Data: the hub dataset ``opencompass/AIME2025`` (configs ``AIME2025-I`` and ``AIME2025-II``, split
``test``, fields question/answer, 15 rows each, in problem order; the seed used ``TIGER-Lab/AIME25``,
the same 30 problems), or ``aime2025/test.jsonl`` in the local data directory. Problem ids are
``2025-I-1`` … ``2025-II-15``.

    reasonflux eval --benchmarks aime25 --limit 2 --preset quick --data-dir ../shared/benchdata
"""

from __future__ import annotations

from pathlib import Path

from reasonflux.benchmarks._common import check_sha256, load_hub, local_file, math_prompt, read_jsonl, validate
from reasonflux.types import Problem

NAME = "aime25"
TITLE = "AIME25"
KIND = "math"
HUB_ID = "opencompass/AIME2025"
HUB_CONFIGS = ("AIME2025-I", "AIME2025-II")
# A branch name, not a commit: see docs/evaluation.md ("Pinning hub revisions"); one-line change.
HUB_REVISION = "main"
HUB_SPLIT = "test"
LOCAL_FILE = "aime2025/test.jsonl"
LOCAL_SHA256 = "27e48a72dd2c9a44031254596a5507c2ef532181471fb981d0a65112fbe01229"  # the manifest: local files are refused unless their bytes match
ROWS = 30
YEAR = 2025


def _load_hub() -> tuple[list[dict], str]:
    rows = []
    for config in HUB_CONFIGS:
        part = config.rsplit("-", 1)[1]  # "I" or "II"
        for i, r in enumerate(load_hub(NAME, HUB_ID, HUB_REVISION, HUB_SPLIT, config=config), 1):
            rows.append({"id": f"{YEAR}-{part}-{i}", "problem": r.get("question"), "answer": r.get("answer")})
    return rows, f"{HUB_ID}@{HUB_REVISION}"


def load(data_dir: Path | None) -> list[Problem]:
    if data_dir is not None:
        path = local_file(data_dir, LOCAL_FILE, NAME)
        rows, source = read_jsonl(path, NAME), str(path)
    else:
        rows, source = _load_hub()
    validate(rows, benchmark=NAME, source=source, count=ROWS, fields=("id", "problem", "answer"))
    if data_dir is not None:
        check_sha256(path, LOCAL_SHA256, NAME)
    return [Problem(id=str(r["id"]), problem=r["problem"], answer=str(r["answer"]).strip(), kind="math",
                    meta={"year": YEAR}) for r in rows]


def prompt(problem: Problem, style: str) -> str:
    return math_prompt(problem.problem, style)
