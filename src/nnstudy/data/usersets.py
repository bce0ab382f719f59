"""The user's own image sets: `folder:PATH` (torchvision's ImageFolder convention) and `npz:PATH`.

A folder is PATH/<class>/*.png (any depth below the class folder), or PATH/train/<class>/... with
PATH/test/<class>/... (and optionally PATH/val/<class>/...) when the user has fixed splits. An .npz
holds x (N, H, W), (N, H, W, C) or (N, C, H, W) uint8 (or uint16) and y (N,) ints, optionally
x_test/y_test, x_val/y_val and classes. Without a test split, 20% of each class is held out, drawn
with cfg.data_seed. Flips stay off: nothing says they keep these labels (set `data.flip = True` if so).

Labels: a set needs two classes or more (with one, accuracy 1.0 means nothing). Without a `classes`
array the labels are class indices 0..C-1, and every index must occur: labels that are ids
({0, 1000000}) would otherwise make a million outputs for two classes. They are refused with one
line, not remapped silently, because output k then would not mean label k, and a user who reads
the confusion matrix by their own ids would misread it; `remap_labels=true` asks for the mapping
(distinct values, sorted, -> 0..C-1; the class names keep the ids), and the run records it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnstudy.data import Dataset, bundle, check_labels
from nnstudy.data import formats as fmt
from nnstudy.data.cache import cached
from nnstudy.errors import DataError

TEST_FRAC = 0.2  # held out as the test split when the source has none


def hold_out(x: torch.Tensor, y: torch.Tensor, seed: int, frac: float = TEST_FRAC):
    """Split (x, y) into train and test, stratified: round(frac * n_c) of each class c with n_c >= 2."""
    g = torch.Generator().manual_seed(seed)
    test = []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        test.append(idx[: min(len(idx) - 1, max(1, round(frac * len(idx))))])
    is_test = torch.zeros(len(y), dtype=torch.bool)
    is_test[torch.cat(test)] = True
    return x[~is_test], y[~is_test], x[is_test], y[is_test]


def load_folder(cfg, root: Path) -> Dataset:
    split_dirs = {s: root / s for s in ("train", "test", "val") if (root / s).is_dir()}
    if not {"train", "test"} <= set(split_dirs):
        split_dirs = {"train": root}
    listed = {s: fmt.list_image_folder(d) for s, d in split_dirs.items()}
    classes = listed["train"][2]
    for s, (_, _, names) in listed.items():
        if names != classes:
            raise DataError(f"image folder {root}: {s}/ has classes {names}, train/ has {classes}; "
                                "every split needs the same class sub-folders")
    files = [f for s in listed for f in listed[s][0]]

    def parse():
        x = torch.from_numpy(fmt.read_images(files))  # (N, C, H, W), every split in one read
        out, start = {}, 0
        for s, (fs, labels, _) in listed.items():
            out["x_" + s] = x[start:start + len(fs)].clone()
            out["y_" + s] = torch.tensor(labels, dtype=torch.int64)
            start += len(fs)
        return {**out, "classes": classes, "meta": {"source": str(root), "images": len(files)}}

    d = cached("folder-v2", files, parse)  # v2: 16-bit images at their depth (v1's cache clipped them)
    return finish(cfg, d)


def load_npz(cfg, path: Path) -> Dataset:
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist")

    def parse():
        arrays = fmt.read_npz(path)
        out = {k: torch.from_numpy(v) for k, v in arrays.items() if k != "classes"}
        names = [str(c) for c in arrays["classes"].tolist()] if "classes" in arrays else None
        ys = [k for k in out if k.startswith("y")]
        values = torch.unique(torch.cat([out[k] for k in ys]))  # sorted distinct labels, every split
        meta = {"source": str(path)}
        if cfg.remap_labels:
            for k in ys:  # value -> its rank among the distinct values
                out[k] = torch.searchsorted(values, out[k])
            names = [names[v] if names and 0 <= v < len(names) else str(v) for v in values.tolist()]
            meta["remapped_labels"] = f"{len(values)} distinct values, sorted, -> 0..{len(values) - 1}"
        elif names is None:
            check_dense(values, path)
            names = [str(i) for i in range(int(values.max()) + 1 if len(values) else 0)]
        for k in ys:
            check_labels(out[k], len(names), f"{path}: {k}")
        return {**out, "classes": names, "meta": meta}

    # .npz already loads fast: no second copy on disk; the key says whether labels were remapped
    d = cached("npz-remapped" if cfg.remap_labels else "npz", [path], parse, disk=False)
    return finish(cfg, d)


def check_dense(values: torch.Tensor, path: Path) -> None:
    """Labels given without class names must be the indices 0..C-1, each used."""
    if not len(values) or int(values.min()) < 0:
        return  # check_labels names the negative ones
    top = int(values.max())
    if len(values) < top + 1:
        unused = top + 1 - len(values)
        raise DataError(f"{path}: labels take {len(values)} distinct values in [0, {top}], so {unused:,} of the "
                        f"{top + 1:,} class indices 0..{top} are never used (ids, not class indices?); "
                        "relabel them 0..C-1, set remap_labels=true (--remap-labels) to map them so, "
                        "or save a 'classes' array naming all the classes")


def finish(cfg, d: dict) -> Dataset:
    """Hold out the test split when the source has none; the train split must keep an image; two
    classes or more must occur."""
    name = cfg.dataset
    present = torch.unique(torch.cat([d[k] for k in ("y_train", "y_test", "y_val") if k in d]))
    if len(present) < 2:
        one = f"only class {d['classes'][int(present[0])]!r}" if len(present) else "no labels"
        raise DataError(f"{name}: {one}; a classifier needs 2 classes or more (with one, accuracy is "
                        "1.0 and means nothing): add a class (a sub-folder, or labels in y)")
    if "x_test" not in d:
        if len(d["x_train"]) < 2:
            raise DataError(f"{name}: {len(d['x_train'])} image(s); need at least 2 to hold out a test split")
        split = hold_out(d["x_train"], d["y_train"], cfg.data_seed)
        d["x_train"], d["y_train"], d["x_test"], d["y_test"] = split
        if not len(d["x_test"]):
            raise DataError(f"{name}: every class has a single image; need 2 or more per class to hold out "
                            "a test split (or give one: folder PATH/train + PATH/test, npz x_test/y_test)")
        d["meta"]["test_split"] = f"held out {TEST_FRAC:.0%} of each class, data_seed={cfg.data_seed}"
    return bundle(name, d, flip=False)


def load_folder_set(cfg) -> Dataset:
    """`folder:PATH`, as the data table (nnstudy.data.SOURCES) calls it."""
    return load_folder(cfg, Path(cfg.dataset[len("folder:"):]).expanduser())


def load_npz_set(cfg) -> Dataset:
    """`npz:PATH`, as the data table (nnstudy.data.SOURCES) calls it."""
    return load_npz(cfg, Path(cfg.dataset[len("npz:"):]).expanduser())
