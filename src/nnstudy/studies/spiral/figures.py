"""Figures of the spiral study, drawn only from the store (weights and metrics of its runs)."""

from __future__ import annotations

from pathlib import Path

import torch

from nnstudy import plots
from nnstudy.experiment import load_run_model
from nnstudy.models.mlp import MLP, LinearNet


def _week_model(store, run_id: str, relu: bool):
    model = MLP(2, 3, 100, 1, "relu") if relu else LinearNet(2, 3, 100)
    model.load_state_dict(torch.load(store.run_dir(run_id) / "model.pt", map_location="cpu", weights_only=True))
    return model.eval()


def draw_spiral(store, run: dict, folder: Path) -> list[Path]:
    from nnstudy.studies.spiral import week_data

    s = run["summary"]
    out = []
    X, y = week_data()
    week = s["week"]
    panels = [(f"linear+SGD (week): train {week['linear_sgd']['printed_acc']:.3f}", X, y,
               _week_model(store, week["linear_sgd"]["run"], relu=False)),
              (f"ReLU+Adam (week): train {week['relu_adam']['printed_acc']:.3f}", X, y,
               _week_model(store, week["relu_adam"]["run"], relu=True))]
    out.append(folder / "week_boundaries.png")
    plots.finish(plots.plot_boundaries(panels, ncols=2, save=out[-1]), close=True)

    panels = []
    for row in s["factorial"]:
        model, cfg, data = load_run_model(store, row["runs"][0])
        acc = store.get(row["runs"][0])["summary"]["final"].get("test_acc", float("nan"))
        panels.append((f"{row['name']} (seed 0): held-out {acc:.3f}", data.x_test, data.y_test, model))
    out.append(folder / "factorial_boundaries.png")
    plots.finish(plots.plot_boundaries(panels, ncols=4, save=out[-1]), close=True)

    curves, bands = {}, {}
    for row in s["factorial"]:
        series = [store.series(r, "test", "acc") for r in row["runs"]]
        series = [sr for sr in series if sr[0]]
        if series:
            steps, mean, std = plots.curve_band(series)
            curves[row["name"]] = (steps, mean)
            bands[row["name"]] = (steps, mean - std, mean + std)
    out.append(folder / "factorial_curves.png")
    plots.finish(plots.plot_curves(curves, "held-out accuracy", bands=bands, save=out[-1],
                                   title="2x2 factorial, mean ± std over seeds"), close=True)

    rows = s["sgd_lr"] + s["adam_steps"]
    labels = [r["name"].replace("ReLU+", "") for r in rows]
    out.append(folder / "budget.png")
    plots.finish(plots.plot_bars(labels, [r["test_acc"]["mean"] for r in rows],
                                 [r["test_acc"]["std"] for r in rows], "held-out accuracy", save=out[-1],
                                 title="ReLU net: is 94.9% a ceiling or a budget?"), close=True)
    return out
