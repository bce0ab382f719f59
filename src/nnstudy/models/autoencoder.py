"""Autoencoders: plain or denoising, tied or untied, and greedy layer-wise pretraining of an MLP.

`Autoencoder(in_features, widths)` encodes with the MLP's own `HiddenLayer`s (so its layers copy
straight into `MLP.hidden[i].linear`) and decodes through the mirror image, tied (decoder weight =
encoder weight transposed, its own biases) or untied. The registered autoencoders
(`AUTOENCODERS`: name -> `AutoencoderSpec`, typed fields read from the config's width, depth,
activation and init) are what a run's config names; nothing that shapes the model lives in
`cfg.extra`.

Denoising is a training procedure, not a model: `Reconstruct` is the task `train.fit` trains an
autoencoder with (the same loop as every classifier): it corrupts each batch (`corrupt`: masking
or Gaussian noise, the config's `corruption` and `corruption_level`) and scores the
reconstruction against the clean input, as Vincent et al. (2008) describe.

`greedy_pretrain` is Bengio et al. (2007): train a one-hidden-layer autoencoder on the input, keep
its encoder, train the next on the (clean) codes of the one below, and so on; `copy_encoder` puts
the stack into an MLP that `fit` then fine-tunes with labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nnstudy.config import CORRUPTIONS as NOISES
from nnstudy.data import Dataset
from nnstudy.errors import DataError, UsageError
from nnstudy.models import register_model
from nnstudy.models.mlp import MLP, HiddenLayer, init_linear, make_activation
from nnstudy.tasks import LossBuffer
from nnstudy.train import FitResult, fit


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


@dataclass(frozen=True)
class AutoencoderSpec:
    """A registered autoencoder's layout."""
    widths: tuple[int, ...]  # encoder layer widths, the code last
    activation: str = "sigmoid"  # hidden layers of encoder and decoder
    code_activation: str | None = None  # the code layer (None: activation; "none": a linear code)
    out_activation: str = "sigmoid"  # the reconstruction: "sigmoid" for pixels in [0, 1], "none" for standardised
    tied: bool = False  # decoder weights = encoder weights transposed
    init: str = "default"  # the encoder's init (config.INITS)

    def build(self, in_features: int) -> Autoencoder:
        return Autoencoder(in_features, list(self.widths), self.activation, self.code_activation,
                           self.out_activation, self.tied, self.init)


AUTOENCODERS = {  # name -> (help, spec from the config)
    "autoencoder": ("`depth` sigmoid-output layers of `width` units, untied (the autoencoder study's variants)",
                    lambda cfg: AutoencoderSpec((cfg.width,) * cfg.depth, cfg.activation, init=cfg.init)),
    "autoencoder-2d": ("784-256-64-2 with a linear 2-unit code, for a map of the codes",
                       lambda cfg: AutoencoderSpec((256, 64, 2), cfg.activation, "none", init=cfg.init)),
    "autoencoder-tied": ("tied weights, linear output for standardised inputs: each layer of the pretraining "
                         "study's greedy stack (greedy_pretrain trains them one at a time)",
                         lambda cfg: AutoencoderSpec((cfg.width,) * cfg.depth, cfg.activation, out_activation="none",
                                                     tied=True, init=cfg.init)),
}


def autoencoder_spec(cfg) -> AutoencoderSpec:
    """The layout a config names. Runs stored before the registered names (issue 17) kept it in
    extra["autoencoder"]: read that, so their weights still load for drawing."""
    old = cfg.extra.get("autoencoder")
    if cfg.model == "autoencoder" and old:
        return AutoencoderSpec(tuple(old["widths"]), old.get("activation", "sigmoid"), old.get("code_activation"),
                               old.get("out_activation", "sigmoid"), old.get("tied", False), old.get("init", "default"))
    return AUTOENCODERS[cfg.model][1](cfg)


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


class Reconstruct:
    """The autoencoder's task for `train.fit`: minimise ||model(corrupt(x)) - x||^2 (mean per input
    value) on data whose targets are the inputs themselves (`reconstruction_data`). The train record
    of a step is its corrupted batch's loss before the update; a split's number ("mse") is the
    reconstruction error of its clean inputs, model in eval mode. The batch order and each batch's
    corruption both draw from fit's generator (the run's seed)."""

    metrics = ("mse",)
    autocast = False  # float32, as these runs always trained: bf16 keeps 3 digits of errors near 1e-2

    def __init__(self, noise: str = "none", level: float = 0.0):
        if noise not in NOISES:
            raise UsageError(f"noise={noise!r} is not valid; valid: {', '.join(NOISES)}")
        if not 0 <= level < (1 if noise == "mask" else math.inf):
            raise UsageError(f"noise level {level!r} is out of range (mask: 0 <= level < 1; gaussian: >= 0)")
        self.noise, self.level = noise, level

    def check(self, data: Dataset, model: nn.Module) -> None:
        for split, (x, _) in data.splits().items():
            if len(x) and not (x.is_floating_point() and torch.isfinite(x).all()):
                raise DataError(f"reconstruction, {split} split: inputs must be finite floats")

    def loss(self, net, xb, yb, generator=None):  # yb: the clean inputs, (B, D)
        return F.mse_loss(net(corrupt(xb, self.noise, self.level, generator)), yb), None

    def buffer(self, limit: int, batch: int, device, fixed_y=None) -> LossBuffer:
        return LossBuffer(limit, device, "mse")

    def evaluate(self, model, data, x, y, amp=None, chunk: int = 2048, tta: bool = False) -> dict[str, float]:
        return {"mse": reconstruction_error(model, x)}


def reconstruction_data(x: torch.Tensor, x_test: torch.Tensor | None = None) -> Dataset:
    """Inputs (N, ...) flattened to (N, D) floats, each its own target; x_test (scored during
    training and at the end) in the test split, or an empty one."""
    x = x.flatten(1)
    t = x_test.flatten(1) if x_test is not None else x[:0]
    return Dataset("reconstruction", x, x, t, t, num_classes=0)


def train_autoencoder(model: Autoencoder, x: torch.Tensor, cfg, x_test: torch.Tensor | None = None) -> FitResult:
    """Train `model` to reconstruct x (N, D) with `fit`, corrupted as cfg.corruption says; test
    records of x_test every eval_every steps (default: each epoch) and at the end."""
    return fit(model, reconstruction_data(x, x_test), cfg, task=Reconstruct(cfg.corruption, cfg.corruption_level))


def greedy_pretrain(x: torch.Tensor, widths: list[int], activation: str, cfg, *, tied: bool = True,
                    input_activation: str = "none", log=None) -> tuple[list[nn.Linear], list[FitResult]]:
    """Bengio et al. (2007), denoising as in Vincent et al. (2008): layer k is the encoder of a
    one-hidden-layer autoencoder trained on the clean codes of layers 1..k-1 (computed once, the
    lower layers frozen), corrupted as cfg.corruption says. Returns the trained encoder Linears,
    bottom first, and each layer's result, its records named layer{k}_mse.

    x: (N, D) what the supervised net will see (here: standardised pixels, so layer 1 decodes
    linearly, input_activation="none"); higher layers reconstruct codes in the activation's range,
    so their decoders end in the same activation."""
    layers, results = [], []
    h = x.flatten(1)
    for k, width in enumerate(widths):
        out_act = input_activation if k == 0 else activation
        torch.manual_seed(cfg.seed * 1000 + k)  # each layer's init: its own reproducible draw
        ae = Autoencoder(h.shape[1], [width], activation, out_activation=out_act, tied=tied, init=cfg.init)
        res = train_autoencoder(ae, h, cfg.replace(seed=cfg.seed * 1000 + k))
        res.records = [(s, split, f"layer{k + 1}_{name}", v) for s, split, name, v in res.records]
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


def _register(name: str, help: str) -> None:
    @register_model(name, f"autoencoder: {help}; reconstructs, no class outputs (`nnstudy run autoencoder`)")
    def factory(in_shape, num_classes, cfg):
        return autoencoder_spec(cfg).build(math.prod(in_shape))


for _name, (_help, _) in AUTOENCODERS.items():
    _register(_name, _help)
