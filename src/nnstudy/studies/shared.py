"""What studies share, so that no study imports another: the activations, softmax and optimizers
studies' two datasets at each profile, steps to reach a target, the best row of a grid, a model's
outputs on a split, small tensor files kept in a run's folder (predictions, weights) so figures
read them from the store, a child run for training outside `fit` (autoencoder, pretraining), and
the report's number-or-text helpers.

Both datasets carry a validation split: curves, steps-to-target and every choice (best learning
rate, temperature) use it; the test split is scored once, at the end.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch
import torch.nn as nn

from nnstudy.config import TrainConfig
from nnstudy.evidence import lookup, ms, num, sentence
from nnstudy.store import Store, atomic_write
from nnstudy.studies import Profile, StudyContext
from nnstudy.train import outputs


@dataclass(frozen=True)
class Sizes(Profile):
    """The two datasets of the activations, softmax and optimizers studies at one profile."""

    spiral_n: int  # spiral points per class
    spiral_steps: int  # full-batch steps
    fashion_subset: int  # Fashion-MNIST training images (0: all 60,000 minus validation)
    fashion_epochs: int  # epochs of mini-batches of 128


SIZES = {
    "quick": Sizes(spiral_n=150, spiral_steps=300, fashion_subset=2000, fashion_epochs=3),
    "default": Sizes(spiral_n=400, spiral_steps=800, fashion_subset=8000, fashion_epochs=3),
    "full": Sizes(spiral_n=1000, spiral_steps=3000, fashion_subset=0, fashion_epochs=15),
}


def sizes_of(profile: str | Sizes) -> Sizes:
    """A profile's name (the shared SIZES) or a study's own Sizes."""
    return SIZES[profile] if isinstance(profile, str) else profile


def spiral_config(profile: str | Sizes, seed: int, **kw) -> TrainConfig:
    """The week's spiral (3 arms, noise 0.2), a fresh draw per seed: 20% test, then 20% of the
    rest for validation; full batch, held-out accuracy every 10 steps."""
    s = sizes_of(profile)
    base = dict(dataset="spiral", n_per_class=s["spiral_n"], test_frac=0.2, val_frac=0.2, seed=seed,
                data_seed=seed, steps=s["spiral_steps"], eval_every=10, width=100, depth=1, checkpoint=False)
    return TrainConfig(**{**base, **kw})


def fashion_config(profile: str | Sizes, seed: int, **kw) -> TrainConfig:
    """Fashion-MNIST: one fixed training subset (data_seed 0, so batched members share one copy),
    10% of it for validation; seeds vary initialisation and batch order. Validation accuracy about
    4 times an epoch."""
    s = sizes_of(profile)
    n = (s["fashion_subset"] or 60000) * 0.9
    per_epoch = max(1, int(n // 128))
    base = dict(dataset="fashion-mnist", train_subset=s["fashion_subset"], val_frac=0.1, data_seed=0,
                seed=seed, epochs=s["fashion_epochs"], batch_size=128, eval_every=max(1, per_epoch // 4),
                width=128, depth=2, checkpoint=False)
    return TrainConfig(**{**base, **kw})


def steps_to(records: list[tuple], target: float, split: str = "val", name: str = "acc") -> int | None:
    """The first recorded step at which `split` `name` reached `target` (None: never)."""
    hits = [s for s, sp, n, v in records if sp == split and n == name and v is not None and v >= target]
    return min(hits) if hits else None


def save_tensors(store: Store, run_id: str, filename: str, tensors: dict) -> None:
    """A dict of tensors (and plain numbers/strings) into the run's folder, written atomically;
    tensors are detached and moved to the CPU first, so the file loads anywhere."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in tensors.items()}, buf)
    atomic_write(store.run_dir(run_id) / filename, buf.getvalue())


def record_run(ctx: StudyContext, cfg: TrainConfig, name: str, work) -> tuple[str, dict]:
    """One child run for a training that does not go through `fit`: `work()` returns
    (status, summary dict with "final", records, state_dict or None, error). Marked failed on any
    exception, so a crash never reads as complete. Returns (run id, summary)."""
    run_id = ctx.store.create_run("train", cfg.to_dict(), study=ctx.study, name=name, parent=ctx.run_id,
                                  seed=cfg.seed, digest=cfg.digest(), device=ctx.device)
    try:
        status, summary, records, state, error = work()
        ctx.store.log_metrics(run_id, records)
        if state is not None:
            save_tensors(ctx.store, run_id, "model.pt", state)
    except BaseException as e:
        ctx.store.finish(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    ctx.store.finish(run_id, status, summary, error=error)
    return run_id, summary


def load_tensors(store: Store, run_id: str, filename: str) -> dict:
    """weights_only: a file from elsewhere can hold tensors and plain data, never code."""
    return torch.load(store.run_dir(run_id) / filename, map_location="cpu", weights_only=True)


def outputs_on(model: nn.Module, data, split: str, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's raw outputs (N, C) float32 and labels (N,) on one split, in eval mode, on the CPU."""
    x, y = data.splits()[split]
    return torch.cat(list(outputs(model.cpu(), data, x, chunk))), y


def best_by(rows: list[dict], key: str) -> dict:
    """The row with the highest mean of `key` (a mean_std dict); rows without one are skipped."""
    ok = [r for r in rows if r[key]["mean"] is not None]
    return max(ok, key=lambda r: r[key]["mean"]) if ok else rows[0]


def mean_curves(store, rows: list[dict], split: str, name: str) -> tuple[dict, dict]:
    """{label: (steps, mean)} and {label: (steps, lo, hi)} over each row's seeds (a row: "name" and
    its seeds' "runs"), for plots.plot_curves."""
    from nnstudy import plots  # matplotlib only when drawing: studies import this module to train

    curves, bands = {}, {}
    for row in rows:
        series = [store.series(r, split, name) for r in row["runs"]]
        series = [s for s in series if s[0]]
        if series:
            steps, mean, std = plots.curve_band(series)
            curves[row["name"]], bands[row["name"]] = (steps, mean), (steps, mean - std, mean + std)
    return curves, bands


# -- report helpers: numbers that carry their evidence, or plain text where the store has none -----
def ms_or(run: dict, key: str, fmt: str = ".3f", missing: str = "n/a"):
    """evidence.ms for a stored mean ± std, or the text `missing` where the mean is None (a
    target never reached, no complete run): the report checks numbers, and None is not one."""
    return ms(run, key, fmt) if lookup(run["summary"], key).get("mean") is not None else missing


def num_or(run: dict, key: str, fmt: str = ".3f", missing: str = "n/a"):
    return num(run, key, fmt) if lookup(run["summary"], key) is not None else missing


def steps_phrase(run: dict, key: str, k: int, named: bool = True):
    """'ReLU 90 ± 17 steps (3 of 3 seeds)' or 'sigmoid never (0 of 3 seeds)' (named=False: no name)."""
    base = f"{key}.{k}.to_target"
    name = run["summary"][key][k]["name"] if named else ""
    count = sentence("{r} of {o} seeds", r=num(run, f"{base}.reached", "d"), o=num(run, f"{base}.of", "d"))
    steps = ms_or(run, f"{base}.steps", ".0f", missing="")
    if steps == "":
        return sentence("{a}never ({c})", a=name and name + " ", c=count)
    return sentence("{a}{s} steps ({c})", a=name and name + " ", s=steps, c=count)


def figure_list(store: Store, run: dict, captions: dict) -> list[tuple]:
    """[(path, caption)] in the captions' order, then any other figure in the run folder."""
    folder = store.run_dir(run["id"])
    out = [(folder / name, cap) for name, cap in captions.items()]
    return out + [(p, "") for p in sorted(folder.glob("*.png")) if p.name not in captions]


def mean_of(run: dict, key: str) -> float:
    """The stored mean at `key` for ranking (missing: -inf), never shown as a number itself."""
    m = lookup(run["summary"], key).get("mean")
    return float("-inf") if m is None else m
