"""report.html renders in headless Chromium (Debian's ``chromium``, installed by ``make test``):
the screenshot is not blank, the summary table and plots are there, the console stays clean, and
nothing is fetched from anywhere (the page's CSP would report it as a console error)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CONSOLE = re.compile(r":CONSOLE[:(\]]")  # how chromium --enable-logging=stderr prints console messages

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it: apt-get install chromium)"),
]


def chromium(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
           "--disable-extensions", f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_dir) -> Path:
    from reasonflux.config import resolve
    from reasonflux.evals.runner import EvalConfig, run

    out = tmp_path_factory.mktemp("html") / "run"
    cfg = resolve(EvalConfig, {"backend": "test_eval_crash:EchoBackend", "model": "echo", "benchmarks": ["aime24", "math500", "gpqa_diamond"],
                               "limit": 6, "n": 4, "temperature": 0.6, "data_dir": str(data_dir), "out": str(out), "quiet": True})
    run(cfg)
    return out / "report.html"


def test_report_renders_in_chromium(report, tmp_path):
    import numpy as np
    from PIL import Image

    html = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # self-contained
    assert "<script" not in html

    # The console check is not vacuous: a page with a console error is caught.
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('planted')</script></body></html>")
    planted = chromium(tmp_path, bad.as_uri(), "--dump-dom")
    assert any("planted" in line for line in console_lines(planted.stderr)), planted.stderr[-1500:]

    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, report.as_uri(), f"--screenshot={shot}", "--window-size=1280,1800", "--hide-scrollbars")
    assert r.returncode == 0 and shot.exists(), r.stderr[-1500:]
    assert console_lines(r.stderr) == []
    pixels = [tuple(p) for p in np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)[::7].tolist()]
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert ink > 0.02, f"screenshot looks blank ({ink:.3%} non-white)"
    assert len(set(pixels)) > 50  # text, tables and plots, not one flat colour
    colour = sum(1 for p in pixels if max(p) - min(p) > 80) / len(pixels)
    assert colour > 0.002  # the plots' coloured bars and lines are drawn

    dom = chromium(tmp_path, report.as_uri(), "--dump-dom")
    assert dom.returncode == 0 and console_lines(dom.stderr) == []
    out = dom.stdout
    assert "<table" in out and "avg@n %" in out and "95% CI" in out
    assert out.count("<svg") >= 7  # accuracy + length plots per benchmark, and the rate bars
    assert out.count("<details") >= 18 and "reasoning (" in out  # drill-down with folded reasoning
    assert "question text withheld" in out  # GPQA problems show ids only
