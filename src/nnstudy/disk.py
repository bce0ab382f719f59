"""What the store asks of the disk: atomic writes that leave nothing behind when they fail, one
writer per run (an OS lock), reading a store on read-only media, and telling a failing disk
(full, I/O error, read-only) from a file that is not an nnstudy store.

A failing disk is reported as `StoreIOError`: one line, exit 2, saying what failed and that the
stored data is not the problem, so that nobody is told to move a good store away.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from nnstudy.errors import UsageError

try:
    import fcntl
except ImportError:  # Windows: no flock; the store's compare-and-swap still refuses a second resume
    fcntl = None

# errno values that mean "the disk", not the caller: full, over quota, failing, mounted read-only
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}
# SQLite's words for the same (SQLITE_FULL, SQLITE_IOERR*, SQLITE_READONLY on read-only media)
SQLITE_DISK_WORDS = ("database or disk is full", "disk i/o error", "readonly database")


class StoreIOError(UsageError):
    """The disk under the store or a report failed: not bad data, not a bug, and not the store's fault.
    `why` is the short cause ("No space left on device") for messages that wrap this one."""

    def __init__(self, message: str, why: str | None = None):
        super().__init__(message)
        self.why = why or message


def disk_problem(e: BaseException) -> str | None:
    """A short description when `e` is the disk failing, else None."""
    if isinstance(e, StoreIOError):
        return e.why
    if isinstance(e, OSError) and e.errno in DISK_ERRNOS:
        return e.strerror or os.strerror(e.errno)
    if isinstance(e, sqlite3.OperationalError) and any(w in str(e).lower() for w in SQLITE_DISK_WORDS):
        return str(e)
    return None


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`. On failure the temp
    file is removed (a half-written checkpoint on a full disk would eat the space that is short) and
    `path` keeps its previous content."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        with open(tmp, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        if (why := disk_problem(e)) is not None and not isinstance(e, StoreIOError):
            raise StoreIOError(f"cannot write {str(path)!r}: {why}", why=f"{why}, writing {path.name}") from None
        raise


def lock_run(folder: Path) -> int | None:
    """Take the run's writer lock (`folder/.writer.lock`, exclusive, non-blocking) and return its
    descriptor, held until `unlock` or this process ends (the OS drops it on any exit, SIGKILL too,
    so a crashed run never stays locked). None: another process holds it. Local disks and NFS honour
    flock across processes and hosts."""
    fd = os.open(folder / ".writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unlock(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases its flock


def connect_readonly(db_path: Path) -> sqlite3.Connection:
    """Open the store for reading only (mode=ro: even root cannot write through it). SQLite reads a
    WAL database only where it can create or open the -shm file; on read-only media without one
    (the last writer closed cleanly) `immutable=1` reads the main file, which then holds every commit.
    With a -wal file left (a writer crashed) immutable would miss its commits: say so instead."""
    uri = db_path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # SQLite opens lazily: read once
        return db
    except sqlite3.OperationalError as e:
        db.close()
        if "readonly" not in str(e) and "unable to open" not in str(e):
            raise
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreIOError(f"{str(db_path)!r} sits on read-only media with writes not yet merged into it "
                           f"({wal.name}); open it once where it is writable, or copy the folder to one")
    db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return db


__all__ = ["StoreIOError", "disk_problem", "atomic_write", "lock_run", "unlock", "connect_readonly"]
