"""The package imports light and the CLI answers --help without torch."""

import subprocess
import sys


def test_import_is_light():
    code = "import reasonflux, reasonflux.cli, sys; bad=[m for m in ('torch','transformers','vllm','ray') if m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_is_light():
    code = (
        "import sys, runpy; sys.argv=['reasonflux','--help']\n"
        "try:\n    runpy.run_module('reasonflux.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "bad=[m for m in ('torch','transformers','vllm','ray') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "solve" in out.stdout


def test_unknown_config_key_is_an_error(tmp_path):
    import pytest

    from reasonflux.commands.solve import SolveConfig
    from reasonflux.config import ConfigError, resolve

    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        resolve(SolveConfig, {"nope": 1})
    cfg = resolve(SolveConfig, {"temperature": 0.5}, {"temperature": "0.7", "n": None})
    assert cfg.temperature == 0.7 and cfg.n == 1
