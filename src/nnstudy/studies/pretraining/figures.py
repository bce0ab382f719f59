"""Figures of the pretraining study, drawn from the store only (its summary and the runs' metrics)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnstudy import plots

LABEL = {"default": "default init", "xavier": "xavier init", "pretrained": "greedy DAE pretraining",
         "modern": "ReLU + kaiming + BN", "longer": "default init, + pretraining's steps"}
STYLE = {"default": ("#d0553b", "o"), "xavier": ("#e0a030", "s"), "pretrained": ("#3b7dd0", "D"),
         "modern": ("#3a9a50", "^"), "longer": ("#8a4fb0", "v")}


def draw_pretraining(store, run: dict, folder: Path) -> list[Path]:
    s = run["summary"]
    out = [error_panels(s, folder / "error_vs_depth.png", x="depth", group="n_train"),
           error_panels(s, folder / "error_vs_size.png", x="n_train", group="depth"),
           curves(store, s, folder / "curves.png"), moved(s, folder / "moved.png"),
           pretrain_curves(store, s, folder / "pretrain_layers.png")]
    return [p for p in out if p is not None]


def error_panels(s: dict, path: Path, x: str, group: str) -> Path | None:
    """Test error against `x`, one panel per (activation, `group`) with at least two values of x."""
    panels: dict[tuple, list[dict]] = {}
    for c in s["cells"]:
        panels.setdefault((c["activation"], c[group]), []).append(c)
    panels = {k: sorted(v, key=lambda c: c[x]) for k, v in panels.items() if len(v) > 1}
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False, sharey=True)
    for ax, ((act, g), cs) in zip(axes[0], panels.items()):
        xs = [c[x] for c in cs]
        for m, (color, marker) in STYLE.items():
            mean = [c["methods"][m]["test_err_pct"]["mean"] for c in cs]
            std = [c["methods"][m]["test_err_pct"]["std"] for c in cs]
            mean = [np.nan if v is None else v for v in mean]
            std = [0.0 if v is None else v for v in std]
            ax.errorbar(xs, mean, yerr=std, color=color, marker=marker, capsize=3, lw=1.3, ms=4, label=LABEL[m])
        chance = s.get("settings", {}).get("chance_err_pct")
        if chance is not None:  # nets at chance overlap there: the line says what that level means
            ax.axhline(chance, color="0.4", ls=":", lw=1, label="chance (guessing)" if ax is axes[0][-1] else None)
        if x == "n_train":
            ax.set_xscale("log")
        ax.set_xticks(xs, [str(v) for v in xs])
        ax.set_xlabel("hidden layers" if x == "depth" else "training examples")
        ax.set_title(f"{act}, " + (f"{g} training examples" if group == "n_train" else f"depth {g}"), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test error % (mean ± std over seeds)")
    axes[0][-1].legend(fontsize=7)
    return plots.save(fig, path)


def focus_cells(s: dict) -> list[dict]:
    """The smallest training set's sigmoid cells at the shallowest and deepest depth."""
    sig = [c for c in s["cells"] if c["activation"] == "sigmoid"] or s["cells"]
    n0 = min(c["n_train"] for c in sig)
    cs = sorted((c for c in sig if c["n_train"] == n0), key=lambda c: c["depth"])
    return [cs[0], cs[-1]] if len(cs) > 1 else cs


def curves(store, s: dict, path: Path) -> Path:
    """Validation error during fine-tuning, mean ± std over seeds."""
    cs = focus_cells(s)
    fig, axes = plt.subplots(1, len(cs), figsize=(5.2 * len(cs), 3.6), squeeze=False, sharey=True)
    for ax, c in zip(axes[0], cs):
        for m, (color, _) in STYLE.items():
            series = [store.series(r, "val", "acc") for r in c["methods"][m]["runs"]]
            series = [(st, [100 * (1 - v) for v in vals]) for st, vals in series if st]
            if series:
                steps, mean, std = plots.curve_band(series)
                ax.plot(steps, mean, color=color, lw=1.3, label=LABEL[m])
                ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        ax.set_title(f"{c['activation']}, depth {c['depth']}, {c['n_train']} examples", fontsize=9)
        ax.set_xlabel("fine-tuning step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation error % (mean ± std)")
    axes[0][-1].legend(fontsize=7)
    return plots.save(fig, path)


def moved(s: dict, path: Path) -> Path:
    """How far fine-tuning moved each hidden layer, relative to where it started."""
    c = focus_cells(s)[-1]
    layers = np.arange(1, c["depth"] + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    width = 0.8 / len(STYLE)
    for i, (m, (color, _)) in enumerate(STYLE.items()):
        mv = c["methods"][m]["moved"]
        ax.bar(layers + (i - 1.5) * width, [d["mean"] for d in mv], width, yerr=[d["std"] for d in mv],
               color=color, capsize=2, label=LABEL[m])
    ax.set_xlabel("hidden layer (1 = next to the input)")
    ax.set_ylabel("||W_end - W_start|| / ||W_start||")
    ax.set_title(f"Weights moved by fine-tuning: {c['activation']}, depth {c['depth']}, {c['n_train']} examples",
                 fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return plots.save(fig, path)


def pretrain_curves(store, s: dict, path: Path) -> Path | None:
    """Each layer's denoising reconstruction error during greedy pretraining (first stack), as a
    fraction of the variance of that layer's input (1 = no better than predicting the mean)."""
    if not s["stacks"]:
        return None
    st = s["stacks"][0]
    final = store.get(st["run"])["summary"]["final"]
    lines = {}
    for k in range(1, len(st["layer_mse"]) + 1):
        steps, vals = store.series(st["run"], "train", f"layer{k}_mse")
        if steps:
            window = max(1, len(vals) // 30)  # smooth the per-batch losses for reading
            smooth = np.convolve(vals, np.ones(window) / window, mode="valid") / final[f"layer{k}_input_var"]
            lines[f"layer {k}"] = (steps[window - 1:], smooth)
    fig = plots.plot_curves(lines, "reconstruction error / input variance", logy=True, xlabel="step",
                            title=f"Greedy pretraining (masked inputs), {st['activation']}, {st['n_train']} "
                                  f"examples, seed {st['seed']}")
    return plots.save(fig, path)
