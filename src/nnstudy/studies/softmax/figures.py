"""Figures of the softmax study, drawn only from the store: the summary, the runs' held-out
curves and each run's saved test predictions (predictions.pt)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from nnstudy import plots
from nnstudy.plots import save
from nnstudy.studies.shared import load_tensors, mean_curves

DATASETS = (("spiral", "spiral"), ("fashion", "Fashion-MNIST"))


def pooled(store, row: dict, calibration, scaled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Test probabilities and labels of every seed of one row, concatenated: each run's outputs
    read as its loss reads them (softmax(z / s), the s saved with them), and with scaled, divided
    by the temperature fitted on that run's validation split."""
    ps, ys = [], []
    fitted = dict(zip(row["by_seed"]["run"], row["by_seed"]["temperature"]))
    for rid in row["runs"]:
        path = store.run_dir(rid) / calibration.PREDICTIONS
        if not path.is_file() or rid not in fitted:
            continue
        d = load_tensors(store, rid, calibration.PREDICTIONS)
        logp = calibration.log_probabilities(d["test_outputs"], d["scale"])
        ps.append((logp / fitted[rid]).softmax(1) if scaled else logp.exp())
        ys.append(d["test_labels"])
    if not ps:
        return torch.zeros(0, 1), torch.zeros(0, dtype=torch.long)
    return torch.cat(ps), torch.cat(ys)


def reliability_panel(ax, rel: dict, title: str) -> None:
    bins = len(rel["count"])
    edges = np.linspace(0, 1, bins + 1)
    have = np.array(rel["count"]) > 0
    acc = np.where(have, rel["accuracy"], 0)
    ax.bar(edges[:-1], acc, width=1 / bins, align="edge", color="#5b8bd0", edgecolor="k", lw=0.3,
           label="accuracy")
    ax.bar(edges[:-1], np.where(have, rel["confidence"], 0), width=1 / bins, align="edge", fill=False,
           edgecolor="#d0553b", lw=1.0, label="mean confidence")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}\nECE {rel['ece']:.3f}", fontsize=9)


def draw_reliability(store, s: dict, path: Path, calibration) -> Path:
    """Fashion-MNIST, one column per loss: as the loss reads its outputs (top row), then after the
    temperature fitted on validation (bottom row)."""
    rows = s["fashion"]
    fig, axes = plt.subplots(2, len(rows), figsize=(4.2 * len(rows), 7.4), squeeze=False)
    for c, row in enumerate(rows):
        for r, (scaled, when) in enumerate(((False, "as read"), (True, "after T fit on val"))):
            p, y = pooled(store, row, calibration, scaled)
            if len(y):
                reliability_panel(axes[r, c], calibration.reliability(p, y, s["bins"]), f"{row['name']}, {when}")
        axes[1, c].set_xlabel("confidence (top-label probability)", fontsize=8)
    for r in range(2):
        axes[r, 0].set_ylabel("accuracy in bin")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Fashion-MNIST reliability on the test split, all seeds pooled ({s['bins']} bins)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def draw_curves(store, s: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (key, label) in zip(axes, DATASETS):
        curves, bands = mean_curves(store, s[key], "val", "acc")
        plots.plot_curves(curves, "validation accuracy", ax=ax, bands=bands, title=f"{label}: mean ± std over seeds")
        ax.axhline(s["val_acc_targets"][key], color="k", lw=0.8, ls=":")
    fig.tight_layout()
    return save(fig, path)


def grouped_bars(ax, rows: list[dict], series: list[tuple[str, str]], names: list[str]) -> None:
    """One group of bars per loss, one bar per (summary field, label) in `series` (mean ± std)."""
    width = 0.8 / len(series)
    xs = np.arange(len(names))
    for j, (rows_j, (field, label)) in enumerate(zip(rows, series)):
        ax.bar(xs + (j - (len(series) - 1) / 2) * width, [r[field]["mean"] or 0 for r in rows_j], width,
               yerr=[r[field]["std"] or 0 for r in rows_j], capsize=3, label=label)
    ax.set_xticks(xs, names, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncol=len(series))


def draw_accuracy_ece(s: dict, path: Path) -> Path:
    """Left: test accuracy on both datasets; right: Fashion-MNIST test ECE as read and after T."""
    names = [r["name"] for r in s["fashion"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    grouped_bars(left, [s["spiral"], s["fashion"]], [("test_acc", "spiral"), ("test_acc", "Fashion-MNIST")], names)
    low = min(r["test_acc"]["mean"] or 1 for key, _ in DATASETS for r in s[key])
    left.set_ylim(max(0.0, low - 0.1), 1.08)  # headroom for the legend above the bars
    left.set_title("Test accuracy, mean ± std over seeds", fontsize=10)
    grouped_bars(right, [s["fashion"], s["fashion"]], [("ece", "as read"), ("ece_scaled", "after T fit on val")],
                 names)
    right.set_ylim(0, 1.25 * max(r[f]["mean"] or 0 for r in s["fashion"] for f in ("ece", "ece_scaled")))
    right.set_title("Fashion-MNIST test ECE (lower is better), mean ± std over seeds", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def draw_overflow(s: dict, path: Path) -> Path:
    o = s["overflow"]
    sw = o["sweep"]
    a = np.array(sw["a"])
    naive = np.array([np.nan if v is None else v for v in sw["naive"]], dtype=float)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(a, sw["stable"], lw=3, alpha=0.5, label="stable: exp(z - max z) / sum")
    ax.plot(a, naive, "k.", ms=3, label="naive: exp(z) / sum exp(z)")
    bad = np.isnan(naive)
    ax.plot(a[bad], np.ones(bad.sum()), "x", color="#d0553b", ms=3, label="naive: NaN (inf / inf)")
    ax.axvline(o["max_exp_arg"], color="#d0553b", ls=":", label=f"ln(float32 max) = {o['max_exp_arg']:.2f}")
    ax.set_xlabel("a, in logits (a, 0, -1)")
    ax.set_ylabel("p(class 0), float32")
    ax.set_title("The naive softmax overflows; log-sum-exp does not", fontsize=10)
    ax.legend(fontsize=7, loc="center right")
    ax.grid(alpha=0.3)
    return save(fig, path)


def draw_softmax(store, run: dict, folder: Path, calibration) -> list[Path]:
    """calibration: what the study hands over to read its stored outputs: PREDICTIONS (the file
    name), log_probabilities(outputs, s) and reliability(p, y, bins)."""
    s, folder = run["summary"], Path(folder)
    return [draw_reliability(store, s, folder / "reliability.png", calibration),
            draw_accuracy_ece(s, folder / "accuracy_ece.png"), draw_curves(store, s, folder / "curves.png"),
            draw_overflow(s, folder / "overflow.png")]
