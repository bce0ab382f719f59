"""Rosenblatt's perceptron: it converges on separable data within Novikoff's bound, it cannot do
XOR, and one hidden layer can.

1. separable: for several margins, `seeds` random separable sets each (n training points plus
   held-out points from the same line): mistakes until convergence vs the bound (R / gamma)^2
   computed from the training points (R and gamma in the augmented space [x, 1] that the update
   works in, gamma from an exact max-margin solver), held-out accuracy of the final separator.
2. xor: the perceptron on XOR's four points for `xor_epochs` epochs (it never gets all four:
   at most 3 of 4 for any line); the hand-set 2-2-1 threshold net and a trained 2-2-2 NumPy MLP
   (over seeds) get all four.
3. noisy XOR (TensorFlow Playground's set, held-out split): the perceptron against a one-hidden-
   layer PyTorch MLP trained with the house's loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.scratch import make_separable, novikoff_bound, solve_xor, train_perceptron, xor_data
from nnstudy.scratch.perceptron import max_margin_separator
from nnstudy.scratch.xor import HAND_XOR, train_xor_mlp
from nnstudy.store import atomic_write
from nnstudy.studies import TOPICS, Entry, Profile, Study, StudyContext, fmt_ms, mean_std, register_study
from nnstudy.threads import torch_threads


@dataclass(frozen=True)
class PerceptronProfile(Profile):
    n: int  # training points per separable set
    n_test: int  # held-out points per set
    margins: tuple[float, ...]  # the separable sets' margins
    max_epochs: int  # epoch cap of Rosenblatt's rule
    xor_epochs: int  # perceptron epochs on XOR
    mlp_steps: int  # training steps of the one-hidden-layer net on XOR
    xor_n: int  # points of the noisy XOR (held out: a fresh draw)


PROFILES = {
    "quick": PerceptronProfile(n=60, n_test=200, margins=(0.05, 0.2), max_epochs=200, xor_epochs=50, mlp_steps=300,
                               xor_n=200),
    "default": PerceptronProfile(n=200, n_test=1000, margins=(0.01, 0.02, 0.05, 0.1, 0.2), max_epochs=2000,
                                 xor_epochs=100, mlp_steps=600, xor_n=400),
    "full": PerceptronProfile(n=1000, n_test=5000, margins=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2), max_epochs=10000,
                              xor_epochs=1000, mlp_steps=2000, xor_n=1000),
}
FIGURE_MARGIN = 0.05  # the set whose updates are drawn (seed 0)
HISTORY_FILE = "perceptron.json"  # points and weight histories for the figures, in the study's folder


def accuracy(w, b, X, y) -> float:
    """Held-out accuracy of the line w.x + b = 0; a point on it counts as wrong."""
    return float((y * (X @ w + b) > 0).mean())


def separable_trial(margin: float, seed: int, p: dict) -> tuple[dict, dict]:
    """One separable set: the run's numbers and (for the figures) its points and update history."""
    X, y = make_separable(p["n"] + p["n_test"], margin, seed=seed)
    Xtr, ytr, Xte, yte = X[:p["n"]], y[:p["n"]], X[p["n"]:], y[p["n"]:]
    nb = novikoff_bound(Xtr, ytr)
    res = train_perceptron(Xtr, ytr, max_epochs=p["max_epochs"], shuffle_seed=seed)
    row = {"margin": margin, "seed": seed, "mistakes": res.mistakes, "bound": nb.bound, "R": nb.R,
           "gamma": nb.gamma, "within_bound": res.mistakes <= nb.bound, "converged": res.converged,
           "epochs": res.epochs, "train_acc": res.accuracy, "test_acc": accuracy(res.w, res.b, Xte, yte)}
    mm = max_margin_separator(Xtr, ytr)
    detail = {"X": Xtr.tolist(), "y": ytr.tolist(), "history": res.history.tolist(),
              "max_margin": [*mm.w.tolist(), mm.b], "epoch_mistakes": res.epoch_mistakes}
    return row, detail


def run_separable(ctx: StudyContext, p: dict) -> tuple[list[dict], list[dict], dict]:
    trials, figure = [], None
    for m in p["margins"]:
        for s in ctx.seeds:
            row, detail = separable_trial(m, s, p)
            trials.append(row)
            if m == FIGURE_MARGIN and s == ctx.seeds[0]:
                figure = detail
    by_margin = []
    for m in p["margins"]:
        rows = [t for t in trials if t["margin"] == m]
        by_margin.append({"margin": m, "mistakes": mean_std(t["mistakes"] for t in rows),
                          "bound": mean_std(t["bound"] for t in rows),
                          "mistakes_over_bound": mean_std(t["mistakes"] / t["bound"] for t in rows),
                          "max_mistakes_over_bound": max(t["mistakes"] / t["bound"] for t in rows),
                          "within_bound": sum(t["within_bound"] for t in rows), "sets": len(rows),
                          "converged": sum(t["converged"] for t in rows),
                          "test_acc": mean_std(t["test_acc"] for t in rows)})
    return trials, by_margin, figure


def run_xor(ctx: StudyContext, p: dict) -> tuple[dict, dict]:
    X, y = xor_data()
    res = train_perceptron(X, y, max_epochs=p["xor_epochs"])
    shuffled = [train_perceptron(X, y, max_epochs=p["xor_epochs"], shuffle_seed=s) for s in ctx.seeds]
    reports = [solve_xor(p["xor_epochs"], seed=s) for s in ctx.seeds]
    net, _, _, _ = train_xor_mlp(ctx.seeds[0])  # the seed-0 net, for the figure
    out = {"perceptron": {"epochs": res.epochs, "mistakes": res.mistakes, "converged": res.converged,
                          "final_acc": res.accuracy, "max_acc": reports[0].perceptron_max_accuracy,
                          "epoch_mistakes_last": res.epoch_mistakes[-1],
                          "shuffled_converged": sum(r.converged for r in shuffled),
                          "shuffled_max_acc": max(r.max_accuracy for r in shuffled),
                          "best_acc": max(reports[0].perceptron_max_accuracy, *(r.max_accuracy for r in shuffled))},
           "hand_net_acc": reports[0].hand_net_accuracy,
           "mlp_acc": mean_std(r.mlp_accuracy for r in reports),
           "mlp_solved": sum(r.mlp_accuracy == 1.0 for r in reports), "mlp_seeds": len(reports),
           "mlp_tries": mean_std(r.mlp_tries for r in reports),
           "mlp_final_loss": mean_std(r.mlp_final_loss for r in reports)}
    detail = {"epoch_mistakes": {"fixed order": res.epoch_mistakes,
                                 f"shuffled (seed {ctx.seeds[0]})": shuffled[0].epoch_mistakes},
              "hand": {k: np.asarray(v).tolist() for k, v in HAND_XOR.items()},
              "mlp": [[W.tolist(), b.tolist()] for W, b in net.params], "mlp_activation": net.activation}
    return out, detail


def run_noisy_xor(ctx: StudyContext, p: dict) -> dict:
    """Playground's XOR with noise, held out: perceptron (NumPy) vs a 1-hidden-layer net (PyTorch)."""
    perceptron, cfgs = [], []
    for s in ctx.seeds:
        cfg = TrainConfig(dataset="xor", n_per_class=p["xor_n"], noise=0.2, test_frac=0.2, data_seed=s, seed=s,
                          model="mlp", width=8, depth=1, activation="tanh", optimizer="adam", lr=0.03,
                          steps=p["mlp_steps"], eval_every=50)
        data = load_dataset(cfg)
        pm = lambda t: 2.0 * t.numpy() - 1  # noqa: E731  labels {0, 1} -> {-1, +1}
        res = train_perceptron(data.x_train.double().numpy(), pm(data.y_train), max_epochs=p["xor_epochs"],
                               shuffle_seed=s)
        perceptron.append({"train_acc": res.accuracy,
                           "test_acc": accuracy(res.w, res.b, data.x_test.double().numpy(), pm(data.y_test))})
        cfgs.append(cfg)
    with torch_threads(1):  # tiny nets: on a shared CPU a second thread costs more than it gives
        runs = ctx.train_many(cfgs, [f"noisy xor MLP 2-8-2 seed {c.seed}" for c in cfgs])
    return {"n_per_class": p["xor_n"], "noise": 0.2,
            "perceptron": {k: mean_std(r[k] for r in perceptron) for k in ("train_acc", "test_acc")},
            "mlp": {"train_acc": mean_std(r.final.get("train_acc") for r in runs),
                    "test_acc": mean_std(r.final.get("test_acc") for r in runs),
                    "runs": [r.run_id for r in runs], "width": 8, "steps": p["mlp_steps"]}}


@register_study
class PerceptronStudy(Study):
    name = "perceptron"
    title = "From the neuron to the perceptron: what one linear threshold unit can and cannot learn"
    help = "Rosenblatt's perceptron: mistakes vs Novikoff's bound, XOR, one hidden layer"
    entries = (Entry(TOPICS, 1, "From the biological neuron to the single-layer perceptron"),)
    default_seeds = {"quick": 3, "default": 10, "full": 30}

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        ctx.log("perceptron (1/3): separable sets, mistakes vs Novikoff's bound")
        trials, by_margin, fig_sep = run_separable(ctx, p)
        ctx.log("perceptron (2/3): XOR, the perceptron vs one hidden layer")
        xor, fig_xor = run_xor(ctx, p)
        ctx.log("perceptron (3/3): noisy XOR, held out")
        noisy = run_noisy_xor(ctx, p)
        atomic_write(ctx.folder / HISTORY_FILE, json.dumps({"separable": fig_sep, "xor": fig_xor,
                                                            "figure_margin": FIGURE_MARGIN}))
        table = [{"experiment": f"separable, margin {r['margin']:g}", "mistakes": fmt_ms(r["mistakes"], 1),
                  "bound (R/gamma)^2": fmt_ms(r["bound"], 1), "mistakes/bound": fmt_ms(r["mistakes_over_bound"]),
                  "held-out acc": fmt_ms(r["test_acc"]), "n": r["sets"]} for r in by_margin]
        table += [
            {"experiment": "XOR, perceptron", "mistakes": str(xor["perceptron"]["mistakes"]),
             "bound (R/gamma)^2": "none (not separable)", "mistakes/bound": "",
             "held-out acc": f"never 4 of 4: best {xor['perceptron']['max_acc']:.2f} (a line: <= 0.75)", "n": 1},
            {"experiment": "XOR, 2-2-2 MLP (NumPy, Adam)", "mistakes": "", "bound (R/gamma)^2": "",
             "mistakes/bound": "", "held-out acc": f"{fmt_ms(xor['mlp_acc'], 2)} of the 4 points",
             "n": xor["mlp_seeds"]},
            {"experiment": "noisy XOR, perceptron", "mistakes": "", "bound (R/gamma)^2": "", "mistakes/bound": "",
             "held-out acc": fmt_ms(noisy["perceptron"]["test_acc"]), "n": len(ctx.seeds)},
            {"experiment": "noisy XOR, 2-8-2 MLP (PyTorch)", "mistakes": "", "bound (R/gamma)^2": "",
             "mistakes/bound": "", "held-out acc": fmt_ms(noisy["mlp"]["test_acc"]), "n": len(noisy["mlp"]["runs"])}]
        return {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
                "separable": by_margin, "trials": trials, "xor": xor, "noisy_xor": noisy,
                "all_within_bound": all(t["within_bound"] for t in trials), "table": table,
                "counts": {"sets": len(trials), "margins": len(by_margin),
                           "within_bound": sum(t["within_bound"] for t in trials),
                           "converged": sum(t["converged"] for t in trials)}}

    def section(self, store, run):
        from nnstudy.studies.perceptron.report import perceptron_section

        return perceptron_section(store, run, self.title)

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.perceptron.figures import draw_perceptron

        return draw_perceptron(store, run, folder, HISTORY_FILE)

