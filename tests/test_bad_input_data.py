"""Data that would train to a misleading "complete" run is refused before the run exists (issue 16):
one class, label ids instead of class indices, images whose pixels are all equal, a --data-dir that
does not hold the set, batch norm fed one example. 16-bit images are read at their depth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnstudy.cli import main
from nnstudy.config import TrainConfig
from nnstudy.data import cache, load_dataset, load_source
from nnstudy.errors import DataError, UsageError
from nnstudy.experiment import train_and_evaluate
from nnstudy.store import Store
from test_vision_data import fake_mnist

pytestmark = pytest.mark.filterwarnings("ignore::nnstudy.data.vision.DataWarning")  # fake sets warn
TINY = ["--model", "mlp", "--width", "4", "--steps", "2", "--device", "cpu"]


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NNSTUDY_DATA", raising=False)
    cache.clear_memory_cache()
    yield
    cache.clear_memory_cache()


def train_cli(tmp_path, capsys, *args) -> tuple[int, str]:
    """`nnstudy train ARGS` in this process: (exit status, stderr); stdout must stay empty on error."""
    rc = main(["train", *map(str, args), "--out", str(tmp_path / "runs"), "--json"])
    out, err = capsys.readouterr()
    if rc == 2:
        assert out == "" and "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nnstudy: error: "), err
    return rc, err


def stored_runs(tmp_path) -> list:
    return Store(tmp_path / "runs").runs() if (tmp_path / "runs").exists() else []


def write_png(path, a: np.ndarray, mode: str | None = None) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(a, mode) if mode else Image.fromarray(a)).save(path)


# -- 4: fewer than two classes --------------------------------------------------------------------------
def test_folder_with_one_class_is_exit_2_and_stores_nothing(tmp_path, capsys):
    for i in range(6):
        write_png(tmp_path / "imgs" / "cat" / f"{i}.png", np.full((4, 4), 40 * i, np.uint8))
    rc, err = train_cli(tmp_path, capsys, "--dataset", f"folder:{tmp_path / 'imgs'}", *TINY)
    assert rc == 2 and "only class 'cat'" in err and "2 classes or more" in err
    assert stored_runs(tmp_path) == []


def test_npz_whose_labels_use_one_of_its_named_classes_is_exit_2(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 256, (10, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "one.npz", x=x, y=np.full(10, 2), classes=np.array(["a", "b", "c"]))
    rc, err = train_cli(tmp_path, capsys, "--dataset", f"npz:{tmp_path / 'one.npz'}", *TINY)
    assert rc == 2 and "only class 'c'" in err
    assert stored_runs(tmp_path) == []


def test_toy_set_with_one_class_is_refused():
    with pytest.raises(UsageError, match=r"classes=1 is out of range; valid: an integer >= 2"):
        TrainConfig(dataset="spiral", classes=1)


# -- 5: label ids instead of class indices ------------------------------------------------------------
def ids_npz(tmp_path, ids=(0, 1_000_000)):
    x = np.random.default_rng(0).integers(0, 256, (40, 4, 4), dtype=np.uint8)
    y = np.array(ids)[np.arange(40) % len(ids)]
    np.savez(tmp_path / "ids.npz", x=x, y=y)
    return tmp_path / "ids.npz"


def test_sparse_label_ids_are_one_line_naming_the_fix(tmp_path, capsys):
    rc, err = train_cli(tmp_path, capsys, "--dataset", f"npz:{ids_npz(tmp_path)}", *TINY)
    assert rc == 2 and "2 distinct values in [0, 1000000]" in err and "999,999 of the 1,000,001" in err
    assert "remap_labels=true" in err and stored_runs(tmp_path) == []


def test_one_based_labels_are_refused_too(tmp_path):
    with pytest.raises(DataError, match=r"3 distinct values in \[0, 3\], so 1 of the 4 class indices"):
        load_source(TrainConfig(dataset=f"npz:{ids_npz(tmp_path, (1, 2, 3))}"))


def test_remap_labels_maps_ids_to_indices_in_sorted_order(tmp_path, capsys):
    path = ids_npz(tmp_path, (1_000_000, 7, 42))
    d = load_dataset(TrainConfig(dataset=f"npz:{path}", remap_labels=True))
    assert d.num_classes == 3 and d.classes == ["7", "42", "1000000"]
    raw = np.load(path)["y"]
    kept = torch.cat([d.y_train, d.y_test])
    assert sorted(torch.bincount(kept).tolist()) == sorted(np.unique(raw, return_counts=True)[1].tolist())
    assert "remapped_labels" in d.meta
    rc, _ = train_cli(tmp_path, capsys, "--dataset", f"npz:{path}", "--remap-labels", *TINY)
    assert rc == 0


def test_remap_and_plain_loads_of_one_file_do_not_share_a_cache_entry(tmp_path):
    path = ids_npz(tmp_path, (0, 1, 5))
    assert load_dataset(TrainConfig(dataset=f"npz:{path}", remap_labels=True)).num_classes == 3
    with pytest.raises(DataError, match="never used"):
        load_dataset(TrainConfig(dataset=f"npz:{path}"))


# -- 6: 16-bit images, constant images ----------------------------------------------------------------
def test_16_bit_pngs_are_read_at_their_depth(tmp_path):
    rng = np.random.default_rng(0)
    deep = {c: [rng.integers(0, 65536, (5, 5)).astype(np.uint16) for _ in range(4)] for c in ("a", "b")}
    for c, arrays in deep.items():
        for i, a in enumerate(arrays):
            write_png(tmp_path / "deep" / "train" / c / f"{i}.png", a)  # PIL writes mode I;16
            write_png(tmp_path / "deep" / "test" / c / f"{i}.png", a)
    d = load_source(TrainConfig(dataset=f"folder:{tmp_path / 'deep'}"))
    assert d.x_train.dtype == torch.uint16
    want = np.stack([deep[c][i] for c in ("a", "b") for i in range(4)])[:, None]  # class order, file order
    assert np.array_equal(d.x_train.numpy(), want)  # not clipped at 255
    x = d.prepare(d.x_train)
    assert torch.isfinite(x).all() and abs(x.mean().item()) < 1e-5  # normalised at full 16-bit scale


def test_8_bit_images_beside_16_bit_ones_share_the_16_bit_scale(tmp_path):
    write_png(tmp_path / "mix" / "a" / "0.png", np.full((3, 3), 65535, np.uint16))
    write_png(tmp_path / "mix" / "a" / "1.png", np.full((3, 3), 1000, np.uint16))
    write_png(tmp_path / "mix" / "b" / "0.png", np.full((3, 3), 255, np.uint8))
    write_png(tmp_path / "mix" / "b" / "1.png", np.full((3, 3), 1, np.uint8))
    d = load_source(TrainConfig(dataset=f"folder:{tmp_path / 'mix'}"))
    values = sorted(torch.cat([d.x_train, d.x_test]).flatten(1)[:, 0].tolist())
    assert values == [257, 1000, 65535, 65535]  # 8-bit 255 is full scale, as 16-bit 65535 is


def test_uint16_npz_trains(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 4096, (20, 4, 4)).astype(np.uint16)  # 12-bit data in 16 bits
    np.savez(tmp_path / "deep.npz", x=x, y=np.arange(20) % 2)
    d = load_dataset(TrainConfig(dataset=f"npz:{tmp_path / 'deep.npz'}"))
    assert d.x_train.dtype == torch.uint16 and int(d.x_train.int().max()) > 255
    rc, _ = train_cli(tmp_path, capsys, "--dataset", f"npz:{tmp_path / 'deep.npz'}", *TINY)
    assert rc == 0


def test_constant_images_are_a_data_error_not_divergence(tmp_path, capsys):
    np.savez(tmp_path / "flat.npz", x=np.full((20, 4, 4), 255, np.uint8), y=np.arange(20) % 2)
    rc, err = train_cli(tmp_path, capsys, "--dataset", f"npz:{tmp_path / 'flat.npz'}", *TINY)
    assert rc == 2 and "every training pixel has the same value" in err and "--lr" not in err
    assert stored_runs(tmp_path) == []


def test_a_constant_channel_beside_varying_ones_normalises_to_zero(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 3), dtype=np.uint8)
    x[..., 2] = 0  # blue never used
    np.savez(tmp_path / "rg.npz", x=x, y=np.arange(20) % 2)
    d = load_dataset(TrainConfig(dataset=f"npz:{tmp_path / 'rg.npz'}"))
    assert d.std[2] == 1.0 and d.std[0] > 0
    x = d.prepare(d.x_train)
    assert torch.isfinite(x).all() and torch.equal(x[:, 2], torch.zeros_like(x[:, 2]))


# -- 7: --data-dir means there, and the run records where the data came from ---------------------------
def test_explicit_data_dir_without_the_set_never_falls_back(tmp_path, capsys, monkeypatch):
    fake_mnist(tmp_path / "elsewhere" / "MNIST" / "raw")
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "elsewhere"))  # a copy the search would find
    rc, err = train_cli(tmp_path, capsys, "--dataset", "mnist", "--data-dir", tmp_path / "mnsit", *TINY)
    assert rc == 2 and f"mnist not found in --data-dir {tmp_path / 'mnsit'}, which is not a directory" in err
    assert "drop --data-dir" in err and stored_runs(tmp_path) == []


def test_run_records_the_folder_its_data_came_from(tmp_path, capsys):
    fake_mnist(tmp_path / "data" / "MNIST" / "raw")
    rc, _ = train_cli(tmp_path, capsys, "--dataset", "mnist", "--data-dir", tmp_path / "data", *TINY)
    assert rc == 0
    (run,) = stored_runs(tmp_path)
    assert run["summary"]["data_source"] == str(tmp_path / "data" / "MNIST" / "raw")


# -- 11: batch norm and batches of one ----------------------------------------------------------------
def test_batch_norm_with_batch_size_1_is_refused_up_front(tmp_path, capsys):
    rc, err = train_cli(tmp_path, capsys, "--dataset", "spiral", "--batch-norm", "--batch-size", "1", *TINY)
    assert rc == 2 and "batch_norm=true with batch_size=1" in err
    fake_mnist(tmp_path / "data" / "MNIST" / "raw")
    rc, err = train_cli(tmp_path, capsys, "--dataset", "mnist", "--data-dir", tmp_path / "data", "--model",
                        "lenet5-modern", "--batch-size", "1", "--steps", "2", "--device", "cpu")
    assert rc == 2 and "model 'lenet5-modern' has batch norm" in err
    assert stored_runs(tmp_path) == []


@pytest.mark.parametrize("batch_norm, per_epoch", [(True, 3), (False, 4)])
def test_a_last_batch_of_one_is_dropped_only_with_batch_norm(batch_norm, per_epoch):
    # spiral, 3 classes x 9 points, 5 held out: 22 training points in batches of 7 leave one over
    cfg = TrainConfig(dataset="spiral", n_per_class=9, model="mlp", width=8, batch_norm=batch_norm,
                      batch_size=7, epochs=2, device="cpu", checkpoint=False)
    res = train_and_evaluate(cfg)
    assert len(load_dataset(cfg).x_train) == 22
    assert res.status == "complete" and res.steps == 2 * per_epoch
