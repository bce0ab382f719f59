"""Autoencoders: the model (shapes, tied weights, corruption), training that lowers the
reconstruction error on real Fashion-MNIST and on toy data, and the autoencoder study's claims
at its quick profile (one seed, 1,000 training images, 100 steps)."""

import pytest
import torch

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.errors import UsageError
from nnstudy.experiment import train_and_evaluate
from nnstudy.models import build_model
from nnstudy.models.autoencoder import Autoencoder, Reconstruct, corrupt, reconstruction_error, train_autoencoder
from nnstudy.store import Store
from nnstudy.studies import run_study


def test_shapes_tied_and_untied():
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28)
    untied = Autoencoder(784, [64, 16], "sigmoid")
    tied = Autoencoder(784, [64, 16], "sigmoid", tied=True)
    for m in (untied, tied):
        out = m(x)
        assert out.shape == (5, 784) and torch.isfinite(out).all()
        assert m.encode(x).shape == (5, 16)
        assert 0 < out.min() and out.max() < 1  # sigmoid output: pixels in (0, 1)
    enc = 784 * 64 + 64 + 64 * 16 + 16
    assert sum(p.numel() for p in tied.parameters()) == enc + 64 + 784  # the decoder owns only its biases
    assert sum(p.numel() for p in untied.parameters()) == 2 * enc - 64 - 16 + 64 + 784
    # Tied: the decoder's first map is the code layer's weight transposed.
    h = torch.randn(3, 16)
    w = tied.encoder[1].linear.weight  # (16, 64)
    expect = torch.sigmoid(h @ w + tied.dec_bias[0])
    expect = torch.sigmoid(expect @ tied.encoder[0].linear.weight + tied.dec_bias[1])
    assert torch.allclose(tied.decode(h), expect, atol=1e-6)


def test_linear_code_and_output():
    m = Autoencoder(10, [2], "tanh", code_activation="none", out_activation="none")
    z = m.encode(torch.randn(100, 10))
    assert (z.abs() > 1).any()  # a linear code is not squashed into (-1, 1)


def test_corrupt_levels():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(200, 500)
    masked = corrupt(x, "mask", 0.25, g)
    assert abs((masked == 0).float().mean().item() - 0.25) < 0.01
    assert set(masked.unique().tolist()) <= {0.0, 1.0}
    noisy = corrupt(torch.zeros(200, 500), "gaussian", 0.3, g)
    assert abs(noisy.std().item() - 0.3) < 0.01 and abs(noisy.mean().item()) < 0.01
    assert corrupt(x, "none", 0.5) is x
    with pytest.raises(UsageError):
        corrupt(x, "salt", 0.1)
    with pytest.raises(UsageError):
        train_autoencoder(Autoencoder(500, [4]), x, TrainConfig(steps=1, corruption="mask", corruption_level=1.5))
    with pytest.raises(UsageError):
        Reconstruct("mask", 1.5)  # the task refuses it too, for callers that build their own


def test_reconstruction_error_falls_on_real_fashion_mnist():
    data = load_dataset(TrainConfig(dataset="fashion-mnist", train_subset=500))
    x = data.x_train.flatten(1).float() / 255  # (500, 784) pixels in [0, 1]
    x_test = data.x_test[:500].flatten(1).float() / 255
    torch.manual_seed(0)
    model = Autoencoder(784, [32], "sigmoid")
    before = reconstruction_error(model, x_test)
    res = train_autoencoder(model, x, TrainConfig(optimizer="adam", lr=1e-2, steps=150, batch_size=50,
                                                  device="cpu"), x_test=x_test)
    assert res.status == "complete" and res.steps == 150
    after = res.final["test_mse"]
    assert after == pytest.approx(reconstruction_error(model, x_test))
    # Untrained sigmoid outputs sit near 0.5 against mostly dark pixels (~0.1 squared error per pixel);
    # after 150 steps (measured ~0.045) the held-out error has at least halved.
    assert after < 0.5 * before
    val = [v for s, sp, n, v in res.records if sp == "test"]
    assert val[0] == pytest.approx(before) and val[-1] < val[0]  # recorded before the first update, and at the end


def test_trains_on_toy_data():
    data = load_dataset(TrainConfig(dataset="moons", n_per_class=200))
    torch.manual_seed(0)
    model = Autoencoder(2, [16, 1], "tanh", code_activation="none", out_activation="none")
    before = reconstruction_error(model, data.x_test)
    train_autoencoder(model, data.x_train, TrainConfig(optimizer="adam", lr=1e-2, steps=300, batch_size=64,
                                                       device="cpu"))
    assert reconstruction_error(model, data.x_test) < 0.3 * before  # a 1-D code along the moons


def test_registered_autoencoders_take_their_layout_from_typed_fields():
    m = build_model(TrainConfig(model="autoencoder", width=8, activation="sigmoid"), (1, 28, 28), 10)
    assert isinstance(m, Autoencoder) and m(torch.rand(2, 1, 28, 28)).shape == (2, 784)
    assert [layer.linear.out_features for layer in m.encoder] == [8]
    m2 = build_model(TrainConfig(model="autoencoder-2d"), (784,), 10)
    assert m2.encode(torch.rand(3, 784)).shape == (3, 2)
    tied = build_model(TrainConfig(model="autoencoder-tied", width=16, depth=2), (20,), 2)
    assert tied.tied and [layer.linear.out_features for layer in tied.encoder] == [16, 16]
    # runs stored before the typed fields kept the layout in extra: their weights still load
    old = TrainConfig(model="autoencoder", extra={"autoencoder": {"widths": [8], "activation": "sigmoid"}})
    assert build_model(old, (1, 28, 28), 10).state_dict().keys() == m.state_dict().keys()
    # classification training refuses it with one line: it gives 784 outputs, not one per class
    with pytest.raises(UsageError, match="outputs"):
        train_and_evaluate(TrainConfig(dataset="spiral", n_per_class=20, model="autoencoder", steps=1, device="cpu"))


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("autoencoder") / "runs")
    return store, run_study("autoencoder", store, "quick", None, "cpu")


def variants(row):
    return {(v["code"], v["noise"]): v for v in row["summary"]["variants"]}


def test_quick_study_records_everything(quick):
    store, row = quick
    s = row["summary"]
    assert row["status"] == "complete"
    children = store.runs(parent=row["id"])
    assert len(children) == len(s["variants"]) * len(s["seeds"]) + 1  # + the 2-D code
    assert all(c["status"] == "complete" for c in children)
    for name in ("reconstructions.png", "filters.png", "codes_2d.png", "curves.png"):
        assert (store.run_dir(row["id"]) / name).stat().st_size > 5000
    # The reconstruction error falls during training, on held-out images, for every variant.
    for v in s["variants"]:
        steps, mse = store.series(v["runs"][0], "test", "mse")
        assert steps[0] == 0 and steps[-1] == s["settings"]["steps"]
        assert mse[-1] < 0.7 * mse[0]


def test_quick_study_claims(quick):
    _, row = quick
    v, base = variants(row), row["summary"]["baselines"]
    under, over = v[(32, "none")], v[(1024, "none")]
    # More code units than pixels reconstruct better (quick: 0.026 vs 0.043 per pixel)...
    assert over["test_mse"]["mean"] < 0.8 * under["test_mse"]["mean"]
    # ...and PCA with the same 32 components, the best linear code, beats the sigmoid one (0.016 vs 0.043).
    pca = {b["k"]: b["test_mse"]["mean"] for b in base["pca"]}
    assert pca[32] < under["test_mse"]["mean"] and pca[1024] == 0.0
    assert base["mean_image"]["mean"] > under["test_mse"]["mean"]  # but every code beats no code
    # The over-complete denoising autoencoder restores masked images better than the plain one (0.026 vs 0.029).
    assert v[(1024, "mask")]["test_mse_mask"]["mean"] < 0.95 * over["test_mse_mask"]["mean"]
    for x in v.values():  # every code carries the class far above chance (10%) for a linear probe
        assert x["probe_acc"]["mean"] > 0.5
    assert 0.7 < base["pixel_probe_acc"]["mean"] < 0.9


def test_stored_autoencoder_reloads(quick):
    from nnstudy.studies.autoencoder.figures import load_autoencoder, test_images

    store, row = quick
    run = variants(row)[(32, "none")]["runs"][0]
    model, cfg = load_autoencoder(store, run)
    x, _, _ = test_images(cfg, row["summary"]["settings"]["n_test"])
    final = store.get(run)["summary"]["final"]
    assert reconstruction_error(model, x) == pytest.approx(final["test_mse"], rel=1e-5)


def test_report_section_every_number_is_evidence(quick):
    from nnstudy.report import write_report
    from test_report import check_all_numbers, parse

    store, _ = quick
    html_text = open(write_report(store)["html"]).read()
    assert check_all_numbers(store, html_text) > 40  # each number and direction word recomputed from the store
    paras = parse(html_text)[0].paras["study-autoencoder"]
    assert len(paras) >= 5
    for text in paras:
        assert not any(ch.isdigit() for ch in text), text  # every digit sits in an evidence span


def test_divergence_is_reported_not_raised():
    torch.manual_seed(0)
    x = torch.randn(64, 20) * 100
    model = Autoencoder(20, [5], "sigmoid", out_activation="none")
    res = train_autoencoder(model, x, TrainConfig(optimizer="sgd", lr=1e6, steps=50, batch_size=16, device="cpu"))
    assert res.status == "diverged" and "diverged" in res.error and res.final == {}
    assert res.steps < 50
