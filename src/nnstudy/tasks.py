"""What `train.fit` optimises: a task turns a batch into a loss, keeps each step's numbers, and
scores a split. The loop itself (order, steps, evaluation schedule, records) is the same for every
task; only these four things differ between a classifier and an autoencoder.

A task has
  metrics: the names of the numbers it records per split, the loss first ("loss", "acc");
  autocast: whether fit may run it under the config's autocast (bf16 on CUDA);
  check(data, model): one clear error for data the task cannot train on, before any step;
  loss(net, xb, yb, generator) -> (loss, out): one batch's forward pass and mean loss;
  buffer(limit, batch, device, fixed_y): where each step's numbers wait until fit drains them into
      records (at most `limit` steps);
  evaluate(model, data, x, y, amp, chunk, tta) -> {metric: value}: a split's numbers, eval mode.

`Classify` is fit's default (softmax and friends over class labels); `models.autoencoder.
Reconstruct` is the other. Nothing here imports the loop: fit imports the tasks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn

from nnstudy import distributed
from nnstudy.data import Dataset, validate_tensors
from nnstudy.optim import make_loss

STEP_BUFFER_LOGITS = 1 << 22  # the step buffer holds at most 4M logits (16 MB in float32), drained when full


@torch.no_grad()  # on a generator, torch holds grad mode off inside it only, not while the caller runs
def outputs(model: nn.Module, data: Dataset, x: torch.Tensor, chunk: int = 2048, autocast=None,
            tta: bool = False) -> Iterator[torch.Tensor]:
    """The model's outputs on x (raw, before `data.prepare`), float32, one chunk of rows at a time,
    in eval mode; the model's mode is restored once the last chunk is out. The one batched
    inference loop: evaluation, the studies' stored predictions and the figures all use it."""
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), chunk):
            xb = data.prepare(x[i:i + chunk])
            with autocast or contextlib.nullcontext():
                out = model(xb)
                if tta:  # average with the mirror image: free accuracy where flips keep labels
                    out = (out + model(xb.flip(-1))) / 2
            yield out.float()
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, x: torch.Tensor, y: torch.Tensor, loss_fn,
             autocast=None, tta: bool = False, chunk: int = 2048) -> tuple[float, float]:
    """Mean loss and accuracy of `model` (in eval mode) on x, y; restores the model's mode.
    An empty split has no mean: callers evaluate only `measured_splits` (never a 0.0 for "no data")."""
    if not len(x):
        raise ValueError("evaluate: no examples (a split that does not exist has no numbers)")
    total_loss, correct = 0.0, 0
    for k, out in enumerate(outputs(model, data, x, chunk, autocast, tta)):
        yb = y[k * chunk:(k + 1) * chunk]
        total_loss += loss_fn(out, yb).item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
    return total_loss / len(x), correct / len(x)


class Classify:
    """Class labels: the config's loss on the logits (cross-entropy, MSE on one-hot, BCE), and the
    accuracy of the argmax, recorded as "loss" and "acc"."""

    metrics = ("loss", "acc")
    autocast = True

    def __init__(self, cfg, num_classes: int):
        self.loss_fn = make_loss(cfg, num_classes)
        self.num_classes = num_classes

    def check(self, data: Dataset, model: nn.Module) -> None:
        validate_tensors(data, model)  # bad shapes, labels or NaN: one clear line, before any step

    def loss(self, net, xb, yb, generator=None):
        out = net(xb)
        return self.loss_fn(out if out.dtype == torch.float32 else out.float(), yb), out

    def buffer(self, limit: int, batch: int, device, fixed_y=None) -> StepBuffer:
        capacity = max(1, min(limit, STEP_BUFFER_LOGITS // (batch * self.num_classes)))
        return StepBuffer(capacity, batch, device, fixed_y)

    def evaluate(self, model, data, x, y, amp=None, chunk: int = 2048, tta: bool = False) -> dict[str, float]:
        loss, acc = evaluate(model, data, x, y, self.loss_fn, amp, tta=tta, chunk=chunk)
        return {"loss": loss, "acc": acc}


class StepBuffer:
    """Each step's training loss and logits, copied into preallocated tensors and turned into records
    in one go when drained (at each epoch's end; every FULL_BATCH_FLUSH full-batch steps; when full).

    Why not per step: reducing a step's logits to an accuracy on the spot costs four small tensor ops,
    and keeping each step's detached loss and logits alive until a drain costs more still (the freshly
    allocated tensors defeat the allocator's reuse): 3-10% of a 1000-step spiral Adam loop each, against
    1-2% for two copies into buffers allocated once (variants of that loop timed side by side while
    writing this; benchmarks/spiral.py times the whole of fit against the week's loop)."""

    def __init__(self, capacity: int, batch: int, device, fixed_y: torch.Tensor | None = None):
        self.capacity, self.batch, self.device = capacity, batch, device
        self.loss = torch.empty(capacity, device=device)
        self.logits: torch.Tensor | None = None  # (capacity, batch, C) in the model's output dtype, at the first add
        self.fixed_y = fixed_y  # full batch: every step's labels are this one tensor
        self.y = None if fixed_y is not None else torch.empty(capacity, batch, dtype=torch.long, device=device)
        self.sizes: list[int] = []
        self.weights: list[float] = []

    def __len__(self) -> int:
        return len(self.sizes)

    @torch.no_grad()
    def add(self, loss, out, y, weight: float = 1.0) -> None:
        """weight: under DDP the rank's loss weight (the rank-mean of weighted values is the global mean)."""
        i, b = len(self.sizes), len(y)
        if self.logits is None:
            self.logits = torch.empty(self.capacity, self.batch, out.shape[1], dtype=out.dtype, device=self.device)
        self.loss[i] = loss
        self.logits[i, :b] = out
        if self.y is not None:
            self.y[i, :b] = y
        self.sizes.append(b)
        self.weights.append(weight)

    def last_loss(self) -> float:
        return self.loss[len(self.sizes) - 1].item()

    def full(self) -> bool:
        return len(self.sizes) == self.capacity

    @torch.no_grad()
    def drain(self, step: int) -> list[tuple]:
        """Records of the buffered steps, the last of which is step - 1; empties the buffer."""
        k = len(self.sizes)
        if not k:
            return []
        sizes = torch.tensor(self.sizes, device=self.device)
        y = self.fixed_y.expand(k, -1) if self.fixed_y is not None else self.y[:k]
        hits = self.logits[:k].max(-1).indices == y  # argmax (first maximal index), ~20% faster; (k, batch)
        if min(self.sizes) < self.batch:
            hits &= torch.arange(self.batch, device=self.device) < sizes[:, None]
        accs = hits.sum(1).float() / sizes  # the same float32 value as the per-step mean of 0/1 floats
        if any(w != 1.0 for w in self.weights):
            accs = accs * torch.tensor(self.weights, device=self.device)
        both = distributed.reduce_mean(torch.stack([self.loss[:k], accs]))  # (2, k)
        ls, acs = both[0].tolist(), both[1].tolist()
        self.sizes, self.weights = [], []
        first = step - k
        return [r for i, (lv, av) in enumerate(zip(ls, acs))
                for r in ((first + i, "train", "loss", lv), (first + i, "train", "acc", av))]


class LossBuffer:
    """Each step's loss alone (tasks whose only training number is the loss), drained like StepBuffer."""

    def __init__(self, capacity: int, device, name: str):
        self.capacity, self.name = capacity, name
        self.loss = torch.empty(capacity, device=device)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    @torch.no_grad()
    def add(self, loss, out=None, y=None, weight: float = 1.0) -> None:  # loss: already weighted under DDP
        self.loss[self.n] = loss
        self.n += 1

    def last_loss(self) -> float:
        return self.loss[self.n - 1].item()

    def full(self) -> bool:
        return self.n == self.capacity

    @torch.no_grad()
    def drain(self, step: int) -> list[tuple]:
        values = distributed.reduce_mean(self.loss[:self.n]).tolist()
        first, self.n = step - len(values), 0
        return [(first + i, "train", self.name, v) for i, v in enumerate(values)]
