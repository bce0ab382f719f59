"""Datasets as whole tensors: one `Dataset` bundle per run, built by `load_dataset(cfg)`.

Every set, toy or image, arrives as tensors that fit in memory: the training loop indexes them
directly (no DataLoader), moves them to the training device once, and turns a batch into model
input with `Dataset.prepare` (uint8 -> normalised float, batched augmentation on the device).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nnstudy.errors import UsageError

TOY_SETS = ("spiral", "moons", "circles", "xor", "gauss")
IMAGE_SETS = ("mnist", "fashion-mnist", "cifar10")


@dataclass
class Dataset:
    name: str
    x_train: torch.Tensor  # (N, D) float toy points, or (N, C, H, W) uint8 (or 16-bit: uint16) images
    y_train: torch.Tensor  # (N,) int64 class indices
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    x_val: torch.Tensor | None = None  # validation split carved from train (model selection)
    y_val: torch.Tensor | None = None
    classes: list[str] = field(default_factory=list)  # class names, index order
    mean: tuple[float, ...] | None = None  # images: per-channel mean of the training pixels, in [0, 1] (full scale)
    std: tuple[float, ...] | None = None
    flip: bool = False  # horizontal flips keep the label (not for digits)
    meta: dict = field(default_factory=dict)  # generation parameters, source files, checksums

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x_train.dim() == 4

    def to(self, device) -> Dataset:
        """The same bundle with every tensor on `device` (the whole set lives there)."""
        out = Dataset(**{**self.__dict__})
        for k in ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val"):
            v = getattr(self, k)
            if v is not None:
                setattr(out, k, v.to(device, non_blocking=True))
        return out

    def prepare(self, x: torch.Tensor, train: bool = False, generator: torch.Generator | None = None,
                augment: bool = False, cutout: int = 0) -> torch.Tensor:
        """A batch as model input: float, normalised; augmented when training and asked (cutout: the
        side of the square each augmented image loses, in px; 0: none)."""
        if not self.is_image:
            return x
        if train and augment:
            from nnstudy.data.vision import augment_batch

            x = augment_batch(x, flip=self.flip, generator=generator, cutout=cutout)
        x = x.float().div_(65535.0 if x.dtype == torch.uint16 else 255.0)  # full scale of the pixels -> 1
        if self.mean is not None:
            m = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
            s = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
            x = (x - m) / s
        return x

    def splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        out = {"train": (self.x_train, self.y_train)}
        if self.x_val is not None and len(self.x_val):
            out["val"] = (self.x_val, self.y_val)
        out["test"] = (self.x_test, self.y_test)
        return out


# Every source, one table: (does the name belong to it, module, loader). A loader takes the config
# and returns the raw Dataset; load_dataset then applies subsets and validation to all alike.
SOURCES = (
    (lambda name: name in TOY_SETS, "nnstudy.data.toy", "load_toy"),
    (lambda name: name in IMAGE_SETS, "nnstudy.data.vision", "load_vision"),
    (lambda name: name.startswith("folder:"), "nnstudy.data.usersets", "load_folder_set"),
    (lambda name: name.startswith("npz:"), "nnstudy.data.usersets", "load_npz_set"),
    (lambda name: name.startswith("points:"), "nnstudy.data.points", "load_points_set"),
)


def load_source(cfg) -> Dataset:
    """The raw Dataset cfg.dataset names (before subsets and validation), from the SOURCES table.
    Loaders are imported when used: a toy run never imports torchvision."""
    import importlib

    for belongs, module, loader in SOURCES:
        if belongs(cfg.dataset):
            return getattr(importlib.import_module(module), loader)(cfg)
    raise UsageError(f"unknown dataset {cfg.dataset!r}; valid: {', '.join(TOY_SETS + IMAGE_SETS)}, "
                     "folder:PATH (one sub-folder per class), npz:PATH (arrays x and y), "
                     "points:PATH (2-D points: a CSV of x1,x2,label lines, or an .npz of x (N, 2), y (N,))")


def load_dataset(cfg) -> Dataset:
    """The dataset a config names, split, subset and validated."""
    data = finish_splits(load_source(cfg), cfg)
    validate_tensors(data)
    return data


def finish_splits(data: Dataset, cfg) -> Dataset:
    """Apply the training subset and the validation carve-out, both drawn with cfg.data_seed."""
    g = torch.Generator().manual_seed(cfg.data_seed + 7919)  # offset: independent of the generation draw
    x, y = data.x_train, data.y_train
    if cfg.train_subset and cfg.train_subset < len(x):
        idx = torch.randperm(len(x), generator=g)[: cfg.train_subset]
        x, y = x[idx], y[idx]
    if cfg.val_frac > 0 and data.x_val is None:
        n_val = max(1, round(len(x) * cfg.val_frac))
        perm = torch.randperm(len(x), generator=g)
        data.x_val, data.y_val = x[perm[:n_val]], y[perm[:n_val]]
        x, y = x[perm[n_val:]], y[perm[n_val:]]
    data.x_train, data.y_train = x, y
    if cfg.test_subset and cfg.test_subset < len(data.x_test):
        # A fixed draw, not data_seed's: every run, whatever its seeds, is scored on the same examples.
        idx = torch.randperm(len(data.x_test), generator=torch.Generator().manual_seed(104729))[: cfg.test_subset]
        data.x_test, data.y_test = data.x_test[idx], data.y_test[idx]
    if cfg.permute_pixels:
        permute_pixels(data, torch.Generator().manual_seed(cfg.data_seed + 31337))
    return data


def permute_pixels(data: Dataset, g: torch.Generator) -> None:
    """Shuffle pixel positions by one permutation, the same for every image, split and channel:
    nothing is lost for a fully connected net, the neighbourhoods a convolution relies on are."""
    if not data.is_image:
        raise UsageError(f"permute_pixels needs an image dataset; {data.name!r} is not one (drop --permute-pixels)")
    perm = torch.randperm(data.x_train.shape[2] * data.x_train.shape[3], generator=g)  # (H*W,)
    for k in ("x_train", "x_val", "x_test"):
        x = getattr(data, k)
        if x is not None:  # (N, C, H, W) -> positions shuffled, a new tensor (the cached one is shared)
            setattr(data, k, x.flatten(2)[:, :, perm].reshape(x.shape))
    data.meta = {**data.meta, "permuted_pixels": True}


def bundle(name: str, d: dict, flip: bool) -> Dataset:
    """The Dataset; per-channel stats from d when the parse cached them, else from d's train split.
    A channel whose training pixels are all equal (std 0) is left unscaled (std 1: it normalises to
    zeros) when another channel varies; when none varies, validate_tensors refuses the data."""
    mean, std = (tuple(d["mean"]), tuple(d["std"])) if "mean" in d else channel_stats(d["x_train"])
    if any(s > 0 for s in std):
        std = tuple(s if s > 0 else 1.0 for s in std)
    return Dataset(name=name, x_train=d["x_train"], y_train=d["y_train"], x_test=d["x_test"],
                   y_test=d["y_test"], num_classes=len(d["classes"]), x_val=d.get("x_val"),
                   y_val=d.get("y_val"), classes=d["classes"], mean=mean, std=std, flip=flip, meta=d["meta"])


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 or uint16 images (N, C, H, W) in [0, 1] units (of full scale:
    255 or 65535), exact from histograms."""
    levels = 65536 if x.dtype == torch.uint16 else 256
    v = torch.arange(levels, dtype=torch.float64) / (levels - 1)  # pixel value -> [0, 1]
    mean, std = [], []
    for c in range(x.shape[1]):
        pixels = x[:, c].reshape(-1)
        pixels = pixels.int() if x.dtype == torch.uint16 else pixels  # bincount has no uint16 kernel
        h = torch.bincount(pixels, minlength=levels).double().cpu()  # (levels,) value counts
        m = (h * v).sum() / h.sum().clamp_min(1)
        mean.append(m.item())
        std.append(((h * (v - m) ** 2).sum() / h.sum().clamp_min(1)).sqrt().item())
    return tuple(mean), tuple(std)


def check_labels(y: torch.Tensor, num_classes: int, where: str) -> None:
    """Labels must be int class indices in [0, num_classes)."""
    from nnstudy.errors import DataError

    if y.dtype not in (torch.int64, torch.int32, torch.uint8, torch.int16):
        raise DataError(f"{where}: labels have dtype {y.dtype}; expected integer class indices")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise DataError(f"{where}: labels range over [{int(y.min())}, {int(y.max())}], "
                        f"outside the {num_classes} classes [0, {num_classes - 1}]")


def validate_tensors(data: Dataset, model=None) -> None:
    """One clear DataError for data no training step could use: fewer than two classes, images whose
    pixels are all equal (std 0), splits whose examples differ in shape, labels that are not integer
    class indices in [0, num_classes) or do not match the inputs one to one, NaN or inf in
    floating-point inputs; with `model`, a model that cannot take these inputs or does not give one
    output per class (a trial forward pass of two examples, eval mode)."""
    from nnstudy.errors import DataError

    if data.num_classes < 2:
        raise DataError(f"dataset {data.name!r} has {data.num_classes} class; a classifier needs 2 or more "
                        "(with one, a constant is always right and accuracy 1.0 means nothing)")
    if data.std is not None and not any(s > 0 for s in data.std):
        raise DataError(f"dataset {data.name!r}: every training pixel has the same value in every channel "
                        f"(mean {', '.join(f'{m:.4g}' for m in data.mean)} of full scale, std 0): there is "
                        "nothing to learn from, and normalising would divide by zero; check the images")
    shape = tuple(data.x_train.shape[1:])
    for split, (x, y) in data.splits().items():
        where = f"dataset {data.name!r}, {split} split"
        if x.dim() < 2 or tuple(x.shape[1:]) != shape:
            raise DataError(f"{where}: inputs have shape {tuple(x.shape)}, i.e. examples of shape "
                            f"{tuple(x.shape[1:])}; the training split's are {shape}: every split needs the same")
        if y.dim() != 1 or len(y) != len(x):
            raise DataError(f"{where}: {len(x)} inputs but labels of shape {tuple(y.shape)}; "
                            f"expected ({len(x)},), one class index per input")
        check_labels(y, data.num_classes, where)
        if x.is_floating_point() and len(x) and not torch.isfinite(x).all():
            bad = (~torch.isfinite(x)).flatten(1).any(1)  # (N,) examples holding a NaN or inf
            raise DataError(f"{where}: {int(bad.sum())} of {len(x)} inputs hold NaN or inf (first: example "
                            f"{int(bad.nonzero()[0, 0])}); drop or repair them before training")
    if model is not None and len(data.x_train):
        check_model_input(model, data)


def check_model_input(model, data: Dataset) -> None:
    """A trial forward pass of two training examples (eval mode, no gradients, mode restored)."""
    x = data.prepare(data.x_train[:2])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except (RuntimeError, ValueError, IndexError) as e:  # torch's shape mismatches raise RuntimeError
        raise UsageError(f"model {type(model).__name__} cannot take dataset {data.name!r}'s inputs of shape "
                         f"{tuple(x.shape[1:])} per example ({str(e).splitlines()[0]}); build the model for "
                         f"this input shape") from None
    finally:
        model.train(was_training)
    if out.dim() != 2 or out.shape[1] != data.num_classes:
        raise UsageError(f"model {type(model).__name__} gives outputs of shape {tuple(out.shape[1:])} per example "
                         f"but dataset {data.name!r} has {data.num_classes} classes; build the model with "
                         f"num_classes={data.num_classes}")
