"""A model's layers as a table: output shape, parameters and multiply-adds per input example.

Measured with forward hooks on one dummy example (eval mode, no gradients), so the shapes are the
ones the model really produces. Multiply-adds (MACs) are counted for the layers that dominate:
Conv2d: output elements x in_channels/groups x kernel height x kernel width; Linear: in x out per
output row. Normalisation, activations and pooling count 0 (they are O(elements), not O(weights)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class LayerRow:
    name: str  # module path in the model, e.g. "features.0"
    kind: str  # class name, e.g. "Conv2d"
    out_shape: tuple[int, ...]  # output shape of one example (no batch dimension)
    params: int  # parameters owned by this layer
    macs: int  # multiply-adds for one example


@dataclass
class Summary:
    rows: list[LayerRow]
    params: int  # every parameter of the model
    trainable: int  # parameters with requires_grad
    macs: int  # multiply-adds for one example, all rows


def layer_macs(m: nn.Module, out: torch.Tensor) -> int:
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return out[0].numel() * (m.in_channels // m.groups) * kh * kw
    if isinstance(m, nn.Linear):
        return out[0].numel() * m.in_features  # out_features x in_features per output row
    return 0


@torch.no_grad()
def summarize(model: nn.Module, in_shape: tuple[int, ...]) -> Summary:
    """Run one zero example of shape in_shape through the model and record every leaf layer."""
    rows, hooks = [], []
    for name, m in model.named_modules():
        if next(m.children(), None) is None and name:  # leaves only: containers would double count
            def hook(mod, args, out, name=name):
                if isinstance(out, torch.Tensor):
                    rows.append(LayerRow(name, type(mod).__name__, tuple(out.shape[1:]),
                                         sum(p.numel() for p in mod.parameters(recurse=False)),
                                         layer_macs(mod, out)))
            hooks.append(m.register_forward_hook(hook))
    was_training = model.training
    p = next(model.parameters(), None)
    try:
        model.eval()  # batch norm on one example needs running statistics
        model(torch.zeros(1, *in_shape, device=p.device if p is not None else "cpu",
                          dtype=p.dtype if p is not None and p.is_floating_point() else torch.float32))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Summary(rows, params, trainable, sum(r.macs for r in rows))


def format_summary(s: Summary) -> str:
    """A fixed-width text table with a totals line."""
    head = ("layer", "type", "output", "params", "MACs")
    body = [(r.name, r.kind, "x".join(map(str, r.out_shape)), f"{r.params:,}", f"{r.macs:,}") for r in s.rows]
    foot = ("total", "", "", f"{s.params:,}", f"{s.macs:,}")
    widths = [max(len(row[i]) for row in [head, *body, foot]) for i in range(5)]

    def line(row):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    rule = "-" * len(line(head))
    out = [line(head), rule, *map(line, body), rule, line(foot)]
    if s.trainable != s.params:
        out.append(f"trainable parameters: {s.trainable:,}")
    out.append(f"multiply-adds per example: {s.macs:,} ({s.macs / 1e6:.1f}M)")
    return "\n".join(out)

