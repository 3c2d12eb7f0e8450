"""``reasonflux synth`` end to end against the local scripted server as teacher."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

from reasonflux.testing.server import Fault, ScriptedServer

PROBLEMS = [
    {"id": "p1", "problem": "Alice has 2 apples and gets 3 more. How many apples does she have?", "answer": "5"},
    {"id": "p2", "problem": "What is the least common multiple of 4 and 6?", "answer": "12"},
    {"id": "p3", "problem": "How many primes are less than 18?", "answer": "7"},
    {"id": "p4", "problem": "Solve for x: 2x + 1 = 7.", "answer": "3"},
]
# Per problem, the three scripted trajectories: correct, wrong, truncated (no closing </think>),
# and for p2 a second, distinct correct one.
SCRIPT = {
    "p1": ["<think>\nCount: 2+3=5.\n</think>\n\nShe has $\\boxed{5}$ apples.",
           "<think>\n2+3=6\n</think>\n\n$\\boxed{6}$",
           {"text": "<think>\nLet me count very carefully 1, 2, 3", "finish_reason": "length"}],
    "p2": ["<think>\nMultiples of 6: 6, 12; 12 is divisible by 4.\n</think>\n\nThe answer is $\\boxed{12}$.",
           "<think>\n4*6=24\n</think>\n\n$\\boxed{24}$",
           "<think>\nThe lcm of 4 and 6 is 4 times 6 divided by their gcd, which is 2, so 24 over 2.\n</think>\n\nSo the LCM is $\\boxed{12}$."],
    "p3": ["<think>\n2,3,5,7,11,13,17\n</think>\n\n$\\boxed{7}$",
           {"text": "<think>\n2,3,5,7,11,13", "finish_reason": "length"},
           "<think>\nfew\n</think>\n\n$\\boxed{6}$"],
    "p4": ["<think>\n2x=6\n</think>\n\n$x=\\boxed{3}$",
           "<think>\nhmm\n</think>\n\n$\\boxed{4}$",
           "<think>\n2x=6 so x=3\n</think>\n\nx = 3, i.e. $\\boxed{3}$"],
}
CORRECT = {"p1": 1, "p2": 2, "p3": 1, "p4": 2}


def _teacher(down: set[str]):
    calls = defaultdict(int)

    def respond(body, index):
        user = body["messages"][-1]["content"]
        pid = next(p["id"] for p in PROBLEMS if p["problem"] in user)
        if pid in down:
            return Fault.status(500)
        k = calls[pid] % 3
        calls[pid] += 1
        return SCRIPT[pid][k]

    return respond, calls


def _synth(base_url, out, *extra):
    cmd = [sys.executable, "-m", "reasonflux.cli", "synth", "--problems", str(out.parent / "problems.jsonl"),
           "--backend", "openai", "--teacher", "scripted", "--base-url", base_url, "--samples", "3", "--out", str(out),
           "--no-decontaminate", "--max-retries", "0", "--chunk", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_synth_keeps_exactly_the_correct_trajectories_and_resumes(tmp_path):
    (tmp_path / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out = tmp_path / "run"
    # First run: the teacher is down for p3 and p4 (an outage mid-run): p1, p2 finish.
    respond, calls = _teacher(down={"p3", "p4"})
    with ScriptedServer(respond) as srv:
        r = _synth(srv.base_url, out, "--keep", "all-distinct:3")
    assert r.returncode == 0, r.stderr
    done = [json.loads(x)["problem_id"] for x in (out / "progress.jsonl").read_text().splitlines()]
    assert done == ["p1", "p2"]
    # Second run, teacher healthy: only p3 and p4 are asked for.
    respond, calls = _teacher(down=set())
    with ScriptedServer(respond) as srv:
        r = _synth(srv.base_url, out, "--keep", "all-distinct:3")
        asked = {next(p["id"] for p in PROBLEMS if p["problem"] in b["messages"][-1]["content"]) for b in srv.requests}
    assert r.returncode == 0, r.stderr
    assert asked == {"p3", "p4"}
    recs = [json.loads(x) for x in (out / "trajectories.jsonl").read_text().splitlines()]
    per = defaultdict(int)
    for rec in recs:
        per[rec["meta"]["problem_id"]] += 1
        user, assistant = rec["messages"]
        assert user == {"role": "user", "content": next(p["problem"] for p in PROBLEMS if p["id"] == rec["meta"]["problem_id"])}
        content = assistant["content"]
        assert content.startswith("<think>\n") and "\n</think>\n\n" in content and "\\boxed{" in content.split("</think>")[1]
        assert rec["meta"]["extracted"] == rec["meta"]["reference_answer"]
        assert rec["meta"]["teacher"] == "scripted" and isinstance(rec["meta"]["template_ids"], list)
        assert rec["meta"]["template_ids"], "builtin templates were offered as hints"
    assert dict(per) == CORRECT
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 4 and summary["solved"] == 4 and summary["kept"] == sum(CORRECT.values())
    # A third run does nothing at all.
    with ScriptedServer(lambda b, i: Fault.status(500)) as srv:
        r = _synth(srv.base_url, out, "--keep", "all-distinct:3")
        assert srv.requests == []
    assert r.returncode == 0, r.stderr


def test_synth_shortest_policy_and_hints_in_prompt(tmp_path):
    (tmp_path / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS[:2]))
    respond, _ = _teacher(down=set())
    with ScriptedServer(respond) as srv:
        r = _synth(srv.base_url, tmp_path / "run", "--keep", "shortest")
        # requests arrive concurrently: find the one that asked about problem 1
        prompts = [q["messages"][-1]["content"] for q in srv.requests]
    assert r.returncode == 0, r.stderr
    prompt = next(p for p in prompts if PROBLEMS[0]["problem"] in p)
    recs = [json.loads(x) for x in (tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()]
    assert [r["meta"]["problem_id"] for r in recs] == ["p1", "p2"]
    assert "Multiples of 6" in recs[1]["messages"][1]["content"]  # the shorter of the two correct ones
    assert PROBLEMS[0]["problem"] in prompt and len(prompt) > len(PROBLEMS[0]["problem"]) + 50


def test_synth_bad_problems_file(tmp_path):
    (tmp_path / "problems.jsonl").write_text(json.dumps({"problem": "x"}) + "\n")
    r = _synth("http://127.0.0.1:9/v1", tmp_path / "run")
    assert r.returncode == 2 and "problems.jsonl:1: no reference answer" in r.stderr and "Traceback" not in r.stderr


def test_synth_navigator_mode(tmp_path):
    """Navigator mode with a teacher that never writes JSON: the loop falls back to a one-step plan,
    and the final answer is graded and kept."""
    (tmp_path / "problems.jsonl").write_text(json.dumps(PROBLEMS[0]) + "\n")
    with ScriptedServer(lambda b, i: "Two plus three apples: $\\boxed{5}$.") as srv:
        r = _synth(srv.base_url, tmp_path / "run", "--mode", "navigator", "--samples", "1", "--max-steps", "2")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in (tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["meta"]["extracted"] == "5"
    assert "Step 1:" in recs[0]["messages"][1]["content"]


def test_synth_smollm2_on_math500_level1(tmp_path, data_dir, smollm2):
    """A small real run: SmolLM2 as teacher on MATH500 level-1 problems (decontamination off: these
    ARE benchmark problems). An honest 0 solved is fine; the pipeline must run and write."""
    rows = [json.loads(x) for x in (data_dir / "math500" / "test.jsonl").read_text().splitlines()]
    level1 = [r for r in rows if r["level"] == 1][:2]
    (tmp_path / "problems.jsonl").write_text("".join(json.dumps({"id": r["unique_id"], "problem": r["problem"], "answer": r["answer"]}) + "\n" for r in level1))
    cmd = [sys.executable, "-m", "reasonflux.cli", "synth", "--problems", str(tmp_path / "problems.jsonl"), "--teacher", "smollm2",
           "--samples", "2", "--max-tokens", "48", "--out", str(tmp_path / "run"), "--no-decontaminate"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["problems"] == 2 and summary["samples"] == 4 and summary["tokens"] > 0
    assert (tmp_path / "run" / "trajectories.jsonl").exists()
