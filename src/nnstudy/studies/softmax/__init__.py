"""Q5 of the week: why softmax?

The week answered: it turns raw outputs into a probability distribution, pairs with cross-entropy
to simplify the loss, supports many classes and improves decisions. Here three ways to train the
same net are compared, on the spiral and Fashion-MNIST (TrainConfig.loss):
- softmax + cross-entropy (`cross_entropy`),
- mean squared error between the raw outputs and one-hot targets (`mse`),
- an independent sigmoid per class against the one-hot target (`bce`),
for held-out accuracy, convergence (steps to a target validation accuracy) and calibration: the
expected calibration error (ECE, 15 equal-width confidence bins) and reliability diagrams, from
each run's test predictions, saved in its run folder (predictions.pt). Each loss is read as
probabilities its own way (`probabilities`). Softmax's temperature is fitted on the validation
split and the test ECE reported before and after. Finally the numbers behind "log-sum-exp": the
naive softmax overflows in float32 where the stable one does not.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from nnstudy.data import load_dataset
from nnstudy.studies import QUESTIONS, Entry, Study, StudyContext, fmt_ms, mean_std, register_study, train_over_seeds
from nnstudy.studies.shared import fashion_config, outputs_on, save_tensors, spiral_config, steps_to

LOSSES = ("cross_entropy", "mse", "bce")
LABEL = {"cross_entropy": "softmax + CE", "mse": "MSE on one-hot", "bce": "sigmoids + BCE"}
SPIRAL = dict(optimizer="adam", lr=1e-2, width=100, depth=1)
FASHION = dict(optimizer="adam", lr=1e-3, width=128, depth=2)
TARGET = {"spiral": 0.9, "fashion": 0.8}  # validation accuracy that counts as converged
BINS = 15  # equal-width confidence bins of the ECE (Guo et al. 2017 use 15)
PREDICTIONS = "predictions.pt"  # per run: raw outputs and labels of the val and test splits


def probabilities(z: torch.Tensor, loss: str) -> torch.Tensor:
    """(N, C) outputs -> (N, C) class probabilities, as each loss reads its outputs:
    softmax for cross-entropy; for MSE the outputs regress the one-hot target, so clipped to
    [0, 1] and renormalised; for BCE each sigmoid is a per-class probability, renormalised."""
    if loss == "cross_entropy":
        return z.softmax(1)
    p = z.clamp(0, 1) if loss == "mse" else z.sigmoid()
    total = p.sum(1, keepdim=True)
    uniform = torch.full_like(p, 1.0 / p.shape[1])
    return torch.where(total > 0, p / total.clamp_min(1e-12), uniform)


def reliability(p: torch.Tensor, y: torch.Tensor, bins: int = BINS) -> dict:
    """Confidence (max probability) vs accuracy in equal-width bins, and the ECE: the
    count-weighted mean |accuracy - confidence| over the bins."""
    conf, pred = p.max(1)
    hit = (pred == y).float()
    idx = (conf * bins).long().clamp(max=bins - 1)  # bin b holds conf in [b/bins, (b+1)/bins)
    count = torch.bincount(idx, minlength=bins).float()
    conf_sum = torch.bincount(idx, conf, minlength=bins)
    hit_sum = torch.bincount(idx, hit, minlength=bins)
    safe = count.clamp_min(1)
    ece = ((hit_sum - conf_sum).abs().sum() / max(1, len(y))).item()
    return {"ece": ece, "count": count.tolist(), "confidence": (conf_sum / safe).tolist(),
            "accuracy": (hit_sum / safe).tolist(), "mean_confidence": conf.mean().item(),
            "accuracy_all": hit.mean().item()}


def fit_temperature(z: torch.Tensor, y: torch.Tensor) -> float:
    """The T minimising the validation NLL of softmax(z / T): a grid over log T in [-3, 3]
    (steps of 0.01), then the best point's neighbourhood at 1e-4. NLL is convex in 1/T."""
    def nll(log_t: torch.Tensor) -> torch.Tensor:  # (G,) -> (G,)
        zt = z[None] / log_t.exp()[:, None, None]  # (G, N, C)
        return F.cross_entropy(zt.transpose(1, 2), y[None].expand(len(log_t), -1), reduction="none").mean(1)

    grid = torch.linspace(-3, 3, 601)
    best = grid[nll(grid).argmin()]
    fine = torch.linspace(best.item() - 0.01, best.item() + 0.01, 201)
    return math.exp(fine[nll(fine).argmin()].item())


def shown(t: torch.Tensor) -> list:
    """Floats to 6 significant digits; inf and NaN as their repr strings (the store's JSON would
    write non-finite floats as null)."""
    return [float(f"{v:.6g}") if math.isfinite(v) else repr(v) for v in t.tolist()]


def overflow_demo() -> dict:
    """The naive softmax exp(z) / sum exp(z) against the stable exp(z - max z) / sum exp(z - max z),
    in float32, on logits (a, 0, -1): at a = 89, exp(a) is inf and the naive result NaN. The sweep
    over a is drawn (its NaNs are stored as null: gaps in the line)."""
    z = torch.tensor([89.0, 0.0, -1.0])  # float32 logits
    exp = torch.exp(z)
    naive, stable = exp / exp.sum(), torch.softmax(z, 0)
    low = torch.tensor([-104.0, -105.0, -106.0])  # every exp underflows to 0: 0 / 0
    naive_low = torch.exp(low) / torch.exp(low).sum()
    first_inf = next(x for x in range(1, 200) if math.isinf(torch.exp(torch.tensor(float(x))).item()))
    a = torch.arange(0.0, 121.0)
    za = torch.stack((a, torch.zeros_like(a), -torch.ones_like(a)), 1)  # (121, 3)
    ea = torch.exp(za)
    return {"logits": z.tolist(), "exp": shown(exp), "naive": shown(naive), "stable": shown(stable),
            "naive_ce": shown(-naive[:1].log()), "stable_ce": shown(torch.logsumexp(z, 0)[None] - z[:1]),
            "low_logits": low.tolist(), "naive_low": shown(naive_low), "stable_low": shown(torch.softmax(low, 0)),
            "below_arg": float(first_inf - 1), "exp_below": float(torch.exp(torch.tensor(first_inf - 1.0))),
            "first_inf": first_inf,
            "max_exp_arg": math.log(torch.finfo(torch.float32).max),
            "naive_has_nan": bool(naive.isnan().any()), "stable_is_finite": bool(stable.isfinite().all()),
            "sweep": {"a": a.tolist(), "naive": (ea[:, 0] / ea.sum(1)).tolist(),
                      "stable": za.softmax(1)[:, 0].tolist()}}


def calibrate(ctx: StudyContext, loss: str, results: list) -> dict:
    """Save each run's val/test outputs; ECE per run (and, for softmax, after temperature)."""
    per = {"ece": [], "confidence": [], "nll": [], "temperature": [], "ece_scaled": [], "nll_scaled": []}
    temps = {}  # run id -> T: the figures rescale each run's stored outputs
    for r in results:
        if r.status != "complete":
            continue
        data = load_dataset(r.config)
        zv, yv = outputs_on(r.model, data, "val")
        zt, yt = outputs_on(r.model, data, "test")
        save_tensors(ctx.store, r.run_id, PREDICTIONS, {"loss": loss, "val_outputs": zv, "val_labels": yv,
                                                        "test_outputs": zt, "test_labels": yt})
        rel = reliability(probabilities(zt, loss), yt)
        per["ece"].append(rel["ece"])
        per["confidence"].append(rel["mean_confidence"])
        per["nll"].append(F.nll_loss(probabilities(zt, loss).clamp_min(1e-12).log(), yt).item())
        if loss == "cross_entropy":
            T = fit_temperature(zv, yv)
            per["temperature"].append(T)
            temps[r.run_id] = T
            per["ece_scaled"].append(reliability((zt / T).softmax(1), yt)["ece"])
            per["nll_scaled"].append(F.cross_entropy(zt / T, yt).item())
    return {**{k: mean_std(v) for k, v in per.items()}, "temperatures": temps}


def run_dataset(ctx: StudyContext, key: str) -> list[dict]:
    make, extra = (spiral_config, SPIRAL) if key == "spiral" else (fashion_config, FASHION)
    variants = [(LABEL[loss], lambda s, loss=loss: make(ctx.profile, s, loss=loss, **extra)) for loss in LOSSES]
    rows, results = train_over_seeds(ctx, variants)
    for loss, row, res in zip(LOSSES, rows, results):
        hits = [steps_to(r.records, TARGET[key]) for r in res if r.status == "complete"]
        row.update(loss=loss, to_target={"val_acc_target": TARGET[key], "reached": sum(h is not None for h in hits),
                                         "of": len(res), "steps": mean_std(h for h in hits if h is not None)},
                   **calibrate(ctx, loss, res))
    return rows


@register_study
class SoftmaxStudy(Study):
    name = "softmax"
    title = "Why softmax?"
    help = "Q5: softmax+CE vs MSE vs sigmoids: accuracy, convergence, calibration, overflow"
    entries = (Entry(QUESTIONS, 5, "Q5. Why use softmax?",
                     "\u201cIt turns raw outputs into a probability distribution, pairs with cross-entropy to "
                     "simplify the loss, supports many classes and improves the model's decisions.\u201d"),)
    default_seeds = {"quick": 2, "default": 3, "full": 10}

    def run(self, ctx: StudyContext) -> dict:
        ctx.log("softmax (1/3): naive vs stable softmax in float32")
        overflow = overflow_demo()
        ctx.log("softmax (2/3): spiral, three losses x seeds")
        spiral = run_dataset(ctx, "spiral")
        ctx.log("softmax (3/3): Fashion-MNIST, three losses x seeds")
        fashion = run_dataset(ctx, "fashion")
        table = [{"dataset": ds, "loss": r["name"], "test acc": fmt_ms(r["test_acc"]),
                  "steps to target": f"{fmt_ms(r['to_target']['steps'], 0)} (val {r['to_target']['val_acc_target']}: "
                                     f"{r['to_target']['reached']}/{r['to_target']['of']})",
                  "test ECE": fmt_ms(r["ece"]),
                  "ECE after T": fmt_ms(r["ece_scaled"]) if r["ece_scaled"]["n"] else "",
                  "T (fit on val)": fmt_ms(r["temperature"], 2) if r["temperature"]["n"] else ""}
                 for ds, rows in (("spiral", spiral), ("fashion-mnist", fashion)) for r in rows]
        return {"spiral": spiral, "fashion": fashion, "overflow": overflow, "bins": BINS, "val_acc_targets": TARGET,
                "settings": {"spiral": spiral_config(ctx.profile, 0, **SPIRAL).to_dict(),
                             "fashion": fashion_config(ctx.profile, 0, **FASHION).to_dict()},
                "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.softmax.figures import draw_softmax

        calibration = SimpleNamespace(PREDICTIONS=PREDICTIONS, probabilities=probabilities, reliability=reliability)
        return draw_softmax(store, run, folder, calibration)

    def section(self, store, run):
        from nnstudy.studies.softmax.report import softmax_section

        return softmax_section(store, run, self.title)
