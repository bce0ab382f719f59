"""Image-set loading: real Fashion-MNIST where installed; MNIST, CIFAR-10, folders and .npz files
written here in their exact on-disk formats; every bad input is one DataError; augmentation; caches."""

from __future__ import annotations

import gzip
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nnstudy.config import TrainConfig
from nnstudy.data import cache, load_dataset, load_source, vision
from nnstudy.data.vision import DataWarning, augment_batch
from nnstudy.errors import DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")
pytestmark = pytest.mark.filterwarnings("ignore::nnstudy.data.vision.DataWarning")  # fake sets warn


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the user's data, cache or home; each starts with an empty in-process cache."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NNSTUDY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NNSTUDY_DATA", raising=False)
    cache.clear_memory_cache()
    yield
    cache.clear_memory_cache()


def cfg_for(dataset: str, data_dir: Path | str = "", **kw) -> TrainConfig:
    return TrainConfig(dataset=dataset, data_dir=str(data_dir), **kw)


# -- writers for the on-disk formats ----------------------------------------------------------------
def idx_bytes(a: np.ndarray) -> bytes:
    magic = 2051 if a.ndim == 3 else 2049  # 0x0803 ubyte images, 0x0801 ubyte labels
    dims = np.array(a.shape, ">i4").tobytes()
    return magic.to_bytes(4, "big") + dims + a.astype(np.uint8).tobytes()


def write_idx(d: Path, base: str, a: np.ndarray, gz: bool) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / (base + (".gz" if gz else ""))
    p.write_bytes(gzip.compress(idx_bytes(a)) if gz else idx_bytes(a))
    return p


def fake_mnist(d: Path, gz: bool = True, n=(50, 20), shape=(28, 28), seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix, count in (("train", "train", n[0]), ("test", "t10k", n[1])):
        x = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
        y = np.arange(count) % 10
        write_idx(d, f"{prefix}-images-idx3-ubyte", x, gz)
        write_idx(d, f"{prefix}-labels-idx1-ubyte", y, gz)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    return arrays


def fake_cifar(d: Path, per_batch: int = 4, n_test: int = 6) -> dict[str, np.ndarray]:
    """Python-2-style batches: bytes keys, b'data' (N, 3072) uint8 R, G, B planes, b'labels' a list."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    xs, ys = [], []
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(n)]}
        (d / name).write_bytes(pickle.dumps(batch, protocol=2))
        xs.append(data)
        ys.append(np.array(labels))
    meta = {b"num_cases_per_batch": per_batch, b"num_vis": 3072,
            b"label_names": [n.encode() for n in vision.SETS["cifar10"].classes]}
    (d / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {"x_train": np.concatenate(xs[:5]), "y_train": np.concatenate(ys[:5]), "x_test": xs[5], "y_test": ys[5]}


def write_png(p: Path, a: np.ndarray) -> None:
    from PIL import Image

    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(p)


# -- real Fashion-MNIST -----------------------------------------------------------------------------
@pytest.mark.skipif(not FASHION.is_dir(), reason=f"{FASHION} missing: apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_loads_verified_and_balanced():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # the installed files must be known ones
        d = load_source(cfg_for("fashion-mnist"))
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.x_train.dtype == torch.uint8 and d.y_train.dtype == torch.int64
    assert d.y_train.min() == 0 and d.y_train.max() == 9 and d.num_classes == 10
    assert torch.bincount(d.y_train).tolist() == [6000] * 10
    assert torch.bincount(d.y_test).tolist() == [1000] * 10
    assert d.classes[0] == "T-shirt/top" and d.classes[9] == "Ankle boot" and d.flip
    # Fashion-MNIST's widely quoted normalisation constants: mean 0.2860, std 0.3530.
    assert d.mean[0] == pytest.approx(0.2860, abs=5e-4) and d.std[0] == pytest.approx(0.3530, abs=5e-4)
    assert d.meta["checksums"] == "known" and d.meta["source"] == str(FASHION)
    # finish_splits on top: subset, then validation carved from it
    s = load_dataset(cfg_for("fashion-mnist", train_subset=1000, val_frac=0.1))
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (900, 100, 10000)


# -- MNIST, CIFAR-10, folders, npz written here --------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzipped"])
def test_mnist_idx_in_torchvision_layout(tmp_path, gz):
    a = fake_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    with pytest.warns(DataWarning, match="50/20 train/test images, the official set has 60000/10000"):
        d = load_source(cfg_for("mnist", tmp_path))
    assert torch.equal(d.x_train, torch.from_numpy(a["x_train"][:, None]))
    assert torch.equal(d.y_test, torch.from_numpy(a["y_test"]).long())
    assert d.x_train.dtype == torch.uint8 and d.y_train.dtype == torch.int64
    assert not d.flip and d.classes == [str(i) for i in range(10)]
    assert d.meta["checksums"] == ("unknown" if gz else "not checked (uncompressed files)")


def test_flat_files_found_through_nnstudy_data(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "mnist", gz=False, n=(10, 10))
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path))
    assert len(load_source(cfg_for("mnist")).x_train) == 10


def test_cifar10_pickle_batches(tmp_path):
    a = fake_cifar(tmp_path / "cifar-10-batches-py")
    d = load_source(cfg_for("cifar10", tmp_path))
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (6, 3, 32, 32)
    # each row is the red plane, then green, then blue, each 32x32 row-major
    assert torch.equal(d.x_train[3, 1, 2], torch.from_numpy(a["x_train"][3, 1024 + 64:1024 + 96]))
    assert torch.equal(d.y_train, torch.from_numpy(a["y_train"]).long())
    assert d.classes[0] == "airplane" and d.flip and len(d.mean) == 3


def test_image_folder_held_out_split_is_stratified_and_seeded(tmp_path):
    tmp_path = tmp_path / "images"  # beside the test's home and cache folders
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        for i in range(5):
            write_png(tmp_path / c / f"{i}.png", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    d = load_source(cfg_for(f"folder:{tmp_path}"))
    assert d.classes == ["cat", "dog"] and d.x_train.shape[1:] == (3, 6, 8)
    assert torch.bincount(d.y_test).tolist() == [1, 1] and len(d.x_train) == 8  # round(0.2 * 5) per class
    again = load_source(cfg_for(f"folder:{tmp_path}"))
    other = load_source(cfg_for(f"folder:{tmp_path}", data_seed=3))
    assert torch.equal(d.x_test, again.x_test) and not torch.equal(d.x_test, other.x_test)
    assert not d.flip


def test_image_folder_with_train_test_split_and_gray_images(tmp_path):
    tmp_path = tmp_path / "images"
    img = np.arange(20, dtype=np.uint8).reshape(4, 5)
    for split in ("train", "test"):
        for c in ("a", "b"):
            write_png(tmp_path / split / c / "x.png", img)
    d = load_source(cfg_for(f"folder:{tmp_path}"))
    assert d.x_train.shape == (2, 1, 4, 5) and d.x_test.shape == (2, 1, 4, 5)
    assert torch.equal(d.x_test[0, 0], torch.from_numpy(img)) and "test_split" not in d.meta


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 3, 7, 9), dtype=np.uint8)  # (N, C, H, W) reference
    stored = {"NHW": x[:, 0], "NHWC": x.transpose(0, 2, 3, 1), "NCHW": x}[layout]
    np.savez(tmp_path / "s.npz", x=stored, y=np.arange(10) % 2, x_test=stored[:3], y_test=np.array([0, 1, 1]))
    d = load_source(cfg_for(f"npz:{tmp_path / 's.npz'}"))
    want = x[:, :1] if layout == "NHW" else x
    assert torch.equal(d.x_train, torch.from_numpy(want)) and torch.equal(d.x_test, torch.from_numpy(want[:3]))
    assert d.num_classes == 2 and d.y_train.dtype == torch.int64


def test_npz_without_test_split_holds_out_20_percent(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.zeros((20, 4, 4), np.uint8), y=np.arange(20) % 2)
    d = load_source(cfg_for(f"npz:{tmp_path / 's.npz'}"))
    assert (len(d.x_train), len(d.x_test)) == (16, 4) and "data_seed=0" in d.meta["test_split"]


# -- every bad input is one clear DataError -----------------------------------------------------------
def test_missing_set_says_where_it_looked_and_how_to_fix(tmp_path, monkeypatch):
    with pytest.raises(DataError) as e:
        load_source(cfg_for("mnist", tmp_path / "nowhere"))
    msg = str(e.value)
    assert "mnist not found" in msg and str(tmp_path / "nowhere") in msg and "MNIST/raw/" in msg
    assert "--data-dir" in msg and "--download" in msg and "\n" not in msg
    monkeypatch.setattr(vision, "SYSTEM_ROOTS", ())
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_source(cfg_for("fashion-mnist", tmp_path))


def test_incomplete_set_names_the_missing_files(tmp_path):
    fake_mnist(tmp_path / "MNIST" / "raw")
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        load_source(cfg_for("mnist", tmp_path))


def corrupt(kind: str, d: Path) -> None:
    """Damage a freshly written fake MNIST (raw IDX files) in one way."""
    images, labels = d / "train-images-idx3-ubyte", d / "train-labels-idx1-ubyte"
    if kind == "truncated":
        images.write_bytes(images.read_bytes()[:-100])
    elif kind == "truncated-gz":
        images.unlink()
        (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((50, 28, 28))))[:-30])
    elif kind == "magic":
        images.write_bytes(labels.read_bytes())
    elif kind == "labels":
        labels.write_bytes(idx_bytes(np.full(50, 10)))
    elif kind == "count":
        labels.write_bytes(idx_bytes(np.zeros(49)))
    elif kind == "shape":
        images.write_bytes(idx_bytes(np.zeros((50, 32, 32))))


@pytest.mark.parametrize("kind, words", [
    ("truncated", "truncated: header says 50x28x28 = 39200 bytes"),
    ("truncated-gz", "corrupt or truncated gzip"),
    ("magic", "magic number 2049, expected 2051"),
    ("labels", r"labels range over \[10, 10\], outside the 10 classes"),
    ("count", "50 images but 49 labels"),
    ("shape", "images are 1x32x32, expected 1x28x28"),
])
def test_bad_idx_files(tmp_path, kind, words):
    d = tmp_path / "MNIST" / "raw"
    fake_mnist(d, gz=False)
    corrupt(kind, d)
    with pytest.raises(DataError, match=words):
        load_source(cfg_for("mnist", tmp_path))


def test_another_sets_known_file_is_refused(tmp_path, monkeypatch):
    d = tmp_path / "FashionMNIST" / "raw"
    fake_mnist(d)
    from nnstudy.data.formats import md5sum

    monkeypatch.setitem(vision.KNOWN_MD5, md5sum(d / "train-images-idx3-ubyte.gz"),
                        ("mnist", "train-images-idx3-ubyte.gz"))
    with pytest.raises(DataError, match="this is mnist's train-images-idx3-ubyte.gz .* misplaced"):
        load_source(cfg_for("fashion-mnist", tmp_path))


class Boom:  # a pickle that would run a command when loaded
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("kind, words", [
    ("truncated", "not a readable CIFAR-10 python batch"),
    ("keys", "expected b'data' and b'labels'"),
    ("code", "refusing to load"),
    ("labels", "outside the 10 classes"),
])
def test_bad_cifar_batches(tmp_path, monkeypatch, kind, words):
    d = tmp_path / "cifar-10-batches-py"
    fake_cifar(d)
    b = d / "data_batch_2"
    if kind == "truncated":
        b.write_bytes(b.read_bytes()[:100])
    elif kind == "keys":
        b.write_bytes(pickle.dumps({b"pixels": np.zeros((1, 3072), np.uint8)}, protocol=2))
    elif kind == "code":
        b.write_bytes(pickle.dumps({b"data": Boom()}, protocol=2))
    elif kind == "labels":
        b.write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}, protocol=2))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=words):
        load_source(cfg_for("cifar10", tmp_path))
    assert not (tmp_path / "pwned").exists()


def test_bad_folders_and_npz(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_source(cfg_for(f"folder:{tmp_path / 'empty'}"))
    (tmp_path / "noimg" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="class folder 'cat' has no images"):
        load_source(cfg_for(f"folder:{tmp_path / 'noimg'}"))
    write_png(tmp_path / "mixed" / "a" / "1.png", np.zeros((4, 4), np.uint8))
    write_png(tmp_path / "mixed" / "b" / "2.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(DataError, match="images differ in size: .* is 4x4, .* is 4x5"):
        load_source(cfg_for(f"folder:{tmp_path / 'mixed'}"))
    with pytest.raises(DataError, match="does not exist"):
        load_source(cfg_for(f"folder:{tmp_path / 'absent'}"))
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match="expected at least 'x' .* and 'y'"):
        load_source(cfg_for(f"npz:{tmp_path / 'bad.npz'}"))
    np.savez(tmp_path / "float.npz", x=np.zeros((2, 4, 4), np.float32), y=np.zeros(2, int))
    with pytest.raises(DataError, match="expected uint8"):
        load_source(cfg_for(f"npz:{tmp_path / 'float.npz'}"))


# -- augmentation ----------------------------------------------------------------------------------
def candidates(img: torch.Tensor, p: int) -> list[torch.Tensor]:
    """Every crop and flipped crop augment_batch may return for one (C, H, W) image."""
    H, W = img.shape[1:]
    padded = torch.nn.functional.pad(img, (p, p, p, p))
    crops = [padded[:, i:i + H, j:j + W] for i in range(2 * p + 1) for j in range(2 * p + 1)]
    return crops + [c.flip(2) for c in crops]


def test_augment_batch_keeps_shape_dtype_and_is_deterministic():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    a = augment_batch(x, flip=True, generator=torch.Generator().manual_seed(1))
    b = augment_batch(x, flip=True, generator=torch.Generator().manual_seed(1))
    c = augment_batch(x, flip=True, generator=torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == torch.uint8 and torch.equal(a, b) and not torch.equal(a, c)
    for k in range(16):  # each output is one padded crop (pad 4 for 32 px), possibly mirrored
        assert any(torch.equal(a[k], cand) for cand in candidates(x[k], 4))


def test_augment_batch_shifts_content_and_flips_only_when_allowed():
    x = torch.zeros(256, 1, 28, 28, dtype=torch.uint8)
    x[:, 0, 10, 3] = 255  # one bright pixel, near the left edge
    g = torch.Generator().manual_seed(0)
    plain, flipped = augment_batch(x, flip=False, generator=g), augment_batch(x, flip=True, generator=g)
    rows, cols = plain[:, 0].nonzero()[:, 1:].T
    assert rows.min() >= 8 and rows.max() <= 12 and cols.min() >= 1 and cols.max() <= 5  # pad 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # all 5x5 shifts happen
    fcols = flipped[:, 0].nonzero()[:, 2]
    assert ((fcols >= 22) & (fcols <= 26)).any() and ((fcols >= 1) & (fcols <= 5)).any()
    assert (plain.sum((1, 2, 3)) == 255).all()  # a pixel 3 px from the edge is never cropped away


def test_prepare_augments_and_normalises(tmp_path):
    fake_mnist(tmp_path / "MNIST" / "raw", gz=False)
    d = load_source(cfg_for("mnist", tmp_path))
    out = d.prepare(d.x_train[:8], train=True, augment=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == (8, 1, 28, 28) and out.dtype == torch.float32
    assert abs(d.prepare(d.x_train).mean().item()) < 1e-4  # normalised with the training mean


# -- caches ----------------------------------------------------------------------------------------
def test_second_load_comes_from_the_disk_cache_without_parsing(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "MNIST" / "raw")
    first = load_source(cfg_for("mnist", tmp_path))
    assert len(list((tmp_path / "cache").glob("mnist-*.pt"))) == 1
    cache.clear_memory_cache()  # as a new process would start

    def no_parse(*a, **k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(vision, "parse_named", no_parse)
    second = load_source(cfg_for("mnist", tmp_path))
    assert torch.equal(first.x_train, second.x_train) and torch.equal(first.y_test, second.y_test)
    assert first.meta == second.meta and first.classes == second.classes


def test_memory_cache_parses_once_and_hands_out_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_CACHE", "off")
    fake_mnist(tmp_path / "MNIST" / "raw")
    calls = []
    real = vision.parse_named
    monkeypatch.setattr(vision, "parse_named", lambda *a: calls.append(1) or real(*a))
    first = load_source(cfg_for("mnist", tmp_path))
    first.x_train.zero_()  # a careless caller
    second = load_source(cfg_for("mnist", tmp_path))
    assert len(calls) == 1 and second.x_train.float().mean() > 50
    assert not (tmp_path / "cache").exists()


def test_corrupt_cache_is_rebuilt_and_changed_files_reparsed(tmp_path):
    d = tmp_path / "MNIST" / "raw"
    fake_mnist(d, seed=0)
    want = load_source(cfg_for("mnist", tmp_path)).x_train
    (pt,) = (tmp_path / "cache").glob("mnist-*.pt")
    pt.write_bytes(b"not a torch file")
    cache.clear_memory_cache()
    assert torch.equal(load_source(cfg_for("mnist", tmp_path)).x_train, want)
    assert torch.load(pt, weights_only=True)["x_train"].shape == want.shape  # rewritten whole
    new = fake_mnist(d, seed=1, n=(30, 20))  # replaced files: new size and mtime, new key
    assert torch.equal(load_source(cfg_for("mnist", tmp_path)).x_train, torch.from_numpy(new["x_train"][:, None]))


def test_download_fetches_into_data_dir_then_loads(tmp_path, monkeypatch, capsys):
    import torchvision.datasets as tvd

    class FakeMNIST:  # stands in for torchvision's downloader: same layout, no network
        def __init__(self, root, train, download):
            print("Downloading ...")
            fake_mnist(Path(root) / "MNIST" / "raw", n=(12, 10))

    monkeypatch.setattr(tvd, "MNIST", FakeMNIST)
    d = load_source(cfg_for("mnist", tmp_path / "data", download=True))
    assert len(d.x_train) == 12 and (tmp_path / "data" / "MNIST" / "raw").is_dir()
    assert capsys.readouterr().out == ""  # progress goes to stderr: stdout is reserved for --json

    class Offline:
        def __init__(self, *a, **k):
            raise RuntimeError("Error downloading:\nTried mirror 1\nTried mirror 2")

    monkeypatch.setattr(tvd, "CIFAR10", Offline)
    with pytest.raises(DataError, match="downloading cifar10 into .* failed .* Tried mirror 1 Tried mirror 2"):
        load_source(cfg_for("cifar10", tmp_path / "data", download=True))
