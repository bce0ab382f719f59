import json
import os
import subprocess
import sys

import pytest
import torch

# Tests check behaviour, not speed, on tiny models: one CPU thread, here and in subprocesses. On a
# shared 2-core machine a second OpenMP thread cost 7-80x per step under load (measured in several
# studies' development); on an idle machine it gains little for nets this small.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


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


@pytest.fixture(scope="session")
def quick_all(tmp_path_factory):
    """The main job at the quick profile, run once per session: (store, its --json summary, env).
    test_studies_quick.py checks what it wrote; test_quick_numbers.py compares its numbers."""
    from nnstudy.store import Store

    root = tmp_path_factory.mktemp("all-quick")
    env = {"NNSTUDY_CACHE": str(root / "cache"), "MPLBACKEND": "Agg"}
    rc, out, err = run_cli("all", "--profile", "quick", "--device", "cpu", "--json", "--out", root / "runs",
                           env=env, timeout=1800)
    assert rc == 0, err[-3000:]
    return Store(root / "runs"), json.loads(out), env
