"""Figures of the vanishing study, drawn only from the store (its summary and its runs' probe metrics)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy import plots
from nnstudy.plots import save
from nnstudy.references import ref

COLORS = plt.get_cmap("tab10").colors


def probe_band(store, runs: list[str], layer: int, stat: str):
    """Mean over runs of one layer's probe statistic per recorded step: (steps, mean) or None."""
    series = [store.series(r, f"probe:h{layer}", stat) for r in runs]
    series = [(s, v) for s, v in series if s and all(x is not None for x in v)]
    if not series:
        return None
    steps, mean, _ = plots.curve_band(series)
    return steps, mean


def nielsen_figure(s: dict, path: Path) -> Path:
    nets = s["nielsen"]["nets"]
    fig, axes = plt.subplots(1, len(nets), figsize=(4 * len(nets), 3.6), squeeze=False)
    for ax, net in zip(axes[0], nets):
        labels = [f"layer {i + 1}" for i in range(net["hidden"])]
        published = {lbl: ref(k).value for lbl, k in zip(labels, net["published"])}
        plots.plot_bars(labels, [g["mean"] for g in net["grad"]], [g["std"] for g in net["grad"]],
                        "||dL/db|| at initialization", ax=ax, reference=published,
                        title=f"{net['net']} ({s['nielsen']['seeds']} seeds)")
        ax.set_yscale("log")
    fig.suptitle("Sigmoid nets, 1000 images: nnstudy on Fashion-MNIST vs Nielsen on MNIST (markers)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def nielsen_training_figure(store, s: dict, path: Path) -> Path:
    t = s["nielsen"]["trained"]
    hidden = len(s["nielsen"]["nets"][-1]["grad"])
    curves = {}
    for i in range(1, hidden + 1):
        band = probe_band(store, t["runs"], i, "grad_z")
        if band:
            curves[f"hidden layer {i}"] = (band[0] + 1, band[1])  # +1: log x axis
    fig = plots.plot_curves(curves, "||dL/db|| (mean over seeds)", "step + 1", logy=True, logx=True,
                            title=f"{t['net']} sigmoid, full-batch SGD: each layer's gradient over training")
    return save(fig, path)


def init_profile_figure(s: dict, path: Path) -> Path:
    g = s["init_grid"]
    lines = [("default", "plain", "-"), ("xavier", "plain", "-"), ("kaiming", "plain", "-"),
             ("default", "batch norm", "--"), ("default", "residual", ":")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    for ax, act in zip(axes, ("sigmoid", "tanh", "relu")):
        for k, (init, arch, style) in enumerate(lines):
            cell = next(c for c in g["cells"] if (c["activation"], c["init"], c["arch"]) == (act, init, arch))
            ys = [x["mean"] for x in cell["grad"]]
            ax.plot(range(1, len(ys) + 1), ys, style, marker="o", ms=3, color=COLORS[k], label=f"{init}, {arch}")
        ax.set_yscale("log")
        ax.set_title(act, fontsize=10)
        ax.set_xlabel("hidden layer (1 = next to the input)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("RMS per-example ||dl/dz|| at init")
    axes[-1].legend(fontsize=7)
    fig.suptitle(f"Gradient per layer at initialization: depth {g['depth']}, width {g['width']}, "
                 f"{g['seeds']} seeds", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def init_heatmap_figure(s: dict, path: Path) -> Path:
    g = s["init_grid"]
    acts, cols = ("sigmoid", "tanh", "relu"), [(i, a) for i in ("default", "xavier", "kaiming")
                                                for a in ("plain", "batch norm", "residual")]
    fig, axes = plt.subplots(1, 2, figsize=(14, 3.6))
    for ax, key, title, tf in ((axes[0], "first_over_last", "log10 (layer-1 gradient / last-layer gradient)",
                                lambda v: math.log10(v) if v else np.nan),
                               (axes[1], "jac_mean", "mean Jacobian singular value (Glorot & Bengio: "
                                "~0.5 standard, ~0.8 normalized)", lambda v: v if v is not None else np.nan)):
        M = np.full((len(acts), len(cols)), np.nan)
        for c in g["cells"]:
            M[acts.index(c["activation"]), cols.index((c["init"], c["arch"]))] = tf(c[key]["mean"])
        im = ax.imshow(M, cmap="coolwarm_r" if key == "first_over_last" else "viridis", aspect="auto")
        for (r, c), v in np.ndenumerate(M):  # white on dark cells, black on light ones
            rgba = im.cmap(im.norm(v)) if not np.isnan(v) else (1, 1, 1, 1)
            dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5
            ax.text(c, r, "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
        ax.set_yticks(range(len(acts)), acts)
        ax.set_xticks(range(len(cols)), [f"{i}\n{a}" for i, a in cols], fontsize=7)
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    return save(fig, path)


def depth_figure(s: dict, path: Path) -> Path:
    d = s["depth"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, arm in enumerate(dict.fromkeys(r["arm"] for r in d["rows"])):
        rows = [r for r in d["rows"] if r["arm"] == arm]
        ax.errorbar([r["depth"] for r in rows], [r["test_acc"]["mean"] for r in rows],
                    [r["test_acc"]["std"] for r in rows], marker="o", capsize=3, color=COLORS[k], label=arm)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Fashion-MNIST, width {d['width']}, SGD lr {d['lr']:g}, {d['epochs']} epochs", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def fixes_gradients_figure(store, part: dict, path: Path, title: str) -> Path:
    rows = part["rows"]
    ncols = min(4, len(rows))
    nrows = math.ceil(len(rows) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.9 * nrows), squeeze=False, sharey=True)
    for ax, row in zip(axes.flat, rows):
        for i in range(1, part["depth"] + 1):
            band = probe_band(store, row["runs"], i, "grad_z_example")
            if band:
                ax.plot(band[0] + 1, band[1], color=plt.get_cmap("viridis")(i / part["depth"]), lw=1,
                        label=f"h{i}" if i in (1, part["depth"]) else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{row['arm']} (lr {row.get('lr') or part.get('lr'):g})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.supxlabel("step + 1", fontsize=9)
    fig.supylabel("RMS per-example ||dl/dz||", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def accuracy_figure(s: dict, path: Path) -> Path:
    parts = [(f"Fashion-MNIST, depth {f['depth']}, width {f['width']}", f["rows"]) for f in s["fixes"]]
    parts.append((f"spiral, depth {s['spiral']['depth']}, width {s['spiral']['width']}", s["spiral"]["rows"]))
    fig, axes = plt.subplots(1, len(parts), figsize=(5.5 * len(parts), 4), squeeze=False)
    for ax, (title, rows) in zip(axes[0], parts):
        plots.plot_bars([r["arm"] for r in rows], [r["test_acc"]["mean"] for r in rows],
                        [r["test_acc"]["std"] for r in rows], "test accuracy", ax=ax, title=title)
    fig.tight_layout()
    return save(fig, path)


def draw_vanishing(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    out = [nielsen_figure(s, folder / "nielsen_gradients.png"),
           nielsen_training_figure(store, s, folder / "nielsen_training.png"),
           init_profile_figure(s, folder / "init_gradients.png"),
           init_heatmap_figure(s, folder / "init_grid.png"),
           depth_figure(s, folder / "depth.png")]
    for f in s["fixes"]:
        out.append(fixes_gradients_figure(store, f, folder / f"fixes_gradients_w{f['width']}.png",
                                          f"Fashion-MNIST, depth {f['depth']}, width {f['width']}: each layer's "
                                          "gradient over training (h1 dark = next to the input)"))
    sp = s["spiral"]
    out.append(fixes_gradients_figure(store, sp, folder / "spiral_gradients.png",
                                      f"Spiral, depth {sp['depth']}, width {sp['width']}: gradients over training"))
    out.append(accuracy_figure(s, folder / "accuracy.png"))
    return out
