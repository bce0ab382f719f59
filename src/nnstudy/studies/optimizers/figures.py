"""Figures of the optimizers study, drawn only from the store: the summary, the runs' training
curves and the study's trajectories.json."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from nnstudy import plots
from nnstudy.plots import save
from nnstudy.studies.shared import mean_curves

DATASETS = (("spiral", "spiral"), ("fashion", "Fashion-MNIST"))


def draw_sensitivity(s: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (key, label) in zip(axes, DATASETS):
        for c, opt in enumerate(s["variants"]):
            rows = [r for r in s[key]["grid"] if r["optimizer"] == opt]
            lr = np.array([r["lr"] for r in rows])
            m = np.array([np.nan if r["test_acc"]["mean"] is None else r["test_acc"]["mean"] for r in rows])
            sd = np.array([0 if r["test_acc"]["std"] is None else r["test_acc"]["std"] for r in rows])
            ax.plot(lr, m, marker="o", ms=3, lw=1.2, color=f"C{c}", label=opt)
            ax.fill_between(lr, m - sd, m + sd, color=f"C{c}", alpha=0.15, lw=0)
            best = next(b for b in s[key]["best"] if b["optimizer"] == opt)
            ax.scatter([best["lr"]], [best["test_acc"]["mean"] or np.nan], marker="*", s=90, color=f"C{c}",
                       edgecolors="k", zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{label}: accuracy over learning rates (star: chosen on val)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def draw_curves(store, s: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (key, label) in zip(axes, DATASETS):
        rows = [dict(b, name=f"{b['optimizer']} (lr {b['lr']:g})") for b in s[key]["best"]]
        curves, bands = mean_curves(store, rows, "train", "loss")
        plots.plot_curves(curves, "training loss", ax=ax, bands=bands, logy=True,
                          title=f"{label}: best lr each, mean ± std over seeds")
    fig.tight_layout()
    return save(fig, path)


def draw_gap(s: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.38
    for ax, (key, label) in zip(axes, DATASETS):
        best = s[key]["best"]
        xs = np.arange(len(best))
        for off, split, color in ((-width / 2, "train_acc", "#9bb8e0"), (width / 2, "test_acc", "#2f5d9e")):
            ax.bar(xs + off, [b[split]["mean"] or 0 for b in best], width, yerr=[b[split]["std"] or 0 for b in best],
                   capsize=3, color=color, label=split.replace("_acc", " accuracy"))
        ax.set_xticks(xs, [b["optimizer"] for b in best], rotation=20, ha="right", fontsize=8)
        lo = min((b["test_acc"]["mean"] or 1) for b in best)
        ax.set_ylim(max(0.0, lo - 0.1), 1.0)
        ax.set_title(f"{label}: train vs test at the chosen lr", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def draw_memory(s: dict, path: Path) -> Path:
    mem = s["memory"]
    names = list(mem)
    fig = plots.plot_bars(names, [mem[n]["bytes_per_param"] for n in names], None, "bytes of state per parameter",
                          title="Optimizer state after one step (measured: state_dict tensors)")
    return save(fig, path)


def draw_trajectories(store, run: dict, path: Path, surfaces: dict) -> Path:
    data = json.loads((store.run_dir(run["id"]) / run["summary"]["settings"]["surfaces"]["file"]).read_text())
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, (sname, (fn, start, minimum)) in zip(axes, surfaces.items()):
        paths = data["surfaces"][sname]
        pts = np.concatenate([np.array(p["path"]) for p in paths.values()] + [np.array([start, minimum])])
        lo, hi = np.percentile(pts, 1, axis=0), np.percentile(pts, 99, axis=0)
        pad = 0.15 * (hi - lo) + 0.2
        xs, ys = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200), np.linspace(lo[1] - pad[1], hi[1] + pad[1], 200)
        X, Y = np.meshgrid(xs, ys)
        Z = fn(torch.tensor(np.stack((X, Y)))).numpy()
        ax.contour(X, Y, np.log10(Z + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
        for c, (name, p) in enumerate(paths.items()):
            arr = np.array(p["path"])
            ax.plot(arr[:, 0], arr[:, 1], lw=1.1, color=f"C{c}",
                    label=f"{name} (lr {p['lr']:.3g}): f={p['values'][-1]:.1e}")
        ax.plot(*start, "ko", ms=5)
        ax.plot(*minimum, "r*", ms=12)
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_title(f"{sname}: {data['steps']} steps, best lr of each (o start, * minimum)", fontsize=10)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save(fig, path)


def draw_optimizers(store, run: dict, folder: Path, surfaces: dict) -> list[Path]:
    """surfaces: the study's 2-D test functions, name -> (function, start, minimum), to contour."""
    s, folder = run["summary"], Path(folder)
    return [draw_sensitivity(s, folder / "lr_sensitivity.png"), draw_curves(store, s, folder / "train_curves.png"),
            draw_gap(s, folder / "train_test_gap.png"), draw_memory(s, folder / "state_memory.png"),
            draw_trajectories(store, run, folder / "trajectories.png", surfaces)]
