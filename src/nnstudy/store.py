"""The results store: `HOME/nnstudy.db` (SQLite, WAL) indexes runs and holds every number;
`HOME/<run-id>/` holds config.json, summary.json, figures and checkpoints.

A run is `running` from creation until `finish` marks it `complete`, `diverged` or `failed`, so
a crashed or killed run never reads as complete (listing shows it as `crashed` once its process
is gone). Files are written atomically (temp file + rename); SQLite writes are transactions.
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


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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
    def __init__(self, home: str | Path | None = None):
        self.home = Path(home) if home is not None else default_home()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            probe = self.home / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise UsageError(f"results folder {str(self.home)!r} is not writable ({e.strerror}); "
                             "pass --out DIR or set NNSTUDY_HOME to a writable folder") from None
        self.db_path = self.home / "nnstudy.db"
        try:
            self.db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        except sqlite3.DatabaseError as e:  # e.g. nnstudy.db is a folder
            raise self._foreign(e) from None
        self.db.row_factory = sqlite3.Row
        self._open()

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
                    raise self._foreign(e) from None
                if time.monotonic() > deadline:
                    raise UsageError(f"{str(self.db_path)!r} stayed locked for {patience:.0f} s ({e}): another "
                                     "process holds it; wait for it or pass --out DIR") from None
                time.sleep(delay)
                delay = min(0.5, delay * 2)
            except sqlite3.DatabaseError as e:
                raise self._foreign(e) from None

    def _foreign(self, e: Exception) -> UsageError:
        return UsageError(f"{str(self.db_path)!r} is not an nnstudy store ({e}); move it away or "
                          "pass --out DIR for a fresh store")

    def _tx(self, sql: str, args=(), many: bool = False):
        with self.db:  # one transaction: all or nothing
            self.db.execute("BEGIN IMMEDIATE")
            return (self.db.executemany if many else self.db.execute)(sql, args)

    # -- writing ------------------------------------------------------------------------------
    def create_run(self, kind: str, config: dict, *, study: str | None = None, name: str | None = None,
                   parent: str | None = None, seed: int | None = None, digest: str | None = None,
                   device: str = "cpu") -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        folder = self.home / run_id
        folder.mkdir()
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

    def finish(self, run_id: str, status: str, summary: dict | None = None, error: str | None = None) -> None:
        assert status in STATUSES[1:], status
        summary = summary or {}
        atomic_write(self.run_dir(run_id) / "summary.json", to_json({"status": status, **summary}))
        self._tx("UPDATE runs SET status = ?, summary = ?, error = ?, finished = ? WHERE id = ?",
                 (status, to_json(summary), error, time.time(), run_id))

    def reopen(self, run_id: str) -> None:
        """Mark a run running again (resume) and drop metrics past its checkpoint (re-logged)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE runs SET status = 'running', finished = NULL, pid = ?, host = ? WHERE id = ?",
                            (os.getpid(), socket.gethostname(), run_id))
            self.db.execute("DELETE FROM metrics WHERE run = ?", (run_id,))

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
        return [self._row(r) for r in self.db.execute(sql, args)]

    def get(self, run_id: str) -> dict:
        rows = self.db.execute("SELECT * FROM runs WHERE id = ? OR id LIKE ? ORDER BY id",
                               (run_id, run_id + "%")).fetchall()
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
        return [tuple(r) for r in self.db.execute(sql + " ORDER BY step", args)]

    def series(self, run_id: str, split: str, name: str) -> tuple[list[int], list[float]]:
        rows = self.metrics(run_id, split, name)
        return [r[0] for r in rows], [r[3] for r in rows]

    def latest(self, study: str, kind: str = "study", status: str = "complete") -> dict | None:
        rows = self.runs(study=study, kind=kind, status=status)
        return rows[-1] if rows else None

    def find_complete(self, digest: str, kind: str = "study") -> dict | None:
        row = self.db.execute("SELECT * FROM runs WHERE digest = ? AND kind = ? AND status = 'complete' "
                              "ORDER BY started DESC LIMIT 1", (digest, kind)).fetchone()
        return self._row(row) if row else None

    def _row(self, r: sqlite3.Row) -> dict:
        d = dict(r)
        for k in ("config", "env", "summary"):
            d[k] = json.loads(d[k]) if d.get(k) else {}
        if d["status"] == "running" and d.get("host") == socket.gethostname() and not _alive(d.get("pid")):
            d["status"] = "crashed"  # its process is gone: it will never finish
        return d

    def close(self) -> None:
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


__all__ = ["Store", "atomic_write", "environment", "to_json", "default_home"]
