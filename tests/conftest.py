import os
import subprocess
import sys

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No test writes into ./runs or the user's cache."""
    monkeypatch.setenv("NNSTUDY_HOME", str(tmp_path / "runs"))
    monkeypatch.setenv("NNSTUDY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path / "runs"


def run_cli(*args, env=None, timeout=300):
    """`python -m nnstudy ARGS` in a subprocess: (returncode, stdout, stderr)."""
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([sys.executable, "-m", "nnstudy", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr
