"""Check the hand-written backward of `scratch.mlp.MLP` two independent ways.

1. Central finite differences: dL/dp ~ (L(p + h) - L(p - h)) / (2h), one parameter entry at a
   time. Truncation error is O(h^2), rounding error O(eps_machine * |L| / h); the default
   h = 1e-5 (about eps^(1/3), where the two balance) leaves ~1e-11 absolute error in float64, so
   gradient entries much below 1e-6 (deep sigmoid nets have some) show large relative errors
   that are the difference quotient's, not the backward pass's: raise `tiny` to judge those on
   an absolute scale. At a ReLU kink (a pre-activation within h of 0) the quotient straddles
   the corner and disagrees with either one-sided derivative.
2. torch.autograd on a graph built from the same arrays, in float64.

Relative error of two arrays a, b: max over elements of |a - b| / max(|a| + |b|, tiny). It is 0
when they agree, 1 when one is 0 and the other not, and scale-free; `tiny` (1e-30 by default)
keeps 0 / 0 at 0 where both gradients vanish exactly (a dead ReLU unit); a larger `tiny` turns
it into |a - b| / tiny wherever |a| + |b| is below it.

All checks run on a float64 copy of the net, whatever its dtype.
"""

from __future__ import annotations

import numpy as np

from nnstudy.scratch.mlp import MLP


def relative_error(a, b, tiny: float = 1e-30) -> float:
    """max_i |a_i - b_i| / max(|a_i| + |b_i|, tiny); 0.0 for empty arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float((np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), tiny)).max())


def finite_difference_grads(net: MLP, X, y, h: float = 1e-5, max_checks: int | None = None,
                            seed: int = 0):
    """[(idx_W, dW_fd), (idx_b, db_fd)] per layer: central differences at the flat indices idx
    (all entries, or `max_checks` chosen at random per parameter array)."""
    net = net.astype(np.float64)
    X, y = net.check_inputs(X, y)
    rng = np.random.default_rng(seed)
    out = []
    for W, b in net.params:
        pair = []
        for p in (W, b):
            idx = np.arange(p.size)
            if max_checks is not None and p.size > max_checks:
                idx = np.sort(rng.choice(p.size, max_checks, replace=False))
            fd = np.empty(len(idx))
            for k, i in enumerate(idx):
                v = p.flat[i]
                p.flat[i] = v + h
                up, vp = net.loss(X, y), p.flat[i]
                p.flat[i] = v - h
                down, vm = net.loss(X, y), p.flat[i]
                p.flat[i] = v
                fd[k] = (up - down) / (vp - vm)  # the step actually taken, after rounding v +- h
            pair.append((idx, fd))
        out.append(tuple(pair))
    return out


def autograd_grads(net: MLP, X, y):
    """[(dW, db)] per layer from torch.autograd, with W, b, X as float64 leaves built from the
    net's arrays (W kept (n_in, n_out): the graph is z = a @ W + b, not nn.Linear)."""
    import torch
    import torch.nn.functional as F

    net = net.astype(np.float64)
    X, y = net.check_inputs(X, y)
    acts = {"none": lambda z: z, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
    leaves = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
              for W, b in net.params]
    a = torch.from_numpy(X)
    for i, (W, b) in enumerate(leaves):
        a = a @ W + b  # (B, n_out)
        if i < len(leaves) - 1:
            a = acts[net.activation](a)
    F.cross_entropy(a, torch.from_numpy(y)).backward()  # mean over the batch
    return [(W.grad.numpy(), b.grad.numpy()) for W, b in leaves]


def gradcheck(net: MLP, X, y, h: float = 1e-5, max_checks: int | None = None, seed: int = 0,
              tiny: float = 1e-30) -> list[dict]:
    """One row per parameter array: {layer, param ('W' or 'b'), shape, n_checked,
    max_rel_err_fd, max_rel_err_autograd, max_abs_grad}. Autograd compares every entry; finite
    differences compare all entries or a random `max_checks` per array."""
    net64 = net.astype(np.float64)
    _, grads = net64.loss_and_grads(X, y)
    fd = finite_difference_grads(net64, X, y, h, max_checks, seed)
    ag = autograd_grads(net64, X, y)
    rows = []
    for layer, (hand, numeric, auto) in enumerate(zip(grads, fd, ag)):
        for name, g, (idx, g_fd), g_ag in zip("Wb", hand, numeric, auto):
            rows.append({
                "layer": layer, "param": name, "shape": tuple(g.shape), "n_checked": len(idx),
                "max_rel_err_fd": relative_error(g.flat[idx], g_fd, tiny),
                "max_rel_err_autograd": relative_error(g, g_ag, tiny),
                "max_abs_grad": float(np.abs(g).max()),
            })
    return rows


def format_table(rows: list[dict]) -> str:
    """The gradcheck rows as aligned text, one line per parameter array."""
    lines = [f"{'layer':>5} {'param':>5} {'shape':>10} {'checked':>7} {'rel err fd':>11} "
             f"{'rel err autograd':>16}"]
    for r in rows:
        lines.append(f"{r['layer']:>5} {r['param']:>5} {str(r['shape']):>10} {r['n_checked']:>7} "
                     f"{r['max_rel_err_fd']:>11.2e} {r['max_rel_err_autograd']:>16.2e}")
    return "\n".join(lines)
