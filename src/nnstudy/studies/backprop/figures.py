"""Figures of the backprop study, drawn from its summary and its runs' stored curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy.plots import save


def gradcheck_figure(s: dict, path: Path) -> Path:
    rows = s["gradcheck"]
    groups = list(dict.fromkeys((r["depth"], r["activation"]) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(groups) + 2), 4))
    floor = 1e-18  # exact agreement (0) drawn at the bottom
    for g, (depth, act) in enumerate(groups):
        rs = [r for r in rows if (r["depth"], r["activation"]) == (depth, act)]
        xs = g + np.linspace(-0.3, 0.3, len(rs))
        ax.scatter(xs, [max(r["rel_err_fd"], floor) for r in rs], marker="o", s=14, color="#d0553b",
                   label="vs finite differences" if g == 0 else None)
        ax.scatter(xs, [max(r["rel_err_autograd"], floor) for r in rs], marker="s", s=14, color="#3b6fd0",
                   label="vs torch.autograd" if g == 0 else None)
    ax.axhline(1e-6, color="k", ls="--", lw=1, label="target 1e-6")
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), [f"depth {d}\n{a}" for d, a in groups], fontsize=7)
    ax.set_ylabel(f"max relative error per array\n(denominator floored at {s['rel_err_floor']:g})")
    ax.set_title("Hand-written backward, float64: each dot one W or b, input layer first", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def curves_figure(store, s: dict, path: Path) -> Path:
    curves = s["curves"]
    fig, axes = plt.subplots(2, len(curves), figsize=(5.5 * len(curves), 6.5), squeeze=False, sharex="col")
    for k, c in enumerate(curves):
        run = c["runs"][0]
        t_steps, t_loss = store.series(run, "train", "loss")
        n_steps, n_loss = store.series(run, "numpy_f32", "loss")
        ax = axes[0, k]
        ax.plot(t_steps, t_loss, lw=2.5, alpha=0.5, label="PyTorch (train.fit)")
        ax.plot(n_steps, n_loss, lw=1, ls="--", color="k", label="NumPy, hand-written backward")
        ax.set_ylabel("training loss")
        ax.set_title(f"{c['config']}: {c['activation']}, {c['depth']} x {c['width']}, {c['optimizer']} "
                     f"lr {c['lr']:g} (seed 0)", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax = axes[1, k]
        for label, split in (("NumPy float32 vs PyTorch float32", "numpy_f32"),
                             ("NumPy float64 vs PyTorch float32", "numpy_f64")):
            steps, gap = store.series(run, split, "gap")
            ax.plot(steps, np.maximum(gap, 1e-12), lw=1, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("|loss gap| (0 drawn at 1e-12)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def timing_figure(s: dict, path: Path) -> Path:
    curves = s["curves"]
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = np.arange(len(curves))
    for j, (key, label) in enumerate((("torch_ms", "PyTorch float32"), ("numpy_f32_ms", "NumPy float32"),
                                      ("numpy_f64_ms", "NumPy float64"))):
        ax.bar(xs + (j - 1) * 0.27, [c[key]["mean"] for c in curves], 0.27, yerr=[c[key]["std"] for c in curves],
               capsize=3, label=label)
    ax.set_xticks(xs, [c["config"] for c in curves])
    ax.set_ylabel("ms per full-batch step (median; mean ± std over seeds)")
    ax.set_title("Time per step on this machine's CPU (torch on 1 thread)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def draw_backprop(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    return [gradcheck_figure(s, folder / "gradcheck.png"), curves_figure(store, s, folder / "curves.png"),
            timing_figure(s, folder / "timing.png")]
