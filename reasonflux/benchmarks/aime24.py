"""AIME 2024: the 30 problems of the 2024 AIME I and II; integer answers 0-999, graded as math.

Data: the hub dataset ``HuggingFaceH4/aime_2024`` (split ``train``, fields id/problem/solution/
answer/url/year; the seed used ``simplescaling/aime24_nofigures``, the same 30 problems with
figure code kept only where needed), or ``aime2024/test.jsonl`` in the local data directory.
Problem ids are ``2024-I-1`` … ``2024-II-15``; hub rows get theirs from the AoPS wiki URL.

    reasonflux eval --benchmarks aime24 --problems 2024-I-1 --preset quick --data-dir ../shared/benchdata
"""

from __future__ import annotations

import re
from pathlib import Path

from reasonflux.benchmarks._common import check_sha256, load_hub, local_file, math_prompt, read_jsonl, validate
from reasonflux.errors import UserError
from reasonflux.types import Problem

NAME = "aime24"
TITLE = "AIME24"
KIND = "math"
HUB_ID = "HuggingFaceH4/aime_2024"
# A branch name, not a commit: see docs/evaluation.md ("Pinning hub revisions"); one-line change.
HUB_REVISION = "main"
HUB_SPLIT = "train"
LOCAL_FILE = "aime2024/test.jsonl"
LOCAL_SHA256 = "401dc05397947fcc0a30a59cbbe5ecaf4769c01dd2928fb354f6d8062cdbdb2e"  # the manifest: local files are refused unless their bytes match
ROWS = 30
YEAR = 2024
# AoPS wiki problem URL, e.g. .../2024_AIME_I_Problems/Problem_1
URL_ID = re.compile(r"(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")
ID_FORMAT = re.compile(r"^\d{4}-I{1,2}-\d{1,2}$")


def problem_id(row: dict, source: str) -> str:
    """``2024-I-1`` style id from the row's ``id`` (local files) or its AoPS ``url`` (hub)."""
    rid = str(row.get("id", ""))
    if ID_FORMAT.match(rid):
        return rid
    m = URL_ID.search(str(row.get("url", "")))
    if m:
        return f"{m.group(1)}-{m.group(2)}-{int(m.group(3))}"
    raise UserError(f"{NAME}: {source} row id {rid!r} has no 2024-I-1 style id and no AoPS url to derive one")


def load(data_dir: Path | None) -> list[Problem]:
    if data_dir is not None:
        path = local_file(data_dir, LOCAL_FILE, NAME)
        rows, source = read_jsonl(path, NAME), str(path)
    else:
        rows, source = load_hub(NAME, HUB_ID, HUB_REVISION, HUB_SPLIT), f"{HUB_ID}@{HUB_REVISION}"
    validate(rows, benchmark=NAME, source=source, count=ROWS, fields=("problem", "answer"))
    if data_dir is not None:
        check_sha256(path, LOCAL_SHA256, NAME)
    problems = [Problem(id=problem_id(r, source), problem=r["problem"], answer=str(r["answer"]).strip(), kind="math",
                        meta={"year": YEAR}) for r in rows]
    if len({p.id for p in problems}) != ROWS:
        raise UserError(f"{NAME}: {source} has duplicate problem ids")
    return problems


def prompt(problem: Problem, style: str) -> str:
    return math_prompt(problem.problem, style)
