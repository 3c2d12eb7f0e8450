"""report.html: one self-contained page per run (no network, no JavaScript, inline SVG we draw here).

Sections: the summary table with intervals; plots — accuracy vs number of samples (pass@k and maj@k
from the sample pool), completion-length histograms split by correct/incorrect, cap-hit and
no-answer rates; a per-problem drill-down where each shown response folds its reasoning in
``<details>``. Long responses are cut in the middle and only the first few samples of a problem are
shown (constants below) so that a 64-sample run stays a page a browser opens. Model (and server)
text passes through :mod:`reasonflux.evals.redact`: 8-word stretches copied from GPQA are masked.

    python -c "from reasonflux.evals import store, html; print(len(html.render_html(store.load_run('runs/demo'))))"
"""

from __future__ import annotations

import html as _html
import math
from typing import Any

from reasonflux.evals.report import SUMMARY_HEADER, TITLES, _num_first, ordered, partial_note, pct, protocol_line, summary_rows
from reasonflux.evals.store import is_failure

HTML_SAMPLES_PER_PROBLEM = 4
HTML_MAX_CHARS = 12000  # per response part; the middle of longer texts is cut
HIST_BINS = 20
# Nothing may load from anywhere: a fetch the page tried would show as a console error.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
PLOT_W, PLOT_H = 440, 260
MARGIN = {"l": 48, "r": 12, "t": 28, "b": 40}
COLORS = {"correct": "#2e7d32", "incorrect": "#c62828", "pass": "#1565c0", "maj": "#ef6c00",
          "cap": "#6a1b9a", "none": "#757575", "axis": "#444", "grid": "#ddd"}
WITHHELD = ("question text withheld: GPQA's authors ask that its questions never appear in published pages; "
            "the record id identifies it")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f3f3}
.protocol{color:#555;font-family:ui-monospace,monospace;font-size:.85em}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plots figure{margin:0;border:1px solid #eee;padding:6px}
figcaption{font-size:.85em;color:#444;text-align:center}
details{margin:3px 0}summary{cursor:pointer}
.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
.chip{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:2px;vertical-align:middle}
.chip.ok{background:#2e7d32}.chip.bad{background:#c62828}.chip.err{background:#9e9e9e}
pre{white-space:pre-wrap;word-wrap:break-word;background:#fafafa;border:1px solid #eee;padding:8px;font-size:.85em;max-height:520px;overflow:auto}
.sample{border-left:3px solid #ddd;padding-left:10px;margin:8px 0}.note{background:#fff8e1;border:1px solid #ffe082;padding:8px}
.muted{color:#777}
"""


def esc(x: Any) -> str:
    return _html.escape(str(x), quote=True)


def clip(text: str, limit: int = HTML_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}\n\n[… {len(text) - head - tail:,} characters omitted …]\n\n{text[-tail:]}"


# ---- SVG plots -------------------------------------------------------------------------------------------------

def _frame(title: str, xlabel: str, ylabel: str, body: list[str], xticks: list[tuple[float, str]],
           yticks: list[tuple[float, str]], legend: list[tuple[str, str]]) -> str:
    x0, y0 = MARGIN["l"], PLOT_H - MARGIN["b"]
    x1, y1 = PLOT_W - MARGIN["r"], MARGIN["t"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{PLOT_W}" height="{PLOT_H}" viewBox="0 0 {PLOT_W} {PLOT_H}" role="img">',
           f'<title>{esc(title)}</title>',
           f'<text x="{PLOT_W / 2:.0f}" y="16" text-anchor="middle" font-size="13" font-weight="600">{esc(title)}</text>']
    for py, label in yticks:
        out.append(f'<line x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" stroke="{COLORS["grid"]}"/>')
        out.append(f'<text x="{x0 - 4}" y="{py + 4:.1f}" text-anchor="end" font-size="10">{esc(label)}</text>')
    for px, label in xticks:
        out.append(f'<text x="{px:.1f}" y="{y0 + 14}" text-anchor="middle" font-size="10">{esc(label)}</text>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="{COLORS["axis"]}"/>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="{COLORS["axis"]}"/>')
    out += body
    out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{PLOT_H - 6}" text-anchor="middle" font-size="11">{esc(xlabel)}</text>')
    out.append(f'<text x="12" y="{(y0 + y1) / 2:.0f}" text-anchor="middle" font-size="11" transform="rotate(-90 12 {(y0 + y1) / 2:.0f})">{esc(ylabel)}</text>')
    for i, (label, color) in enumerate(legend):
        lx, ly = x0 + 8 + i * 110, y1 + 8
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly + 1}" font-size="10">{esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _yticks(ymax: float, as_pct: bool) -> list[tuple[float, str]]:
    y0, y1 = PLOT_H - MARGIN["b"], MARGIN["t"] + 16
    ticks = []
    for i in range(5):
        v = ymax * i / 4
        ticks.append((y0 - (y0 - y1) * i / 4, f"{100 * v:.0f}%" if as_pct else f"{v:.0f}"))
    return ticks


def accuracy_plot(title: str, bm: dict[str, Any]) -> str:
    """pass@k and maj@k against k (log2 axis)."""
    ks = sorted(int(k) for k in bm.get("pass@k", {}))
    if not ks:
        return ""
    x0, x1 = MARGIN["l"] + 16, PLOT_W - MARGIN["r"] - 16
    y0, y1 = PLOT_H - MARGIN["b"], MARGIN["t"] + 16
    span = max(1.0, math.log2(ks[-1]))

    def px(k: int) -> float:
        return x0 + (x1 - x0) * (math.log2(k) / span if ks[-1] > 1 else 0.5)

    def py(v: float) -> float:
        return y0 - (y0 - y1) * v

    body = []
    for key, color in (("pass@k", COLORS["pass"]), ("maj@k", COLORS["maj"])):
        pts = [(px(k), py(bm[key][str(k)]["value"])) for k in ks]
        if len(pts) > 1:
            body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
        for (a, b), k in zip(pts, ks):
            body.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"><title>{key.replace("k", str(k))}: '
                        f'{pct(bm[key][str(k)]["value"])}%</title></circle>')
    return _frame(title, "samples per problem (k)", "accuracy", body, [(px(k), str(k)) for k in ks], _yticks(1.0, True),
                  [("pass@k", COLORS["pass"]), ("maj@k", COLORS["maj"])])


def length_histogram(title: str, samples: list[dict[str, Any]]) -> str:
    """Completion tokens, correct and incorrect samples as side-by-side bars per bin."""
    if not samples:
        return ""
    toks = [int(s.get("completion_tokens", 0)) for s in samples]
    top = max(max(toks), 1)
    width = max(1, math.ceil(top / HIST_BINS))
    bins = {"correct": [0] * HIST_BINS, "incorrect": [0] * HIST_BINS}
    for s, t in zip(samples, toks):
        bins["correct" if s.get("correct") else "incorrect"][min(HIST_BINS - 1, t // width)] += 1
    ymax = max(max(bins["correct"]), max(bins["incorrect"]), 1)
    step = count_step(ymax)
    top = step * math.ceil(ymax / step)  # the y axis ends on an integer tick
    x0, x1 = MARGIN["l"], PLOT_W - MARGIN["r"]
    y0, y1 = PLOT_H - MARGIN["b"], MARGIN["t"] + 16
    bw = (x1 - x0) / HIST_BINS
    body = []
    for i in range(HIST_BINS):
        for j, key in enumerate(("correct", "incorrect")):
            c = bins[key][i]
            if not c:
                continue
            h = (y0 - y1) * c / top
            body.append(f'<rect x="{x0 + i * bw + j * bw / 2 + 0.5:.1f}" y="{y0 - h:.1f}" width="{bw / 2 - 1:.1f}" height="{h:.1f}" '
                        f'fill="{COLORS[key]}"><title>{key}: {c} samples with {i * width}-{(i + 1) * width - 1} tokens</title></rect>')
    xticks = [(x0 + i * bw, f"{i * width}") for i in range(0, HIST_BINS + 1, 5)]
    yticks = [(y0 - (y0 - y1) * v / top, str(v)) for v in range(0, top + 1, step)]
    return _frame(title, "completion tokens", "samples", body, xticks, yticks,
                  [("correct", COLORS["correct"]), ("incorrect", COLORS["incorrect"])])


def count_step(ymax: int, most: int = 5) -> int:
    """Tick spacing for a count axis from 0 to ``ymax``: an integer 1, 2, 5, 10, 20, 50 … giving at
    most ``most`` intervals, so labels are distinct integers (never 0, 0, 1, 2, 2)."""
    step, k = 1, 0
    while math.ceil(max(1, ymax) / step) > most:
        k += 1
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
    return step


def rate_bars(metrics: dict[str, Any]) -> str:
    """Cap-hit (truncation) and no-answer rate per benchmark."""
    benches = ordered(metrics.get("benchmarks", {}))
    benches = [b for b in benches if "cap_hit_rate" in metrics["benchmarks"][b]]
    if not benches:
        return ""
    x0, x1 = MARGIN["l"], PLOT_W - MARGIN["r"]
    y0, y1 = PLOT_H - MARGIN["b"], MARGIN["t"] + 16
    gw = (x1 - x0) / len(benches)
    body = []
    for i, b in enumerate(benches):
        m = metrics["benchmarks"][b]
        for j, (key, color, label) in enumerate((("cap_hit_rate", COLORS["cap"], "cap hit"), ("no_answer_rate", COLORS["none"], "no answer"))):
            v = float(m.get(key, 0.0))
            h = (y0 - y1) * v
            x = x0 + i * gw + gw * 0.15 + j * gw * 0.35
            body.append(f'<rect x="{x:.1f}" y="{y0 - h:.1f}" width="{gw * 0.33:.1f}" height="{h:.1f}" fill="{color}">'
                        f'<title>{esc(TITLES.get(b, b))} {label}: {pct(v)}%</title></rect>')
    xticks = [(x0 + (i + 0.5) * gw, TITLES.get(b, b)) for i, b in enumerate(benches)]
    return _frame("cap-hit and no-answer rate", "benchmark", "share of samples", body, xticks, _yticks(1.0, True),
                  [("cap hit", COLORS["cap"]), ("no answer", COLORS["none"])])


# ---- page ------------------------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _sample_html(s: dict[str, Any], redactor: Any = None) -> str:
    from reasonflux.chat import split_completion

    gpqa = s.get("benchmark") == "gpqa_diamond"

    def shown(text: Any) -> Any:  # model (and server) text as a report may show it: GPQA runs redacted
        return redactor.text(None if text is None else str(text), gpqa=gpqa) if redactor is not None else text

    sp = split_completion(s.get("text") or "", s.get("reasoning"), prefilled=bool(s.get("prefilled")))
    verdict = '<span class="ok">correct</span>' if s.get("correct") else '<span class="bad">incorrect</span>'
    if is_failure(s):
        verdict = '<span class="bad">failed (not an answer; retried on rerun)</span>'
    head = (f'<div class="sample"><div>sample {int(s["sample_index"])}: {verdict} · extracted '
            f'<code>{esc(shown(s.get("extracted")))}</code> · {esc(s.get("reason"))} · finish {esc(s.get("finish_reason"))} · '
            f'{int(s.get("completion_tokens", 0))} tokens</div>')
    parts = [head]
    if s.get("error"):
        parts.append(f'<pre>{esc(clip(shown(str(s["error"]))))}</pre>')
    reasoning = shown(sp.reasoning)
    if reasoning:
        parts.append(f'<details><summary>reasoning ({len(reasoning):,} characters)</summary><pre>{esc(clip(reasoning))}</pre></details>')
    if sp.answer is None:
        parts.append('<div class="muted">(no answer: the reasoning never closed)</div>')
    else:
        parts.append(f'<pre>{esc(clip(shown(sp.answer)))}</pre>')
    parts.append("</div>")
    return "".join(parts)


def _drilldown(b: str, problems: list[dict[str, Any]], samples: list[dict[str, Any]], n: int, redactor: Any = None) -> str:
    by: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        if s["benchmark"] == b and int(s["sample_index"]) < n:
            by.setdefault(s["problem_id"], []).append(s)
    out = []
    for p in problems:
        ss = sorted(by.get(p["id"], []), key=lambda s: int(s["sample_index"]))
        c = sum(bool(s.get("correct")) for s in ss)
        chips = "".join(f'<span class="chip {"err" if is_failure(s) else "ok" if s.get("correct") else "bad"}"></span>'
                        for s in ss[:64])
        meta = " · ".join(f"{k} {v}" for k, v in p.get("meta", {}).items() if k not in ("choices",))
        summary = f'{chips} <b>{esc(p["id"])}</b> · gold <code>{esc(p["answer"])}</code> · {c}/{len(ss)} correct' + (f' · <span class="muted">{esc(meta)}</span>' if meta else "")
        body = [f'<pre>{esc(clip(p["problem"]))}</pre>' if "problem" in p else f'<div class="muted">{esc(WITHHELD)}</div>']
        body += [_sample_html(s, redactor) for s in ss[:HTML_SAMPLES_PER_PROBLEM]]
        if len(ss) > HTML_SAMPLES_PER_PROBLEM:
            body.append(f'<div class="muted">{len(ss) - HTML_SAMPLES_PER_PROBLEM} more samples in samples.jsonl</div>')
        out.append(f"<details><summary>{summary}</summary>{''.join(body)}</details>")
    return "".join(out)


def render_html(run: Any) -> str:
    from reasonflux.evals.runner import n_for

    from reasonflux.evals.redact import REDACT_WORDS, for_run

    m = run.metrics
    benches = ordered(m.get("benchmarks", {}))
    redactor = for_run(run)
    sections = [f"<h1>reasonflux eval: {esc(run.label)}</h1>", f'<p class="protocol">{esc(protocol_line(run.config))}</p>']
    note = partial_note(m)
    if note:
        sections.append(f'<p class="note"><b>{esc(note)}</b></p>')
    if "gpqa_diamond" in benches:
        sections.append(f'<p class="note">Model text shown here that shares {REDACT_WORDS} consecutive words with a GPQA-Diamond '
                        'question or its choices is redacted (GPQA asks that its questions never be published); '
                        'samples.jsonl keeps the raw responses: keep it private.</p>')
    sections += ["<h2>Summary</h2>", _table(SUMMARY_HEADER, summary_rows(m)),
                 '<p class="muted">avg@n = pass@1 as the mean over all samples; ± standard error and 95% bootstrap interval over problems.</p>']
    plots = []
    for b in benches:
        bm = m["benchmarks"][b]
        title = TITLES.get(b, b)
        acc = accuracy_plot(f"{title}: accuracy vs samples", bm)
        if acc:
            plots.append(f"<figure>{acc}<figcaption>{esc(title)}: pass@k and maj@k from the pool of {bm.get('n')} samples per problem</figcaption></figure>")
        pool = [s for s in run.samples if s["benchmark"] == b and int(s["sample_index"]) < n_for(run.config, b)]
        hist = length_histogram(f"{title}: completion length", pool)
        if hist:
            plots.append(f"<figure>{hist}<figcaption>{esc(title)}: completion tokens, correct vs incorrect</figcaption></figure>")
    bars = rate_bars(m)
    if bars:
        plots.append(f"<figure>{bars}<figcaption>truncated at max_tokens (cap hit) and without an extractable answer</figcaption></figure>")
    sections += ["<h2>Plots</h2>", f'<div class="plots">{"".join(plots)}</div>']
    for b in benches:
        for key, val in m["benchmarks"][b].items():
            if key.startswith("by_"):
                rows = [[g, str(v["problems"]), pct(v["avg@n"])] for g, v in sorted(val.items(), key=lambda kv: _num_first(kv[0]))]
                sections += [f"<h2>{esc(TITLES.get(b, b))} by {esc(key[3:])}</h2>", _table([key[3:], "problems", "avg@n %"], rows)]
    sections.append("<h2>Problems</h2>")
    for b in benches:
        probs = [p for p in run.problems if p["benchmark"] == b]
        sections.append(f"<h3>{esc(TITLES.get(b, b))} ({len(probs)} problems)</h3>")
        sections.append(_drilldown(b, probs, run.samples, n_for(run.config, b), redactor))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
            f"<title>reasonflux eval: {esc(run.label)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(sections)}</body></html>\n")
