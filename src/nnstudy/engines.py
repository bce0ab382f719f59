"""Where a sweep's tasks run: in this process, in a local pool of worker processes, or on Ray.

The sweep (sweep.run_sweep) is one loop over one interface; an engine only moves a task's function
and arguments to where it runs and brings its result or error back:

    slots              how many tasks it runs at once (a sweep splits big groups to fill them)
    window             how many tasks the sweep keeps in flight (sent, not yet collected)
    submit(fn, *args, cpus, cuda) -> handle
                       start fn(*args, threads=T): T is the torch threads the task may use; cpus
                       and cuda are what it needs (Ray reserves them; the local pool ignores them)
    wait(handles)      block until one or more are done: [(handle, result, error)], error None or the
                       exception the task raised (a Ray task's own exception, not Ray's wrapper)
    cancel(handles)    stop them (Ctrl-C); their results are never delivered
    close()            release the workers; a Ray this engine started is shut down

The store is never an engine's business: results come back to the caller, which writes them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait

from nnstudy.errors import UsageError

ENGINES = ("local", "ray")
MAX_RETRIES = 3  # Ray: a task whose worker or node dies runs again, at most this many more times
GPU_SHARE = 0.25  # Ray: a task that trains on CUDA reserves this much of a GPU (small models share one)
PROBE_SECONDS = 5.0  # how long to wait for the Ray head to answer before calling it unreachable
RAY_FIX = ("start one there with `ray start --head` (other machines join with `ray start --address=HEAD:6379`), "
           "or pass the head's address as --address HOST:6379")


def open_engine(name: str, *, jobs: int = 1, address: str | None = None):
    if name not in ENGINES:
        raise UsageError(f"--engine {name!r} is not valid; valid: {', '.join(ENGINES)}")
    if name == "local":
        if address:
            raise UsageError("--address is a Ray cluster's address; add --engine ray to use it")
        return LocalEngine(jobs)
    if jobs != 1:
        raise UsageError("--jobs sets the local pool's workers; on Ray the cluster's CPUs decide (drop --jobs)")
    return RayEngine(address)


class LocalEngine:
    """jobs=1: each task runs in this process when submitted. jobs > 1: a pool of that many worker
    processes (spawned: a fresh interpreter each, never a forked copy of torch's threads), each on
    its share of the CPU's threads."""

    def __init__(self, jobs: int):
        if jobs < 1:
            raise UsageError(f"--jobs {jobs}: need at least 1 worker")
        self.slots = jobs
        self.window = 2 * jobs if jobs > 1 else 1  # a task queued behind each running one; jobs=1 runs each as sent
        self.threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0  # 0: leave torch's own
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) if jobs > 1 else None
        self.done: dict[int, tuple] = {}  # jobs=1: handle -> (result, error)
        self.describe = f"{jobs} worker{'s' * (jobs > 1)}"

    def submit(self, fn, *args, cpus: int = 1, cuda: bool = False):
        if self.pool is not None:
            return self.pool.submit(fn, *args, threads=self.threads)
        handle = len(self.done)
        try:
            self.done[handle] = (fn(*args, threads=self.threads), None)
        except Exception as e:  # Ctrl-C is not a task's error: it goes up to the sweep
            self.done[handle] = (None, e)
        return handle

    def wait(self, handles) -> list[tuple]:
        if self.pool is None:
            return [(h, *self.done.pop(h)) for h in handles]
        finished, _ = futures_wait(handles, return_when=FIRST_COMPLETED)
        return [(f, None, f.exception()) if f.exception() else (f, f.result(), None) for f in finished]

    def cancel(self, handles) -> None:
        if self.pool is None:
            return
        for f in handles:
            f.cancel()
        # the stdlib cannot stop a running task: end the workers themselves, or exit waits for them
        for p in list(getattr(self.pool, "_processes", {}).values()):
            p.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """Tasks on a Ray cluster: the one at `address` (started with `ray start --head`), else Ray's own
    choice (RAY_ADDRESS, a Ray already running on this machine, or a local one for this command).
    A Ray this process already joined (ray.init before the sweep) is used as it is and left running."""

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise UsageError("--engine ray needs Ray, which is not installed in this Python: "
                             "pip install 'nnstudy[ray]' (or pip install ray)") from None
        self.ray = ray
        self.owned = not ray.is_initialized()
        if self.owned:
            if address and address not in ("auto", "local"):
                probe(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise UsageError(f"cannot join the Ray cluster at {address or 'this machine'!r} ({first}); "
                                 f"{RAY_FIX}") from None
        resources = ray.cluster_resources()
        self.slots = max(1, int(resources.get("CPU", 1)))
        self.window = 2 * self.slots  # one queued behind each running task: no worker waits for the driver
        self.gpus = resources.get("GPU", 0)
        self.remote = None
        self.describe = (f"Ray at {address or ray.get_runtime_context().gcs_address}, {self.slots} CPUs"
                         + (f", {self.gpus:g} GPUs" if self.gpus else ""))

    def submit(self, fn, *args, cpus: int = 1, cuda: bool = False):
        if self.remote is None:
            self.remote = self.ray.remote(fn)
        gpus = GPU_SHARE if cuda and self.gpus else 0
        return self.remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=MAX_RETRIES,
                                   retry_exceptions=False).remote(*args, threads=cpus)

    def wait(self, handles) -> list[tuple]:
        ray = self.ray
        ready: list = []
        while not ready:  # short waits: Ctrl-C reaches Python between them
            ready, _ = ray.wait(list(handles), num_returns=1, timeout=0.5)
        ready, _ = ray.wait(list(handles), num_returns=len(handles), timeout=0)  # everything done by now
        out = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref), None))
            except ray.exceptions.RayTaskError as e:  # the task raised: its own exception, as the pool gives it
                cause = getattr(e, "cause", None)
                out.append((ref, None, cause if isinstance(cause, Exception) else RuntimeError(str(e))))
            except ray.exceptions.RayError as e:  # its worker or node died MAX_RETRIES + 1 times
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                out.append((ref, None, RuntimeError(f"Ray gave up on the task after {MAX_RETRIES + 1} tries "
                                                    f"({type(e).__name__}: {first})")))
        return out

    def cancel(self, handles) -> None:
        for ref in handles:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished or its node is gone: nothing left to stop
                pass

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def probe(address: str) -> None:
    """A TCP connection to the head (host:port, or ray://host:port), so that an unreachable address
    is one line within PROBE_SECONDS: Ray itself keeps retrying for minutes."""
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--address {address!r} is not HOST:PORT (the head's address, e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS).close()
    except OSError as e:
        why = f"no answer in {PROBE_SECONDS:g} s" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise UsageError(f"cannot reach a Ray cluster at {address!r} ({why}); {RAY_FIX}") from None
