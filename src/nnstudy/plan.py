"""What a run does, settled before its first step: the step plan (steps, batches, evaluation
schedule), the record layout, which splits are measured, the batch-norm rule, autocast and memory
format. `train.fit` follows it, and so does the batched trainer (`batched.fit_group`), so the two
cannot drift apart: a member of a batched group steps, evaluates and records as its solo run would.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from nnstudy.data import Dataset
from nnstudy.errors import UsageError

FULL_BATCH_EVAL = 10  # full-batch runs: held-out evaluation every 10 steps unless cfg.eval_every says (a
# per-step evaluation cost ~9% of a spiral run's loop; 100 points draw a 1000-step curve well)

def autocast_for(cfg, device: torch.device):
    if device.type == "cuda" and cfg.amp in ("auto", "bf16", "native"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and (cfg.amp == "bf16" or cfg.amp == "native" and cpu_has_native_bf16()):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_has_native_bf16() -> bool:
    """The CPU multiplies bf16 in hardware (Intel AMX or AVX-512 bf16: Xeon since Cooper Lake, some
    AMD Zen 4 and later), where oneDNN's bf16 convolutions beat float32 (a Fashion-MNIST conv net's
    step 2.4x faster on a Xeon with AMX); elsewhere bf16 is emulated and slower than float32."""
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(check() for check in checks if check is not None)


def measured_splits(data: Dataset, train: bool = True) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The splits that hold examples: only these are evaluated and recorded (the training split
    only when `train`: TrainConfig.eval_train)."""
    return {s: xy for s, xy in data.splits().items() if len(xy[0]) and (train or s != "train")}


def unmeasured_finals(data: Dataset, metrics: tuple[str, ...] = ("loss", "acc"),
                      train: bool = True) -> dict[str, None]:
    """None (null in JSON) for each split that exists in name only (`--test-frac 0`), and for the
    training split when it is not scored (`train` False): it has no numbers and no metric rows,
    never a 0.0 that reads like a measured score of zero. `final` therefore always names train
    and test, and val when a validation split was carved out."""
    return {f"{s}_{m}": None for s in data.splits() if s not in measured_splits(data, train) for m in metrics}


def held_out_split(data: Dataset) -> str | None:
    """The split evaluated during training: val when carved out; toy sets fall back to test (the
    week's notebook watched it); image sets never peek at test; None when it holds no examples."""
    if data.x_val is not None and len(data.x_val):
        return "val"
    return "test" if not data.is_image and len(data.x_test) else None


CHANNELS_LAST_MIN_WIDTH = 32  # CPU: channels_last for conv nets with a conv this wide (see channels_last_pays)


def channels_last_pays(model: nn.Module, device: torch.device) -> bool:
    """On CUDA, always for conv nets. On the CPU, where oneDNN's NHWC kernels win for wide convs only:
    the wide nets (convnet-small, convnet-fast, alexnet) train faster in channels_last, the narrow
    ones (LeNet-5, with batch norm especially) gain little or lose (benchmarks/step_options.py;
    results/step_options.md)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        return False
    return device.type == "cuda" or max(c.out_channels for c in convs) >= CHANNELS_LAST_MIN_WIDTH


def plan_steps(cfg, n_train: int, batch_norm: bool = False) -> tuple[int, int]:
    """(total optimizer steps, steps per epoch). With batch norm, a last batch of one example is
    dropped (see check_batch_norm)."""
    bs = cfg.batch_size or n_train
    per_epoch = math.ceil(n_train / bs)
    if batch_norm and bs < n_train and n_train % bs == 1:
        per_epoch -= 1
    total = cfg.epochs * per_epoch if cfg.epochs else cfg.steps
    return total, per_epoch


@dataclass(frozen=True)
class StepPlan:
    """How a run steps through its data; fit and the batched trainer both follow it."""
    total: int  # optimizer steps
    per_epoch: int  # steps per pass over the training split (full batch: 1)
    full_batch: bool  # every step sees the whole training split
    batch: int  # examples per step (full batch: all of them)
    eval_every: int  # steps between held-out evaluations

    @property
    def epochs(self) -> int:
        """Passes over the training split, the last one partial when the steps do not fill it (1,100
        steps of 844 an epoch: 2)."""
        return math.ceil(self.total / self.per_epoch)

    def evaluates(self, step: int) -> bool:
        """Held-out numbers are recorded at `step`, before its update (at `total`: the final evaluation)."""
        return step % self.eval_every == 0 and step < self.total


def step_plan(cfg, n_train: int, batch_norm: bool = False) -> StepPlan:
    total, per_epoch = plan_steps(cfg, n_train, batch_norm)
    full = cfg.batch_size == 0 or cfg.batch_size >= n_train
    return StepPlan(total, per_epoch, full, n_train if full else cfg.batch_size,
                    cfg.eval_every or (FULL_BATCH_EVAL if full else per_epoch))


def metric_rows(step: int, split: str, values: dict[str, float]) -> list[tuple]:
    """The record layout: one (step, split, name, value) per number, in the task's metric order."""
    return [(step, split, name, v) for name, v in values.items()]


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def check_batch_norm(model: nn.Module, cfg, n_train: int) -> None:
    """Batch norm normalises by the batch's own statistics, which one example does not have
    (BatchNorm1d raises; BatchNorm2d normalises the image by itself). So a batch of one is refused
    up front, and a last batch of one is dropped (plan_steps), as DataLoader's drop_last would: the
    order is reshuffled every epoch, so a different example sits out each epoch and none is lost.
    Dropping rather than merging it into the batch before keeps every step's batch size as set."""
    if has_batch_norm(model) and min(cfg.batch_size or n_train, n_train) == 1:
        raise UsageError(f"model {cfg.model!r} has batch norm, which needs 2 or more examples per batch; "
                         f"batch_size={cfg.batch_size} with {n_train} training example(s) gives 1: "
                         "use --batch-size 2 or more (or a model without batch norm)")


