"""The synth run store (on reasonflux.store): damaged lines refused by number and never silently
dropped, torn last lines repaired, one writer, defining settings checked by name, dedup before ids,
cleaning reports that name the input line and problem. No model or server needed, except the
CLI tests, which use the scripted server."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from reasonflux.errors import UserError
from reasonflux.synth import pipeline
from reasonflux.synth.pipeline import Store, SynthProblem
from reasonflux.testing.server import ScriptedServer

SETTINGS = {"teacher": "t1", "temperature": 0.7, "n": 2}


def _rec(pid: str, i: int = 0) -> dict:
    return {"id": f"{pid}#{i}", "messages": [{"role": "user", "content": pid}, {"role": "assistant", "content": "x"}],
            "meta": {"problem_id": pid}}


def _finish(store: Store, pid: str, n: int = 1) -> None:
    store.finish(SynthProblem(pid, pid, "1"), [_rec(pid, i) for i in range(n)], {"samples": n, "kept": n, "correct": n})


def _three_done(out) -> None:  # noqa: ANN001
    with Store(out, SETTINGS) as s:
        for pid in ("a", "b", "c"):
            _finish(s, pid, 2)


def test_damaged_middle_progress_line_is_refused_with_its_number_and_nothing_is_dropped(tmp_path):
    out = tmp_path / "run"
    _three_done(out)
    prog = out / "progress.jsonl"
    lines = prog.read_text().splitlines(keepends=True)
    prog.write_text(lines[0] + '{"problem_id": "b", "sam\n' + lines[2])  # damaged in the middle
    before = (prog.read_bytes(), (out / "trajectories.jsonl").read_bytes())
    with pytest.raises(UserError, match=r"progress.jsonl line 2 is not a progress record"):
        Store(out, SETTINGS)
    assert (prog.read_bytes(), (out / "trajectories.jsonl").read_bytes()) == before  # later work kept
    # a damaged trajectory line is refused the same way, whichever line it is
    prog.write_text("".join(lines))
    traj = out / "trajectories.jsonl"
    tl = traj.read_text().splitlines(keepends=True)
    traj.write_text("".join(tl[:3]) + "garbage\n" + "".join(tl[4:]))
    with pytest.raises(UserError, match=r"trajectories.jsonl line 4 is not a trajectory record"):
        Store(out, SETTINGS)


def test_damaged_middle_line_refusal_releases_the_lock(tmp_path):
    out = tmp_path / "run"
    _three_done(out)
    (out / "progress.jsonl").write_text("not json\n" + (out / "progress.jsonl").read_text())
    with pytest.raises(UserError, match="line 1"):
        Store(out, SETTINGS)
    (out / "progress.jsonl").write_text((out / "progress.jsonl").read_text().split("\n", 1)[1])
    with Store(out, SETTINGS) as s:
        assert set(s.done) == {"a", "b", "c"}


def test_torn_last_line_is_repaired_and_unfinished_records_dropped(tmp_path):
    out = tmp_path / "run"
    _three_done(out)
    prog, traj = out / "progress.jsonl", out / "trajectories.jsonl"
    # crash: d's trajectories written, its progress line cut mid-write; e's trajectory line cut too
    with Store(out, SETTINGS) as s:
        s._traj_w.write_many([_rec("d", 0), _rec("d", 1)])
    prog.write_bytes(prog.read_bytes() + b'{"problem_id": "d", "sa')
    traj.write_bytes(traj.read_bytes() + b'{"id": "e#0", "mess')
    with Store(out, SETTINGS) as s:
        assert set(s.done) == {"a", "b", "c"} and s.dropped_unfinished == 2
        _finish(s, "d", 1)
    rows = [json.loads(x) for x in traj.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a#0", "a#1", "b#0", "b#1", "c#0", "c#1", "d#0"]
    assert [json.loads(x)["problem_id"] for x in prog.read_text().splitlines()] == ["a", "b", "c", "d"]


def test_a_second_writer_is_refused_in_process_and_across_processes(tmp_path):
    out = tmp_path / "run"
    with Store(out, SETTINGS):
        with pytest.raises(UserError, match="another reasonflux process is writing"):
            Store(out, SETTINGS)
        code = ("import sys; from reasonflux.synth.pipeline import Store; from reasonflux.errors import UserError\n"
                f"try:\n    Store(__import__('pathlib').Path({str(out)!r}))\nexcept UserError as e:\n    print(e); sys.exit(2)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "another reasonflux process is writing" in r.stdout
    with Store(out, SETTINGS):  # released
        pass


def test_changed_defining_setting_is_refused_by_name(tmp_path):
    out = tmp_path / "run"
    _three_done(out)
    with pytest.raises(UserError, match=r"teacher: 't1' -> 't2'; temperature: 0.7 -> 0.9"):
        Store(out, {**SETTINGS, "teacher": "t2", "temperature": 0.9})
    with Store(out, {**SETTINGS, "new_setting": 1}) as s:  # a key new to this version is recorded
        assert len(s.done) == 3
    assert json.loads((out / "settings.json").read_text())["new_setting"] == 1


def test_exact_duplicates_without_ids_are_deduped_before_ids_are_assigned(tmp_path):
    from reasonflux.commands.synth import clean_problems

    rows = [{"problem": "What is 2+3?", "answer": "5"}, {"problem": "Compute 7*6.", "answer": "42"},
            {"problem": "What is  2 + 3 ?", "answer": "5"}, {"problem": "What is 2+3?", "answer": "5"}]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    probs = pipeline.read_problem_rows(str(f))
    assert [p.line for p in probs] == [1, 2, 3, 4] and not any(p.given_id for p in probs)
    cfg = SimpleNamespace(dedup=True, decontaminate=False)
    kept, report = clean_problems(probs, cfg, tmp_path)
    kept = pipeline.assign_ids(kept, str(f))
    assert [p.line for p in kept] == [1, 2] and len({p.id for p in kept}) == 2
    assert [(d["line"], d["kept_line"], d["kind"]) for d in report["duplicates"]] == [(3, 1, "exact"), (4, 1, "exact")]
    # without dedup the repeats get distinct, stable ids instead of an abort
    ids = [p.id for p in pipeline.read_problems(str(f))]
    assert len(set(ids)) == 4 and ids[3] == ids[0] + "-3"


def test_a_given_id_used_twice_is_an_error_naming_both_lines(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"id": "q", "problem": "A?", "answer": "1"}) + "\n" + json.dumps({"id": "q", "problem": "B?", "answer": "2"}) + "\n")
    with pytest.raises(UserError, match=r"p.jsonl:2: duplicate problem id 'q' \(also on line 1\)"):
        pipeline.read_problems(str(f))


def test_cleaning_report_names_the_dropped_training_problem(tmp_path, data_dir):
    from reasonflux.commands.synth import clean_problems

    math500 = [json.loads(x) for x in (data_dir / "math500" / "test.jsonl").read_text().splitlines()]
    target = next(r for r in math500 if r["unique_id"] == "test/algebra/2199.json")
    probs = [SynthProblem("mine-1", "Compute 17 * 23.", "391", line=1),
             SynthProblem("mine-2", "Compute 17 * 23.", "391", line=2),
             SynthProblem("mine-3", target["problem"].replace("Hillary", "Dana"), "7", line=3),
             SynthProblem("mine-4", "Eleven coins, each a dime or a nickel, total 75 cents. How many of Hillary's coins are nickels?", "7", line=4)]
    cfg = SimpleNamespace(dedup=True, decontaminate=True, data_dir=str(data_dir), ngram=13)
    kept, report = clean_problems(probs, cfg, tmp_path)
    assert [p.id for p in kept] == ["mine-1"]
    got = {c["problem_id"]: c for c in report["contaminated"]}
    assert set(got) == {"mine-3", "mine-4"}
    assert got["mine-3"]["line"] == 3 and got["mine-4"]["line"] == 4
    assert all(c["benchmark"] == "math500" and c["benchmark_id"] == "test/algebra/2199.json" for c in got.values())
    assert got["mine-4"]["stage"] == "similarity" and 0.45 <= got["mine-4"]["score"] <= 1
    assert json.loads((tmp_path / "cleaning.json").read_text()) == report


def _synth(base_url: str, problems, out, *extra: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    cmd = [sys.executable, "-m", "reasonflux.cli", "synth", "--problems", str(problems), "--backend", "openai",
           "--teacher", "scripted", "--base-url", base_url, "--n", "1", "--out", str(out), "--no-decontaminate",
           "--max-retries", "0", "--templates", "none", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_cli_resume_with_another_teacher_or_temperature_is_refused(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"problem": f"What is {i}+{i}?", "answer": str(2 * i)}) + "\n" for i in (1, 2, 1)))
    out = tmp_path / "run"
    with ScriptedServer(lambda body, i: "$\\boxed{2}$") as srv:
        r = _synth(srv.base_url, f, out)
        assert r.returncode == 0, r.stderr
        assert len(srv.requests) == 2  # the exact duplicate (no ids) was dropped, not an abort
        before = (out / "progress.jsonl").read_bytes()
        r = _synth(srv.base_url, f, out, "--temperature", "0.9")
        assert r.returncode == 2 and "temperature: 0.7 -> 0.9" in r.stderr and "Traceback" not in r.stderr
        r = _synth(srv.base_url, f, out, "--teacher", "other")
        assert r.returncode == 2 and "teacher: 'scripted' -> 'other'" in r.stderr
        assert (out / "progress.jsonl").read_bytes() == before
    cleaning = json.loads((out / "cleaning.json").read_text())
    assert cleaning["duplicates"][0]["line"] == 3 and cleaning["duplicates"][0]["kept_line"] == 1
