"""config -> data + model -> train.fit -> store: one run, as `nnstudy train` and every study run it
(flax's `train_and_evaluate(config, workdir)`: the thin CLI calls this, and so do the tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from nnstudy import distributed
from nnstudy.config import TrainConfig
from nnstudy.data import Dataset, load_dataset
from nnstudy.disk import StoreIOError, disk_problem
from nnstudy.errors import UsageError
from nnstudy.models import build_model, count_params
from nnstudy.optim import resolve_device
from nnstudy.store import Store, atomic_write
from nnstudy.train import FitResult, check_batch_norm, fit, load_checkpoint

SAVE_WEIGHTS_MAX = 5_000_000  # parameters: small models keep their final weights (for drawing)
LOSS_ROSE_FACTOR = 1.5  # a final train loss this many times the first step's is "far above": the run blew up
CHANCE_SE = 2.0  # train accuracy within this many binomial standard errors of chance is "no better than chance"


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
    warnings: list[str] = field(default_factory=list)  # "<code>: <sentence>" (learning_warnings)

    def summary(self) -> dict:
        return {"run": self.run_id, "status": self.status, "final": self.final, "steps": self.steps,
                "train_seconds": round(self.seconds, 4), "params": self.params, "error": self.error,
                "warnings": self.warnings}


def run_result(run_id: str | None, res: FitResult, cfg: TrainConfig, model: torch.nn.Module,
               data: Dataset) -> RunResult:
    """A finished fit as a RunResult, judged by `learning_warnings`: the one place where solo
    (train_and_evaluate) and batched (batched.train_group) runs get their warnings."""
    return RunResult(run_id, res.status, res.final, cfg, res.steps, res.seconds, count_params(model), res.error,
                     res.records, model, learning_warnings(res, data.y_train) if res.status == "complete" else [])


def learning_warnings(res: FitResult, y_train: torch.Tensor) -> list[str]:
    """What a complete run's numbers say it did not do. Each warning is "<code>: <sentence>":

    loss-rose  the final train loss (eval mode, after the last update) is over LOSS_ROSE_FACTOR x the
               first step's: the optimizer blew the net up (a too-high lr) without reaching NaN;
    at-chance  the final train accuracy is no better than always predicting the commonest training
               class (within CHANCE_SE binomial standard errors): the net learned nothing, not even
               its training data. On balanced classes that commonest share is 1 / classes.

    Why warnings and not a status: a status says whether a run finished and its numbers are real
    measurements (running, complete, diverged, failed, crashed), and studies, sweeps and `nnstudy all`
    act on it. A net that stays at chance is a real, finished measurement that studies make on
    purpose (the vanishing study's depth-10 sigmoid MLP): it must stay in their averages as it is.
    So the run stays `complete` and carries its warnings, stored in its summary and shown by
    `nnstudy train`, `runs`, `show` and the report's run table."""
    out = []
    first = next((r[3] for r in sorted(res.records, key=lambda r: r[0]) if r[1] == "train" and r[2] == "loss"), None)
    last = res.final.get("train_loss")
    if first is not None and last is not None and first > 0 and last > LOSS_ROSE_FACTOR * first:
        out.append(f"loss-rose: the final train loss {last:.5g} is {last / first:.3g}x the first step's "
                   f"({first:.5g}): the run blew up; try a smaller lr")
    acc, n = res.final.get("train_acc"), len(y_train)
    if acc is not None and n:
        p = torch.bincount(y_train.cpu().long()).max().item() / n  # always predicting the commonest class
        if acc <= p + CHANCE_SE * (p * (1 - p) / n) ** 0.5:
            out.append(f"at-chance: after {res.steps} steps the train accuracy {acc:.4f} is no better than "
                       f"always predicting the commonest class ({p:.4f}): the net has not learned at this "
                       "budget (train longer, or check the lr and the initialisation)")
    return out


def train_and_evaluate(cfg: TrainConfig, store: Store | None = None, *, study: str | None = None,
                       parent: str | None = None, name: str | None = None, data: Dataset | None = None,
                       model: torch.nn.Module | None = None, hook: Callable | None = None,
                       log: Callable[[str], None] | None = None, resume: str | None = None) -> RunResult:
    """Train one config and record it. `data`/`model` may be passed in (the spiral reproduction
    builds both from the week's single random stream); otherwise the model is built after
    torch.manual_seed(cfg.seed). With `resume=RUN` the run continues from its last checkpoint.
    Under torchrun (nnstudy.distributed) every rank trains; rank 0 alone writes the store."""
    resumed = store.get(resume) if store is not None and resume else None
    if resumed is not None:  # refuse before loading data: a complete run is never reopened
        if why := store.resume_refusal(resumed, writer=distributed.is_main()):
            raise UsageError(why)
    if data is None:
        data = load_dataset(cfg)  # before the run exists: bad data leaves nothing behind
    if model is None:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, data.input_shape, data.num_classes)
        if callable(init := getattr(model, "init_from_data", None)):  # a model's own data-dependent init
            init(data)
    check_batch_norm(model, cfg, len(data.x_train))  # before the run exists, as bad data is
    device = resolve_device(cfg.device)
    run_id, state = None, None
    if resumed is not None:
        run_id = resumed["id"]
        state = _resume_state(store, run_id, cfg, data)
        if distributed.is_main():
            store.reopen(run_id, state["records"])  # refuses a run another live process holds
    elif store is not None and distributed.is_main():
        run_id = store.create_run("train", cfg.to_dict(), study=study, name=name, parent=parent,
                                  seed=cfg.seed, digest=cfg.digest(), device=str(device))
    if not distributed.is_main():  # the other ranks train and read; they never write
        store, log = None, None
    flush = (lambda recs: store.log_metrics(run_id, recs)) if store is not None else None
    ckpt = store.run_dir(run_id) / "checkpoint.pt" if store is not None else None
    try:
        res: FitResult = fit(model, data, cfg, hook=hook, log=log, checkpoint=ckpt, resume=state, flush=flush)
        out = run_result(run_id, res, cfg, model, data)
        if store is not None:
            finish_run(store, out, data)
    except BaseException as e:  # a bug, Ctrl-C, bad data or a full disk mid-run: never leave it reading as running
        if store is not None:
            _mark_failed(store, run_id, e)
            if (why := disk_problem(e)) is not None:  # one line, and the way back once space is freed
                again = (f"`nnstudy train --resume {run_id}` continues it" if ckpt.exists()
                         else "it has no checkpoint to resume from: run it again")
                raise StoreIOError(f"the disk failed while run {run_id} was training ({why}); the run is "
                                   f"marked failed. Free space or check the disk; then {again}") from None
        raise
    return out


def _resume_state(store: Store, run_id: str, cfg: TrainConfig, data: Dataset) -> dict:
    """The run's checkpoint, or one line saying why there is none."""
    path = store.run_dir(run_id) / "checkpoint.pt"
    if not path.exists():
        if cfg.batch_size == 0 or cfg.batch_size >= len(data.x_train):
            why = "it trains full-batch, and full-batch runs keep no checkpoint"
        elif not cfg.checkpoint:
            why = "it was trained with --no-checkpoint"
        else:
            why = "it never finished an epoch"
        raise UsageError(f"run {run_id} cannot be resumed: {why}; train it again instead")
    state = load_checkpoint(path)
    for key in ("model", "opt", "gen", "rng", "step", "epoch", "records"):
        if not isinstance(state, dict) or key not in state:
            raise UsageError(f"{path} is not an nnstudy checkpoint (no {key!r}); start the run afresh")
    return state


def _mark_failed(store: Store, run_id: str, e: BaseException) -> None:
    """Best effort: on a full disk even this write can fail, and then the run reads `crashed` as soon
    as this process ends, which is as true; the original error is what the user must see."""
    try:
        store.finish(run_id, "failed", error=f"{type(e).__name__}: {e}")
    except Exception:
        pass


def finish_run(store: Store, r: RunResult, data: Dataset, **extra) -> None:
    """Final weights (small models) and the summary: how every finished run is stored, solo or batched."""
    if r.params <= SAVE_WEIGHTS_MAX:
        import io

        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in r.model.state_dict().items()}, buf)
        atomic_write(store.run_dir(r.run_id) / "model.pt", buf.getvalue())
    # data_source: the folder or file the images came from (the config holds only what was asked for)
    source = {"data_source": data.meta["source"]} if "source" in data.meta else {}
    store.finish(r.run_id, r.status, {**r.summary(), "dataset": data.name, "n_train": len(data.x_train),
                                      "n_val": 0 if data.x_val is None else len(data.x_val),
                                      "n_test": len(data.x_test), **source, **extra}, error=r.error)


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
