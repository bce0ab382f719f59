"""Fully connected nets: the week's linear net and a configurable multi-layer perceptron."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules import module as _module

from nnstudy.models import register_model


def make_activation(name: str) -> nn.Module:
    return {
        "none": nn.Identity,
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
    }[name]()


# Activations computed in place on the pre-activation z when nothing observes z: the linear layer
# (or batch norm) that made z does not need it for its backward, and each of these backwards reads
# the output, so the numbers are the same and a (B, width) allocation and pass is saved
# (benchmarks/spiral.py times the loop; benchmarks/results/notes.md the saving). GELU's backward
# needs its input: never in place.
IN_PLACE = {
    "relu": torch.relu_,
    "leaky_relu": lambda z: F.leaky_relu_(z, 0.01),
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
}


def observed(m: nn.Module) -> bool:
    """Whether a hook would see m's input or output (probes and studies hook `HiddenLayer.act`)."""
    return bool(m._forward_pre_hooks or m._forward_hooks or m._backward_hooks or m._backward_pre_hooks
                or _module._global_forward_pre_hooks or _module._global_forward_hooks
                or _module._global_backward_hooks or _module._global_backward_pre_hooks)


def init_linear(layer: nn.Linear, init: str, activation: str) -> None:
    """default: PyTorch's (uniform, bound 1/sqrt(fan_in)); xavier: Glorot & Bengio's normalized
    init (gain 1, as in their paper); kaiming: He et al.'s fan-in normal for (leaky) ReLU."""
    if init == "default":
        return
    if init == "xavier":
        nn.init.xavier_uniform_(layer.weight)
    elif init == "kaiming":
        nonlin = "leaky_relu" if activation == "leaky_relu" else "relu"
        nn.init.kaiming_normal_(layer.weight, a=0.01 if nonlin == "leaky_relu" else 0, nonlinearity=nonlin)
    nn.init.zeros_(layer.bias)


class HiddenLayer(nn.Module):
    """linear -> [batch norm] -> activation -> [dropout], with an optional identity skip.

    `act` sees the pre-activation z, so probes hook it to read z and dL/dz."""

    def __init__(self, n_in: int, n_out: int, activation: str, batch_norm: bool = False,
                 dropout: float = 0.0, residual: bool = False):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.norm = nn.BatchNorm1d(n_out) if batch_norm else nn.Identity()
        self.act = make_activation(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual = residual and n_in == n_out
        self.activation = activation  # its name (the batched trainer's layer plan reads it)
        # Identity placeholders keep one module layout for probes and state dicts, but calling them
        # costs a Python module call each: a measurable share of a tiny net's step.
        self.has_norm, self.has_drop = batch_norm, dropout > 0
        self.in_place = IN_PLACE.get(activation)

    def forward(self, x):  # (B, n_in) -> (B, n_out)
        z = self.linear(x)
        if self.has_norm:
            z = self.norm(z)
        h = self.in_place(z) if self.in_place is not None and not observed(self.act) else self.act(z)
        if self.has_drop:
            h = self.drop(h)
        return x + h if self.residual else h


class MLP(nn.Module):
    """`depth` hidden layers of `width` units, then a linear head to `num_classes` logits.

    With depth=1, activation="relu" and default init it is exactly the week's
    nn.Sequential(Linear(D, H), ReLU(), Linear(H, C)), parameters created in the same order,
    so the same seed gives the same weights."""

    def __init__(self, in_features: int, num_classes: int, width: int = 100, depth: int = 1,
                 activation: str = "relu", init: str = "default", dropout: float = 0.0,
                 batch_norm: bool = False, residual: bool = False, widths: list[int] | None = None,
                 activations: list[str] | None = None):
        """widths / activations: one per hidden layer (the playground's layers of their own width
        and activation); None: `depth` layers of `width`, all with `activation`."""
        super().__init__()
        self.activation = activation
        widths = list(widths) if widths else [width] * depth
        acts = list(activations) if activations else [activation] * len(widths)
        sizes = [in_features] + widths
        self.hidden = nn.ModuleList(
            HiddenLayer(a, b, act, batch_norm, dropout, residual) for a, b, act in zip(sizes, sizes[1:], acts))
        self.head = nn.Linear(widths[-1], num_classes)
        for layer, act in zip(self.hidden, acts):
            init_linear(layer.linear, init, act)
        if init != "default":
            init_linear(self.head, "xavier", "none")

    def forward(self, x):  # (B, ...) -> (B, num_classes)
        if x.dim() != 2:
            x = x.flatten(1)
        for layer in self.hidden:
            x = layer(x)
        return self.head(x)


class LinearNet(nn.Module):
    """The week's first model: Linear(D, H) -> Linear(H, C), no activation between them.

    A composition of linear maps is linear: however wide H is, the decision boundaries are lines."""

    def __init__(self, in_features: int, num_classes: int, width: int = 100):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, width), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.net(x.flatten(1))


def _flat(in_shape) -> int:
    return math.prod(in_shape)


@register_model("mlp", "multi-layer perceptron: --width, --depth, --activation, --init, --dropout, "
                "--batch-norm, --residual")
def mlp(in_shape, num_classes, cfg):
    from nnstudy.config import hidden_activations, hidden_widths

    return MLP(_flat(in_shape), num_classes, cfg.width, cfg.depth, cfg.activation, cfg.init,
               cfg.dropout, cfg.batch_norm, cfg.residual, hidden_widths(cfg), hidden_activations(cfg))


@register_model("linear", "the week's linear net: Linear(D, width) -> Linear(width, C)")
def linear(in_shape, num_classes, cfg):
    return LinearNet(_flat(in_shape), num_classes, cfg.width)


@register_model("logistic", "softmax regression: one Linear(D, C)")
def logistic(in_shape, num_classes, cfg):
    return nn.Sequential(nn.Flatten(), nn.Linear(_flat(in_shape), num_classes))




class InputFeatures(nn.Module):
    """The fixed first layer of a net on 2-D points: (x1, x2) -> the chosen features, in order
    (TensorFlow Playground's inputs: x1², sin x1, ...). No parameters."""

    MAKE = {"x1": lambda a, b: a, "x2": lambda a, b: b, "x1^2": lambda a, b: a * a, "x2^2": lambda a, b: b * b,
            "x1*x2": lambda a, b: a * b, "sin(x1)": lambda a, b: torch.sin(a), "sin(x2)": lambda a, b: torch.sin(b)}

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = list(names)

    def forward(self, x):  # (B, 2) -> (B, len(names))
        a, b = x[:, 0], x[:, 1]
        return torch.stack([self.MAKE[n](a, b) for n in self.names], 1)


class WithFeatures(nn.Module):
    """A registered model on the input features of 2-D points: `features`, then `net`."""

    def __init__(self, features: InputFeatures, net: nn.Module):
        super().__init__()
        self.features, self.net = features, net

    def forward(self, x):
        return self.net(self.features(x))
