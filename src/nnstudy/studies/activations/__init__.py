"""Q2 of the week: what do activation functions do?

The week answered in prose: they introduce non-linearity, control the output range, provide the
gradient signal, speed up convergence and add expressive power. Here each claim gets a measurement,
for none (the identity: the whole net is then linear), sigmoid, tanh, ReLU, leaky ReLU and GELU:
- non-linearity and expressive power: held-out accuracy and decision boundaries on the spiral,
  trained with Adam (the week's winning optimizer) so only the activation changes;
- convergence: steps to reach a target validation accuracy, on the spiral and Fashion-MNIST;
- the gradient signal: each function's derivative, and per-layer gradient norms measured during
  training on Fashion-MNIST with SGD + momentum (its update is proportional to the gradient, so
  what an activation passes back sets the pace; Adam would rescale it away), by nnstudy.probes:
  ||dL/db|| per hidden layer (Nielsen's measure) and ||dL/dW||;
- the output range: each function's range, the measured range of hidden outputs on the test
  images, and the fraction of (unit, image) pairs where |f'(z)| < FLAT (saturated or dead units
  that pass back under 1% of the gradient).
"""

from __future__ import annotations

import statistics

import torch

from nnstudy.data import load_dataset
from nnstudy.models import build_model
from nnstudy.models.mlp import HiddenLayer, make_activation
from nnstudy.plan import plan_steps
from nnstudy.probes import LayerProbe
from nnstudy.studies import QUESTIONS, Entry, Study, StudyContext, fmt_ms, mean_std, register_study, train_over_seeds
from nnstudy.studies.shared import fashion_config, spiral_config, steps_to

ACTIVATIONS = ("none", "sigmoid", "tanh", "relu", "leaky_relu", "gelu")
LABEL = {"none": "none (linear)", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU",
         "leaky_relu": "leaky ReLU", "gelu": "GELU"}
RANGE = {"none": "(-inf, inf)", "sigmoid": "(0, 1)", "tanh": "(-1, 1)", "relu": "[0, inf)",
         "leaky_relu": "(-inf, inf), slope 0.01 below 0", "gelu": "[-0.17, inf)"}
SPIRAL = dict(optimizer="adam", lr=1e-2, width=100, depth=1)  # the week's net, a faster Adam
FASHION = dict(optimizer="sgd", lr=0.05, momentum=0.9, width=128, depth=3)  # 3 hidden: layers can differ
TARGET = {"spiral": 0.9, "fashion": 0.8}  # validation accuracy a run must reach to count as "there"
# |f'(z)| below this: the unit passes back under 0.5% of the gradient. The magnitude, not the signed
# derivative: GELU's negative derivatives pass a gradient back too. Half of leaky ReLU's negative
# slope (0.01), so that slope, which is there precisely to pass 1% back, is never "flat" by a tie;
# no measured activation has a constant slope at this value.
FLAT = 0.005


def derivative(act: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """f'(z) elementwise, by autograd (every activation here acts elementwise)."""
    z = z.detach().clone().requires_grad_()
    with torch.enable_grad():
        (g,) = torch.autograd.grad(act(z).sum(), z)
    return g


def derivative_curves(lo: float = -6.0, hi: float = 6.0, n: int = 121) -> dict:
    """f and f' of each activation on a grid: stored so the figure reads data, not formulas."""
    x = torch.linspace(lo, hi, n)
    out = {"x": [round(v, 4) for v in x.tolist()]}
    for name in ACTIVATIONS:
        act = make_activation(name)
        f, df = act(x), derivative(act, x)
        out[name] = {"f": [round(v, 5) for v in f.tolist()], "df": [round(v, 5) for v in df.tolist()],
                     "df_at_0": float(derivative(act, torch.zeros(1))), "df_max": float(df.max())}
    return out


@torch.no_grad()
def hidden_stats(model, data) -> list[dict]:
    """Per hidden layer, over the test split: min, mean and max of the outputs f(z), and the
    fraction of (unit, example) pairs with |f'(z)| < FLAT."""
    layers = [m for m in model.modules() if isinstance(m, HiddenLayer)]
    seen: list[tuple] = []
    handles = [layer.act.register_forward_hook(lambda mod, inp, out: seen.append((mod, inp[0], out)))
               for layer in layers]
    try:
        model.cpu().eval()(data.prepare(data.x_test))
    finally:
        for h in handles:
            h.remove()
    stats = []
    for act, z, h in seen:  # z, h: (N, width)
        stats.append({"min": h.min().item(), "mean": h.mean().item(), "max": h.max().item(),
                      "flat_frac": (derivative(act, z).abs() < FLAT).float().mean().item()})
    return stats


def steps_row(results: list, target: float) -> dict:
    """Steps to reach the target validation accuracy: mean ± std over the seeds that got there."""
    hits = [steps_to(r.records, target) for r in results if r.status == "complete"]
    return {"val_acc_target": target, "steps": mean_std(h for h in hits if h is not None),
            "reached": sum(h is not None for h in hits), "of": len(results)}


def run_spiral(ctx: StudyContext) -> list[dict]:
    variants = [(LABEL[a], lambda s, a=a: spiral_config(ctx.profile, s, activation=a, **SPIRAL))
                for a in ACTIVATIONS]
    rows, results = train_over_seeds(ctx, variants)
    for act, row, res in zip(ACTIVATIONS, rows, results):
        row.update(activation=act, to_target=steps_row(res, TARGET["spiral"]))
    return rows


def run_fashion(ctx: StudyContext) -> list[dict]:
    """Solo runs: each model is built here (as train_and_evaluate would build it) so that a
    probes.LayerProbe can watch its hidden layers during training (about 20 steps per run)."""
    rows = []
    for act in ACTIVATIONS:
        results, probes, stats = [], [], []
        for s in ctx.seeds:
            cfg = fashion_config(ctx.profile, s, activation=act, **FASHION)
            data = load_dataset(cfg)
            torch.manual_seed(cfg.seed)
            model = build_model(cfg, data.input_shape, data.num_classes)
            total, _ = plan_steps(cfg, len(data.x_train))
            probe = LayerProbe(model, steps=range(0, total, max(1, total // 20)), jacobian_batch=0)
            try:
                r = ctx.train(cfg, f"{LABEL[act]} seed {s}", data=data, model=model, hook=probe)
            finally:
                probe.close()
            ctx.store.log_metrics(r.run_id, probe.records)
            results.append(r)
            probes.append(probe.rows)
            if r.status == "complete":
                stats.append(hidden_stats(r.model, data))
        ok = [r for r in results if r.status == "complete"]
        rows.append({"name": LABEL[act], "activation": act,
                     "train_acc": mean_std(r.final.get("train_acc") for r in ok),
                     "val_acc": mean_std(r.final["val_acc"] for r in ok),
                     "test_acc": mean_std(r.final.get("test_acc") for r in ok),
                     "diverged": len(results) - len(ok), "runs": [r.run_id for r in results],
                     "to_target": steps_row(results, TARGET["fashion"]), "grad": grad_summary(probes),
                     "hidden": [{k: mean_std(st[i][k] for st in stats) for k in stats[0][i]}
                                for i in range(len(stats[0]))] if stats else []})
    return rows


def grad_summary(per_seed: list[dict]) -> dict:
    """From each seed's LayerProbe.rows ({step: [per hidden layer dict]}): per hidden layer
    (input first), mean ± std over seeds of grad_z (||dL/db||) and grad_w (||dL/dW||), at step
    0 ("init") and averaged over the probed steps ("mean")."""
    out = {"init": {}, "mean": {}}
    n = max((len(rows[0]) for rows in per_seed if 0 in rows), default=0)
    for stat in ("grad_z", "grad_w"):
        out["init"][stat] = [mean_std(rows[0][i].get(stat) for rows in per_seed if 0 in rows) for i in range(n)]
        out["mean"][stat] = [mean_std(statistics.fmean(v) for rows in per_seed
                                      if (v := [r[i][stat] for r in rows.values() if r[i].get(stat) is not None]))
                             for i in range(n)]
    return out


@register_study
class ActivationsStudy(Study):
    name = "activations"
    title = "What do activation functions do?"
    help = "Q2: none/sigmoid/tanh/ReLU/leaky ReLU/GELU: accuracy, speed, gradients, ranges"
    entries = (Entry(QUESTIONS, 2, "Q2. What do activation functions do?",
                     "\u201cThey introduce non-linearity, control the output range, provide the gradient signal, "
                     "speed up convergence and increase the network's expressive power.\u201d"),)
    default_seeds = {"quick": 2, "default": 3, "full": 10}

    def run(self, ctx: StudyContext) -> dict:
        ctx.log("activations (1/3): derivative curves")
        curves = derivative_curves()
        ctx.log("activations (2/3): spiral, Adam, six activations x seeds")
        spiral = run_spiral(ctx)
        ctx.log("activations (3/3): Fashion-MNIST, SGD+momentum, gradient norms per layer")
        fashion = run_fashion(ctx)
        table = []
        for ds, rows in (("spiral", spiral), ("fashion-mnist", fashion)):
            for r in rows:
                t = r["to_target"]
                g = r["grad"]["init"]["grad_z"] if "grad" in r else []
                table.append({"dataset": ds, "activation": r["name"], "test acc": fmt_ms(r["test_acc"]),
                              "steps to target": f"{fmt_ms(t['steps'], 0)} (val {t['val_acc_target']}: "
                                                 f"{t['reached']}/{t['of']} seeds)",
                              "|dL/db| h1 .. h3, init": " / ".join(f"{x['mean']:.3g}" for x in g)})
        return {"spiral": spiral, "fashion": fashion, "derivatives": curves, "ranges": RANGE,
                "val_acc_targets": TARGET, "flat_threshold": FLAT,
                "settings": {"spiral": spiral_config(ctx.profile, 0, **SPIRAL).to_dict(),
                             "fashion": fashion_config(ctx.profile, 0, **FASHION).to_dict()},
                "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.activations.figures import draw_activations

        return draw_activations(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.activations.report import activations_section

        return activations_section(store, run, self.title)
