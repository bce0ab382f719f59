"""Backpropagation written by hand (NumPy) against finite differences, torch.autograd and the house's
PyTorch training loop.

1. gradcheck: per layer and parameter array, the max relative error of the hand-written backward
   against central finite differences (every entry) and against torch.autograd (float64), for
   several depths and activations, on spiral points.
2. curves: the PyTorch MLP trained by `train.fit` and the NumPy MLP trained by its own loop from
   the same initial weights (`scratch.MLP.from_torch`), same data, same optimizer arithmetic:
   the largest gap between the two loss curves, NumPy in float32 (torch's dtype) on every seed and
   in float64 (a reference for float32's own rounding) on the first.
3. timing: the time per full-batch step of each, the median over every step of those runs.
   PyTorch's step is the time between two calls of fit's hook (forward, loss, backward, update
   and the loop's bookkeeping); NumPy's is one loss_and_grads + optimizer step. Both run on one
   thread (torch's setting, and NumPy's OpenBLAS where it can be set): the nets are small and the
   machine shared, where extra threads cost more than they give.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.data.toy import make_spiral
from nnstudy.models import build_model
from nnstudy.scratch import MLP, SGD, Adam, gradcheck
from nnstudy.studies import TOPICS, Entry, Profile, Study, StudyContext, fmt_ms, mean_std, register_study
from nnstudy.threads import numpy_blas_threads, openblas_thread_functions, torch_threads


@dataclass(frozen=True)
class BackpropProfile(Profile):
    depths: tuple[int, ...]  # hidden layers of the nets checked against finite differences
    check_width: int  # their hidden width
    check_points: int  # examples in each gradient check
    n_per_class: int  # spiral points per class of the training curves
    steps: int  # full-batch steps of each curve
    curves: tuple[str, ...]  # which nets train in NumPy and PyTorch side by side


PROFILES = {
    "quick": BackpropProfile(depths=(1, 2), check_width=8, check_points=20, n_per_class=200, steps=100,
                             curves=("week",)),
    "default": BackpropProfile(depths=(1, 2, 4), check_width=16, check_points=30, n_per_class=1000, steps=500,
                               curves=("week", "deep tanh")),
    "full": BackpropProfile(depths=(1, 2, 4, 8), check_width=32, check_points=60, n_per_class=1000, steps=5000,
                            curves=("week", "deep tanh")),
}
ACTIVATIONS = ("sigmoid", "tanh", "relu")
H = 1e-5  # finite-difference step: ~eps^(1/3) in float64, where truncation and rounding balance
TARGET = 1e-6  # the bound on the relative error vs autograd, float64
TINY = 1e-5  # relative errors use max(|a| + |b|, TINY): gradients below it are judged on an absolute scale
# name -> the net and optimizer trained by both implementations on the spiral (the week's: H=100, Adam)
CURVES = {
    "week": dict(width=100, depth=1, activation="relu", optimizer="adam", lr=1e-3, weight_decay=1e-5, momentum=0.0),
    "deep tanh": dict(width=50, depth=3, activation="tanh", optimizer="sgd", lr=0.1, weight_decay=1e-4,
                      momentum=0.9),
}


def check_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n spiral points (float64) and labels, from their own generator."""
    X, y = make_spiral(max(1, n // 3 + 1), 3, 0.2, generator=torch.Generator().manual_seed(0))
    idx = torch.randperm(len(X), generator=torch.Generator().manual_seed(1))[:n]
    return X[idx].double().numpy(), y[idx].numpy()


def run_gradcheck(p: dict) -> list[dict]:
    X, y = check_points(p["check_points"])
    rows = []
    for depth in p["depths"]:
        for act in ACTIVATIONS:
            net = MLP([2] + [p["check_width"]] * depth + [3], act, dtype=np.float64, seed=depth)
            _, cache = net._forward(X)
            near_kink = min(float(np.abs(z).min()) for _, z, _ in cache[:-1])  # a ReLU kink within h: FD straddles it
            for r in gradcheck(net, X, y, h=H, tiny=TINY):
                rows.append({"depth": depth, "activation": act, "layer": r["layer"] + 1, "param": r["param"],
                             "shape": "x".join(map(str, r["shape"])), "checked": r["n_checked"],
                             "rel_err_fd": r["max_rel_err_fd"], "rel_err_autograd": r["max_rel_err_autograd"],
                             "max_abs_grad": r["max_abs_grad"], "min_abs_preact": near_kink})
    return rows


def numpy_optimizer(c: dict, params):
    if c["optimizer"] == "adam":
        return Adam(params, lr=c["lr"], weight_decay=c["weight_decay"])
    return SGD(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"])


def numpy_curve(net: MLP, X, y, c: dict, steps: int) -> tuple[list[float], list[float]]:
    """Losses before each update, and the seconds each step took."""
    opt = numpy_optimizer(c, net.params)
    losses, seconds = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss, grads = net.loss_and_grads(X, y)
        opt.step(grads)
        seconds.append(time.perf_counter() - t0)
        losses.append(loss)
    return losses, seconds


def compare_curves(ctx: StudyContext, name: str, seed: int, p: dict, float64: bool) -> dict:
    """One seed: PyTorch via train.fit, then NumPy float32 (and float64 when asked) from the same weights."""
    c = CURVES[name]
    cfg = TrainConfig(dataset="spiral", n_per_class=p["n_per_class"], data_seed=seed, seed=seed, model="mlp",
                      steps=p["steps"], eval_every=p["steps"], checkpoint=False, **c)
    data = load_dataset(cfg)
    torch.manual_seed(seed)
    model = build_model(cfg, data.input_shape, data.num_classes)
    nets = {dt: MLP.from_torch(model, dtype=dt) for dt in (np.float32, np.float64)}  # before training
    stamps = []
    res = ctx.train(cfg, f"backprop {name} seed {seed} (PyTorch)", data=data, model=model,
                    hook=lambda step, m: stamps.append(time.perf_counter()))
    # the train loss before each update (fit also records one after the last update, at step = steps)
    torch_loss = [v for _, v in sorted((s, v) for s, sp, k, v in res.records
                                       if sp == "train" and k == "loss" and s < p["steps"])]
    X, y = data.x_train.numpy(), data.y_train.numpy()
    out = {"run": res.run_id, "torch_final_loss": torch_loss[-1], "test_acc": res.final.get("test_acc"),
           "torch_ms": 1e3 * statistics.median(np.diff(stamps))}
    for dt, label in ((np.float32, "f32"), (np.float64, "f64"))[:2 if float64 else 1]:
        losses, secs = numpy_curve(nets[dt], X, y, c, p["steps"])
        gap = np.abs(np.asarray(losses) - np.asarray(torch_loss))  # (steps,)
        ctx.store.log_metrics(res.run_id, [(s, f"numpy_{label}", "loss", v) for s, v in enumerate(losses)])
        ctx.store.log_metrics(res.run_id, [(s, f"numpy_{label}", "gap", v) for s, v in enumerate(gap)])
        out[f"max_gap_{label}"] = float(gap.max())
        out[f"numpy_{label}_ms"] = 1e3 * statistics.median(secs)
        out[f"numpy_{label}_final_loss"] = losses[-1]
    return out


def run_curves(ctx: StudyContext, p: dict) -> list[dict]:
    rows = []
    for name in p["curves"]:
        # float64 NumPy is the reference line, on the first seed only (it costs the most)
        per_seed = [compare_curves(ctx, name, s, p, s == ctx.seeds[0]) for s in ctx.seeds]
        row = {"config": name, **CURVES[name], "steps": p["steps"], "runs": [r["run"] for r in per_seed],
               "seeds": [dict(r) for r in per_seed]}
        for k in ("max_gap_f32", "max_gap_f64", "torch_ms", "numpy_f32_ms", "numpy_f64_ms", "test_acc",
                  "torch_final_loss", "numpy_f32_final_loss"):
            row[k] = mean_std(r.get(k) for r in per_seed)
        row["numpy_over_torch"] = mean_std(r["numpy_f32_ms"] / r["torch_ms"] for r in per_seed)
        rows.append(row)
    return rows


@register_study
class BackpropStudy(Study):
    name = "backprop"
    title = "Backpropagation by hand: does it compute the same gradients, and train the same, as PyTorch?"
    help = "hand-written backprop (NumPy) vs finite differences, autograd and PyTorch training"
    entries = (Entry(TOPICS, 2, "Multi-layer perceptrons and backpropagation"),)
    default_seeds = {"quick": 2, "default": 3, "full": 5}

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        ctx.log("backprop (1/2): gradient checks, per layer")
        checks = run_gradcheck(p)
        ctx.log("backprop (2/2): NumPy vs PyTorch training on the spiral, same initialization")
        with torch_threads(1), numpy_blas_threads(1):
            curves = run_curves(ctx, p)
        return {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}, "fd_step": H,
                "rel_err_floor": TINY, "autograd_rel_err_target": TARGET, "counts": {"arrays": len(checks)},
                "gradcheck": checks, "max_rel_err_autograd": max(r["rel_err_autograd"] for r in checks),
                "max_rel_err_fd": max(r["rel_err_fd"] for r in checks), "curves": curves,
                "threads": {"torch": 1, "numpy_blas": 1 if openblas_thread_functions() else "unchanged"},
                "table": table(checks, curves)}

    def section(self, store, run):
        from nnstudy.studies.backprop.report import backprop_section

        return backprop_section(store, run, self.title)

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.backprop.figures import draw_backprop

        return draw_backprop(store, run, folder)


def table(checks: list[dict], curves: list[dict]) -> list[dict]:
    """The terminal's view: the worst error per (depth, activation), the curve gaps and step times."""
    worst = {}
    for r in checks:
        w = worst.setdefault((r["depth"], r["activation"]), {"fd": 0.0, "autograd": 0.0, "arrays": 0})
        w["fd"], w["autograd"] = max(w["fd"], r["rel_err_fd"]), max(w["autograd"], r["rel_err_autograd"])
        w["arrays"] += 1
    rows = [{"part": "gradcheck", "config": f"depth {d}, {a}", "seconds per step": "",
             "result": f"max rel err: finite diff {w['fd']:.1e}, autograd {w['autograd']:.1e} ({w['arrays']} arrays)"}
            for (d, a), w in worst.items()]
    for r in curves:
        config = f"{r['config']} ({r['activation']}, {r['optimizer']}, {r['steps']} steps)"
        rows.append({"part": "curves", "config": config,
                     "seconds per step": f"torch {r['torch_ms']['mean']:.2f} ms, NumPy {r['numpy_f32_ms']['mean']:.2f} "
                                         f"ms (x{r['numpy_over_torch']['mean']:.2f})",
                     "result": f"max |loss gap| float32 {r['max_gap_f32']['mean']:.1e}, float64 NumPy vs float32 "
                               f"torch {r['max_gap_f64']['mean']:.1e}; test acc {fmt_ms(r['test_acc'])}"})
    return rows
