"""The tensors study's figure: the week's histograms of normal draws, redrawn from the same seed
(the summary stores the seed and sizes; the draws are regenerated, not stored)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from nnstudy.plots import save


def draw_histograms(run: dict, folder) -> list[Path]:
    draws, bins = run["summary"]["draws"], run["summary"]["bins"]
    fig, axes = plt.subplots(1, len(draws), figsize=(4.2 * len(draws), 3.2), squeeze=False)
    for ax, d in zip(axes[0], draws):
        g = torch.Generator().manual_seed(d["seed"])
        r = torch.randn(d["n"], generator=g, dtype=torch.float64).numpy()
        counts, edges, _ = ax.hist(r, bins, density=True, color="#8fb3d9", label="draws")
        x = np.linspace(edges[0], edges[-1], 400)
        ax.plot(x, np.exp(-x * x / 2) / math.sqrt(2 * math.pi), color="#b03a2e", lw=1.4, label="N(0, 1) density")
        ax.set_title(f"torch.randn({d['n']:,}), {bins} bins", fontsize=10)
        ax.set_xlabel("value")
        ax.set_ylabel("density")
        ax.legend(fontsize=8, loc="upper right", frameon=False)
    fig.tight_layout()
    return [save(fig, Path(folder) / "normal_draws.png")]
