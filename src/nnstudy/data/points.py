"""The user's own 2-D points: `points:PATH`, a CSV of x1,x2,label lines (one header line allowed) or
an .npz with x (N, 2) floats and y (N,) class indices.

The playground (`nnstudy serve`) turns an uploaded CSV or .npz into such a file in the store, so a
run trained on it names its data the way every other run does, and `nnstudy train --config`
finds it again. The test split is held out as the toy sets' is (test_frac, data_seed).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from nnstudy.data import Dataset
from nnstudy.errors import DataError

MAX_POINTS = 10_000  # points in one set: the playground trains on the whole of it many times a second
MAX_CLASSES = 10


def parse_points(raw: bytes, filename: str = "") -> tuple[np.ndarray, np.ndarray]:
    """x (N, 2) float32 and y (N,) int64 labels 0..C-1 from the bytes of a numeric CSV (x1,x2,label
    per line, one header line allowed) or an .npz (x (N, 2), y (N,)). Labels are integers; their
    distinct values, sorted, become 0..C-1. Raises one DataError line saying what is wrong."""
    if raw[:4] == b"PK\x03\x04" or filename.endswith(".npz"):
        x, y = _read_npz(raw)
    else:
        x, y = _read_csv(raw)
    if x.ndim != 2 or x.shape[1] != 2 or y.shape != (len(x),):
        raise DataError(f"expected x of shape (N, 2) and y of shape (N,); got x {x.shape}, y {y.shape}")
    if not 4 <= len(x) <= MAX_POINTS:
        raise DataError(f"{len(x)} points; valid: 4 to {MAX_POINTS:,}")
    if not np.isfinite(x).all():
        raise DataError("x holds NaN or infinite coordinates; valid: finite numbers")
    if np.abs(x).max() > 1e6:
        raise DataError("coordinates beyond +-1e6; valid: finite numbers of magnitude <= 1e6 (rescale them)")
    if not np.isfinite(y).all() or (y != np.round(y)).any():
        raise DataError("labels must be integers (the class of each point)")
    values, y = np.unique(y.astype(np.int64), return_inverse=True)
    if not 2 <= len(values) <= MAX_CLASSES:
        raise DataError(f"{len(values)} distinct labels; valid: 2 to {MAX_CLASSES} classes")
    return x.astype(np.float32), y.astype(np.int64)


def _read_npz(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            if "x" not in z.files or "y" not in z.files:
                raise DataError(f"the .npz holds {sorted(z.files)}; expected arrays 'x' (N, 2) and 'y' (N,)")
            x, y = z["x"], z["y"]
    except DataError:
        raise
    except (OSError, ValueError, zlib.error, EOFError, KeyError, zipfile.BadZipFile) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"not a readable .npz file ({why})") from None
    if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number)):
        raise DataError(f"x is {x.dtype}, y is {y.dtype}; valid: numeric arrays")
    return x.astype(np.float64), y.astype(np.float64)


def _read_csv(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("the file is neither UTF-8 text (CSV) nor an .npz archive") from None
    rows = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.replace(";", ",").replace("\t", ",").split(",")
        if len(cells) != 3:
            raise DataError(f"CSV line {i + 1} has {len(cells)} columns; valid: 3 (x1, x2, label)")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            if rows or i > 0 or any(_number(c) for c in cells):  # only a first line of names is a header
                raise DataError(f"CSV line {i + 1} is not numeric: {line[:60]!r}") from None
        if len(rows) > MAX_POINTS:
            raise DataError(f"more than {MAX_POINTS:,} points; valid: 4 to {MAX_POINTS:,}")
    a = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return a[:, :2], a[:, 2]


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def save_points(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    from nnstudy.store import atomic_write

    atomic_write(path, buf.getvalue())


def load_points_set(cfg) -> Dataset:
    """`points:PATH`, as the data table (nnstudy.data.SOURCES) calls it."""
    from nnstudy.data.toy import holdout

    path = Path(cfg.dataset[len("points:"):]).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"points file {str(path)!r} cannot be read ({e.strerror or e})") from None
    try:
        x, y = parse_points(raw, path.name)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(cfg.data_seed)
    Xtr, ytr, Xte, yte = holdout(X, Y, cfg.test_frac, g)
    C = int(Y.max()) + 1
    return Dataset(f"points:{path.name}", Xtr, ytr, Xte, yte, num_classes=C, classes=[str(c) for c in range(C)],
                   meta={"source": str(path), "data_seed": cfg.data_seed, "test_frac": cfg.test_frac})
