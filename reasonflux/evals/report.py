"""Reports from run directories: report.md of one run, the seed-style table of many runs (benchmarks
as columns, runs as rows, the seed's reported figures beside known models) and the per-problem
difference of two runs. Pure text building; printing lives in ``reasonflux.commands.evaluate``.

    reasonflux report runs/a runs/b
    reasonflux compare runs/a runs/b
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reasonflux.benchmarks import TABLE_ORDER
from reasonflux.evals.methods import label as method_label, report_lines as method_report_lines
from reasonflux.evals.store import is_failure

TITLES = {"aime24": "AIME24", "aime25": "AIME25", "math500": "MATH500", "gpqa_diamond": "GPQA-D"}

# Pass@1 as reported in the seed's README (Gen-Verse/ReasonFlux, ReasonFlux_F1/README.md, "Performance").
# Only rows we could cross-check are kept: R1-Distill-32B's MATH500/AIME24/GPQA figures equal the
# DeepSeek-R1 report's (arXiv 2501.12948, Table 5); its AIME25 figure is the seed's own run. The seed's
# o1-mini, LIMO and s1 rows disagree with those models' own papers, so they are left out.
REPORTED_SOURCE = "ReasonFlux-F1 README (Gen-Verse/ReasonFlux, ReasonFlux_F1/README.md)"
REPORTED: dict[str, dict[str, Any]] = {
    "ReasonFlux-F1-32B": {
        "aliases": ("gen-verse/reasonflux-f1", "reasonflux-f1", "reasonflux-f1-32b"),
        "scores": {"math500": 96.0, "aime24": 76.7, "aime25": 53.3, "gpqa_diamond": 67.2},
    },
    "R1-Distill-Qwen-32B": {
        "aliases": ("deepseek-ai/deepseek-r1-distill-qwen-32b", "deepseek-r1-distill-qwen-32b", "r1-distill-32b"),
        "scores": {"math500": 94.3, "aime24": 72.6, "aime25": 46.7, "gpqa_diamond": 62.1},
    },
}


def known_model(model: str | None) -> str | None:
    """The REPORTED key for a model id or path, matching the full id or its last path part."""
    if not model:
        return None
    m = str(model).rstrip("/").lower()
    for key, entry in REPORTED.items():
        for alias in entry["aliases"]:
            if m == alias or m.endswith("/" + alias.split("/")[-1]) or Path(m).name == alias.split("/")[-1]:
                return key
    return None


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or x != x:  # None or NaN
        return "–"
    return f"{100 * x:.{digits}f}"


def ordered(benchmarks: list[str] | Any) -> list[str]:
    known = [b for b in TABLE_ORDER if b in benchmarks]
    return known + sorted(b for b in benchmarks if b not in TABLE_ORDER)


def headline(m: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one benchmark's metrics, as strings for tables."""
    if "avg@n" not in m:
        return {"acc": "–", "stderr": "–", "ci": "–"}
    a = m["avg@n"]
    return {"acc": pct(a["value"]), "stderr": pct(a["stderr"]), "ci": f"[{pct(a['ci95'][0])}, {pct(a['ci95'][1])}]"}


def problems_cell(m: dict[str, Any]) -> str:
    """Problems scored: ``500``, or ``3 of 500`` when fewer than the full benchmark count."""
    got, full = int(m.get("problems", 0)), m.get("benchmark_problems")
    return f"{got} of {full}" if m.get("partial") and full else str(got)


def errors_cell(m: dict[str, Any]) -> str:
    """Failed samples (requests that failed after retries), plus samples never generated."""
    errors, missing = int(m.get("errors", 0)), int(m.get("missing_samples", 0))
    return f"{errors} (+{missing} missing)" if missing else str(errors)


def summary_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """One row per benchmark: name, problems (``3 of 500`` when partial), n, avg@n, ±stderr, 95% CI,
    pass@n, maj@n, no-answer, cap-hit, errors, completion tokens mean/median/p90."""
    rows = []
    for b in ordered(metrics.get("benchmarks", {})):
        m = metrics["benchmarks"][b]
        h = headline(m)
        kmax = str(max((int(k) for k in m.get("pass@k", {})), default=0)) or "–"
        t = m.get("completion_tokens", {})
        toks = f"{t['mean']:.0f}/{t['median']:.0f}/{t['p90']:.0f}" if t else "–"
        incomplete = "" if m.get("complete", True) else " (incomplete)"
        rows.append([
            TITLES.get(b, b) + incomplete, problems_cell(m), str(m.get("n", 0)), h["acc"], h["stderr"], h["ci"],
            pct(m.get("pass@k", {}).get(kmax, {}).get("value")) if kmax != "0" else "–",
            pct(m.get("maj@k", {}).get(kmax, {}).get("value")) if kmax != "0" else "–",
            pct(m.get("no_answer_rate")), pct(m.get("cap_hit_rate")), errors_cell(m), toks,
        ])
    return rows


SUMMARY_HEADER = ["benchmark", "problems", "n", "avg@n %", "± se", "95% CI", "pass@n %", "maj@n %", "no answer %",
                  "cap hit %", "errors", "tokens mean/med/p90"]


COMPACT_HEADER = ["benchmark", "problems", "n", "avg@n % ± se", "95% CI", "pass@n", "maj@n", "no ans", "cap hit", "errors", "tokens"]


def compact_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """``summary_rows`` narrowed for an 80-column terminal (tokens: mean/median/p90)."""
    return [[r[0], r[1], r[2], f"{r[3]} ± {r[4]}", r[5], r[6], r[7], r[8], r[9], r[10], r[11]] for r in summary_rows(metrics)]


def partial_note(metrics: dict[str, Any]) -> str | None:
    """One sentence when any benchmark is partial (its figure is not comparable with full-set figures)."""
    parts = []
    for b in ordered(metrics.get("benchmarks", {})):
        m = metrics["benchmarks"][b]
        if m.get("partial"):
            why = [f"{m[k]} samples {w}" for k, w in (("errors", "failed"), ("missing_samples", "missing")) if m.get(k)]
            extra = f" ({', '.join(why)})" if why else ""
            full = m.get("benchmark_problems")
            parts.append(f"{TITLES.get(b, b)} {m.get('problems', 0)} of {full} problems{extra}" if full else f"{TITLES.get(b, b)}{extra}")
    if not parts:
        return None
    return ("Partial run: " + "; ".join(parts) + ". These figures cover a subset and are not comparable with "
            "full-benchmark results (reported figures included).")


def comparable(m: dict[str, Any] | None) -> bool:
    """Whether a benchmark's figure may stand beside a reported full-set figure."""
    return bool(m) and "avg@n" in m and not m.get("partial") and m.get("complete", True)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(c: str) -> str:
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def protocol_line(config: dict[str, Any]) -> str:
    keys = ("model", "backend", "format", "prompt_style", "prefill", "temperature", "top_p", "max_tokens", "seed")
    return " · ".join(f"{k}={config.get(k)!r}" for k in keys if k in config)


def render_markdown(run: Any) -> str:
    """report.md of one run."""
    m = run.metrics
    parts = [f"# reasonflux eval: {run.label}", "", protocol_line(run.config), ""]
    note = partial_note(m)
    if note:
        parts += [f"**{note}**", ""]
    parts += [md_table(SUMMARY_HEADER, summary_rows(m)), ""]
    parts += ["avg@n is pass@1 estimated as the mean over all samples; the interval is a bootstrap over problems "
              "(1000 resamples, seeded). errors: samples whose request failed after retries (not answers: their "
              "problems are left out of every figure; rerun the same command to retry them).", ""]
    parts += method_report_lines(run)  # hints / navigator settings and fallbacks (evals/methods.py)
    ks_rows = []
    for b in ordered(m.get("benchmarks", {})):
        bm = m["benchmarks"][b]
        for k in sorted(bm.get("pass@k", {}), key=int):
            ks_rows.append([TITLES.get(b, b), k, pct(bm["pass@k"][k]["value"]), pct(bm["maj@k"][k]["value"])])
    if ks_rows:
        parts += ["## pass@k and maj@k", "", md_table(["benchmark", "k", "pass@k %", "maj@k %"], ks_rows), ""]
    for b in ordered(m.get("benchmarks", {})):
        for key, val in m["benchmarks"][b].items():
            if key.startswith("by_"):
                rows = [[g, str(v["problems"]), pct(v["avg@n"])] for g, v in sorted(val.items(), key=lambda kv: _num_first(kv[0]))]
                parts += [f"## {TITLES.get(b, b)} by {key[3:]}", "", md_table([key[3:], "problems", "avg@n %"], rows), ""]
    known = known_model(run.config.get("model"))
    if known:
        rep = REPORTED[known]["scores"]
        row = [f"{known} (reported)"] + [f"{rep[b]:.1f}" if b in rep else "–" for b in ordered(m.get("benchmarks", {}))]
        ours = [run.label] + [headline(m["benchmarks"][b])["acc"] if comparable(m["benchmarks"][b])
                              else f"not comparable ({problems_cell(m['benchmarks'][b])} problems)"
                              for b in ordered(m.get("benchmarks", {}))]
        parts += ["## Beside the reported figures", "", md_table(["run"] + [TITLES.get(b, b) for b in ordered(m["benchmarks"])], [ours, row]),
                  "", f"Reported figures: {REPORTED_SOURCE}.", ""]
    return "\n".join(parts)


def _num_first(s: str) -> tuple[int, Any]:
    try:
        return (0, float(s))
    except ValueError:
        return (1, s)


RUN_NOTE = "README.md"  # in every run directory: what its files hold (and what must stay private)


def run_note(run: Any) -> str:
    """The run directory's README.md: its files, and where raw GPQA-quoting text may be."""
    from reasonflux.evals.redact import REDACT_WORDS

    lines = [f"# reasonflux eval run: {run.label}", "",
             "- `config.yaml`: the resolved settings; `problems.jsonl`: the selected problems (GPQA: ids only, no text)",
             "- `samples.jsonl`: every sample's raw model response, verdict and tokens (a failed request is a line "
             "with `finish_reason: error`; the next run of the same command retries it)",
             "- `metrics.json`, `report.md`, `report.html`: figures computed from samples.jsonl", ""]
    if any(p.get("benchmark") == "gpqa_diamond" for p in run.problems):
        lines += ["GPQA-Diamond: its authors ask that its questions never be published. `samples.jsonl` keeps the raw "
                  "responses unredacted (your own data, needed to rescore), and models often restate the question: "
                  "keep this directory private. `report.md`, `report.html` and the printed tables redact any stretch "
                  f"of model text sharing {REDACT_WORDS} consecutive words with a GPQA question or its choices.", ""]
    return "\n".join(lines)


def write_reports(run: Any) -> None:
    from reasonflux.evals import html, store

    store.write_text(run.path / store.REPORT_MD, render_markdown(run))
    store.write_text(run.path / store.REPORT_HTML, html.render_html(run))
    store.write_text(run.path / RUN_NOTE, run_note(run))


def seed_table(runs: list[Any], *, all_reported: bool = False) -> tuple[list[str], list[list[str]]]:
    """The seed's table: benchmarks as columns, one row per run (avg@n %, ± stderr), and below a run
    of a known model its reported row. ``all_reported`` appends every reported row."""
    benches = ordered({b for r in runs for b in r.metrics.get("benchmarks", {})} | set(TABLE_ORDER))
    header = ["run", "model"] + [TITLES.get(b, b) for b in benches]
    rows: list[list[str]] = []
    shown: set[str] = set()
    for r in runs:
        cells = []
        for b in benches:
            m = r.metrics.get("benchmarks", {}).get(b)
            if not m or "avg@n" not in m:
                cells.append("–")
                continue
            h = headline(m)
            mark = "" if m.get("complete", True) else "*"
            part = f" [{problems_cell(m)}]" if m.get("partial") else ""
            errs = f" ({m['errors']} failed)" if m.get("errors") else ""
            cells.append((f"{h['acc']} ± {h['stderr']}" if m.get("problems", 0) > 1 else h["acc"]) + mark + part + errs)
        rows.append([r.label, method_label(r.config)] + cells)  # model [method]: methods side by side as rows
        known = known_model(r.config.get("model"))
        if known and known not in shown:
            # A partial figure never stands beside the reported one as if comparable: those cells stay empty.
            bms = r.metrics.get("benchmarks", {})
            row = _reported_row(known, benches)
            for j, b in enumerate(benches):
                if b in bms and not comparable(bms[b]):
                    row[2 + j] = "– (run partial)"
            rows.append(row)
            shown.add(known)
    if all_reported:
        rows += [_reported_row(k, benches) for k in REPORTED if k not in shown]
    return header, rows


def _reported_row(key: str, benches: list[str]) -> list[str]:
    rep = REPORTED[key]["scores"]
    return [f"{key} (reported)", ""] + [f"{rep[b]:.1f}" if b in rep else "–" for b in benches]


def compare_runs(a: Any, b: Any) -> list[dict[str, Any]]:
    """Problems (in both runs) whose verdict differs: per problem the fraction of correct samples,
    and the extracted answer of sample 0, for each run."""

    def by_problem(run: Any) -> dict[tuple[str, str], list[dict[str, Any]]]:
        from reasonflux.evals.runner import n_for

        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for s in run.samples:
            if int(s["sample_index"]) < n_for(run.config, s["benchmark"]):
                out.setdefault((s["benchmark"], s["problem_id"]), []).append(s)
        return out

    def answered(groups: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        # a problem with a failed request has no verdict to compare (failures are not answers)
        return {k: v for k, v in groups.items() if not any(is_failure(s) for s in v)}

    pa, pb = answered(by_problem(a)), answered(by_problem(b))
    gold = {(p["benchmark"], p["id"]): p["answer"] for p in a.problems + b.problems}
    diffs = []
    for key in sorted(set(pa) & set(pb)):
        sa = sorted(pa[key], key=lambda s: int(s["sample_index"]))
        sb = sorted(pb[key], key=lambda s: int(s["sample_index"]))
        acc_a = sum(bool(s["correct"]) for s in sa) / len(sa)
        acc_b = sum(bool(s["correct"]) for s in sb) / len(sb)
        if acc_a != acc_b:
            diffs.append({"benchmark": key[0], "problem_id": key[1], "gold": gold.get(key),
                          "a": acc_a, "b": acc_b, "a_answer": sa[0].get("extracted"), "b_answer": sb[0].get("extracted"),
                          "a_samples": len(sa), "b_samples": len(sb)})
    diffs.sort(key=lambda d: (TABLE_ORDER.index(d["benchmark"]) if d["benchmark"] in TABLE_ORDER else 99, d["problem_id"]))
    return diffs
