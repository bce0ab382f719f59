"""Greedy layer-wise pretraining (Bengio et al. 2007) against random and modern initialisation.

For each cell (activation, training-set size, depth) a sigmoid or tanh MLP of equal-width hidden
layers is fine-tuned on Fashion-MNIST by `fit`, with the same recipe and budget, from:
  default     PyTorch's default init (uniform, bound 1/sqrt(fan_in));
  xavier      Glorot & Bengio's normalized init;
  pretrained  a stack of denoising autoencoders (masking noise, tied weights), trained one layer at a
              time on the clean codes of the layer below, copied into the net's hidden layers;
  modern      ReLU + kaiming init + batch norm (no pretraining), the same shape;
  longer      default init with the pretraining's steps given as extra supervised steps (depth x
              pre_steps more fine-tuning steps): the compute-matched control. Pretraining is not free;
              a gain that a net trained as long without it also gets is a budget effect, not pretraining's.
The stack is pretrained once per (activation, size, seed) to the deepest depth needed; a depth-k
net takes its first k layers, which is exactly greedy: layer k never sees the layers above it.
The unsupervised data is the same training subset the net is then fine-tuned on.

Measured per run: test error (held out; no model selection, so the validation split only draws
the curves), train error, and how far fine-tuning moved each hidden layer's weights,
||W_end - W_start|| / ||W_start||. A hook inside `fit` checks at step 0, before the first update,
that the net it trains holds exactly the weights it was given (the pretrained stack, for
pretrained runs); the pretrained runs also keep those weights (init.pt) for anyone to compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.models import build_model
from nnstudy.models.autoencoder import greedy_pretrain
from nnstudy.studies import TOPICS, Entry, Profile, Study, StudyContext, fmt_ms, mean_std, register_study
from nnstudy.studies.shared import record_run, save_tensors

FINETUNE = dict(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=64)  # the classic recipe, every method
# Adam for the autoencoders: with SGD (lr 0.1, momentum 0.9, 300 steps a layer) the codes of layers 4-6
# collapsed to near-constants (std over examples 0.016 -> 0.0006) and fine-tuning then failed (measured).
PRETRAIN = dict(optimizer="adam", lr=1e-3, batch_size=64, noise="mask", level=0.25, tied=True)
VAL_FRAC = 0.1  # carved from round(n / 0.9) examples, so exactly n remain for training
@dataclass(frozen=True)
class PretrainingProfile(Profile):
    width: int  # hidden width
    steps: int  # fine-tuning steps
    pre_steps: int  # pretraining steps per layer
    grid: list[tuple]  # cells as (activations, training-set sizes, depths); size 0: all 54,000


PROFILES = {
    "quick": PretrainingProfile(width=64, steps=400, pre_steps=150, grid=[(("sigmoid",), (1000,), (3, 6))]),
    "default": PretrainingProfile(width=128, steps=1000, pre_steps=300,
                                  grid=[(("sigmoid",), (1000,), (3, 4, 5, 6)), (("sigmoid",), (5000, 20000), (3, 6)),
                                        (("tanh",), (1000,), (3, 6))]),
    "full": PretrainingProfile(width=500, steps=10000, pre_steps=3000,
                               grid=[(("sigmoid", "tanh"), (1000, 5000, 0), (3, 4, 5, 6, 8))]),  # 0: all 54,000
}
METHODS = ("default", "xavier", "pretrained", "modern", "longer")


def cells(p: dict) -> list[tuple[str, int, int]]:
    """(activation, n_train, depth) in grid order, each once."""
    out = [(a, n, d) for acts, sizes, depths in p["grid"] for a in acts for n in sizes for d in depths]
    return list(dict.fromkeys(out))


def extra_steps(p: dict, depth: int, method: str) -> int:
    """The control's extra supervised steps: what a depth-`depth` net's pretraining cost, in steps
    (one per layer per pre_step; each such step is cheaper than a full net's, so the control gets at
    least the compute pretraining used)."""
    return depth * p["pre_steps"] if method == "longer" else 0


def finetune_config(p: dict, act: str, n: int, depth: int, method: str, seed: int) -> TrainConfig:
    modern = method == "modern"
    steps = p["steps"] + extra_steps(p, depth, method)
    return TrainConfig(dataset="fashion-mnist", train_subset=round(n / (1 - VAL_FRAC)) if n else 0,
                       val_frac=VAL_FRAC, data_seed=seed, model="mlp", width=p["width"], depth=depth,
                       activation="relu" if modern else act, batch_norm=modern,
                       init={"xavier": "xavier", "modern": "kaiming"}.get(method, "default"), seed=seed,
                       steps=steps, eval_every=max(1, steps // 20), checkpoint=False,
                       extra={"method": method}, **FINETUNE)


class StartCheck:
    """A `fit` hook: at step 0 (after the first backward, before the first update) compare the
    hidden layers' weights with the ones the study put there. ok: True only if every layer matched."""

    def __init__(self, expected: list[tuple[torch.Tensor, torch.Tensor]]):
        self.expected = expected
        self.ok: bool | None = None

    def __call__(self, step: int, model) -> None:
        if step == 0:
            self.ok = all(torch.equal(h.linear.weight.detach().cpu(), w) and
                          torch.equal(h.linear.bias.detach().cpu(), b)
                          for h, (w, b) in zip(model.hidden, self.expected, strict=True))


def hidden_weights(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(h.linear.weight.detach().cpu().clone(), h.linear.bias.detach().cpu().clone()) for h in model.hidden]


def moved(model, start: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """Per hidden layer: ||W_end - W_start|| / ||W_start|| (Frobenius, weights only)."""
    return [((h.linear.weight.detach().cpu() - w0).norm() / w0.norm()).item()
            for h, (w0, _) in zip(model.hidden, start)]


def pretrain_stack(ctx: StudyContext, p: dict, data, act: str, n: int, depth: int, seed: int) -> dict:
    """Greedy pretraining of `depth` layers on the training split, recorded as one child run whose
    model.pt holds layer{k}.weight / layer{k}.bias (k from 1, bottom first)."""
    cfg = finetune_config(p, act, n, depth, "pretrained", seed).replace(
        model="autoencoder-tied" if PRETRAIN["tied"] else "autoencoder", steps=p["pre_steps"], eval_every=0,
        momentum=0.0, corruption=PRETRAIN["noise"], corruption_level=PRETRAIN["level"], extra={},
        **{k: PRETRAIN[k] for k in ("optimizer", "lr", "batch_size")})
    x = data.prepare(data.x_train).flatten(1)  # (n, 784) standardised: exactly what the supervised net sees
    out = {}

    def work():
        layers, results = greedy_pretrain(x, [p["width"]] * depth, act, cfg.replace(device=ctx.device),
                                          tied=PRETRAIN["tied"])
        out["layers"] = [(lyr.weight.detach().cpu().clone(), lyr.bias.detach().cpu().clone()) for lyr in layers]
        state = {f"layer{k + 1}.{name}": t for k, wb in enumerate(out["layers"])
                 for name, t in zip(("weight", "bias"), wb)}
        records = [r for res in results for r in res.records]
        final = {f"layer{k + 1}_train_mse": res.final["train_mse"] for k, res in enumerate(results)}
        final.update({f"layer{k + 1}_input_var": res.final["input_var"] for k, res in enumerate(results)})
        summary = {"final": final, "steps": sum(r.steps for r in results), "n_train": len(x),
                   "train_seconds": round(sum(r.seconds for r in results), 3)}
        return "complete", summary, records, state, None

    run_id, summary = record_run(ctx, cfg, f"pretrain {act} n={n} depth {depth} seed {seed}", work)
    f = summary["final"]
    return {"run": run_id, "layers": out["layers"],
            "layer_mse": [f[f"layer{k}_train_mse"] for k in range(1, depth + 1)],
            "layer_unexplained": [f[f"layer{k}_train_mse"] / f[f"layer{k}_input_var"] for k in range(1, depth + 1)]}


def finetune(ctx, p, data, act, n, depth, method, seed, stack) -> dict:
    """Build the net exactly as train_and_evaluate would (seeded), put the pretrained layers in,
    train it with `fit` via ctx.train, and measure how far it moved. (Not ctx.train_many: every run
    here needs weights put in and the start hook, which the batched trainer does not take.)"""
    cfg = finetune_config(p, act, n, depth, method, seed)
    if method == "pretrained":
        cfg = cfg.replace(extra={**cfg.extra, "pretrain_run": stack["run"]})
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.input_shape, data.num_classes)
    if method == "pretrained":
        with torch.no_grad():
            for h, (w, b) in zip(model.hidden, stack["layers"][:depth], strict=True):
                h.linear.weight.copy_(w)
                h.linear.bias.copy_(b)
    start = hidden_weights(model)
    check = StartCheck(stack["layers"][:depth] if method == "pretrained" else start)
    label = ("modern (ReLU+kaiming+BN)" if method == "modern" else
             f"{act} default +{extra_steps(p, depth, method)} steps" if method == "longer" else f"{act} {method}")
    res = ctx.train(cfg, f"{label} n={n} depth {depth} seed {seed}", data=data, model=model, hook=check)
    dist = moved(res.model, start)
    ctx.store.log_metrics(res.run_id, [(res.steps, "moved", f"layer{i + 1}", v) for i, v in enumerate(dist)])
    if method == "pretrained":
        save_tensors(ctx.store, res.run_id, "init.pt",
                {f"hidden.{i}.linear.{k}": t for i, wb in enumerate(start) for k, t in zip(("weight", "bias"), wb)})
    f = res.final
    return {"run": res.run_id, "status": res.status, "test_err_pct": 100 * (1 - f["test_acc"]) if f else None,
            "train_err_pct": 100 * (1 - f["train_acc"]) if f else None, "moved": dist, "started_as_given": check.ok}


@register_study
class PretrainingStudy(Study):
    name = "pretraining"
    title = "Greedy layer-wise pretraining: does it still help, and when?"
    help = ("greedy layer-wise pretraining vs default, xavier and modern init, over depth and "
            "training-set size (Fashion-MNIST)")
    entries = (Entry(TOPICS, 5, "From neural networks to deep learning: greedy layer-wise pretraining"),)
    default_seeds = {"quick": 1, "default": 3, "full": 5}

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        grid = cells(p)
        depth_of = {}  # (act, n) -> the deepest stack any cell needs
        for a, n, d in grid:
            depth_of[(a, n)] = max(d, depth_of.get((a, n), 0))
        runs: dict[tuple, list[dict]] = {}  # (act, n, depth, method) -> one result per seed
        stacks, n_actual = [], {}
        for seed in ctx.seeds:
            for n in dict.fromkeys(n for _, n, _ in grid):
                data = load_dataset(finetune_config(p, "sigmoid", n, 1, "default", seed))
                n_actual[n] = len(data.x_train)
                modern_done = set()
                for act in dict.fromkeys(a for a, m, _ in grid if m == n):
                    ctx.log(f"pretraining: {act}, n={len(data.x_train)}, seed {seed}: greedy stack of "
                            f"{depth_of[(act, n)]}")
                    stack = pretrain_stack(ctx, p, data, act, n, depth_of[(act, n)], seed)
                    stacks.append({"activation": act, "n_train": len(data.x_train), "seed": seed,
                                   "run": stack["run"], "layer_mse": stack["layer_mse"],
                                   "layer_unexplained": stack["layer_unexplained"]})
                    for depth in (d for a, m, d in grid if a == act and m == n):
                        ctx.log(f"pretraining: fine-tune {act}, n={len(data.x_train)}, depth {depth}, seed {seed}")
                        for method in METHODS:
                            if method == "modern" and depth in modern_done:
                                continue  # ReLU: the same net whatever the cell's activation
                            r = finetune(ctx, p, data, act, n, depth, method, seed, stack)
                            key = ("relu", n, depth, method) if method == "modern" else (act, n, depth, method)
                            runs.setdefault(key, []).append(r)
                        modern_done.add(depth)
        summary_cells = [summarise(runs, a, n, d, n_actual[n]) for a, n, d in grid]
        checks = [r["started_as_given"] for rs in runs.values() for r in rs]
        chance = 100 * (1 - 1 / data.num_classes)  # test error % of guessing: a net that never trained
        return {"cells": summary_cells, "stacks": stacks, "settings": {**settings(p), "chance_err_pct": chance},
                "checks": {"runs": len(checks), "started_as_given": sum(bool(c) for c in checks)},
                "table": table(summary_cells)}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.pretraining.figures import draw_pretraining

        return draw_pretraining(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.pretraining.report import pretraining_section

        return pretraining_section(store, run, self.title)


def summarise(runs: dict, act: str, n: int, depth: int, n_train: int) -> dict:
    cell = {"activation": act, "n_train": n_train, "depth": depth, "methods": {}}
    for method in METHODS:
        rs = runs[("relu", n, depth, method) if method == "modern" else (act, n, depth, method)]
        ok = [r for r in rs if r["status"] == "complete"]
        layers = len(rs[0]["moved"])
        cell["methods"][method] = {
            "test_err_pct": mean_std(r["test_err_pct"] for r in ok),
            "train_err_pct": mean_std(r["train_err_pct"] for r in ok),
            "moved": [mean_std(r["moved"][i] for r in ok) for i in range(layers)],
            "moved_mean": mean_std(sum(r["moved"]) / layers for r in ok),
            "diverged": len(rs) - len(ok), "runs": [r["run"] for r in rs]}
    return cell


def settings(p: dict) -> dict:
    return {"width": p["width"], "steps": p["steps"], "pre_steps": p["pre_steps"], "finetune": FINETUNE,
            "pretrain": PRETRAIN, "val_frac": VAL_FRAC, "grid": [[list(x) for x in g] for g in p["grid"]]}


def table(summary_cells: list[dict]) -> list[dict]:
    rows = []
    for c in summary_cells:
        m = c["methods"]
        rows.append({"act": c["activation"], "n train": c["n_train"], "depth": c["depth"],
                     **{f"{k} err %": fmt_ms(m[k]["test_err_pct"], 1) for k in METHODS},
                     "moved (pre / default)": f"{m['pretrained']['moved_mean']['mean']:.2f} / "
                                              f"{m['default']['moved_mean']['mean']:.2f}"})
    return rows
