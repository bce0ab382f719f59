"""A multi-layer perceptron in NumPy with a hand-written backward pass: no autograd.

Conventions (the tests hold PyTorch to them on the same arrays):
- `params` is a list of (W, b), one per layer, W shaped (n_in, n_out) so a layer acts on rows:
  z = a @ W + b, (B, n_in) @ (n_in, n_out). torch's nn.Linear stores weight as (n_out, n_in):
  `from_torch` / `to_torch` transpose.
- Hidden layers apply the activation; the last layer gives logits (no activation).
- Loss: softmax cross-entropy averaged over the batch, log-sum-exp shifted by the row max.
- Weight decay lives in the optimizers, as in torch: grad += wd * param, for W and b alike.
- Everything is computed in the net's dtype (float64 or float32).

torch is imported only inside `from_torch` / `to_torch`: the math here is NumPy alone.
"""

from __future__ import annotations

import numpy as np

from nnstudy.errors import UsageError


def _sigmoid(z):
    # 0.5 * (1 + tanh(z / 2)) is 1 / (1 + exp(-z)) without exp overflow for large negative z
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# name -> (forward z -> a, backward (z, a, da) -> dz): each op's backward next to its forward.
# ReLU's derivative at exactly 0 is taken as 0, as torch does.
ACTIVATIONS = {
    "none": (lambda z: z, lambda z, a, da: da),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a, da: da * (z > 0)),
    "tanh": (np.tanh, lambda z, a, da: da * (1 - a * a)),
    "sigmoid": (_sigmoid, lambda z, a, da: da * a * (1 - a)),
}


def softmax_cross_entropy(logits, y):
    """Mean over the batch of logsumexp(logits_i) - logits_i[y_i], and d loss / d logits."""
    B = logits.shape[0]
    rows = np.arange(B)
    shifted = logits - logits.max(axis=1, keepdims=True)  # (B, C), row max 0: exp cannot overflow
    lse = np.log(np.exp(shifted).sum(axis=1))  # (B,)
    loss = (lse - shifted[rows, y]).mean()
    # backward: d/d logits of the mean = (softmax - onehot) / B
    dlogits = np.exp(shifted - lse[:, None])  # (B, C) softmax
    dlogits[rows, y] -= 1
    return float(loss), dlogits / B


class MLP:
    """sizes = [n_in, h_1, ..., h_k, n_classes]; k hidden layers with `activation`.

    Initialized as torch's nn.Linear default: W and b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)), from a
    NumPy generator (so not the same draws as torch; use `from_torch` for that)."""

    def __init__(self, sizes, activation: str = "relu", dtype=np.float64, seed: int = 0):
        if activation not in ACTIVATIONS:
            raise UsageError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise UsageError(f"sizes must be at least [n_in, n_classes], all >= 1, got {list(sizes)}")
        self.sizes = [int(s) for s in sizes]
        self.activation = activation
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise UsageError(f"dtype must be float32 or float64, got {self.dtype}")
        rng = np.random.default_rng(seed)
        self.params = []
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            bound = 1.0 / np.sqrt(n_in)
            W = rng.uniform(-bound, bound, (n_in, n_out)).astype(self.dtype)
            b = rng.uniform(-bound, bound, n_out).astype(self.dtype)
            self.params.append((W, b))

    # ---- inputs ----

    def check_inputs(self, X, y=None):
        """X as a (B, n_in) array in the net's dtype, y as int labels in [0, C), or UsageError."""
        try:
            X = np.asarray(X, dtype=self.dtype)
        except (TypeError, ValueError) as e:
            raise UsageError(f"X must be a numeric array: {e}") from None
        if X.ndim != 2:
            raise UsageError(f"X must be 2-D (batch, features), got shape {X.shape}")
        if X.shape[1] != self.sizes[0]:
            raise UsageError(f"X has {X.shape[1]} features per row but the net takes {self.sizes[0]}")
        if not np.isfinite(X).all():
            row = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise UsageError(f"X contains NaN or inf (first in row {row})")
        if y is None:
            return X, None
        y = np.asarray(y)
        C = self.sizes[-1]
        if y.shape != (X.shape[0],):
            raise UsageError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
        if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise UsageError("labels must be integers in [0, C)")
        if y.size and (y.min() < 0 or y.max() >= C):
            raise UsageError(f"labels must be in [0, {C}), got values from {y.min()} to {y.max()}")
        return X, y.astype(np.int64)

    # ---- forward / backward ----

    def _forward(self, X):
        """logits (B, C) and the cache [(a_in, z, a_out)] per layer for the backward pass."""
        act = ACTIVATIONS[self.activation][0]
        cache, a = [], X
        for i, (W, b) in enumerate(self.params):
            z = a @ W + b  # (B, n_out)
            a_out = z if i == len(self.params) - 1 else act(z)
            cache.append((a, z, a_out))
            a = a_out
        return a, cache

    def forward(self, X):
        """X (B, n_in) -> logits (B, n_classes)."""
        X, _ = self.check_inputs(X)
        return self._forward(X)[0]

    def loss(self, X, y) -> float:
        X, y = self.check_inputs(X, y)
        return softmax_cross_entropy(self._forward(X)[0], y)[0]

    def loss_and_grads(self, X, y, with_preact: bool = False):
        """(loss, [(dW, db)] per layer); with_preact adds [dL/dz] per layer, each (B, n_out)."""
        X, y = self.check_inputs(X, y)
        logits, cache = self._forward(X)
        loss, dz = softmax_cross_entropy(logits, y)  # the head has no activation: dz = dlogits
        act_backward = ACTIVATIONS[self.activation][1]
        grads, dzs = [None] * len(self.params), [None] * len(self.params)
        for i in reversed(range(len(self.params))):
            a_in, z, _ = cache[i]
            W, _ = self.params[i]
            if i < len(self.params) - 1:  # through this hidden layer's activation
                dz = act_backward(z, cache[i][2], dz)
            dzs[i] = dz
            grads[i] = (a_in.T @ dz, dz.sum(axis=0))  # z = a_in @ W + b: (n_in, n_out), (n_out,)
            dz = dz @ W.T  # d loss / d a_in, (B, n_in): the previous layer's output gradient
        return (loss, grads, dzs) if with_preact else (loss, grads)

    def predict(self, X):
        return self.forward(X).argmax(axis=1)

    def accuracy(self, X, y) -> float:
        X, y = self.check_inputs(X, y)
        return float((self._forward(X)[0].argmax(axis=1) == y).mean())

    def astype(self, dtype) -> MLP:
        """A copy in another dtype (the same values, rounded if narrowing)."""
        net = MLP.__new__(MLP)
        net.sizes, net.activation, net.dtype = list(self.sizes), self.activation, np.dtype(dtype)
        net.params = [(W.astype(dtype, copy=True), b.astype(dtype, copy=True)) for W, b in self.params]
        return net

    # ---- PyTorch interop ----

    @classmethod
    def from_torch(cls, model, activation: str | None = None, dtype=np.float64) -> MLP:
        """Copy the weights of a torch MLP: `nnstudy.models.mlp.MLP` (batch norm, dropout and
        residual off), or an nn.Sequential / list of nn.Linear with activations between them."""
        linears, act = _torch_linears(model)
        act = activation or act
        if act not in ACTIVATIONS:
            raise UsageError(f"activation {act!r} has no NumPy version; valid: {', '.join(ACTIVATIONS)}")
        net = cls.__new__(cls)
        net.activation, net.dtype = act, np.dtype(dtype)
        net.sizes = [linears[0].in_features] + [lin.out_features for lin in linears]
        net.params = [(lin.weight.detach().cpu().numpy().T.astype(dtype),  # (n_out, n_in) -> (n_in, n_out)
                       lin.bias.detach().cpu().numpy().astype(dtype)) for lin in linears]
        return net

    def to_torch(self):
        """nn.Sequential(Linear, act, ..., Linear) holding the same weights, in the same dtype."""
        import torch
        import torch.nn as nn

        modules = {"none": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
        layers = []
        for i, (W, b) in enumerate(self.params):
            lin = nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64 if self.dtype == np.float64
                            else torch.float32)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))
            layers.append(lin)
            if i < len(self.params) - 1:
                layers.append(modules[self.activation]())
        return nn.Sequential(*layers)


def _torch_linears(model):
    """([nn.Linear] in order, activation name or None) of a plain torch MLP."""
    import torch.nn as nn

    if hasattr(model, "hidden") and hasattr(model, "head"):  # nnstudy.models.mlp.MLP
        for layer in model.hidden:
            if not isinstance(layer.norm, nn.Identity) or not isinstance(layer.drop, nn.Identity) \
                    or layer.residual:
                raise UsageError("from_torch needs batch_norm, dropout and residual off")
        return [layer.linear for layer in model.hidden] + [model.head], getattr(model, "activation", None)
    names = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Identity: "none"}
    linears, acts = [], set()
    for m in model:
        if isinstance(m, nn.Linear):
            linears.append(m)
        elif type(m) in names:
            acts.add(names[type(m)])
        elif not isinstance(m, nn.Flatten):
            raise UsageError(f"from_torch cannot convert a {type(m).__name__} layer")
    if not linears or len(acts) > 1:
        raise UsageError(f"from_torch needs nn.Linear layers and one activation kind, got {sorted(acts)}")
    return linears, (acts.pop() if acts else "none")


# ---- optimizers: the same arithmetic as torch.optim, in the same order ----

class SGD:
    """torch.optim.SGD (dampening 0, no Nesterov): g += wd * p; buf = momentum * buf + g
    (buf = g on the first step); p -= lr * buf."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.tensors = [p for pair in params for p in pair]  # updated in place: W0, b0, W1, b1, ...
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.bufs = [None] * len(self.tensors)

    def step(self, grads):
        for k, (p, g) in enumerate(zip(self.tensors, [g for pair in grads for g in pair])):
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                self.bufs[k] = g.copy() if self.bufs[k] is None else self.momentum * self.bufs[k] + g
                g = self.bufs[k]
            p -= self.lr * g


class Adam:
    """torch.optim.Adam (amsgrad off): g += wd * p (coupled L2); m += (1 - b1)(g - m);
    v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.tensors = [p for pair in params for p in pair]
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = [np.zeros_like(p) for p in self.tensors]
        self.v = [np.zeros_like(p) for p in self.tensors]
        self.t = 0

    def step(self, grads):
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1 - b1 ** self.t)
        bc2_sqrt = (1 - b2 ** self.t) ** 0.5
        for p, g, m, v in zip(self.tensors, [g for pair in grads for g in pair], self.m, self.v):
            if self.weight_decay:
                g = g + self.weight_decay * p
            m += (1 - b1) * (g - m)  # torch's lerp_(g, 1 - b1)
            v *= b2
            v += (1 - b2) * (g * g)
            p -= step_size * (m / (np.sqrt(v) / bc2_sqrt + self.eps))


def fit_full_batch(net: MLP, X, y, optimizer, steps: int) -> list[float]:
    """`steps` optimizer steps on the whole of (X, y); the loss before each step."""
    X, y = net.check_inputs(X, y)
    losses = []
    for _ in range(steps):
        loss, grads = net.loss_and_grads(X, y)
        optimizer.step(grads)
        losses.append(loss)
    return losses
