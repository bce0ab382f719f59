"""Many small runs as one computation: `train_many(cfgs, store)` trains K same-shaped models
(MLPs, the week's linear net, softmax regression) in one loop and records each exactly as
`experiment.train_and_evaluate` would have recorded it alone.

A group is a set of configs equal in every field except BATCH_FIELDS: seed (initialisation and
data order), data_seed (each member its own draw of the data; the sizes must agree), lr,
weight_decay, momentum, plus `extra` and `checkpoint`, which do not change the numbers. Every
other field (model shape, optimizer, loss, steps, batch size, ...) defines the group. Configs the
stacked code cannot train (dropout, batch norm, residual, augmentation, test-time augmentation,
torch.compile, conv nets) fall back to `train_and_evaluate`. Schedules are batched:
each member's own torch scheduler drives its hyperparameters.

Each member's model is built exactly as the solo path builds it (torch.manual_seed(cfg.seed), then
build_model) and its weights stacked; its data order comes from its own
torch.Generator().manual_seed(cfg.seed), as in `fit`. The loss is the sum of the members' mean
losses, so each member receives exactly its solo gradient. Records mean what `fit`'s mean: train
loss/acc at step s are the forward pass of update s+1, held-out records are evaluated before the
update at the steps `fit` evaluates, the final evaluation of every split is at step = total.
A member whose training loss turns NaN/inf is marked diverged at that step and frozen (its update
and optimizer state masked, so its saved weights are the last finite ones); the others carry on.

Stored like a solo run: one run per config (its config, digest, metrics, model.pt under the solo
model's keys, the same summary fields plus "batched": {models, group_seconds}); train_seconds is
the group's loop time divided by its size. Batched runs write no mid-run checkpoint (no --resume).
Numbers match solo runs to float32 rounding (tests/test_batched.py states the tolerances); over
long runs, rounding differences can grow as they do between any two summation orders.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable

import torch

from nnstudy.config import TrainConfig
from nnstudy.data import Dataset, load_dataset
from nnstudy.errors import Diverged
from nnstudy.experiment import RunResult, finish_run, run_result, train_and_evaluate
from nnstudy.models import build_model
from nnstudy.optim import make_optimizer, make_scheduler, resolve_device
from nnstudy.plan import held_out_split, measured_splits, metric_rows, step_plan, unmeasured_finals
from nnstudy.stacked import (
    EVAL_COLUMNS,
    StackedNet,
    StackedOptimizer,
    clip_members,
    evaluate_members,
    layer_plan,
    loss_and_grad,
)
from nnstudy.store import Store
from nnstudy.tasks import Classify
from nnstudy.train import FitResult

BATCH_FIELDS = ("seed", "data_seed", "lr", "weight_decay", "momentum", "extra", "checkpoint")
# How many members go through each kernel call: a chunk's workspace (activations and their gradients)
# near one of these sizes. The best one is the machine's, not ours to fix: it follows the CPU's cache
# (small chunks where L2 is small, one big chunk where fewer, larger calls win; the machines measured
# are in benchmarks/results/notes.md, and benchmarks/batched.py reports the chunking chosen). A
# member's numbers do not depend on its chunk (tests/test_batched.py), so fit_group times its first
# steps at each size and keeps the fastest.
CHUNK_BUDGETS = (4 << 20, 16 << 20, 64 << 20)
TUNE_ROUNDS = 3  # steps timed per candidate; the fastest of each candidate's steps counts


def why_solo(cfg: TrainConfig) -> str | None:
    """Why the batched trainer cannot take this config (None: it can)."""
    if cfg.model not in ("mlp", "linear", "logistic"):
        # Conv nets train solo on purpose: grouped convolutions ran no faster than one-by-one steps for
        # LeNet-5 and convnet-tiny, and batching could share only the fixed per-step cost, a far lower
        # ceiling than the MLPs' gain (benchmarks/batched_cnn.py; results/batched_cnn.md).
        return f"model {cfg.model!r} is not a stacked model"
    if cfg.model == "mlp" and (cfg.dropout or cfg.batch_norm or cfg.residual):
        return "dropout, batch norm and residual MLPs train solo"
    if cfg.augment or cfg.tta or cfg.compile:
        return "augmentation, test-time augmentation and compile train solo"
    # "cuda" is taken at its word, never resolved: a sweep's own machine may plan GPU work without a GPU
    cuda = cfg.device == "cuda" or (cfg.device == "auto" and resolve_device("auto").type == "cuda")
    if cfg.amp in ("bf16", "native") or (cfg.amp == "auto" and cuda):
        return "bf16 autocast trains solo (the stacked kernels compute in float32)"
    return None


def group_key(cfg: TrainConfig) -> str:
    d = cfg.to_dict()
    for f in BATCH_FIELDS:
        d.pop(f)
    return json.dumps(d, sort_keys=True, default=str)


def plan_groups(cfgs: list[TrainConfig]) -> list[tuple[list[int], bool]]:
    """[(indices into cfgs, batched?)]: batchable configs grouped by group_key, in first-seen
    order; every other config alone (solo)."""
    groups: dict[str, list[int]] = {}
    out: list[tuple[list[int], bool]] = []
    for i, cfg in enumerate(cfgs):
        if why_solo(cfg):
            out.append(([i], False))
            continue
        key = group_key(cfg)
        if key not in groups:
            groups[key] = []
            out.append((groups[key], True))
        groups[key].append(i)
    return out


def train_many(cfgs: list[TrainConfig], store: Store | None = None, *, study: str | None = None,
               parent: str | None = None, names: list[str | None] | None = None,
               log: Callable[[str], None] | None = None, chunk_bytes: int | None = None) -> list[RunResult]:
    """Train every config, batching what can be batched; results in input order. chunk_bytes fixes
    the chunk budget (None: fit_group picks among CHUNK_BUDGETS by timing its first steps)."""
    names = list(names) if names is not None else [None] * len(cfgs)
    results: list[RunResult | None] = [None] * len(cfgs)
    for idx, batched in plan_groups(cfgs):
        if not batched:
            i = idx[0]
            results[i] = train_and_evaluate(cfgs[i], store, study=study, parent=parent, name=names[i])
            continue
        group = train_group([cfgs[i] for i in idx], store, study=study, parent=parent,
                            names=[names[i] for i in idx], log=log, chunk_bytes=chunk_bytes)
        for i, r in zip(idx, group):
            results[i] = r
    return results  # type: ignore[return-value]


def load_group_data(cfgs: list[TrainConfig]) -> list[Dataset]:
    """One load per distinct data config; members that share it share the object. load_dataset
    reads data fields only (data_seed, never seed), so configs equal but for the other batch
    fields share their data."""
    cache: dict[str, Dataset] = {}
    out = []
    for cfg in cfgs:
        key = json.dumps({**cfg.to_dict(), "seed": 0, "lr": 0, "weight_decay": 0, "momentum": 0, "extra": {},
                          "checkpoint": True}, sort_keys=True, default=str)
        if key not in cache:
            cache[key] = load_dataset(cfg)
        out.append(cache[key])
    return out


def _shape(d: Dataset) -> tuple:
    return (d.input_shape, d.num_classes, d.is_image) + tuple(
        len(x) if x is not None else 0 for x in (d.x_train, d.x_val, d.x_test))


def train_group(cfgs: list[TrainConfig], store: Store | None = None, *, study=None, parent=None,
                names=None, log=None, chunk_bytes: int | None = None) -> list[RunResult]:
    """Train one group (configs equal up to BATCH_FIELDS) and record each member."""
    names = names or [None] * len(cfgs)
    datas = load_group_data(cfgs)  # before any run exists: bad data leaves nothing behind
    by_shape: dict[tuple, list[int]] = {}
    for i, d in enumerate(datas):
        by_shape.setdefault(_shape(d), []).append(i)
    if len(by_shape) > 1:  # e.g. a train_subset larger than some draws: sub-groups of equal sizes
        results: list = [None] * len(cfgs)
        for idx in by_shape.values():
            sub = train_group([cfgs[i] for i in idx], store, study=study, parent=parent,
                              names=[names[i] for i in idx], log=log, chunk_bytes=chunk_bytes)
            for i, r in zip(idx, sub):
                results[i] = r
        return results
    models = []
    for cfg, d in zip(cfgs, datas):
        torch.manual_seed(cfg.seed)  # exactly as train_and_evaluate builds its model
        models.append(build_model(cfg, d.input_shape, d.num_classes))
    plan = layer_plan(models[0], cfgs[0])
    if plan is None:
        return [train_and_evaluate(c, store, study=study, parent=parent, name=n, data=d, model=m)
                for c, d, m, n in zip(cfgs, datas, models, names)]
    device = resolve_device(cfgs[0].device)
    run_ids = [store.create_run("train", c.to_dict(), study=study, name=n, parent=parent, seed=c.seed,
                                digest=c.digest(), device=str(device)) if store else None
               for c, n in zip(cfgs, names)]
    t0 = time.perf_counter()
    try:
        fits, net = fit_group(cfgs, datas, models, plan, log=log, chunk_bytes=chunk_bytes)
    except BaseException as e:  # never leave members reading as running
        for rid in run_ids:
            if rid:
                store.finish(rid, "failed", error=f"{type(e).__name__}: {e}")
        raise
    wall = time.perf_counter() - t0
    out = []
    for k, (cfg, d, model, res, rid) in enumerate(zip(cfgs, datas, models, fits, run_ids)):
        model.load_state_dict(net.state_dict(k))
        r = run_result(rid, res, cfg, model, d)
        if store is not None:
            _record(store, r, d, {"models": len(cfgs), "group_seconds": round(wall, 3),
                                  "chunk_members": net.chunk_members})
        out.append(r)
    return out


def _record(store: Store, r: RunResult, data: Dataset, batched: dict) -> None:
    """Metrics, then model.pt and the summary exactly as a solo run stores them."""
    store.log_metrics(r.run_id, r.records)
    finish_run(store, r, data, batched=batched)


# -- the loop ------------------------------------------------------------------------------------
def _stack(datas: list[Dataset], split: str, device) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of every member, feature-major with a row of ones (the folded bias): x (K, D + 1, N)
    float, y (K, N). Members sharing a dataset share its memory (an expanded view)."""
    def one(d):
        x, y = d.splits()[split]
        x = d.prepare(x).flatten(1).T  # (D, N)
        return torch.cat((x, torch.ones(1, x.shape[1]))).to(device), y.to(device)  # (D + 1, N), (N,)
    if all(d is datas[0] for d in datas):
        x, y = one(datas[0])
        return x.expand(len(datas), -1, -1), y.expand(len(datas), -1)
    xs, ys = zip(*(one(d) for d in datas))
    return torch.stack(xs), torch.stack(ys)


def _chunks(K: int, per_member_bytes: int, budget: int, device) -> list[tuple[int, int]]:
    """Member ranges [lo, hi). On a GPU one chunk; on the CPU as few chunks as the budget allows,
    their sizes within one member of each other, largest first (32 members at 15 per chunk: 11, 11,
    10, not 15, 15, 2, whose last call pays a whole call's overhead for two members)."""
    k = K if device.type != "cpu" else max(1, min(K, budget // max(1, per_member_bytes)))
    n = -(-K // k)
    size, extra = divmod(K, n)
    bounds = [0]
    for i in range(n):
        bounds.append(bounds[-1] + size + (i < extra))
    return list(zip(bounds, bounds[1:]))


class ChunkTuner:
    """The chunk budget for a group's training steps. One candidate: that one. Several: the first
    TUNE_ROUNDS x len(candidates) steps take the candidates in turn, each step timed (its chunks and
    the update, not the held-out evaluation), and the budget of the fastest step is kept. The steps
    it times are real training steps: chunking changes no member's numbers."""

    def __init__(self, K: int, per_member_bytes: int, budgets: tuple[int, ...], device):
        plans: dict[tuple, int] = {}  # distinct chunkings -> the smallest budget giving each
        for b in budgets:
            plans.setdefault(tuple(_chunks(K, per_member_bytes, b, device)), b)
        self.plans, self.budgets = [list(c) for c in plans], list(plans.values())
        self.times: list[list[float]] = [[] for _ in self.plans]
        self.best = 0 if len(self.plans) == 1 else None
        self.n = 0

    @property
    def budget(self) -> int:
        return self.budgets[self.best if self.best is not None else self.n % len(self.plans)]

    def chunks(self) -> list[tuple[int, int]]:
        return self.plans[self.best if self.best is not None else self.n % len(self.plans)]

    def record(self, seconds: float) -> bool:
        """Time of the step just run with chunks(); True when this step settled the choice."""
        if self.best is not None:
            return False
        self.times[self.n % len(self.plans)].append(seconds)
        self.n += 1
        if self.n < TUNE_ROUNDS * len(self.plans):
            return False
        self.best = min(range(len(self.plans)), key=lambda i: min(self.times[i]))
        return True


def fit_group(cfgs: list[TrainConfig], datas: list[Dataset], models: list, plan, *, log=None,
              chunk_bytes: int | None = None) -> tuple[list[FitResult], StackedNet]:
    """train.fit for K members at once; returns each member's FitResult and the trained net."""
    cfg, d0 = cfgs[0], datas[0]  # every field that shapes the loop is equal within a group
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    K, C = len(cfgs), d0.num_classes
    X, Y = _stack(datas, "train", device)  # (K, D + 1, N), (K, N)
    n = X.shape[2]
    held = held_out_split(d0)
    HX, HY = _stack(datas, held, device) if held else (None, None)
    steps = step_plan(cfg, n)  # fit's plan: the same steps, batches and evaluation schedule
    total, bs = steps.total, steps.batch
    net = StackedNet(models, plan, device)
    # Each member's own torch optimizer and schedule, as fit builds them, hold its hyperparameters: a
    # schedule steps them (lr; OneCycle also cycles SGD's momentum or Adam's beta1) and the stacked
    # optimizer reads them back, so every member follows exactly its solo run's schedule.
    member_opts = [make_optimizer(c, m.parameters()) for c, m in zip(cfgs, models)]
    scheds = [make_scheduler(c, o, total) for c, o in zip(cfgs, member_opts)]
    scheds = [] if scheds[0] is None else scheds  # the schedule is a group field: all or none
    opt = StackedOptimizer(cfg.optimizer, net.params, [o.param_groups[0] for o in member_opts])
    gens = [torch.Generator().manual_seed(c.seed) for c in cfgs]  # each member's data order, as fit
    floats = net.floats_per_example()
    tuner = ChunkTuner(K, floats * bs * 4, (chunk_bytes,) if chunk_bytes else CHUNK_BUDGETS, device)

    def eval_chunks() -> list[tuple[int, int]]:  # evaluation chunks at the training steps' budget
        return _chunks(K, floats * min(EVAL_COLUMNS, n) * 4, tuner.budget, device)

    grads = [torch.empty_like(p) for p in net.params]
    tr = torch.full((total, 2, K), float("nan"), device=device)  # per step: loss, acc of each member
    held_steps, held_vals = [], []  # steps evaluated, (K, 2) loss and accuracy at each
    active = torch.ones(K, dtype=torch.bool, device=device)
    step, t0 = 0, time.perf_counter()
    while step < total:
        order = None if steps.full_batch else torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
        for b in range(steps.per_epoch):
            if step >= total:
                break
            idx = None if order is None else order[:, b * bs:(b + 1) * bs]  # (K, B)
            if held and steps.evaluates(step):
                held_steps.append(step)
                held_vals.append(evaluate_members(net, cfg, HX, HY, C, eval_chunks()))
            t_step = time.perf_counter()
            for lo, hi in tuner.chunks():
                xb, yb = X[lo:hi], Y[lo:hi]
                if idx is not None:
                    i = idx[lo:hi]
                    xb, yb = xb.gather(2, i[:, None, :].expand(-1, xb.shape[1], -1)), yb.gather(1, i)
                params = [p[lo:hi] for p in net.params]
                z = net.forward(params, xb)  # (k, C, B)
                tr[step, 0, lo:hi], tr[step, 1, lo:hi], dz = loss_and_grad(cfg, z, yb, C)
                net.backward(params, xb, dz, [g[lo:hi] for g in grads])
            active &= torch.isfinite(tr[step, 0])  # before the update: a diverging member is frozen
            if cfg.grad_clip:
                clip_members(grads, cfg.grad_clip)
            opt.step(grads, active)
            if scheds:
                with warnings.catch_warnings():  # torch cannot see that the stacked step came first
                    warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)`")
                    for sc in scheds:
                        sc.step()
                opt.set_hyperparameters([o.param_groups[0] for o in member_opts])
            if tuner.record(time.perf_counter() - t_step):
                net.release_workspaces()  # the other candidates' buffers
            step += 1
            if step % 50 == 0 and not bool(active.any()):
                total = step  # every member diverged: nothing left to train
            if log and step % max(1, total // 10) == 0:
                log(f"  {K} x {cfg.model} (width {cfg.width}, depth {cfg.depth}, {cfg.optimizer}): "
                    f"step {step}/{total} {time.perf_counter() - t0:.1f} s")
    seconds = (time.perf_counter() - t0) / K
    net.chunk_members = tuner.chunks()[0][1]
    finals = {s: evaluate_members(net, cfg, *_stack(datas, s, device), C, eval_chunks())
              for s in measured_splits(d0, cfg.eval_train)}
    held_all = torch.stack(held_vals).cpu() if held_vals else None  # (evals, K, 2)
    finals = {s: v.cpu() for s, v in finals.items()}
    return [_member_result(k, tr[:step, :, k].cpu(), held, held_steps, held_all, finals, seconds,
                           unmeasured_finals(d0, train=cfg.eval_train))
            for k in range(K)], net


def _member_result(k: int, tr: torch.Tensor, held, held_steps, held_all, finals, seconds: float,
                   unmeasured: dict) -> FitResult:
    """Member k's records and final numbers, cut at its divergence like fit's."""
    bad = (~torch.isfinite(tr[:, 0])).nonzero()
    last = int(bad[0]) if len(bad) else len(tr) - 1  # last recorded train step
    rows = tr[:last + 1].tolist()
    records = []
    held_at = {s: held_all[e, k].tolist() for e, s in enumerate(held_steps) if s <= last}
    names = Classify.metrics  # (loss, acc): the columns of tr, held_all and finals
    for s, row in enumerate(rows):
        if s in held_at:
            records += metric_rows(s, held, dict(zip(names, held_at[s])))
        records += metric_rows(s, "train", dict(zip(names, row)))
    if len(bad):
        return FitResult("diverged", {}, records, last, seconds, str(Diverged(last, rows[last][0])))
    steps = len(tr)
    final = dict(unmeasured)  # empty splits: None, as fit records them
    for split, v in finals.items():  # v (K, 2)
        values = dict(zip(names, v[k].tolist()))
        final.update({f"{split}_{name}": x for name, x in values.items()})
        records += metric_rows(steps, split, values)
    return FitResult("complete", final, records, steps, seconds)
