"""The playground's parameters -> a TrainConfig, or a 422 that names the field and what is valid.

Each field goes through config.py's own conversion and rules table (`coerce`, `check`, the same
words `nnstudy train --help` shows), then through the bounds that keep one browser tab from
taking the machine (MAX_*), then TrainConfig's cross-field rules. The playground trains on the CPU,
at a constant learning rate (a schedule would span a length the playground does not know).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from nnstudy.config import RULES, TrainConfig, check, coerce, hidden_widths, valid_values
from nnstudy.data import TOY_SETS
from nnstudy.data.points import MAX_CLASSES, MAX_POINTS
from nnstudy.errors import UsageError

MAX_WIDTH = 256  # hidden units per layer
MAX_DEPTH = 6  # hidden layers
MAX_STEPS = 100_000  # steps of one playground run
MODELS = ("mlp", "linear", "logistic")
UPLOAD_ID = re.compile(r"[0-9a-f]{16}")  # an uploaded set's name: the start of its SHA-256, nothing else

# What the playground may set, and its default when the URL says nothing (the week's ReLU + Adam
# spiral: lr 1e-3, weight decay 1e-5, 1000 full-batch steps; 20% held out). Every other TrainConfig
# field keeps its default.
FIELDS = {
    "dataset": "spiral", "n_per_class": 1000, "classes": 3, "noise": 0.2, "test_frac": 0.2, "data_seed": 0,
    "features": "", "model": "mlp", "width": 100, "depth": 1, "widths": "", "activation": "relu",
    "activations": "", "init": "default", "batch_norm": False, "residual": False,
    "loss": "cross_entropy", "optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "nesterov": False,
    "weight_decay": 1e-5, "batch_size": 0, "seed": 0, "steps": 1000,
}
BOUNDS = {"width": (1, MAX_WIDTH), "depth": (1, MAX_DEPTH), "steps": (1, MAX_STEPS),
          "classes": (2, MAX_CLASSES), "n_per_class": (2, MAX_POINTS // 2)}


@dataclass
class Invalid(Exception):
    """A bad parameter: HTTP 422 with these three fields."""
    field: str
    message: str
    valid: str

    def body(self) -> dict:
        return {"error": "invalid parameter", "field": self.field, "message": self.message, "valid": self.valid}


def describe() -> dict:
    """Each field's default and valid values, for the page's form and its error messages."""
    out = {}
    for name, default in FIELDS.items():
        out[name] = {"default": default, "valid": _valid(name)}
    return out


def _valid(name: str) -> str:
    if name == "dataset":
        return ", ".join(TOY_SETS) + ", points:<id of an uploaded set>"
    if name == "model":
        return ", ".join(MODELS)
    if name in BOUNDS:
        lo, hi = BOUNDS[name]
        return f"an integer from {lo} to {hi:,}"
    return valid_values(name)


def parse(params: dict, uploads: Path) -> TrainConfig:
    """The playground's parameters (strings from a URL or typed JSON) as the config it trains.
    uploads: the folder holding uploaded sets (points:<id> resolves there)."""
    if not isinstance(params, dict):
        raise Invalid("config", f"expected an object of parameters, got {type(params).__name__}", ", ".join(FIELDS))
    spec = {f.name: f for f in fields(TrainConfig)}
    values = dict(FIELDS)
    for key, raw in params.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            raise Invalid(str(key)[:64] or "(empty name)", f"unknown parameter {str(key)[:64]!r}",
                          "one of " + ", ".join(FIELDS))
        if raw is None or isinstance(raw, (list, dict)):
            raise Invalid(name, f"{name}={raw!r} is not a single value", _valid(name))
        if isinstance(raw, str) and len(raw) > 200:
            raise Invalid(name, f"{name} is {len(raw)} characters long", _valid(name))
        try:
            v = coerce(spec[name], raw, "playground")
            if isinstance(v, str):
                v = v.strip()
            if name in BOUNDS and not BOUNDS[name][0] <= v <= BOUNDS[name][1]:
                raise UsageError(f"{name}={v!r} is out of range")
            if name == "model" and v not in MODELS:
                raise UsageError(f"model={v!r} is not one of the playground's models")
            if name == "dataset":
                v = _dataset(v, uploads)
            elif name in RULES:
                check(name, v)
        except UsageError as e:
            raise Invalid(name, _plain(str(e)), _valid(name)) from None
        values[name] = v
    if values["dataset"] in TOY_SETS and values["n_per_class"] * _classes(values) > MAX_POINTS:
        raise Invalid("n_per_class", f"{values['n_per_class']} points per class x {_classes(values)} classes is "
                      f"over {MAX_POINTS:,} points", f"at most {MAX_POINTS // _classes(values):,} per class")
    try:
        cfg = TrainConfig(**values, device="cpu")  # cross-field rules (nesterov needs momentum, ...)
    except UsageError as e:
        msg = str(e)
        name = next((n for n in FIELDS if msg.startswith(n + "=")), "config")
        raise Invalid(name, msg, _valid(name) if name != "config" else msg) from None
    widths = hidden_widths(cfg)
    if cfg.widths and (len(widths) > MAX_DEPTH or max(widths) > MAX_WIDTH):
        raise Invalid("widths", f"widths={cfg.widths!r} is over the playground's {MAX_DEPTH} layers of "
                      f"{MAX_WIDTH} units",
                      f"1 to {MAX_DEPTH} integers from 1 to {MAX_WIDTH}, joined by x (8x8x4)")
    return cfg


DATA_FIELDS = ("dataset", "n_per_class", "classes", "noise", "test_frac", "data_seed")


def parse_data(params: dict, uploads: Path) -> TrainConfig:
    """Only the data fields of `params` (the rest at their defaults): the points the page can draw while
    another field is invalid. Raises Invalid for a bad data field."""
    if not isinstance(params, dict):
        return parse(params, uploads)
    return parse({k: v for k, v in params.items() if str(k).replace("-", "_") in DATA_FIELDS}, uploads)


def playground_link(config: dict, uploads: Path) -> str | None:
    """The playground's query string for a stored run's config ("" when all are at the playground's
    defaults), or None when the playground cannot train it (another data set, model or field it
    does not have). Checked by `parse`, as a setup from the page is."""
    from urllib.parse import urlencode

    defaults = {f.name: f.default_factory() if callable(f.default_factory) else f.default
                for f in fields(TrainConfig)}
    for k, v in config.items():  # a field the playground does not set must be at nnstudy's default
        if k not in FIELDS and k not in _NO_NUMBER and k in defaults and v != defaults[k]:
            return None
    values = {k: config[k] for k in FIELDS if k in config}
    ds = str(values.get("dataset", ""))
    if ds.startswith("points:"):
        path = Path(ds[len("points:"):])
        if path.parent != uploads or not UPLOAD_ID.fullmatch(path.stem):
            return None
        values["dataset"] = "points:" + path.stem
    try:
        cfg = parse(values, uploads)
    except Invalid:
        return None
    pub = public(cfg)
    return urlencode({k: _url(v) for k, v in pub.items() if v != FIELDS[k]})


# fields that change how a run executes, never its numbers (and data_dir: image sets only)
_NO_NUMBER = ("device", "threads", "amp", "channels_last", "compile", "checkpoint", "extra", "data_dir", "download")


def _url(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else str(v)


def _classes(values: dict) -> int:
    return values["classes"] if values["dataset"] == "spiral" else 2


def _plain(msg: str) -> str:
    return msg.removeprefix("playground: ")


def _dataset(v: str, uploads: Path) -> str:
    if v in TOY_SETS:
        return v
    if v.startswith("points:") and UPLOAD_ID.fullmatch(v[len("points:"):]):
        path = uploads / f"{v[len('points:'):]}.npz"
        if not path.is_file():
            raise UsageError(f"dataset={v!r}: no uploaded set by that id (upload it again)")
        return f"points:{path}"
    raise UsageError(f"dataset={v[:64]!r} is not valid")


def public(cfg: TrainConfig) -> dict:
    """The config as the page and its URL hold it: only the playground's fields, an upload by id."""
    out = {name: getattr(cfg, name) for name in FIELDS}
    if cfg.dataset.startswith("points:"):
        out["dataset"] = "points:" + Path(cfg.dataset[len("points:"):]).stem
    return out
