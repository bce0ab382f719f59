"""Image sets as whole uint8 tensors: locate, verify, load once, augment whole batches on the device.

`load_vision(cfg)` returns a `Dataset` with images (N, C, H, W) uint8 and labels (N,) int64 for
mnist, fashion-mnist, cifar10, `folder:PATH` (one sub-folder per class) and `npz:PATH`. It never
carves a validation split (`finish_splits` does, after it) unless the source has one.

Where a named set is looked for: in cfg.data_dir alone when it is given (a mistyped or incomplete
--data-dir is an error, never a silent fall-back to another copy); else, in order, $NNSTUDY_DATA,
~/.cache/nnstudy, then /usr/share/datasets (Debian's dataset-fashion-mnist). In each root:
torchvision's layout (FashionMNIST/raw/, MNIST/raw/, cifar-10-batches-py/), ROOT/<name>/, or the
files in ROOT itself. The folder the files came from is the Dataset's meta["source"].

Checks: structure is an error (magic numbers, header vs file size, gzip CRC, shapes, image/label
counts, label range). Provenance is a warning (`DataWarning`), since the data is well-formed and
usable: an IDX .gz or CIFAR batch file whose MD5 is not a known one (torchvision's list, plus
Debian's recompressed Fashion-MNIST), or counts other than the official 60000/10000 and
50000/10000. Uncompressed IDX files are not checksummed (no official MD5s exist for them). A file
carrying another set's known MD5 (MNIST files in a Fashion-MNIST folder) is an error.

Parsed tensors are cached twice (data/cache.py): in this process (a study that loads a set 50
times parses it once) and as a .pt in $NNSTUDY_CACHE (default ~/.cache/nnstudy/tensors; "off"
disables it), keyed by the source files' paths, sizes and mtimes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nnstudy.data import Dataset, bundle, channel_stats, check_labels
from nnstudy.data import formats as fmt
from nnstudy.data.cache import cached, data_home
from nnstudy.errors import DataError, UsageError

SYSTEM_ROOTS = ("/usr/share/datasets",)  # Debian: dataset-fashion-mnist -> /usr/share/datasets/fashion-mnist
IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
CIFAR_FILES = {**{f"train_{i}": f"data_batch_{i}" for i in range(1, 6)}, "test": "test_batch"}

# MD5 -> (set, file): torchvision's resources (mnist.py, cifar.py), plus the .gz files of Debian's
# dataset-fashion-mnist 0.0~git20200523.55506a9-1, recompressed by the package (measured).
KNOWN_MD5 = {
    "f68b3c2dcbeaaa9fbdd348bbdeb94873": ("mnist", "train-images-idx3-ubyte.gz"),
    "d53e105ee54ea40749a09fcbcd1e9432": ("mnist", "train-labels-idx1-ubyte.gz"),
    "9fb629c4189551a2d022fa330f9573f3": ("mnist", "t10k-images-idx3-ubyte.gz"),
    "ec29112dd5afa0611ce80d1b7f02629c": ("mnist", "t10k-labels-idx1-ubyte.gz"),
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d": ("fashion-mnist", "train-images-idx3-ubyte.gz"),
    "25c81989df183df01b3e8a0aad5dffbe": ("fashion-mnist", "train-labels-idx1-ubyte.gz"),
    "bef4ecab320f06d8554ea6380940ec79": ("fashion-mnist", "t10k-images-idx3-ubyte.gz"),
    "bb300cfdad3c16e7a12a480ee83cd310": ("fashion-mnist", "t10k-labels-idx1-ubyte.gz"),
    "cf8536b0aa1a6ac5fa3f23001093305c": ("fashion-mnist", "train-images-idx3-ubyte.gz"),  # Debian
    "10bea18fdb374794d4bb42e356e600c9": ("fashion-mnist", "train-labels-idx1-ubyte.gz"),  # Debian
    "f78720b4224f21cce2f2ccf2d7a94c9a": ("fashion-mnist", "t10k-images-idx3-ubyte.gz"),  # Debian
    "0d30e22e447f3c33dab9ed536400ac01": ("fashion-mnist", "t10k-labels-idx1-ubyte.gz"),  # Debian
    "c99cafc152244af753f735de768cd75f": ("cifar10", "data_batch_1"),
    "d4bba439e000b95fd0a9bffe97cbabec": ("cifar10", "data_batch_2"),
    "54ebc095f3ab1f0389bbae665268c751": ("cifar10", "data_batch_3"),
    "634d18415352ddfa80567beed471001a": ("cifar10", "data_batch_4"),
    "482c414d41f54cd18b22e5b47cb7c3cb": ("cifar10", "data_batch_5"),
    "40351d587109b95175f43aff81a1287e": ("cifar10", "test_batch"),
}


class DataWarning(UserWarning):
    """The data loaded but may not be the official set (unknown checksum, unexpected counts)."""


@dataclass(frozen=True)
class ImageSet:
    dirs: tuple[str, ...]  # sub-folders of a root that may hold the files (torchvision's first)
    shape: tuple[int, int, int]  # (C, H, W)
    counts: tuple[int, int]  # official (train, test) sizes
    classes: tuple[str, ...]
    flip: bool  # horizontal flips keep the label: clothes and objects yes, digits no
    torchvision: str  # torchvision.datasets class used by --download
    hint: str  # how to get it, for the not-found message


DIGITS = tuple(str(i) for i in range(10))
SETS = {
    "mnist": ImageSet(("MNIST/raw", "mnist"), (1, 28, 28), (60000, 10000), DIGITS, False, "MNIST",
                      "--data-dir DIR holding MNIST/raw/ (torchvision's layout) or the four IDX files"),
    "fashion-mnist": ImageSet(
        ("FashionMNIST/raw", "fashion-mnist"), (1, 28, 28), (60000, 10000),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"), True, "FashionMNIST",
        "apt-get install dataset-fashion-mnist, or --data-dir DIR holding FashionMNIST/raw/ or the "
        "IDX files"),
    "cifar10": ImageSet(
        ("cifar-10-batches-py", "cifar10"), (3, 32, 32), (50000, 10000),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"), True,
        "CIFAR10", "--data-dir DIR holding cifar-10-batches-py/ (the python version of "
        "https://www.cs.toronto.edu/~kriz/cifar.html)"),
}


# -- locating -------------------------------------------------------------------------------------
def search_roots(cfg) -> list[Path]:
    if cfg.data_dir:  # the user said where: a copy found elsewhere would be another set than they meant
        return [Path(cfg.data_dir).expanduser()]
    roots = [os.environ.get("NNSTUDY_DATA"), data_home(), *SYSTEM_ROOTS]
    out = []
    for r in roots:
        if r and Path(r).expanduser() not in out:
            out.append(Path(r).expanduser())
    return out


def find_files(name: str, d: Path) -> tuple[dict[str, Path], list[str]]:
    """The set's files in directory d (role -> path; IDX .gz preferred) and the names it lacks."""
    found, missing = {}, []
    for role, base in (IDX_FILES if name != "cifar10" else CIFAR_FILES).items():
        options = [d / (base + ".gz"), d / base] if name != "cifar10" else [d / base]
        hit = next((p for p in options if p.is_file()), None)
        if hit:
            found[role] = hit
        else:
            missing.append(base + ("[.gz]" if name != "cifar10" else ""))
    if name == "cifar10" and (d / "batches.meta").is_file():
        found["meta"] = d / "batches.meta"
    return found, missing


def locate(name: str, cfg) -> dict[str, Path]:
    """The files of a named set, from the first root that has them all; else one DataError line."""
    spec, partial = SETS[name], []
    for attempt in range(2):
        for root in search_roots(cfg):
            for d in [root / sub for sub in spec.dirs] + [root]:
                found, missing = find_files(name, d)
                if not missing:
                    return found
                if found:
                    partial.append(f"{d} lacks {', '.join(missing)}")
        if attempt == 0 and cfg.download:
            download(name, cfg)
        else:
            break
    where = ", ".join(str(r) for r in search_roots(cfg))
    layout = " or ".join(f"{s}/" for s in spec.dirs)
    part = f" (incomplete: {'; '.join(partial)})" if partial else ""
    if cfg.data_dir:
        exists = "" if Path(cfg.data_dir).expanduser().is_dir() else ", which is not a directory"
        raise DataError(f"{name} not found in --data-dir {cfg.data_dir}{exists} (looked for {layout} or the files "
                        f"themselves){part}; to fix: {spec.hint}, --download into it, or drop --data-dir to search "
                        f"$NNSTUDY_DATA, ~/.cache/nnstudy and {', '.join(SYSTEM_ROOTS) or 'no system place'}")
    raise DataError(f"{name} not found: looked in {where} (for {layout} or the files themselves){part}; "
                    f"to fix: {spec.hint}, or --download")


def where(name: str) -> str | None:
    """The folder holding a complete copy of a named set in the usual places, or None (no download)."""
    from types import SimpleNamespace

    try:
        files = locate(name, SimpleNamespace(data_dir="", download=False))
    except DataError:
        return None
    return str(next(iter(files.values())).parent)


def download(name: str, cfg) -> None:
    """torchvision's downloader (it checks the MD5s) into cfg.data_dir or ~/.cache/nnstudy."""
    import torchvision.datasets as tvd

    dest = Path(cfg.data_dir).expanduser() if cfg.data_dir else data_home()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # torchvision prints progress; stdout is for --json
            getattr(tvd, SETS[name].torchvision)(str(dest), train=True, download=True)
    except Exception as e:  # network, disk or checksum failures all end the same way for the user
        why = " ".join(str(e).split())  # torchvision's message spans lines (one per mirror)
        raise DataError(f"downloading {name} into {dest} failed ({type(e).__name__}: {why}); "
                        f"check the connection, or fetch it yourself: {SETS[name].hint}") from None


# -- parsing and verifying the named sets ---------------------------------------------------------
def parse_named(name: str, files: dict[str, Path]) -> dict:
    spec = SETS[name]
    if name == "cifar10":
        parts = [fmt.read_cifar_batch(files[f"train_{i}"]) for i in range(1, 6)]
        x_train, y_train = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        x_test, y_test = fmt.read_cifar_batch(files["test"])
        classes = fmt.read_cifar_names(files["meta"]) if "meta" in files else None
    else:
        x_train, y_train = (fmt.read_idx(files[f"train_{k}"], k) for k in ("images", "labels"))
        x_test, y_test = (fmt.read_idx(files[f"test_{k}"], k) for k in ("images", "labels"))
        classes = None
    source = next(iter(files.values())).parent
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        where = f"{name} {split} set in {source}"
        if tuple(x.shape[1:]) != spec.shape:
            raise DataError(f"{where}: images are {'x'.join(map(str, x.shape[1:]))}, expected "
                            f"{'x'.join(map(str, spec.shape))} (C x H x W); wrong files for {name}?")
        if len(x) != len(y):
            raise DataError(f"{where}: {len(x)} images but {len(y)} labels; the files do not belong together")
        check_labels(torch.from_numpy(y), len(spec.classes), where)
    meta = {"source": str(source), "files": {k: str(p) for k, p in files.items()},
            **provenance(name, files, (len(x_train), len(x_test)))}
    x_train = as_tensor(x_train)
    mean, std = channel_stats(x_train)  # cached with the tensors: a fixed train split has fixed stats
    return {"x_train": x_train, "y_train": as_tensor(y_train), "x_test": as_tensor(x_test),
            "y_test": as_tensor(y_test), "classes": list(classes or spec.classes), "meta": meta,
            "mean": list(mean), "std": list(std)}


def as_tensor(a: np.ndarray) -> torch.Tensor:
    """Arrays over a file's read-only bytes are copied once; torch needs writable memory."""
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def provenance(name: str, files: dict[str, Path], counts: tuple[int, int]) -> dict:
    """MD5s of the files with official names, checked against the known ones; counts vs official."""
    md5, unknown = {}, []
    for p in files.values():
        if p.suffix == ".gz" or name == "cifar10" and p.name != "batches.meta":
            md5[p.name] = fmt.md5sum(p)
            known = KNOWN_MD5.get(md5[p.name])
            if known is None:
                unknown.append(p.name)
            elif known != (name, p.name):
                raise DataError(f"{p}: this is {known[0]}'s {known[1]} (by its MD5), not {name}'s {p.name}; "
                                "the files are misplaced")
    problems = []
    if unknown:
        problems.append(f"MD5 of {', '.join(unknown)} not an official one")
    if counts != SETS[name].counts:
        problems.append(f"{counts[0]}/{counts[1]} train/test images, the official set has "
                        f"{SETS[name].counts[0]}/{SETS[name].counts[1]}")
    if problems:
        warnings.warn(f"{name} in {next(iter(files.values())).parent}: {'; '.join(problems)}. The files "
                      "are well-formed and load, but results may not compare with published numbers",
                      DataWarning, stacklevel=2)
    checked = "known" if md5 and not unknown else "unknown" if md5 else "not checked (uncompressed files)"
    return {"md5": md5, "checksums": checked, "counts": list(counts)}


# -- loading ---------------------------------------------------------------------------------------
def load_vision(cfg) -> Dataset:
    """The image set cfg.dataset names, as uint8 tensors (N, C, H, W) and int64 labels (N,)."""
    name = cfg.dataset
    if name not in SETS:
        raise UsageError(f"unknown image set {name!r}; valid: {', '.join(SETS)}, folder:PATH, npz:PATH")
    files = locate(name, cfg)
    d = cached(name, sorted(files.values()), lambda: parse_named(name, files))
    return bundle(name, d, flip=SETS[name].flip)


# -- augmentation ----------------------------------------------------------------------------------
def augment_batch(x: torch.Tensor, flip: bool, generator: torch.Generator | None = None,
                  pad: int | None = None, cutout: int = 0) -> torch.Tensor:
    """Random crop with zero padding (2 px for <= 28 px images, 4 px above) and, when `flip`, a
    random horizontal flip, each drawn per image; on x's device, deterministic given `generator`.
    cutout > 0: then a cutout x cutout square, centred anywhere in the image (so it may be cut by the
    border), set to 0 (DeVries & Taylor 2017); drawn after the crop and flip, so runs without it
    draw the same numbers as before.

    x: (B, C, H, W), any dtype; returns a new tensor of the same shape and dtype."""
    B, C, H, W = x.shape
    p = pad if pad is not None else (2 if max(H, W) <= 28 else 4)
    gdev = generator.device if generator is not None else "cpu"
    # Draw on the generator's device (CPU by default), then move: same numbers on any x.device.
    dy = torch.randint(0, 2 * p + 1, (B,), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * p + 1, (B,), generator=generator, device=gdev).to(x.device)
    mirror = torch.rand(B, generator=generator, device=gdev).to(x.device) < 0.5
    padded = F.pad(x, (p, p, p, p))  # (B, C, H + 2p, W + 2p), zeros around
    rows = dy[:, None] + torch.arange(H, device=x.device)  # (B, H)
    cols = torch.arange(W, device=x.device).expand(B, W)  # (B, W)
    if flip:
        cols = torch.where(mirror[:, None], cols.flip(1), cols)
    cols = dx[:, None] + cols  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None, None]
    c = torch.arange(C, device=x.device)[None, :, None, None]
    out = padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]  # (B, C, H, W)
    return cut_out(out, cutout, generator) if cutout else out


def cut_out(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """x (B, C, H, W) with a size x size square per image set to 0, in place; centres drawn per image."""
    B, _, H, W = x.shape
    gdev = generator.device if generator is not None else "cpu"
    cy = torch.randint(0, H, (B, 1), generator=generator, device=gdev).to(x.device)
    cx = torch.randint(0, W, (B, 1), generator=generator, device=gdev).to(x.device)
    lo = size // 2  # the square spans [c - lo, c - lo + size)
    r = torch.arange(H, device=x.device) - (cy - lo)  # (B, H): row offset into the square
    k = torch.arange(W, device=x.device) - (cx - lo)  # (B, W)
    inside = ((r >= 0) & (r < size))[:, :, None] & ((k >= 0) & (k < size))[:, None, :]  # (B, H, W)
    return x.masked_fill_(inside[:, None], 0)
