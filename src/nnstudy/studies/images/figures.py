"""Figures of one image run, drawn after training from what the store holds: the metric curves,
and, from the run's final weights (model.pt, else the last checkpoint), the test set's confusion
matrix, the most confidently wrong test images and the first layer's filters.

`draw_run(store, run_id)` writes them into the run folder (`nnstudy train` calls it); the images
study reuses the pieces. Predictions are made as the final evaluation made them (eval mode,
flip-averaged when the run used --tta), so the confusion matrix's diagonal is the stored test
accuracy.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from nnstudy import plots
from nnstudy.errors import UsageError
from nnstudy.experiment import load_run_model
from nnstudy.plots import save
from nnstudy.train import outputs


def draw_run(store, run_id: str, folder: Path | None = None) -> list[Path]:
    """Every figure of one run into `folder` (default: the run's folder); returns their paths."""
    run = store.get(run_id)
    folder = Path(folder or store.run_dir(run["id"]))
    paths = [draw_curves(store, run["id"], folder / "curves.png")]
    loaded = load_run_model(store, run["id"], missing_ok=True)
    if loaded is None or not loaded[2].is_image or not len(loaded[2].y_test):  # toy sets: the curves say it all;
        return paths  # no test split: no test predictions to draw
    model, cfg, data = loaded
    probs = predict(model, data, cfg)  # (N_test, classes)
    y = data.y_test.numpy()
    paths.append(draw_confusion(probs.argmax(1), y, data.classes, folder / "confusion.png"))
    paths.append(draw_confident_errors(probs, y, data, folder / "confident_errors.png"))
    paths.append(draw_filters(model, folder / "filters.png"))
    return [p for p in paths if p is not None]


def predict(model, data, cfg, chunk: int = 512) -> np.ndarray:
    """Softmax probabilities on the test set, (N, classes), on the run's device when it is here,
    with test-time augmentation where the run's final evaluation used it."""
    from nnstudy.optim import resolve_device

    try:
        device = resolve_device(cfg.device)
    except UsageError:
        device = torch.device("cpu")
    z = outputs(model.to(device), data, data.x_test.to(device), chunk, tta=cfg.tta)
    return torch.cat([b.softmax(1).cpu() for b in z]).numpy()


def draw_curves(store, run_id: str, path: Path) -> Path:
    """Loss and accuracy against epochs (steps for step-counted runs): the training batches' values
    as a running mean over a fifth of an epoch, the validation (or test) values as evaluated."""
    run = store.get(run_id)
    epochs, total = run["config"].get("epochs") or 0, run["summary"].get("steps")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "acc")):
        curves = {}
        steps, vals = store.series(run_id, "train", metric)
        if total is not None:  # the batches only; the record at `total` is the final whole-set evaluation
            steps, vals = steps[:total], vals[:total]
        per_epoch = max(1, round((len(steps) - 1) / epochs)) if epochs and len(steps) > 1 else 1
        if steps:
            window = max(1, per_epoch // 5) if epochs else 1
            x, m = running_mean(steps, vals, window)
            curves["train (batches, running mean)" if window > 1 else "train"] = ([k / per_epoch for k in x], m)
        for split in ("val", "test"):
            s, v = store.series(run_id, split, metric)
            if len(s) > 1:
                curves[split] = ([k / per_epoch for k in s], v)
        plots.plot_curves(curves, ylabel=metric, xlabel="epoch" if epochs else "step", ax=ax)
    fig.tight_layout()
    return save(fig, path)


def running_mean(steps, vals, window: int):
    """Mean of each `window` consecutive values, placed at the window's last step."""
    v = np.asarray([np.nan if a is None else a for a in vals], dtype=float)
    if window <= 1 or len(v) < window:
        return list(steps), v.tolist()
    c = np.nancumsum(np.insert(v, 0, 0.0))
    return list(steps[window - 1:]), ((c[window:] - c[:-window]) / window).tolist()


def confusion_matrix(pred: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def draw_confusion(pred, y, classes, path: Path) -> Path:
    k = len(classes)
    cm = confusion_matrix(pred, y, k)
    rates = cm / np.maximum(1, cm.sum(1, keepdims=True))  # each row sums to 1: recall on the diagonal
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"test set: accuracy {np.trace(cm) / max(1, cm.sum()):.4f} (row-normalised)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save(fig, path)


def draw_confident_errors(probs: np.ndarray, y: np.ndarray, data, path: Path, n: int = 16) -> Path | None:
    """The n wrong test predictions the model was surest of."""
    pred, conf = probs.argmax(1), probs.max(1)
    wrong = np.flatnonzero(pred != y)
    if len(wrong) == 0:
        return None
    worst = wrong[np.argsort(-conf[wrong])][:n]
    cols = min(8, len(worst))
    rows = (len(worst) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 2.2 * rows + 0.3), squeeze=False)
    for ax, i in zip(axes.flat, worst):
        img = data.x_test[i].permute(1, 2, 0).numpy()  # (H, W, C) uint8
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray" if img.shape[2] == 1 else None)
        ax.set_title(f"{data.classes[pred[i]]} {conf[i]:.2f}\n(is {data.classes[y[i]]})", fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("most confidently wrong test images: predicted, confidence (true class)", fontsize=8)
    fig.tight_layout(h_pad=1.2)
    return save(fig, path)


def first_layer(model) -> torch.Tensor | None:
    """The first conv's kernels (out, in, k, k), or the first linear layer's rows (out, in)."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            return m.weight.detach().float().cpu()
    return None


def draw_filters(model, path: Path, n: int = 32) -> Path | None:
    """The first layer's filters, each scaled to its own range (grey: 1 channel, colour: 3)."""
    w = first_layer(model)
    if w is None:
        return None
    if w.dim() == 2:  # a linear first layer on images: each row is a template the size of the image
        side = int(round((w.shape[1]) ** 0.5))
        if side * side != w.shape[1]:
            return None
        w = w.view(-1, 1, side, side)
    w = w[:n]
    lo = w.amin(dim=(1, 2, 3), keepdim=True)
    hi = w.amax(dim=(1, 2, 3), keepdim=True)
    w = ((w - lo) / (hi - lo).clamp_min(1e-12)).permute(0, 2, 3, 1).numpy()  # (n, k, k, C) in [0, 1]
    cols = min(8, len(w))
    rows = (len(w) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows + 0.4), squeeze=False)
    for ax, f in zip(axes.flat, w):
        ax.imshow(f[..., 0] if f.shape[2] == 1 else f[..., :3], cmap="gray", interpolation="nearest")
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"first layer: {len(w)} filters", fontsize=8)
    return save(fig, path)


def draw_study(store, run: dict, folder: Path) -> list[Path]:
    """The images study: test accuracy per rung beside the published values, validation curves
    (mean over seeds), and the fast net's confusion matrix, worst errors and filters (first seed)."""
    rows = run["summary"]["rows"]
    folder = Path(folder)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    plots.plot_bars([r["label"] for r in rows], [r["test_acc"]["mean"] for r in rows],
                    [r["test_acc"]["std"] for r in rows], ylabel="test accuracy", ax=ax,
                    title="Fashion-MNIST: nnstudy (mean ± std over seeds) and published",
                    reference={r["label"]: r["published"]["value"] for r in rows if "published" in r})
    ax.set_ylim(0, 1.0)
    ax.legend(fontsize=8, loc="lower right")  # the published markers sit near the top
    paths = [save(fig, folder / "accuracy.png")]
    fig, ax = plt.subplots(figsize=(6, 4))
    curves, bands = {}, {}
    for r in rows:
        series = [store.series(rid, "val", "acc") for rid in r["runs"]]
        series = [s for s in series if len(s[0]) > 1]
        if series:
            steps, mean, std = plots.curve_band(series)
            x = steps / max(1, steps[-1])  # fraction of the run: the rungs take different step counts
            curves[r["label"]], bands[r["label"]] = (x, mean), (x, mean - std, mean + std)
    plots.plot_curves(curves, ylabel="validation accuracy", xlabel="fraction of training", ax=ax, bands=bands)
    paths.append(save(fig, folder / "val_curves.png"))
    fast = next((r for r in rows if r["key"] == "fast"), None)
    loaded = load_run_model(store, fast["runs"][0], missing_ok=True) if fast else None
    if loaded is not None:
        model, cfg, data = loaded
        probs = predict(model, data, cfg)
        y = data.y_test.numpy()
        paths.append(draw_confusion(probs.argmax(1), y, data.classes, folder / "fast_confusion.png"))
        paths.append(draw_confident_errors(probs, y, data, folder / "fast_confident_errors.png"))
        paths.append(draw_filters(model, folder / "fast_filters.png"))
    return [p for p in paths if p is not None]
