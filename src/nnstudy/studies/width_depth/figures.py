"""Figures of the width-depth study, drawn only from the store (its summary and its runs' weights)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy import plots
from nnstudy.experiment import load_run_model

TITLES = {"spiral": "spiral (3 arms)", "fashion": "Fashion-MNIST"}


def draw_grid(kind: str, rows: list[dict], target: float, save: Path) -> Path:
    """Left: held-out accuracy against parameters, one line per depth (mean ± std over seeds).
    Right: seconds of training per run against parameters."""
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(10, 4))
    for depth in sorted({r["depth"] for r in rows}):
        mine = sorted((r for r in rows if r["depth"] == depth), key=lambda r: r["params"])
        x = [r["params"] for r in mine]
        label = f"depth {depth}"
        ax_acc.errorbar(x, [r["test_acc"]["mean"] for r in mine], [r["test_acc"]["std"] for r in mine],
                        marker="o", capsize=3, label=label)
        ax_time.errorbar(x, [r["seconds"]["mean"] for r in mine], [r["seconds"]["std"] for r in mine],
                         marker="o", capsize=3, label=label)
    ax_acc.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:g}")
    ax_acc.set_ylabel("held-out accuracy")
    ax_time.set_ylabel("training seconds per run")
    for ax in (ax_acc, ax_time):
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{TITLES[kind]}: equal parameters, different depths (mean ± std over seeds)", fontsize=10)
    fig.tight_layout()
    return plots.save(fig, save)


def draw_pair(pair: list[dict], source: str, save: Path) -> Path:
    """FC vs CNN bars on original and permuted images, Atcold's MNIST numbers as markers."""
    fig, ax = plt.subplots(figsize=(6, 4))
    groups = [False, True]
    models = list(dict.fromkeys(r["model"] for r in pair))
    width = 0.8 / len(models)
    for j, model in enumerate(models):
        rows = [next(r for r in pair if r["model"] == model and r["permuted"] == g) for g in groups]
        xs = np.arange(len(groups)) + (j - (len(models) - 1) / 2) * width
        ax.bar(xs, [r["test_acc"]["mean"] for r in rows], width, yerr=[r["test_acc"]["std"] for r in rows],
               capsize=3, alpha=0.85, label=f"{rows[0]['label']} ({rows[0]['params']:,} params), Fashion-MNIST")
        ax.scatter(xs, [r["atcold_acc"] for r in rows], marker="D", color="k", zorder=3,
                   label=source if j == 0 else None)
    ax.set_xticks(range(len(groups)), ["original pixels", "pixels permuted"])
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0.0, 1.0)  # from zero: a cut axis makes a few points look like a chasm
    ax.axhline(0.1, color="0.5", ls=":", lw=1, label="chance (10 classes)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("MLP vs CNN at equal parameters (mean ± std over seeds)", fontsize=10)
    return plots.save(fig, save)


def draw_boundaries(store, rows: list[dict], save: Path) -> Path:
    """Decision regions of seed 0 at the smallest and the largest budget, one panel per depth."""
    budgets = sorted({r["budget"] for r in rows})
    panels = []
    for budget in dict.fromkeys((budgets[0], budgets[-1])):
        for r in sorted((r for r in rows if r["budget"] == budget), key=lambda r: r["depth"]):
            model, _, data = load_run_model(store, r["runs"][0])
            acc = store.get(r["runs"][0])["summary"].get("final", {}).get("test_acc", float("nan"))
            panels.append((f"{r['width']} wide x {r['depth']} deep ({r['params']} params): {acc:.3f}",
                           data.x_test, data.y_test, model))
    ncols = len({r["depth"] for r in rows})
    fig = plots.plot_boundaries(panels, ncols=ncols, suptitle="spiral, seed 0: held-out points and accuracy, "
                                "smallest and largest parameter budget")
    return plots.save(fig, save)


def draw_width_depth(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    out = [draw_grid(kind, rows, s["val_acc_targets"][kind], folder / f"grid_{kind}.png")
           for kind, rows in s["grids"].items()]
    out.append(draw_pair(s["pair"], s["atcold_source"], folder / "mlp_vs_cnn.png"))
    out.append(draw_boundaries(store, s["grids"]["spiral"], folder / "spiral_boundaries.png"))
    return out
