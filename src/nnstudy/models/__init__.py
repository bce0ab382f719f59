"""Models registered by name. A registered factory takes (in_shape, num_classes, cfg) and
returns an nn.Module; the classes themselves have plain constructors for library use."""

from __future__ import annotations

import importlib

import torch.nn as nn

from nnstudy.registry import Registry

MODELS = Registry("model")
register_model = MODELS.register

_MODULES = ("nnstudy.models.mlp", "nnstudy.models.cnn", "nnstudy.models.autoencoder")


def load_all() -> Registry:
    for mod in _MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a family not written yet
            if e.name != mod:
                raise
    return MODELS


def build_model(cfg, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The registered model cfg.model names; with cfg.features, on those features of 2-D points."""
    load_all()
    from nnstudy.config import input_features

    names = input_features(cfg)
    if not names:
        return MODELS.get(cfg.model)(tuple(in_shape), num_classes, cfg)
    if tuple(in_shape) != (2,):
        from nnstudy.errors import UsageError

        raise UsageError(f"features={cfg.features!r} are computed from 2-D points; dataset {cfg.dataset!r} has "
                         f"inputs of shape {tuple(in_shape)}: leave features empty")
    from nnstudy.models.mlp import InputFeatures, WithFeatures

    return WithFeatures(InputFeatures(names), MODELS.get(cfg.model)((len(names),), num_classes, cfg))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
