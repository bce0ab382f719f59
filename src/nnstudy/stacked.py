"""K same-shaped fully connected nets as stacked tensors, and SGD / Adam / AdamW over them.

The batched trainer (`nnstudy.batched`) keeps every parameter of K models in one tensor with a
leading member axis: a weight is (K, out, in), a bias (K, out, 1). Activations are feature-major,
(K, features, B): on this project's 2-core CPU, log_softmax over a 3-class axis and the narrow
matmuls of a 2-D input are several times faster with the batch axis contiguous (measured in
benchmarks/batched.py), and each member stays an independent slice, so its gradient is its own.

The optimizers repeat torch.optim's single-tensor formulas op for op, with each member's lr,
weight decay, momentum and betas as (K, 1, 1) tensors; a member whose `active` flag is off is
frozen (no update, no state change), which is how a diverged member stops without stopping the rest.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnstudy.models.mlp import MLP, LinearNet

aten = torch.ops.aten
EVAL_COLUMNS = 2048  # examples per evaluation chunk, as train.evaluate does
# The factored backward (StackedNet._backward_factored) while its C x (D + 1) product rows are at most a
# quarter of the hidden width: its two thin matmuls grow with the rows, so the gain over the plain
# backward shrinks as they do (scratch timings in benchmarks/results/notes.md; benchmarks/batched.py times the trainer).
FACTORED_ROWS_PER_UNIT = 0.25

# In place on the pre-activation buffer, and the backward autograd would run for each (same aten
# ops, so the same numbers), computed in place on the incoming gradient g from the output y
# (gelu alone needs its input z, kept in its own buffer).
FORWARD = {
    "none": lambda y: y,
    "relu": torch.relu_,
    "leaky_relu": lambda y: F.leaky_relu_(y, 0.01),
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
}
BACKWARD = {
    "none": lambda g, y, z: g,
    "relu": lambda g, y, z: aten.threshold_backward.grad_input(g, y, 0, grad_input=g),
    "leaky_relu": lambda g, y, z: aten.leaky_relu_backward.grad_input(g, y, 0.01, True, grad_input=g),
    "tanh": lambda g, y, z: aten.tanh_backward.grad_input(g, y, grad_input=g),
    "sigmoid": lambda g, y, z: aten.sigmoid_backward.grad_input(g, y, grad_input=g),
    "gelu": lambda g, y, z: aten.gelu_backward.grad_input(g, z, approximate="none", grad_input=g),
}


def layer_plan(model: torch.nn.Module, cfg) -> list[tuple[str, str]] | None:
    """[(state-dict prefix of a Linear, activation after it)] for the models the batched trainer
    can stack, or None. The plan must cover the state dict exactly: no buffers, nothing skipped."""
    if isinstance(model, MLP):
        if cfg.dropout or cfg.batch_norm or cfg.residual:
            return None
        plan = [(f"hidden.{i}.linear", layer.activation) for i, layer in enumerate(model.hidden)] + [("head", "none")]
    elif isinstance(model, LinearNet):
        plan = [("net.0", "none"), ("net.1", "none")]
    elif (isinstance(model, torch.nn.Sequential) and len(model) == 2 and isinstance(model[0], torch.nn.Flatten)
          and isinstance(model[1], torch.nn.Linear)):  # the registered "logistic" model
        plan = [("1", "none")]
    else:
        return None
    keys = {f"{p}.{w}" for p, _ in plan for w in ("weight", "bias")}
    return plan if keys == set(model.state_dict()) else None


class StackedNet:
    """Parameters of K nets built by the solo code path, stacked with the bias folded in as a last
    column: params[i] is layer i's (K, out, in + 1). Every layer input carries a row of ones, so one
    bmm gives W x + b and one bmm gives the weight and bias gradients together (fewer passes over
    the (k, width, B) activations, which bound the speed on a CPU).

    One hidden ReLU layer on a narrow input (the week's spiral net: 2 -> 100 -> 3) takes a shorter
    road, `factored`: see _backward_factored."""

    def __init__(self, models: list[torch.nn.Module], plan: list[tuple[str, str]], device):
        self.plan = plan
        self.acts = [act for _, act in plan]
        sds = [m.state_dict() for m in models]
        self.params = [torch.stack([torch.cat((sd[f"{p}.weight"], sd[f"{p}.bias"][:, None]), 1) for sd in sds])
                       .to(device) for p, _ in plan]  # (K, out, in + 1)
        self.widths = [self.params[0].shape[2] - 1] + [W.shape[1] for W in self.params]  # D, hidden..., C
        self.factored = (len(plan) == 2 and self.acts[0] == "relu"
                         and self.widths[-1] * (self.widths[0] + 1) <= FACTORED_ROWS_PER_UNIT * self.widths[1])
        self._spaces: dict[tuple[int, int], Workspace] = {}
        self.chunk_members = len(models)  # members per training chunk, as the trainer last ran them

    def __len__(self) -> int:
        return self.params[0].shape[0]

    def space(self, k: int, B: int) -> Workspace:
        if (k, B) not in self._spaces:
            self._spaces[(k, B)] = Workspace(self, k, B, self.params[0].device)
        return self._spaces[(k, B)]

    def release_workspaces(self) -> None:
        """Drop every buffer; the next step allocates what it uses."""
        self._spaces.clear()

    def floats_per_example(self) -> int:
        """Workspace floats per member and example (activations, gradients, input and logits): what
        a chunk of members costs in memory per column."""
        D, C, hidden = self.widths[0], self.widths[-1], self.widths[1:-1]
        if self.factored:
            return hidden[0] + C * (D + 1) + D + 1 + C  # hidden, products, input, logits
        return 2 * sum(hidden) + D + C

    def forward(self, params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """x (k, D + 1, B), last row ones -> logits (k, C, B), a workspace buffer that the next
        forward of the same size overwrites. Activations stay in the workspace for backward."""
        ws = self.space(x.shape[0], x.shape[2])
        if self.factored:
            return self._forward_factored(params, x, ws)
        a = x
        for i, (W, act) in enumerate(zip(params, self.acts)):
            y = ws.out if i == len(params) - 1 else ws.a[i + 1][:, :W.shape[1]]  # (k, out, B)
            if act == "gelu":
                torch.bmm(W, a, out=ws.z[i])
                y.copy_(F.gelu(ws.z[i]))  # not gelu.out: into a strided view it writes wrong numbers (torch 2.14)
            else:
                FORWARD[act](torch.bmm(W, a, out=y))
            a = ws.a[i + 1] if i + 1 < len(params) else None
        return ws.out

    def backward(self, params: list[torch.Tensor], x: torch.Tensor, dz: torch.Tensor,
                 grads: list[torch.Tensor]) -> None:
        """dz = dL/dlogits (k, C, B) of the last forward on x -> grads[i] (k, out, in + 1), written in place."""
        if self.factored:
            return self._backward_factored(params, x, dz, grads)
        ws = self.space(x.shape[0], x.shape[2])
        for i in range(len(params) - 1, -1, -1):
            a = x if i == 0 else ws.a[i]  # layer i's input, (k, in + 1, B)
            if dz.shape[1] > a.shape[1]:  # a narrow input (the 2-D spiral): the transposed product
                # with the long side as output columns is faster (benchmarks/results/notes.md); the copy is tiny
                grads[i].copy_(torch.bmm(a, dz.transpose(1, 2)).transpose(1, 2))
            else:
                torch.bmm(dz, a.transpose(1, 2), out=grads[i])  # (k, out, in + 1)
            if i == 0:
                break
            n_in = a.shape[1] - 1
            g = torch.bmm(params[i][:, :, :n_in].transpose(1, 2), dz, out=ws.g[i])  # (k, in, B)
            dz = BACKWARD[self.acts[i - 1]](g, a[:, :n_in], ws.z[i - 1])

    def _forward_factored(self, params, x, ws) -> torch.Tensor:
        """x -> W2 relu(W1 x) + b2, the hidden layer in its own contiguous buffer (no row of ones):
        a bmm into a strided output runs member by member, slower on the CPU (benchmarks/results/notes.md).
        The logits are the plain path's sums; only the backward is factored. (Factoring
        the forward too, logits = sum_d x[d] (V m)[(c, d)] with V[(c, d), j] = W2[c, j] W1[j, d],
        saved one more pass but rounded the logits unlike a solo run, and RMSprop at lr 1e-2 then
        drifted from its solo run by 2e-2 in the weights within 60 steps, against 1e-5 this way.)"""
        W1, W2 = params
        h = torch.relu_(torch.bmm(W1, x, out=ws.a[1]))  # (k, H, B)
        return torch.baddbmm(W2[:, :, -1:], W2[:, :, :-1], h, out=ws.out)

    def _backward_factored(self, params, x, dz, grads) -> None:
        """Both weight gradients from one pass over the ReLU mask m = relu'(z), made in place from
        the activations h that _forward_factored left in the workspace (h >= 0: sign(h) is 1 where
        z > 0, 0 elsewhere; the next forward overwrites the buffer anyway).

        With h = m * z, z = W1 x, the chain rule's
            dW1[j, d] = sum_b (sum_c W2[c, j] dz[c, b]) m[j, b] x[d, b]
            dW2[c, j] = sum_b dz[c, b] h[j, b] = sum_d W1[j, d] sum_b m[j, b] dz[c, b] x[d, b]
        share S[(c, d), j] = sum_b dz[c, b] x[d, b] m[j, b]: one bmm of the C (D + 1) products
        dz[c] x[d] (9 rows for the spiral) with m, then two tiny contractions. The plain backward
        writes the (k, H, B) gradient W2^T dz, masks it (three passes over (k, H, B) tensors),
        multiplies it out (a fourth) and reads h for dW2 (a fifth); this makes m (two) and reads it
        (one). The same sums in another order: float32 rounding differs, as between any two
        summation orders (tests/test_batched.py states the tolerance)."""
        ws = self.space(x.shape[0], x.shape[2])
        W1, W2 = params
        k, C, B = dz.shape
        D1, H = x.shape[1], W1.shape[1]
        torch.mul(dz[:, :, None, :], x[:, None, :, :], out=ws.p.view(k, C, D1, B))
        m = ws.a[1].sign_()
        s = torch.bmm(ws.p, m.transpose(1, 2), out=ws.s).view(k, C, D1, H)
        grads[0].copy_((W2[:, :, None, :H] * s).sum(1).transpose(1, 2))  # (k, H, D + 1)
        grads[1][:, :, :H].copy_((W1.transpose(1, 2)[:, None] * s).sum(2))  # (k, C, H)
        torch.sum(dz, 2, out=grads[1][:, :, H])

    def state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member k's weights under the solo model's keys (loads into it with load_state_dict)."""
        out = {}
        for (prefix, _), W in zip(self.plan, self.params):
            out[f"{prefix}.weight"] = W[k, :, :-1].detach().cpu().clone()
            out[f"{prefix}.bias"] = W[k, :, -1].detach().cpu().clone()
        return out


class Workspace:
    """Buffers for k members and B examples, reused every step (no allocation in the loop):
    a[i] layer i's input with its row of ones (k, in + 1, B) for i >= 1, z[i] gelu's input,
    g[i] the gradient flowing into layer i's input (k, in, B), out the logits (k, C, B)."""

    def __init__(self, net: StackedNet, k: int, B: int, device):
        hidden = net.widths[1:-1]
        self.out = torch.empty(k, net.widths[-1], B, device=device)
        if net.factored:  # a[1] the hidden layer (then its ReLU mask); p, s: the factored products
            rows = net.widths[-1] * (net.widths[0] + 1)
            self.a = [None, torch.empty(k, hidden[0], B, device=device)]
            self.p = torch.empty(k, rows, B, device=device)
            self.s = torch.empty(k, rows, hidden[0], device=device)
            return
        self.a = [None] + [torch.ones(k, h + 1, B, device=device) for h in hidden]
        self.g = [None] + [torch.empty(k, h, B, device=device) for h in hidden]
        self.z = [torch.empty(k, h, B, device=device) if act == "gelu" else None
                  for h, act in zip(hidden, net.acts)]


def member_losses(cfg, z: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Each member's mean loss, as optim.make_loss defines it: z (k, C, B), y (k, B) -> (k,).
    Summing these gives every member exactly its solo gradient."""
    if cfg.loss == "cross_entropy":
        return F.cross_entropy(z, y, reduction="none", label_smoothing=cfg.label_smoothing).mean(1)
    target = F.one_hot(y, num_classes).to(z.dtype).transpose(1, 2)  # (k, C, B)
    if cfg.loss == "mse":  # squared error summed over classes, mean over the batch
        return F.mse_loss(z, target, reduction="none").sum((1, 2)) / y.shape[1]
    if cfg.loss == "bce":
        return F.binary_cross_entropy_with_logits(z, target, reduction="none").mean((1, 2))
    raise AssertionError(cfg.loss)


def loss_and_grad(cfg, z: torch.Tensor, y: torch.Tensor,
                  num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each member's mean loss (k,), accuracy (k,) and dL/dz (k, C, B) for L = the sum of those losses.

    Plain cross-entropy, the common case, is written out: dz = (softmax - onehot) / B, a third of
    the small ops autograd runs, and the accuracy read off the log-probabilities; every other loss
    goes through autograd from the logits."""
    if cfg.loss == "cross_entropy" and not cfg.label_smoothing:
        logp = torch.log_softmax(z, 1)  # (k, C, B)
        picked = logp.gather(1, y[:, None])  # (k, 1, B)
        losses = picked.mean((1, 2)).neg_()  # (k,)
        acc = _accuracy_from_log_probs(logp, picked, z, y) if z.device.type == "cpu" else member_accuracy(z, y)
        dz = logp.exp_()
        dz.scatter_add_(1, y[:, None], dz.new_full((y.shape[0], 1, y.shape[1]), -1.0))
        return losses, acc, dz.mul_(1.0 / y.shape[1])
    acc = member_accuracy(z, y)
    z = z.detach().requires_grad_()
    losses = member_losses(cfg, z, y, num_classes)
    dz, = torch.autograd.grad(losses.sum(), z)
    return losses.detach(), acc, dz


def _accuracy_from_log_probs(logp, picked, z, y) -> torch.Tensor:
    """member_accuracy(z, y) from the log-probabilities at hand: over the short strided class axis,
    max without indices (amax) is fast where max(1) with them is not (an order of magnitude on the
    CPU; benchmarks/results/notes.md).
    logp = z - lse per example, and subtracting one number keeps the order, so where each example's
    largest logp is unique it marks argmax z, and a hit is logp[y] == that largest.
    A tie (made by rounding, or in z) or a NaN anywhere: argmax's own rule (the first maximal
    index; NaN counts as maximal) decides, through member_accuracy. CPU only: the check reads two
    numbers back each step, which would stall a GPU's queue, where max(1) is cheap anyway."""
    top = logp.amax(1, keepdim=True)  # (k, 1, B), NaN where a column has one
    # no NaN, and as many maxima as columns: every column's maximum is unique
    if bool(top.isnan().any()) or int(torch.count_nonzero(logp == top)) != top.numel():
        return member_accuracy(z, y)
    return (picked == top).float().mean((1, 2))


def member_accuracy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(k, C, B), (k, B) -> (k,) fraction of argmax hits."""
    return (predict(z) == y).float().mean(1)


def predict(z: torch.Tensor) -> torch.Tensor:
    """argmax over classes, (k, C, B) -> (k, B). max(1) returns the first maximal index as argmax
    does, and is far faster than argmax(1) over a short strided class axis (benchmarks/results/notes.md)."""
    return z.max(1).indices


def _col(values, device) -> torch.Tensor:
    """Python floats (computed in double, as torch.optim does) -> a (K, 1, 1) float32 tensor."""
    return torch.tensor(values, dtype=torch.float32, device=device).view(-1, 1, 1)


class StackedOptimizer:
    """SGD (momentum, nesterov, weight decay), Adam (coupled L2), AdamW (decoupled) or RMSprop
    (momentum, weight decay; not centered) over stacked parameters. `groups` are the param_groups
    of the real optimizers optim.make_optimizer builds for each member, so hyperparameters and
    their defaults (betas, alpha, eps) come from one place."""

    def __init__(self, kind: str, params: list[torch.Tensor], groups: list[dict]):
        self.kind, self.params, self.t = kind, params, 0
        self.wd = [g["weight_decay"] for g in groups]
        self.wd_t = _col(self.wd, params[0].device)
        self.any_wd = any(self.wd)
        if kind == "sgd":
            self.nesterov = groups[0]["nesterov"]
            self.bufs: list[torch.Tensor | None] = [None] * len(params)
        elif kind == "rmsprop":  # torch's state: square average and momentum buffer start at zero
            if any(g["centered"] for g in groups):
                raise ValueError("centered RMSprop is not stacked")
            dev = params[0].device
            self.alpha_t = _col([g["alpha"] for g in groups], dev)
            self.one_minus_alpha = _col([1 - g["alpha"] for g in groups], dev)
            self.eps = _col([g["eps"] for g in groups], dev)
            self.sq = [torch.zeros_like(p) for p in params]
            self.bufs = [torch.zeros_like(p) for p in params]
        else:
            self.b2 = [g["betas"][1] for g in groups]
            dev = params[0].device
            self.eps = _col([g["eps"] for g in groups], dev)
            self.b2_t, self.one_minus_b2 = _col(self.b2, dev), _col([1 - b for b in self.b2], dev)
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
        self.set_hyperparameters(groups)

    def set_hyperparameters(self, groups: list[dict]) -> None:
        """What a schedule changes, read from the members' param groups: lr, and the momentum of SGD
        and RMSprop or Adam's beta1 (OneCycle cycles them). Takes effect at the next step."""
        dev = self.params[0].device
        self.lr = [g["lr"] for g in groups]
        self.lr_t = _col(self.lr, dev)
        if self.kind in ("sgd", "rmsprop"):
            self.mom_t = _col([g["momentum"] for g in groups], dev)
            self.any_mom = any(g["momentum"] for g in groups)
        else:
            self.b1 = [g["betas"][0] for g in groups]
            self.one_minus_b1 = _col([1 - b for b in self.b1], dev)

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], active: torch.Tensor) -> None:
        """grads: one (K, ...) tensor per parameter; active (K,) bool: frozen members keep
        their parameters and optimizer state exactly as they are."""
        self.t += 1
        on = active.view(-1, 1, 1)
        lr = self.lr_t * on  # (K, 1, 1): 0 for frozen members
        if self.kind == "sgd":
            self._sgd(grads, on, lr)
        elif self.kind == "rmsprop":
            self._rmsprop(grads, on, lr)
        else:
            self._adam(grads, on, lr)

    def _rmsprop(self, grads, on, lr) -> None:
        for p, g, sq, buf in zip(self.params, grads, self.sq, self.bufs):
            g = torch.where(on, g, 0.0)
            if self.any_wd:
                g = g + self.wd_t * p
            sq.copy_(torch.where(on, sq * self.alpha_t + self.one_minus_alpha * g * g, sq))
            avg = sq.sqrt().add_(self.eps)
            if self.any_mom:  # members with momentum 0 keep buf = g / avg, torch's update without momentum
                buf.copy_(torch.where(on, buf * self.mom_t + g / avg, buf))
                p.sub_(lr * buf)
            else:
                p.sub_(lr * g / avg)

    def _sgd(self, grads, on, lr) -> None:
        for i, (p, g) in enumerate(zip(self.params, grads)):
            d = torch.where(on, g, 0.0)  # NaN gradients of a frozen member never reach its state
            if self.any_wd:
                d = d + self.wd_t * p
            if self.any_mom:
                buf = self.bufs[i]
                if buf is None:
                    buf = self.bufs[i] = d.clone()
                else:
                    buf.copy_(torch.where(on, buf * self.mom_t + d, buf))
                d = d + self.mom_t * buf if self.nesterov else buf
            p.sub_(lr * d)

    def _adam(self, grads, on, lr) -> None:
        t = self.t
        # Bias corrections per member, in double precision as torch.optim computes them.
        step_size = _col([-lr_k / (1 - b1 ** t) for lr_k, b1 in zip(self.lr, self.b1)], lr.device) * on
        bc2_sqrt = _col([(1 - b2 ** t) ** 0.5 for b2 in self.b2], lr.device)
        decay = _col([1 - lr_k * wd for lr_k, wd in zip(self.lr, self.wd)], lr.device)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            g = torch.where(on, g, 0.0)
            if self.kind == "adamw":
                p.copy_(torch.where(on, p * decay, p))
            elif self.any_wd:
                g = g + self.wd_t * p
            m_new = m.lerp(g, self.one_minus_b1)
            v_new = (v * self.b2_t).add_(self.one_minus_b2 * g * g)  # addcmul's order: (value * g) * g
            m.copy_(torch.where(on, m_new, m))
            v.copy_(torch.where(on, v_new, v))
            denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
            p.add_(step_size * m / denom)  # addcdiv's order: (value * m) / denom


@torch.no_grad()
def evaluate_members(net: StackedNet, cfg, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                     chunks) -> torch.Tensor:
    """Mean loss and accuracy of every member on its x (K, D + 1, N), y (K, N): (K, 2), on the device.
    Examples go in chunks of EVAL_COLUMNS and the loss is summed in double, as train.evaluate does."""
    K, n = y.shape
    out = torch.zeros(K, 2, dtype=torch.float64, device=y.device)  # loss sum, hits
    for lo, hi in chunks:
        params = [p[lo:hi] for p in net.params]
        for c in range(0, n, EVAL_COLUMNS):
            xb, yb = x[lo:hi, :, c:c + EVAL_COLUMNS], y[lo:hi, c:c + EVAL_COLUMNS]
            z = net.forward(params, xb)  # (k, C, b)
            out[lo:hi, 0].add_(member_losses(cfg, z, yb, num_classes).double() * yb.shape[1])
            out[lo:hi, 1].add_((predict(z) == yb).sum(1))
    return out / max(1, n)


def clip_members(grads: list[torch.Tensor], max_norm: float) -> None:
    """nn.utils.clip_grad_norm_ per member: scale each member's gradients so that their global
    norm (over all its parameters) is at most max_norm."""
    total = torch.linalg.vector_norm(torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1), dim=1)  # (K,)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0).view(-1, 1, 1)
    for g in grads:
        g.mul_(coef)
