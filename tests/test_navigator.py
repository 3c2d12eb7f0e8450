"""The navigator loop against the local scripted OpenAI-compatible server (a clean run with two
servers, an unparseable plan, a revision, the step limit, the CLI) and one run with SmolLM2 as both
navigator and solver. Scripted responders read the request to decide what to answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasonflux.backends import load_backend
from reasonflux.reasoning import prompts as P
from reasonflux.reasoning import navigator as NAV
from reasonflux.reasoning.navigator import Job, NavigatorSettings, Trace, parse_json_object, reason, reason_many
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


# ------------------------------------------------------------------------ batch-first scheduler

class FakeBackend:
    """A backend implementing ``generate`` in process: ``answer(request) -> str`` per request; it
    records the size of every generate call."""

    def __init__(self, answer, name="fake"):
        self.answer, self.name, self.calls = answer, name, []

    def generate(self, requests, progress=None):
        from reasonflux.types import Completion

        self.calls.append([r.id for r in requests])
        return [[Completion(text=self.answer(r), prompt_tokens=3, completion_tokens=2)] for r in requests]

    def close(self):
        pass


def prompt_kind(req) -> str:
    first = req.messages[0]["content"]
    return next(name for name, phrase in MARKERS.items() if phrase in first)


def scripted_nav(steps_for):
    """A navigator+solver whose plan length depends on the problem (``steps_for(problem) -> n``)."""
    def answer(req):
        k = prompt_kind(req)
        text = req.messages[0]["content"]
        problem = text.split("Problem:\n", 1)[1].split("\n", 1)[0] if "Problem:\n" in text else ""
        if k == "plan":
            n = steps_for(problem)
            return json.dumps({**PLAN, "steps": [f"step {j}" for j in range(1, n + 1)]})
        if k == "adjust":
            return "no json here"
        if k == "instruct":
            return "Do it."
        if k == "solve":
            return "partial"
        if k == "judge":
            return '{"status": "continue", "remaining_steps": []}'
        return f"\\boxed{{{len(problem)}}}"
    return answer


def test_scheduler_sends_one_generate_call_per_round(retriever):
    problems = [f"Problem number {i} about boxes" + "!" * i for i in range(6)]
    steps = {p: 1 + i % 3 for i, p in enumerate(problems)}
    backend = FakeBackend(scripted_nav(lambda p: steps[p]))
    rounds = []
    done = []
    traces = reason_many(problems, backend, None, retriever, settings(k=2, json_retries=0),
                         on_round=lambda r, n: rounds.append(n), on_done=lambda i, t: done.append(i))
    # per problem: plan, adjust, 3 calls per step, final; all problems advance together
    longest = 2 + 3 * max(steps.values()) + 1
    assert len(backend.calls) == longest == len(rounds)
    assert len(backend.calls[0]) == 6 and rounds[0] == 6 and rounds[-1] == sum(1 for v in steps.values() if v == 3)
    assert sorted(done) == list(range(6)) and done[0] in (0, 3)  # the shortest plans finish first
    for p, t in zip(problems, traces):
        assert t.problem == p and len(t.steps) == steps[p] and t.final_answer == str(len(p))
        assert t.fallbacks["adjust"] == 1 and t.fallback_count == 1
    # the batch-first result equals one problem at a time
    one = reason(problems[4], FakeBackend(scripted_nav(lambda p: steps[p])), None, retriever, settings(k=2, json_retries=0))
    strip = lambda t: {**t.to_dict(), "elapsed_s": 0, "calls": [{**c, "latency_s": 0} for c in t.to_dict()["calls"]]}  # noqa: E731
    assert strip(one) == strip(traces[4])


def test_scheduler_with_separate_solver_and_live_cap(retriever):
    nav = FakeBackend(scripted_nav(lambda p: 2), name="nav")
    sol = FakeBackend(scripted_nav(lambda p: 2), name="sol")
    traces = reason_many([Job(f"Problem {i}") for i in range(5)], nav, sol, retriever, settings(k=2, json_retries=0), max_live=2)
    assert all(len(t.steps) == 2 and t.final_answer == "9" for t in traces)
    assert max(len(c) for c in nav.calls + sol.calls) <= 2          # never more than max_live in flight
    kinds = {prompt_kind_id for c in sol.calls for prompt_kind_id in c}
    assert all("solver-" in i for i in kinds) and all("navigator-" in i for c in nav.calls for i in c)
    assert traces[0].navigator == {"backend": "nav"} and traces[0].solver == {"backend": "sol"}


def test_failing_engine_round_becomes_error_completions(retriever):
    class Down:
        name = "down"

        def generate(self, requests, progress=None):
            raise ConnectionError("engine gone")

    trace = reason(PROBLEM, Down(), None, retriever, settings(json_retries=1))
    assert trace.plan_source == "fallback" and trace.fallbacks["plan"] == 1
    assert trace.final_answer is None and any("engine gone" in e for e in trace.errors)
    assert all(c.finish_reason == "error" for c in trace.calls)


# ------------------------------------------------------------------------ R1-style navigators

def test_reasoning_navigator_json_after_think(retriever):
    """Completions that start inside <think> (the chat template opens it): JSON is read after
    </think> only; a reply still thinking at the token limit is retried, then a counted fallback."""
    seen = []

    def answer(req):
        seen.append(req)
        k = prompt_kind(req)
        if k == "plan":  # a decoy object inside the thinking; the real plan after </think>
            return 'Maybe {"steps": ["wrong"]} ... no.\n</think>\n' + json.dumps(PLAN)
        if k == "adjust":
            return "Let me think about which template " * 20   # cut inside <think>: no JSON
        if k == "instruct":
            return "hmm</think>Count with stars and bars."
        if k == "judge":
            return '</think>{"status": "done", "remaining_steps": []}'
        if k == "solve":
            return "C(13,3)</think>There are 286 ways."
        return "So 286.</think>\\boxed{286}"

    s = NavigatorSettings.for_reasoning_model(opens_think=True, navigator_think=False, solver_think=False, json_retries=1)
    trace = reason(PROBLEM, FakeBackend(answer), None, retriever, s)
    assert trace.plan["steps"] == PLAN["steps"] and trace.plan_source == "navigator"
    assert trace.fallbacks == {"plan": 0, "adjust": 1, "instruct": 0, "judge": 0}
    assert trace.steps[0].instruction == "Count with stars and bars." and trace.steps[0].response == "There are 286 ways."
    assert trace.final_answer == "286" and trace.stop_reason == "done"
    nav_budgets = {r.max_tokens for r in seen if prompt_kind(r) in ("plan", "adjust", "instruct", "judge")}
    assert nav_budgets == {NAV.REASONING_NAVIGATOR_MAX_TOKENS} and NAV.REASONING_NAVIGATOR_MAX_TOKENS >= 4096
    retry = [r for r in seen if prompt_kind(r) == "adjust"][-1].messages[-1]["content"]
    assert "never closed </think>" in retry


def test_prefilled_think_and_instruction_fallback(retriever):
    def answer(req):
        k = prompt_kind(req)
        if k == "plan":
            return "</think>" + json.dumps({**PLAN, "steps": ["Count"]})
        if k == "instruct":
            return "still thinking, never closed"                 # no visible instruction: the step is used
        if k == "judge":
            return '</think>{"status": "continue", "remaining_steps": []}'
        return "</think>\\boxed{286}"

    backend = FakeBackend(answer)
    trace = reason(PROBLEM, backend, None, None, NavigatorSettings.for_reasoning_model(json_retries=0))
    assert trace.steps[0].instruction == "Count" and trace.fallbacks["instruct"] == 1
    assert trace.final_answer == "286"
    t2 = Trace.from_dict(json.loads(trace.to_json()))
    assert t2.fallbacks == trace.fallbacks and t2.fallback_count == 1


# ------------------------------------------------------------------------ templates in the prompts

def test_worked_example_reaches_the_prompts_within_budget(retriever):
    prompts = []

    def answer(req):
        prompts.append((prompt_kind(req), req.messages[0]["content"]))
        k = prompt_kind(req)
        if k == "plan":
            return json.dumps({**PLAN, "steps": ["Count"]})
        if k == "adjust":
            return json.dumps({"template_id": "comb.stars-and-bars", "steps": ["Apply stars and bars"]})
        if k == "judge":
            return '{"status": "done", "remaining_steps": []}'
        return "\\boxed{286}"

    trace = reason(PROBLEM, FakeBackend(answer), None, retriever, settings())
    t = retriever.library.by_id["comb.stars-and-bars"]
    assert trace.example_id == "comb.stars-and-bars"
    for kind_, text in prompts:
        if kind_ in ("instruct", "solve"):
            assert "Worked example of the method" in text and t.example.problem in text and f"Answer: {t.example.answer}" in text
    block = NAV.worked_example(t, 40)
    assert len(block) <= 40 * NAV.CHARS_PER_TOKEN + 20 and t.example.answer in block or len(block) <= 160
    long = NAV.worked_example(t, 120)
    assert t.example.problem in long and long.endswith(f"Answer: {t.example.answer}")
    assert NAV.worked_example(t, 0) == "" and NAV.worked_example(None) == ""
    # example_max_tokens = 0: nothing shown
    prompts.clear()
    trace = reason(PROBLEM, FakeBackend(answer), None, retriever, settings(example_max_tokens=0))
    assert trace.example_id is None and not any("Worked example" in p for _, p in prompts)


def test_plan_method_names_feed_retrieval(retriever):
    def planner(method):
        def answer(req):
            k = prompt_kind(req)
            if k == "plan":
                return json.dumps({"domain": "", "section": "", "method": method, "tags": [], "steps": ["Go"]})
            if k == "judge":
                return '{"status": "done", "remaining_steps": []}'
            return "no json"
        return answer

    vague = "Find the number we want."
    a = reason(vague, FakeBackend(planner("linearity of expectation with indicator variables")), None, retriever, settings(k=1))
    b = reason(vague, FakeBackend(planner("")), None, retriever, settings(k=1))
    assert a.retrieved and a.retrieved[0]["id"] == "prob.expected-value-linearity" and a.template_id is None
    assert b.retrieved == [] and b.example_id is None
    assert "stars and bars" in NAV.plan_query(vague, {"method": "stars and bars", "tags": ["x"]})


# ------------------------------------------------------------------------ eval --method

def _eval(args, data_dir, out, srv=None):
    from typer.testing import CliRunner

    from reasonflux.cli import app

    url = srv.base_url if srv is not None else "http://127.0.0.1:9/v1"
    return CliRunner().invoke(app, ["eval", "--backend", "openai", "--base-url", url, "--model", "scripted", "--benchmarks", "math500",
                                    "--limit", "2", "--max-tokens", "64", "--max-retries", "0", "--data-dir", str(data_dir), "--out", str(out),
                                    "--templates", str(SMALL), *args])


def solving_navigator(gold: dict[str, str]):
    """A scripted model (navigator and solver) whose plan leads to the right answer: the plan names
    a method, the instruction carries it, the solver computes only when told that method, and the
    final answer repeats the step result it reads in the work so far."""
    def respond(body, i):
        k, _ = kind(body)
        text = body["messages"][0]["content"]
        if k == "plan":
            return json.dumps({"domain": "algebra", "section": "lookup", "method": "look it up", "tags": ["gold"],
                               "steps": ["Look up the answer"]})
        if k == "adjust":
            return json.dumps({"template_id": None, "steps": ["Look up the answer"]})
        if k == "instruct":
            assert "Method: look it up" in text
            return "Use the method: look it up."
        if k == "solve":
            problem = text.split("Problem:\n", 1)[1]
            key = next(g for p, g in gold.items() if p[:60] in problem)
            return f"The step gives {key}." if "look it up" in text else "I do not know."
        if k == "judge":
            return '{"status": "done", "remaining_steps": [], "reason": "answered"}'
        last = text.rsplit("The step gives ", 1)[1].split(".")[0] if "The step gives " in text else "?"
        return f"The answer is $\\boxed{{{last}}}$."
    return respond


def test_eval_method_navigator_scripted(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    from reasonflux.benchmarks import load_problems

    probs = load_problems("math500", data_dir)[:2]
    gold = {p.problem: p.answer for p in probs}
    out = tmp_path / "nav"
    with ScriptedServer(solving_navigator(gold)) as srv:
        r = _eval(["--method", "navigator", "--max-solver-steps", "2"], data_dir, out, srv)
        assert r.exit_code == 0, r.output
        n_requests = len(srv.requests)
        plan_reqs = [b for b in srv.requests if kind(b)[0] == "plan"]
        assert all(b.get("max_tokens") == 256 for b in plan_reqs)
        solve_reqs = [b for b in srv.requests if kind(b)[0] in ("solve", "final")]
        assert all(b.get("max_tokens") == 64 for b in solve_reqs)
        assert "navigator: 0 fallback(s)" in r.output
        # resume: nothing left to do, no request sent
        r2 = _eval(["--method", "navigator", "--max-solver-steps", "2"], data_dir, out, srv)
        assert r2.exit_code == 0, r2.output and len(srv.requests) == n_requests
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(s["method"] == "navigator" and s["correct"] for s in rows)
    t = Trace.from_dict(rows[0]["trace"])
    assert t.plan["method"] == "look it up" and t.steps[0].instruction == "Use the method: look it up."
    assert all(c.prompt == "" for c in t.calls) and t.final_answer == rows[0]["extracted"]
    m = json.loads((out / "metrics.json").read_text())
    assert m["method"]["name"] == "navigator" and m["method"]["navigator"]["fallbacks"] == 0
    assert m["benchmarks"]["math500"]["avg@n"]["value"] == 1.0 and m["protocol"]["method"] == "navigator"
    assert "Method: navigator" in (out / "report.md").read_text()
    # the method is a defining setting: another method in the same run directory is refused by name
    r = _eval(["--method", "direct"], data_dir, out, srv)
    assert r.exit_code == 2 and "method" in r.output
    # rescore regrades the stored final responses: same verdicts
    from typer.testing import CliRunner

    from reasonflux.cli import app

    r = CliRunner().invoke(app, ["rescore", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["correct"] for x in (out / "samples.jsonl").read_text().splitlines()] == [True, True]


def test_eval_methods_side_by_side_in_report(tmp_path, data_dir, monkeypatch):
    """hints puts the templates (the best with its worked example) above the prompt; a navigator
    that never writes JSON falls back and says how often; report shows each method as a row."""
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    with ScriptedServer(lambda b, i: "No JSON from me. \\boxed{0}") as srv:
        r = _eval(["--method", "hints", "--templates-k", "2"], data_dir, tmp_path / "hints", srv)
        assert r.exit_code == 0, r.output
        prompt = srv.requests[0]["messages"][-1]["content"]
        assert prompt.startswith("Solution methods (thought templates)") and "Worked example of the method" in prompt
        r = _eval(["--method", "navigator", "--max-solver-steps", "1", "--json-retries", "0"], data_dir, tmp_path / "nav", srv)
        assert r.exit_code == 0, r.output
        line = next(ln for ln in r.output.splitlines() if ln.startswith("navigator: "))
        assert line.startswith("navigator: 6 fallback(s) in 8 navigator calls (plan 2, adjust 2, judge 2)")
        assert line.endswith("2 of 2 runs fell back at least once, 2 without a usable plan")
        r = _eval([], data_dir, tmp_path / "direct", srv)
        assert r.exit_code == 0, r.output
    hint_rows = [json.loads(x) for x in (tmp_path / "hints" / "samples.jsonl").read_text().splitlines()]
    assert all(s["method"] == "hints" and "trace" not in s for s in hint_rows)
    m = json.loads((tmp_path / "nav" / "metrics.json").read_text())["method"]["navigator"]
    assert m["by_kind"]["plan"] == 2 and m["runs_with_fallback"] == 2 and 0 < m["fallback_rate"] <= 1
    from typer.testing import CliRunner

    from reasonflux.cli import app

    r = CliRunner().invoke(app, ["report", str(tmp_path / "direct"), str(tmp_path / "hints"), str(tmp_path / "nav"), "--json"])
    assert r.exit_code == 0, r.output
    models = [row["model"] for row in json.loads(r.stdout)]
    assert models == ["scripted", "scripted [hints]", "scripted [navigator]"]


@pytest.mark.parametrize("args,needle", [
    (["--method", "tree-search"], "--method"),
    (["--method", "navigator", "--max-solver-steps", "0"], "--max-solver-steps"),
    (["--method", "hints", "--retriever", "bogus"], "--retriever"),
    (["--method", "hints", "--templates", "/nonexistent/lib.jsonl"], "lib.jsonl"),
])
def test_eval_method_bad_settings_are_one_line(tmp_path, data_dir, args, needle):
    r = _eval(args, data_dir, tmp_path / "bad")
    assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output


def test_reason_cli_reasoning_model(tmp_path, monkeypatch):
    """--reasoning-model: <think> prefilled for both roles, 4096/8192-token budgets, JSON read after
    </think> (a decoy object inside the thinking is ignored)."""
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    from typer.testing import CliRunner

    from reasonflux.cli import app

    def model(body, i):
        k, _ = kind(body)
        return {"plan": '{"steps": ["decoy"]}</think>' + json.dumps(PLAN),
                "adjust": "</think>" + json.dumps({"template_id": "comb.stars-and-bars", "steps": ["Count"]}),
                "instruct": "</think>Count.", "judge": '</think>{"status": "done", "remaining_steps": []}',
                "solve": "C(13,3)</think>286", "final": "</think>\\boxed{286}"}[k]

    with ScriptedServer(model) as srv:
        r = CliRunner().invoke(app, ["reason", PROBLEM, "--navigator", "scripted", "--navigator-backend", "openai",
                                     "--navigator-base-url", srv.base_url, "--templates", str(SMALL), "--reasoning-model", "--json"])
        bodies = list(srv.requests)
    assert r.exit_code == 0, r.output
    t = json.loads(r.stdout)
    assert t["plan"]["steps"] == PLAN["steps"] and t["final_answer"] == "286" and sum(t["fallbacks"].values()) == 0
    budgets = {kind(b)[0]: b.get("max_tokens") or b.get("max_completion_tokens") for b in bodies}
    assert budgets["plan"] == NAV.REASONING_NAVIGATOR_MAX_TOKENS and budgets["solve"] == NAV.REASONING_SOLVER_MAX_TOKENS
    assert all(b["messages"][-1]["role"] == "assistant" and b["messages"][-1]["content"].startswith("<think>") for b in bodies)


def test_eval_navigator_keeps_gpqa_text_out_of_samples(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    from typer.testing import CliRunner

    from reasonflux.benchmarks import load_problems
    from reasonflux.cli import app

    question = load_problems("gpqa_diamond", data_dir)[0].problem
    out = tmp_path / "gpqa"
    with ScriptedServer(lambda b, i: "Answer: B") as srv:
        r = CliRunner().invoke(app, ["eval", "--backend", "openai", "--base-url", srv.base_url, "--model", "scripted",
                                     "--benchmarks", "gpqa_diamond", "--limit", "1", "--max-tokens", "16", "--max-retries", "0",
                                     "--data-dir", str(data_dir), "--out", str(out), "--method", "navigator",
                                     "--max-solver-steps", "1", "--json-retries", "0", "--quiet"])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "samples.jsonl").read_text().splitlines()[0])
    assert rec["trace"]["problem"] == "" and rec["extracted"] == "B"
    assert question[:60] not in (out / "samples.jsonl").read_text()
