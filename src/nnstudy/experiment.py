"""config -> data + model -> train.fit -> store: one run, as `nnstudy train` and every study run it
(flax's `train_and_evaluate(config, workdir)`: the thin CLI calls this, and so do the tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from nnstudy import distributed
from nnstudy.config import TrainConfig
from nnstudy.data import Dataset, load_dataset
from nnstudy.errors import UsageError
from nnstudy.models import build_model, count_params
from nnstudy.optim import resolve_device
from nnstudy.store import Store, atomic_write
from nnstudy.train import FitResult, fit, load_checkpoint

SAVE_WEIGHTS_MAX = 5_000_000  # parameters: small models keep their final weights (for drawing)


@dataclass
class RunResult:
    run_id: str | None
    status: str
    final: dict[str, float]
    config: TrainConfig
    steps: int
    seconds: float
    params: int
    error: str | None = None
    records: list[tuple] = field(default_factory=list, repr=False)
    model: torch.nn.Module | None = field(default=None, repr=False)

    def summary(self) -> dict:
        return {"run": self.run_id, "status": self.status, "final": self.final, "steps": self.steps,
                "train_seconds": round(self.seconds, 4), "params": self.params, "error": self.error}


def train_and_evaluate(cfg: TrainConfig, store: Store | None = None, *, study: str | None = None,
                       parent: str | None = None, name: str | None = None, data: Dataset | None = None,
                       model: torch.nn.Module | None = None, hook: Callable | None = None,
                       log: Callable[[str], None] | None = None, resume: str | None = None) -> RunResult:
    """Train one config and record it. `data`/`model` may be passed in (the spiral reproduction
    builds both from the week's single random stream); otherwise the model is built after
    torch.manual_seed(cfg.seed). With `resume=RUN` the run continues from its last checkpoint.
    Under torchrun (nnstudy.distributed) every rank trains; rank 0 alone writes the store."""
    if data is None:
        data = load_dataset(cfg)  # before the run exists: bad data leaves nothing behind
    if model is None:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, data.input_shape, data.num_classes)
        if cfg.extra.get("whiten"):
            whiten_stem(model, data)
    device = resolve_device(cfg.device)
    run_id, state = None, None
    if store is not None and resume:
        run_id = store.get(resume)["id"]
        state = load_checkpoint(store.run_dir(run_id) / "checkpoint.pt")
        for key in ("model", "opt", "gen", "rng", "step", "epoch", "records"):
            if not isinstance(state, dict) or key not in state:
                raise UsageError(f"{store.run_dir(run_id) / 'checkpoint.pt'} is not an nnstudy checkpoint "
                                 f"(no {key!r}); start the run afresh")
        if distributed.is_main():
            store.reopen(run_id)
            store.log_metrics(run_id, state["records"])
    elif store is not None and distributed.is_main():
        run_id = store.create_run("train", cfg.to_dict(), study=study, name=name, parent=parent,
                                  seed=cfg.seed, digest=cfg.digest(), device=str(device))
    if not distributed.is_main():  # the other ranks train and read; they never write
        store, log = None, None
    flush = (lambda recs: store.log_metrics(run_id, recs)) if store is not None else None
    ckpt = store.run_dir(run_id) / "checkpoint.pt" if store is not None else None
    try:
        res: FitResult = fit(model, data, cfg, hook=hook, log=log, checkpoint=ckpt, resume=state, flush=flush)
    except BaseException as e:  # a bug, Ctrl-C or bad data mid-run: never leave it reading as running
        if store is not None:
            store.finish(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    out = RunResult(run_id, res.status, res.final, cfg, res.steps, res.seconds, count_params(model),
                    res.error, res.records, model)
    if store is not None:
        finish_run(store, out, data)
    return out


def finish_run(store: Store, r: RunResult, data: Dataset, **extra) -> None:
    """Final weights (small models) and the summary: how every finished run is stored, solo or batched."""
    if r.params <= SAVE_WEIGHTS_MAX:
        import io

        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in r.model.state_dict().items()}, buf)
        atomic_write(store.run_dir(r.run_id) / "model.pt", buf.getvalue())
    store.finish(r.run_id, r.status, {**r.summary(), "dataset": data.name, "n_train": len(data.x_train),
                                      "n_val": 0 if data.x_val is None else len(data.x_val),
                                      "n_test": len(data.x_test), **extra}, error=r.error)


def load_weights(store: Store, run_id: str) -> dict | None:
    """A stored run's final weights (a state dict on the CPU), or None where it kept none. The one
    place a run's weights are read: weights_only, so a file from elsewhere runs no code."""
    folder = store.run_dir(run_id)
    if (folder / "model.pt").is_file():
        return torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    if (folder / "checkpoint.pt").is_file():  # big models keep no model.pt; the last epoch's is final
        return torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    return None


def load_run_model(store: Store, run_id: str, missing_ok: bool = False
                   ) -> tuple[torch.nn.Module, TrainConfig, Dataset] | None:
    """Rebuild a stored run's model with its final weights (for drawing; no training): (model in
    eval mode, config, dataset). A run that kept no weights: None if missing_ok, else an error."""
    run = store.get(run_id)
    cfg = TrainConfig.from_dict(run["config"], where=f"run {run['id']}")
    state = load_weights(store, run["id"])
    if state is None:
        if missing_ok:
            return None
        raise FileNotFoundError(f"run {run['id']} kept no weights (model.pt or checkpoint.pt) in "
                                f"{store.run_dir(run['id'])}")
    data = load_dataset(cfg)
    model = build_model(cfg, data.input_shape, data.num_classes)
    model.load_state_dict(state)
    return model.eval(), cfg, data


def whiten_stem(model: torch.nn.Module, data: Dataset, n: int = 5000) -> None:
    """airbench's stem: 2x2-patch whitening from (at most) n training images, frozen."""
    from nnstudy.models.cnn import AirBench, init_whitening

    if isinstance(model, AirBench):
        init_whitening(model, data.prepare(data.x_train[:n]))
