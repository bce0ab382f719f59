"""Per-layer statistics of a network: what its activations and gradients look like, layer by layer.

A *layer* here is a linear map (nn.Linear / nn.Conv2d, weight W) followed by an activation module
whose input is the pre-activation z and whose output is h. For `nnstudy.models.mlp.MLP` these are
its `HiddenLayer`s (`.linear`, `.norm`, `.act`); for any other net (conv nets) every activation
module is paired with the nearest linear map before it. Layers are named h1, h2, ... from the input.

Statistics per layer (all over one batch):
  act_mean, act_std  mean and std of h over every element
  saturated          fraction of h at the activation's flat ends: sigmoid outside [0.05, 0.95],
                     tanh |h| > 0.95, ReLU exactly 0 (None for other activations)
  grad_z             ||sum_b dL/dz_b||: the gradient of the (batch-mean) loss with respect to the
                     layer's pre-activations summed over the batch, i.e. ||dL/db|| when the linear
                     map has a bias and nothing sits between it and z (Nielsen's "gradient of the layer")
  grad_z_example     RMS over the batch of ||dl_b/dz_b||, each example's own loss (B * z.grad[b]:
                     the loss must be a mean over the batch, as every loss in nnstudy is)
  grad_w             ||dL/dW|| (Frobenius)
  jac_mean, jac_min, jac_max   singular values of the layer's input-output Jacobian dh/dx per
                     example (x the layer's input), over `jacobian_batch` examples: Glorot & Bengio's
                     "average singular value". MLP layers only (a conv layer's Jacobian is
                     (C*H*W)^2 per example): None elsewhere. Batch norm enters with the batch's
                     statistics held constant.

`LayerProbe(model, steps)` is a `train.fit` hook recording at the chosen steps; `measure(model, x, y)`
takes the same statistics once (at initialization) without changing the model.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
ACT_TYPES = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.ELU, nn.SiLU, nn.Softplus)
STATS = ("act_mean", "act_std", "saturated", "grad_z", "grad_z_example", "grad_w",
         "jac_mean", "jac_min", "jac_max")


def saturated_fraction(act: nn.Module, h: torch.Tensor) -> float | None:
    """Fraction of outputs h where the activation is flat (its derivative ~0 or exactly 0)."""
    if isinstance(act, nn.Sigmoid):
        return ((h < 0.05) | (h > 0.95)).float().mean().item()
    if isinstance(act, nn.Tanh):
        return (h.abs() > 0.95).float().mean().item()
    if type(act) is nn.ReLU:
        return (h == 0).float().mean().item()
    return None


@dataclass
class Layer:
    name: str  # h1, h2, ... from the input
    linear: nn.Module  # holds .weight (W)
    act: nn.Module  # input z, output h
    block: nn.Module | None  # x -> h (with batch norm, skip): the map whose Jacobian is taken


def find_layers(model: nn.Module) -> list[Layer]:
    """The probed layers of `model`, input first."""
    hidden = getattr(model, "hidden", None)
    if hidden is not None and all(hasattr(b, "linear") and hasattr(b, "act") for b in hidden):
        return [Layer(f"h{i + 1}", b.linear, b.act, b) for i, b in enumerate(hidden)]
    layers, last = [], None
    for m in model.modules():
        if isinstance(m, LINEAR_TYPES):
            last = m
        elif isinstance(m, ACT_TYPES) and last is not None:
            layers.append(Layer(f"h{len(layers) + 1}", last, m, None))
            last = None  # an activation belongs to one linear map
    return layers


class LayerProbe:
    """A `train.fit` hook: `hook(step, model)` records every layer's statistics at `steps`.

    Module hooks stay installed; they capture tensors only in the training forward pass of a step
    to be recorded (armed by the previous call), so other steps cost one Python check per layer.
    `records` holds (step, "probe:<layer>", stat, value) rows for `Store.log_metrics`; `rows`
    maps step -> [per-layer dict]. Call `close()` to remove the hooks."""

    def __init__(self, model: nn.Module, steps=(0,), jacobian_batch: int = 32):
        self.layers = find_layers(model)
        self.steps = {int(s) for s in steps}
        self.jacobian_batch = jacobian_batch
        self.records: list[tuple] = []
        self.rows: dict[int, list[dict]] = {}
        self._armed = 0 in self.steps
        self._cap: dict[str, dict] = {}
        self._handles = []
        for layer in self.layers:
            self._handles.append(layer.act.register_forward_pre_hook(self._pre_act(layer.name)))
            self._handles.append(layer.act.register_forward_hook(self._post_act(layer.name)))
            if layer.block is not None and jacobian_batch:
                self._handles.append(layer.block.register_forward_pre_hook(self._pre_block(layer.name)))

    def _live(self, module) -> bool:
        return self._armed and module.training and torch.is_grad_enabled()

    def _pre_act(self, name):
        def hook(module, inputs):
            if self._live(module) and inputs[0].requires_grad:
                slot = self._cap.setdefault(name, {})
                inputs[0].register_hook(lambda g: slot.__setitem__("dz", g.detach()))
        return hook

    def _post_act(self, name):
        def hook(module, inputs, output):
            if self._live(module):
                self._cap.setdefault(name, {})["h"] = output.detach()
        return hook

    def _pre_block(self, name):
        def hook(module, inputs):
            if self._live(module):
                self._cap.setdefault(name, {})["x"] = inputs[0].detach()
        return hook

    def __call__(self, step: int, model: nn.Module) -> None:
        if self._armed and step in self.steps and self._cap:
            rows = self.collect()
            self.rows[step] = rows
            self.records += [(step, f"probe:{r['layer']}", k, r[k]) for r in rows for k in STATS
                             if r.get(k) is not None]
        self._cap = {}
        self._armed = step + 1 in self.steps

    def collect(self) -> list[dict]:
        """The statistics of the captured forward/backward pass, one dict per layer."""
        out = []
        for layer in self.layers:
            cap = self._cap.get(layer.name, {})
            h, dz = cap.get("h"), cap.get("dz")
            row = {"layer": layer.name}
            if h is not None:
                row.update(act_mean=h.mean().item(), act_std=h.std().item() if h.numel() > 1 else 0.0,
                           saturated=saturated_fraction(layer.act, h))
            if dz is not None:
                B = dz.shape[0]
                row["grad_z"] = dz.sum(0).norm().item()  # ||dL/db||: (B, ...) summed over the batch
                row["grad_z_example"] = (B * dz.flatten(1).norm(dim=1)).pow(2).mean().sqrt().item()
            g = getattr(layer.linear, "weight", None)
            if g is not None and g.grad is not None:
                row["grad_w"] = g.grad.norm().item()
            if layer.block is not None and "x" in cap and self.jacobian_batch:
                sv = jacobian_singular_values(layer.block, cap["x"], self.jacobian_batch)
                row.update(jac_mean=sv.mean().item(), jac_min=sv.min().item(), jac_max=sv.max().item())
                row["singular_values"] = sv
            out.append(row)
        return out

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def log_steps(total: int, per_decade: int = 4) -> list[int]:
    """0, then about `per_decade` log-spaced steps per factor of 10 up to `total` (inclusive of
    total - 1, the last step that has gradients)."""
    if total <= 0:
        return []
    steps = {0, total - 1}
    k = 0
    while True:
        s = int(round(10 ** (k / per_decade)))
        if s >= total:
            break
        steps.add(s)
        k += 1
    return sorted(steps)


# -- Jacobians ------------------------------------------------------------------------------------
def jacobian_singular_values(block: nn.Module, x: torch.Tensor, n: int = 32) -> torch.Tensor:
    """Singular values of d block(x_b) / d x_b for the first `n` examples of x: (n, min(out, in)),
    computed as the square roots of the eigenvalues of J J^T (or J^T J), in float64: batched SVD
    is several times slower on a CPU, and squaring in float64 only blurs singular values below
    ~1e-8 of the largest. NaN where the Jacobian is not finite (an exploding net)."""
    J = block_jacobians(block, x, n)  # (n, out, in)
    if not torch.isfinite(J).all():
        return torch.full((J.shape[0], min(J.shape[1:])), float("nan"), dtype=J.dtype, device=J.device)
    G = (J @ J.transpose(1, 2) if J.shape[1] <= J.shape[2] else J.transpose(1, 2) @ J).double()
    try:
        ev = torch.linalg.eigvalsh(G)
    except torch.linalg.LinAlgError:  # LAPACK gives up on some near-singular inputs: take the slow road
        return torch.linalg.svdvals(J.double()).to(J.dtype)
    return ev.clamp_min(0).sqrt().flip(-1).to(J.dtype)  # (n, k), largest first


def block_jacobians(block: nn.Module, x: torch.Tensor, n: int = 32) -> torch.Tensor:
    """Per-example Jacobians d block(x_b) / d x_b of the first `n` rows of x: (n, out_numel, in_numel).

    Batch norm normalizes with the statistics of the whole batch x, held constant (what the
    training forward pass used, without the cross-example terms); dropout is off. An MLP
    `HiddenLayer` (linear -> [batch norm] -> elementwise activation [+ x]) takes the closed form
    diag(act'(z) * bn_scale) W [+ I]; any other block goes through torch.func.jacrev."""
    x = x.detach()
    if _is_mlp_block(block):
        return _mlp_block_jacobians(block, x, n)
    blk = copy.deepcopy(block)
    freeze_batch_norm(blk, x)
    blk.eval()

    def f(xi):  # one example (*in) -> (out_numel,)
        return blk(xi.unsqueeze(0)).flatten()

    with torch.enable_grad():
        J = torch.func.vmap(torch.func.jacrev(f))(x[:n])  # (n, out_numel, *in)
    return J.reshape(J.shape[0], J.shape[1], -1)


def _is_mlp_block(block) -> bool:
    return (all(hasattr(block, a) for a in ("linear", "norm", "act")) and isinstance(block.linear, nn.Linear)
            and isinstance(block.norm, (nn.Identity, nn.BatchNorm1d)))


def _mlp_block_jacobians(block, x: torch.Tensor, n: int) -> torch.Tensor:
    W = block.linear.weight.detach()  # (out, in)
    with torch.no_grad():
        u = block.linear(x)  # (B, out): the whole batch, for batch-norm statistics
        scale = torch.ones(u.shape[1], dtype=u.dtype, device=u.device)
        if isinstance(block.norm, nn.BatchNorm1d):
            bn = block.norm
            mean, var = (u.mean(0), u.var(0, unbiased=False)) if bn.training or not bn.track_running_stats \
                else (bn.running_mean, bn.running_var)
            scale = 1 / (var + bn.eps).sqrt()
            if bn.affine:
                scale = scale * bn.weight
            u = (u - mean) * scale + (bn.bias if bn.affine else 0)
    z = u[:n].clone().requires_grad_(True)  # (n, out) pre-activations
    with torch.enable_grad():
        d = torch.autograd.grad(block.act(z).sum(), z)[0]  # (n, out): act'(z), elementwise
    J = (d * scale)[:, :, None] * W[None]  # (n, out, in)
    if getattr(block, "residual", False):
        J = J + torch.eye(W.shape[0], W.shape[1], dtype=J.dtype, device=J.device)
    return J


def freeze_batch_norm(module: nn.Module, x: torch.Tensor) -> None:
    """Set every batch norm's running statistics to those of the batch x (biased variance, as
    training normalizes), so eval mode reproduces the training forward pass on x."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    seen, handles = {}, []
    for bn in bns:
        def grab(m, inputs):
            z = inputs[0]
            dims = [d for d in range(z.dim()) if d != 1]  # all but channels
            seen[id(m)] = (z.mean(dims), z.var(dims, unbiased=False))
        handles.append(bn.register_forward_pre_hook(grab))
    module.train()
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    for bn in bns:
        mean, var = seen[id(bn)]
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)


# -- one measurement --------------------------------------------------------------------------------
def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn=None,
            jacobian_batch: int = 32) -> list[dict]:
    """Every layer's statistics on one forward/backward pass over (x, y), in training mode (batch
    norms use the batch's statistics), on a copy: the model, its gradients and its batch-norm
    running statistics are left as they were. loss_fn(logits, y) defaults to cross-entropy."""
    net = copy.deepcopy(model).train()
    net.zero_grad(set_to_none=True)
    probe = LayerProbe(net, steps=(0,), jacobian_batch=jacobian_batch)
    try:
        out = net(x)
        loss = (loss_fn or F.cross_entropy)(out, y)
        loss.backward()
        return probe.collect()
    finally:
        probe.close()


def neighbour_ratios(values: list[float]) -> list[float | None]:
    """values[i] / values[i + 1] for neighbouring layers (input side over output side): < 1 where
    the statistic shrinks toward the input."""
    return [a / b if b and a is not None and math.isfinite(b) else None for a, b in zip(values, values[1:])]
