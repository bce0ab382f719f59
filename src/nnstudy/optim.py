"""Optimizers, learning-rate schedules and losses, built from a TrainConfig."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def make_optimizer(cfg, params) -> torch.optim.Optimizer:
    """torch's optimizers with foreach=True everywhere: torch picks it by default on CUDA only, but its
    multi-tensor kernels also cut a tiny CPU model's step (the spiral's 1000 Adam steps 4% faster) and
    give bit-identical weights there (benchmarks/results/step_options.md; tests/test_spiral.py
    reproduces the week's printed digits). Not fused=True: as fast there, but not bit-identical
    (2.1e-4 apart from the single-tensor weights after those 1000 steps)."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay, foreach=True)
    if cfg.optimizer == "adam":  # weight_decay is the coupled L2 penalty, as the week used it
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                   foreach=True)
    raise AssertionError(cfg.optimizer)  # validated in config


def make_scheduler(cfg, opt, total_steps: int):
    """Stepped once per optimizer step. step: x0.1 at 50% and 75% of the run; cosine: to 0;
    onecycle: warm up over the first 25%, then anneal (Smith & Topin)."""
    if cfg.schedule == "constant":
        return None
    if cfg.schedule == "step":
        marks = [max(1, total_steps // 2), max(2, (3 * total_steps) // 4)]
        return torch.optim.lr_scheduler.MultiStepLR(opt, marks, gamma=0.1)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total_steps))
    if cfg.schedule == "onecycle":
        n = max(2, total_steps)  # below ~6 steps a 25% warm-up is under one step: torch divides by zero
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=n, pct_start=max(0.25, 1.5 / n))
    raise AssertionError(cfg.schedule)


def make_loss(cfg, num_classes: int):
    """loss(logits (B, C), y (B,)) -> scalar. Accuracy is always argmax(logits) == y.

    cross_entropy: softmax + negative log-likelihood (log-sum-exp inside, never overflows);
    mse: squared error between the raw outputs and one-hot targets, summed over classes, mean over batch;
    bce: an independent sigmoid per class against the one-hot target."""
    if cfg.loss == "cross_entropy":
        ls = cfg.label_smoothing
        return lambda z, y: F.cross_entropy(z, y, label_smoothing=ls)
    if cfg.loss == "mse":
        return lambda z, y: F.mse_loss(z, F.one_hot(y, num_classes).to(z.dtype), reduction="sum") / len(y)
    if cfg.loss == "bce":
        return lambda z, y: F.binary_cross_entropy_with_logits(z, F.one_hot(y, num_classes).to(z.dtype))
    raise AssertionError(cfg.loss)


def resolve_device(name: str) -> torch.device:
    """auto: CUDA, then Apple's MPS, then the CPU."""
    from nnstudy.errors import UsageError

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to torch; use --device auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: Apple's MPS backend is not available here; use --device auto or cpu")
    return torch.device(name)
