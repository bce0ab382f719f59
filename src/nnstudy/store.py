"""The results store: `HOME/nnstudy.db` (SQLite, WAL) indexes runs and holds every number;
`HOME/<run-id>/` holds config.json, summary.json, figures and checkpoints.

A run is `running` from creation until `finish` marks it `complete`, `diverged` or `failed`, so
a crashed or killed run never reads as complete (listing shows it as `crashed` once its process
is gone). Files are written atomically (temp file + rename); SQLite writes are transactions.

One writer per run: the process that creates or resumes a run holds its lock (nnstudy.disk) until it
finishes it, and `reopen` refuses a run that is complete, diverged, or still held by a live process.
Commands that only read open the store read-only (`Store(home, readonly=True)`), so they work on
read-only media and cannot change what is stored.
"""

from __future__ import annotations

import json
import math
import os
import platform
import secrets
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from nnstudy.disk import StoreIOError, atomic_write, connect_readonly, disk_problem, lock_run, unlock
from nnstudy.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, study TEXT, name TEXT, parent TEXT,
    status TEXT NOT NULL, digest TEXT, seed INTEGER, config TEXT NOT NULL, env TEXT NOT NULL,
    summary TEXT, error TEXT, started REAL NOT NULL, finished REAL, pid INTEGER, host TEXT);
CREATE TABLE IF NOT EXISTS metrics (
    run TEXT NOT NULL, step INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics (run, split, name);
CREATE INDEX IF NOT EXISTS runs_study ON runs (study, status);
"""
STATUSES = ("running", "complete", "diverged", "failed")


def default_home() -> Path:
    return Path(os.environ.get("NNSTUDY_HOME", "runs"))


def to_json(obj) -> str:
    """JSON with NaN/inf written as null (strict JSON for --json consumers)."""
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o
    return json.dumps(clean(obj), indent=2, default=str)


def git_commit() -> str | None:
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip()[:12] + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


_ENV_CACHE: dict = {}


def cpu_name() -> str:
    """The CPU model ("Intel(R) Xeon(R) ...", "AMD EPYC ..."): the same code's speed and its best
    settings differ by CPU (benchmarks/batched.py measured both), so numbers carry it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str = "cpu") -> dict:
    """Versions, machine and code version: what makes a number reproducible."""
    import numpy
    import torch

    import nnstudy

    if not _ENV_CACHE:
        _ENV_CACHE.update(python=platform.python_version(), torch=torch.__version__, numpy=numpy.__version__,
                          nnstudy=nnstudy.__version__, git=git_commit(), platform=platform.platform(),
                          cpu=cpu_name(), cpus=os.cpu_count(), host=socket.gethostname())
    env = dict(_ENV_CACHE, device=str(device), threads=torch.get_num_threads())
    if str(device).startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name()
    return env


class Store:
    def __init__(self, home: str | Path | None = None, *, readonly: bool = False):
        """readonly: for commands that only read (runs, show, report): nothing is created or written,
        and SQLite itself refuses writes (mode=ro), so read-only media work and root cannot slip."""
        self.home = Path(home) if home is not None else default_home()
        self.db_path = self.home / "nnstudy.db"
        self.readonly = readonly
        self._locks: dict[str, int] = {}  # run id -> descriptor of the writer lock this process holds
        if readonly:
            self.db = self._connect_readonly()
            self.db.row_factory = sqlite3.Row
            return
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            probe = self.home / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise UsageError(f"results folder {str(self.home)!r} is not writable ({e.strerror}); "
                             "pass --out DIR or set NNSTUDY_HOME to a writable folder") from None
        try:
            self.db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        except sqlite3.DatabaseError as e:  # e.g. nnstudy.db is a folder
            raise self._cannot_open(e) from None
        self.db.row_factory = sqlite3.Row
        self._open()

    def _connect_readonly(self) -> sqlite3.Connection:
        if not self.db_path.exists():  # nothing stored yet: an empty store, and no file made for it
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.executescript(SCHEMA)
            return db
        if not self.db_path.is_file():
            raise self._foreign("a folder, not a file")
        try:
            db = connect_readonly(self.db_path)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise self._cannot_open(e) from None
        if not tables:  # an empty file: a store that was created and never written
            db.close()
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.executescript(SCHEMA)
        elif not {"runs", "metrics"} <= tables:
            raise self._foreign(f"tables {sorted(tables)}")
        return db

    def _open(self, patience: float = 30.0) -> None:
        """WAL mode and the schema. Several processes opening one new store at once (sweep --jobs)
        can find it locked while another switches it to WAL; SQLite does not always wait on its busy
        timeout there, so retry: a lock is contention, never a sign of a foreign file."""
        deadline = time.monotonic() + patience
        delay = 0.01
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise self._cannot_open(e) from None
                if time.monotonic() > deadline:
                    raise UsageError(f"{str(self.db_path)!r} stayed locked for {patience:.0f} s ({e}): another "
                                     "process holds it; wait for it or pass --out DIR") from None
                time.sleep(delay)
                delay = min(0.5, delay * 2)
            except sqlite3.DatabaseError as e:
                raise self._cannot_open(e) from None

    def _cannot_open(self, e: Exception) -> UsageError:
        """A failing disk is not a foreign file: only the latter earns the advice to move it away."""
        return self._disk(e) or self._foreign(e)

    def _disk(self, e: BaseException) -> StoreIOError | None:
        why = disk_problem(e)
        if why is None:
            return None
        return StoreIOError(f"the disk under the store {str(self.db_path)!r} failed ({why}); the stored results "
                            f"are not at fault: free space or check the disk (`df {self.home}`), then run the "
                            "command again", why=f"{why}, in {self.db_path.name}")

    def _foreign(self, e) -> UsageError:
        return UsageError(f"{str(self.db_path)!r} is not an nnstudy store ({e}); move it away or "
                          "pass --out DIR for a fresh store")

    def _tx(self, sql: str, args=(), many: bool = False):
        try:
            with self.db:  # one transaction: all or nothing
                self.db.execute("BEGIN IMMEDIATE")
                return (self.db.executemany if many else self.db.execute)(sql, args)
        except sqlite3.OperationalError as e:
            raise (self._disk(e) or e) from None

    def _read(self, sql: str, args=()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            raise (self._disk(e) or e) from None

    # -- writing ------------------------------------------------------------------------------
    def create_run(self, kind: str, config: dict, *, study: str | None = None, name: str | None = None,
                   parent: str | None = None, seed: int | None = None, digest: str | None = None,
                   device: str = "cpu") -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        folder = self.home / run_id
        folder.mkdir()
        self._locks[run_id] = lock_run(folder)  # a fresh folder: nobody else can hold it
        atomic_write(folder / "config.json", to_json(config))
        self._tx("INSERT INTO runs (id, kind, study, name, parent, status, digest, seed, config, env, started, "
                 "pid, host) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                 (run_id, kind, study, name, parent, digest, seed, json.dumps(config, default=str),
                  json.dumps(environment(device)), time.time(), os.getpid(), socket.gethostname()))
        return run_id

    def log_metrics(self, run_id: str, rows) -> None:
        """rows: iterable of (step, split, name, value)."""
        rows = [(run_id, int(s), sp, n, None if v is None or not math.isfinite(v) else float(v))
                for s, sp, n, v in rows]
        if rows:
            self._tx("INSERT INTO metrics (run, step, split, name, value) VALUES (?, ?, ?, ?, ?)", rows, many=True)

    def finish(self, run_id: str, status: str, summary: dict | None = None, error: str | None = None,
               env: dict | None = None) -> None:
        """summary.json, then the row: a row that reads complete always has its summary file. A failed
        run's row is marked first and its file is best effort: on a full disk the mark is what matters.
        env: the environment of the process that trained the run, where another one did (a sweep worker)."""
        assert status in STATUSES[1:], status
        summary = summary or {}
        if status != "failed":
            atomic_write(self.run_dir(run_id) / "summary.json", to_json({"status": status, **summary}))
        self._tx("UPDATE runs SET status = ?, summary = ?, error = ?, finished = ?, env = COALESCE(?, env) "
                 "WHERE id = ?", (status, to_json(summary), error, time.time(),
                                  json.dumps(env, default=str) if env else None, run_id))
        if status == "failed":
            try:
                atomic_write(self.run_dir(run_id) / "summary.json", to_json({"status": status, **summary}))
            except StoreIOError:
                pass
        if run_id in self._locks:
            unlock(self._locks.pop(run_id))

    def resume_refusal(self, run: dict, writer: bool = True) -> str | None:
        """Why `run` (a row from get/runs) cannot be resumed, or None. writer=False (DDP ranks other than
        rank 0, which race rank 0's reopen) checks only what no reopen changes."""
        rid, status = run["id"], run["status"]
        if status in ("complete", "diverged"):
            return f"run {rid} is {status}; nothing to resume" + (
                " (train it afresh with other settings)" if status == "diverged" else "")
        # _row marks a run whose local process is gone `crashed`, so a local `running` one is alive. This
        # process's own runs and other hosts' are left to the lock, which `reopen` takes first.
        pid, host = run.get("pid"), run.get("host")
        if writer and status == "running" and host == socket.gethostname() and pid != os.getpid():
            return (f"run {rid} is still being trained by process {pid} on this host; wait for it, or "
                    f"stop it (kill {pid}) and resume then")
        return None

    def reopen(self, run_id: str, records=()) -> None:
        """Mark a crashed or failed run running again under this process and replace its metrics with
        `records` (its checkpoint's). Two writers are impossible: the run's lock is taken first (it
        stays held by a live writer on any host that shares the disk), then the row is re-read and
        swapped in one transaction, so a change made meanwhile is seen, not overwritten."""
        fd = lock_run(self.run_dir(run_id))
        if fd is None:
            run = self.get(run_id)
            raise UsageError(f"run {run_id} is still being trained by process {run.get('pid')} on host "
                             f"{run.get('host')} (it holds the run's lock); wait for it, or stop it and resume then")
        try:
            rows = [(run_id, int(s), sp, n, None if v is None or not math.isfinite(v) else float(v))
                    for s, sp, n, v in records]
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is None:
                    raise UsageError(f"no run {run_id!r} in {str(self.db_path)!r}")
                if why := self.resume_refusal(self._row(row)):
                    raise UsageError(why)
                self.db.execute("UPDATE runs SET status = 'running', finished = NULL, error = NULL, pid = ?, host = ? "
                                "WHERE id = ?", (os.getpid(), socket.gethostname(), run_id))
                self.db.execute("DELETE FROM metrics WHERE run = ?", (run_id,))
                self.db.executemany("INSERT INTO metrics (run, step, split, name, value) VALUES (?, ?, ?, ?, ?)",
                                    rows)
        except sqlite3.OperationalError as e:
            unlock(fd)
            raise (self._disk(e) or e) from None
        except BaseException:
            unlock(fd)
            raise
        self._locks[run_id] = fd

    # -- reading ------------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.home / run_id

    def runs(self, study: str | None = None, kind: str | None = None, parent: str | None = None,
             status: str | None = None) -> list[dict]:
        where, args = [], []
        for col, val in (("study", study), ("kind", kind), ("parent", parent), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started"
        return [self._row(r) for r in self._read(sql, args)]

    def get(self, run_id: str) -> dict:
        rows = self._read("SELECT * FROM runs WHERE id = ? OR id LIKE ? ORDER BY id", (run_id, run_id + "%"))
        if not rows:
            raise UsageError(f"no run {run_id!r} in {str(self.db_path)!r}; `nnstudy runs` lists them")
        if len(rows) > 1 and rows[0]["id"] != run_id:
            raise UsageError(f"run id prefix {run_id!r} is ambiguous: {', '.join(r['id'] for r in rows[:5])}")
        return self._row(rows[0])

    def metrics(self, run_id: str, split: str | None = None, name: str | None = None) -> list[tuple]:
        sql, args = "SELECT step, split, name, value FROM metrics WHERE run = ?", [run_id]
        if split:
            sql, args = sql + " AND split = ?", args + [split]
        if name:
            sql, args = sql + " AND name = ?", args + [name]
        return [tuple(r) for r in self._read(sql + " ORDER BY step", args)]

    def series(self, run_id: str, split: str, name: str) -> tuple[list[int], list[float]]:
        rows = self.metrics(run_id, split, name)
        return [r[0] for r in rows], [r[3] for r in rows]

    def latest(self, study: str, kind: str = "study", status: str = "complete") -> dict | None:
        rows = self.runs(study=study, kind=kind, status=status)
        return rows[-1] if rows else None

    def find_complete(self, digest: str, kind: str = "study") -> dict | None:
        rows = self._read("SELECT * FROM runs WHERE digest = ? AND kind = ? AND status = 'complete' "
                          "ORDER BY started DESC LIMIT 1", (digest, kind))
        return self._row(rows[0]) if rows else None

    def _row(self, r: sqlite3.Row) -> dict:
        d = dict(r)
        for k in ("config", "env", "summary"):
            d[k] = json.loads(d[k]) if d.get(k) else {}
        if d["status"] == "running" and d.get("host") == socket.gethostname() and not _alive(d.get("pid")):
            d["status"] = "crashed"  # its process is gone: it will never finish
        return d

    def check(self) -> list[str]:
        """What is wrong with the store, one line each (empty: nothing): SQLite's own integrity check, a
        metric recorded twice (run, step, split, name), metrics of no run, and a finished run without
        its summary.json."""
        problems = [r[0] for r in self._read("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"run {r[0]}: {r[4]} rows of ({r[1]}, {r[2]}, {r[3]})" for r in self._read(
            "SELECT run, step, split, name, count(*) FROM metrics GROUP BY run, step, split, name HAVING count(*) > 1")]
        problems += [f"metrics of run {r[0]}, which is not in the store" for r in self._read(
            "SELECT DISTINCT run FROM metrics WHERE run NOT IN (SELECT id FROM runs)")]
        problems += [f"run {r[0]} is {r[1]} but has no summary.json" for r in self._read(
            "SELECT id, status FROM runs WHERE status IN ('complete', 'diverged')")
            if not (self.run_dir(r[0]) / "summary.json").is_file()]
        return problems

    def close(self) -> None:
        for fd in self._locks.values():
            unlock(fd)
        self._locks.clear()
        self.db.close()


def _alive(pid) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) still answers kill(0): read its state where we can.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return True


__all__ = ["Store", "StoreIOError", "atomic_write", "environment", "to_json", "default_home"]
