"""Image baselines on Fashion-MNIST: softmax regression, an MLP, LeNet-5 and the fast conv net.

The week ends with "CNNs, MNIST, CIFAR-10, VGG16"; before any architecture question, the ladder
of baselines says what a convolution buys on real images. Each rung is trained over seeds (each
seed its own training subset, validation split, initialisation and order) and scored once on the
test set; the table sits next to the published Fashion-MNIST numbers of anchors.md.

The quick and default profiles train every model the same way (Adam, constant learning rate,
batches of 64, no augmentation) on a subset for a couple of epochs: equal budgets, so the gaps
are the models'. `full` trains the conv nets with their recipes as written (`nnstudy recipes`:
fmnist-lenet5, fmnist-fast) on the whole set, the recipes' target setting. CPU budgets are small,
so default-profile numbers sit below the published ones, which trained longer on 60,000 images:
compare the ordering and the gaps, not the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnstudy.config import TrainConfig
from nnstudy.data.vision import where
from nnstudy.recipes import RECIPES
from nnstudy.studies import (
    NEXT_WEEK,
    Entry,
    Profile,
    Study,
    StudyContext,
    fmt_ms,
    mean_std,
    register_study,
    train_test_gap,
)


@dataclass(frozen=True)
class ImagesProfile(Profile):
    """Threads: the house's (studies.study_threads: one on a CPU, where spin-waiting OpenMP threads on
    a shared machine slow these small nets down; benchmarks/results/notes.md)."""

    train: int  # training images drawn per seed (10% of them validate); 0: all 60,000
    test: int  # test images scored (one fixed draw); 0: all 10,000
    epochs: int | None  # passes of the short setting; None: the recipes as written
    batch: int  # its batch size (small subsets need small batches to take enough steps)


PROFILES = {
    "quick": ImagesProfile(train=1500, test=500, epochs=1, batch=32),
    "default": ImagesProfile(train=6000, test=5000, epochs=3, batch=64),
    "full": ImagesProfile(train=0, test=0, epochs=None, batch=0),
}
# quick/default: one short-budget setting for every model (constant lr: the MLPs are batchable)
SHORT = dict(optimizer="adam", lr=2e-3, momentum=0.0, nesterov=False, weight_decay=0.0, schedule="constant",
             batch_size=64, augment=False, label_smoothing=0.0, tta=False)
MLP_FULL = dict(optimizer="adam", lr=1e-3, batch_size=128, epochs=10)  # full: the MLPs' own setting
ARCH = ("model", "activation", "width", "depth", "batch_norm", "dropout")  # what a rung takes from its recipe
RUNGS = [  # (key, label, recipe or None, fields)
    ("logistic", "softmax regression", None, dict(model="logistic")),
    ("mlp", "MLP 256-256 (ReLU)", None, dict(model="mlp", width=256, depth=2)),
    ("lenet5", "LeNet-5 (BN, ReLU, max pool)", "fmnist-lenet5", {}),
    ("fast", "fast conv net", "fmnist-fast", {}),
]
PUBLISHED = {  # anchors.md, Fashion-MNIST table: (source, setup, test accuracy)
    "mlp": ("zalandoresearch/fashion-mnist benchmark", "MLP 256-128-100", 0.883),
    "lenet5": ("d2l (classic edition)", "LeNet (sigmoid, avg-pool), 10 epochs", 0.779),
    "fast": ("zalandoresearch/fashion-mnist benchmark", "2 conv layers, <100K params", 0.925),
}
OTHER_REFERENCES = [
    ("zalandoresearch/fashion-mnist benchmark", "2 conv + 2 FC, flips", 0.939),
    ("zalandoresearch/fashion-mnist benchmark", "ResNet18", 0.949),
    ("zalandoresearch/fashion-mnist benchmark", "human", 0.835),
]


def rung_config(rung: tuple, profile: str, seed: int) -> TrainConfig:
    _, _, recipe, fields = rung
    p = PROFILES[profile]
    if p["epochs"] is None:  # full: the recipes as written
        d = {**(RECIPES[recipe].fields if recipe else MLP_FULL), **fields}
    else:
        arch = {k: v for k, v in RECIPES[recipe].fields.items() if k in ARCH} if recipe else {}
        d = {**SHORT, **arch, **fields, "epochs": p["epochs"], "batch_size": p["batch"] or SHORT["batch_size"]}
    d = {**d, "dataset": "fashion-mnist", "val_frac": 0.1}
    return TrainConfig.from_dict({**d, "train_subset": p["train"], "test_subset": p["test"], "seed": seed,
                                  "data_seed": seed}, where=f"images study ({rung[0]})")


def aggregate(rung: tuple, results: list, store) -> dict:
    ok = [r for r in results if r.status == "complete"]
    key, label, recipe, _ = rung
    sizes = store.get(results[0].run_id)["summary"]  # the images the first seed's run really used
    row = {"key": key, "label": label, "recipe": recipe, "params": results[0].params,
           **{k: sizes.get(k) for k in ("n_train", "n_val", "n_test")},
           "runs": [r.run_id for r in results], "diverged": len(results) - len(ok),
           "config": {k: v for k, v in results[0].config.to_dict().items() if k not in ("seed", "data_seed")}}
    for split in ("train", "val", "test"):
        row[f"{split}_acc"] = mean_std(r.final.get(f"{split}_acc") for r in ok)
    row["gap"] = mean_std(train_test_gap(r.final) for r in ok)
    row["seconds"] = mean_std(r.seconds for r in ok)  # training loop only, per run
    if key in PUBLISHED:
        src, setup, value = PUBLISHED[key]
        row["published"] = {"source": src, "setup": setup, "value": value}
    return row


@register_study
class ImagesStudy(Study):
    name = "images"
    title = "Image baselines: what does a convolution buy on Fashion-MNIST?"
    help = "image baselines on Fashion-MNIST: softmax regression, MLP, LeNet-5, fast net (seeds)"
    entries = (Entry(NEXT_WEEK, 1, "CNNs on MNIST and CIFAR-10, VGG16 on CIFAR-10",
                     "Plan: learn the basic structure of CNNs and typical networks; classify MNIST and CIFAR-10; "
                     "VGG16 on CIFAR-10."),)
    default_seeds = {"quick": 2, "default": 3, "full": 5}

    def run(self, ctx: StudyContext) -> dict:
        rows = []
        for i, rung in enumerate(RUNGS):
            ctx.log(f"images ({i + 1}/{len(RUNGS)}): {rung[1]} x {len(ctx.seeds)} seeds")
            cfgs = [rung_config(rung, ctx.profile, s) for s in ctx.seeds]
            names = [f"{rung[1]} seed {s}" for s in ctx.seeds]
            if rung[2] is None:  # same-shaped softmax/MLP runs: one batched computation where possible
                results = ctx.train_many(cfgs, names)
            else:
                results = [ctx.train(c, n) for c, n in zip(cfgs, names)]
            rows.append(aggregate(rung, results, ctx.store))
        p = PROFILES[ctx.profile]
        table = [{"model": r["label"], "params": r["params"], "train acc": fmt_ms(r["train_acc"]),
                  "test acc": fmt_ms(r["test_acc"]), "train s/run": fmt_ms(r["seconds"], 1),
                  "published": (f"{r['published']['value']:.3f} ({r['published']['setup']})"
                                if "published" in r else "")} for r in rows]
        # What the week's plan names beyond Fashion-MNIST, as this machine had it: the report says plainly
        # what was not measured and the command that measures it (MNIST, CIFAR-10, VGG16 on a GPU).
        plan = {"mnist": where("mnist"), "cifar10": where("cifar10"), "cuda": torch.cuda.is_available()}
        return {"rows": rows, "budget": {**p, "note": "train/test 0 = the whole split; epochs None = the recipe's"},
                "next_week": plan,
                "references": [{"source": s, "setup": u, "value": v} for s, u, v in OTHER_REFERENCES],
                "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.images.figures import draw_study

        return draw_study(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.images.report import images_section

        return images_section(store, run, self.title)
