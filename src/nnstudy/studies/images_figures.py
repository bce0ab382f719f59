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
from nnstudy.config import TrainConfig
from nnstudy.errors import UsageError


def draw_run(store, run_id: str, folder: Path | None = None) -> list[Path]:
    """Every figure of one run into `folder` (default: the run's folder); returns their paths."""
    run = store.get(run_id)
    folder = Path(folder or store.run_dir(run["id"]))
    paths = [draw_curves(store, run["id"], folder / "curves.png")]
    loaded = load_final_model(store, run["id"])
    if loaded is None or not loaded[2].is_image:  # toy sets: the curves say it all
        return paths
    model, cfg, data = loaded
    probs = predict(model, data, cfg)  # (N_test, classes)
    y = data.y_test.numpy()
    paths.append(draw_confusion(probs.argmax(1), y, data.classes, folder / "confusion.png"))
    paths.append(draw_confident_errors(probs, y, data, folder / "confident_errors.png"))
    paths.append(draw_filters(model, folder / "filters.png"))
    return [p for p in paths if p is not None]


def load_final_model(store, run_id: str):
    """(model in eval mode, config, dataset) with the run's final weights, or None if none were kept."""
    from nnstudy.data import load_dataset
    from nnstudy.models import build_model

    run, folder = store.get(run_id), store.run_dir(run_id)
    cfg = TrainConfig.from_dict(run["config"], where=f"run {run_id}")
    if (folder / "model.pt").is_file():
        state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    elif (folder / "checkpoint.pt").is_file():  # big models keep no model.pt; the last epoch's is final
        state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    else:
        return None
    data = load_dataset(cfg)
    model = build_model(cfg, data.input_shape, data.num_classes)
    model.load_state_dict(state)
    return model.eval(), cfg, data


@torch.no_grad()
def predict(model, data, cfg, chunk: int = 1024) -> np.ndarray:
    """Softmax probabilities on the test set, (N, classes), on the run's device when it is here."""
    from nnstudy.optim import resolve_device

    try:
        device = resolve_device(cfg.device)
    except UsageError:
        device = torch.device("cpu")
    model = model.to(device).eval()
    out = []
    for i in range(0, len(data.x_test), chunk):
        xb = data.prepare(data.x_test[i:i + chunk].to(device))
        z = model(xb).float()
        if cfg.tta:  # as the final evaluation did
            z = (z + model(xb.flip(-1)).float()) / 2
        out.append(z.softmax(1).cpu())
    return torch.cat(out).numpy()


def draw_curves(store, run_id: str, path: Path) -> Path:
    """Loss and accuracy: per epoch (training batches' mean, validation value) for epoch runs,
    per step for step-counted runs."""
    epochs = store.get(run_id)["config"].get("epochs") or 0
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "acc")):
        curves = {}
        steps, vals = store.series(run_id, "train", metric)
        per_epoch = max(1, round((len(steps) - 1) / epochs)) if epochs and len(steps) > 1 else 1
        if steps and epochs:
            curves["train (batch mean per epoch)"] = epoch_means(vals, per_epoch)
        elif steps:
            curves["train"] = (steps, vals)
        for split in ("val", "test"):
            s, v = store.series(run_id, split, metric)
            if len(s) > 1:
                curves[split] = ([k / per_epoch for k in s], v)
        plots.plot_curves(curves, ylabel=metric, xlabel="epoch" if epochs else "step", ax=ax)
    fig.tight_layout()
    return _save(fig, path)


def epoch_means(vals, per_epoch: int):
    """Mean of each epoch's per-step values, placed at the epoch's end (x in epochs)."""
    v = np.asarray([np.nan if a is None else a for a in vals], dtype=float)
    n = len(v) // per_epoch
    if n == 0:
        return [len(v) / per_epoch], [float(np.nanmean(v))]
    return list(range(1, n + 1)), np.nanmean(v[: n * per_epoch].reshape(n, per_epoch), axis=1).tolist()


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
    return _save(fig, path)


def draw_confident_errors(probs: np.ndarray, y: np.ndarray, data, path: Path, n: int = 16) -> Path | None:
    """The n wrong test predictions the model was surest of."""
    pred, conf = probs.argmax(1), probs.max(1)
    wrong = np.flatnonzero(pred != y)
    if len(wrong) == 0:
        return None
    worst = wrong[np.argsort(-conf[wrong])][:n]
    cols = min(8, len(worst))
    rows = (len(worst) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows), squeeze=False)
    for ax, i in zip(axes.flat, worst):
        img = data.x_test[i].permute(1, 2, 0).numpy()  # (H, W, C) uint8
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray" if img.shape[2] == 1 else None)
        ax.set_title(f"{data.classes[pred[i]]} {conf[i]:.2f}\n(is {data.classes[y[i]]})", fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("most confidently wrong test images: predicted, confidence (true class)", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


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
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    plots.finish(fig, save=path, close=True)
    return Path(path)
