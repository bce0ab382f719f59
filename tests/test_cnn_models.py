"""Conv nets: every registered one runs on 28x28x1 and 32x32x3; known parameter counts; the
ablation switches do what their names say; layer summaries counted by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from nnstudy.config import TrainConfig
from nnstudy.errors import UsageError
from nnstudy.models import MODELS, build_model, count_params, load_all
from nnstudy.models.cnn import AirBench, feature_size, init_whitening
from nnstudy.models.summary import format_summary, summarize

load_all()
CNNS = [n for n in MODELS.names() if MODELS.get(n).__module__ == "nnstudy.models.cnn"]


def make(name: str, in_shape=(1, 28, 28), **cfg) -> nn.Module:
    torch.manual_seed(0)
    return build_model(TrainConfig(model=name, **cfg), in_shape, 10)


def kinds(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def test_the_family_is_registered():
    assert {"lenet5", "lenet5-modern", "alexnet", "alexnet-nodrop", "alexnet-shallow", "vgg11", "vgg16",
            "vgg19-bn", "convnet-small", "airbench"} <= set(CNNS)



@pytest.mark.parametrize("in_shape", [(1, 28, 28), (3, 32, 32)], ids=["28x28x1", "32x32x3"])
@pytest.mark.parametrize("name", CNNS)
def test_forward_shape_and_finite(name, in_shape):
    with torch.no_grad():
        out = make(name, in_shape)(torch.randn(2, *in_shape))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", CNNS)
def test_backward_reaches_every_weight(name):
    model = make(name, (1, 28, 28))
    model(torch.randn(2, 1, 28, 28)).square().mean().backward()
    for pname, p in model.named_parameters():  # every trainable weight is connected to the output
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_known_parameter_counts():
    # d2l's LeNet (conv pad 2 on 28x28, 10 classes): 156 + 2,416 + 48,120 + 10,164 + 850.
    assert count_params(make("lenet5")) == 61_706
    # On 32x32 the first conv has no padding, so the head still sees 16x5x5; 2 more input channels
    # add 2 x 6 x 5 x 5 weights.
    assert count_params(make("lenet5", (3, 32, 32))) == 61_706 + 300
    # kuangliu/pytorch-cifar VGG('VGG16') (batch norm, 512 -> 10 head), the count its users quote.
    assert count_params(make("vgg16-bn", (3, 32, 32))) == 14_728_266
    # Without batch norm: VGG16's 14,714,688 conv parameters (torchvision's vgg16().features)
    # plus the 5,130 of Linear(512, 10).
    assert count_params(make("vgg16", (3, 32, 32))) == 14_714_688 + 5_130
    # Parameters do not depend on the input size for VGG (global pool before the head).
    assert count_params(make("vgg16-bn", (3, 28, 28))) == 14_728_266


def test_lenet5_activation_choices():
    assert kinds(make("lenet5"), nn.Sigmoid) and kinds(make("lenet5"), nn.AvgPool2d)
    assert len(kinds(make("lenet5", activation="tanh"), nn.Tanh)) == 4
    with pytest.raises(UsageError, match="lenet5-modern"):
        make("lenet5", activation="gelu")
    modern = make("lenet5-modern")
    assert kinds(modern, nn.ReLU) and kinds(modern, nn.MaxPool2d) and len(kinds(modern, nn.BatchNorm2d)) == 2


def test_alexnet_switches():
    a = make("alexnet")
    assert len(kinds(a, nn.Conv2d)) == 5 and all(m.p == 0.5 for m in kinds(a, nn.Dropout))
    assert all(m.kernel_size == 3 and m.stride == 2 for m in kinds(a, nn.MaxPool2d))  # overlapping
    assert [m.p for m in kinds(make("alexnet", dropout=0.3), nn.Dropout)] == [0.3, 0.3]
    assert not kinds(make("alexnet-nodrop"), nn.Dropout)
    assert len(kinds(make("alexnet-shallow"), nn.Conv2d)) == 3
    assert len(kinds(make("alexnet", activation="sigmoid"), nn.Sigmoid)) == 7  # 5 convs + 2 fc
    assert len(kinds(make("alexnet", batch_norm=True), nn.BatchNorm2d)) == 5


def test_vgg_batch_norm_and_depths():
    assert not kinds(make("vgg11"), nn.BatchNorm2d)
    assert len(kinds(make("vgg11", batch_norm=True), nn.BatchNorm2d)) == 8
    assert len(kinds(make("vgg11-bn"), nn.BatchNorm2d)) == 8
    assert [len(kinds(make(n), nn.Conv2d)) for n in ("vgg11", "vgg13", "vgg16", "vgg19")] == [8, 10, 13, 16]


def test_convnet_pooled_is_convnet_fast_with_pooling_before_the_stage_ends():
    """The same weights in the same order, each stage's last conv followed by its pool, then batch
    norm and ReLU on the pooled map; convnet-fast's own layer order (its checkpoints) unchanged."""
    fast, pooled = make("convnet-fast"), make("convnet-pooled")
    assert [p.shape for p in fast.parameters()] == [p.shape for p in pooled.parameters()]
    order = [type(m).__name__ for m in fast.features]
    assert order == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] + ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + \
        ["MaxPool2d"] + ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["MaxPool2d"]
    order = [type(m).__name__ for m in pooled.features]
    assert order == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"] + \
        (["Conv2d", "BatchNorm2d", "ReLU"] + ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]) * 2
    pooled.eval()  # with batch norm at its initial identity, pooling first changes nothing: max commutes with ReLU
    with torch.no_grad():  # the same tensors in the same order (the keys' indices differ by the moved pool)
        for a, b in zip(fast.state_dict().values(), pooled.state_dict().values(), strict=True):
            a.copy_(b)
    fast.eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(pooled(x), fast(x))


def test_convnet_small_is_small():
    assert 100_000 <= count_params(make("convnet-small")) <= 300_000


def test_cfg_init_reinitialises_weights():
    default, xavier = make("lenet5"), make("lenet5", init="xavier")
    w0, w1 = default.features[0].weight, xavier.features[0].weight
    assert not torch.equal(w0, w1) and torch.count_nonzero(xavier.features[0].bias) == 0
    bound = (6 / (1 * 25 + 6 * 25)) ** 0.5  # Glorot uniform: sqrt(6 / (fan_in + fan_out))
    assert w1.abs().max() <= bound


def test_feature_size_leaves_batch_norm_statistics_alone():
    f = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    assert feature_size(f, (1, 8, 8)) == 4 * 6 * 6
    assert f.training and torch.equal(f[1].running_mean, torch.zeros(4))


def test_summary_counts_by_hand():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, groups=2),
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 3))
    model.train()
    s = summarize(model, (2, 5, 5))
    rows = {r.name: r for r in s.rows}
    assert rows["0"].out_shape == (4, 5, 5) and rows["0"].params == 4 * 2 * 9 + 4
    assert rows["0"].macs == 4 * 5 * 5 * 2 * 9  # out elements x in_ch x kh x kw = 1,800
    assert rows["2"].out_shape == (4, 3, 3) and rows["2"].macs == 4 * 3 * 3 * 2 * 9  # in_ch/groups = 2
    assert rows["1"].macs == 0 and rows["4"].macs == 36 * 3 and rows["4"].params == 36 * 3 + 3
    assert s.macs == 1800 + 648 + 108 and s.params == count_params(model) == s.trainable
    assert model.training and not model[0]._forward_hooks  # mode restored, hooks removed
    text = format_summary(s)
    assert "Conv2d" in text and "total" in text and "2,556" in text and "4x5x5" in text


def test_summary_of_lenet5_matches_its_parameter_count():
    s = summarize(make("lenet5"), (1, 28, 28))
    assert s.params == 61_706 and sum(r.params for r in s.rows) == 61_706
    # conv1: 6x28x28 outputs x 25 taps; conv2: 16x10x10 x 6 x 25; fc: 400x120 + 120x84 + 84x10
    assert s.macs == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 48_000 + 10_080 + 840


def test_airbench_whitening_decorrelates_patches():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 8, 8)
    x[:, 1] = 0.9 * x[:, 0] + 0.1 * x[:, 1]  # strongly correlated channels
    net = AirBench((3, 8, 8))
    init_whitening(net, x, eps=1e-6)
    out = net.features[0](x)[:, :12]  # (B, 12, 7, 7): the positive half of the stem
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
    cov = flat.T @ flat / len(flat)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=0.05)  # bias is zero: no centring
    assert not net.features[0].weight.requires_grad
