"""One playground training: data, model and a `train.Stepper` on the server; frames for the page.

A frame is what the browser draws after some steps: the step, loss and accuracy on train and test
(evaluated on the spot, eval mode: the value at step s describes the model after s updates), the
decision regions (class probabilities on a GRID x GRID lattice over the data's extent, quantised to
bytes), each layer's gradient norm at the latest step, and each hidden unit's response over the
plane as a small map. Everything here runs in one worker thread at a time (the session's lock).
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.models import build_model
from nnstudy.train import Stepper

GRID = 64  # decision-region lattice: GRID x GRID points
UNIT_GRID = 16  # each hidden unit's map: UNIT_GRID x UNIT_GRID points
MAX_UNIT_MAPS = 16  # maps drawn per hidden layer (the first units)
MAX_SHOWN_POINTS = 4000  # points sent to the page per split (all of them below this)
_SEEDED = threading.Lock()  # held from torch.manual_seed to the model's last initial weight


class Session:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.data = load_dataset(cfg)
        self.bounds = _bounds(self.data)
        self.grid = _lattice(self.bounds, GRID)  # (GRID*GRID, 2), row 0 at the top (largest x2)
        self.unit_grid = _lattice(self.bounds, UNIT_GRID)
        self.grads: list[float] = []
        self.frame_seconds = 0.005  # what a frame takes to build (a running average; see tick)
        self.beat: float | None = None  # when the next frame is due (perf_counter seconds; see tick)
        self.reset()

    def reset(self) -> None:
        """The same initial weights as the start, and as `nnstudy train` with this config: the seed is
        set just before the model is built, after the data is loaded."""
        with _SEEDED:  # torch's global stream: another session's thread must not draw between seed and build
            torch.manual_seed(self.cfg.seed)
            self.model = build_model(self.cfg, self.data.input_shape, self.data.num_classes)
        self.layers = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        self.want_grads = False
        self.stepper = Stepper(self.model, self.data, self.cfg, hook=self._hook)
        self.grads: list[float | None] = [None] * len(self.layers)  # None: no step taken yet
        self.updates: list[float | None] = [None] * len(self.layers)
        self._before = [m.weight.detach().clone() for m in self.layers]  # the weights before the latest update

    def _hook(self, step: int, model: nn.Module) -> None:
        """After backward, before the update: each layer's weight-gradient norm, and its weights (copied
        into a buffer), so that the update the optimizer then makes can be measured (see _measure_update)."""
        if self.want_grads:
            norms = torch.stack([m.weight.grad.norm() for m in self.layers])
            self.grads = norms.tolist()
            for b, m in zip(self._before, self.layers):
                b.copy_(m.weight.detach())

    @torch.no_grad()
    def _measure_update(self) -> None:
        """Each layer's relative update at the latest step, ||W_after - W_before|| / ||W_before||: the step
        the optimizer really took. With SGD it is lr x the gradient's size over the weights'; Adam and
        RMSprop rescale each parameter's step, so their gradient bars do not say how fast a layer learns."""
        self.updates = [_num(((m.weight - b).norm() / b.norm().clamp(min=1e-30)).item())
                        for b, m in zip(self._before, self.layers)]

    @property
    def done(self) -> bool:
        return self.stepper.result is not None

    def train_for(self, seconds: float, max_steps: int | None = None) -> int:
        """Steps for about `seconds` (at most max_steps); the last one records gradient norms."""
        t0, taken, per_step = time.perf_counter(), 0, None
        while not self.done and (max_steps is None or taken < max_steps):
            left = seconds - (time.perf_counter() - t0)
            if left <= 0:
                break
            # chunks sized to end near the deadline: a frame late by a long chunk is a frame lost
            n = 2 if per_step is None else max(1, min(256, int(left / per_step)))
            if max_steps is not None:
                n = min(n, max_steps - taken)
            t = time.perf_counter()
            self.want_grads = True  # one norm per layer per step: a few microseconds
            k = self.stepper.advance(n)
            taken += k
            if k:
                per_step = (time.perf_counter() - t) / k
        self.want_grads = False
        if taken:
            self._measure_update()
        return taken

    def verdict(self) -> list[dict]:
        """What the numbers say went wrong, as the page shows it: {code, short, text}. For a finished
        run, `experiment.learning_warnings` decides (the same function that judges stored runs, so a
        playground run says what Save as run will store); at any step, "dead" when every weight
        gradient of the latest step is exactly zero (no unit passes a gradient: dead ReLUs)."""
        from nnstudy.experiment import learning_warnings

        out = []
        res = self.stepper.result
        if res is not None and res.status == "complete":
            for w in learning_warnings(res, self.data.y_train):
                code, _, text = w.partition(": ")
                out.append({"code": code, "short": self._short(code, res), "text": text})
        if self.grads and all(g == 0.0 for g in self.grads):
            out.append({"code": "dead", "short": "dead units: every gradient is zero",
                        "text": "every layer's weight gradient was exactly zero at the latest step: no unit "
                                "passes a gradient (dead ReLUs, typically after a too-large step), so "
                                "nothing can learn from here; Reset with a smaller lr"})
        return out

    @staticmethod
    def _short(code: str, res) -> str:
        if code == "loss-rose":
            first = next((r[3] for r in sorted(res.records, key=lambda r: r[0])
                          if r[1] == "train" and r[2] == "loss"), None)
            return f"loss rose ({first:.2f} -> {res.final['train_loss']:.2f})"
        if code == "at-chance":
            return "accuracy at chance"
        return code

    def tick(self, period: float) -> dict:
        """Train, then build a frame, so that frames leave on a fixed beat of `period` seconds: the
        training stops in time for the frame to be built by the beat. The beat is absolute, so time
        lost between calls (sending, a busy CPU) shortens the next training rather than delaying
        every frame after it; more than a period behind, the beat restarts from now. One call, one
        thread hop."""
        now = time.perf_counter()
        if self.beat is None or now > self.beat + period:
            self.beat = now + period
        self.train_for(max(0.002, self.beat - now - self.frame_seconds))
        t = time.perf_counter()
        out = self.frame()
        self.frame_seconds = 0.8 * self.frame_seconds + 0.2 * (time.perf_counter() - t)
        self.beat += period
        return out

    def points(self) -> dict:
        return points(self.data)

    @torch.no_grad()
    def frame(self) -> dict:
        """What the page draws now (see the module's docstring)."""
        model, d = self.model, self.data
        result = self.stepper.result
        metrics = {}
        for split, (x, y) in (("train", (d.x_train, d.y_train)), ("test", (d.x_test, d.y_test))):
            if len(x):
                v = self.stepper.run.task.evaluate(model, d, x, y)
                metrics.update({f"{split}_loss": _num(v["loss"]), f"{split}_acc": v["acc"]})
        was = model.training
        model.eval()
        try:
            probs = _probabilities(model(self.grid), self.cfg.loss)  # (GRID*GRID, C)
            units = _unit_maps(model, self.unit_grid)
        finally:
            model.train(was)
        q = (probs.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        return {"type": "frame", "step": self.stepper.step, "total": self.cfg.steps, "metrics": metrics,
                "grid": GRID, "probs": base64.b64encode(q.tobytes()).decode(),
                "grads": [_num(g) if g is not None else None for g in self.grads],
                "layers": [f"{m.in_features}->{m.out_features}" for m in self.layers],
                "units": units, "unit_grid": UNIT_GRID, "done": result is not None,
                "updates": [_num(u) if u is not None else None for u in self.updates],
                "optimizer": self.cfg.optimizer, "verdict": self.verdict(),
                "status": result.status if result else "training", "error": result.error if result else None,
                "computed": time.time() * 1000.0}


def _bounds(data) -> list[float]:
    """The plane the page draws: the data's extent and 8% around it."""
    x = torch.cat([data.x_train, data.x_test])
    lo, hi = x.min(0).values, x.max(0).values
    pad = (hi - lo).clamp(min=1e-3) * 0.08
    return [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])]


def points(data) -> dict:
    """A data set's train and test points as the page draws them (also before any model is valid)."""
    return {"train": _pts(data.x_train, data.y_train), "test": _pts(data.x_test, data.y_test),
            "classes": data.num_classes, "bounds": _bounds(data)}


def _lattice(bounds: list[float], n: int) -> torch.Tensor:
    xs = torch.linspace(bounds[0], bounds[1], n)
    ys = torch.linspace(bounds[3], bounds[2], n)  # top row first: the canvas's y grows downwards
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx.flatten(), gy.flatten()), 1)


def _probabilities(out: torch.Tensor, loss: str) -> torch.Tensor:
    """The class shares the page shades: softmax for cross-entropy; for BCE and MSE, whose outputs
    are per-class scores, the sigmoids (BCE) or clipped outputs (MSE) normalised to sum to 1."""
    if loss == "cross_entropy":
        return F.softmax(out, 1)
    s = torch.sigmoid(out) if loss == "bce" else out.clamp(0, 1)
    total = s.sum(1, keepdim=True)
    return torch.where(total > 0, s / total.clamp(min=1e-12), torch.full_like(s, 1 / s.shape[1]))


def _unit_maps(model: nn.Module, grid: torch.Tensor) -> list[dict]:
    """Each hidden layer's first units over the plane, each map scaled from its own lowest to its
    highest output into bytes 0..255 (a sigmoid unit's outputs are all positive: a scale by sign would
    show nothing). MLPs and the linear net have hidden layers; softmax regression has none."""
    if hasattr(model, "features") and hasattr(model, "net"):  # models.mlp.WithFeatures: the net sees the features
        grid, model = model.features(grid), model.net
    layers = list(getattr(model, "hidden", []))
    outs = []
    if layers:
        h = grid
        for layer in layers:
            h = layer(h)
            outs.append(h)
    elif hasattr(model, "net"):  # LinearNet: Linear -> Linear
        outs.append(model.net[0](grid))
    maps = []
    for i, h in enumerate(outs):
        h = h[:, :MAX_UNIT_MAPS]  # (n*n, k)
        lo, hi = h.amin(0), h.amax(0)
        span = hi - lo
        q = torch.where(span > 1e-6 * hi.abs().clamp(min=1), (h - lo) / span.clamp(min=1e-12), torch.full_like(h, 0.5))
        constant = (span <= 1e-6 * hi.abs().clamp(min=1)).tolist()  # the same output everywhere: a dead unit
        q = (q * 255).round().clamp(0, 255).to(torch.uint8).T.contiguous().numpy()  # (k, n*n)
        maps.append({"layer": i + 1, "units": int(q.shape[0]), "of": int(outs[i].shape[1]),
                     "maps": base64.b64encode(q.tobytes()).decode(), "constant": constant})
    return maps


def _pts(x: torch.Tensor, y: torch.Tensor) -> list:
    if len(x) > MAX_SHOWN_POINTS:
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:MAX_SHOWN_POINTS]
        x, y = x[idx], y[idx]
    return np.round(np.column_stack([x.numpy(), y.numpy()]), 4).tolist()


def _num(v: float) -> float | None:
    return v if v == v and abs(v) != float("inf") else None


def save_run(session: Session, store, name: str | None = None) -> dict:
    """The session's training so far as an ordinary run in `store`: its config with steps = the steps
    taken (so `nnstudy train --config <run>/config.toml` trains exactly this), its records, final
    numbers, warnings and weights, stored as `nnstudy train` stores a run; plus config.toml."""
    from nnstudy.experiment import finish_run, run_result
    from nnstudy.store import atomic_write

    res = session.stepper.so_far()
    if res.steps < 1:
        raise ValueError("nothing trained yet: take at least one step before saving")
    cfg = session.cfg.replace(steps=res.steps)
    run_id = store.create_run("train", cfg.to_dict(), name=name or run_name(cfg, session.data.name),
                              seed=cfg.seed, digest=cfg.digest(), device="cpu")
    store.log_metrics(run_id, res.records)
    out = run_result(run_id, res, cfg, session.model, session.data)
    finish_run(store, out, session.data, source="nnstudy serve")
    atomic_write(store.run_dir(run_id) / "config.toml", to_toml(cfg.to_dict()))
    return {"type": "saved", "run": run_id, "status": out.status, "final": out.final, "steps": out.steps,
            "config_toml": str(store.run_dir(run_id) / "config.toml"), "warnings": out.warnings}


def run_name(cfg: TrainConfig, data_name: str) -> str:
    """A saved run's name says what was tried: "playground: relu mlp 1x100, adam lr 0.001, spiral"."""
    if cfg.model == "mlp":
        acts = cfg.activations or cfg.activation
        net = f"{acts} mlp {cfg.widths or f'{cfg.depth}x{cfg.width}'}"
    else:
        net = {"linear": "linear net", "logistic": "softmax regression"}.get(cfg.model, cfg.model)
    opt = cfg.optimizer + (" nesterov" if cfg.nesterov else "")
    opt += f" momentum {cfg.momentum:g}" if cfg.momentum else ""
    data = "uploaded points" if data_name.startswith("points") else data_name
    return f"playground: {net}, {opt} lr {cfg.lr:g}, {data}"


def to_toml(d: dict) -> str:
    """A flat TOML file of a config's fields (what `nnstudy train --config` reads)."""
    import json

    lines = ["# nnstudy train --config this-file reproduces the run", "[train]"]
    for k, v in d.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, (int, float)):
            lines.append(f"{k} = {v!r}")
        elif isinstance(v, str):
            lines.append(f"{k} = {json.dumps(v)}")  # a JSON string is a TOML basic string
        elif isinstance(v, dict) and not v:
            continue  # extra: empty
    return "\n".join(lines) + "\n"
