"""Bad input reaches the user as one clear line: wrong shapes, labels outside the classes, NaN.

In the library (`fit` validates its `Dataset` and model before any step) and on the command line
(`nnstudy train --dataset npz:PATH`: exit status 2, one line, no traceback).
"""

import numpy as np
import pytest
import torch

from conftest import run_cli
from nnstudy.config import TrainConfig
from nnstudy.data import Dataset, validate_tensors
from nnstudy.errors import DataError, UsageError
from nnstudy.models.mlp import MLP
from nnstudy.train import fit

CFG = TrainConfig(dataset="toy", optimizer="sgd", lr=0.1, steps=3, device="cpu")


def toy(**changes):
    g = torch.Generator().manual_seed(0)
    parts = dict(name="toy", x_train=torch.randn(20, 4, generator=g), y_train=torch.randint(0, 3, (20,), generator=g),
                 x_test=torch.randn(6, 4, generator=g), y_test=torch.randint(0, 3, (6,), generator=g), num_classes=3)
    return Dataset(**{**parts, **changes})


def test_clean_data_trains():
    assert fit(MLP(4, 3, width=5), toy(), CFG).status == "complete"


@pytest.mark.parametrize("changes, match", [
    (dict(x_test=torch.randn(6, 5)), r"test split: inputs have shape \(6, 5\).*training split's are \(4,\)"),
    (dict(y_train=torch.tensor([0, 1] * 10 + [3])), r"train split: 20 inputs but labels of shape \(21,\)"),
    (dict(y_test=torch.tensor([0, 1, 2, 3, 0, 1])), r"test split: labels range over \[0, 3\], outside the 3 classes"),
    (dict(y_train=-torch.ones(20, dtype=torch.long)), r"labels range over \[-1, -1\]"),
    (dict(y_train=torch.zeros(20)), r"labels have dtype torch.float32; expected integer class indices"),
    (dict(x_train=torch.randn(20, 4).index_put_((torch.tensor([7]), torch.tensor([2])), torch.tensor(float("nan")))),
     r"train split: 1 of 20 inputs hold NaN or inf \(first: example 7\)"),
    (dict(x_test=torch.full((6, 4), float("inf"))), r"test split: 6 of 6 inputs hold NaN or inf"),
])
def test_bad_data_is_one_data_error_before_any_step(changes, match):
    model = MLP(4, 3, width=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError, match=match) as e:
        fit(model, toy(**changes), CFG)
    assert "\n" not in str(e.value)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing trained


@pytest.mark.parametrize("model, match", [
    (MLP(7, 3, width=5), r"model MLP cannot take dataset 'toy''s inputs of shape \(4,\) per example \(.*\)"),
    (MLP(4, 5, width=5), r"gives outputs of shape \(5,\) per example but dataset 'toy' has 3 classes"),
])
def test_model_that_does_not_fit_the_data_is_a_usage_error(model, match):
    with pytest.raises(UsageError, match=match) as e:
        fit(model, toy(), CFG)
    assert "\n" not in str(e.value)
    assert model.training  # the trial forward pass restored the mode


def test_validate_tensors_leaves_valid_data_and_model_alone():
    model = MLP(4, 3, width=5, batch_norm=True).train()
    stats = model.hidden[0].norm.running_mean.clone()
    validate_tensors(toy(), model)
    assert model.training and torch.equal(model.hidden[0].norm.running_mean, stats)  # eval, no_grad


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudy: error: "), err
    assert "Traceback" not in err
    return lines[0]


def nan_pixel(x, y):
    xf = x / 255.0  # float images
    xf[2, 1, 3] = np.nan
    return dict(x=xf, y=y)


def label_outside_classes(x, y):
    y = y.copy()
    y[5] = 7
    return dict(x=x, y=y, classes=np.array(["a", "b", "c"]))


def other_size_test_images(x, y):
    return dict(x=x, y=y, x_test=np.zeros((4, 6, 6), np.uint8), y_test=np.zeros(4, int))


@pytest.mark.parametrize("arrays, match", [
    (nan_pixel, "1 of 12 images hold NaN or inf pixel values (first: image 2)"),
    (label_outside_classes, "labels range over [0, 7], outside the 3 classes [0, 2]"),
    (other_size_test_images, "test split: inputs have shape (4, 1, 6, 6)"),
])
def test_cli_npz_with_bad_data_exits_2_with_one_line(tmp_path, arrays, match):
    x = np.random.default_rng(0).integers(0, 256, (12, 4, 4)).astype(np.uint8)  # (N, H, W) pixels
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays(x, np.arange(12) % 3))
    code, out, err = run_cli("train", "--dataset", f"npz:{path}", "--model", "mlp", "--width", "4",
                             "--steps", "2", "--device", "cpu", "--out", tmp_path / "runs", "--json")
    assert code == 2 and out == ""
    assert match in one_error_line(err)
