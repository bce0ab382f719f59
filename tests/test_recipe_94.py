"""Issue 21's recipes on real Fashion-MNIST: fmnist-94 (94% in five minutes on 2 CPU cores) and
fmnist-sprint (91% as fast as possible) resolve to what they promise and learn on a small subset,
and cutout, the augmentation fmnist-94 adds, does what it says. No timing here: the benchmarks
(images.py --accuracy, peer_fmnist.py) time the recipes."""

from __future__ import annotations

import pytest
import torch

from nnstudy.data.vision import augment_batch, cut_out
from nnstudy.experiment import train_and_evaluate
from nnstudy.recipes import RECIPES, resolve


def test_the_recipes_train_in_native_bf16_on_the_cpus_left_free():
    for name in ("fmnist-94", "fmnist-sprint"):
        cfg = resolve(name)
        assert cfg.dataset == "fashion-mnist" and cfg.val_frac == pytest.approx(0.1)
        assert cfg.amp == "native" and cfg.auto_threads and cfg.threads == 0 and cfg.channels_last
    assert resolve("fmnist-94").tta and resolve("fmnist-94").augment  # flips in training: flip-averaged test
    assert not resolve("fmnist-sprint").tta and not resolve("fmnist-sprint").augment  # neither
    assert resolve("fmnist-94", flags={"threads": 2}).threads == 2  # a flag still wins


@pytest.mark.parametrize("name, floor", [("fmnist-94", 0.75), ("fmnist-sprint", 0.78)])
def test_recipe_learns_on_a_small_real_subset(name, floor):
    """Three epochs on 2,700 training images (3,000 less validation), scored on 1,000 fixed test images,
    the recipe otherwise as written (bf16 where the CPU has it, its net, schedule and augmentation)
    but at the quick profile's batch of 32 and lr scaled with it: at the recipe's batch of 256 these
    are 33 steps, too few for a one-cycle peaking at lr 0.2 (test accuracy 0.22). Measured while
    writing this (2-core Xeon with AMX, convnet-pooled): fmnist-94 0.834 (validation 0.837),
    fmnist-sprint 0.866 (0.843); chance is 0.10. The floor leaves room for another CPU's kernels (or
    float32 where it has no bf16)."""
    torch.manual_seed(0)
    cfg = resolve(name, "quick", {"train_subset": 3000, "epochs": 3, "test_subset": 1000, "device": "cpu",
                                  "checkpoint": False})
    res = train_and_evaluate(cfg)
    assert res.status == "complete", res
    assert res.final["test_acc"] >= floor, res.final
    assert res.final["val_acc"] >= floor, res.final


def test_cutout_zeroes_one_square_per_image_inside_the_frame():
    x = torch.full((64, 1, 28, 28), 255, dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    out = cut_out(x.clone(), 8, g)
    zeros = (out == 0).flatten(1).sum(1)  # (64,) pixels lost per image
    assert zeros.max() == 64 and zeros.min() >= 16  # a whole 8x8 square, or one cut by the border
    assert (zeros < 64).any()  # centres near the border happen
    rows = (out[:, 0] == 0).any(2)  # (64, 28): rows touched; they are consecutive
    for r in rows:
        idx = r.nonzero().flatten()
        assert len(idx) <= 8 and (idx.diff() == 1).all()
    again = cut_out(x.clone(), 8, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # deterministic given the generator


def test_augmentation_without_cutout_draws_as_before():
    x = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    a = augment_batch(x, True, torch.Generator().manual_seed(3))
    b = augment_batch(x, True, torch.Generator().manual_seed(3), cutout=0)
    c = augment_batch(x, True, torch.Generator().manual_seed(3), cutout=6)
    assert torch.equal(a, b)
    assert torch.equal(c[c != 0], a[c != 0]) and (c == 0).sum() > (a == 0).sum()  # the same crop, then a hole


def test_recipes_name_their_measured_targets():
    assert "94" in RECIPES["fmnist-94"].target and "91" in RECIPES["fmnist-sprint"].target
