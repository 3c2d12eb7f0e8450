"""Fast failure classes of the real-engine plumbing (no engine is loaded here):

- the openai backend's start-up probe: nothing listening → one line naming the URL within ~10 s;
  a server that answers anything (even 404 on /models) is up; the probe runs once per backend;
- the GGUF → HF export used by vLLM on CPU: a non-GGUF model passes through untouched, a broken GGUF
  file is one line, an unwritable cache is one line naming REASONFLUX_CACHE, and a finished export is
  reused without rebuilding.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from reasonflux.errors import UserError
from reasonflux.models import ModelRef
from reasonflux.types import Request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_nothing_listening_is_one_line_fast():
    from reasonflux.backends.openai_api import OpenAIBackend

    port = _free_port()
    b = OpenAIBackend(base_url=f"http://127.0.0.1:{port}/v1", max_retries=6)
    t0 = time.monotonic()
    with pytest.raises(UserError) as e:
        b.generate([Request([{"role": "user", "content": "hi"}])])
    took = time.monotonic() - t0
    msg = str(e.value)
    assert took < 10.5 and "\n" not in msg
    assert f"http://127.0.0.1:{port}/v1" in msg and "no server answers" in msg and "--base-url" in msg


def test_probe_short_deadline_and_unknown_host():
    from reasonflux.backends.openai_api import OpenAIBackend

    b = OpenAIBackend(base_url="http://nonexistent.invalid:8000/v1")
    t0 = time.monotonic()
    with pytest.raises(UserError, match="nonexistent.invalid"):
        b.probe(deadline_s=2.0)
    assert time.monotonic() - t0 < 5


class _Any404(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        self.send_response(404)
        self.end_headers()

    def log_message(self, *a):  # quiet
        pass


def test_probe_any_http_answer_is_up_and_probes_once():
    from reasonflux.backends.openai_api import OpenAIBackend

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Any404)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        b = OpenAIBackend(base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", model="m")
        b.probe()
        b.probe()
        assert _Any404.hits == 1
    finally:
        srv.shutdown()


def test_export_passes_plain_directories_through(tmp_path):
    from reasonflux.backends.gguf_export import hf_dir_for

    assert hf_dir_for(ModelRef(str(tmp_path), None, "m")) == str(tmp_path)


def test_export_broken_gguf_is_one_line(tmp_path, monkeypatch):
    from reasonflux.backends.gguf_export import hf_dir_for

    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    (tmp_path / "bad.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(UserError, match="cannot read GGUF model .*bad.gguf") as e:
        hf_dir_for(ModelRef(str(tmp_path), "bad.gguf", "bad"), quiet=True)
    assert "\n" not in str(e.value)
    assert not any(p.name.startswith(".hf-") for p in (tmp_path / "cache").iterdir())  # no half-written export left


def test_export_unwritable_cache_names_the_variable(tmp_path, monkeypatch):
    from reasonflux.backends.gguf_export import hf_dir_for

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("REASONFLUX_CACHE", str(blocker / "sub"))
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(UserError, match="REASONFLUX_CACHE"):
        hf_dir_for(ModelRef(str(tmp_path), "m.gguf", "m"), quiet=True)


def test_finished_export_is_reused(tmp_path, monkeypatch):
    from reasonflux.backends import gguf_export

    monkeypatch.setenv("REASONFLUX_CACHE", str(tmp_path / "cache"))
    (tmp_path / "m.gguf").write_bytes(b"GGUF1234")
    calls = []

    def fake_export(src: Path, out: Path) -> None:
        calls.append(src)
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(gguf_export, "_export", fake_export)
    ref = ModelRef(str(tmp_path), "m.gguf", "m")
    d1 = gguf_export.hf_dir_for(ref, quiet=True)
    d2 = gguf_export.hf_dir_for(ref, quiet=True)
    assert d1 == d2 and len(calls) == 1 and (Path(d1) / "config.json").is_file()
    assert Path(d1).name == "hf-m-8" and Path(d1).parent == tmp_path / "cache"
