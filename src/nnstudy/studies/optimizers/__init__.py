"""Q6 of the week: which is more effective, SGD or Adam?

The week answered: SGD suits settings that need global convergence and little memory; Adam
suits complex models and usually converges faster. Six optimizers (SGD, SGD + momentum 0.9,
Nesterov, RMSprop, Adam, AdamW with decoupled weight decay 0.01) are measured on:
- the spiral and Fashion-MNIST over a log grid of learning rates, every point over seeds
  (batched where the trainer can): held-out accuracy against learning rate (sensitivity), the
  best learning rate chosen on the validation split, then its test accuracy, train/test gap and
  training-loss curve;
- the memory of optimizer state: bytes of the tensors in `optimizer.state_dict()` after one
  step, per parameter, measured on the Fashion-MNIST net;
- 2-D trajectories with torch.optim on a 2-parameter tensor (no dataset): the Rosenbrock valley
  and a rotated ill-conditioned quadratic, each optimizer at its best learning rate from a grid
  (lowest final value), saved to the study's run folder (trajectories.json).
"""

from __future__ import annotations

import math

import torch

from nnstudy.config import TrainConfig
from nnstudy.models import build_model
from nnstudy.optim import make_loss, make_optimizer
from nnstudy.store import atomic_write, to_json
from nnstudy.studies import (
    QUESTIONS,
    Entry,
    Study,
    StudyContext,
    fmt_ms,
    mean_std,
    register_study,
    train_over_seeds,
    train_test_gap,
)
from nnstudy.studies.shared import best_by, fashion_config, spiral_config

VARIANTS = {  # name -> TrainConfig fields
    "SGD": dict(optimizer="sgd"),
    "SGD+momentum": dict(optimizer="sgd", momentum=0.9),
    "Nesterov": dict(optimizer="sgd", momentum=0.9, nesterov=True),
    "RMSprop": dict(optimizer="rmsprop"),
    "Adam": dict(optimizer="adam"),
    "AdamW": dict(optimizer="adamw", weight_decay=0.01),
}
NET = {"spiral": dict(width=100, depth=1), "fashion": dict(width=128, depth=2)}
LRS = {  # learning-rate grids (log spaced) per profile and dataset
    "quick": {"spiral": (1e-2, 1e-1, 1.0), "fashion": (1e-3, 1e-1)},
    # the spiral's grid reaches 10: at 1 (its top before) plain SGD was best, at the edge (#18)
    "default": {"spiral": (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0), "fashion": (1e-4, 1e-3, 1e-2, 1e-1, 1.0)},
    "full": {"spiral": tuple(10 ** (k / 4) for k in range(-16, 3)),
             "fashion": tuple(10 ** (k / 2) for k in range(-8, 1))},
}
NEAR_BEST = 0.02  # validation accuracy: learning rates this close to an optimizer's best count as "good"
SURFACE_STEPS = {"quick": 200, "default": 500, "full": 2000}
SURFACE_LRS = tuple(10 ** (k / 2) for k in range(-8, 1))  # 1e-4 .. 1, half decades
TRAJECTORIES = "trajectories.json"


# -- datasets: learning-rate grids over seeds ------------------------------------------------------
def run_grid(ctx: StudyContext, key: str) -> dict:
    make = spiral_config if key == "spiral" else fashion_config
    variants = [(f"{opt} lr={lr:g}", lambda s, o=opt, lr=lr: make(ctx.profile, s, lr=lr, **VARIANTS[o], **NET[key]))
                for opt in VARIANTS for lr in LRS[ctx.profile][key]]
    rows, results = train_over_seeds(ctx, variants)
    lrs = LRS[ctx.profile][key]
    for i, (row, res) in enumerate(zip(rows, results)):
        ok = [r for r in res if r.status == "complete"]
        row.update(optimizer=list(VARIANTS)[i // len(lrs)], lr=lrs[i % len(lrs)],
                   gap=mean_std(train_test_gap(r.final) for r in ok),
                   seconds=mean_std(r.seconds for r in ok))
    best = []
    for opt in VARIANTS:
        mine = [r for r in rows if r["optimizer"] == opt]
        top = dict(best_by(mine, "val_acc"))
        near = [r["lr"] for r in mine if r["val_acc"]["mean"] is not None and top["val_acc"]["mean"] is not None
                and r["val_acc"]["mean"] >= top["val_acc"]["mean"] - NEAR_BEST]
        best.append({**top, "near_best": len(near), "of": len(mine), "near_best_lrs": near})
    return {"grid": rows, "best": best}


# -- memory of optimizer state ---------------------------------------------------------------------
def state_bytes(ctx: StudyContext) -> dict:
    """Bytes of every tensor in each optimizer's state_dict after one step on the Fashion net
    (state is created lazily, at the first step), per parameter of the net."""
    out = {}
    for name, fields in VARIANTS.items():
        cfg = fashion_config(ctx.profile, 0, lr=1e-3, **fields, **NET["fashion"])
        torch.manual_seed(0)
        model = build_model(cfg, (1, 28, 28), 10)
        opt = make_optimizer(cfg, model.parameters())
        x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
        make_loss(cfg, 10)(model(x), y).backward()
        opt.step()
        tensors = [v for st in opt.state_dict()["state"].values() for v in st.values() if torch.is_tensor(v)]
        kinds = sorted({k for st in opt.state_dict()["state"].values() for k, v in st.items() if torch.is_tensor(v)})
        n = sum(p.numel() for p in model.parameters())
        total = sum(t.numel() * t.element_size() for t in tensors)
        out[name] = {"bytes": total, "params": n, "bytes_per_param": total / n, "state": kinds}
    return out


# -- 2-D surfaces ----------------------------------------------------------------------------------
ANGLE, KAPPA = math.radians(30), 50.0  # the quadratic: eigenvalues 1 and KAPPA, axes rotated 30 degrees


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def quadratic(p: torch.Tensor) -> torch.Tensor:
    c, s = math.cos(ANGLE), math.sin(ANGLE)
    u, v = c * p[0] + s * p[1], -s * p[0] + c * p[1]  # coordinates along the eigenvectors
    return 0.5 * (u ** 2 + KAPPA * v ** 2)


SURFACES = {  # name -> (function, start, minimum)
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0)),
    "quadratic": (quadratic, (-4.0, 2.0), (0.0, 0.0)),
}


def descend(fn, start, fields: dict, lrs, steps: int) -> list[tuple[list, list, bool]]:
    """torch.optim on (2,) tensors, one per learning rate, each in its own param group of one
    optimizer (groups never interact: one loop instead of len(lrs)). Returns per lr the path
    [(x, y)] and values f, steps + 1 points each, and whether it blew up (a value not finite or
    above 1e12: the path is frozen at its last good point)."""
    ps = [torch.tensor(start, dtype=torch.float64, requires_grad=True) for _ in lrs]
    opt = make_optimizer(TrainConfig(**fields), [{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)])
    paths, vals = [[] for _ in lrs], [[] for _ in lrs]
    blown = [False] * len(lrs)
    for t in range(steps + 1):
        P = torch.stack(ps, 1)  # (2, L): row 0 the x of every run, row 1 the y
        f = fn(P)  # (L,)
        for i, (xy, v) in enumerate(zip(P.detach().T.tolist(), f.tolist())):
            blown[i] = blown[i] or not math.isfinite(v) or v > 1e12
            paths[i].append(paths[i][-1] if blown[i] else xy)
            vals[i].append(vals[i][-1] if blown[i] else v)
        if t == steps:
            break
        opt.zero_grad()
        f.sum().backward()  # each p gets exactly its own gradient
        opt.step()
    return list(zip(paths, vals, blown))


def run_surfaces(ctx: StudyContext) -> tuple[dict, dict]:
    """Per surface and optimizer: the lr grid's final values, the best lr (lowest final value
    after all steps; a run that blew up does not count) and its trajectory."""
    steps, summary, paths = SURFACE_STEPS[ctx.profile], {}, {}
    for sname, (fn, start, minimum) in SURFACES.items():
        summary[sname], paths[sname] = {"start": list(start), "minimum": list(minimum), "optimizers": {}}, {}
        for name, fields in VARIANTS.items():
            runs = descend(fn, start, fields, SURFACE_LRS, steps)
            finals = {lr: (None if blown else vals[-1]) for lr, (_, vals, blown) in zip(SURFACE_LRS, runs)}
            ok = [i for i, lr in enumerate(SURFACE_LRS) if finals[lr] is not None]
            best = min(ok, key=lambda i: finals[SURFACE_LRS[i]]) if ok else 0
            path, vals, _ = runs[best]
            lr = SURFACE_LRS[best]
            below = next((i for i, v in enumerate(vals) if v < 1e-3), None)  # steps to f < 1e-3
            summary[sname]["optimizers"][name] = {
                "lr": lr, "final": vals[-1], "distance": math.dist(path[-1], minimum), "steps_to_1e-3": below,
                "grid": [{"lr": k, "final": v} for k, v in finals.items()]}
            paths[sname][name] = {"lr": lr, "path": path, "values": vals}
    atomic_write(ctx.folder / TRAJECTORIES, to_json({"steps": steps, "surfaces": paths}))
    return summary, {"file": TRAJECTORIES, "steps": steps, "lrs": list(SURFACE_LRS), "kappa": KAPPA,
                     "angle_deg": math.degrees(ANGLE), "good": 1e-3}


@register_study
class OptimizersStudy(Study):
    name = "optimizers"
    title = "SGD or Adam?"
    help = "Q6: SGD, momentum, Nesterov, RMSprop, Adam, AdamW: lr sensitivity, gap, memory, paths"
    entries = (Entry(QUESTIONS, 6, "Q6. Which is more effective, SGD or Adam?",
                     "\u201cSGD suits settings that need global convergence and little memory; Adam suits the "
                     "complex optimisation of deep learning, usually converging faster and doing better on "
                     "complex models.\u201d"),)
    default_seeds = {"quick": 2, "default": 3, "full": 10}

    def run(self, ctx: StudyContext) -> dict:
        ctx.log("optimizers (1/4): 2-D surfaces (Rosenbrock, ill-conditioned quadratic)")
        surfaces, surface_settings = run_surfaces(ctx)
        ctx.log("optimizers (2/4): memory of optimizer state")
        memory = state_bytes(ctx)
        ctx.log("optimizers (3/4): spiral, learning-rate grid x seeds")
        spiral = run_grid(ctx, "spiral")
        ctx.log("optimizers (4/4): Fashion-MNIST, learning-rate grid x seeds")
        fashion = run_grid(ctx, "fashion")
        table = [{"dataset": ds, "optimizer": b["optimizer"], "best lr (val)": f"{b['lr']:g}",
                  "test acc": fmt_ms(b["test_acc"]), "train - test": fmt_ms(b["gap"]),
                  "state bytes/param": f"{memory[b['optimizer']]['bytes_per_param']:.2f}",
                  "rosenbrock final f": f"{surfaces['rosenbrock']['optimizers'][b['optimizer']]['final']:.2g}"}
                 for ds, res in (("spiral", spiral), ("fashion-mnist", fashion)) for b in res["best"]]
        return {"spiral": spiral, "fashion": fashion, "memory": memory, "surfaces": surfaces,
                "variants": VARIANTS, "lrs": LRS[ctx.profile], "near_best": NEAR_BEST,
                "settings": {"spiral": spiral_config(ctx.profile, 0, **NET["spiral"]).to_dict(),
                             "fashion": fashion_config(ctx.profile, 0, **NET["fashion"]).to_dict(),
                             "surfaces": surface_settings},
                "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.optimizers.figures import draw_optimizers

        return draw_optimizers(store, run, folder, SURFACES)

    def section(self, store, run):
        from nnstudy.studies.optimizers.report import optimizers_section

        return optimizers_section(store, run, self.title)
