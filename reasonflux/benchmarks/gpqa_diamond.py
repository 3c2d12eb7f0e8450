"""GPQA-Diamond: 198 graduate-level multiple-choice questions in biology, chemistry and physics
(Rein et al., 2023); graded by the answer letter A-D.

Data: the hub dataset ``Idavidrein/gpqa`` config ``gpqa_diamond`` (split ``train``; gated: accept
its terms and log in), or ``gpqa_diamond/gpqa_diamond.zip`` in the local data directory, the
password-protected zip exactly as upstream distributes it. The CSV is decrypted in memory and
never written anywhere: GPQA's authors ask that its questions never appear in plain text online,
so run outputs (problems.jsonl, reports) carry record ids, never question text.

Choices are shuffled per question with a fixed, documented seed: the permutation of
``[correct, incorrect 1, incorrect 2, incorrect 3]`` is ``random.Random(int(sha256(
f"{SHUFFLE_SEED}:{record_id}")[:16], 16)).sample(range(4), 4)``, so the gold letters spread over
A-D and every run, machine and Python version sees the same order.

    reasonflux eval --benchmarks gpqa_diamond --limit 3 --preset quick --data-dir ../shared/benchdata
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import zipfile
from pathlib import Path

from reasonflux.benchmarks._common import check_sha256, load_hub, local_file, validate
from reasonflux.errors import UserError
from reasonflux.types import Problem

NAME = "gpqa_diamond"
TITLE = "GPQA-D"
KIND = "choice"
HUB_ID = "Idavidrein/gpqa"
HUB_CONFIG = "gpqa_diamond"
# A branch name, not a commit: see docs/evaluation.md ("Pinning hub revisions"); one-line change.
HUB_REVISION = "main"
HUB_SPLIT = "train"
LOCAL_FILE = "gpqa_diamond/gpqa_diamond.zip"
LOCAL_SHA256 = "caeb05a9a3ff7907238f9475c3c2d826c6776356905a3914d61e36c1b3945054"  # the manifest: local files are refused unless their bytes match
ZIP_MEMBER = "dataset/gpqa_diamond.csv"
ZIP_PASSWORD = b"deserted-untie-orchid"  # published in upstream's README so the zip keeps crawlers out
ROWS = 198
WRONG_COLUMNS = tuple(f"Incorrect Answer {i}" for i in (1, 2, 3))  # the CSV's three distractor columns
FIELDS = ("Question", "Correct Answer", *WRONG_COLUMNS, "Record ID")
SHUFFLE_SEED = 0
LETTERS = "ABCD"
GROUPS = ("domain",)  # accuracy is also reported by high-level domain
TEXT_IN_OUTPUTS = False  # run outputs never carry the question text (see module docstring)

# prompt_style "instruct" (the deepseek-r1 and quick presets): openai/simple-evals' zero-shot GPQA
# template (QUERY_TEMPLATE_MULTICHOICE, the one DeepSeek-R1's GPQA numbers were produced with): this
# instruction, a blank line, the question, a blank line, then the lines "A) …" to "D) …".
INSTRUCTION = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before answering."
)


def _read_zip(path: Path) -> list[dict]:
    try:
        with zipfile.ZipFile(path) as z:
            data = z.read(ZIP_MEMBER, pwd=ZIP_PASSWORD)
    except KeyError:
        raise UserError(f"{NAME}: {path} has no member {ZIP_MEMBER}") from None
    except (zipfile.BadZipFile, RuntimeError) as e:
        raise UserError(f"{NAME}: cannot open {path} ({e})") from None
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def permutation(record_id: str, seed: int = SHUFFLE_SEED) -> list[int]:
    """Order of [correct, incorrect 1-3] shown as A-D for this question."""
    h = int(hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest()[:16], 16)
    return random.Random(h).sample(range(4), 4)


def load(data_dir: Path | None) -> list[Problem]:
    if data_dir is not None:
        path = local_file(data_dir, LOCAL_FILE, NAME)
        rows, source = _read_zip(path), str(path)
    else:
        rows, source = load_hub(NAME, HUB_ID, HUB_REVISION, HUB_SPLIT, config=HUB_CONFIG), f"{HUB_ID}/{HUB_CONFIG}@{HUB_REVISION}"
    validate(rows, benchmark=NAME, source=source, count=ROWS, fields=FIELDS)
    if data_dir is not None:
        check_sha256(path, LOCAL_SHA256, NAME)
    problems = []
    for r in rows:
        rid = r["Record ID"].strip()
        options = [r["Correct Answer"], *(r[c] for c in WRONG_COLUMNS)]
        order = permutation(rid)
        choices = [options[i].strip() for i in order]
        gold = LETTERS[order.index(0)]
        problems.append(Problem(id=rid, problem=r["Question"].strip(), answer=gold, kind="choice",
                                meta={"choices": choices, "domain": (r.get("High-level domain") or "").strip(),
                                      "subdomain": (r.get("Subdomain") or "").strip()}))
    if len({p.id for p in problems}) != ROWS:
        raise UserError(f"{NAME}: {source} has duplicate Record IDs")
    return problems


def prompt(problem: Problem, style: str) -> str:
    choices = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(problem.meta["choices"]))
    body = f"{problem.problem}\n\n{choices}"
    if style == "raw":
        return body
    if style == "instruct":
        return f"{INSTRUCTION}\n\n{body}"
    raise UserError(f"unknown prompt_style {style!r}; choose one of raw, instruct")
