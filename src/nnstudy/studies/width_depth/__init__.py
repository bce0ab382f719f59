"""Q4 of the week: is a wider or a deeper network better?

The week answered in prose (deeper: richer features but harder to train; wider: more features per
layer but redundant and prone to overfit). This study measures it at equal parameter counts:
(1) a grid of parameter budgets x depths of ReLU MLPs, the width of each solved so that every depth
of a budget has (nearly) the same number of parameters, on the spiral and on Fashion-MNIST (a
subset): held-out accuracy against parameters, training time, and how many runs of each depth
reach a target accuracy (and after how many steps, on the validation curve);
(2) Atcold's MLP vs CNN at equal parameters (06-convnet: 784-8-8-10, 6,442 parameters, vs a
two-conv CNN, 6,422), here on Fashion-MNIST and on the same images with their pixels shuffled by
one fixed permutation: the permutation takes nothing from a fully connected net (it only
relabels inputs) and everything a convolution assumes (neighbouring pixels belong together).
"""

from __future__ import annotations

from dataclasses import dataclass

from nnstudy.config import TrainConfig
from nnstudy.models.summary import summarize
from nnstudy.studies import QUESTIONS, Entry, Profile, Study, StudyContext, fmt_ms, mean_std, register_study
from nnstudy.threads import torch_threads


@dataclass(frozen=True)
class WidthDepthProfile(Profile):
    spiral_n: int  # spiral points per class
    spiral_steps: int  # full-batch Adam steps
    spiral_budgets: tuple[int, ...]  # parameter budgets on the spiral
    spiral_depths: tuple[int, ...]  # depths at each budget
    fashion_subset: int  # Fashion-MNIST training images (0: all)
    fashion_epochs: int  # epochs of batches of 128
    fashion_budgets: tuple[int, ...]  # parameter budgets on Fashion-MNIST
    fashion_depths: tuple[int, ...]  # depths at each budget
    pair_subset: int  # MLP vs CNN, Atcold's recipe (SGD lr 0.01 momentum 0.5, batches of 64): training images (0: all)
    pair_epochs: int  # its epochs
    pair_test: int  # its test images (0: all 10,000)
    # torch CPU threads per run (0: torch's default). These nets are small: a second thread buys little,
    # and on a shared CPU two threads wait for each other (benchmarks/results/notes.md).
    threads: int


PROFILES = {
    "quick": WidthDepthProfile(spiral_n=200, spiral_steps=400, spiral_budgets=(100, 1000), spiral_depths=(1, 4),
                               fashion_subset=3000, fashion_epochs=2, fashion_budgets=(20_000,), fashion_depths=(1, 3),
                               pair_subset=6000, pair_epochs=2, pair_test=2000, threads=1),
    "default": WidthDepthProfile(spiral_n=500, spiral_steps=1000, spiral_budgets=(100, 300, 1000, 3000),
                                 spiral_depths=(1, 2, 4, 8), fashion_subset=0, fashion_epochs=4,
                                 fashion_budgets=(10_000, 50_000, 200_000), fashion_depths=(1, 2, 4), pair_subset=0,
                                 pair_epochs=1, pair_test=0, threads=1),
    "full": WidthDepthProfile(spiral_n=1000, spiral_steps=5000, spiral_budgets=(100, 300, 1000, 3000, 10_000, 30_000),
                              spiral_depths=(1, 2, 3, 4, 8), fashion_subset=0, fashion_epochs=10,
                              fashion_budgets=(10_000, 30_000, 100_000, 300_000, 1_000_000),
                              fashion_depths=(1, 2, 3, 4, 6), pair_subset=0, pair_epochs=1, pair_test=0, threads=0),
}
# Adam for the grids, its learning rate annealed to zero by a cosine schedule: a comparison of final
# accuracies is a verdict only once the runs have settled (verdicts.py), and at a constant rate the
# deep spiral nets kept oscillating and the Fashion-MNIST nets kept climbing through the last fifth
# (default profile, 2026-12-06). With the annealed rate "final" means "at the end of this budget".
RECIPE = {"spiral_lr": 1e-2, "fashion_lr": 1e-3, "fashion_batch": 128, "schedule": "cosine",
          "pair_lr": 0.01, "pair_momentum": 0.5, "pair_batch": 64}  # Atcold's SGD for the pair
TARGETS = {"spiral": 0.95, "fashion": 0.85}  # validation accuracy a run must reach (at any check) to count
SHAPES = {"spiral": (2, 3), "fashion": (784, 10)}  # (inputs, classes)
PAIR = [("FC 784-8-8-10", "mlp"), ("CNN conv6-conv6-fc50", "convnet-tiny")]
ATCOLD = {  # anchors.md: Atcold/pytorch-Deep-Learning 06-convnet, MNIST, 1 epoch
    "source": "Atcold/pytorch-Deep-Learning 06-convnet (MNIST, 1 epoch)",
    "params": {"mlp": 6442, "convnet-tiny": 6422},
    "test_acc": {("mlp", False): 0.87, ("convnet-tiny", False): 0.94, ("mlp", True): 0.87,
                 ("convnet-tiny", True): 0.83},
}


def mlp_params(width: int, depth: int, n_in: int, n_out: int) -> int:
    """Parameters of MLP(n_in -> width x depth -> n_out), biases included."""
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_out


def width_for(budget: int, depth: int, n_in: int, n_out: int) -> int:
    """The width whose MLP of `depth` hidden layers comes closest to `budget` parameters."""
    w = 1
    while mlp_params(w + 1, depth, n_in, n_out) <= budget:
        w += 1
    over = mlp_params(w + 1, depth, n_in, n_out) - budget
    return w + 1 if over < budget - mlp_params(w, depth, n_in, n_out) else w


def spiral_config(p: dict, width: int, depth: int, seed: int) -> TrainConfig:
    """A fresh spiral per seed: 20% test, 20% of the rest validation; full-batch Adam."""
    return TrainConfig(dataset="spiral", n_per_class=p["spiral_n"], test_frac=0.2, val_frac=0.2, data_seed=seed,
                       seed=seed, width=width, depth=depth, activation="relu", optimizer="adam", lr=RECIPE["spiral_lr"],
                       schedule=RECIPE["schedule"], steps=p["spiral_steps"], eval_every=10, threads=p["threads"],
                       checkpoint=False)


def fashion_config(p: dict, width: int, depth: int, seed: int) -> TrainConfig:
    """One fixed training subset (data_seed 0: batched members share it), 10% validation; seeds vary
    initialisation and batch order. Validation about 8 times an epoch."""
    n, bs = (p["fashion_subset"] or 60_000) * 0.9, RECIPE["fashion_batch"]
    return TrainConfig(dataset="fashion-mnist", train_subset=p["fashion_subset"], val_frac=0.1, data_seed=0,
                       seed=seed, width=width, depth=depth, activation="relu", optimizer="adam",
                       lr=RECIPE["fashion_lr"], schedule=RECIPE["schedule"], epochs=p["fashion_epochs"], batch_size=bs,
                       eval_every=max(1, int(n // bs) // 8),
                       threads=p["threads"], checkpoint=False)


def pair_config(p: dict, model: str, permute: bool, seed: int) -> TrainConfig:
    """Atcold's recipe: SGD lr 0.01, momentum 0.5, batches of 64; one permutation for every seed."""
    return TrainConfig(dataset="fashion-mnist", train_subset=p["pair_subset"], test_subset=p["pair_test"],
                       data_seed=0, seed=seed,
                       model=model, width=8, depth=2, activation="relu", permute_pixels=permute,
                       optimizer="sgd", lr=RECIPE["pair_lr"], momentum=RECIPE["pair_momentum"],
                       batch_size=RECIPE["pair_batch"], epochs=p["pair_epochs"],
                       threads=p["threads"], checkpoint=False)


def first_step(records: list[tuple], target: float, split: str = "val") -> int | None:
    """The first recorded step whose `split` accuracy reached `target` (None: never)."""
    hits = [s for s, sp, name, v in records if sp == split and name == "acc" and v is not None and v >= target]
    return min(hits) if hits else None


def run_grid(ctx: StudyContext, kind: str, p: dict) -> list[dict]:
    """Every (budget, depth) of one dataset over ctx.seeds, in one train_many call (same-shaped
    members batch); one row per (budget, depth)."""
    make = spiral_config if kind == "spiral" else fashion_config
    n_in, n_out = SHAPES[kind]
    shapes = [(b, d, width_for(b, d, n_in, n_out)) for b in p[f"{kind}_budgets"] for d in p[f"{kind}_depths"]]
    cfgs = [make(p, w, d, s) for _, d, w in shapes for s in ctx.seeds]
    names = [f"{kind} {w}x{d} seed {s}" for _, d, w in shapes for s in ctx.seeds]
    flat = ctx.train_many(cfgs, names)
    k, target, rows = len(ctx.seeds), TARGETS[kind], []
    for i, (budget, depth, width) in enumerate(shapes):
        runs = flat[i * k:(i + 1) * k]
        ok = [r for r in runs if r.status == "complete"]
        hits = [first_step(r.records, target) for r in ok]  # validation checks, the final one included
        rows.append({"budget": budget, "depth": depth, "width": width, "params": mlp_params(width, depth, n_in, n_out),
                     "train_acc": mean_std(r.final.get("train_acc") for r in ok),
                     "test_acc": mean_std(r.final.get("test_acc") for r in ok),
                     "seconds": mean_std(r.seconds for r in ok),
                     "reached": sum(h is not None for h in hits),
                     "steps_to_target": mean_std(h for h in hits if h is not None),
                     "n": len(ok), "diverged": len(runs) - len(ok), "runs": [r.run_id for r in runs]})
    return rows


def by_depth(rows: list[dict]) -> list[dict]:
    """Per depth, over every budget: runs that reached the target, of how many; mean seconds per run."""
    out = []
    for depth in sorted({r["depth"] for r in rows}):
        mine = [r for r in rows if r["depth"] == depth]
        out.append({"depth": depth, "reached": sum(r["reached"] for r in mine), "runs": sum(r["n"] for r in mine),
                    "seconds": mean_std(r["seconds"]["mean"] for r in mine)})
    return out


def run_pair(ctx: StudyContext, p: dict) -> list[dict]:
    """FC vs CNN at equal parameters, on the images and on their pixel-permuted twins."""
    variants = [(label, model, permute) for permute in (False, True) for label, model in PAIR]
    cfgs = [pair_config(p, m, perm, s) for _, m, perm in variants for s in ctx.seeds]
    names = [f"{lbl}{' permuted' if perm else ''} seed {s}" for lbl, _, perm in variants for s in ctx.seeds]
    flat = ctx.train_many(cfgs, names)
    k, rows = len(ctx.seeds), []
    for i, (label, model, permute) in enumerate(variants):
        runs = flat[i * k:(i + 1) * k]
        ok = [r for r in runs if r.status == "complete"]
        rows.append({"model": model, "label": label, "permuted": permute, "params": runs[0].params,
                     "n_train": ctx.store.get(runs[0].run_id)["summary"].get("n_train"),
                     "macs": summarize(runs[0].model, (1, 28, 28)).macs,
                     "train_acc": mean_std(r.final.get("train_acc") for r in ok),
                     "test_acc": mean_std(r.final.get("test_acc") for r in ok),
                     "seconds": mean_std(r.seconds for r in ok),
                     "atcold_params": ATCOLD["params"][model], "atcold_acc": ATCOLD["test_acc"][(model, permute)],
                     "n": len(ok), "diverged": len(runs) - len(ok), "runs": [r.run_id for r in runs]})
    return rows


def terminal_table(grids: dict, pair: list[dict]) -> list[dict]:
    table = [{"part": kind, "config": f"{r['width']} wide x {r['depth']} deep", "params": r["params"],
              "held-out acc": fmt_ms(r["test_acc"]), "train acc": fmt_ms(r["train_acc"]),
              "reached target (val)": f"{r['reached']}/{r['n']}", "seconds/run": fmt_ms(r["seconds"], 2),
              "published": ""} for kind, rows in grids.items() for r in rows]
    table += [{"part": "MLP vs CNN" + (" (permuted)" if r["permuted"] else ""), "config": r["label"],
               "params": r["params"], "held-out acc": fmt_ms(r["test_acc"]), "train acc": fmt_ms(r["train_acc"]),
               "reached target (val)": "", "seconds/run": fmt_ms(r["seconds"], 2),
               "published": f"{r['atcold_acc']:.2f} (Atcold, MNIST)"} for r in pair]
    return table


@register_study
class WidthDepthStudy(Study):
    name = "width-depth"
    title = "Q4. Is a wider or a deeper network better?"
    help = ("Q4 wider or deeper? parameter-matched MLP grid on spiral and Fashion-MNIST; "
            "MLP vs CNN at equal parameters, on original and pixel-permuted images")
    entries = (Entry(QUESTIONS, 4, "Q4. Is a wider or a deeper network better?",
                     "\u201cIt depends on the task. Deeper: more levels of features, better on large data sets, "
                     "but harder to train (vanishing or exploding gradients) and costlier. Wider: more features in "
                     "shallow layers, but redundant neurons and overfitting on small data.\u201d"),)
    default_seeds = {"quick": 2, "default": 3, "full": 5}

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        with torch_threads(p["threads"]):
            ctx.log("width-depth (1/3): parameter-matched MLPs on the spiral")
            grids = {"spiral": run_grid(ctx, "spiral", p)}
            ctx.log("width-depth (2/3): parameter-matched MLPs on Fashion-MNIST")
            grids["fashion"] = run_grid(ctx, "fashion", p)
            ctx.log("width-depth (3/3): MLP vs CNN at equal parameters, original and pixel-permuted")
            pair = run_pair(ctx, p)
        return {"grids": grids, "by_depth": {k: by_depth(v) for k, v in grids.items()}, "pair": pair,
                "val_acc_targets": TARGETS, "atcold_source": ATCOLD["source"],
                "settings": {**{k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}, **RECIPE},
                "table": terminal_table(grids, pair)}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.width_depth.figures import draw_width_depth

        return draw_width_depth(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.width_depth.report import width_depth_section

        return width_depth_section(store, run, self.title)
