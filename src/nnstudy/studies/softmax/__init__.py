"""Q5 of the week: why softmax?

The week answered: it turns raw outputs into a probability distribution, pairs with cross-entropy
to simplify the loss, supports many classes and improves decisions. Here three ways to train the
same net are compared, on the spiral and Fashion-MNIST (TrainConfig.loss):
- softmax + cross-entropy (`cross_entropy`),
- mean squared error between the raw outputs and one-hot targets (`mse`),
- an independent sigmoid per class against the one-hot target (`bce`),
for held-out accuracy, convergence (steps to a target validation accuracy) and calibration: the
expected calibration error (ECE, 15 equal-width bins of top-label confidence) and reliability
diagrams, from each run's validation and test outputs, saved in its run folder (predictions.pt).
Every loss's outputs become probabilities by one rule, its own model of the one-hot target
(`scale`: softmax(z / s)), and get the same post-hoc recalibration: a temperature fitted on the
validation NLL, the test ECE reported before and after. Finally the numbers behind "log-sum-exp":
the naive softmax overflows in float32 where the stable one does not.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from nnstudy.data import load_dataset
from nnstudy.studies import QUESTIONS, Entry, Study, StudyContext, fmt_ms, mean_std, register_study, train_over_seeds
from nnstudy.studies.shared import SIZES, Sizes, fashion_config, outputs_on, save_tensors, spiral_config, steps_to

LOSSES = ("cross_entropy", "mse", "bce")
LABEL = {"cross_entropy": "softmax + CE", "mse": "MSE on one-hot", "bce": "sigmoids + BCE"}
SPIRAL = dict(optimizer="adam", lr=1e-2, width=100, depth=1)
FASHION = dict(optimizer="adam", lr=1e-3, width=128, depth=2)
TARGET = {"spiral": 0.9, "fashion": 0.8}  # steps-to-target: the first step at this validation accuracy
BINS = 15  # equal-width confidence bins of the ECE (Guo et al. 2017 use 15)
# The activations and optimizers studies' sizes, but Fashion-MNIST at the default profile long enough
# for all three losses' validation accuracy to settle (verdicts.SETTLED over the last fifth).
PROFILES = {"quick": SIZES["quick"],
            "default": Sizes(spiral_n=400, spiral_steps=800, fashion_subset=20000, fashion_epochs=10),
            "full": SIZES["full"]}
PREDICTIONS = "predictions.pt"  # per run: raw outputs and labels of the val and test splits, and its s


def scale(loss: str, train_loss: float, classes: int) -> float:
    """The s in softmax(z / s): how each loss's own model of the one-hot target reads the outputs z
    as class probabilities, P(target = e_k | z) normalised over the C one-hot targets e_k:
    - cross-entropy: a categorical softmax(z), s = 1;
    - BCE: independent Bernoullis sigmoid(z_k); P(e_k) = sigmoid(z_k) prod_{j != k} (1 - sigmoid(z_j)),
      proportional to exp(z_k), so again softmax(z), s = 1;
    - MSE: a Gaussian of mean z and variance s per output; P(e_k) is proportional to
      exp(-|e_k - z|^2 / 2s) = exp(z_k / s) times a factor that is the same for every k, so softmax(z / s),
      with s the maximum-likelihood variance: the final training MSE (summed over classes) over C.
    Clipping MSE's outputs to [0, 1] instead leaves exact zeros that no temperature can lift."""
    return train_loss / classes if loss == "mse" else 1.0


def log_probabilities(z: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    """(N, C) outputs -> (N, C) class log-probabilities, log softmax(z / s) (see `scale`)."""
    return (z / s).log_softmax(1)


def reliability(p: torch.Tensor, y: torch.Tensor, bins: int = BINS) -> dict:
    """Top-label confidence (max probability) vs accuracy in equal-width bins, and the ECE: the
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


def nll(logp: torch.Tensor, y: torch.Tensor, t: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under softmax(logp / t)."""
    return F.cross_entropy(logp / t, y).item()


LOG_T = (-5.0, 5.0)  # the temperature fit searches T in [e^-5, e^5], about [0.007, 148]


def fit_temperature(logp: torch.Tensor, y: torch.Tensor, iters: int = 60) -> float:
    """The T minimising the NLL of softmax(logp / T) on (validation) log-probabilities: the same
    fit for every loss. NLL is convex in 1/T, so unimodal in log T: golden-section search."""
    lo, hi = LOG_T
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(logp, y, math.exp(a)), nll(logp, y, math.exp(b))
    for _ in range(iters):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(logp, y, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(logp, y, math.exp(b))
    return math.exp((lo + hi) / 2)


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


def gradient_demo(a: float = 8.0) -> dict:
    """The gradient each loss sends to the label's output when the net is confidently wrong: logits
    (a, 0, 0), label class 1. Cross-entropy on the softmax: p_1 - 1, near -1. Squared error on the
    softmax's probabilities: about -2 p_1 (1 - p_1), near 0 (the softmax saturates). Squared error
    on the raw outputs, as this study trains MSE: 2 (z_1 - 1) = -2, whatever a is."""
    z = torch.tensor([a, 0.0, 0.0], requires_grad=True)
    y = torch.tensor(1)
    onehot = F.one_hot(y, 3).float()
    losses = {"ce": lambda: F.cross_entropy(z[None], y[None]),
              "mse_softmax": lambda: ((z.softmax(0) - onehot) ** 2).sum(),
              "mse_raw": lambda: ((z - onehot) ** 2).sum()}
    out = {"logits": z.tolist(), "label": int(y), "p_label": z.softmax(0)[1].item()}
    for name, loss in losses.items():
        (g,) = torch.autograd.grad(loss(), z)
        out[name] = g[1].item()
    return out


def calibrate(ctx: StudyContext, loss: str, results: list) -> dict:
    """Each complete run's val/test outputs saved, then the same steps for every loss: its outputs
    read as probabilities (`scale`), the test ECE, confidence and NLL; a temperature fitted on the
    validation NLL (`fit_temperature`); the test ECE and NLL again after it. Per-seed values are kept
    (`by_seed`, in seed order) so the report can pair losses by seed. A validation split the net gets
    all right has no error to fit a temperature to: the NLL keeps falling as T shrinks, the fit ends
    at the edge of its range (`at_edge`), and the row's after-T numbers are not reported."""
    keys = ("ece", "confidence", "nll", "temperature", "ece_scaled", "confidence_scaled", "nll_scaled", "scale")
    per = {k: [] for k in ("run", "seed", "val_errors", "at_edge", *keys)}
    for r in results:
        if r.status != "complete":
            continue
        data = load_dataset(r.config)
        zv, yv = outputs_on(r.model, data, "val")
        zt, yt = outputs_on(r.model, data, "test")
        s = scale(loss, r.final["train_loss"], data.num_classes)
        save_tensors(ctx.store, r.run_id, PREDICTIONS, {"loss": loss, "scale": s, "val_outputs": zv,
                                                        "val_labels": yv, "test_outputs": zt, "test_labels": yt})
        lv, lt = log_probabilities(zv, s), log_probabilities(zt, s)
        t = fit_temperature(lv, yv)
        before, after = reliability(lt.exp(), yt), reliability((lt / t).softmax(1), yt)
        edge = min(abs(math.log(t) - b) for b in LOG_T) < 1e-3
        vals = {"run": r.run_id, "seed": r.config.seed, "val_errors": int((lv.argmax(1) != yv).sum()),
                "at_edge": edge, "ece": before["ece"], "confidence": before["mean_confidence"],
                "nll": nll(lt, yt), "temperature": t, "ece_scaled": after["ece"],
                "confidence_scaled": after["mean_confidence"], "nll_scaled": nll(lt, yt, t), "scale": s}
        for k, v in vals.items():
            per[k].append(v)
    return {**{k: mean_std(per[k]) for k in keys}, "fits_at_edge": sum(per["at_edge"]), "by_seed": per}


def run_dataset(ctx: StudyContext, key: str) -> tuple[list[dict], dict]:
    """Three losses x seeds on one dataset: the summary rows, and what the budget line reads (the
    steps each run took, the test split's size, how many temperature fits ran to their range's edge)."""
    make, extra = (spiral_config, SPIRAL) if key == "spiral" else (fashion_config, FASHION)
    sizes = PROFILES[ctx.profile]
    variants = [(LABEL[loss], lambda s, loss=loss: make(sizes, s, loss=loss, **extra)) for loss in LOSSES]
    rows, results = train_over_seeds(ctx, variants)
    for loss, row, res in zip(LOSSES, rows, results):
        hits = [steps_to(r.records, TARGET[key]) for r in res if r.status == "complete"]
        row.update(loss=loss, to_target={"val_acc_target": TARGET[key], "reached": sum(h is not None for h in hits),
                                         "of": len(res), "steps": mean_std(h for h in hits if h is not None)},
                   **calibrate(ctx, loss, res))
    done = [r for res in results for r in res if r.status == "complete"]
    splits = load_dataset(done[0].config).splits() if done else {}
    n_val, n_test = (len(splits[s][1]) if done else 0 for s in ("val", "test"))
    return rows, {f"{key}_steps": max((r.steps for r in done), default=0), f"{key}_test": n_test, f"{key}_val": n_val,
                  f"{key}_val_errors": mean_std(e for row in rows for e in row["by_seed"]["val_errors"]),
                  f"{key}_fits_at_edge": sum(row["fits_at_edge"] for row in rows),
                  f"{key}_fits": sum(row["temperature"]["n"] for row in rows)}


@register_study
class SoftmaxStudy(Study):
    name = "softmax"
    title = "Why softmax?"
    help = "Q5: softmax+CE vs MSE vs sigmoids: accuracy, convergence, calibration, overflow"
    entries = (Entry(QUESTIONS, 5, "Q5. Why use softmax?",
                     "\u201cIt turns raw outputs into a probability distribution, pairs with cross-entropy to "
                     "simplify the loss, supports many classes and improves the model's decisions.\u201d"),)
    default_seeds = {"quick": 2, "default": 8, "full": 10}

    def run(self, ctx: StudyContext) -> dict:
        ctx.log("softmax (1/3): naive vs stable softmax in float32")
        overflow = overflow_demo()
        gradients = gradient_demo()
        ctx.log("softmax (2/3): spiral, three losses x seeds")
        spiral, spiral_budget = run_dataset(ctx, "spiral")
        ctx.log("softmax (3/3): Fashion-MNIST, three losses x seeds")
        fashion, fashion_budget = run_dataset(ctx, "fashion")
        table = [{"dataset": ds, "loss": r["name"], "test acc": fmt_ms(r["test_acc"]),
                  "steps to target": f"{fmt_ms(r['to_target']['steps'], 0)} (val {r['to_target']['val_acc_target']}: "
                                     f"{r['to_target']['reached']}/{r['to_target']['of']})",
                  "test ECE": fmt_ms(r["ece"]), "ECE after T": fmt_ms(r["ece_scaled"]),
                  "T (fit on val)": fmt_ms(r["temperature"], 2)}
                 for ds, rows in (("spiral", spiral), ("fashion-mnist", fashion)) for r in rows]
        return {"spiral": spiral, "fashion": fashion, "overflow": overflow, "gradients": gradients,
                "budget": {**spiral_budget, **fashion_budget}, "bins": BINS, "val_acc_targets": TARGET,
                "settings": {"spiral": spiral_config(PROFILES[ctx.profile], 0, **SPIRAL).to_dict(),
                             "fashion": fashion_config(PROFILES[ctx.profile], 0, **FASHION).to_dict()},
                "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.softmax.figures import draw_softmax

        calibration = SimpleNamespace(PREDICTIONS=PREDICTIONS, log_probabilities=log_probabilities,
                                      reliability=reliability)
        return draw_softmax(store, run, folder, calibration)

    def section(self, store, run):
        from nnstudy.studies.softmax.report import softmax_section

        return softmax_section(store, run, self.title)
