"""Figures of the perceptron study, drawn from its stored summary and histories (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy import plots
from nnstudy.experiment import load_run_model
from nnstudy.plots import save
from nnstudy.scratch import MLP, xor_data, xor_hand_net

CMAP = plt.get_cmap("coolwarm")


def draw_line(ax, w_aug, lim=(-1.1, 1.1), **kw):
    """The line w0 x + w1 y + b = 0 within the box `lim` (nothing for w = 0)."""
    w0, w1, b = w_aug
    xs = np.linspace(*lim, 2)
    if abs(w1) > 1e-12:
        ax.plot(xs, -(w0 * xs + b) / w1, **kw)
    elif abs(w0) > 1e-12:
        ax.axvline(-b / w0, **kw)


def snapshots(n_updates: int, k: int = 6) -> list[int]:
    """About k update indices, log-spaced from the first to the last (1-based)."""
    if n_updates == 0:
        return []
    idx = np.unique(np.geomspace(1, n_updates, k).round().astype(int))
    return idx.tolist()


def updates_figure(d: dict, margin: float, path: Path) -> Path:
    X, y, H = np.array(d["X"]), np.array(d["y"]), np.array(d["history"])
    shots = snapshots(len(H))
    fig, axes = plt.subplots(1, len(shots), figsize=(2.7 * len(shots), 2.9), squeeze=False)
    for ax, k in zip(axes[0], shots):
        w = H[k - 1]
        wrong = y * (X @ w[:2] + w[2]) <= 0
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=CMAP, s=10, edgecolors="k", linewidths=0.2)
        ax.scatter(X[wrong, 0], X[wrong, 1], facecolors="none", edgecolors="k", s=40, linewidths=0.8)
        draw_line(ax, w, color="k", lw=1.4)
        draw_line(ax, d["max_margin"], color="g", lw=1, ls="--")
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-1.1, 1.1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"after update {k} of {len(H)}: {int(wrong.sum())} wrong", fontsize=8)
    fig.suptitle(f"The perceptron's line over its updates (margin {margin:g}, seed 0); circled: misclassified; "
                 "dashed: the max-margin line", fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def bound_figure(s: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 4.2))
    margins = [r["margin"] for r in s["separable"]]
    for k, m in enumerate(margins):
        rows = [t for t in s["trials"] if t["margin"] == m]
        ax.scatter([t["bound"] for t in rows], [t["mistakes"] for t in rows], s=16,
                   color=plt.get_cmap("viridis")(k / max(1, len(margins) - 1)), label=f"margin {m:g}")
    lo = min(min(t["mistakes"] for t in s["trials"]), 1)
    hi = max(t["bound"] for t in s["trials"])
    ax.plot([max(lo, 1), hi], [max(lo, 1), hi], "k--", lw=1, label="mistakes = bound")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Novikoff's bound (R / gamma)^2, from the training points")
    ax.set_ylabel("mistakes until convergence")
    ax.set_title("Every set below the line: the bound holds (and is loose)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save(fig, path)


def xor_figure(store, s: dict, d: dict, hist_sep, fig_margin: float, path: Path) -> Path:
    X, y = xor_data()
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.3))
    ax = axes[0]
    for label, counts in d["epoch_mistakes"].items():
        ax.plot(range(1, len(counts) + 1), counts, lw=1.2, label=f"XOR, {label}")
    sep = hist_sep.get("epoch_mistakes") if hist_sep else None
    if sep:
        ax.plot(range(1, len(sep) + 1), sep, lw=1.2, color="k", label="a separable set (margin "
                f"{fig_margin:g})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mistakes in the epoch")
    ax.set_title("perceptron on XOR:\nno mistake-free epoch", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200)), -1).reshape(-1, 2)
    hand = xor_hand_net(grid, {k: np.asarray(v) for k, v in d["hand"].items()})
    net = MLP.__new__(MLP)
    net.sizes, net.activation, net.dtype = [2, 2, 2], d["mlp_activation"], np.dtype(np.float64)
    net.params = [(np.array(W), np.array(b)) for W, b in d["mlp"]]
    mlp = 2 * net.predict(grid) - 1
    for ax, Z, title in ((axes[1], hand, "hand-set 2-2-1 threshold net:\nOR AND NAND"),
                         (axes[2], mlp, "trained 2-2-2 MLP\n(NumPy, Adam), seed 0")):
        ax.contourf(grid[:, 0].reshape(200, 200), grid[:, 1].reshape(200, 200), Z.reshape(200, 200),
                    levels=[-2, 0, 2], cmap=CMAP, alpha=0.3)
        ax.set_title(title, fontsize=9)
    for ax in axes[1:3]:
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=CMAP, s=80, edgecolors="k", zorder=3)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-0.5, 1.5)
        ax.set_aspect("equal")
    run_id = s["noisy_xor"]["mlp"]["runs"][0]
    model, _, data = load_run_model(store, run_id)
    acc = store.get(run_id)["summary"]["final"].get("test_acc", float("nan"))
    plots.plot_model(data.x_test, data.y_test, model, ax=axes[3], resolution=150,
                     title=f"noisy XOR, 2-8-2 net (PyTorch): held-out {acc:.3f}")
    fig.tight_layout()
    return save(fig, path)


def draw_perceptron(store, run: dict, folder: Path, history_file: str) -> list[Path]:
    """history_file: the JSON of points and weight histories the run wrote in its folder."""
    s = run["summary"]
    hist = json.loads((store.run_dir(run["id"]) / history_file).read_text())
    out = []
    if hist.get("separable"):
        out.append(updates_figure(hist["separable"], hist["figure_margin"], folder / "perceptron_updates.png"))
    out.append(bound_figure(s, folder / "mistakes_vs_bound.png"))
    out.append(xor_figure(store, s, hist["xor"], hist.get("separable"), hist["figure_margin"], folder / "xor.png"))
    return out
