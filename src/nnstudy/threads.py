"""Thread counts for small models on a shared CPU: torch's and NumPy's BLAS, set for a block, restored after.

The nets of the from-scratch studies are small: per-operation overhead, not arithmetic, sets their
speed, and on a loaded machine a second thread costs far more than it gives: threads that
spin-wait for each other on a shared CPU make each step several times slower (benchmarks/results/notes.md).
"""

from __future__ import annotations

import contextlib
import ctypes
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
