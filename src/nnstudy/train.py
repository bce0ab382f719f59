"""The one training loop: `fit` (zero_grad, forward, loss, backward, step) and `evaluate`;
`train_and_evaluate` wires config -> data + model -> fit -> store.

Records are (step, split, name, value). The value at step s describes the model after s
updates: the train record at step s is the forward pass that computes update s+1 (what the week's
notebook printed), held-out records at step s are evaluated just before that update, and the final
evaluation of every split is recorded at step = total steps. Training never draws figures.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from nnstudy import distributed, progress
from nnstudy.data import Dataset, validate_tensors
from nnstudy.errors import Diverged, UsageError
from nnstudy.optim import make_loss, make_optimizer, make_scheduler, resolve_device
from nnstudy.threads import torch_threads

FULL_BATCH_EVAL = 10  # full-batch runs: held-out evaluation every 10 steps unless cfg.eval_every says (a
# per-step evaluation cost ~9% of a spiral run's loop; 100 points draw a 1000-step curve well)
FULL_BATCH_FLUSH = 100  # full-batch steps between drains of the step buffers and store flushes: a store
# transaction per step costs more than the step, and draining every step cost ~2% of a spiral run
STEP_BUFFER_LOGITS = 1 << 22  # the step buffer holds at most 4M logits (16 MB in float32), drained when full


@dataclass
class FitResult:
    status: str  # complete | diverged
    final: dict[str, float | None]  # "<split>_<loss|acc>" after the last update, eval mode; None: empty split
    records: list[tuple] = field(default_factory=list)  # (step, split, name, value)
    steps: int = 0  # optimizer steps taken
    seconds: float = 0.0  # wall time of the training loop (no data loading, no final evaluation)
    error: str | None = None


def autocast_for(cfg, device: torch.device):
    if device.type == "cuda" and cfg.amp in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and cfg.amp == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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


def measured_splits(data: Dataset) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The splits that hold examples: only these are evaluated and recorded."""
    return {s: xy for s, xy in data.splits().items() if len(xy[0])}


def unmeasured_finals(data: Dataset) -> dict[str, None]:
    """None (null in JSON) for each split that exists in name only (`--test-frac 0`): it has no
    numbers and no metric rows, never a 0.0 that reads like a measured score of zero. `final`
    therefore always names train and test, and val when a validation split was carved out."""
    return {f"{s}_{m}": None for s, (x, _) in data.splits().items() if not len(x) for m in ("loss", "acc")}


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


def fit(model: nn.Module, data: Dataset, cfg, **kw) -> FitResult:
    """Train `model` on `data` as `cfg` says (see `_fit`), on cfg.threads CPU threads when set:
    the caller's thread count is restored afterwards."""
    with torch_threads(cfg.threads):
        return _fit(model, data, cfg, **kw)


def _fit(model: nn.Module, data: Dataset, cfg, *, hook: Callable | None = None,
         log: Callable[[str], None] | None = None, checkpoint: Path | None = None,
         resume: dict | None = None, flush: Callable[[list], None] | None = None) -> FitResult:
    """Train `model` on `data` as `cfg` says and return the records and final numbers.

    hook(step, model) runs after backward and before the update (gradients are in .grad).
    checkpoint: path written atomically after every epoch (mini-batch runs); resume: a loaded
    checkpoint to continue from. flush(records) receives each epoch's new records (full batch:
    every FULL_BATCH_FLUSH steps, and at the end)."""
    device = resolve_device(cfg.device)
    image = data.is_image
    model.to(device)
    if image and cfg.channels_last and channels_last_pays(model, device):
        model.to(memory_format=torch.channels_last)
    data = data.to(device)
    validate_tensors(data, model)  # bad shapes, labels or NaN: one clear line, before any step
    net = distributed.wrap(model, device)  # DDP under torchrun; the model itself otherwise
    net = torch.compile(net) if cfg.compile else net
    ddp = distributed.active()
    # Conv nets evaluate 512 images at a time: 2048 of them at 28x28x32 make 205 MB tensors, two alive
    # at once (peak memory of a Fashion-MNIST run: benchmarks/results/notes.md). Flat models keep 2048.
    chunk = 512 if any(isinstance(m, nn.Conv2d) for m in model.modules()) else 2048
    loss_fn = make_loss(cfg, data.num_classes)
    opt = make_optimizer(cfg, model.parameters())
    params = [p for group in opt.param_groups for p in group["params"]]
    n = len(data.x_train)
    if n == 0:
        raise UsageError(f"dataset {data.name!r} has no training examples after the split and subset")
    check_batch_norm(model, cfg, n)
    total, per_epoch = plan_steps(cfg, n, has_batch_norm(model))
    sched = make_scheduler(cfg, opt, total)
    amp = autocast_for(cfg, device)
    g = torch.Generator().manual_seed(cfg.seed)  # data order and augmentation: its own stream
    full_batch = cfg.batch_size == 0 or cfg.batch_size >= n
    eval_every = cfg.eval_every or (FULL_BATCH_EVAL if full_batch else per_epoch)
    held = held_out_split(data)
    hx, hy = (data.x_val, data.y_val) if held == "val" else (data.x_test, data.y_test)
    records: list[tuple] = []
    step, start_epoch, before = 0, 0, 0.0  # before: seconds trained by earlier segments of a resumed run
    if resume:
        try:
            model.load_state_dict(resume["model"])
        except (RuntimeError, KeyError, TypeError) as e:  # another model's weights, or not a checkpoint
            raise UsageError(f"the checkpoint does not fit model {cfg.model!r}: {str(e).splitlines()[0]}") from None
        opt.load_state_dict(resume["opt"])
        if sched and resume.get("sched"):
            sched.load_state_dict(resume["sched"])
        g.set_state(resume["gen"])
        torch.set_rng_state(resume["rng"])
        step, start_epoch, records = resume["step"], resume["epoch"], [tuple(r) for r in resume["records"]]
        before = float(resume.get("seconds", 0.0))  # checkpoints before this field: unknown, counted as 0
    # The latest loss is read (.item(): a sync) every check_every steps to stop a diverged run early; every
    # buffered loss is checked when the buffer is drained, and the records are cut at the first bad one.
    check_every = 10 if device.type == "cpu" else 50
    x_full = data.prepare(data.x_train) if full_batch and not cfg.augment else None
    batch = n if full_batch else cfg.batch_size  # the most labels one step sees (DDP: each rank fewer)
    capacity = max(1, min(FULL_BATCH_FLUSH if full_batch else per_epoch,
                          STEP_BUFFER_LOGITS // (batch * data.num_classes)))
    buf = _StepBuffer(capacity, batch, device, data.y_train if full_batch and not ddp else None)
    flushed = len(records)
    last_eval = max((r[0] for r in records if r[1] == held), default=-1)  # a resumed run has evaluated here

    def held_out(at: int) -> list[tuple]:
        distributed.sync_buffers(model)  # under DDP: rank 0's batch-norm statistics everywhere
        vl, va = evaluate(model, data, hx, hy, loss_fn, amp, chunk=chunk)
        return [(at, held, "loss", vl), (at, held, "acc", va)]

    model.train()
    show_bar = log is not None and not full_batch  # drawn only where one belongs (nnstudy.progress)
    bar = None
    t0 = time.perf_counter() - before  # a resumed run's time is the sum of its segments
    epoch = start_epoch
    try:
        while step < total:
            order = None if full_batch else torch.randperm(n, generator=g).to(device)
            if show_bar:  # counts batches, shown as images: the rate reads in images/s
                bar = progress.bar(per_epoch, f"epoch {epoch + 1}/{total // per_epoch}", "img", cfg.batch_size)
            for b in range(per_epoch):
                if step >= total:
                    break
                if full_batch:
                    xb = x_full if x_full is not None else data.prepare(data.x_train, True, g, cfg.augment)
                    yb = data.y_train
                else:
                    idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                    xb, yb = data.prepare(data.x_train[idx], True, g, cfg.augment), data.y_train[idx]
                if ddp:  # every rank drew the same global batch: train on this rank's slice
                    part, weight = distributed.local_slice(len(yb))
                    xb, yb = xb[part], yb[part]
                if held and step % eval_every == 0 and step != last_eval:
                    records += held_out(step)
                    last_eval = step
                with amp:
                    out = net(xb)
                    loss = loss_fn(out if out.dtype == torch.float32 else out.float(), yb)
                    if ddp:  # DDP averages gradients over ranks: weight by the slice's share
                        loss = loss * weight
                for p in params:  # opt.zero_grad(set_to_none=True) without its profiler scope
                    p.grad = None
                loss.backward()
                if hook is not None:
                    hook(step, model)
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
                buf.add(loss, out, yb, weight if ddp else 1.0)
                if step % check_every == 0:
                    lv = buf.last_loss()
                    if distributed.any_rank(not math.isfinite(lv), device):
                        raise Diverged(step, lv)
                step += 1
                if buf.full():  # big batches: drained before an epoch's (or 100 steps') logits fill memory
                    records += buf.drain(step)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
                bar = None
            epoch += 1
            if full_batch and step % FULL_BATCH_FLUSH and step < total:
                continue  # full batch: an epoch is one step; drain and flush every FULL_BATCH_FLUSH steps
            records[flushed:] = _in_step_order(records[flushed:] + buf.drain(step))
            if (bad := _first_bad(records, flushed)) is not None:
                raise Diverged(*bad)
            if held and not full_batch and step % eval_every == 0 and step < total:
                records += held_out(step)  # at the epoch's end, so its log line shows it
                last_eval = step
            if not full_batch:
                _epoch_log(log, epoch, total // per_epoch, records, flushed, time.perf_counter() - t0)
                if checkpoint is not None and cfg.checkpoint:
                    save_checkpoint(checkpoint, model, opt, sched, g, step, epoch, records,
                                    time.perf_counter() - t0)
            if flush:
                flush(records[flushed:])
            flushed = len(records)
    except Diverged as e:
        # Raised in the loop after step `step`'s loss was buffered but before `step += 1`, or after a drain.
        records[flushed:] = _in_step_order(records[flushed:] + buf.drain(step + 1 if len(buf) else step))
        at, lv = _first_bad(records, flushed) or (e.step, e.loss)
        records = [r for r in records if r[0] <= at]  # nothing after the first non-finite loss
        if flush:
            flush(records[flushed:])
        return FitResult("diverged", {}, records, at, time.perf_counter() - t0, str(Diverged(at, lv)))
    finally:
        if bar is not None:  # stopped mid-epoch (diverged, interrupted): no half bar left on the screen
            bar.close()
    seconds = time.perf_counter() - t0
    distributed.sync_buffers(model)  # every rank evaluates with rank 0's batch-norm statistics
    final = unmeasured_finals(data)
    for split, (x, y) in measured_splits(data).items():
        fl, fa = evaluate(model, data, x, y, loss_fn, amp, tta=cfg.tta and split == "test", chunk=chunk)
        final[f"{split}_loss"], final[f"{split}_acc"] = fl, fa
        records += [(step, split, "loss", fl), (step, split, "acc", fa)]
    if flush:
        flush(records[flushed:])
    return FitResult("complete", final, records, step, seconds)


class _StepBuffer:
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


def _first_bad(records: list[tuple], since: int = 0) -> tuple[int, float] | None:
    """(step, value) of the first non-finite training loss in records[since:], if any."""
    bad = [(r[0], r[3]) for r in records[since:] if r[1] == "train" and r[2] == "loss"
           and (r[3] is None or not math.isfinite(r[3]))]
    return min(bad) if bad else None


def _in_step_order(records: list[tuple]) -> list[tuple]:
    """Records by step, held-out before train at the same step (evaluated before that update)."""
    return sorted(records, key=lambda r: (r[0], r[1] == "train"))


def _epoch_log(log, epoch: int, epochs: int, records: list, since: int, seconds: float) -> None:
    if log is None:
        return
    new = records[since:]
    tr = [r[3] for r in new if r[1] == "train" and r[2] == "acc"]
    tl = [r[3] for r in new if r[1] == "train" and r[2] == "loss"]
    # the mean over the epoch's batches, as they were trained (not the final eval-mode numbers)
    msg = f"epoch {epoch}/{epochs}  batches' mean train loss {sum(tl) / len(tl):.4f} acc {sum(tr) / len(tr):.4f}"
    end = max((r[0] for r in new if r[1] == "train"), default=-2) + 1  # the step after this epoch's last update
    val = [r for r in new if r[1] == "val" and r[2] == "acc" and r[0] == end]  # evaluated at this epoch's end
    if val:
        msg += f"  val acc {val[-1][3]:.4f}"
    log(msg + f"  {seconds:.1f}s")


def save_checkpoint(path: Path, model, opt, sched, g, step: int, epoch: int, records: list,
                    seconds: float = 0.0) -> None:
    """Everything needed to continue bit-for-bit: weights, optimizer, schedule, both RNG streams; and
    the training seconds so far, so that a resumed run's time adds up its segments (time spent past
    the last checkpoint of a killed segment is redone after the resume, and counted once)."""
    import io

    from nnstudy.store import atomic_write

    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict() if sched else None, "gen": g.get_state(),
                "rng": torch.get_rng_state(), "step": step, "epoch": epoch,
                "records": [list(r) for r in records], "seconds": seconds}, buf)
    atomic_write(Path(path), buf.getvalue())


def load_checkpoint(path: Path) -> dict:
    """weights_only=True: a checkpoint from elsewhere can hold tensors and plain data, never code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"no checkpoint at {str(path)!r}: the run never finished an epoch") from None
    except Exception as e:  # pickle refusals, truncated zip files, ...
        raise UsageError(f"checkpoint {str(path)!r} cannot be loaded safely: {str(e).splitlines()[0]}") from None


def stderr_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
