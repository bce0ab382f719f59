"""The from-scratch NumPy code against PyTorch and against the math, on the same inputs."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nnstudy.errors import UsageError
from nnstudy.models.mlp import MLP as TorchMLP
from nnstudy.scratch import (
    MLP,
    SGD,
    Adam,
    fit_full_batch,
    gradcheck,
    make_separable,
    max_margin_separator,
    novikoff_bound,
    softmax_cross_entropy,
    solve_xor,
    train_perceptron,
    train_xor_mlp,
    xor_data,
    xor_hand_net,
)
from nnstudy.scratch.perceptron import augment

DEPTHS_ACTS = [(d, a) for d in (1, 2, 4) for a in ("sigmoid", "tanh", "relu")]


def small_problem(depth, activation, dtype=np.float64, seed=0):
    """A 3 -> 6^depth -> 4 net and 8 points with labels; inputs N(0, 1)."""
    rng = np.random.default_rng(seed)
    net = MLP([3] + [6] * depth + [4], activation, dtype=dtype, seed=seed + depth)
    return net, rng.normal(size=(8, 3)), rng.integers(0, 4, 8)


def spiral(n_per_class=20, classes=3, seed=0):
    """A small noisy 2-D spiral, (n * classes, 2) float64 and int labels."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1, n_per_class)
        t = np.linspace(c, c + 2, n_per_class) * 2 * np.pi / classes + rng.normal(0, 0.2, n_per_class)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, c))
    return np.vstack(X), np.concatenate(y)


# ---- backward ----

@pytest.mark.parametrize("depth,activation", DEPTHS_ACTS)
def test_backward_matches_autograd_and_finite_differences(depth, activation):
    net, X, y = small_problem(depth, activation)
    h = 1e-5
    # no pre-activation within 10 h of a ReLU kink, where a central difference straddles the corner
    _, cache = net._forward(X)
    assert min(np.abs(z).min() for _, z, _ in cache[:-1]) > 10 * h
    rows = gradcheck(net, X, y, h=h, tiny=1e-5)
    assert len(rows) == 2 * (depth + 1)
    for r in rows:
        assert r["max_rel_err_autograd"] <= 1e-6, r
        # FD's rounding error is ~1e-11 absolute at h = 1e-5; tiny = 1e-5 floors the denominator
        # so gradients below 1e-5 (deep sigmoid nets have some ~1e-8) are held to ~1e-10 absolute
        assert r["max_rel_err_fd"] <= 1e-5, r


def test_preactivation_grads_match_autograd():
    net, X, y = small_problem(2, "tanh")
    _, grads, dzs = net.loss_and_grads(X, y, with_preact=True)
    a, zs = torch.from_numpy(X), []
    for i, (W, b) in enumerate(net.params):
        z = a @ torch.tensor(W, requires_grad=True) + torch.from_numpy(b)  # (B, n_out)
        z.retain_grad()
        zs.append(z)
        a = torch.tanh(z) if i < len(net.params) - 1 else z
    F.cross_entropy(a, torch.from_numpy(y)).backward()
    for dz, z in zip(dzs, zs):
        np.testing.assert_allclose(dz, z.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_float32_grads_are_float32_and_close_to_float64():
    net, X, y = small_problem(2, "relu", dtype=np.float32)
    loss32, g32 = net.loss_and_grads(X, y)
    loss64, g64 = net.astype(np.float64).loss_and_grads(X, y)
    assert all(g.dtype == np.float32 for pair in g32 for g in pair)
    assert abs(loss32 - loss64) < 1e-6
    for p32, p64 in zip(g32, g64):
        for a, b in zip(p32, p64):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    loss, dlogits = softmax_cross_entropy(logits, np.array([1, 2]))
    ref = F.cross_entropy(torch.from_numpy(logits), torch.tensor([1, 2])).item()
    assert np.isfinite(loss) and abs(loss - ref) <= 1e-12 * abs(ref)
    assert np.isfinite(dlogits).all()


# ---- training against torch, from the same initialization ----

@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-3)])
@pytest.mark.parametrize("opt", ["adam", "sgd"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_numpy_training_matches_torch(dtype, tol, opt, activation):
    """150 full-batch steps, weight decay 1e-3, on a 60-point spiral: the loss curves agree
    (measured: float64 <= 1e-13, float32 <= 4e-5 absolute; float32 rounding differs per op)."""
    X, y = spiral()
    torch.manual_seed(0)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    model = TorchMLP(2, 3, width=16, depth=2, activation=activation).to(tdtype)
    net = MLP.from_torch(model, dtype=dtype)
    if opt == "adam":
        t_opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
        n_opt = Adam(net.params, lr=0.01, weight_decay=1e-3)
    else:
        t_opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=1e-3)
        n_opt = SGD(net.params, lr=0.5, momentum=0.9, weight_decay=1e-3)
    Xt, yt = torch.tensor(X, dtype=tdtype), torch.from_numpy(y)
    torch_losses = []
    for _ in range(150):
        t_opt.zero_grad()
        loss = F.cross_entropy(model(Xt), yt)
        loss.backward()
        t_opt.step()
        torch_losses.append(loss.item())
    numpy_losses = fit_full_batch(net, X, y, n_opt, 150)
    assert torch_losses[-1] < 0.5 * torch_losses[0]  # it trained: the comparison is not trivial
    np.testing.assert_allclose(numpy_losses, torch_losses, rtol=0, atol=tol)


def test_torch_round_trip():
    torch.manual_seed(1)
    model = TorchMLP(5, 3, width=7, depth=3, activation="sigmoid").double()
    net = MLP.from_torch(model)
    assert net.sizes == [5, 7, 7, 7, 3] and net.activation == "sigmoid"
    assert net.params[0][0].shape == (5, 7)  # (n_in, n_out): nn.Linear's weight transposed
    X = np.random.default_rng(0).normal(size=(4, 5))
    with torch.no_grad():
        ref = model(torch.from_numpy(X)).numpy()
        back = net.to_torch()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net.forward(X), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(back, ref, rtol=1e-12, atol=1e-14)
    seq = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    assert MLP.from_torch(seq).activation == "tanh"
    with pytest.raises(UsageError, match="batch_norm"):
        MLP.from_torch(TorchMLP(5, 3, width=7, batch_norm=True))


# ---- perceptron ----

@pytest.mark.parametrize("seed,margin", [(0, 0.1), (1, 0.02), (2, 0.3), (3, 0.05)])
def test_perceptron_converges_within_novikoff_bound(seed, margin):
    X, y = make_separable(100, margin, seed)
    for shuffle_seed in (None, seed):
        res = train_perceptron(X, y, max_epochs=1000, shuffle_seed=shuffle_seed)
        R, gamma, bound = novikoff_bound(X, y)
        assert res.converged and res.accuracy == 1.0 and res.epoch_mistakes[-1] == 0
        assert 0 < res.mistakes <= bound
        assert res.history.shape == (res.mistakes, 3)
        np.testing.assert_array_equal(res.history[-1], np.r_[res.w, res.b])
    assert R == pytest.approx(np.linalg.norm(augment(X), axis=1).max())
    assert gamma >= margin / np.sqrt(1 + 0.3**2)  # the generating line's augmented margin


def test_max_margin_is_certified_and_not_beaten():
    X, y = make_separable(60, 0.05, seed=4)
    mm = max_margin_separator(X, y)
    assert mm.gamma_upper - mm.gamma <= 1e-10 * mm.gamma  # lower and upper bound meet
    assert np.hypot(np.linalg.norm(mm.w), mm.b) == pytest.approx(1.0)
    Z = y[:, None] * augment(X)
    U = np.random.default_rng(0).normal(size=(20000, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    assert (U @ Z.T).min(axis=1).max() <= mm.gamma + 1e-12  # no random unit direction does better


def test_perceptron_never_solves_xor():
    X, y = xor_data()
    for shuffle_seed in (None, 0, 1):
        res = train_perceptron(X, y, max_epochs=200, shuffle_seed=shuffle_seed)
        assert not res.converged and res.epochs == 200
        assert res.max_accuracy <= 0.75
        scores = res.history @ augment(X).T  # (updates, 4): every weight vector it ever held
        assert ((scores * y) > 0).mean(axis=1).max() <= 0.75
    with pytest.raises(UsageError, match="not linearly separable"):
        max_margin_separator(X, y)


def test_hidden_layer_solves_xor():
    X, y = xor_data()
    np.testing.assert_array_equal(xor_hand_net(X), y)
    net, acc, losses, tries = train_xor_mlp(seed=0)
    assert acc == 1.0 and net.sizes == [2, 2, 2] and losses[-1] < 0.05
    report = solve_xor()
    assert report.perceptron_max_accuracy <= 0.75
    assert report.hand_net_accuracy == 1.0 and report.mlp_accuracy == 1.0


# ---- bad input ----

@pytest.mark.parametrize("X,y,match", [
    (np.zeros(3), None, "2-D"),
    (np.zeros((2, 3, 1)), None, "2-D"),
    (np.zeros((2, 4)), None, "4 features per row but the net takes 3"),
    (np.array([[0.0, np.nan, 1.0]]), None, "NaN"),
    (np.zeros((2, 3)), np.array([0, 4]), r"labels must be in \[0, 4\)"),
    (np.zeros((2, 3)), np.array([-1, 0]), r"labels must be in \[0, 4\)"),
    (np.zeros((2, 3)), np.array([0.5, 1.0]), "integers"),
    (np.zeros((2, 3)), np.array([0]), "shape"),
])
def test_bad_inputs_raise_usage_error(X, y, match):
    net = MLP([3, 5, 4])
    with pytest.raises(UsageError, match=match):
        net.forward(X) if y is None else net.loss_and_grads(X, y)


def test_bad_perceptron_inputs_raise_usage_error():
    X, _ = xor_data()
    with pytest.raises(UsageError, match="-1 or \\+1"):
        train_perceptron(X, np.array([0, 1, 1, 0]))
    with pytest.raises(UsageError, match="unknown activation"):
        MLP([2, 2], activation="swish")
