"""`nnstudy sweep`: grid syntax and its errors, the product of configs, one stored run per config,
the summary table and --json, and groups of different shapes in worker processes."""

from __future__ import annotations

import json
import os
import statistics

import pytest
import torch

from nnstudy.cli import main
from nnstudy.errors import UsageError
from nnstudy.store import Store
from nnstudy.sweep import expand_grid, parse_values, run_sweep

TINY = ["--dataset", "spiral", "--n-per-class", "30", "--width", "8", "--device", "cpu", "--threads", "1"]


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_lists_ranges_and_log_ranges():
    assert parse_values("lr", "1e-3,1e-2") == ["1e-3", "1e-2"]
    assert parse_values("seed", "0..3") == [0, 1, 2, 3]
    assert parse_values("seed", "7") == ["7"]
    assert parse_values("lr", "1e-4:1e-1:4") == [1e-4, 1e-3, 1e-2, 1e-1]
    assert parse_values("lr", "1e-4:1e-2:3, 0.5") == [1e-4, 1e-3, 1e-2, "0.5"]
    assert parse_values("lr", "0.1:0.1:1") == [0.1]
    assert parse_values("width", "16:256:5") == [16, 32, 64, 128, 256]
    assert parse_values("dataset", "npz:/data/a.npz") == ["npz:/data/a.npz"]  # a colon in a string stays
    assert parse_values("nesterov", "true,false") == ["true", "false"]


def test_the_product_is_validated_and_ordered():
    cfgs = expand_grid({"seed": "0..2", "lr": "0.1,0.01", "optimizer": "sgd", "steps": "5"})
    assert [(c.seed, c.lr) for c in cfgs] == [(s, lr) for s in range(3) for lr in (0.1, 0.01)]
    assert all(c.optimizer == "sgd" and c.steps == 5 for c in cfgs)
    assert len(expand_grid({"lr": "0.1,0.1,1e-1"})) == 1  # the same config once


@pytest.mark.parametrize("argv, says", [
    (["--wdith", "8"], "unrecognized arguments: --wdith"),
    (["--seeds", "5..3"], "empty range"),
    (["--lr", "1e-4:1e-1:0"], "empty range"),
    (["--lr", "abc"], "lr='abc' is not a float"),
    (["--lr", "-1"], "lr=-1.0 is out of range; valid: a finite number > 0"),
    (["--optimizer", "adam,sgdd"], "optimizer='sgdd' is not valid"),
    (["--width", "1..x"], "two integers"),
    (["--lr", "0:1:3"], "LO > 0"),
    (["--lr", "1,,2"], "empty value"),
    (["--seeds", "0..1", "--seed", "3"], "not both"),
    (["--jobs", "0"], "at least 1 worker"),
])
def test_bad_grids_are_one_line_errors_with_exit_2(argv, says, capsys, tmp_path):
    rc = main(["sweep", *TINY, "--steps", "2", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert says in err and err.startswith("nnstudy: error:") and err.count("\n") == 1, err


def test_unknown_field_through_the_library():
    with pytest.raises(UsageError, match=r"unknown field 'wdith' \(did you mean 'width'\?\)"):
        expand_grid({"wdith": "1,2"})


def test_one_run_per_config_a_table_and_one_json_object(tmp_path, capsys):
    rc = main(["sweep", *TINY, "--steps", "20", "--seeds", "0..2", "--lr", "1e-2,1e-1", "--optimizer", "sgd,adam",
               "--json", "--out", str(tmp_path), "--name", "grid"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is exactly one JSON object
    assert rc == 0 and summary["runs"] == 12 and "12/12 runs done" in captured.err
    assert sorted(g["size"] for g in summary["groups"]) == [6, 6] and all(g["batched"] for g in summary["groups"])
    store = Store(tmp_path)
    rows = store.runs(study="grid", kind="train")
    assert len(rows) == 12 and {r["status"] for r in rows} == {"complete"}
    assert len({r["digest"] for r in rows}) == 12 and sorted(r["id"] for r in rows) == sorted(summary["run_ids"])
    assert summary["varying"] == ["optimizer", "lr", "seed"]
    assert len(summary["table"]) == 4
    for row in summary["table"]:
        mine = [r["summary"]["final"]["test_acc"] for r in rows
                if r["config"]["optimizer"] == row["optimizer"] and r["config"]["lr"] == row["lr"]]
        assert row["n"] == 3 and row["diverged"] == 0
        assert row["test acc"]["mean"] == pytest.approx(statistics.fmean(mine))
        assert row["test acc"]["std"] == pytest.approx(statistics.stdev(mine))


def test_groups_of_different_shapes_run_in_worker_processes(tmp_path):
    cfgs = expand_grid({"dataset": "spiral", "n_per_class": "30", "width": "8,16", "steps": "15", "seed": "0..1",
                        "device": "cpu", "threads": "1"})
    pooled = run_sweep(cfgs, tmp_path / "pool", study="pool", jobs=2, log=None)
    alone = run_sweep(cfgs, tmp_path / "alone", study="alone", jobs=1, log=None)
    assert len(pooled["groups"]) == 2
    runs = Store(tmp_path / "pool").runs(study="pool", kind="train")
    assert len(runs) == 4 and {r["status"] for r in runs} == {"complete"}
    assert {r["env"]["worker_pid"] for r in runs}.isdisjoint({os.getpid()})  # trained by the workers
    assert {r["pid"] for r in runs} == {os.getpid()}  # written by this process alone (relay.py)
    assert pooled["table"] == alone["table"]  # the same numbers, whichever process trained them


def test_diverged_runs_are_counted_not_averaged(tmp_path):
    cfgs = expand_grid({"dataset": "spiral", "n_per_class": "30", "width": "8", "steps": "20", "loss": "mse",
                        "optimizer": "sgd", "lr": "0.05,1e3", "seed": "0..1", "device": "cpu", "threads": "1"})
    summary = run_sweep(cfgs, tmp_path, study="div", log=None)
    rows = {row["lr"]: row for row in summary["table"]}
    assert rows[0.05]["n"] == 2 and rows[0.05]["diverged"] == 0 and rows[0.05]["test acc"]["mean"] is not None
    assert rows[1000.0]["n"] == 0 and rows[1000.0]["diverged"] == 2 and rows[1000.0]["test acc"]["mean"] is None
    statuses = sorted(r["status"] for r in Store(tmp_path).runs(study="div"))
    assert statuses == ["complete", "complete", "diverged", "diverged"]


def test_ctrl_c_stops_the_pool_and_marks_its_runs(tmp_path):
    """SIGINT to the command alone (not its workers): the pool's workers are ended, its runs failed."""
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "nnstudy", "sweep", *TINY, "--steps", "200000", "--optimizer", "sgd,adam",
           "--seeds", "0..1", "--jobs", "2", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while "runs in" not in (line := proc.stderr.readline()):  # the tasks are being sent
            assert line, "the sweep ended before it began"
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "nnstudy: interrupted", err
    assert out == "" and time.monotonic() - t0 < 20  # the workers were stopped, not waited for
    runs = Store(tmp_path).runs()
    assert len(runs) == 4 and {r["status"] for r in runs} == {"failed"}
    assert all("interrupted (Ctrl-C)" in r["error"] for r in runs)


def test_groups_are_halved_for_idle_workers_without_moving_a_number():
    from nnstudy.batched import train_many
    from nnstudy.sweep import split_groups

    groups = [(list(range(32)), True), ([32], False)]
    assert split_groups(groups, 1) == groups
    assert [len(i) for i, _ in split_groups(groups, 4)] == [8, 8, 16, 1]
    assert [len(i) for i, _ in split_groups([(list(range(15)), True)], 8)] == [15]  # halves of 7 are too small
    cfgs = expand_grid({"dataset": "spiral", "n_per_class": "30", "width": "8", "steps": "30", "optimizer": "adam",
                        "lr": "1e-2", "seed": "0..15", "device": "cpu", "threads": "1"})
    whole, halves = train_many(cfgs), train_many(cfgs[:8]) + train_many(cfgs[8:])
    assert [r.final for r in whole] == [r.final for r in halves]  # bit for bit
    for a, b in zip(whole, halves):
        assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
