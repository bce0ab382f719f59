"""Autoencoders: plain or denoising, tied or untied, and greedy layer-wise pretraining of an MLP.

`Autoencoder(in_features, widths)` encodes with the MLP's own `HiddenLayer`s (so its layers copy
straight into `MLP.hidden[i].linear`) and decodes through the mirror image, tied (decoder weight =
encoder weight transposed, its own biases) or untied. Denoising is a training procedure, not a
model: `train_autoencoder` corrupts each batch (`corrupt`: masking or Gaussian noise) and scores
the reconstruction against the clean input, as Vincent et al. (2008) describe.

Why a second, short loop instead of `train.fit`: fit's contract is (logits, class labels) ->
loss and accuracy, evaluated on labelled splits. A reconstruction has the input as its target, a
per-batch corruption, no accuracy and no labels; bending fit to that would add a target mode and a
corruption hook to the one loop for one study. The loop below is the same five lines (zero_grad,
forward, loss, backward, step) and takes its optimizer and schedule from `nnstudy.optim`, so no
optimizer or schedule code is repeated. Supervised fine-tuning after pretraining does go through fit.

`greedy_pretrain` is Bengio et al. (2007): train a one-hidden-layer autoencoder on the input, keep
its encoder, train the next on the (clean) codes of the one below, and so on; `copy_encoder` puts
the stack into an MLP that `fit` then fine-tunes with labels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from nnstudy.errors import Diverged, UsageError
from nnstudy.models import register_model
from nnstudy.models.mlp import MLP, HiddenLayer, init_linear, make_activation
from nnstudy.optim import make_optimizer, make_scheduler, resolve_device

NOISES = ("none", "mask", "gaussian")


class Autoencoder(nn.Module):
    """in_features -> widths[0] -> ... -> widths[-1] (the code) -> ... -> in_features.

    activation: hidden layers of encoder and decoder; code_activation: the code layer (default:
    activation; "none" gives a linear code, e.g. for a 2-D map); out_activation: the output
    ("sigmoid" for pixels in [0, 1], "none" for standardised inputs)."""

    def __init__(self, in_features: int, widths: list[int], activation: str = "sigmoid",
                 code_activation: str | None = None, out_activation: str = "sigmoid", tied: bool = False,
                 init: str = "default"):
        super().__init__()
        if not widths or min(widths) < 1:
            raise UsageError(f"autoencoder widths={widths!r}: need at least one layer of >= 1 unit")
        self.tied = tied
        sizes = [in_features] + list(widths)
        acts = [activation] * (len(widths) - 1) + [code_activation or activation]
        self.encoder = nn.ModuleList(HiddenLayer(a, b, act) for a, b, act in zip(sizes, sizes[1:], acts))
        back = sizes[::-1]  # code -> ... -> in_features
        if tied:
            self.dec_bias = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in back[1:])
        else:
            self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back, back[1:]))
        for layer in self.encoder:
            init_linear(layer.linear, init, activation)
        acts_back = [activation] * (len(back) - 2) + [out_activation]
        self.dec_acts = nn.ModuleList(make_activation(a) for a in acts_back)

    def encode(self, x):  # (B, ...) -> (B, widths[-1])
        h = x.flatten(1)
        for layer in self.encoder:
            h = layer(h)
        return h

    def decode(self, h):  # (B, widths[-1]) -> (B, in_features)
        for i, act in enumerate(self.dec_acts):
            if self.tied:
                h = F.linear(h, self.encoder[-1 - i].linear.weight.t(), self.dec_bias[i])
            else:
                h = self.decoder[i](h)
            h = act(h)
        return h

    def forward(self, x):  # (B, ...) -> (B, in_features): the reconstruction of the flattened input
        return self.decode(self.encode(x))


def autoencoder_from_spec(in_features: int, spec: dict) -> Autoencoder:
    """Rebuild from the dict a study stores in cfg.extra["autoencoder"] (for drawing)."""
    return Autoencoder(in_features, spec["widths"], spec.get("activation", "sigmoid"), spec.get("code_activation"),
                       spec.get("out_activation", "sigmoid"), spec.get("tied", False), spec.get("init", "default"))


def corrupt(x: torch.Tensor, noise: str, level: float, generator: torch.Generator | None = None):
    """mask: each input set to 0 with probability `level` (for standardised inputs 0 is the mean);
    gaussian: add N(0, level^2) noise; none: x itself. x: (B, D) float."""
    if noise == "none" or level == 0:
        return x
    if noise == "mask":
        keep = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) >= level
        return x * keep
    if noise == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device="cpu").to(x.device)
    raise UsageError(f"noise={noise!r} is not valid; valid: {', '.join(NOISES)}")


@torch.no_grad()
def reconstruction_error(model: Autoencoder, x: torch.Tensor, noise: str = "none", level: float = 0.0,
                         seed: int = 0, chunk: int = 4096) -> float:
    """Mean squared error per input value (units of x squared) of the reconstruction of the clean
    x from its corrupted version (noise="none": from x itself), model in eval mode."""
    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    total, n = 0.0, 0
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk].flatten(1).to(device)
        total += F.mse_loss(model(corrupt(xb, noise, level, g)), xb, reduction="sum").item()
        n += xb.numel()
    model.train(was)
    return total / max(1, n)


@dataclass
class AEResult:
    status: str  # complete | diverged
    final: dict[str, float]  # train_mse, val_mse (clean reconstruction, per input value)
    records: list[tuple] = field(default_factory=list)  # (step, split, "mse", value)
    steps: int = 0
    seconds: float = 0.0
    error: str | None = None


def train_autoencoder(model: Autoencoder, x: torch.Tensor, cfg, *, noise: str = "none", level: float = 0.0,
                      x_val: torch.Tensor | None = None, layer: str = "") -> AEResult:
    """Minimise ||model(corrupt(x)) - x||^2 over x (N, D) float, as cfg says (optimizer, lr,
    schedule, steps or epochs, batch_size, seed, grad_clip, device). Train records at every step
    are the corrupted batch's loss before its update; val records (clean) every eval_every steps
    (default: each epoch) and at the end. `layer` prefixes the record names (greedy stacks)."""
    if noise not in NOISES:
        raise UsageError(f"noise={noise!r} is not valid; valid: {', '.join(NOISES)}")
    if not 0 <= level < (1 if noise == "mask" else math.inf):
        raise UsageError(f"noise level {level!r} is out of range (mask: 0 <= level < 1; gaussian: >= 0)")
    device = resolve_device(cfg.device)
    model.to(device)
    x = x.flatten(1).to(device)
    x_val = x_val.flatten(1).to(device) if x_val is not None else None
    n = len(x)
    if n == 0:
        raise UsageError("train_autoencoder: no training examples")
    bs = min(cfg.batch_size or n, n)
    per_epoch = math.ceil(n / bs)
    total = cfg.epochs * per_epoch if cfg.epochs else cfg.steps
    eval_every = cfg.eval_every or per_epoch
    opt = make_optimizer(cfg, model.parameters())
    sched = make_scheduler(cfg, opt, total)
    g = torch.Generator().manual_seed(cfg.seed)  # batch order and corruption
    name = f"{layer}mse"
    check_every = 1 if device.type == "cpu" else 50  # .item() syncs a GPU: check rarely there (as fit does)
    records, losses, step = [], [], 0
    model.train()
    t0 = time.perf_counter()
    try:
        while step < total:
            order = torch.randperm(n, generator=g).to(device)
            for b in range(per_epoch):
                if step >= total:
                    break
                if x_val is not None and step % eval_every == 0:
                    records.append((step, "val", name, reconstruction_error(model, x_val)))
                xb = x[order[b * bs:(b + 1) * bs]]  # (bs, D)
                loss = F.mse_loss(model(corrupt(xb, noise, level, g)), xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
                losses.append(loss.detach())
                if step % check_every == 0 and not math.isfinite(losses[-1].item()):
                    raise Diverged(step, losses[-1].item())
                step += 1
    except Diverged as e:
        records += [(i, "train", name, v) for i, v in enumerate(torch.stack(losses).tolist())]
        return AEResult("diverged", {}, records, step, time.perf_counter() - t0, str(e))
    seconds = time.perf_counter() - t0
    vals = torch.stack(losses).tolist()
    records += [(i, "train", name, v) for i, v in enumerate(vals)]
    bad = next((i for i, v in enumerate(vals) if not math.isfinite(v)), None)  # between GPU checks
    if bad is not None:
        return AEResult("diverged", {}, records, step, seconds, str(Diverged(bad, vals[bad])))
    final = {"train_mse": reconstruction_error(model, x)}
    if x_val is not None:
        final["val_mse"] = reconstruction_error(model, x_val)
        records.append((step, "val", name, final["val_mse"]))
    return AEResult("complete", final, records, step, seconds)


def greedy_pretrain(x: torch.Tensor, widths: list[int], activation: str, cfg, *, noise: str = "mask",
                    level: float = 0.25, tied: bool = True, input_activation: str = "none",
                    log=None) -> tuple[list[nn.Linear], list[AEResult]]:
    """Bengio et al. (2007), denoising as in Vincent et al. (2008): layer k is the encoder of a
    one-hidden-layer autoencoder trained on the clean codes of layers 1..k-1 (computed once, the
    lower layers frozen). Returns the trained encoder Linears, bottom first, and each layer's result.

    x: (N, D) what the supervised net will see (here: standardised pixels, so layer 1 decodes
    linearly, input_activation="none"); higher layers reconstruct codes in the activation's range,
    so their decoders end in the same activation."""
    layers, results = [], []
    h = x.flatten(1)
    for k, width in enumerate(widths):
        out_act = input_activation if k == 0 else activation
        torch.manual_seed(cfg.seed * 1000 + k)  # each layer's init: its own reproducible draw
        ae = Autoencoder(h.shape[1], [width], activation, out_activation=out_act, tied=tied, init=cfg.init)
        res = train_autoencoder(ae, h, cfg.replace(seed=cfg.seed * 1000 + k), noise=noise, level=level,
                                layer=f"layer{k + 1}_")
        res.final["input_var"] = h.var(0).mean().item()  # per-feature variance: mse / this = unexplained fraction
        results.append(res)
        if res.status != "complete":
            raise UsageError(f"greedy pretraining diverged at layer {k + 1}: {res.error}")
        if log:
            log(f"  pretrain layer {k + 1}/{len(widths)}: {h.shape[1]} -> {width}, "
                f"train mse {res.final['train_mse']:.4f}")
        enc = ae.encoder[0]
        layers.append(enc.linear)
        with torch.no_grad():
            enc.eval()
            h = torch.cat([enc(c) for c in h.split(4096)])  # (N, width): the next layer's input
    return layers, results


def copy_encoder(layers: list[nn.Linear], model: MLP) -> MLP:
    """Copy pretrained encoder layers into model.hidden[i].linear (bottom first); the head keeps
    its own initialisation. Shapes must match layer for layer."""
    if len(layers) != len(model.hidden):
        raise UsageError(f"copy_encoder: {len(layers)} pretrained layers for an MLP of depth {len(model.hidden)}")
    with torch.no_grad():
        for i, (src, dst) in enumerate(zip(layers, model.hidden)):
            if src.weight.shape != dst.linear.weight.shape:
                raise UsageError(f"copy_encoder: layer {i + 1} is {tuple(src.weight.shape)}, "
                                 f"the MLP's is {tuple(dst.linear.weight.shape)}")
            dst.linear.weight.copy_(src.weight)
            dst.linear.bias.copy_(src.bias)
    return model


@register_model("autoencoder", "autoencoder (reconstruction, not classification): trained by the autoencoder "
                "and pretraining studies; rebuilt from a stored run's config for drawing")
def autoencoder(in_shape, num_classes, cfg):
    spec = cfg.extra.get("autoencoder")
    if not spec:
        raise UsageError("model 'autoencoder' reconstructs its input and has no class outputs, and needs its "
                         "layout in extra.autoencoder: train it with `nnstudy run autoencoder`, not `nnstudy train`")
    return autoencoder_from_spec(math.prod(in_shape), spec)
