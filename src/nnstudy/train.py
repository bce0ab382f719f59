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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from nnstudy import distributed
from nnstudy.data import Dataset, validate_tensors
from nnstudy.errors import Diverged, UsageError
from nnstudy.optim import make_loss, make_optimizer, make_scheduler, resolve_device
from nnstudy.threads import torch_threads

FULL_BATCH_EVAL = 10  # full-batch runs: held-out evaluation every 10 steps unless cfg.eval_every says (a
# per-step evaluation cost ~9% of a spiral run's loop; 100 points draw a 1000-step curve well)
FULL_BATCH_FLUSH = 100  # steps: a store transaction per full-batch step costs more than the step (ms)


@dataclass
class FitResult:
    status: str  # complete | diverged
    final: dict[str, float]  # "<split>_<loss|acc>" after the last update, eval mode
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


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, x: torch.Tensor, y: torch.Tensor, loss_fn,
             autocast=None, tta: bool = False, chunk: int = 2048) -> tuple[float, float]:
    """Mean loss and accuracy of `model` (in eval mode) on x, y; restores the model's mode."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), chunk):
        xb, yb = data.prepare(x[i:i + chunk]), y[i:i + chunk]
        with autocast or contextlib.nullcontext():
            out = model(xb)
            if tta:  # average with the mirror image: free accuracy where flips keep labels
                out = (out + model(xb.flip(-1))) / 2
        out = out.float()
        total_loss += loss_fn(out, yb).item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
    model.train(was_training)
    n = max(1, len(x))
    return total_loss / n, correct / n


def plan_steps(cfg, n_train: int) -> tuple[int, int]:
    """(total optimizer steps, steps per epoch)."""
    bs = cfg.batch_size or n_train
    per_epoch = math.ceil(n_train / bs)
    total = cfg.epochs * per_epoch if cfg.epochs else cfg.steps
    return total, per_epoch


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
    if image and device.type == "cuda" and cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    data = data.to(device)
    validate_tensors(data, model)  # bad shapes, labels or NaN: one clear line, before any step
    net = distributed.wrap(model, device)  # DDP under torchrun; the model itself otherwise
    net = torch.compile(net) if cfg.compile else net
    ddp = distributed.active()
    # Conv nets evaluate 512 images at a time: 2048 of them at 28x28x32 make 205 MB tensors, two alive
    # at once (peak RSS of a Fashion-MNIST run measured 1.9-2.2 GB with 2048). Flat models keep 2048.
    chunk = 512 if any(isinstance(m, nn.Conv2d) for m in model.modules()) else 2048
    loss_fn = make_loss(cfg, data.num_classes)
    opt = make_optimizer(cfg, model.parameters())
    n = len(data.x_train)
    if n == 0:
        raise UsageError(f"dataset {data.name!r} has no training examples after the split and subset")
    total, per_epoch = plan_steps(cfg, n)
    sched = make_scheduler(cfg, opt, total)
    amp = autocast_for(cfg, device)
    g = torch.Generator().manual_seed(cfg.seed)  # data order and augmentation: its own stream
    full_batch = cfg.batch_size == 0 or cfg.batch_size >= n
    eval_every = cfg.eval_every or (FULL_BATCH_EVAL if full_batch else per_epoch)
    held = "val" if data.x_val is not None and len(data.x_val) else ("test" if not image else None)
    hx, hy = (data.x_val, data.y_val) if held == "val" else (data.x_test, data.y_test)
    records: list[tuple] = []
    step, start_epoch = 0, 0
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
    check_every = 1 if device.type == "cpu" else 50  # .item() forces a GPU sync: do it rarely there
    x_full = data.prepare(data.x_train) if full_batch and not cfg.augment else None
    losses, accs, flushed = [], [], len(records)
    last_eval = max((r[0] for r in records if r[1] == held), default=-1)  # a resumed run has evaluated here

    def held_out(at: int) -> list[tuple]:
        distributed.sync_buffers(model)  # under DDP: rank 0's batch-norm statistics everywhere
        vl, va = evaluate(model, data, hx, hy, loss_fn, amp, chunk=chunk)
        return [(at, held, "loss", vl), (at, held, "acc", va)]

    model.train()
    bar = _Bar(per_epoch, cfg.batch_size) if log is not None and not full_batch and sys.stderr.isatty() else None
    t0 = time.perf_counter()
    epoch = start_epoch
    try:
        while step < total:
            order = None if full_batch else torch.randperm(n, generator=g).to(device)
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
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if hook is not None:
                    hook(step, model)
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
                losses.append(loss.detach())
                accs.append((out.detach().argmax(1) == yb).float().mean() * (weight if ddp else 1))
                if step % check_every == 0:
                    lv = losses[-1].item()
                    if distributed.any_rank(not math.isfinite(lv), device):
                        raise Diverged(step, lv)
                step += 1
                if bar is not None:
                    bar.update(b + 1, epoch + 1, total // per_epoch)
            if bar is not None:
                bar.clear()
            epoch += 1
            records += _drain(losses, accs, step)
            if held and not full_batch and step % eval_every == 0 and step < total:
                records += held_out(step)  # at the epoch's end, so its log line shows it
                last_eval = step
            if not full_batch:
                for bad in (r for r in records[flushed:] if r[1] == "train" and r[2] == "loss"):
                    if bad[3] is None or not math.isfinite(bad[3]):
                        raise Diverged(bad[0], bad[3])
                _epoch_log(log, epoch, total // per_epoch, records, flushed, time.perf_counter() - t0)
                if checkpoint is not None and cfg.checkpoint:
                    save_checkpoint(checkpoint, model, opt, sched, g, step, epoch, records)
            if not full_batch or step % FULL_BATCH_FLUSH == 0:  # full batch: an epoch is one step
                if flush:
                    flush(records[flushed:])
                flushed = len(records)
    except Diverged as e:
        # Raised inside the loop after step `step`'s loss was buffered but before `step += 1`.
        records += _drain(losses, accs, step + 1 if losses else step)
        if flush:
            flush(records[flushed:])
        return FitResult("diverged", {}, records, step, time.perf_counter() - t0, str(e))
    seconds = time.perf_counter() - t0
    distributed.sync_buffers(model)  # every rank evaluates with rank 0's batch-norm statistics
    final = {}
    for split, (x, y) in data.splits().items():
        fl, fa = evaluate(model, data, x, y, loss_fn, amp, tta=cfg.tta and split == "test", chunk=chunk)
        final[f"{split}_loss"], final[f"{split}_acc"] = fl, fa
        records += [(step, split, "loss", fl), (step, split, "acc", fa)]
    if flush:
        flush(records[flushed:])
    return FitResult("complete", final, records, step, seconds)


def _drain(losses: list, accs: list, step: int) -> list[tuple]:
    """Turn the buffered per-step tensors into records (one device sync for the whole batch)."""
    if not losses:
        return []
    both = distributed.reduce_mean(torch.stack([torch.stack(losses), torch.stack(accs)]).float())  # (2, steps)
    ls, acs = both[0].tolist(), both[1].tolist()
    first = step - len(ls)
    out = [r for i, (lv, av) in enumerate(zip(ls, acs))
           for r in ((first + i, "train", "loss", lv), (first + i, "train", "acc", av))]
    losses.clear()
    accs.clear()
    return out


def _epoch_log(log, epoch: int, epochs: int, records: list, since: int, seconds: float) -> None:
    if log is None:
        return
    new = records[since:]
    tr = [r[3] for r in new if r[1] == "train" and r[2] == "acc"]
    tl = [r[3] for r in new if r[1] == "train" and r[2] == "loss"]
    msg = f"epoch {epoch}/{epochs}  train loss {sum(tl) / len(tl):.4f} acc {sum(tr) / len(tr):.4f}"
    end = max((r[0] for r in new if r[1] == "train"), default=-2) + 1  # the step after this epoch's last update
    val = [r for r in new if r[1] == "val" and r[2] == "acc" and r[0] == end]  # evaluated at this epoch's end
    if val:
        msg += f"  val acc {val[-1][3]:.4f}"
    log(msg + f"  {seconds:.1f}s")


class _Bar:
    """An in-epoch progress bar on stderr, drawn only when stderr is a terminal (logs stay clean)."""

    def __init__(self, per_epoch: int, batch_size: int):
        self.per_epoch, self.batch_size = per_epoch, batch_size
        self.t0 = self.last = time.perf_counter()

    def update(self, done: int, epoch: int, epochs: int) -> None:
        now = time.perf_counter()
        if done == 1:
            self.t0 = now
        if now - self.last < 0.2 and done < self.per_epoch:  # at most 5 redraws a second
            return
        self.last = now
        fill = round(30 * done / self.per_epoch)
        rate = (done - 1) * self.batch_size / max(1e-9, now - self.t0)  # images/s since the first step
        print(f"\repoch {epoch}/{epochs} [{'#' * fill}{'.' * (30 - fill)}] {done}/{self.per_epoch} "
              f"{rate:,.0f} img/s", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def save_checkpoint(path: Path, model, opt, sched, g, step: int, epoch: int, records: list) -> None:
    """Everything needed to continue bit-for-bit: weights, optimizer, schedule, both RNG streams."""
    import io

    from nnstudy.store import atomic_write

    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict() if sched else None, "gen": g.get_state(),
                "rng": torch.get_rng_state(), "step": step, "epoch": epoch,
                "records": [list(r) for r in records]}, buf)
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
