"""Toy 2-D sets: the week's spiral (its exact recipe) and TensorFlow Playground's sets.

Every maker takes an optional `torch.Generator`; with none it draws from torch's global stream,
which is what the week's notebook did (torch.manual_seed(12345), then the spiral, then the models).
"""

from __future__ import annotations

import math

import torch

from nnstudy.data import Dataset
from nnstudy.errors import UsageError


def make_spiral(n_per_class: int = 1000, classes: int = 3, noise: float = 0.2,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The spiral of the week (Atcold's 04-spiral_classification), vectorised but draw-for-draw
    and bit-for-bit the same: per class one randn(N), radius linspace(0, 1, N), angle
    linspace(2*pi*c/C, 2*pi*(2+c)/C, N) + noise * randn. Returns X (C*N, 2) float32, y (C*N,) int64."""
    N, C = n_per_class, classes
    X = torch.zeros(N * C, 2)
    y = torch.zeros(N * C, dtype=torch.long)
    for c in range(C):
        t = torch.linspace(0, 1, N)  # (N,) radius
        angle = torch.linspace((2 * math.pi / C) * c, (2 * math.pi / C) * (2 + c), N) \
            + torch.randn(N, generator=generator) * noise
        # The week computed math.sin on each float32 angle in double precision, then stored float32.
        a = angle.double()
        X[N * c: N * (c + 1)] = t[:, None] * torch.stack((a.sin(), a.cos()), 1).float()
        y[N * c: N * (c + 1)] = c
    return X, y


def make_moons(n_per_class: int = 500, noise: float = 0.1, generator=None):
    """Two interleaving half circles (scikit-learn's recipe), Gaussian noise of std `noise`."""
    t = torch.linspace(0, math.pi, n_per_class, dtype=torch.float64)
    upper = torch.stack((t.cos(), t.sin()), 1)
    lower = torch.stack((1 - t.cos(), 0.5 - t.sin()), 1)
    X = torch.cat((upper, lower)) + noise * torch.randn(2 * n_per_class, 2, generator=generator, dtype=torch.float64)
    y = torch.cat((torch.zeros(n_per_class), torch.ones(n_per_class))).long()
    return X.float(), y


def make_circles(n_per_class: int = 500, noise: float = 0.1, radius: float = 5.0, generator=None):
    """Playground's circle: class 0 inside radius/2, class 1 on a ring at 0.7..1 x radius;
    noise shifts each point by uniform(-radius, radius) * noise per coordinate."""
    def ring(lo, hi):
        r = lo + (hi - lo) * torch.rand(n_per_class, generator=generator)
        a = 2 * math.pi * torch.rand(n_per_class, generator=generator)
        pts = torch.stack((r * a.sin(), r * a.cos()), 1)
        return pts + noise * radius * (2 * torch.rand(n_per_class, 2, generator=generator) - 1)

    X = torch.cat((ring(0, 0.5 * radius), ring(0.7 * radius, radius)))
    y = torch.cat((torch.zeros(n_per_class), torch.ones(n_per_class))).long()
    return X / radius, y


def make_xor(n_per_class: int = 500, noise: float = 0.1, generator=None):
    """Playground's xor: uniform points in [-5, 5]^2 kept 0.3 away from the axes, label = sign(x*y),
    noise shifts points by uniform(-5, 5) * noise; coordinates scaled to [-1, 1]."""
    n = 2 * n_per_class
    P = 10 * torch.rand(n, 2, generator=generator) - 5
    P = P + 0.3 * P.sign()  # padding away from the axes, as the playground does
    y = ((P[:, 0] * P[:, 1]) < 0).long()
    X = P + noise * 5 * (2 * torch.rand(n, 2, generator=generator) - 1)
    return X / 5.3, y


def make_gauss(n_per_class: int = 500, noise: float = 0.1, generator=None):
    """Playground's gauss: two blobs at (2, 2) and (-2, -2), std 0.5 + 3 * noise; scaled by 1/5."""
    std = 0.5 + 3 * noise
    a = torch.randn(n_per_class, 2, generator=generator) * std + 2
    b = torch.randn(n_per_class, 2, generator=generator) * std - 2
    X = torch.cat((a, b)) / 5
    y = torch.cat((torch.zeros(n_per_class), torch.ones(n_per_class))).long()
    return X, y


MAKERS = {"spiral": make_spiral, "moons": make_moons, "circles": make_circles,
          "xor": make_xor, "gauss": make_gauss}


def generate(name: str, n_per_class: int, noise: float, classes: int = 3, generator=None):
    if name not in MAKERS:
        raise UsageError(f"unknown toy set {name!r}; valid: {', '.join(MAKERS)}")
    if name == "spiral":
        return make_spiral(n_per_class, classes, noise, generator)
    return MAKERS[name](n_per_class, noise, generator=generator)


def holdout(X, y, test_frac: float, generator: torch.Generator):
    """A seeded random split: (X_train, y_train, X_test, y_test)."""
    perm = torch.randperm(len(X), generator=generator)
    n_test = round(len(X) * test_frac)
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], y[tr], X[te], y[te]


def load_toy(cfg) -> Dataset:
    g = torch.Generator().manual_seed(cfg.data_seed)
    X, y = generate(cfg.dataset, cfg.n_per_class, cfg.noise, cfg.classes, generator=g)
    Xtr, ytr, Xte, yte = holdout(X, y, cfg.test_frac, g)
    C = int(y.max()) + 1
    return Dataset(cfg.dataset, Xtr, ytr, Xte, yte, num_classes=C, classes=[str(c) for c in range(C)],
                   meta={"n_per_class": cfg.n_per_class, "noise": cfg.noise, "data_seed": cfg.data_seed,
                         "test_frac": cfg.test_frac})
