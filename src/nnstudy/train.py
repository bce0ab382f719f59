"""The one training loop: `fit` (zero_grad, forward, loss, backward, step) and its pieces;
`experiment.train_and_evaluate` wires config -> data + model -> fit -> store.

fit reads in one sitting: `_setup` builds the run, each epoch (`_epoch`) draws its batches and
takes its steps (`_step`), held-out evaluations come when `StepPlan.evaluates` says, `_end_epoch`
drains the step buffer, logs, checkpoints and flushes, and `_finish` evaluates every split. What
a step optimises is a task (`nnstudy.tasks`): classifiers by default, autoencoders with
`models.autoencoder.Reconstruct`. The step plan, evaluation schedule and record layout live in
`nnstudy.plan`, which the batched trainer follows too.

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
from nnstudy.data import Dataset
from nnstudy.errors import Diverged, UsageError
from nnstudy.optim import make_optimizer, make_scheduler, resolve_device
from nnstudy.plan import (
    StepPlan,
    autocast_for,
    channels_last_pays,
    check_batch_norm,
    has_batch_norm,
    held_out_split,
    measured_splits,
    metric_rows,
    step_plan,
    unmeasured_finals,
)
from nnstudy.tasks import Classify
from nnstudy.tasks import evaluate as evaluate  # re-exported: `from nnstudy.train import evaluate, outputs`
from nnstudy.tasks import outputs as outputs
from nnstudy.threads import ThreadPicker, torch_threads

FULL_BATCH_FLUSH = 100  # full-batch steps between drains of the step buffers and store flushes: a store
# transaction per step costs more than the step, and draining every step cost ~2% of a spiral run


@dataclass
class FitResult:
    status: str  # complete | diverged
    final: dict[str, float | None]  # "<split>_<metric>" (the task's metrics), eval mode; None: empty split
    records: list[tuple] = field(default_factory=list)  # (step, split, name, value)
    steps: int = 0  # optimizer steps taken
    seconds: float = 0.0  # wall time of the training loop (no data loading, no final evaluation)
    error: str | None = None


def fit(model: nn.Module, data: Dataset, cfg, **kw) -> FitResult:
    """Train `model` on `data` as `cfg` says (see `_fit`), on cfg.threads CPU threads when set, else
    with cfg.auto_threads on the cores other processes leave free (nnstudy.threads.ThreadPicker,
    re-checked as it trains): the caller's thread count is restored afterwards."""
    picker = ThreadPicker() if cfg.auto_threads and not cfg.threads and resolve_device(cfg.device).type == "cpu" \
        else None
    with torch_threads(cfg.threads or (picker.first() or 0 if picker else 0)):
        return _fit(model, data, cfg, picker=picker, **kw)


def _fit(model: nn.Module, data: Dataset, cfg, *, picker=None, task=None, hook: Callable | None = None,
         log: Callable[[str], None] | None = None, checkpoint: Path | None = None,
         resume: dict | None = None, flush: Callable[[list], None] | None = None) -> FitResult:
    """Train `model` on `data` as `cfg` says and return the records and final numbers.

    task: what a step optimises (nnstudy.tasks; default: Classify, the config's loss over labels).
    hook(step, model) runs after backward and before the update (gradients are in .grad).
    checkpoint: path written atomically after every epoch (mini-batch runs); resume: a loaded
    checkpoint to continue from. flush(records) receives each epoch's new records (full batch:
    every FULL_BATCH_FLUSH steps, and at the end). picker: a ThreadPicker consulted between steps."""
    run = _setup(model, data, cfg, task, resume)
    run.picker = picker
    try:
        while run.step < run.plan.total:
            _epoch(run, hook, log)
            _end_epoch(run, log, checkpoint, flush)
    except Diverged as e:
        return _diverged(run, e, flush)
    return _finish(run, flush)


@dataclass
class _Run:
    """One fit's state: built by _setup, read and advanced by the loop's pieces."""
    model: nn.Module
    net: nn.Module  # what the step calls: the model, wrapped by DDP and/or torch.compile when asked
    data: Dataset  # on the training device
    cfg: object
    task: object
    plan: StepPlan
    opt: torch.optim.Optimizer
    sched: object
    amp: object  # the autocast context of every forward pass
    gen: torch.Generator  # data order, augmentation and corruption: the run's own stream
    device: torch.device
    held: str | None  # the split evaluated during training
    chunk: int  # evaluation rows per forward pass
    records: list[tuple] = field(default_factory=list)
    step: int = 0
    epoch: int = 0
    before: float = 0.0  # seconds trained by earlier segments of a resumed run
    ddp: bool = False
    params: list = field(default_factory=list)
    x_full: torch.Tensor | None = None  # full batch without augmentation: the one prepared input
    buf: object = None  # the task's step buffer
    check_every: int = 10  # steps between reads of the latest loss (.item(): a sync)
    flushed: int = 0  # records before this index are flushed
    last_eval: int = -1  # the step last evaluated held-out (a resumed run has evaluated there)
    picker: ThreadPicker | None = None  # auto_threads: re-picks the thread count as the load changes
    t0: float = 0.0


def _setup(model: nn.Module, data: Dataset, cfg, task, resume: dict | None) -> _Run:
    """Device, memory format, checks, optimizer, schedule, step plan and buffers; a resumed run's state."""
    device = resolve_device(cfg.device)
    model.to(device)
    if data.is_image and cfg.channels_last and channels_last_pays(model, device):
        model.to(memory_format=torch.channels_last)
    data = data.to(device)
    task = task or Classify(cfg, data.num_classes)
    task.check(data, model)  # bad shapes, labels or NaN: one clear line, before any step
    net = distributed.wrap(model, device)  # DDP under torchrun; the model itself otherwise
    net = torch.compile(net) if cfg.compile else net
    # Conv nets evaluate 512 images at a time: 2048 of them at 28x28x32 make 205 MB tensors, two alive
    # at once (peak memory of a Fashion-MNIST run: benchmarks/results/notes.md). Flat models keep 2048.
    chunk = 512 if any(isinstance(m, nn.Conv2d) for m in model.modules()) else 2048
    opt = make_optimizer(cfg, model.parameters())
    n = len(data.x_train)
    if n == 0:
        raise UsageError(f"dataset {data.name!r} has no training examples after the split and subset")
    check_batch_norm(model, cfg, n)
    plan = step_plan(cfg, n, has_batch_norm(model))
    amp = autocast_for(cfg, device) if task.autocast else contextlib.nullcontext()
    held = held_out_split(data)
    run = _Run(model, net, data, cfg, task, plan, opt, make_scheduler(cfg, opt, plan.total), amp,
               torch.Generator().manual_seed(cfg.seed), device, held, chunk, ddp=distributed.active(),
               params=[p for group in opt.param_groups for p in group["params"]])
    if resume:
        _restore(run, resume)
    # The latest loss is read every check_every steps to stop a diverged run early; every buffered
    # loss is checked when the buffer is drained, and the records are cut at the first bad one.
    run.check_every = 10 if device.type == "cpu" else 50
    run.x_full = data.prepare(data.x_train) if plan.full_batch and not cfg.augment else None
    run.buf = task.buffer(FULL_BATCH_FLUSH if plan.full_batch else plan.per_epoch, plan.batch, device,
                          data.y_train if plan.full_batch and not run.ddp else None)
    run.flushed = len(run.records)
    run.last_eval = max((r[0] for r in run.records if r[1] == held), default=-1)
    model.train()
    run.t0 = time.perf_counter() - run.before  # a resumed run's time is the sum of its segments
    return run


def _restore(run: _Run, resume: dict) -> None:
    """Continue bit for bit from a checkpoint (save_checkpoint)."""
    try:
        run.model.load_state_dict(resume["model"])
    except (RuntimeError, KeyError, TypeError) as e:  # another model's weights, or not a checkpoint
        raise UsageError(f"the checkpoint does not fit model {run.cfg.model!r}: {str(e).splitlines()[0]}") from None
    run.opt.load_state_dict(resume["opt"])
    if run.sched and resume.get("sched"):
        run.sched.load_state_dict(resume["sched"])
    run.gen.set_state(resume["gen"])
    torch.set_rng_state(resume["rng"])
    run.step, run.epoch, run.records = resume["step"], resume["epoch"], [tuple(r) for r in resume["records"]]
    run.before = float(resume.get("seconds", 0.0))  # checkpoints before this field: unknown, counted as 0


def _batches(run: _Run) -> Iterator[tuple[torch.Tensor, torch.Tensor, float]]:
    """One epoch's (inputs, targets, DDP loss weight), reshuffled by the run's generator; stops at
    the last step. Lazy: each batch is drawn just before its step."""
    p, data, cfg = run.plan, run.data, run.cfg
    order = None if p.full_batch else torch.randperm(len(data.x_train), generator=run.gen).to(run.device)
    for b in range(p.per_epoch):
        if run.step >= p.total:
            return
        if p.full_batch:
            xb = run.x_full if run.x_full is not None else \
                data.prepare(data.x_train, True, run.gen, cfg.augment, cfg.cutout)
            yb = data.y_train
        else:
            idx = order[b * p.batch:(b + 1) * p.batch]
            xb, yb = data.prepare(data.x_train[idx], True, run.gen, cfg.augment, cfg.cutout), data.y_train[idx]
        weight = 1.0
        if run.ddp:  # every rank drew the same global batch: train on this rank's slice
            part, weight = distributed.local_slice(len(yb))
            xb, yb = xb[part], yb[part]
        yield xb, yb, weight


def _epoch(run: _Run, hook, log) -> None:
    """One pass over the training split (full batch: one step), each step preceded by the
    held-out evaluation due at it; a progress bar where one belongs (nnstudy.progress)."""
    bar = None
    if log is not None and not run.plan.full_batch:  # counts batches, shown as images: reads in images/s
        bar = progress.bar(run.plan.per_epoch, f"epoch {run.epoch + 1}/{run.plan.epochs}",
                           "img", run.cfg.batch_size)
    try:
        for _ in _epoch_steps(run, hook):
            if bar is not None:
                bar.update(1)
    finally:  # stopped mid-epoch (diverged, interrupted): no half bar left on the screen
        if bar is not None:
            bar.close()
    run.epoch += 1


def _epoch_steps(run: _Run, hook) -> Iterator[None]:
    """The epoch's steps, one per `next`: each preceded by the held-out evaluation due at it. Lazy,
    so `Stepper` can stop between any two steps and go on later exactly as fit would."""
    for xb, yb, weight in _batches(run):
        if run.held and run.plan.evaluates(run.step) and run.step != run.last_eval:
            _evaluate_held_out(run)
        _step(run, xb, yb, weight, hook)
        if run.picker is not None and (n := run.picker.pick()) and n != torch.get_num_threads():
            torch.set_num_threads(n)  # auto_threads: the cores other processes leave free, re-checked
        yield


def _step(run: _Run, xb, yb, weight: float, hook) -> None:
    """zero_grad, forward, loss, backward, (hook, clip), step; the step's numbers into the buffer."""
    with run.amp:
        loss, out = run.task.loss(run.net, xb, yb, run.gen)
        if run.ddp:  # DDP averages gradients over ranks: weight by the slice's share
            loss = loss * weight
    for p in run.params:  # opt.zero_grad(set_to_none=True) without its profiler scope
        p.grad = None
    loss.backward()
    if hook is not None:
        hook(run.step, run.model)
    if run.cfg.grad_clip:
        nn.utils.clip_grad_norm_(run.model.parameters(), run.cfg.grad_clip)
    run.opt.step()
    if run.sched is not None:
        run.sched.step()
    run.buf.add(loss, out, yb, weight)
    if run.step % run.check_every == 0:
        lv = run.buf.last_loss()
        if distributed.any_rank(not math.isfinite(lv), run.device):
            raise Diverged(run.step, lv)
    run.step += 1
    if run.buf.full():  # big batches: drained before an epoch's (or 100 steps') numbers fill memory
        run.records += run.buf.drain(run.step)


def _evaluate_held_out(run: _Run) -> None:
    distributed.sync_buffers(run.model)  # under DDP: rank 0's batch-norm statistics everywhere
    values = run.task.evaluate(run.model, run.data, *_held_xy(run), run.amp, run.chunk)
    run.records += metric_rows(run.step, run.held, values)
    run.last_eval = run.step


def _held_xy(run: _Run) -> tuple[torch.Tensor, torch.Tensor]:
    d = run.data
    return (d.x_val, d.y_val) if run.held == "val" else (d.x_test, d.y_test)


def _end_epoch(run: _Run, log, checkpoint: Path | None, flush) -> None:
    """Drain the step buffer into records (full batch: every FULL_BATCH_FLUSH steps), stop at a
    non-finite loss, evaluate held-out if due, log, checkpoint and flush."""
    p = run.plan
    if p.full_batch and run.step % FULL_BATCH_FLUSH and run.step < p.total:
        return  # full batch: an epoch is one step
    run.records[run.flushed:] = _in_step_order(run.records[run.flushed:] + run.buf.drain(run.step))
    if (bad := _first_bad(run.records, run.flushed, run.task.metrics[0])) is not None:
        raise Diverged(*bad)
    if run.held and not p.full_batch and p.evaluates(run.step):
        _evaluate_held_out(run)  # at the epoch's end, so its log line shows it
    if not p.full_batch:
        seconds = time.perf_counter() - run.t0
        _epoch_log(log, run.epoch, p.epochs, run.records, run.flushed, seconds, run.task.metrics)
        if checkpoint is not None and run.cfg.checkpoint:
            save_checkpoint(checkpoint, run.model, run.opt, run.sched, run.gen, run.step, run.epoch,
                            run.records, seconds)
    if flush:
        flush(run.records[run.flushed:])
    run.flushed = len(run.records)


def _diverged(run: _Run, e: Diverged, flush) -> FitResult:
    """Records up to the first non-finite training loss, and the status that says so."""
    # Raised in _step after the step's loss was buffered but before `step += 1`, or after a drain.
    pending = run.buf.drain(run.step + 1 if len(run.buf) else run.step)
    run.records[run.flushed:] = _in_step_order(run.records[run.flushed:] + pending)
    at, lv = _first_bad(run.records, run.flushed, run.task.metrics[0]) or (e.step, e.loss)
    run.records = [r for r in run.records if r[0] <= at]  # nothing after the first non-finite loss
    if flush:
        flush(run.records[run.flushed:])
    return FitResult("diverged", {}, run.records, at, time.perf_counter() - run.t0, str(Diverged(at, lv)))


def _finish(run: _Run, flush) -> FitResult:
    """Every split with examples evaluated after the last update (test-time augmentation on test)."""
    seconds = time.perf_counter() - run.t0
    distributed.sync_buffers(run.model)  # every rank evaluates with rank 0's batch-norm statistics
    final, rows = _final_eval(run)
    run.records += rows
    if flush:
        flush(run.records[run.flushed:])
    return FitResult("complete", final, run.records, run.step, seconds)


def _final_eval(run: _Run) -> tuple[dict, list[tuple]]:
    """The final numbers and their metric rows: every split with examples evaluated after the last
    update, in eval mode (flip-averaged on test with tta; the training split only with eval_train)."""
    final = unmeasured_finals(run.data, run.task.metrics, run.cfg.eval_train)
    rows = []
    for split, (x, y) in measured_splits(run.data, run.cfg.eval_train).items():
        values = run.task.evaluate(run.model, run.data, x, y, run.amp, run.chunk, tta=run.cfg.tta and split == "test")
        final.update({f"{split}_{name}": v for name, v in values.items()})
        rows += metric_rows(run.step, split, values)
    return final, rows


class Stepper:
    """`fit`, a few steps at a time: the same setup, steps, evaluation schedule and records, for a
    caller that does something between steps (the playground of `nnstudy serve` draws a frame).
    `advance(n)` until `result` is set gives exactly fit's FitResult; `so_far()` is the FitResult
    of a run whose last step is the current one (what fit with cfg.steps = `step` returns, for a
    constant learning rate: a schedule spans cfg.steps)."""

    _END = object()

    def __init__(self, model: nn.Module, data: Dataset, cfg, *, task=None, hook: Callable | None = None):
        self.run = _setup(model, data, cfg, task, None)
        self.hook = hook
        self.result: FitResult | None = None  # set when the run has ended: its last step, or diverged
        self._steps: Iterator[None] | None = None  # the epoch under way
        self.seconds = 0.0  # time spent in advance (training), not between calls

    @property
    def step(self) -> int:
        return self.run.step

    def advance(self, n: int = 1) -> int:
        """Take up to n steps (fewer at the run's end); returns how many were taken."""
        run, taken, t0 = self.run, 0, time.perf_counter()
        if self.result is not None:
            return 0
        with torch_threads(run.cfg.threads):
            try:
                while run.step < run.plan.total and taken < n:
                    if self._steps is None:
                        self._steps = _epoch_steps(run, self.hook)
                    if next(self._steps, self._END) is self._END:
                        self._end_epoch()
                    else:
                        taken += 1
                if run.step >= run.plan.total:
                    if self._steps is not None:  # the last epoch's end: drain, as fit does
                        self._end_epoch()
                    self.result = _finish(run, None)
            except Diverged as e:
                self.result = _diverged(run, e, None)
        self.seconds += time.perf_counter() - t0
        if self.result is not None:
            self.result.seconds = self.seconds
        return taken

    def _end_epoch(self) -> None:
        self.run.epoch += 1
        self._steps = None
        _end_epoch(self.run, None, None, None)

    def so_far(self) -> FitResult:
        """The run as if it ended now: its records up to this step and every split evaluated after
        it. Training can go on afterwards; nothing it will record is changed."""
        if self.result is not None:
            return self.result
        run = self.run
        with torch_threads(run.cfg.threads):
            run.records[run.flushed:] = _in_step_order(run.records[run.flushed:] + run.buf.drain(run.step))
            if (bad := _first_bad(run.records, 0, run.task.metrics[0])) is not None:
                return FitResult("diverged", {}, [r for r in run.records if r[0] <= bad[0]], bad[0],
                                 self.seconds, str(Diverged(*bad)))
            final, rows = _final_eval(run)
        return FitResult("complete", final, run.records + rows, run.step, self.seconds)


def _first_bad(records: list[tuple], since: int = 0, loss: str = "loss") -> tuple[int, float] | None:
    """(step, value) of the first non-finite training loss in records[since:], if any."""
    bad = [(r[0], r[3]) for r in records[since:] if r[1] == "train" and r[2] == loss
           and (r[3] is None or not math.isfinite(r[3]))]
    return min(bad) if bad else None


def _in_step_order(records: list[tuple]) -> list[tuple]:
    """Records by step, held-out before train at the same step (evaluated before that update)."""
    return sorted(records, key=lambda r: (r[0], r[1] == "train"))


def _epoch_log(log, epoch: int, epochs: int, records: list, since: int, seconds: float,
               metrics: tuple[str, ...] = ("loss", "acc")) -> None:
    if log is None:
        return
    new = records[since:]
    # the mean over the epoch's batches, as they were trained (not the final eval-mode numbers)
    means = []
    for m in metrics:
        vs = [r[3] for r in new if r[1] == "train" and r[2] == m]
        means.append(f"{m} {sum(vs) / len(vs):.4f}")
    msg = f"epoch {epoch}/{epochs}  batches' mean train {' '.join(means)}"
    end = max((r[0] for r in new if r[1] == "train"), default=-2) + 1  # the step after this epoch's last update
    val = [r for r in new if r[1] == "val" and r[2] == metrics[-1] and r[0] == end]  # evaluated at this epoch's end
    if val:
        msg += f"  val {metrics[-1]} {val[-1][3]:.4f}"
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
