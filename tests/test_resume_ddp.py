"""Crash safety and scale-out, end to end through the command line on real Fashion-MNIST:
a run killed with SIGKILL mid-training and resumed ends exactly where an uninterrupted run ends;
broken or foreign checkpoints fail with one line (exit 2); two DDP processes under torchrun
(gloo, CPU) match one process with the same global batch."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from nnstudy.store import Store

# LeNet-5 (tanh, no batch norm) on 2,000 images: cheap, and exact comparisons are meaningful.
# One thread: a run's floating-point sums are then the same in every process.
SMALL = ["--dataset", "fashion-mnist", "--train-subset", "2000", "--model", "lenet5", "--activation", "tanh",
         "--batch-size", "100", "--augment", "--val-frac", "0.1", "--threads", "1", "--device", "cpu",
         "--lr", "0.003", "--schedule", "onecycle", "--no-figures", "--json"]


def train(out: Path, *extra) -> dict:
    rc, stdout, stderr = run_cli("train", *SMALL, *extra, "--out", out)
    assert rc == 0, stderr
    return json.loads(stdout)


def start_train(out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnstudy", "train", *SMALL, *extra, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(pattern: str, folder: Path, proc: subprocess.Popen, timeout: float = 240) -> Path:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        hits = list(folder.glob(pattern))
        if hits:
            return hits[0]
        if proc.poll() is not None:
            pytest.fail(f"training ended before writing {pattern}: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no {pattern} after {timeout} s")


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    epochs = ["--epochs", "6"]
    whole = train(tmp_path / "whole", *epochs)

    out = tmp_path / "killed"
    proc = start_train(out, *epochs)
    ckpt = wait_for("*/checkpoint.pt", out, proc)
    proc.send_signal(signal.SIGKILL)  # no handler runs, no cleanup: as a power cut or the OOM killer
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    run_id = ckpt.parent.name
    store = Store(out)
    assert store.get(run_id)["status"] == "crashed"  # never reads as complete
    done_epochs = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= done_epochs < 6, "the kill must land mid-training for this test to mean anything"

    rc, stdout, stderr = run_cli("train", "--resume", run_id, "--out", out, "--json", "--no-figures")
    assert rc == 0, stderr
    resumed = json.loads(stdout)
    assert resumed["run"] == run_id and resumed["status"] == "complete"
    for key, value in whole["final"].items():  # same seed, same thread count: the same floats
        assert resumed["final"][key] == pytest.approx(value, rel=1e-6, abs=1e-7), key
    assert resumed["steps"] == whole["steps"] == 6 * 18
    steps, losses = store.series(run_id, "train", "loss")
    assert steps == sorted(set(steps)) and len(steps) == 6 * 18 + 1  # no gaps or duplicates


def interrupted(out: Path, run_id: str) -> str:
    """Mark a finished run as if it had been stopped mid-training: a complete run is never resumed,
    and these tests are about what a resume then finds in the checkpoint."""
    db = sqlite3.connect(out / "nnstudy.db")
    with db:
        db.execute("UPDATE runs SET status = 'failed' WHERE id = ?", (run_id,))
    db.close()
    return run_id


def test_tampered_checkpoint_fails_cleanly(tmp_path):
    out = tmp_path / "runs"
    run_id = interrupted(out, train(out, "--epochs", "1")["run"])
    ckpt = out / run_id / "checkpoint.pt"
    good = ckpt.read_bytes()

    ckpt.write_bytes(good[: len(good) // 2])  # truncated
    rc, _, err = run_cli("train", "--resume", run_id, "--out", out)
    assert rc == 2 and "cannot be loaded safely" in err and "Traceback" not in err

    class Payload:  # an object whose unpickling would run code: weights_only refuses it
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"model": Payload()}, ckpt)
    rc, out_text, err = run_cli("train", "--resume", run_id, "--out", out)
    assert rc == 2 and "cannot be loaded safely" in err and "pwned" not in out_text + err

    torch.save({"model": {}}, ckpt)  # loads, but is not a checkpoint
    rc, _, err = run_cli("train", "--resume", run_id, "--out", out)
    assert rc == 2 and "not an nnstudy checkpoint" in err


def test_checkpoint_from_another_model_fails_cleanly(tmp_path):
    out = tmp_path / "runs"
    lenet = interrupted(out, train(out, "--epochs", "1")["run"])
    mlp = train(out, "--epochs", "1", "--model", "mlp")["run"]
    (out / lenet / "checkpoint.pt").write_bytes((out / mlp / "checkpoint.pt").read_bytes())
    rc, _, err = run_cli("train", "--resume", lenet, "--out", out)
    assert rc == 2 and "does not fit model 'lenet5'" in err and "Traceback" not in err


def test_ddp_two_processes_match_one(tmp_path):
    """Gloo on the CPU, 2 ranks x 50 images = the single process's global batch of 100. LeNet-5 has no
    batch norm, so only float summation order differs: final numbers within 1e-4, same steps."""
    single = train(tmp_path / "one", "--epochs", "2")
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "nnstudy", "train", *SMALL, "--epochs", "2", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if p.returncode != 0 and "address already in use" in p.stderr.lower():  # a port taken between pick and bind
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "distributed over 2 processes (gloo)" in p.stderr, p.stderr[-2000:]
    ddp = json.loads(p.stdout)  # rank 0 alone prints: exactly one JSON object
    store = Store(out)
    assert [r["id"] for r in store.runs()] == [ddp["run"]]  # rank 0 alone writes: one run
    assert ddp["steps"] == single["steps"] == 2 * 18
    for key, value in single["final"].items():
        assert ddp["final"][key] == pytest.approx(value, abs=1e-4), (key, ddp["final"], single["final"])
    _, one_curve = Store(tmp_path / "one").series(single["run"], "train", "loss")
    _, ddp_curve = store.series(ddp["run"], "train", "loss")  # all-reduced: the global batch's loss
    assert ddp_curve == pytest.approx(one_curve, abs=1e-4)
