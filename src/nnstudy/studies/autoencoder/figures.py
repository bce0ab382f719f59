"""Figures of the autoencoder study, drawn from the store only (stored weights, metrics, summary)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from nnstudy import plots
from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.experiment import load_weights
from nnstudy.models.autoencoder import autoencoder_spec, corrupt

SHOW = 10  # test images per row of the reconstruction grid


def load_autoencoder(store, run_id: str):
    """(model in eval mode, its config) from a stored autoencoder run."""
    cfg = TrainConfig.from_dict(store.get(run_id)["config"])
    model = autoencoder_spec(cfg).build(784)
    model.load_state_dict(load_weights(store, run_id))
    return model.eval(), cfg


def test_images(cfg: TrainConfig, n: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    data = load_dataset(cfg)
    return data.x_test[:n].flatten(1).float().div(255.0), data.y_test[:n], data.classes


def draw_autoencoder(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    first = [(v["name"], *load_autoencoder(store, v["runs"][0])) for v in s["variants"]]
    x, y, classes = test_images(first[0][2], s["settings"]["n_test"])
    out = [reconstructions(first, x, s["settings"]["mask"], folder / "reconstructions.png"),
           filters(first, folder / "filters.png"),
           code_map(store, s["map"]["run"], x, y, classes, folder / "codes_2d.png"),
           curves(store, s, folder / "curves.png")]
    return out


@torch.no_grad()
def reconstructions(models, x, mask: float, path: Path) -> Path:
    """Originals, then each variant's reconstruction; masked originals, then each from the masked."""
    xs = x[:SHOW]
    masked = corrupt(xs, "mask", mask, torch.Generator().manual_seed(1))
    rows = [("test images", xs)] + [(name, m(xs)) for name, m, _ in models]
    rows += [(f"{mask:.0%} of pixels masked", masked)] + [(f"{name} <- masked", m(masked)) for name, m, _ in models]
    fig, axes = plt.subplots(len(rows), 1, figsize=(SHOW * 0.8, len(rows) * 0.95))
    for ax, (label, imgs) in zip(axes, rows):
        strip = imgs.view(-1, 28, 28).permute(1, 0, 2).reshape(28, -1).numpy()  # (28, SHOW * 28)
        ax.imshow(strip, cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(label, fontsize=7, loc="left", pad=2)
    fig.tight_layout()
    return plots.save(fig, path)


def tile(w: np.ndarray, cols: int = 8) -> np.ndarray:
    """Filters (k, 784) as one image: each scaled to [-1, 1] by its own largest |weight|."""
    k = len(w)
    rows = (k + cols - 1) // cols
    w = w / np.abs(w).max(1, keepdims=True).clip(1e-8)
    canvas = np.zeros((rows * 29 + 1, cols * 29 + 1))
    for i, f in enumerate(w):
        r, c = divmod(i, cols)
        canvas[1 + r * 29:1 + r * 29 + 28, 1 + c * 29:1 + c * 29 + 28] = f.reshape(28, 28)
    return canvas


def filters(models, path: Path, per_panel: int = 64) -> Path:
    """First-layer weights of every variant (first seed): what each hidden unit looks for."""
    fig, axes = plt.subplots(1, len(models), figsize=(3.0 * len(models), 3.4), squeeze=False)
    for ax, (name, model, _) in zip(axes[0], models):
        w = model.encoder[0].linear.weight.detach()[:per_panel].numpy()  # (k, 784)
        ax.imshow(tile(w), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(name, fontsize=7)
        ax.set_axis_off()
    fig.suptitle("First-layer filters (red +, blue -; each unit scaled to its largest weight)", fontsize=9)
    return plots.save(fig, path)


@torch.no_grad()
def code_map(store, run_id: str, x, y, classes, path: Path) -> Path:
    """The 2-unit code of the test images beside their first two principal components."""
    model, cfg = load_autoencoder(store, run_id)
    train = load_dataset(cfg).x_train.flatten(1).float().div(255.0)
    mu = train.mean(0)
    _, _, v = torch.linalg.svd(train - mu, full_matrices=False)
    panels = [("autoencoder 784-256-64-2", model.encode(x)), ("PCA, first two components", (x - mu) @ v[:2].T)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, (title, z) in zip(axes, panels):
        sc = ax.scatter(z[:, 0], z[:, 1], c=y.numpy(), cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
        ax.set_title(f"{title} (test images)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    cb = fig.colorbar(sc, ax=axes, ticks=range(10))
    cb.ax.set_yticklabels(classes or [str(i) for i in range(10)], fontsize=7)
    return plots.save(fig, path)


def curves(store, s: dict, path: Path) -> Path:
    lines, bands = {}, {}
    for v in s["variants"]:
        series = [store.series(r, "test", "mse") for r in v["runs"]]
        series = [sr for sr in series if sr[0]]
        if series:
            steps, mean, std = plots.curve_band(series)
            lines[v["name"]], bands[v["name"]] = (steps, mean), (steps, mean - std, mean + std)
    fig = plots.plot_curves(lines, "test squared error per pixel (clean input)", bands=bands, logy=True,
                            title="Reconstruction error during training, mean ± std over seeds")
    ax = fig.axes[0]
    for b in s["baselines"]["pca"]:
        if 0 < b["k"] < 784 and b["test_mse"]["mean"]:
            ax.axhline(b["test_mse"]["mean"], color="grey", ls="--", lw=0.8)
            ax.annotate(f"PCA, {b['k']} components", (0, b["test_mse"]["mean"]), fontsize=7, color="grey",
                        xytext=(2, 2), textcoords="offset points")
    return plots.save(fig, path)
