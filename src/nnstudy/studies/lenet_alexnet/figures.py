"""Figures of the lenet-alexnet study, drawn only from the store (its summary and its runs' metrics)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy import plots

D2L = {"lenet5": 0.779}  # anchors.md: d2l (classic), LeNet (sigmoid, avg pool), 10 epochs, full Fashion-MNIST


def draw_accuracy(rows: list[dict], title: str, save: Path, reference: dict | None = None) -> Path:
    """Held-out and training accuracy per model, mean ± std over seeds."""
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(rows) + 1), 4))
    xs = np.arange(len(rows))
    for off, key, name in ((-0.2, "test_acc", "held-out"), (0.2, "train_acc", "train")):
        ax.bar(xs + off, [r[key]["mean"] for r in rows], 0.4, yerr=[r[key]["std"] for r in rows], capsize=3,
               alpha=0.85 if key == "test_acc" else 0.45, label=f"{name} (mean ± std)")
    if reference:
        ref = [reference.get(r["key"], np.nan) for r in rows]
        ax.scatter(xs - 0.2, ref, marker="D", color="k", zorder=3, label="d2l, 10 epochs of all 60,000")
    ax.set_xticks(xs, [r["label"] for r in rows], rotation=25, ha="right", fontsize=7)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    return plots.save(fig, save)


def draw_speed(rows: list[dict], speed: dict, save: Path) -> Path:
    """Training and inference images/s (measured side by side) and multiply-adds per image."""
    fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(11, 4))
    keys = [r["key"] for r in rows]
    labels = [r["label"] for r in rows]
    xs = np.arange(len(keys))
    ax_s.bar(xs - 0.2, [speed[k]["train_img_per_s"] for k in keys], 0.4, label="training")
    ax_s.bar(xs + 0.2, [speed[k]["eval_img_per_s"] for k in keys], 0.4, label="inference")
    ax_s.set_ylabel("images / s (this machine, median)")
    ax_m.bar(xs, [speed[k]["macs"] / 1e6 for k in keys], color="#888")
    ax_m.set_ylabel("million multiply-adds per image")
    for ax in (ax_s, ax_m):
        ax.set_yscale("log")
        ax.set_xticks(xs, labels, rotation=25, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ax_s.legend(fontsize=8)
    fig.suptitle("What each model costs on this CPU", fontsize=10)
    fig.tight_layout()
    return plots.save(fig, save)


def draw_curves(store, rows: list[dict], batch: int, target: float, save: Path) -> Path:
    """Validation accuracy against training images seen, mean ± std over seeds."""
    curves, bands = {}, {}
    for r in rows:
        series = [store.series(run, "val", "acc") for run in r["runs"]]
        series = [s for s in series if s[0]]
        if series:
            steps, mean, std = plots.curve_band(series)
            curves[r["label"]] = (steps * batch, mean)
            bands[r["label"]] = (steps * batch, mean - std, mean + std)
    fig = plots.plot_curves(curves, "validation accuracy", xlabel="training images seen", bands=bands,
                            title="Who learns faster per image (same optimizer, batch and data)")
    fig.axes[0].axhline(target, color="grey", ls="--", lw=1)
    return plots.save(fig, save)


def draw_ablations(effects: list[dict], save: Path) -> Path:
    """Per idea of AlexNet: held-out accuracy it buys and how much faster (or slower) it trains."""
    fig, (ax_a, ax_s) = plt.subplots(1, 2, figsize=(11, 3.8))
    ys = np.arange(len(effects))
    names = [e["label"].replace("AlexNet, ", "") for e in effects]
    ax_a.barh(ys, [e["acc_bought"] for e in effects], color="#5b8bd0")
    ax_a.set_xlabel("held-out accuracy lost by the change\n(AlexNet minus changed)")
    ax_s.barh(ys, [e["speed_ratio"] for e in effects], color="#d0553b")
    ax_s.axvline(1.0, color="k", lw=0.8)
    ax_s.set_xlabel("training images/s, AlexNet / changed\n(< 1: the change trains faster)")
    for ax in (ax_a, ax_s):
        ax.set_yticks(ys, names, fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    ax_a.axvline(0.0, color="k", lw=0.8)
    ax_s.set_yticklabels([])
    fig.suptitle("AlexNet with one idea taken away: what the idea buys", fontsize=10)
    fig.tight_layout()
    return plots.save(fig, save)


def running_error(steps: np.ndarray, acc: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(updates, running training error): the mean error of the last `window` batches, as the study's
    updates_to_train_error reads it (the batch at step s computes update s + 1)."""
    if len(acc) < window:
        return np.array([]), np.array([])
    err = 1 - np.convolve(acc, np.ones(window) / window, mode="valid")
    return steps[window - 1:] + 1, err


def draw_relu_tanh(store, s: dict, save: Path) -> Path:
    """Running training error against updates, ReLU and tanh, each optimizer in its own panel;
    mean over seeds (thin lines: each seed), the target as a dashed line."""
    parts = [(opt, s["sgd"] if opt == "sgd" else s["fashion"], pair) for opt, pair in s["relu_tanh"].items()]
    fig, axes = plt.subplots(1, len(parts), figsize=(5.5 * len(parts), 3.8), squeeze=False)
    window = s["settings"]["window"]
    for ax, (opt, rows, pair) in zip(axes[0], parts):
        for key, colour in ((pair["relu"], "#d0553b"), (pair["tanh"], "#5b8bd0")):
            row = next(r for r in rows if r["key"] == key)
            curves = []
            for rid in row["runs"]:
                steps, acc = store.series(rid, "train", "acc")
                steps, acc = np.asarray(steps), np.asarray(acc)
                keep = steps < row["steps"]  # the final evaluation (step = total) is not a batch
                x, e = running_error(steps[keep], acc[keep], window)
                if len(x):
                    ax.plot(x, e, color=colour, lw=0.6, alpha=0.35)
                    curves.append((x, e))
            if curves:
                n = min(len(c[0]) for c in curves)
                ax.plot(curves[0][0][:n], np.mean([c[1][:n] for c in curves], axis=0), color=colour, lw=1.8,
                        label=f"{'ReLU' if 'relu' in key or key == 'alexnet' else 'tanh'} (mean of {len(curves)})")
        ax.axhline(s["train_err_target"], color="k", ls="--", lw=1, label=f"target ({s['train_err_target']:.0%})")
        ax.set_xlabel("updates")
        ax.set_ylabel(f"training error (last {window} batches)")
        ax.set_ylim(0, 1)
        ax.set_title({"adam": "Adam (dropout on)", "sgd": "SGD + momentum (no dropout)"}[opt], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("ReLU against tanh: updates to the training-error target", fontsize=10)
    fig.tight_layout()
    return plots.save(fig, save)


def draw_lenet_alexnet(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    batch, target = s["settings"]["batch"], s["val_acc_target"]
    out = [draw_accuracy(s["fashion"], "Fashion-MNIST: same optimizer, batch and image set (LeNets: more epochs)",
                         folder / "accuracy.png",
                         reference=D2L),
           draw_speed(s["fashion"], s["speed"], folder / "speed.png"),
           draw_curves(store, s["fashion"], batch, target, folder / "curves.png"),
           draw_ablations(s["ablations"], folder / "ablations.png")]
    if s.get("relu_tanh"):
        out.append(draw_relu_tanh(store, s, folder / "relu_tanh.png"))
    if s["cifar"]:
        out.append(draw_accuracy(s["cifar"], "CIFAR-10: same optimizer, batch and images", folder / "cifar.png"))
    return out
