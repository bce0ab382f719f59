"""probes.py against statistics computed by hand (NumPy formulas) on tiny nets, and as a fit hook."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from nnstudy.config import TrainConfig
from nnstudy.data import Dataset
from nnstudy.models.cnn import LeNet5
from nnstudy.models.mlp import MLP
from nnstudy.probes import (
    LayerProbe,
    block_jacobians,
    find_layers,
    freeze_batch_norm,
    jacobian_singular_values,
    log_steps,
    measure,
    neighbour_ratios,
    saturated_fraction,
)
from nnstudy.train import fit

# A 2 -> 3 -> 2 sigmoid net with hand-set weights: unit 0 saturates on some inputs (large weights).
W1 = np.array([[4.0, -3.0], [0.5, 0.2], [-1.0, 1.0]])  # (out, in), as nn.Linear stores it
B1 = np.array([0.5, -0.1, 0.0])
W2 = np.array([[1.0, -2.0, 0.5], [-0.5, 1.5, 1.0]])
B2 = np.array([0.1, -0.2])
X = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 2.0]])  # (B, 2)
Y = np.array([0, 1, 1, 0])


def tiny_net(activation="sigmoid", dtype=torch.float64):
    net = MLP(2, 2, width=3, depth=1, activation=activation).to(dtype)
    with torch.no_grad():
        for lin, (W, b) in ((net.hidden[0].linear, (W1, B1)), (net.head, (W2, B2))):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
    return net


def by_hand():
    """Forward and backward of the tiny sigmoid net, written out in NumPy."""
    z = X @ W1.T + B1  # (B, 3)
    h = 1 / (1 + np.exp(-z))
    logits = h @ W2.T + B2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    B = len(X)
    dlogits = (p - np.eye(2)[Y]) / B  # mean cross-entropy
    dz = (dlogits @ W2) * h * (1 - h)  # (B, 3)
    jac = [np.diag(h[b] * (1 - h[b])) @ W1 for b in range(B)]  # (3, 2) each
    return {
        "act_mean": h.mean(), "act_std": h.std(ddof=1), "saturated": ((h < 0.05) | (h > 0.95)).mean(),
        "grad_z": np.linalg.norm(dz.sum(0)), "grad_z_example": np.sqrt((np.linalg.norm(B * dz, axis=1) ** 2).mean()),
        "grad_w": np.linalg.norm(dz.T @ X),
        "sv": np.array([np.linalg.svd(J, compute_uv=False) for J in jac]),
    }


def test_measure_matches_hand_computed_statistics():
    want = by_hand()
    assert 0 < want["saturated"] < 1  # the example exercises the saturation count
    row, = measure(tiny_net(), torch.from_numpy(X), torch.from_numpy(Y))
    assert row["layer"] == "h1"
    for k in ("act_mean", "act_std", "saturated", "grad_z", "grad_z_example", "grad_w"):
        assert row[k] == pytest.approx(want[k], rel=1e-6), k
    assert row["jac_mean"] == pytest.approx(want["sv"].mean(), rel=1e-5)
    assert row["jac_min"] == pytest.approx(want["sv"].min(), rel=1e-4)
    assert row["jac_max"] == pytest.approx(want["sv"].max(), rel=1e-5)


def test_measure_leaves_the_model_untouched():
    net = MLP(5, 3, width=4, depth=2, activation="tanh", batch_norm=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rows = measure(net, torch.randn(16, 5), torch.randint(0, 3, (16,)))
    assert [r["layer"] for r in rows] == ["h1", "h2"]
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # BN running stats too
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("act, h, want", [
    (nn.Sigmoid(), [0.01, 0.05, 0.5, 0.96], 0.5),
    (nn.Tanh(), [-0.99, -0.5, 0.94, 0.951], 0.5),
    (nn.ReLU(), [0.0, 0.0, 0.0, 1e-9], 0.75),
    (nn.GELU(), [0.0, 1.0], None),
])
def test_saturation_definitions(act, h, want):
    assert saturated_fraction(act, torch.tensor(h)) == want


@pytest.mark.parametrize("batch_norm, residual", [(False, False), (True, False), (False, True), (True, True)])
def test_closed_form_jacobian_matches_autograd(batch_norm, residual):
    torch.manual_seed(0)
    net = MLP(6, 2, width=6, depth=2, activation="tanh", batch_norm=batch_norm, residual=residual).double()
    x = torch.randn(20, 6, dtype=torch.float64)
    block = net.hidden[1]
    J = block_jacobians(block, x, 5)  # (5, 6, 6)
    frozen = type(block)(6, 6, "tanh", batch_norm, 0.0, residual).double()
    frozen.load_state_dict(block.state_dict())
    freeze_batch_norm(frozen, x)
    frozen.eval()
    for b in range(5):
        want = torch.autograd.functional.jacobian(lambda v: frozen(v[None])[0], x[b])
        assert torch.allclose(J[b], want, atol=1e-12)
    sv = jacobian_singular_values(block, x, 5)
    assert torch.allclose(sv.double(), torch.linalg.svdvals(J), rtol=1e-5, atol=1e-6)
    if residual:  # identity skip: singular values sit around 1
        assert 0.5 < sv.mean() < 1.5


def test_default_and_xavier_tanh_jacobians_are_glorot_bengios():
    """Glorot & Bengio: mean singular value ~0.5 with the standard U(-1/sqrt(n), 1/sqrt(n)) init,
    ~0.8 with normalized init (the quarter-circle law gives 0.49 and 0.85 at z ~ 0)."""
    torch.manual_seed(0)
    x = torch.randn(64, 256) * 0.1  # small inputs: tanh' ~ 1
    means = {}
    for init in ("default", "xavier"):
        net = MLP(256, 10, width=256, depth=2, activation="tanh", init=init)
        means[init] = jacobian_singular_values(net.hidden[1], net.hidden[0](x), 8).mean().item()
    assert 0.44 < means["default"] < 0.52
    assert 0.78 < means["xavier"] < 0.86


def toy_data(n=64, d=4, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)
    return Dataset("toy", x, y, x[:8], y[:8], num_classes=classes)


def test_probe_as_fit_hook_records_only_chosen_steps():
    data = toy_data()
    torch.manual_seed(0)
    net = MLP(4, 3, width=5, depth=3, activation="sigmoid")
    at_init = measure(net, data.x_train, data.y_train)
    probe = LayerProbe(net, steps=[0, 3, 7])
    cfg = TrainConfig(dataset="toy", optimizer="sgd", lr=0.5, steps=10, eval_every=2, device="cpu")
    fit(net, data, cfg, hook=probe)
    probe.close()
    assert sorted(probe.rows) == [0, 3, 7]
    assert {r[0] for r in probe.records} == {0, 3, 7}
    assert {r[1] for r in probe.records} == {"probe:h1", "probe:h2", "probe:h3"}
    for got, want in zip(probe.rows[0], at_init):  # step 0 is the untrained net on the full batch
        for k in ("act_mean", "grad_z", "grad_z_example", "grad_w", "jac_mean"):
            assert got[k] == pytest.approx(want[k], rel=1e-5), k
    assert probe.rows[7][0]["grad_w"] != pytest.approx(at_init[0]["grad_w"], rel=1e-3)  # it trained


def test_probe_on_a_conv_net():
    torch.manual_seed(0)
    net = LeNet5((1, 28, 28), 10, activation="sigmoid")
    layers = find_layers(net)
    assert [type(layer.linear).__name__ for layer in layers] == ["Conv2d", "Conv2d", "Linear", "Linear"]
    rows = measure(net, torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)))
    assert len(rows) == 4
    for r in rows:
        assert r["grad_w"] > 0 and r["grad_z"] > 0 and 0 <= r["saturated"] <= 1
        assert "jac_mean" not in r  # conv Jacobians are (C*H*W)^2 per example: not taken


def test_log_steps_and_ratios():
    assert log_steps(100, 2) == [0, 1, 3, 10, 32, 99]
    assert log_steps(1) == [0]
    assert neighbour_ratios([1.0, 4.0, 8.0]) == [0.25, 0.5]
    assert neighbour_ratios([1.0, 0.0]) == [None]
