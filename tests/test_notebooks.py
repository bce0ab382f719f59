"""The notebooks in examples/ run top to bottom on the quick profile (issue 20), each in a fresh
Jupyter kernel, as a user's "Run all" would: a failing cell fails the test. The kernel imports this
checkout's code, writes its store into a temporary folder (NNSTUDY_HOME, and the notebook's working
directory), and never into the repository. Measured on the shared 2-core development machine
(2026-12-06, `pytest -q tests/test_notebooks.py`): the three in 42 s together (week 13.5 s, studies
18.1 s, own data 9.7 s, kernel start-up included); the issue's bound is 3 minutes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CELL_TIMEOUT = 300  # seconds a cell may take: a hung cell fails instead of hanging CI


def kernel_env(store: Path) -> dict:
    """What the kernel runs with: this checkout's code first, the quick profile, a temporary store,
    and Jupyter's inline figures (the tests' own MPLBACKEND=Agg would hide them)."""
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "NNSTUDY_PROFILE": "quick", "NNSTUDY_HOME": str(store), "OMP_NUM_THREADS": "1",
            "PYTHONPATH": path, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@pytest.fixture(scope="module", autouse=True)
def kernel_starts():
    """Skip, saying why, where no Jupyter kernel can start; a failing cell is never a skip."""
    from jupyter_client.manager import start_new_kernel

    try:
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    except Exception as e:  # no ipykernel, no kernelspec, a sandbox that forbids the kernel's sockets
        pytest.skip(f"a Jupyter kernel cannot start here ({type(e).__name__}: {e})")
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def execute(name: str, workdir: Path, store: Path):
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name} is stored with outputs"
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute(env=kernel_env(store))  # raises CellExecutionError, naming the cell, on the first failing one
    return nb


def outputs(cell, kind: str) -> str:
    """Everything a cell showed as `kind` (text/plain, text/html, image/png) or printed (stream)."""
    out = []
    for o in cell.get("outputs", []):
        if kind == "stream" and o.output_type == "stream":
            out.append(o.text)
        elif kind in o.get("data", {}):
            out.append(o.data[kind])
    return "\n".join(out)


def test_week_notebook_reproduces_the_week_then_compares_held_out(isolated_home, tmp_path):
    nb = execute("week.ipynb", tmp_path, isolated_home)
    printed = "\n".join(outputs(c, "stream") for c in nb.cells if c.cell_type == "code")
    lines = re.findall(r"\[EPOCH\]: 999, \[LOSS\]: ([\d.]+), \[ACCURACY\]: ([\d.]+)", printed)
    assert len(lines) == 2
    (lin_loss, lin_acc), (relu_loss, relu_acc) = [(float(a), float(b)) for a, b in lines]
    assert lin_acc == 0.504 and abs(lin_loss - 0.861541) < 2e-6  # what the week printed
    assert abs(relu_acc - 0.949) <= 0.001 and abs(relu_loss - 0.178407) < 1e-5
    images = [c for c in nb.cells if outputs(c, "image/png")]
    assert len(images) >= 4  # the histogram, the data, and both models' decision regions, inline
    table = outputs(nb.cells[-2], "text/html")
    assert table.count("<tr>") == 1 + 4  # a header and the 2x2 {linear, mlp} x {sgd, adam} rows
    assert "±" in table and "test acc" in table


def test_studies_notebook_runs_loads_overlays_and_reruns(isolated_home, tmp_path):
    nb = execute("studies.ipynb", tmp_path, isolated_home)
    shown = "\n".join(outputs(c, "text/html") for c in nb.cells)
    assert "data:image/png;base64," in shown  # the study's figures, inline
    assert "Spiral classification" in shown
    images = sum(bool(outputs(c, "image/png")) for c in nb.cells)
    assert images >= 3  # after the study drew with Agg, the user's inline plots still show (api._keep_backend)
    verdicts = next(outputs(c, "stream") for c in nb.cells if "verdicts()" in c.source)
    assert "matches the week's" in verdicts


def test_own_data_notebook_trains_on_a_folder_an_npz_and_points(isolated_home, tmp_path):
    nb = execute("own-data.ipynb", tmp_path, isolated_home)
    shown = "\n".join(outputs(c, "text/html") for c in nb.cells)
    assert shown.count("complete") >= 3  # the folder baseline, the npz run and the loaded CSV run
    printed = "\n".join(outputs(c, "stream") for c in nb.cells)
    assert "mlp on points:" in shown and "test accuracy" in printed  # the CSV trained as `points:PATH`
    sweep = next(outputs(c, "text/html") for c in nb.cells if "ns.sweep(" in c.source)
    assert sweep.count("<tr>") == 1 + 3  # one row per learning rate
    from nnstudy.store import Store

    stored = Store(isolated_home, readonly=True).runs(study="stripes-lr")
    assert len(stored) == 6  # 3 learning rates x 2 seeds, in the temporary store, not the repository's
