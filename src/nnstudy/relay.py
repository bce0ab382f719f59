"""Training away from the store: a sweep task trains into a `RecordingStore` and returns what it
recorded; the command's own process `replay`s it into the real store.

Why: the store has one writer, the process the user started (its SQLite file and run folders need no
shared filesystem then, and a task that dies leaves nothing half-written). A worker, local or on
another machine, runs `train_task`: `batched.train_many` trains the task's configs exactly as it would
into a Store, but the RecordingStore keeps the metric rows, the finish (status, summary, error) and
the run folder's files (model.pt; checkpoint.pt where a run keeps one) and hands them back as plain
data. The runs themselves were created by the command's process before the task was sent (so a
cancelled task's runs can be marked), and the task records under those ids (keyed by config digest).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nnstudy.config import TrainConfig
from nnstudy.store import Store, atomic_write, environment


class RecordingStore:
    """The part of Store that training writes through (create_run, log_metrics, finish, run_dir),
    kept in memory and a temporary folder instead of the store."""

    def __init__(self, run_ids: dict[str, str], folder: str):
        self.run_ids = run_ids  # config digest -> the run id the command's process created
        self.home = Path(folder)
        self.recorded: dict[str, dict] = {}

    def create_run(self, kind: str, config: dict, *, digest: str | None = None, device: str = "cpu", **_) -> str:
        run_id = self.run_ids[digest]
        self.run_dir(run_id).mkdir()
        env = environment(device) | {"worker_pid": os.getpid()} | _ray_node()
        self.recorded[run_id] = {"metrics": [], "env": env}
        return run_id

    def log_metrics(self, run_id: str, rows) -> None:
        self.recorded[run_id]["metrics"] += [tuple(r) for r in rows]

    def finish(self, run_id: str, status: str, summary: dict | None = None, error: str | None = None) -> None:
        self.recorded[run_id].update(status=status, summary=summary or {}, error=error)

    def run_dir(self, run_id: str) -> Path:
        return self.home / run_id

    def payload(self) -> dict[str, dict]:
        """run id -> metrics, env, status, summary, error and files ({name: bytes}) of each finished run."""
        for run_id, rec in self.recorded.items():
            folder = self.run_dir(run_id)
            rec["files"] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())
                            if p.is_file() and not p.name.startswith(".")}
        return self.recorded


def _ray_node() -> dict:
    """The Ray node that trained the run, when a Ray worker did (its host is in the env already)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return {}
    return {"ray_node": ray.get_runtime_context().get_node_id()}


def train_task(cfg_dicts: list[dict], names: list[str], run_ids: dict[str, str], study: str, verbose: bool,
               *, threads: int = 0) -> dict[str, dict]:
    """One sweep task (a batched group or a solo config), in whatever process runs it: train on
    `threads` torch threads (0: torch's own) and return the RecordingStore's payload. An error
    propagates: the caller marks the task's runs."""
    import sys

    import torch

    from nnstudy.batched import train_many

    if threads:
        torch.set_num_threads(threads)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else None
    with tempfile.TemporaryDirectory(prefix="nnstudy-task-") as folder:
        rec = RecordingStore(run_ids, folder)
        train_many([TrainConfig.from_dict(d) for d in cfg_dicts], rec, study=study, names=names, log=log)
        return rec.payload()


def replay(store: Store, run_id: str, rec: dict) -> dict:
    """Write one run a task recorded: metrics, then files, then the finish (the row reads complete
    only once everything else is in). Returns the sweep's row for the run."""
    store.log_metrics(run_id, rec["metrics"])
    for name, data in rec["files"].items():
        atomic_write(store.run_dir(run_id) / name, data)
    store.finish(run_id, rec["status"], rec["summary"], error=rec["error"], env=rec["env"])
    s = rec["summary"]
    return {"run": run_id, "status": rec["status"], "final": s.get("final", {}), "error": rec["error"],
            "warnings": s.get("warnings", [])}
