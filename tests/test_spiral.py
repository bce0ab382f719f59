"""The week's spiral: the data recipe bit-for-bit, the printed numbers, the study's claims."""

import math

import pytest
import torch

from nnstudy.data.toy import make_spiral
from nnstudy.store import Store
from nnstudy.studies import run_study
from nnstudy.studies.spiral import reproduce_week


def week_loop_spiral(N=1000, C=3, D=2):
    """The week's code, literally (per-point Python loop)."""
    X = torch.zeros(N * C, D)
    Y = torch.zeros(N * C, dtype=torch.long)
    for c in range(C):
        index = 0
        t = torch.linspace(0, 1, N)
        inner_var = torch.linspace((2 * math.pi / C) * c, (2 * math.pi / C) * (2 + c), N) + torch.randn(N) * 0.2
        for ix in range(N * c, N * (c + 1)):
            X[ix] = t[index] * torch.FloatTensor((math.sin(inner_var[index]), math.cos(inner_var[index])))
            Y[ix] = c
            index += 1
    return X, Y


def test_spiral_is_the_weeks_recipe_bit_for_bit():
    torch.manual_seed(12345)
    X_week, y_week = week_loop_spiral()
    after_week = torch.randn(3)  # the stream must be left where the week's code left it
    torch.manual_seed(12345)
    X, y = make_spiral(1000, 3, 0.2)
    assert torch.equal(X, X_week) and torch.equal(y, y_week)
    assert torch.equal(torch.randn(3), after_week)
    assert X.shape == (3000, 2) and X.dtype == torch.float32 and y.dtype == torch.int64


def test_week_reproduced_to_printed_digits():
    week = reproduce_week(store=None)
    lin, relu = week["linear_sgd"], week["relu_adam"]
    # The notebook printed [LOSS]: 0.861541, [ACCURACY]: 0.504 and [LOSS]: 0.178407, [ACCURACY]: 0.949.
    assert f"{lin['last_step_train_acc']:.3f}" == "0.504"
    assert f"{relu['last_step_train_acc']:.3f}" == "0.949"
    assert abs(lin["last_step_train_loss"] - 0.861541) < 2e-6
    assert abs(relu["last_step_train_loss"] - 0.178407) < 2e-6
    # Held out (a fresh draw of the same spiral): the linear net stays near chance, ReLU does not.
    assert lin["test_acc"] < 0.56
    assert relu["test_acc"] > 0.9


@pytest.fixture(scope="module")
def quick_spiral(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("spiral") / "runs")
    return store, run_study("spiral", store, "quick", None, "cpu")


def test_spiral_study_quick_records_everything(quick_spiral):
    store, row = quick_spiral
    s = row["summary"]
    assert row["status"] == "complete"
    children = store.runs(parent=row["id"])
    n_seeds = len(s["seeds"])
    assert len(children) == 2 + 4 * n_seeds + (2 * len(s["sgd_lr"]) + len(s["adam_steps"])) * n_seeds
    assert all(c["status"] == "complete" for c in children)
    for name in ("week_boundaries.png", "factorial_boundaries.png", "factorial_curves.png", "budget.png"):
        assert (store.run_dir(row["id"]) / name).stat().st_size > 5000
    # Held-out curves are in the store for every factorial run.
    steps, acc = store.series(s["factorial"][0]["runs"][0], "test", "acc")
    assert len(steps) > 10 and all(0 <= a <= 1 for a in acc)


def test_factorial_relu_adam_far_above_both_linear_runs(quick_spiral):
    _, row = quick_spiral
    f = {r["name"]: r["test_acc"]["mean"] for r in row["summary"]["factorial"]}
    assert f["ReLU+Adam"] > f["linear+SGD"] + 0.1
    assert f["ReLU+Adam"] > f["linear+Adam"] + 0.1
    # A linear net cannot beat ~chance by much on three interleaved arms, whatever the optimizer.
    assert f["linear+SGD"] < 0.6 and f["linear+Adam"] < 0.6
