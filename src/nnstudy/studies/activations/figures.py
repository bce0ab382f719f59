"""Figures of the activations study, drawn only from the store: its summary, its runs' metrics
(held-out curves, per-layer gradient norms) and the spiral runs' final weights."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy import plots
from nnstudy.experiment import load_run_model
from nnstudy.plots import save
from nnstudy.studies.shared import mean_curves


def draw_derivatives(s: dict, path: Path) -> Path:
    d = s["derivatives"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = {r["activation"]: r["name"] for r in s["spiral"]}
    for name in (k for k in d if k != "x"):
        label = labels.get(name, name)
        a.plot(d["x"], d[name]["f"], label=label, lw=1.3)
        b.plot(d["x"], d[name]["df"], label=f"{label} (max {d[name]['df_max']:.2f})", lw=1.3)
    a.set_ylim(-2, 4)
    a.set_title("f(z): the output range", fontsize=10)
    b.set_title("f'(z): the factor each unit passes back", fontsize=10)
    for ax in (a, b):
        ax.set_xlabel("z (pre-activation)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def draw_boundaries(store, s: dict, path: Path) -> Path:
    panels = []
    for row in s["spiral"]:
        model, _, data = load_run_model(store, row["runs"][0])
        acc = store.get(row["runs"][0])["summary"]["final"].get("test_acc", float("nan"))
        panels.append((f"{row['name']}: held-out {acc:.3f}", data.x_test, data.y_test, model))
    return save(plots.plot_boundaries(panels, ncols=3, suptitle="spiral, seed 0: decision regions"), path)


def draw_curves(store, s: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((axes[0], "spiral", "spiral, Adam"), (axes[1], "fashion", "Fashion-MNIST, SGD+momentum")):
        curves, bands = mean_curves(store, s[key], "val", "acc")
        plots.plot_curves(curves, "validation accuracy", ax=ax, bands=bands,
                          title=f"{title}: mean ± std over seeds")
        ax.axhline(s["val_acc_targets"][key], color="k", lw=0.8, ls=":")
    fig.tight_layout()
    return save(fig, path)


def draw_accuracy(s: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((axes[0], "spiral", "spiral"), (axes[1], "fashion", "Fashion-MNIST (subset)")):
        rows = s[key]
        plots.plot_bars([r["name"] for r in rows], [r["test_acc"]["mean"] or 0 for r in rows],
                        [r["test_acc"]["std"] or 0 for r in rows], "held-out (test) accuracy", ax=ax,
                        title=f"{title}: test accuracy, mean ± std")
    fig.tight_layout()
    return save(fig, path)


def draw_gradients(s: dict, path: Path) -> Path:
    """Per hidden layer (Fashion-MNIST, measured by nnstudy.probes): the error signal ||dL/db||
    at the first step (Nielsen's measure) and the weight gradient ||dL/dW|| averaged over training."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, when, stat, title in ((axes[0], "init", "grad_z", "||dL/db|| at initialisation (step 0)"),
                                  (axes[1], "mean", "grad_w", "||dL/dW|| averaged over training")):
        for row in s["fashion"]:
            layers = row["grad"][when][stat]
            xs = np.arange(1, len(layers) + 1)
            ax.errorbar(xs, [g["mean"] for g in layers], yerr=[g["std"] for g in layers], marker="o",
                        capsize=2, lw=1.2, label=row["name"])
            ax.set_xticks(xs, [f"h{i}" for i in xs])
        ax.set_yscale("log")
        ax.set_xlabel("hidden layer (input -> output)")
        ax.set_title(f"Fashion-MNIST: {title}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def draw_ranges(s: dict, path: Path) -> Path:
    """Measured hidden outputs (min..max, mean) and the fraction of flat units, per layer."""
    rows = [r for r in s["fashion"] if r["hidden"]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    n_layers = len(rows[0]["hidden"]) if rows else 0
    width = 0.8 / max(1, n_layers)
    for i in range(n_layers):
        xs = np.arange(len(rows)) + (i - (n_layers - 1) / 2) * width
        lo = np.array([r["hidden"][i]["min"]["mean"] for r in rows])
        hi = np.array([r["hidden"][i]["max"]["mean"] for r in rows])
        mid = np.array([r["hidden"][i]["mean"]["mean"] for r in rows])
        a.vlines(xs, lo, hi, lw=4, alpha=0.6, color=f"C{i}", label=f"layer {i + 1}: min..max")
        a.scatter(xs, mid, color="k", s=10, zorder=3, label="mean" if i == 0 else None)
        b.bar(xs, [r["hidden"][i]["flat_frac"]["mean"] for r in rows], width, color=f"C{i}",
              label=f"layer {i + 1}")
    for ax in (a, b):
        ax.set_xticks(np.arange(len(rows)), [r["name"] for r in rows], rotation=20, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False)
    a.set_yscale("symlog", linthresh=1.0)  # linear inside [-1, 1], where bounded functions live
    ticks = [-10, -1, -0.5, 0, 0.5, 1, 10]  # plain numbers: "-10^0" on a symlog axis reads as a typo
    a.set_yticks(ticks, [f"{t:g}" for t in ticks])
    a.set_title("hidden outputs f(z) on the test images (trained nets)", fontsize=10)
    b.set_title(f"fraction of unit-image pairs with |f'(z)| < {s['flat_threshold']:g}\n"
                "(ReLU: units that pass back nothing for that image, 'dead' there)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def draw_activations(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    folder = Path(folder)
    return [draw_derivatives(s, folder / "derivatives.png"), draw_boundaries(store, s, folder / "boundaries.png"),
            draw_accuracy(s, folder / "accuracy.png"), draw_curves(store, s, folder / "curves.png"),
            draw_gradients(s, folder / "gradient_norms.png"), draw_ranges(s, folder / "output_ranges.png")]
