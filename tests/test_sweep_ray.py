"""`nnstudy sweep --engine ray`: the same runs and numbers as the local pool, one writer, faults.

Ray is started once for the module (ray.init(num_cpus=2)) and shut down at its end; the last test
replaces it with a simulated two-node cluster (ray.cluster_utils) and removes a node mid-sweep. The
first tests need no Ray running: a missing install and an unreachable head are one line, exit 2.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch

from nnstudy.cli import main
from nnstudy.experiment import load_weights
from nnstudy.store import Store
from nnstudy.sweep import expand_grid, run_sweep

ray = pytest.importorskip("ray", reason="the Ray engine's tests need ray: pip install 'nnstudy[ray]'")

RTOL, ATOL, W_ATOL = 1e-4, 1e-5, 1e-4  # the batched trainer's stated tolerances (tests/test_batched.py)
TINY = {"dataset": "spiral", "n_per_class": "30", "width": "8", "device": "cpu", "threads": "1"}
CLI_TINY = ["--dataset", "spiral", "--n-per-class", "30", "--width", "8", "--device", "cpu", "--threads", "1"]


def one_line_exit_2(rc: int, err: str) -> str:
    assert rc == 2 and err.startswith("nnstudy: error:") and err.count("\n") == 1, err
    return err


# -- without a Ray running ---------------------------------------------------------------------------
def test_ray_missing_is_one_line_naming_the_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as without the install
    rc = main(["sweep", *CLI_TINY, "--steps", "2", "--engine", "ray", "--out", str(tmp_path)])
    err = one_line_exit_2(rc, capsys.readouterr().err)
    assert "needs Ray" in err and "pip install 'nnstudy[ray]'" in err
    assert Store(tmp_path).runs() == []


def test_an_unreachable_head_is_one_line_naming_the_fix(capsys, tmp_path):
    assert not ray.is_initialized()
    t0 = time.perf_counter()
    rc = main(["sweep", *CLI_TINY, "--steps", "2", "--engine", "ray", "--address", "127.0.0.1:9",
               "--out", str(tmp_path)])
    err = one_line_exit_2(rc, capsys.readouterr().err)
    assert "cannot reach a Ray cluster at '127.0.0.1:9'" in err and "ray start --head" in err
    assert time.perf_counter() - t0 < 30 and not ray.is_initialized()
    assert Store(tmp_path).runs() == []


@pytest.mark.parametrize("argv, says", [
    (["--engine", "ray", "--jobs", "2"], "on Ray the cluster's CPUs decide"),
    (["--address", "10.0.0.5:6379"], "add --engine ray"),
    (["--engine", "ray", "--address", "nowhere"], "is not HOST:PORT"),
])
def test_engine_flags_that_do_not_fit(argv, says, capsys, tmp_path):
    rc = main(["sweep", *CLI_TINY, "--steps", "2", *argv, "--out", str(tmp_path)])
    assert says in one_line_exit_2(rc, capsys.readouterr().err)


# -- a local Ray, once for the module --------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def finals(home, study: str) -> dict[str, dict]:
    store = Store(home, readonly=True)
    return {r["digest"]: r for r in store.runs(study=study, kind="train")}


def test_a_grid_on_ray_records_each_config_once_with_the_local_pools_numbers(local_ray, tmp_path):
    cfgs = expand_grid({**TINY, "optimizer": "sgd,adam", "lr": "1e-2,1e-1,0.5", "seed": "0..1", "steps": "30"})
    assert len(cfgs) == 12  # 2 x 3 x 2
    on_ray = run_sweep(cfgs, tmp_path / "ray", study="grid", engine="ray", log=None)
    local = run_sweep(cfgs, tmp_path / "local", study="grid", log=None)
    assert on_ray["runs"] == 12 and len(on_ray["run_ids"]) == len(set(on_ray["run_ids"])) == 12
    ray_runs, local_runs = finals(tmp_path / "ray", "grid"), finals(tmp_path / "local", "grid")
    assert ray_runs.keys() == local_runs.keys() == {c.digest() for c in cfgs}  # every config once
    store, local_store = Store(tmp_path / "ray", readonly=True), Store(tmp_path / "local", readonly=True)
    for digest, r in ray_runs.items():
        mine, theirs = r["summary"], local_runs[digest]["summary"]
        assert r["status"] == "complete" and mine["batched"]["models"] == 6
        assert r["env"]["worker_pid"] != r["pid"] and "ray_node" in r["env"]  # trained by a Ray worker, written here
        for key, v in theirs["final"].items():
            assert mine["final"][key] == pytest.approx(v, rel=RTOL, abs=ATOL), key
        a, b = store.metrics(r["id"]), local_store.metrics(local_runs[digest]["id"])
        assert [x[:3] for x in a] == [x[:3] for x in b]
        torch.testing.assert_close(torch.tensor([x[3] for x in a]), torch.tensor([x[3] for x in b]),
                                   rtol=RTOL, atol=ATOL)
        wa, wb = load_weights(store, r["id"]), load_weights(local_store, local_runs[digest]["id"])
        assert wa.keys() == wb.keys() and all((wa[k] - wb[k]).abs().max() <= W_ATOL for k in wa)
    for row_ray, row_local in zip(on_ray["table"], local["table"]):
        assert row_ray["n"] == row_local["n"] == 2
        assert row_ray["test acc"]["mean"] == pytest.approx(row_local["test acc"]["mean"], rel=RTOL, abs=ATOL)
    assert store.check() == []


def test_ctrl_c_cancels_the_tasks_and_marks_their_runs(local_ray, tmp_path):
    """SIGINT to a `nnstudy sweep --engine ray --address` process joined to the module's Ray."""
    cmd = [sys.executable, "-m", "nnstudy", "sweep", *CLI_TINY, "--steps", "200000", "--optimizer", "sgd,adam",
           "--seeds", "0..1", "--engine", "ray", "--address", local_ray, "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ray.available_resources().get("CPU", 0) > 0:
            time.sleep(0.2)  # both tasks hold their CPU: they are training
        assert ray.available_resources().get("CPU", 0) == 0, "the sweep's tasks never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "nnstudy: interrupted", err
    assert out == ""
    runs = Store(tmp_path, readonly=True).runs()
    assert len(runs) == 4 and {r["status"] for r in runs} == {"failed"}
    assert all("interrupted (Ctrl-C)" in r["error"] for r in runs)
    deadline = time.monotonic() + 30  # the cancelled tasks' workers are gone: their CPUs are free again
    while time.monotonic() < deadline and ray.available_resources().get("CPU", 0) < 2:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


# -- a simulated cluster; last, since it replaces the module's Ray --------------------------------------
def test_a_node_removed_mid_sweep_loses_no_run(tmp_path):
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the module's local Ray, if a test above started it
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})  # the head only schedules
    try:
        doomed = cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        doomed_id = doomed.node_id
        # dropout trains solo: six tasks, one CPU; when the first is written the second is training
        cfgs = expand_grid({**TINY, "dropout": "0.1", "seed": "0..5", "steps": "2000"})
        moved: list[str] = []

        def log(msg: str) -> None:
            if "1/6 runs done" in msg and not moved:  # its one CPU has the next task now: kill it, then
                cluster.remove_node(doomed)  # give the cluster a fresh node for what is left
                moved.append(cluster.add_node(num_cpus=1).node_id)

        summary = run_sweep(cfgs, tmp_path, study="nodes", engine="ray", log=log)
        assert moved and summary["runs"] == 6
        store = Store(tmp_path, readonly=True)
        runs = store.runs(study="nodes")
        assert len(runs) == 6 and {r["status"] for r in runs} == {"complete"}
        assert sorted(r["id"] for r in runs) == sorted(summary["run_ids"])
        nodes = [r["env"]["ray_node"] for r in runs]
        assert nodes.count(doomed_id) == 1 and nodes.count(moved[0]) == 5  # the rest, retried one included
        for r in runs:  # each recorded once: one train record per step, one final evaluation per split
            steps = [m[0] for m in store.metrics(r["id"], "train", "loss")]
            assert steps == list(range(2000)) + [2000]
        assert store.check() == []
    finally:
        ray.shutdown()
        cluster.shutdown()
