"""samples.jsonl survives crashes: partial last lines are dropped, appends are whole lines, one writer."""

from __future__ import annotations

import json
import threading

import pytest

from reasonflux.errors import UserError
from reasonflux.evals import store


def rec(pid: str, i: int, **kw) -> dict:
    return {"benchmark": "math500", "problem_id": pid, "sample_index": i, "prompt_hash": "h", "text": "t", **kw}


def test_prompt_hash_is_stable_and_covers_prefill():
    msgs = [{"role": "user", "content": "1+1?"}]
    assert store.prompt_hash(msgs) == store.prompt_hash([dict(m) for m in msgs])
    assert store.prompt_hash(msgs) != store.prompt_hash(msgs, "<think>\n")
    assert store.prompt_hash(msgs) != store.prompt_hash([{"role": "user", "content": "1+2?"}])
    assert len(store.prompt_hash(msgs)) == store.HASH_CHARS


def test_partial_last_line_is_dropped_and_truncated(tmp_path):
    p = tmp_path / store.SAMPLES
    with store.SampleWriter(p) as w:
        w.write(rec("a", 0))
        w.write(rec("a", 1, text="ünïcödé \\boxed{1}"))
    good = p.read_bytes()
    p.write_bytes(good + b'{"benchmark": "math500", "problem_id": "a", "sample_in')  # kill -9 mid-write
    assert [s["sample_index"] for s in store.read_samples(p)] == [0, 1]
    assert p.read_bytes() != good  # without repair the file is left alone
    rows = store.read_samples(p, repair=True)
    assert [s["text"] for s in rows] == ["t", "ünïcödé \\boxed{1}"]
    assert p.read_bytes() == good
    with store.SampleWriter(p) as w:  # appending after a repair gives whole lines again
        w.write(rec("b", 0))
    assert [store.sample_key(s) for s in store.read_samples(p)] == [("math500", "a", 0), ("math500", "a", 1), ("math500", "b", 0)]


def test_repeated_key_keeps_first_and_damage_is_a_clear_error(tmp_path):
    p = tmp_path / store.SAMPLES
    p.write_text(json.dumps(rec("a", 0, text="first")) + "\n" + json.dumps(rec("a", 0, text="second")) + "\n")
    assert [s["text"] for s in store.read_samples(p)] == ["first"]
    p.write_text(json.dumps(rec("a", 0)) + "\nnot json\n" + json.dumps(rec("a", 1)) + "\n")
    with pytest.raises(UserError, match="line 2 is not a sample record"):
        store.read_samples(p, repair=True)
    assert store.read_samples(tmp_path / "missing.jsonl") == []


def test_concurrent_writers_give_whole_lines(tmp_path):
    p = tmp_path / store.SAMPLES
    w = store.SampleWriter(p)
    big = "x" * 70000  # larger than any pipe/stdio buffer: still one line

    def work(t: int) -> None:
        for i in range(100):
            w.write(rec(f"p{t}", i, text=big if i % 25 == 0 else "y"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    rows = store.read_samples(p)
    assert len(rows) == 600 and len({store.sample_key(r) for r in rows}) == 600
    assert sum(r["text"] == big for r in rows) == 24


def test_run_lock_excludes_a_second_writer(tmp_path):
    with store.RunLock(tmp_path):
        with pytest.raises(UserError, match="another reasonflux process"):
            with store.RunLock(tmp_path):
                pass
    with store.RunLock(tmp_path):  # released
        pass


def test_rewrite_is_atomic_and_load_run_errors(tmp_path):
    p = tmp_path / store.SAMPLES
    store.rewrite_samples(p, [rec("a", 0), rec("a", 1)])
    assert len(store.read_samples(p)) == 2 and not (tmp_path / (store.SAMPLES + ".tmp")).exists()
    with pytest.raises(UserError, match="not an eval run directory"):
        store.load_run(tmp_path)
    (tmp_path / store.CONFIG).write_text("model: m\n")
    store.write_problems(tmp_path / store.PROBLEMS, [{"benchmark": "math500", "id": "a", "answer": "1"}])
    with pytest.raises(UserError, match="no metrics.json"):
        store.load_run(tmp_path, need_metrics=True)
    run = store.load_run(tmp_path)
    assert run.label == tmp_path.name and len(run.samples) == 2 and run.problems[0]["id"] == "a"


# ---------------------------------------------------------------- the generic run store (reasonflux.store)


def test_generic_log_supersedes_by_key_and_keeps_position(tmp_path):
    from reasonflux import store as rs

    p = tmp_path / "log.jsonl"
    with rs.Appender(p) as w:
        w.write({"k": "a", "v": 1})
        w.write_many([{"k": "b", "v": 1}, {"k": "a", "v": 2}])
    assert [(r["k"], r["v"]) for r in rs.read_log(p, key=lambda r: r["k"])] == [("a", 2), ("b", 1)]
    final = lambda r: r["v"] == 1  # noqa: E731 - a record that may not be replaced
    assert [(r["k"], r["v"]) for r in rs.read_log(p, key=lambda r: r["k"], replaceable=lambda r: not final(r))] == [("a", 1), ("b", 1)]
    assert len(rs.read_log(p)) == 3  # without a key: every record


def test_failed_eval_sample_is_superseded_by_its_retry(tmp_path):
    p = tmp_path / store.SAMPLES
    with store.SampleWriter(p) as w:
        w.write(rec("a", 0, finish_reason="error", error="timeout"))
        w.write(rec("a", 1, text="ok"))
        w.write(rec("a", 0, text="retried", finish_reason="stop"))
        w.write(rec("a", 1, text="later duplicate"))
    rows = store.read_samples(p)
    assert [(s["sample_index"], s["text"]) for s in rows] == [(0, "retried"), (1, "ok")]


def test_generic_log_keeps_a_whole_record_missing_only_its_newline(tmp_path):
    from reasonflux import store as rs

    p = tmp_path / "log.jsonl"
    p.write_text('{"k": 1}\n{"k": 2}')  # hand-edited file, no final newline: not a torn write
    assert [r["k"] for r in rs.read_log(p, repair=True)] == [1, 2]
    assert p.read_text() == '{"k": 1}\n{"k": 2}\n'
    p.write_text('{"k": 1}\n[1, 2]\n{"k": 3}\n')
    with pytest.raises(UserError, match=r"log.jsonl line 2 is not a record"):
        rs.read_log(p, repair=True)
    assert p.read_text() == '{"k": 1}\n[1, 2]\n{"k": 3}\n'  # refused, nothing deleted


def test_check_settings_records_then_refuses_changes_by_name(tmp_path):
    from reasonflux import store as rs

    rs.check_settings(tmp_path, {"model": "m", "temperature": 0.6, "stops": ("a",)})
    rs.check_settings(tmp_path, {"model": "m", "temperature": 0.6, "stops": ["a"]})  # tuple == list after JSON
    with pytest.raises(UserError, match=r"model: 'm' -> 'n'; temperature: 0.6 -> 0.7"):
        rs.check_settings(tmp_path, {"model": "n", "temperature": 0.7, "stops": ["a"]})
    (tmp_path / rs.SETTINGS).write_text("[]")
    with pytest.raises(UserError, match="settings.json is damaged"):
        rs.check_settings(tmp_path, {"model": "m"})


def test_rewrite_log_is_atomic_and_appender_refuses_after_close(tmp_path):
    from reasonflux import store as rs

    p = tmp_path / "log.jsonl"
    rs.rewrite_log(p, [{"a": 1}, {"a": 2}])
    assert rs.read_log(p) == [{"a": 1}, {"a": 2}] and not (tmp_path / "log.jsonl.tmp").exists()
    w = rs.Appender(p)
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write({"a": 3})
