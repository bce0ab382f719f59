"""Readers for the on-disk formats of the image sets, each checked as it is read.

IDX (MNIST, Fashion-MNIST), CIFAR-10's python pickle batches, image folders (torchvision's
ImageFolder convention) and .npz arrays. Every reader returns NumPy images (N, C, H, W), uint8, or
uint16 where the source holds 16-bit pixels (read at their depth: clipping them to 8 bits would turn
a bright 16-bit image white), and int64 labels (N,), or raises one `DataError` line naming the file
and what is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import zlib
from pathlib import Path

import numpy as np

from nnstudy.errors import DataError

IDX_MAGIC = {"images": 2051, "labels": 2049}  # 0x0803: ubyte, 3 dims; 0x0801: ubyte, 1 dim
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")
GRAY_MODES = ("1", "L", "LA")
DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # PIL's 16-bit gray (a 16-bit PNG opens as "I" or "I;16")


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it ends in .gz (gzip checks its CRC-32 at the end)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip file ({e}); "
                        "delete it and fetch it again") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None


def read_idx(path: Path, kind: str) -> np.ndarray:
    """An IDX file: images (N, 1, H, W) uint8 or labels (N,) int64.

    Header: 4-byte magic (0, 0, type 0x08 = ubyte, number of dims), then one big-endian int32 per
    dim; then the payload, exactly prod(dims) bytes."""
    raw = read_bytes(path)
    ndim = 3 if kind == "images" else 1
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{path}: {len(raw)} bytes, shorter than an IDX header; the file is truncated")
    magic = int.from_bytes(raw[:4], "big")
    if magic != IDX_MAGIC[kind]:
        raise DataError(f"{path}: magic number {magic}, expected {IDX_MAGIC[kind]} for IDX {kind}; "
                        "not an IDX file of this kind (swapped images and labels?)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    want = int(np.prod(dims))
    if len(raw) - head != want:
        what = "truncated" if len(raw) - head < want else "longer than its header says"
        raise DataError(f"{path}: {what}: header says {'x'.join(map(str, dims))} = {want} bytes of data, "
                        f"the file holds {len(raw) - head}; delete it and fetch it again")
    data = np.frombuffer(raw, np.uint8, offset=head)
    if kind == "images":
        return data.reshape(dims[0], 1, dims[1], dims[2])  # (N, 1, H, W)
    return data.astype(np.int64)  # (N,)


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and NumPy arrays only: a batch file from elsewhere runs no code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how Python 3 writes bytes into a protocol-2 pickle; no side effects

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            # encoding="bytes": the batches were written by Python 2; keys come back as b"data".
            d = _ArraysOnly(fh, encoding="bytes").load()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    except Exception as e:  # truncated (EOFError), garbage (UnpicklingError), refused classes
        raise DataError(f"{path}: not a readable CIFAR-10 python batch ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: holds a {type(d).__name__}, expected a dict (a CIFAR-10 python batch)")
    return d


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch: {b"data": (N, 3072) uint8, rows R..G..B planes of 32x32; b"labels": N ints}."""
    d = read_pickle(path)
    if b"data" not in d or b"labels" not in d:
        raise DataError(f"{path}: keys {sorted(d)}, expected b'data' and b'labels' (a CIFAR-10 batch)")
    x, y = np.asarray(d[b"data"]), np.asarray(d[b"labels"])
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: data is {x.dtype} {x.shape}, expected uint8 (N, 3072) "
                        "(3x32x32 images, one per row)")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: {len(x)} images but {y.size} labels; the batch is corrupt")
    return x.reshape(-1, 3, 32, 32), y.astype(np.int64)  # (N, 3, 32, 32), (N,)


def read_cifar_names(path: Path) -> list[str] | None:
    d = read_pickle(path)
    names = d.get(b"label_names")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names is not None else None


def list_image_folder(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Image files under root/<class>/ (recursively), their class indices, class names (sorted)."""
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"image folder {root} has no class sub-folders; expected one sub-folder per class "
                        f"holding images ({', '.join(IMAGE_EXTENSIONS)})")
    files, labels = [], []
    for i, c in enumerate(classes):
        found = sorted(p for p in (root / c).rglob("*")
                       if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not found:
            raise DataError(f"image folder {root}: class folder {c!r} has no images "
                            f"(looked for {', '.join(IMAGE_EXTENSIONS)})")
        files += found
        labels += [i] * len(found)
    return files, labels, classes


def read_images(files: list[Path]) -> np.ndarray:
    """Decode every file once with PIL: (N, C, H, W); gray (C=1) unless some image has colour.
    uint8, or uint16 when some image is 16-bit gray (8-bit ones then scale by 257: 255 -> 65535)."""
    from PIL import Image

    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                images.append(im.copy())
        except Exception as e:
            raise DataError(f"{f}: not a readable image ({type(e).__name__}: {e})") from None
    first = images[0]
    for f, im in zip(files, images, strict=True):
        if im.size != first.size:
            raise DataError(f"images differ in size: {files[0]} is {first.size[0]}x{first.size[1]}, "
                            f"{f} is {im.size[0]}x{im.size[1]} (width x height); resize them to one size")
        if im.mode == "F":
            raise DataError(f"{f}: 32-bit floating-point pixels, whose scale is unknown; save the images as 8- or "
                            "16-bit integers")
    deep = [f for f, im in zip(files, images) if im.mode in DEEP_MODES]
    if not deep:
        mode = "L" if all(im.mode in GRAY_MODES for im in images) else "RGB"
        arr = np.stack([np.asarray(im.convert(mode), dtype=np.uint8) for im in images])  # (N, H, W[, 3])
        return arr[:, None] if mode == "L" else arr.transpose(0, 3, 1, 2)
    out = np.empty((len(images), 1, first.size[1], first.size[0]), np.uint16)  # (N, 1, H, W)
    for i, (f, im) in enumerate(zip(files, images)):
        if im.mode in DEEP_MODES:
            a = np.asarray(im)
            if a.size and (a.min() < 0 or a.max() > 65535):  # mode "I" holds 32 bits
                raise DataError(f"{f}: pixel values up to {int(a.max())}, beyond 16 bits; save it as 8- or 16-bit")
            out[i, 0] = a
        elif im.mode in GRAY_MODES:
            out[i, 0] = np.asarray(im.convert("L"), dtype=np.uint16) * 257  # one scale: 0..65535
        else:
            raise DataError(f"{f} is colour ({im.mode}) but {deep[0]} is 16-bit gray; one set needs one kind "
                            "of image: convert them all to gray or all to 8-bit colour")
    return out


def to_nchw(x: np.ndarray, where: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C <= 4 -> (N, C, H, W) uint8 (uint16 stays uint16)."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] <= 4:
        x = x.transpose(0, 3, 1, 2)  # channels last, as NumPy and PIL write images
    elif not (x.ndim == 4 and x.shape[1] <= 4):
        raise DataError(f"{where}: images have shape {x.shape}; expected (N, H, W), (N, H, W, C) or "
                        "(N, C, H, W) with C <= 4 channels")
    if x.dtype == np.uint16:  # 16-bit pixels, read at their depth
        return np.ascontiguousarray(x)
    if x.dtype != np.uint8:
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = ~np.isfinite(x.reshape(len(x), -1)).all(1)  # (N,) images holding a NaN or inf
            raise DataError(f"{where}: {int(bad.sum())} of {len(x)} images hold NaN or inf pixel values (first: "
                            f"image {int(np.argmax(bad))}); drop or repair them")
        if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() > 255)):
            raise DataError(f"{where}: images are {x.dtype}; expected uint8 pixels in 0..255 (from floats in "
                            "[0, 1]: (x * 255).round().astype(np.uint8)) or uint16 (16-bit pixels)")
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays x, y and optional x_test/y_test, x_val/y_val, classes -> x_train, y_train, x_test, ...
    with images (N, C, H, W) uint8 and labels (N,) int64."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"npz file {path} does not exist") from None
    except (OSError, ValueError, zlib.error, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"{path}: arrays {sorted(arrays)}; expected at least 'x' (images) and 'y' (labels), "
                        "e.g. np.savez(path, x=images, y=labels)")
    out = {}
    for split in ("", "_test", "_val"):
        if ("x" + split in arrays) != ("y" + split in arrays):
            raise DataError(f"{path}: has only one of 'x{split}' and 'y{split}'; both are needed")
        if "x" + split not in arrays:
            continue
        x, y = to_nchw(arrays["x" + split], f"{path}: x{split}"), arrays["y" + split]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != len(x):
            raise DataError(f"{path}: y{split} is {y.dtype} {y.shape}; expected {len(x)} integer labels "
                            f"(one per image in x{split})")
        key = split or "_train"  # returned as x_train, y_train, x_test, ...
        out["x" + key], out["y" + key] = x, y.astype(np.int64)
    if "classes" in arrays:
        out["classes"] = arrays["classes"]
    return out

