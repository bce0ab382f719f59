"""Run configuration: one dataclass; command-line flags and TOML files map onto the same fields.

Every field has a typed default and a comment giving its meaning and units. `TrainConfig.from_dict`
rejects unknown keys and bad values with one line that names the field, the value and what is
valid (the command line turns that into exit status 2).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from nnstudy.errors import UsageError

ACTIVATIONS = ("none", "relu", "leaky_relu", "tanh", "sigmoid", "gelu")
INITS = ("default", "xavier", "kaiming")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
LOSSES = ("cross_entropy", "mse", "bce")
DEVICES = ("auto", "cpu", "cuda", "mps")
AMP = ("auto", "off", "bf16", "native")
PROFILES = ("quick", "default", "full")
CORRUPTIONS = ("none", "mask", "gaussian")


@dataclass
class TrainConfig:
    # data
    dataset: str = "spiral"  # spiral|moons|circles|xor|gauss|fashion-mnist|mnist|cifar10|folder:PATH|npz:PATH
    n_per_class: int = 1000  # toy sets: points generated per class
    classes: int = 3  # spiral: number of arms (classes)
    noise: float = 0.2  # toy sets: noise level (spiral: std of the angle noise, radians)
    test_frac: float = 0.2  # toy sets: fraction held out as the test split
    val_frac: float = 0.0  # fraction of the training split carved out for validation (model selection)
    train_subset: int = 0  # keep only this many training examples (0: all), drawn with data_seed
    test_subset: int = 0  # evaluate on only this many test examples (0: all): one fixed draw, the same for every run
    permute_pixels: bool = False  # images: shuffle pixel positions by one fixed permutation drawn with data_seed
    data_seed: int = 0  # seed of the data draw and split (toy generation, validation carve-out, subset)
    data_dir: str = ""  # the image set's folder, and only there ("": NNSTUDY_DATA, ~/.cache/nnstudy, system)
    download: bool = False  # image sets: download when missing (needs the internet)
    augment: bool = False  # images: random crop (pad 2-4 px) + flips where the set allows, per batch
    cutout: int = 0  # images, with augment: side in px of a square set to 0 at a random place per image (0: none)
    remap_labels: bool = False  # npz: map the distinct labels, sorted, to classes 0..C-1 (ids like 7, 10**6)
    features: str = ""  # 2-D points: the net's inputs, joined by +: x1 x2 x1^2 x2^2 x1*x2 sin(x1) sin(x2) ("": x1+x2)
    # model
    model: str = "mlp"  # a registered model name (`nnstudy models`)
    width: int = 100  # MLP: hidden units per layer
    depth: int = 1  # MLP: number of hidden layers
    activation: str = "relu"  # none|relu|leaky_relu|tanh|sigmoid|gelu
    init: str = "default"  # default (PyTorch's) | xavier | kaiming
    dropout: float = 0.0  # dropout probability after each hidden activation
    batch_norm: bool = False  # batch norm before each hidden activation
    residual: bool = False  # MLP: identity skip around each hidden layer of equal width
    widths: str = ""  # MLP: each hidden layer's units, joined by x ("8x8x4": 3 layers); "": depth layers of width
    activations: str = ""  # MLP: each hidden layer's activation, joined by + ("relu+tanh"); "": activation in all
    corruption: str = "none"  # autoencoders: none|mask|gaussian, applied to each training batch (denoising)
    corruption_level: float = 0.0  # mask: fraction of inputs set to 0; gaussian: the noise's std (input units)
    # optimisation
    optimizer: str = "adam"  # sgd|adam|adamw|rmsprop
    lr: float = 1e-3  # peak learning rate
    momentum: float = 0.0  # sgd / rmsprop momentum
    nesterov: bool = False  # sgd: Nesterov momentum (needs momentum > 0)
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    schedule: str = "constant"  # constant|step|cosine|onecycle, over the whole run
    loss: str = "cross_entropy"  # cross_entropy (softmax) | mse (on one-hot) | bce (independent sigmoids)
    label_smoothing: float = 0.0  # cross_entropy only
    grad_clip: float = 0.0  # max global gradient norm (0: no clipping)
    steps: int = 1000  # optimizer steps, used when epochs == 0
    epochs: int = 0  # passes over the training split (overrides steps when > 0)
    batch_size: int = 0  # examples per step (0: the whole training split); unset, image sets take 128 (train, sweep)
    eval_every: int = 0  # steps between held-out evaluations (0: every 10 steps full-batch, each epoch else)
    seed: int = 0  # seed of initialisation, data order and augmentation
    # execution
    device: str = "auto"  # auto (cuda, then mps, then cpu) | cpu | cuda | mps
    threads: int = 0  # torch CPU threads (0: leave torch's default, or auto_threads' choice)
    auto_threads: bool = False  # CPU, threads 0: one thread per core other processes leave free, re-checked every 2 s
    amp: str = "auto"  # auto (bf16 on CUDA) | off | bf16 | native (bf16 on CUDA and on CPUs with AMX or AVX-512 bf16)
    channels_last: bool = True  # channels_last memory format for conv nets where it pays (plan.channels_last_pays)
    compile: bool = False  # torch.compile the model (opt-in)
    tta: bool = False  # test-time augmentation: average logits with the flipped image
    eval_train: bool = True  # score the whole training split after the last step (off: train_* finals are None)
    checkpoint: bool = True  # write a checkpoint after every epoch (mini-batch runs with a store)
    extra: dict = field(default_factory=dict)  # metadata stored with the run; never changes a number

    def __post_init__(self):
        self.validate()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> TrainConfig:
        names = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in d.items():
            k = key.replace("-", "_")
            if k not in names:
                close = difflib.get_close_matches(k, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UsageError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(names)}")
            kwargs[k] = coerce(names[k], value, where)
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path, overrides: dict | None = None) -> TrainConfig:
        d = read_toml(path)
        d.update(overrides or {})
        return cls.from_dict(d, where=str(path))

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of every field: equal configs share it (used to skip finished work). Fields
        added after stores held digests count only off their defaults, so a config that does not use
        them keeps the digest it had, and the runs stored for it still match."""
        d = self.to_dict()
        for name, default in ADDED_LATER.items():
            if d[name] == default:
                del d[name]
        blob = json.dumps(d, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        for name in RULES:
            check(name, getattr(self, name))
        if self.steps == 0 and self.epochs == 0:
            raise UsageError("steps=0 and epochs=0: nothing to train; set --steps N or --epochs N (N >= 1)")
        if self.nesterov and (self.momentum <= 0 or self.optimizer != "sgd"):
            raise UsageError(f"nesterov=true needs optimizer=sgd and momentum > 0 "
                             f"(got optimizer={self.optimizer!r}, momentum={self.momentum})")
        if self.label_smoothing and self.loss != "cross_entropy":
            raise UsageError(f"label_smoothing={self.label_smoothing} needs loss=cross_entropy (got {self.loss!r})")
        if self.batch_norm and self.batch_size == 1:
            raise UsageError("batch_norm=true with batch_size=1: batch norm needs 2 or more examples per batch "
                             "(one example's batch variance is 0, so every output normalises to 0); "
                             "use --batch-size 2 or more")
        if self.corruption == "mask" and self.corruption_level >= 1:
            raise UsageError(f"corruption_level={self.corruption_level} with corruption=mask masks every input; "
                             "valid: 0 <= x < 1")
        if not self.dataset:
            raise UsageError("dataset is empty; valid: a toy set, an image set, folder:PATH or npz:PATH")
        self._validate_lists()

    def _validate_lists(self) -> None:
        feats = input_features(self)
        for f in feats:
            if f not in FEATURES:
                raise UsageError(f"features={self.features!r}: {f!r} is not a feature; "
                                 f"valid: {valid_values('features')}")
        if len(set(feats)) != len(feats):
            raise UsageError(f"features={self.features!r} names a feature twice; valid: {valid_values('features')}")
        widths = split_list(self.widths, "x")
        if any(not w.isdigit() or not 0 < int(w) <= INT_MAX for w in widths):
            raise UsageError(f"widths={self.widths!r} is not valid; valid: {valid_values('widths')}")
        acts = split_list(self.activations, "+")
        for a in acts:
            if a not in ACTIVATIONS:
                raise UsageError(f"activations={self.activations!r}: {a!r} is not an activation; "
                                 f"valid: {valid_values('activations')}")
        if acts and len(acts) != len(hidden_widths(self)):
            raise UsageError(f"activations={self.activations!r} names {len(acts)} activation(s) for "
                             f"{len(hidden_widths(self))} hidden layer(s); give one per layer (or set widths)")


FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")  # TensorFlow Playground's inputs
ADDED_LATER = {"features": "", "widths": "", "activations": ""}  # left out of digests at these defaults


def split_list(text: str, sep: str) -> list[str]:
    """A list field's items ("" is no list: the field is off)."""
    return [p.strip() for p in text.split(sep)] if text.strip() else []


def input_features(cfg) -> list[str]:
    """The 2-D net's input features ([]: the points themselves)."""
    return split_list(getattr(cfg, "features", ""), "+")


def hidden_widths(cfg) -> list[int]:
    """Each hidden layer's units: `widths` when set, else `depth` layers of `width`."""
    return [int(w) for w in split_list(getattr(cfg, "widths", ""), "x")] or [cfg.width] * cfg.depth


def hidden_activations(cfg) -> list[str]:
    """Each hidden layer's activation: `activations` when set, else `activation` in every layer."""
    return split_list(getattr(cfg, "activations", ""), "+") or [cfg.activation] * len(hidden_widths(cfg))


# What each field accepts: checked by `validate`, shown by `nnstudy train --help` (`valid_values`).
INT_MAX = 2**63 - 1  # torch keeps counts and seeds in int64: a larger int fails deep inside it
MAX_THREADS = 1024  # more than any one machine's cores; torch.set_num_threads(10**6) crashes the process
RANGES = {"> 0": lambda v: v > 0, ">= 0": lambda v: v >= 0, ">= 2": lambda v: v >= 2,
          "0 <= x < 1": lambda v: 0 <= v < 1, f"0 <= x <= {MAX_THREADS}": lambda v: 0 <= v <= MAX_THREADS}
RULES: dict[str, tuple | str] = {
    "activation": ACTIVATIONS, "init": INITS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "loss": LOSSES,
    "device": DEVICES, "amp": AMP, "corruption": CORRUPTIONS,
    **dict.fromkeys(("lr", "width", "depth", "n_per_class"), "> 0"),
    "classes": ">= 2",  # one class is learned perfectly by a constant: an accuracy of 1.0 that means nothing
    **dict.fromkeys(("weight_decay", "noise", "grad_clip", "steps", "epochs", "batch_size", "eval_every",
                     "train_subset", "test_subset", "seed", "data_seed", "corruption_level", "cutout"), ">= 0"),
    "threads": f"0 <= x <= {MAX_THREADS}",
    # momentum >= 1 never forgets a gradient (the velocity grows without bound); torch requires smoothing <= 1
    **dict.fromkeys(("test_frac", "val_frac", "dropout", "momentum", "label_smoothing"), "0 <= x < 1"),
}


LISTS = {"features": "names joined by + from " + ", ".join(FEATURES) + " (\"\": x1+x2)",
         "widths": "positive integers joined by x, one per hidden layer (8x8x4); \"\": depth x width",
         "activations": "names joined by +, one per hidden layer, from " + ", ".join(ACTIVATIONS)
                        + " (\"\": activation in every layer)"}


def valid_values(name: str) -> str:
    """What a field accepts, in words (for --help and error messages)."""
    if name in LISTS:
        return LISTS[name]
    rule = RULES.get(name)
    kind = type(getattr(TrainConfig, name, None))
    if isinstance(rule, tuple):
        return ", ".join(rule)
    if kind is bool:
        return "true, false"
    if rule is None:
        return ""
    number = "an integer" if kind is int else "a finite number"
    return f"{number} {rule}" if rule.startswith(">") else f"{number} with {rule}"


def check(name: str, value) -> None:
    """One field's value against its rule: a choice, or a range; floats finite, ints within int64."""
    rule = RULES[name]
    if isinstance(rule, tuple):
        if value not in rule:
            raise UsageError(f"{name}={value!r} is not valid; valid: {', '.join(rule)}")
        return
    if isinstance(value, int) and abs(value) > INT_MAX:
        raise UsageError(f"{name}={value!r} is too large (torch counts in 64-bit integers); "
                         f"valid: {valid_values(name)}")
    if not math.isfinite(value) or not RANGES[rule](value):  # inf, 1e400 and nan are never a setting
        raise UsageError(f"{name}={value!r} is out of range; valid: {valid_values(name)}")


def coerce(f: dataclasses.Field, value, where: str):
    """Convert a TOML or command-line value to the field's type, or fail with one clear line."""
    kind = type(f.default) if f.default is not dataclasses.MISSING else dict
    if kind is str:  # a TOML number or list where a name belongs: str() would accept anything
        if not isinstance(value, str):
            raise UsageError(f"{where}: {f.name}={value!r} is not a string; write it in quotes")
        return value
    if kind is dict:
        if not isinstance(value, dict):
            raise UsageError(f"{where}: {f.name}={value!r} must be a table")
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise UsageError(f"{where}: {f.name}={value!r} is not a boolean; valid: true, false")
    try:
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        if isinstance(value, bool) and kind is not bool:
            raise ValueError
        return kind(value)  # range and finiteness: TrainConfig.validate, which every construction runs
    except (TypeError, ValueError, OverflowError):  # OverflowError: float() of a TOML integer like 10**400
        raise UsageError(f"{where}: {f.name}={value!r} is not {'an' if kind is int else 'a'} "
                         f"{kind.__name__}") from None


def read_toml(path: str | Path) -> dict:
    """A TOML file's fields (flat, or one [train] table). TOML is UTF-8: a byte-order mark (Windows
    Notepad's habit) is dropped, since it carries no meaning and the text is the same without it;
    other encodings are refused with the place of the first bad byte, since guessing could misread."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"config file {str(p)!r} does not exist") from None
    except OSError as e:
        raise UsageError(f"config file {str(p)!r} cannot be read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise UsageError(f"config file {str(p)!r} is not UTF-8 (byte 0x{raw[e.start]:02x} on line {line}); "
                         "TOML files are UTF-8: save it as UTF-8") from None
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {str(p)!r} is not valid TOML: {e}") from None
    # Allow either a flat file or one [train] table.
    if set(d) == {"train"} and isinstance(d["train"], dict):
        d = d["train"]
    return d


def field_docs() -> dict[str, str]:
    """Each TrainConfig field's trailing comment in this file, by name: the one place the meaning of
    a field is written (nanoGPT style), shown again by `nnstudy train --help`."""
    import io
    import tokenize

    try:
        source = Path(__file__).read_text(encoding="utf-8")
    except OSError:  # installed without sources: help without descriptions is still help
        return {}
    body = source[source.index("class TrainConfig"):source.index("    def __post_init__")]
    docs, name = {}, None
    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and name is None:
            name = tok.string  # a field's name starts its line, indented once
        elif tok.type == tokenize.COMMENT and name is not None:
            docs[name] = tok.string.lstrip("#").strip()
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            name = None
    return docs
