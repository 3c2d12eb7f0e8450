"""The navigator loop against the local scripted OpenAI-compatible server (a clean run with two
servers, an unparseable plan, a revision, the step limit, the CLI) and one run with SmolLM2 as both
navigator and solver. Scripted responders read the request to decide what to answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasonflux.backends import load_backend
from reasonflux.reasoning import prompts as P
from reasonflux.reasoning.navigator import NavigatorSettings, Trace, parse_json_object, reason
from reasonflux.templates.library import load_library
from reasonflux.templates.retrieve import Retriever, load_index
from reasonflux.testing.server import Fault, ScriptedServer

SMALL = Path(__file__).parent / "fixtures" / "templates_small.jsonl"
PROBLEM = "In how many ways can 10 identical balls be placed into 4 distinct boxes?"
# One phrase of each prompt, to tell the requests apart.
MARKERS = {"plan": "Do not solve it yet", "adjust": "Adapt your plan", "instruct": "Write the next instruction",
           "judge": "Judge the progress", "final": "give the final answer", "solve": "Your task now:"}
PLAN = {"domain": "combinatorics", "section": "counting", "method": "stars and bars",
        "tags": ["distributions", "identical objects"], "steps": ["Model as x1+x2+x3+x4=10", "Count the solutions"]}


def kind(body: dict) -> tuple[str, int]:
    """(prompt kind, attempt): the first user turn says which prompt; later user turns are retries."""
    first = body["messages"][0]["content"]
    attempt = sum(1 for m in body["messages"] if m["role"] == "user") - 1
    for name, phrase in MARKERS.items():
        if phrase in first:
            return name, attempt
    raise AssertionError(f"unknown prompt: {first[:80]}")


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    lib = load_library(SMALL)
    return Retriever(lib, load_index(lib, tmp_path_factory.mktemp("idx")))


def openai(srv: ScriptedServer):
    return load_backend("openai", model="scripted", base_url=srv.base_url, max_retries=0)


def settings(**kw) -> NavigatorSettings:
    return NavigatorSettings(**{"navigator_max_tokens": 64, "solver_max_tokens": 64, **kw})


def test_parse_json_object_is_lenient():
    assert parse_json_object('Sure!\n```json\n{"a": [1, 2], "b": {"c": 1}}\n```\nDone.') == {"a": [1, 2], "b": {"c": 1}}
    assert parse_json_object('<think>maybe {"x": 0}</think>\nPlan: {"a": 1,} trailing') == {"a": 1}
    assert parse_json_object('{bad} then {"ok": true}') == {"ok": True}
    assert parse_json_object("<think>{\"a\": 1} but never closed") is None
    assert parse_json_object("[1, 2] no object here") is None
    assert parse_json_object("") is None


def test_clean_run_with_separate_navigator_and_solver(retriever):
    step_results = iter(["x1+x2+x3+x4=10 with xi >= 0.", "C(13,3) = 286."])

    def nav(body, i):
        k, _ = kind(body)
        if k == "plan":
            return "Here is my plan:\n```json\n" + json.dumps(PLAN) + "\n```"
        if k == "adjust":
            assert "comb.stars-and-bars" in body["messages"][0]["content"]
            return json.dumps({"template_id": "comb.stars-and-bars", "steps": ["Set up x1+x2+x3+x4=10", "Apply C(n+k-1,k-1)"]})
        if k == "instruct":
            return "Instruction: " + ("write the equation" if "(nothing yet)" in body["messages"][0]["content"] else "compute C(13,3)")
        if k == "judge":
            return '{"status": "continue", "remaining_steps": [], "reason": "fine"}'
        raise AssertionError(k)

    def sol(body, i):
        k, _ = kind(body)
        if k == "solve":
            return next(step_results)
        assert k == "final" and "C(13,3) = 286." in body["messages"][0]["content"]
        return "So the count is \\boxed{286}."

    with ScriptedServer(nav) as ns, ScriptedServer(sol) as ss:
        trace = reason(PROBLEM, openai(ns), openai(ss), retriever, settings(k=3))
        solver_kinds = [kind(b)[0] for b in ss.requests]
        second_solve = ss.requests[1]["messages"][0]["content"]
    assert trace.plan == PLAN and trace.plan_source == "navigator"
    assert trace.retrieved[0]["id"] == "comb.stars-and-bars" and trace.retrieved[0]["score"] > 0
    assert trace.template_id == "comb.stars-and-bars" and trace.planned_steps == ["Set up x1+x2+x3+x4=10", "Apply C(n+k-1,k-1)"]
    assert [s.instruction for s in trace.steps] == ["Instruction: write the equation", "Instruction: compute C(13,3)"]
    assert [s.response for s in trace.steps] == ["x1+x2+x3+x4=10 with xi >= 0.", "C(13,3) = 286."]
    assert all(s.judgement["status"] == "continue" for s in trace.steps)
    assert solver_kinds == ["solve", "solve", "final"]
    assert "Instruction: compute C(13,3)" in second_solve and "x1+x2+x3+x4=10 with xi >= 0." in second_solve
    assert trace.final_answer == "286" and trace.stop_reason == "plan_complete" and trace.errors == []
    assert trace.revisions == []
    assert [c.purpose for c in trace.calls] == ["plan", "adjust", "instruct", "solve", "judge", "instruct", "solve", "judge", "final"]
    assert trace.tokens["navigator"]["completion"] > 0 and trace.tokens["solver"]["prompt"] > 0
    again = Trace.from_dict(json.loads(trace.to_json()))
    assert again == trace


def test_unparseable_plan_retries_then_falls_back(retriever):
    def nav(body, i):
        k, attempt = kind(body)
        if k == "plan" and attempt == 0:
            return Fault.status(400)            # the engine fails once: counts as an attempt
        if k in ("plan", "adjust"):
            return "Let me think about the balls and boxes."   # never JSON
        if k == "instruct":
            return "Solve it."
        return '{"status": "done", "remaining_steps": []}'

    with ScriptedServer(nav) as srv:
        trace = reason(PROBLEM, openai(srv), openai(srv), retriever, settings(json_retries=2))
        plan_requests = [b for b in srv.requests if kind(b)[0] == "plan"]
        kinds = [kind(b)[0] for b in srv.requests]
    assert len(plan_requests) == 3                                   # 1 + json_retries, then stop
    assert P.JSON_RETRY_PROMPT.split(":")[0] in plan_requests[-1]["messages"][-1]["content"]
    assert [m["role"] for m in plan_requests[-1]["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert trace.plan_source == "fallback" and trace.plan["steps"] == [P.FALLBACK_STEP]
    assert trace.planned_steps == [P.FALLBACK_STEP] and trace.template_id is None
    assert kinds.count("adjust") == 3 and len(trace.steps) == 1 and trace.stop_reason == "done"
    assert any("plan" in e for e in trace.errors) and any("adjust" in e for e in trace.errors)
    assert any("engine error" in e for e in trace.errors)


def test_revision_replaces_remaining_steps(retriever):
    def nav(body, i):
        k, _ = kind(body)
        text = body["messages"][0]["content"]
        if k == "plan":
            return json.dumps({**PLAN, "steps": ["Guess the answer", "Check the guess"]})
        if k == "adjust":
            return json.dumps({"template_id": None, "steps": ["Guess the answer", "Check the guess"]})
        if k == "instruct":
            return "Do: " + text.split("Next step: ")[1].split("\n")[0]
        if "Step 2:" in text:
            return '{"status": "done", "remaining_steps": [], "reason": "answered"}'
        return json.dumps({"status": "revise", "remaining_steps": ["Use stars and bars", "Double-check"], "reason": "guessing fails"})

    def sol(body, i):
        return "The answer is \\boxed{286}." if kind(body)[0] == "final" else f"result {i}"

    with ScriptedServer(nav) as ns, ScriptedServer(sol) as ss:
        trace = reason(PROBLEM, openai(ns), openai(ss), retriever, settings())
    assert trace.revisions == [{"after_step": 1, "old": ["Check the guess"], "new": ["Use stars and bars", "Double-check"],
                                "reason": "guessing fails"}]
    assert [s.step for s in trace.steps] == ["Guess the answer", "Use stars and bars"]
    assert trace.steps[1].instruction == "Do: Use stars and bars"
    assert trace.stop_reason == "done" and trace.final_answer == "286"


def test_step_limit_stops_an_endless_plan(retriever):
    def nav(body, i):
        k, _ = kind(body)
        if k == "plan":
            return json.dumps(PLAN)
        if k == "adjust":
            return "no json"                    # adjust falls back to the plan's steps
        if k == "instruct":
            return "Try again."
        return json.dumps({"status": "revise", "remaining_steps": ["Try once more"], "reason": "not yet"})

    with ScriptedServer(nav) as srv:
        trace = reason(PROBLEM, openai(srv), openai(srv), retriever, settings(max_steps=3, json_retries=0))
        n_requests = len(srv.requests)
    assert len(trace.steps) == 3 and trace.stop_reason == "max_steps" and len(trace.revisions) == 3
    assert trace.planned_steps == PLAN["steps"]
    assert n_requests == 1 + 1 + 3 * 3 + 1       # plan, adjust, 3 x (instruct, solve, judge), final
    assert trace.final_answer is None and "no final answer could be extracted" in trace.errors


def test_reason_cli_writes_trace(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    from typer.testing import CliRunner

    from reasonflux.cli import app

    def nav(body, i):
        k, _ = kind(body)
        return {"plan": json.dumps(PLAN), "adjust": json.dumps({"template_id": "comb.stars-and-bars", "steps": ["Count"]}),
                "instruct": "Count.", "judge": '{"status": "done", "remaining_steps": []}',
                "solve": "286", "final": "\\boxed{286}"}[k]

    out = tmp_path / "trace.json"
    with ScriptedServer(nav) as srv:
        r = CliRunner().invoke(app, ["reason", PROBLEM, "--navigator", "scripted", "--navigator-backend", "openai",
                                     "--navigator-base-url", srv.base_url, "--library", str(SMALL), "--max-steps", "2",
                                     "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    printed = json.loads(r.stdout)
    saved = json.loads(out.read_text())
    assert printed == saved and saved["final_answer"] == "286" and saved["template_id"] == "comb.stars-and-bars"
    assert saved["navigator"] == saved["solver"] == {"model": "scripted", "backend": "openai", "format": "model"}
    r = CliRunner().invoke(app, ["reason", PROBLEM, "--max-steps", "0"])
    assert r.exit_code == 2 and "--max-steps" in r.output


def test_smollm2_as_navigator_and_solver(smollm2, retriever):
    backend = load_backend("hf", model=smollm2, device="cpu", dtype="float32")
    try:
        trace = reason("What is 12 + 30?", backend, backend, retriever,
                       NavigatorSettings(k=2, max_steps=1, json_retries=0, navigator_max_tokens=16, solver_max_tokens=12))
    finally:
        backend.close()
    assert isinstance(trace, Trace) and trace.plan_source in ("navigator", "fallback")
    assert 1 <= len(trace.steps) <= 1 and trace.stop_reason in ("plan_complete", "done", "max_steps")
    assert trace.calls[-1].purpose == "final" and len(trace.calls) <= 6  # plan, adjust, instruct, solve, judge, final
    assert trace.tokens["solver"]["completion"] > 0 and all(c.finish_reason in ("stop", "length") for c in trace.calls)
    json.loads(trace.to_json())
