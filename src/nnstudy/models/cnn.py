"""Convolutional nets: LeNet-5, AlexNet and VGG scaled to 28-32 px inputs, and two fast nets.

Every factory takes (in_shape, num_classes, cfg) with in_shape = (C, H, W); the classes take plain
arguments. The flattened feature size is measured with one dummy forward at construction, so a net
is built for its input size (28x28x1 and 32x32x3 both work). cfg.init (default | xavier | kaiming)
re-initialises conv and linear weights as in the MLP; "default" keeps PyTorch's.

Registered names, what they read from cfg:
  lenet5          LeCun et al. 1998 as in d2l: sigmoid (tanh with --activation tanh), average pooling
  lenet5-modern   the same layers with batch norm, cfg.activation (ReLU by default), max pooling
  alexnet         Krizhevsky et al. 2012 scaled down; cfg.activation, cfg.batch_norm; dropout 0.5
                  in the classifier, or cfg.dropout when > 0
  alexnet-nodrop  alexnet without dropout (the ablation: cfg.dropout = 0 cannot mean "off" since 0 is
                  the default)
  alexnet-shallow alexnet with 3 conv layers instead of 5 (depth ablation)
  vgg11..vgg19    Simonyan & Zisserman 2014, CIFAR head (512 -> classes); batch norm from cfg.batch_norm
  vgg11-bn..      the same with batch norm always (vgg16-bn is kuangliu/pytorch-cifar's VGG16)
  convnet-small   a ~130K-parameter conv-BN-ReLU net meant for Fashion-MNIST on a CPU
  convnet-tiny    Atcold's 06-convnet CNN: 6,422 parameters, the size of mlp --width 8 --depth 2 (6,442)
  airbench        Keller Jordan's cifar10-airbench94 network (64/256/256, BN, GELU), for a GPU
"""

from __future__ import annotations

import torch
import torch.nn as nn

from nnstudy.errors import UsageError
from nnstudy.models import register_model
from nnstudy.models.mlp import make_activation
from nnstudy.models.summary import format_summary, summarize  # noqa: F401  (re-exported: summaries of any model)


class ConvNet(nn.Module):
    """features (convolutions) -> flatten -> head (classifier): the shape of every net here."""

    def __init__(self, features: nn.Sequential, head: nn.Sequential):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, x):  # (B, C, H, W) -> (B, num_classes)
        return self.head(self.features(x).flatten(1))


def feature_size(features: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Flattened output size of `features` for one (C, H, W) input (eval mode: no BN stat updates)."""
    was_training = features.training
    features.eval()
    with torch.no_grad():
        n = features(torch.zeros(1, *in_shape)).numel()
    features.train(was_training)
    return n


def conv_block(c_in: int, c_out: int, k: int, activation: str, batch_norm: bool,
               bias: bool = True) -> list[nn.Module]:
    """conv (same padding) -> [batch norm] -> activation."""
    layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)]
    return layers + ([nn.BatchNorm2d(c_out)] if batch_norm else []) + [make_activation(activation)]


def init_weights(model: nn.Module, init: str, activation: str) -> nn.Module:
    """cfg.init for conv nets: xavier (Glorot, gain 1) or kaiming (He, fan-in) on conv and linear
    weights, biases zero; "default" leaves PyTorch's initialisation."""
    if init == "default":
        return model
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if init == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                leaky = activation == "leaky_relu"
                nn.init.kaiming_normal_(m.weight, a=0.01 if leaky else 0,
                                        nonlinearity="leaky_relu" if leaky else "relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


# -- LeNet-5 ----------------------------------------------------------------------------------------
class LeNet5(ConvNet):
    """conv5x5(6) -> act -> pool2 -> conv5x5(16) -> act -> pool2 -> fc120 -> act -> fc84 -> act -> fc.

    The first conv pads so its output is 28x28, as LeCun's 32x32 input gave: pad 2 for 28 px
    (d2l's choice), 0 for 32 px, so the classifier always sees 16x5x5. 61,706 parameters on
    1x28x28 with 10 classes (LeCun's 60K, without the C3 connection table and RBF output)."""

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, activation: str = "sigmoid",
                 pool: str = "avg", batch_norm: bool = False):
        c, h, _ = in_shape
        Pool = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        bn = (lambda n: [nn.BatchNorm2d(n)]) if batch_norm else (lambda n: [])
        features = nn.Sequential(
            nn.Conv2d(c, 6, 5, padding=max(0, (32 - h) // 2)), *bn(6), make_activation(activation),
            Pool(2, 2),  # (B, 6, 14, 14)
            nn.Conv2d(6, 16, 5), *bn(16), make_activation(activation), Pool(2, 2))  # (B, 16, 5, 5)
        head = nn.Sequential(
            nn.Linear(feature_size(features, in_shape), 120), make_activation(activation),
            nn.Linear(120, 84), make_activation(activation), nn.Linear(84, num_classes))
        super().__init__(features, head)


# -- AlexNet ----------------------------------------------------------------------------------------
# (out channels, kernel, overlapping max pool after). AlexNet's 96-256-384-384-256 channels with
# 11-5-3-3-3 kernels on 224 px become 32-64-96-96-64 with 5-5-3-3-3 on 28-32 px, stride 1 (no
# 4x downsampling to undo), fc 4096 -> 256; kept: 5 convs, ReLU, dropout, pool 3 stride 2.
# Left out: local response normalisation (later work found it adds little) and the two-GPU split.
ALEXNET = {
    "alexnet": [(32, 5, True), (64, 5, True), (96, 3, False), (96, 3, False), (64, 3, True)],
    "alexnet-shallow": [(32, 5, True), (64, 5, True), (96, 3, True)],
}


class AlexNet(ConvNet):
    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, layers=ALEXNET["alexnet"],
                 activation: str = "relu", dropout: float = 0.5, batch_norm: bool = False, fc: int = 256):
        feats, c = [], in_shape[0]
        for width, k, pool in layers:
            feats += conv_block(c, width, k, activation, batch_norm)
            if pool:
                feats.append(nn.MaxPool2d(3, 2))  # overlapping: 28 -> 13 -> 6 -> 2
            c = width
        features = nn.Sequential(*feats)
        drop = (lambda: [nn.Dropout(dropout)]) if dropout > 0 else (lambda: [])
        head = nn.Sequential(
            *drop(), nn.Linear(feature_size(features, in_shape), fc), make_activation(activation),
            *drop(), nn.Linear(fc, fc), make_activation(activation), nn.Linear(fc, num_classes))
        super().__init__(features, head)


# -- VGG --------------------------------------------------------------------------------------------
# Simonyan & Zisserman's configurations A, B, D, E: conv3x3 widths, 'M' = max pool 2x2.
VGG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


class VGGNet(ConvNet):
    """VGG with the CIFAR head of kuangliu/pytorch-cifar: features -> global pool -> Linear(512, classes).

    Pools use ceil_mode, so 28 px goes 28 -> 14 -> 7 -> 4 -> 2 -> 1 (32 px: 32 -> ... -> 1, as
    floor would); the adaptive pool makes any larger input end at 1x1 too. Convs keep their bias
    even with batch norm, as torchvision and kuangliu do, so parameter counts match theirs."""

    def __init__(self, in_shape=(3, 32, 32), num_classes: int = 10, layers=VGG["vgg16"],
                 activation: str = "relu", batch_norm: bool = True):
        feats, c = [], in_shape[0]
        for v in layers:
            if v == "M":
                feats.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                feats += conv_block(c, v, 3, activation, batch_norm)
                c = v
        features = nn.Sequential(*feats, nn.AdaptiveAvgPool2d(1))  # (B, 512, 1, 1)
        super().__init__(features, nn.Sequential(nn.Linear(c, num_classes)))


# -- fast nets --------------------------------------------------------------------------------------
# (width, convs) per stage; each stage ends in a 2x2 max pool: 28 -> 14 -> 7 -> 3.
SMALL = [(32, 1), (64, 2), (128, 1)]


class ConvNetSmall(ConvNet):
    """conv-BN-act stages with max pooling, global max pool, one linear layer: about 131K
    parameters and 15M multiply-adds per 28x28 image. The first stage has one conv only: full
    resolution is where a CPU spends its time."""

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, stages=SMALL, activation: str = "relu"):
        feats, c = [], in_shape[0]
        for width, n in stages:
            for _ in range(n):
                feats += conv_block(c, width, 3, activation, batch_norm=True, bias=False)
                c = width
            feats.append(nn.MaxPool2d(2))
        features = nn.Sequential(*feats, nn.AdaptiveMaxPool2d(1))  # (B, c, 1, 1)
        super().__init__(features, nn.Sequential(nn.Linear(c, num_classes)))


# fmnist-fast's net: convnet-small with a second 128-wide conv at 7x7 (cheap there) and no global pool.
FAST = [(32, 1), (64, 2), (128, 2)]


class ConvNetFast(ConvNet):
    """conv-BN-act stages (32 | 64, 64 | 128, 128) with max pooling to 3x3, then one linear layer on
    the flattened 128x3x3 map: where a feature sits matters on 28 px clothes (a sleeve, a collar) and
    a global pool would throw it away. About 289K parameters and 22M multiply-adds per 28x28 image."""

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, stages=FAST, activation: str = "relu",
                 pool_first: bool = False):
        feats, c = [], in_shape[0]
        for width, n in stages:
            for i in range(n):
                block = conv_block(c, width, 3, activation, batch_norm=True, bias=False)
                c = width
                if i < n - 1:
                    feats += block
                elif pool_first:  # airbench's order: conv -> pool -> BN -> act (convnet-pooled, below)
                    feats += [block[0], nn.MaxPool2d(2), *block[1:]]
                else:
                    feats += [*block, nn.MaxPool2d(2)]  # 28 -> 14 -> 7 -> 3
        features = nn.Sequential(*feats)  # (B, 128, 3, 3)
        super().__init__(features, nn.Sequential(nn.Linear(feature_size(features, in_shape), num_classes)))


# convnet-fast 1.5x as wide (2.25x the multiply-adds), affordable in bf16 on AMX/AVX-512.
WIDE = [(48, 1), (96, 2), (192, 2)]
# convnet-pooled (fmnist-94's and fmnist-sprint's net): each stage's max pool moved from after its last
# block's activation to right after its conv, so batch norm and the activation run on a quarter of the
# positions there. The same parameter shapes and convolution multiply-adds; a different function (batch
# norm's statistics are taken over the pooled maxima; pooling commutes with a ReLU but not with a
# per-channel affine map whose scale can be negative). In bf16 on a CPU the convolutions are fast enough
# that batch norm, the ReLU and pooling took half of convnet-fast's step (a torch.profiler scratch run,
# 2 threads, 2026-12-06: convolutions 41%, batch norm 25%, pooling 14%, ReLU 10%): 1.26-1.28x the
# images/s (benchmarks/images.py --efficiency, fmnist-94 against fmnist-94:convnet-fast).


class TinyCNN(ConvNet):
    """Atcold's 06-convnet CNN: conv5x5(n) -> act -> max pool 2 -> conv5x5(n) -> act -> max pool 2
    -> fc 50 -> act -> fc, no padding (28 -> 24 -> 12 -> 8 -> 4 px). With n = 6 on 1x28x28 and 10
    classes it has 6,422 parameters, as many as the fully connected 784-8-8-10 net (6,442)."""

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, channels: int = 6, hidden: int = 50,
                 activation: str = "relu"):
        features = nn.Sequential(
            nn.Conv2d(in_shape[0], channels, 5), make_activation(activation), nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, 5), make_activation(activation), nn.MaxPool2d(2))  # (B, n, 4, 4)
        head = nn.Sequential(nn.Linear(feature_size(features, in_shape), hidden), make_activation(activation),
                             nn.Linear(hidden, num_classes))
        super().__init__(features, head)


class AirBench(ConvNet):
    """cifar10-airbench94's network: a 2x2 'whitening' conv (2*C*4 channels, pad 0) and GELU, then
    three groups conv3x3 -> max pool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU of widths 64/256/256,
    a global max pool and a bias-free linear layer whose logits are scaled by 1/9.

    Simplified: plain BatchNorm (airbench freezes BN weights and uses momentum 0.6). The stem is set
    from the training images' patches and frozen by `init_from_data`, which nnstudy calls on every
    model that has one once its data is loaded (experiment.train_and_evaluate)."""

    def __init__(self, in_shape=(3, 32, 32), num_classes: int = 10, widths=(64, 256, 256)):
        c = in_shape[0]
        feats = [nn.Conv2d(c, 2 * c * 4, 2, padding=0), nn.GELU()]  # 32 -> 31 px
        c = 2 * c * 4
        for w in widths:  # 31 -> 15 -> 7 -> 3
            feats += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(w), nn.GELU(),
                      nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.GELU()]
            c = w
        features = nn.Sequential(*feats, nn.AdaptiveMaxPool2d(1))
        super().__init__(features, nn.Sequential(nn.Linear(c, num_classes, bias=False)))
        self.scale = 1 / 9  # airbench's output temperature

    def forward(self, x):
        return super().forward(x) * self.scale

    def init_from_data(self, data, n: int = 5000) -> None:
        """airbench's stem: 2x2-patch whitening from (at most) n training images, frozen."""
        init_whitening(self, data.prepare(data.x_train[:n]))


@torch.no_grad()
def init_whitening(model: AirBench, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set the stem to ZCA-like whitening of 2x2 patches (airbench's init) and freeze it.

    images: (N, C, H, W) float, normalised as the model will see them; a few thousand suffice."""
    stem = model.features[0]
    C, k = images.shape[1], stem.kernel_size[0]
    cov, n = torch.zeros(C * k * k, C * k * k, dtype=torch.float64), 0
    for chunk in images.split(256):  # patches of 256 images at a time: (P, C*k*k)
        p = chunk.unfold(2, k, 1).unfold(3, k, 1).transpose(1, 3).reshape(-1, C * k * k).double().cpu()
        cov += p.T @ p
        n += len(p)
    evals, evecs = torch.linalg.eigh(cov / n)
    w = (evecs.T / (evals[:, None] + eps).sqrt()).reshape(-1, C, k, k)  # one filter per eigenvector
    stem.weight.copy_(torch.cat([w, -w]).to(stem.weight))
    stem.bias.zero_()
    stem.requires_grad_(False)


# -- registry ---------------------------------------------------------------------------------------
def lenet_activation(cfg) -> str:
    """lenet5 is the classic net: sigmoid, or tanh when asked. ReLU is the config default, so it
    cannot mean "asked": ReLU and the others belong to lenet5-modern."""
    if cfg.activation not in ("relu", "sigmoid", "tanh"):
        raise UsageError(f"lenet5 uses sigmoid (default) or tanh, not {cfg.activation!r}; "
                         "use --model lenet5-modern for other activations")
    return "tanh" if cfg.activation == "tanh" else "sigmoid"


@register_model("lenet5", "LeNet-5 as d2l teaches it: 2 conv + 3 dense, sigmoid (or --activation tanh), average "
                "pooling (not LeCun et al. 1998's scaled tanh, trainable subsampling, C3 table, RBF outputs)")
def lenet5(in_shape, num_classes, cfg):
    act = lenet_activation(cfg)
    return init_weights(LeNet5(in_shape, num_classes, act), cfg.init, act)


@register_model("lenet5-modern", "LeNet-5 layers with batch norm, max pooling, --activation (ReLU)")
def lenet5_modern(in_shape, num_classes, cfg):
    net = LeNet5(in_shape, num_classes, cfg.activation, pool="max", batch_norm=True)
    return init_weights(net, cfg.init, cfg.activation)


def alexnet_factory(layers, dropout):
    def factory(in_shape, num_classes, cfg):
        p = cfg.dropout if cfg.dropout > 0 and dropout > 0 else dropout
        net = AlexNet(in_shape, num_classes, layers, cfg.activation, p, cfg.batch_norm)
        return init_weights(net, cfg.init, cfg.activation)
    return factory


register_model("alexnet", "AlexNet scaled to 28-32 px: 5 convs, overlapping max pool, dropout 0.5 "
               "(--dropout P to change), --activation, --batch-norm")(alexnet_factory(ALEXNET["alexnet"], 0.5))
register_model("alexnet-nodrop", "alexnet without dropout (ablation)")(alexnet_factory(ALEXNET["alexnet"], 0.0))
register_model("alexnet-shallow", "alexnet with 3 conv layers instead of 5 (ablation)")(
    alexnet_factory(ALEXNET["alexnet-shallow"], 0.5))


def vgg_factory(layers, batch_norm):
    def factory(in_shape, num_classes, cfg):
        bn = cfg.batch_norm if batch_norm is None else batch_norm
        return init_weights(VGGNet(in_shape, num_classes, layers, cfg.activation, bn), cfg.init, cfg.activation)
    return factory


for _name, _layers in VGG.items():
    register_model(_name, f"{_name.upper()} with a 512 -> classes head; --batch-norm, --activation")(
        vgg_factory(_layers, None))
    register_model(f"{_name}-bn", f"{_name.upper()} with batch norm (kuangliu/pytorch-cifar's VGG)")(
        vgg_factory(_layers, True))


@register_model("convnet-small", "fast conv-BN net for Fashion-MNIST on a CPU (~131K params); --activation")
def convnet_small(in_shape, num_classes, cfg):
    return init_weights(ConvNetSmall(in_shape, num_classes, activation=cfg.activation), cfg.init, cfg.activation)


@register_model("convnet-fast", "fmnist-fast's net: convnet-small deeper at 7x7, flattened 3x3 head (~289K params)")
def convnet_fast(in_shape, num_classes, cfg):
    return init_weights(ConvNetFast(in_shape, num_classes, activation=cfg.activation), cfg.init, cfg.activation)


@register_model("convnet-pooled", "convnet-fast with each stage's max pool before its last batch norm and "
                "activation (airbench's order): ~1.3x the step rate in bf16")
def convnet_pooled(in_shape, num_classes, cfg):
    return init_weights(ConvNetFast(in_shape, num_classes, activation=cfg.activation, pool_first=True), cfg.init,
                        cfg.activation)


@register_model("convnet-wide", "convnet-fast 1.5x as wide (48 | 96, 96 | 192, 192), ~640K params")
def convnet_wide(in_shape, num_classes, cfg):
    return init_weights(ConvNetFast(in_shape, num_classes, WIDE, cfg.activation), cfg.init, cfg.activation)


@register_model("convnet-tiny", "Atcold's 06-convnet CNN (6,422 params on 28 px), as big as mlp --width 8 "
                "--depth 2; --activation")
def convnet_tiny(in_shape, num_classes, cfg):
    return init_weights(TinyCNN(in_shape, num_classes, activation=cfg.activation), cfg.init, cfg.activation)


@register_model("airbench", "cifar10-airbench94's net (64/256/256, BN, GELU) for a GPU")
def airbench(in_shape, num_classes, cfg):
    return init_weights(AirBench(in_shape, num_classes), cfg.init, "relu")
