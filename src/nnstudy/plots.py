"""Figures, drawn from data (tensors, arrays, stored metrics); nothing here trains.

`plot_data(X, y)` and `plot_model(X, y, model)` take the same arguments as the course's plot_lib,
so the week's notebook runs with only its import changed. Unlike plot_lib they need no IPython,
never move the model to another device or leave it in another mode, fit the range to the data,
can shade class probabilities, and return the figure (and save it when given a path).

This module never switches matplotlib's backend: in Jupyter figures show inline; the command line
and the report select Agg before drawing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

CMAP = "Spectral"


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _axes(ax, figsize=(5, 5)):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _limits(X: np.ndarray, zoom: float = 1.0, margin: float = 0.1):
    lo, hi = X.min(0), X.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + margin) * zoom
    half = half if half > 0 else 1.0
    return centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half


def finish(fig, save=None, close: bool = False):
    """Save (atomically enough for figures: one write) and optionally close."""
    if save is not None:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save, dpi=110, bbox_inches="tight")
    if close:
        plt.close(fig)
    return fig


def save(fig, path) -> Path:
    """Write a finished figure to `path` and close it (the studies' figures: files, never shown)."""
    finish(fig, path, close=True)
    return Path(path)


def plot_data(X, y, d: float = 0, auto: bool = False, zoom: float = 1, ax=None, save=None, title=None):
    """Scatter 2-D points coloured by class. `d` and `auto` are accepted for plot_lib compatibility
    (d: unused margin; auto: let matplotlib pick limits instead of fitting a square to the data)."""
    X, y = _np(X), _np(y)
    fig, ax = _axes(ax)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, cmap=CMAP, edgecolors="k", linewidths=0.2,
               vmin=0, vmax=max(1, int(y.max())))
    if not auto:
        x0, x1, y0, y1 = _limits(X, zoom)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    return finish(fig, save)


@torch.no_grad()
def plot_model(X, y, model, probs: bool = False, resolution: int = 250, ax=None, save=None, title=None):
    """The model's decision regions over the data's range, then the data on top.

    The grid is evaluated on the model's own device and in eval mode; the model's mode is restored
    and it is never moved. probs=True shades by the winning class's softmax probability."""
    Xn, yn = _np(X), _np(y)
    fig, ax = _axes(ax)
    x0, x1, y0, y1 = _limits(Xn)
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    grid = torch.from_numpy(np.stack((xx.ravel(), yy.ravel()), 1)).to(device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        logits = model(grid).float()
    finally:
        model.train(was_training)
    cls = logits.argmax(1).cpu().numpy().reshape(xx.shape)
    vmax = max(1, logits.shape[1] - 1)
    if probs:
        p = logits.softmax(1).max(1).values.cpu().numpy().reshape(xx.shape)
        rgba = plt.get_cmap(CMAP)(cls / vmax)
        rgba[..., 3] = 0.15 + 0.5 * (p - p.min()) / max(1e-9, p.max() - p.min())
        ax.imshow(rgba, origin="lower", extent=(x0, x1, y0, y1), interpolation="bilinear")
    else:
        ax.contourf(xx, yy, cls, levels=np.arange(-0.5, vmax + 1), cmap=CMAP, alpha=0.3, vmin=0, vmax=vmax)
    plot_data(Xn, yn, ax=ax, title=title)
    return finish(fig, save)


def plot_boundaries(panels, ncols: int = 4, save=None, probs: bool = False, suptitle=None):
    """A grid of decision boundaries: panels = [(title, X, y, model), ...]."""
    n = len(panels)
    ncols = min(ncols, n)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (title, X, y, model) in zip(axes.flat, panels):
        plot_model(X, y, model, probs=probs, ax=ax, title=title, resolution=150)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return finish(fig, save)


def plot_curves(curves: dict, ylabel: str = "", xlabel: str = "step", ax=None, save=None, title=None,
                logy: bool = False, logx: bool = False, bands: dict | None = None):
    """Lines: curves = {label: (x, y)}; bands = {label: (x, lo, hi)} shades a spread (e.g. ± std)."""
    fig, ax = _axes(ax, figsize=(6, 4))
    for label, (x, y) in curves.items():
        (line,) = ax.plot(x, y, label=label, lw=1.3)
        if bands and label in bands:
            bx, lo, hi = bands[label]
            ax.fill_between(bx, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    if curves:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return finish(fig, save)


def plot_bars(labels, means, stds=None, ylabel: str = "", ax=None, save=None, title=None,
              reference: dict | None = None):
    """Bars with ± std error bars; reference = {label: value} draws published values as markers."""
    fig, ax = _axes(ax, figsize=(max(4, 0.9 * len(labels) + 1), 4))
    xs = np.arange(len(labels))
    ax.bar(xs, means, yerr=stds, capsize=3, color="#5b8bd0", alpha=0.85, label="nnstudy (mean ± std)")
    if reference:
        ref = [reference.get(lbl, np.nan) for lbl in labels]
        ax.scatter(xs, ref, marker="D", color="#d0553b", zorder=3, label="published")
    ax.set_xticks(xs, labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return finish(fig, save)


def curve_band(series: list[tuple[list, list]]):
    """Mean and ± std of several (steps, values) series on their common steps."""
    n = min(len(s[0]) for s in series)
    steps = np.asarray(series[0][0][:n])
    vals = np.asarray([np.asarray(s[1][:n], dtype=float) for s in series])
    return steps, vals.mean(0), vals.std(0)
