"""Nielsen's vanishing-gradient measurement (neural-networks-and-deep-learning, fig/generate_gradient.py),
redone on Fashion-MNIST: his sigmoid nets, his initialization and cost, 1000 training images.

He reports, for [784,30,30,10], [784,30,30,30,10] and [784,30,30,30,30,10], the norm of each hidden
layer's gradient dC/db averaged over the 1000 images at the start of training; then he trains with
full-batch SGD (eta 0.1, L2 lambda 5.0, 500 epochs) and plots those norms per epoch.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.models.mlp import MLP
from nnstudy.probes import LayerProbe, log_steps, measure
from nnstudy.studies import StudyContext, mean_std

NIELSEN_DEPTHS = (2, 3, 4)  # hidden layers of 30


def nielsen_init(model: nn.Module) -> nn.Module:
    """network2.py's default_weight_initializer: W ~ N(0, 1/n_in), b ~ N(0, 1), every layer."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, m.in_features ** -0.5)
            nn.init.normal_(m.bias, 0.0, 1.0)
    return model


def nielsen_loss(logits, y):
    """network2.py's CrossEntropyCost: sigmoid outputs, binary cross-entropy summed over the 10
    outputs, mean over examples (10x the house's "bce", which also averages over outputs)."""
    return F.binary_cross_entropy_with_logits(logits, F.one_hot(y, logits.shape[1]).to(logits.dtype),
                                              reduction="sum") / len(y)


def nielsen_config(hidden: int, seed: int, steps: int) -> TrainConfig:
    return TrainConfig(dataset="fashion-mnist", train_subset=1000, data_seed=0, model="mlp", width=30,
                       depth=hidden, activation="sigmoid", optimizer="sgd", lr=1.0, loss="bce",
                       weight_decay=5e-4, steps=max(1, steps), seed=seed, checkpoint=False,
                       extra={"recipe": "nielsen", "init": "W ~ N(0, 1/n_in), b ~ N(0, 1)",
                              "inputs": "pixels / 255, not standardised"})


def nielsen_setup(cfg: TrainConfig):
    data = load_dataset(cfg)
    data = dataclasses.replace(data, mean=(0.0,), std=(1.0,))  # his inputs: raw pixels in [0, 1]
    torch.manual_seed(cfg.seed)
    return data, nielsen_init(MLP(784, 10, 30, cfg.depth, "sigmoid"))


def run_nielsen(ctx: StudyContext, p: dict) -> dict:
    """Per-layer ||dL/db|| at initialization for his three nets; the deepest trained and probed."""
    seeds = list(range(max(p["init_seeds"], len(ctx.seeds))))
    nets = []
    for hidden in NIELSEN_DEPTHS:
        per_seed = []
        for s in seeds:
            data, model = nielsen_setup(nielsen_config(hidden, s, 1))
            rows = measure(model, data.prepare(data.x_train), data.y_train, nielsen_loss, jacobian_batch=0)
            per_seed.append([r["grad_z"] for r in rows])
        layers = [mean_std(v[i] for v in per_seed) for i in range(hidden)]
        ratios = [mean_std(v[i] / v[i + 1] for v in per_seed) for i in range(hidden - 1)]
        nets.append({"net": f"[784,{'30,' * hidden}10]", "hidden": hidden, "grad": layers, "ratio": ratios,
                     "published": [f"vanishing.nielsen.{hidden}hidden.layer{i}" for i in range(1, hidden + 1)]})
    trained = []
    hidden = NIELSEN_DEPTHS[-1]
    steps = p["nielsen_steps"]
    for s in ctx.seeds[:p["nielsen_seeds"]]:
        cfg = nielsen_config(hidden, s, steps)
        data, model = nielsen_setup(cfg)
        probe = LayerProbe(model, sorted(set(log_steps(steps)) | set(range(0, steps, max(1, steps // 20)))), 0)
        res = ctx.train(cfg, f"nielsen {nets[-1]['net']} seed {s}", data=data, model=model, hook=probe)
        probe.close()
        ctx.store.log_metrics(res.run_id, probe.records)
        trained.append(res)
    return {"seeds": len(seeds), "images": 1000, "nets": nets,
            "trained": {"net": nets[-1]["net"], "steps": steps, "runs": [r.run_id for r in trained],
                        "chance": 1 / data.num_classes, "test_acc": mean_std(r.final.get("test_acc") for r in trained),
                        "train_acc": mean_std(r.final.get("train_acc") for r in trained)}}
