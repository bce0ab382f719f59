"""Thread counts on a shared CPU: torch's and NumPy's BLAS, set for a block, restored after; and
the count a training run picks for itself from the cores other processes leave free.

The nets of the from-scratch studies are small: per-operation overhead, not arithmetic, sets their
speed, and on a loaded machine a second thread costs far more than it gives: threads that
spin-wait for each other on a shared CPU make each step several times slower (benchmarks/results/notes.md).

Bigger conv nets do gain from a second core, but only while it is free: torch splits each op
evenly over its threads and waits for the last, so one thread on a core that another process
also wants holds every op back (a Fashion-MNIST conv net at batch 256 in bf16, Intel Xeon, one
core kept busy: 1 thread ~900-1,500 images/s, 2 threads 100-370). `ThreadPicker` therefore
counts the cores other processes used since its last look (/proc/stat less this process's own
CPU time, so nothing waits to measure) and trains on the ones left. Threads that wait for each
other sleep instead of spinning: nnstudy/__init__.py sets OMP_WAIT_POLICY=PASSIVE before torch
loads OpenMP (a user's own setting wins), so a waiting thread hands its core to whoever needs it.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import time
from pathlib import Path

import numpy as np
import torch


@contextlib.contextmanager
def torch_threads(n: int):
    """torch on `n` CPU threads inside the block (0: leave the count alone)."""
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def numpy_blas_threads(n: int):
    """Run NumPy's OpenBLAS on `n` threads inside the block, then restore it. Small matrix products
    on a shared CPU run many times faster on one thread (benchmarks/results/notes.md).
    Best effort: a no-op where NumPy links another BLAS."""
    fns = openblas_thread_functions()
    if fns is None:
        yield
        return
    set_threads, get_threads = fns
    old = get_threads()
    set_threads(n)
    try:
        yield
    finally:
        set_threads(old)


def openblas_thread_functions():
    """(set, get) of the OpenBLAS NumPy ships (numpy.libs), or None where there is none."""
    libs = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("lib*openblas*.so*"))
    for path in libs:
        lib = ctypes.CDLL(str(path))  # the copy NumPy already loaded: dlopen returns the same handle
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                s, g = (getattr(lib, f"{prefix}_{k}_num_threads{suffix}", None) for k in ("set", "get"))
                if s is not None and g is not None:
                    s.argtypes, g.restype = [ctypes.c_int], ctypes.c_int
                    return s, g
    return None


# -- the thread count a run picks for itself ------------------------------------------------------
TAKEN = 0.25  # a core counts as taken when other processes used more than this fraction of one
RECHECK_SECONDS = 2.0  # ThreadPicker: seconds between looks at the load (a look costs ~0.1 ms)


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows: no affinity call
        return os.cpu_count() or 1


def choose_threads(cores: int, others: float) -> int:
    """Threads for a run that may use `cores` CPUs while other processes keep `others` cores busy
    (in cores: 1.0 is one core fully used): one per core left free, at least one. A core counts as
    taken once others use more than TAKEN of it, since an op waits for its slowest thread: with
    2 cores and others at 0.2, 2 threads; at 0.3 or 1.0, 1."""
    if cores <= 1:
        return 1
    taken = max(0, math.ceil(others - TAKEN))
    return max(1, min(cores, cores - taken))


def read_cpu_ticks(cpus: set[int] | None = None, path: str = "/proc/stat") -> tuple[int, int] | None:
    """(busy, total) clock ticks summed over `cpus` (all when None) since boot, from /proc/stat;
    None where there is no such file (macOS, Windows)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        name, *vals = line.split()
        if not name.startswith("cpu") or name == "cpu" or (cpus is not None and int(name[3:]) not in cpus):
            continue
        v = [int(x) for x in vals]
        idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
        busy += sum(v[:8]) - idle  # user nice system idle iowait irq softirq steal; guest is inside user
        total += sum(v[:8])
    return (busy, total) if total else None


class ThreadPicker:
    """Picks torch's thread count from the cores other processes left free since the last look.

    others = (busy CPU time of the usable cores) - (this process's CPU time), over the interval,
    in cores. `pick()` returns choose_threads(cores, others) once at least RECHECK_SECONDS have
    passed (None before that, or where /proc/stat is missing); the first call only sets the mark.
    read and clock are injectable for tests: read() -> (busy_ticks, total_ticks); clock() ->
    (wall seconds, this process's CPU seconds)."""

    def __init__(self, cores: int | None = None, read=None, clock=None, every: float = RECHECK_SECONDS):
        try:
            cpus = os.sched_getaffinity(0)
        except (AttributeError, OSError):
            cpus = None
        self.cores = cores or usable_cores()
        self.read = read or (lambda: read_cpu_ticks(cpus))
        self.clock = clock or (lambda: (time.perf_counter(), time.process_time()))
        self.every = every
        self.mark = None  # (ticks, wall, cpu) at the last look

    def others(self) -> float | None:
        """Cores other processes used since the last look (None at the first look)."""
        ticks, (wall, cpu) = self.read(), self.clock()
        if ticks is None:
            return None
        last, self.mark = self.mark, (ticks, wall, cpu)
        if last is None or ticks[1] <= last[0][1] or wall <= last[1]:
            return None
        busy = (ticks[0] - last[0][0]) / (ticks[1] - last[0][1]) * self.cores  # cores busy, ours included
        return max(0.0, busy - (cpu - last[2]) / (wall - last[1]))

    def first(self, seconds: float = 0.2) -> int | None:
        """The count at a run's start: a look, a pause of `seconds` (this process idle), a second look."""
        self.others()
        time.sleep(seconds)
        return self.pick(now=True)

    def pick(self, now: bool = False) -> int | None:
        """A thread count when it is time to look again (or `now`), else None."""
        if not now and self.mark is not None and self.clock()[0] - self.mark[1] < self.every:
            return None
        others = self.others()
        return None if others is None else choose_threads(self.cores, others)
