"""What a careless user cannot do to the store (issue 16): reopen a finished run, write one run from
two processes, lose a resumed run's earlier training time, be left with tracebacks and temp files
by a full disk, be told a good store on a failing disk is foreign, or be unable to read a store on
read-only media. Real processes and real files throughout; a disk fills either at the write call
(simulated ENOSPC, SQLite's own page limit) or for real, on a tiny tmpfs in a user namespace."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from nnstudy.config import TrainConfig
from nnstudy.experiment import train_and_evaluate
from nnstudy.store import Store

# 240 spiral training points in batches of 32: 8 steps an epoch, a checkpoint after each; milliseconds a step.
MINI = ["--dataset", "spiral", "--n-per-class", "100", "--batch-size", "32", "--device", "cpu",
        "--threads", "1", "--no-figures", "--json"]


def train(out: Path, *extra) -> dict:
    rc, stdout, stderr = run_cli("train", *MINI, *extra, "--out", out)
    assert rc == 0, stderr
    return json.loads(stdout)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudy: error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def stored(out: Path, run_id: str) -> tuple:
    """What a resume must not touch: the row's status, summary and times, and every metric."""
    db = sqlite3.connect(out / "nnstudy.db")
    row = db.execute("SELECT status, summary, started, finished, pid FROM runs WHERE id = ?", (run_id,)).fetchone()
    metrics = db.execute("SELECT * FROM metrics WHERE run = ? ORDER BY rowid", (run_id,)).fetchall()
    db.close()
    return row, metrics


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"training ended before writing {path}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.02)


# -- 1: a finished run is never reopened ------------------------------------------------------------
def test_complete_and_diverged_runs_are_never_reopened(tmp_path):
    out = tmp_path / "runs"
    run_id = train(out, "--epochs", "2")["run"]
    before = stored(out, run_id)
    rc, _, err = run_cli("train", "--resume", run_id, "--out", out)
    assert rc == 2 and f"run {run_id} is complete; nothing to resume" in one_line(err)
    assert stored(out, run_id) == before  # status, summary, training time and metrics untouched

    store = Store(out)
    cfg = TrainConfig(dataset="moons", optimizer="sgd", lr=1e6, loss="mse", steps=500, device="cpu")
    diverged = train_and_evaluate(cfg, store)
    assert diverged.status == "diverged"
    before = stored(out, diverged.run_id)
    rc, _, err = run_cli("train", "--resume", diverged.run_id, "--out", out)
    assert rc == 2 and f"run {diverged.run_id} is diverged; nothing to resume" in one_line(err)
    assert stored(out, diverged.run_id) == before


def _interrupt_at(step_to_fail, pause: float = 0.0):
    def hook(step, model):
        time.sleep(pause)
        if step == step_to_fail:
            raise KeyboardInterrupt
    return hook


def test_a_full_batch_run_is_refused_for_the_right_reason(tmp_path):
    store = Store(tmp_path / "runs")
    cfg = TrainConfig(dataset="spiral", steps=50, device="cpu")  # full batch: one step an epoch, no checkpoint
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(cfg, store, hook=_interrupt_at(20))
    run_id = store.runs()[0]["id"]
    rc, _, err = run_cli("train", "--resume", run_id, "--out", tmp_path / "runs")
    assert rc == 2 and "full-batch runs keep no checkpoint" in one_line(err) and "epoch" not in err


# -- 2: one writer per run --------------------------------------------------------------------------
def start(out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnstudy", "train", *MINI, *extra, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_resume_is_refused_while_the_run_trains(tmp_path):
    out = tmp_path / "runs"
    proc = start(out, "--epochs", "100000")
    try:
        wait_for(next_checkpoint(out, proc), proc)
        run_id = Store(out, readonly=True).runs()[0]["id"]
        rc, _, err = run_cli("train", "--resume", run_id, "--out", out)
        assert rc == 2 and f"still being trained by process {proc.pid}" in one_line(err)
        assert proc.poll() is None  # the first writer goes on, alone

        # A writer the pid check cannot see (another host on a shared disk): its lock still stops a second.
        db = sqlite3.connect(out / "nnstudy.db", timeout=30)
        with db:
            db.execute("UPDATE runs SET host = 'another-host' WHERE id = ?", (run_id,))
        db.close()
        rc, _, err = run_cli("train", "--resume", run_id, "--out", out)
        assert rc == 2 and "holds the run's lock" in one_line(err) and str(proc.pid) in err
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    steps, _ = Store(out).series(run_id, "train", "loss")
    assert steps == sorted(set(steps))  # no step stored twice


def next_checkpoint(out: Path, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 120
    while not list(out.glob("*/checkpoint.pt")):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return next(out.glob("*/checkpoint.pt"))


def test_two_resumes_at_once_make_one_writer(tmp_path):
    out = tmp_path / "runs"
    proc = start(out, "--epochs", "100000")
    wait_for(next_checkpoint(out, proc), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_id = Store(out).runs()[0]["id"]
    db = sqlite3.connect(out / "nnstudy.db", timeout=30)  # make the resumed run short: 3 more epochs
    cfg = json.loads(db.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
    with db:
        db.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps({**cfg, "epochs": 4}), run_id))
    db.close()
    cmd = [sys.executable, "-m", "nnstudy", "train", "--resume", run_id, "--out", str(out), "--no-figures"]
    both = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = sorted((p.wait(timeout=300), p.stderr.read()) for p in both)
    assert [rc for rc, _ in results] == [0, 2], results
    assert "still being trained" in results[1][1] or "is complete; nothing to resume" in results[1][1]
    steps, _ = Store(out).series(run_id, "train", "loss")
    assert steps == list(range(33))  # 4 epochs x 8 steps and the final evaluation, each once


def test_reopen_compares_and_swaps_in_one_transaction(tmp_path):
    """A resume that judged a run resumable must not overwrite a change made since: the row is read
    again inside the transaction that reopens it."""
    store = Store(tmp_path / "runs")
    cfg = TrainConfig(dataset="spiral", n_per_class=50, batch_size=32, epochs=3, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(cfg, store, hook=_interrupt_at(7))
    run = store.runs()[0]
    assert run["status"] == "failed" and store.resume_refusal(run) is None
    Store(tmp_path / "runs").finish(run["id"], "complete", {"by": "another process"})  # meanwhile
    with pytest.raises(Exception, match="is complete; nothing to resume"):
        store.reopen(run["id"], [])
    assert store.get(run["id"])["summary"] == {"by": "another process"}


# -- 3: a resumed run's time ------------------------------------------------------------------------
def test_resumed_training_time_is_the_sum_of_its_segments(tmp_path):
    store = Store(tmp_path / "runs")
    cfg = TrainConfig(dataset="spiral", n_per_class=50, batch_size=30, epochs=5, device="cpu")  # 4 steps an epoch
    pause = 0.05  # seconds a step: training time is then at least steps x pause
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(cfg, store, hook=_interrupt_at(17, pause))  # the checkpoint holds 16 steps
    run_id = store.runs()[0]["id"]
    res = train_and_evaluate(cfg, store, resume=run_id, hook=_interrupt_at(-1, pause))  # 4 more steps
    assert res.steps == 20
    assert res.seconds >= 20 * pause  # both segments: 16 steps before the resume, 4 after
    assert store.get(run_id)["summary"]["train_seconds"] == pytest.approx(res.seconds, abs=1e-3)


# -- 12: a disk that fills mid-run ------------------------------------------------------------------
def error_line(stderr: str) -> str:
    """The one error line among the epoch log lines (progress goes to stderr too)."""
    return one_line("\n".join(ln for ln in stderr.splitlines() if not ln.startswith("epoch ")))


FULL_AT_SECOND_CHECKPOINT = '''
import errno, sys
import nnstudy.disk
from nnstudy.cli import main

writes = 0

class FillsHalfway:
    """A file on a disk that fills halfway through this write: half the bytes land, then ENOSPC."""
    def __init__(self, fh):
        self.fh = fh
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.fh.close()
    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")
    def __getattr__(self, name):
        return getattr(self.fh, name)

def open_on_a_filling_disk(path, mode="r", *args, **kw):
    global writes
    fh = open(path, mode, *args, **kw)
    if "checkpoint.pt" in str(path) and "w" in mode:
        writes += 1
        if writes == 2:
            return FillsHalfway(fh)
    return fh

nnstudy.disk.open = open_on_a_filling_disk  # the open that atomic_write calls, and only that one
sys.exit(main(sys.argv[1:]))
'''

DATABASE_FULL_AT_THIRD_FLUSH = '''
import sys
from nnstudy.cli import main
from nnstudy.store import Store

flushes = 0
log_metrics = Store.log_metrics

def log_metrics_on_a_full_disk(self, run_id, rows):
    global flushes
    flushes += 1
    if flushes == 3:  # the database may not grow past its present size: SQLite's own SQLITE_FULL from here on
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages}")
    return log_metrics(self, run_id, rows)

Store.log_metrics = log_metrics_on_a_full_disk
sys.exit(main(sys.argv[1:]))
'''


def run_script(tmp_path: Path, code: str, *args) -> subprocess.CompletedProcess:
    script = tmp_path / "disk.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def assert_no_temp_files(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], sorted(out.rglob("*"))


def test_disk_full_at_a_checkpoint_write_ends_cleanly_and_resumes(tmp_path):
    whole = train(tmp_path / "whole", "--epochs", "4")
    out = tmp_path / "runs"
    p = run_script(tmp_path, FULL_AT_SECOND_CHECKPOINT, "train", *MINI, "--epochs", "4", "--out", out)
    run_id = Store(out, readonly=True).runs()[0]["id"]
    line = error_line(p.stderr)
    assert p.returncode == 2 and "No space left on device" in line and f"--resume {run_id}" in line, p.stderr
    run = Store(out, readonly=True).get(run_id)
    assert run["status"] == "failed" and "No space left on device" in run["error"]
    assert_no_temp_files(out)  # the half-written checkpoint is gone
    assert torch.load(out / run_id / "checkpoint.pt", weights_only=True)["epoch"] == 1  # the last good one

    rc, stdout, err = run_cli("train", "--resume", run_id, "--out", out, "--json", "--no-figures")
    assert rc == 0, err
    resumed = json.loads(stdout)
    assert resumed["status"] == "complete" and resumed["final"] == pytest.approx(whole["final"], abs=1e-6)
    steps, _ = Store(out).series(run_id, "train", "loss")
    assert steps == list(range(33))


def test_database_full_mid_run_ends_cleanly_and_resumes(tmp_path):
    out = tmp_path / "runs"
    p = run_script(tmp_path, DATABASE_FULL_AT_THIRD_FLUSH, "train", *MINI, "--epochs", "40", "--out", out)
    run_id = Store(out, readonly=True).runs()[0]["id"]
    line = error_line(p.stderr)
    assert p.returncode == 2 and "database or disk is full" in line and f"--resume {run_id}" in line, p.stderr
    assert Store(out, readonly=True).get(run_id)["status"] in ("failed", "crashed")  # never running, never complete
    assert_no_temp_files(out)
    rc, stdout, err = run_cli("train", "--resume", run_id, "--out", out, "--json", "--no-figures")
    assert rc == 0 and json.loads(stdout)["status"] == "complete", err
    steps, _ = Store(out).series(run_id, "train", "loss")
    assert steps == list(range(40 * 8 + 1))


# -- real disks: a tiny tmpfs that fills, a read-only mount (a user namespace makes both root-proof) --
def namespaces() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_namespaces = pytest.mark.skipif(not namespaces(), reason="needs `unshare -rm` (Linux user namespaces)")


def in_namespace(script: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=timeout)


@needs_namespaces
def test_a_really_full_disk_mid_run_and_after(tmp_path):
    """Training on a 4 MB tmpfs that fills once the first checkpoint is written: one line, no temp files,
    the store still reads as a store (not 'move it away'), and the run resumes once space is freed."""
    mnt, log = tmp_path / "mnt", tmp_path / "log"
    mnt.mkdir()
    log.mkdir()
    nn = f"{sys.executable} -m nnstudy"
    args = " ".join(MINI) + " --n-per-class 2000 --epochs 12"  # 150 steps an epoch: the fill lands mid-run
    script = textwrap.dedent(f"""
        mount -t tmpfs -o size=4m tmpfs {mnt} || exit 99
        {nn} train {args} --out {mnt}/runs > {log}/train.out 2> {log}/train.err &
        while [ -z "$(ls {mnt}/runs/*/checkpoint.pt 2>/dev/null)" ]; do sleep 0.02; done
        dd if=/dev/zero of={mnt}/fill bs=64k 2>/dev/null
        wait $!; echo $? > {log}/train.rc
        ls -aR {mnt}/runs > {log}/listing
        run=$(basename $(dirname {mnt}/runs/*/checkpoint.pt))
        {nn} runs --out {mnt}/runs > {log}/runs.out 2> {log}/runs.err; echo $? > {log}/runs.rc
        {nn} train {args} --out {mnt}/runs > /dev/null 2> {log}/new.err; echo $? > {log}/new.rc
        rm {mnt}/fill
        {nn} train --resume $run --out {mnt}/runs --json --no-figures > {log}/resume.out 2> {log}/resume.err
        echo $? > {log}/resume.rc
    """)
    p = in_namespace(script)
    assert p.returncode == 0, p.stderr
    read = lambda name: (log / name).read_text()  # noqa: E731
    line = error_line(read("train.err"))
    assert read("train.rc").strip() == "2" and ("No space left on device" in line or "disk is full" in line), line
    assert ".tmp" not in read("listing"), read("listing")
    for cmd in ("runs", "new"):  # reading or starting a run on the full disk: never "not an nnstudy store"
        assert "not an nnstudy store" not in read(f"{cmd}.err") and "Traceback" not in read(f"{cmd}.err")
    assert read("runs.rc").strip() == "0" or "disk under the store" in error_line(read("runs.err"))
    assert read("new.rc").strip() == "2"
    assert read("resume.rc").strip() == "0", read("resume.err")
    resumed = json.loads(read("resume.out"))
    assert resumed["status"] == "complete" and resumed["steps"] == 12 * 150


# -- read-only stores -------------------------------------------------------------------------------
def snapshot(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith("nnstudy.db-")}  # SQLite's -wal/-shm: its reading machinery


def test_read_only_commands_never_write_the_store(tmp_path):
    out = tmp_path / "runs"
    run_id = train(out, "--epochs", "1")["run"]
    before = snapshot(out)
    for argv in (["runs"], ["show", run_id], ["report", "--report-dir", tmp_path / "report"]):
        rc, _, err = run_cli(*argv, "--out", out)
        assert rc == 0, (argv, err)
    assert snapshot(out) == before
    assert (tmp_path / "report" / "report.html").exists()
    store = Store(out, readonly=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # even root cannot write through it
        store.db.execute("DELETE FROM metrics")
    assert len(store.metrics(run_id)) > 0
    rc, stdout, _ = run_cli("runs", "--out", tmp_path / "nothing-here")
    assert rc == 0 and "(no runs)" in stdout and not (tmp_path / "nothing-here").exists()


def test_a_report_folder_that_cannot_be_made_is_one_line_naming_the_way_out(tmp_path):
    out = tmp_path / "runs"
    train(out, "--epochs", "1")
    (out / "report").write_text("a file where the report folder would go")  # as a read-only store fails
    rc, _, err = run_cli("report", "--out", out)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "cannot write the report into" in err and "--report-dir DIR" in err


@needs_namespaces
def test_read_only_commands_work_on_read_only_media(tmp_path):
    out, ro = tmp_path / "runs", tmp_path / "ro"
    ro.mkdir()
    run_id = train(out, "--epochs", "1")["run"]
    # A second store whose writer died without closing: its last run sits in the -wal file only.
    crashed = tmp_path / "crashed"
    code = (f"import os; from nnstudy.store import Store; s = Store({str(crashed)!r}); "
            "s.finish(s.create_run('train', {}), 'complete'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (crashed / "nnstudy.db-wal").stat().st_size > 0
    nn = f"{sys.executable} -m nnstudy"
    for store, argv, expect in [(out, "runs", run_id), (out, f"show {run_id}", run_id),
                                (out, f"report --report-dir {tmp_path}/report", "report.html"),
                                (crashed, "runs", "complete")]:
        p = in_namespace(f"mount --bind {store} {ro} && mount -o remount,bind,ro {ro} || exit 99; "
                         f"touch {ro}/x 2>/dev/null && exit 98; exec {nn} {argv} --out {ro}")
        assert p.returncode == 0 and expect in p.stdout, (argv, p.returncode, p.stderr)
    p = in_namespace(f"mount --bind {out} {ro} && mount -o remount,bind,ro {ro} || exit 99; "
                     f"exec {nn} train --dataset spiral --steps 5 --out {ro}")
    assert p.returncode == 2 and "not writable" in one_line(p.stderr)
