"""The perceptron and backprop studies' claims at their quick profiles (each runs once per module)."""

import json

import pytest

from nnstudy.store import Store
from nnstudy.studies import run_study
from test_vanishing import check_section


@pytest.fixture(scope="module")
def perceptron(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("perceptron") / "runs")
    return store, run_study("perceptron", store, "quick", None, "cpu")


@pytest.fixture(scope="module")
def backprop(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("backprop") / "runs")
    return store, run_study("backprop", store, "quick", None, "cpu")


def test_perceptron_converges_within_novikoffs_bound(perceptron):
    _, run = perceptron
    s = run["summary"]
    assert s["all_within_bound"]
    assert len(s["trials"]) == len(s["settings"]["margins"]) * len(s["seeds"])
    for t in s["trials"]:
        assert t["converged"] and t["train_acc"] == 1.0
        assert 1 <= t["mistakes"] <= t["bound"]
        # make_separable keeps points `margin` from a line with ||w|| = 1, |b| <= 0.3: the best
        # augmented margin is at least margin / sqrt(1 + 0.3^2)
        assert t["R"] >= 1 and t["gamma"] >= t["margin"] / 1.09 ** 0.5 - 1e-9
    rows = s["separable"]
    for r in rows:
        assert r["test_acc"]["mean"] > 0.95 and r["within_bound"] == r["sets"]
    # a smaller margin, a larger bound (on these sets, by several times)
    assert rows[0]["margin"] < rows[-1]["margin"] and rows[0]["bound"]["mean"] > 3 * rows[-1]["bound"]["mean"]


def test_perceptron_fails_on_xor_and_a_hidden_layer_solves_it(perceptron):
    _, run = perceptron
    x = run["summary"]["xor"]
    p = x["perceptron"]
    assert not p["converged"] and p["epoch_mistakes_last"] > 0 and p["max_acc"] <= 0.75
    assert p["shuffled_converged"] == 0 and p["shuffled_max_acc"] <= 0.75
    assert x["hand_net_acc"] == 1.0
    assert x["mlp_solved"] == x["mlp_seeds"] and x["mlp_acc"]["mean"] == 1.0
    noisy = run["summary"]["noisy_xor"]
    assert noisy["perceptron"]["test_acc"]["mean"] < 0.65  # a line on XOR: about chance
    assert noisy["mlp"]["test_acc"]["mean"] > noisy["perceptron"]["test_acc"]["mean"] + 0.25


def test_perceptron_figures_and_history(perceptron):
    store, run = perceptron
    folder = store.run_dir(run["id"])
    hist = json.loads((folder / "perceptron.json").read_text())
    assert len(hist["separable"]["history"]) == next(
        t["mistakes"] for t in run["summary"]["trials"] if t["margin"] == hist["figure_margin"] and t["seed"] == 0)
    for name in ("perceptron_updates.png", "mistakes_vs_bound.png", "xor.png"):
        assert (folder / name).stat().st_size > 5000, name


def test_backprop_gradients_match_autograd_and_finite_differences(backprop):
    _, run = backprop
    s = run["summary"]
    depths = s["settings"]["depths"]
    assert len(s["gradcheck"]) == sum(2 * (d + 1) for d in depths) * 3  # W and b per layer, 3 activations
    assert s["max_rel_err_autograd"] <= 1e-9  # the target is 1e-6; float64 gives ~1e-13
    for r in s["gradcheck"]:
        if r["activation"] == "relu" and r["min_abs_preact"] < 10 * s["fd_step"]:
            continue  # a kink within the finite-difference step: the quotient straddles it
        assert r["rel_err_fd"] <= 1e-5, r


def test_backprop_numpy_trains_like_torch_from_the_same_weights(backprop):
    store, run = backprop
    s = run["summary"]
    for c in s["curves"]:
        assert c["max_gap_f32"]["mean"] < 1e-4  # float32 rounding, measured ~2e-7
        assert c["max_gap_f64"]["mean"] < 1e-4
        assert c["torch_ms"]["mean"] > 0 and c["numpy_f32_ms"]["mean"] > 0
        steps, torch_loss = store.series(c["runs"][0], "train", "loss")
        n_steps, numpy_loss = store.series(c["runs"][0], "numpy_f32", "loss")
        assert n_steps == list(range(c["steps"])) and numpy_loss[-1] < 0.9 * numpy_loss[0]  # it trained
        assert steps[:c["steps"]] == n_steps
    folder = store.run_dir(run["id"])
    for name in ("gradcheck.png", "curves.png", "timing.png"):
        assert (folder / name).stat().st_size > 5000, name


def test_perceptron_section_numbers_come_from_the_store(perceptron):
    store, run = perceptron
    _, text, n = check_section(store, run)
    assert n > 30 and "n/a" not in text
    assert "the hidden layer is better" in text


def test_backprop_section_numbers_come_from_the_store(backprop):
    store, run = backprop
    _, text, n = check_section(store, run)
    assert n > 30 and "n/a" not in text
    assert "far below the target" in text
