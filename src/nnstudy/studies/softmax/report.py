"""The softmax study's report section, computed from its stored summary only: the budget, accuracy
judged by the verdict rules, convergence, how each loss's outputs become probabilities and their
calibration before and after the same recalibration, the float32 numbers behind log-sum-exp, and
the verdict the answer sheet shows (one function writes both)."""

from __future__ import annotations

from nnstudy.evidence import OPS, Num, Text, Word, compare, join, ms, num, sentence
from nnstudy.references import REFERENCES
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import figure_list, ms_or, steps_phrase
from nnstudy.verdicts import MIN_SEEDS, NOT_SETTLED, Verdict, classify, deciding, judge, outcome, settles, stated

ECE_TOL = 0.01  # calibration error: a paired ECE difference whose 95% interval lies inside ±0.01 is "level"
FIGURES = {
    "accuracy_ece.png": "Accuracy bars, per loss: test accuracy on both datasets (left); on Fashion-MNIST, the "
                        "test ECE as each loss reads its outputs and after the temperature fitted on validation "
                        "(right); mean ± std over seeds.",
    "reliability.png": "Reliability diagrams, Fashion-MNIST test split, every seed pooled: accuracy per "
                       "confidence bin (bars) against the bin's mean confidence (outline); the diagonal is perfect "
                       "calibration. Top row: each loss's outputs as read (softmax(z / s)); bottom row: after the "
                       "same temperature fit.",
    "curves.png": "Validation curves: accuracy on the validation split during training, mean ± std over seeds; "
                  "the dotted line is the steps-to-target threshold. The verdict's convergence rule reads these "
                  "curves' last fifth.",
    "overflow.png": "Overflow plot: p(class 0) for logits (a, 0, -1) in float32: the naive softmax turns NaN once "
                    "exp(a) overflows; the stable one (subtract the largest logit first) does not.",
}
DATASETS = (("spiral", "the spiral"), ("fashion", "Fashion-MNIST"))
HUI_BELKIN = ("square_loss.hui_belkin", "square_loss.hui_belkin_vision")


def index(run: dict, key: str) -> dict[str, int]:
    return {r["loss"]: i for i, r in enumerate(run["summary"][key])}


def softmax_section(store, run: dict, title: str) -> Section:
    paragraphs = [budget_text(run), accuracy_text(store, run), *speed_text(run), reading_text(run),
                  calibration_text(run), gradient_text(run), *overflow_text(run), verdict_text(store, run)]
    return Section(title, paragraphs=[p for p in paragraphs if str(p)],
                   tables=[results_table(run), overflow_table(run)], figures=figure_list(store, run, FIGURES),
                   references=[REFERENCES[k].row() for k in HUI_BELKIN] + [REFERENCES["fashion_mnist.mlp"].row()])


# -- the verdict rules on the stored rows ---------------------------------------------------------------
def accuracy_verdict(store, run: dict, other: str, key: str = "fashion", classes: int = 10) -> Verdict:
    """softmax + CE against `other` (a loss), held-out accuracy, through verdicts.judge."""
    i = index(run, key)
    name = run["summary"][key][i[other]]["name"]
    words = {**outcome("softmax + CE ahead", f"{name} ahead"), "unclear": "unclear"}  # deciding() counts the seeds
    return judge(store, run, f"{key}.{i['cross_entropy']}", f"{key}.{i[other]}", classes=classes,
                 settle=settles("softmax", run), words=words)


def within_tolerance(v: Verdict, other: str) -> Text:
    """For a "level" verdict whose interval excludes zero: who is ahead, and that it is by less than
    the practical tolerance (a measurable gap is still named, not hidden in "level")."""
    if v.kind != "same" or v.lo.value <= 0 <= v.hi.value:
        return sentence("")
    leader = "softmax + CE" if v.lo.value > 0 else other
    return sentence("; the interval excludes zero: a gap in favour of {who}, smaller than {tol}", who=leader,
                    tol=stated("tolerance", ".2f"))


def judged(v: Verdict, other: str = "") -> Text:
    """A verdict's interval and its words ("+0.010, 95% interval ...: softmax + CE ahead"), once each."""
    if v.kind in ("unclear", "unsettled") or v.diff is None:
        return deciding(v)
    return deciding(v) + sentence(": {w}", w=v.word) + within_tolerance(v, other)


def paired(run: dict, key: str, a: int, b: int, field: str) -> tuple[Num, Num, Num, int]:
    """Mean of the per-seed differences a - b of `field` (by_seed lists), with its 95% t-interval;
    each bound recomputable from the stored per-seed values (evidence.OPS)."""
    rows = run["summary"][key]
    at = [{s: j for j, s in enumerate(rows[k]["by_seed"]["seed"])} for k in (a, b)]
    seeds = sorted(set(at[0]) & set(at[1]))
    args = tuple(num(run, f"{key}.{k}.by_seed.{field}.{at[x][s]}", ".3f") for x, k in enumerate((a, b)) for s in seeds)
    vals = [x.value for x in args]
    out = [Num(OPS[op](*vals) if len(seeds) > 1 else None, "+.3f", op=op, args=args)
           for op in ("paired_mean", "paired_lo", "paired_hi")]
    return (*out, len(seeds))


def ece_comparison(run: dict, other: str) -> tuple[str, Text]:
    """softmax + CE's test ECE after recalibration minus `other`'s, paired by seed: (kind, words)."""
    i = index(run, "fashion")
    d, lo, hi, n = paired(run, "fashion", i["cross_entropy"], i[other], "ece_scaled")
    kind = classify(lo.value, hi.value, ECE_TOL) if n >= MIN_SEEDS else "unclear"
    name = run["summary"]["fashion"][i[other]]["name"]
    text = {"lower": "softmax + CE better calibrated", "higher": f"{name} better calibrated",
            "same": "level"}.get(kind, "unclear with these seeds")
    rec = {"rule": "verdict", "kind": kind, "tol": ECE_TOL, "settled_tol": 0.0}
    if n >= MIN_SEEDS:  # with fewer seeds the rules give no direction whatever the interval says
        rec.update(lo=lo.record(), hi=hi.record())
    word = Word(text, {"higher": 1, "lower": -1, "same": 0}.get(kind), rec)
    return kind, sentence("{d}, {lvl} interval {lo} to {hi}, paired by seed: {w}", d=d, lo=lo, hi=hi, w=word,
                          lvl=stated("level", ".0%"))


# -- paragraphs -------------------------------------------------------------------------------------------
def budget_text(run: dict):
    s = run["summary"]
    sp, fm = "settings.spiral", "settings.fashion"
    return sentence("Budget: on the spiral, {n} points per class (a fifth held out for test, a fifth of the rest "
                    "for validation), {st} full-batch steps; on Fashion-MNIST, {sub} training images (a tenth of "
                    "them for validation), {ep} epochs of mini-batches of {bs} ({fs} steps), scored on the "
                    "{nt} test images; each loss over {k} seeds; {sec} s for the whole study on this machine.",
                    n=num(run, f"{sp}.n_per_class", "d"), st=num(run, f"{sp}.steps", "d"),
                    sub=num(run, f"{fm}.train_subset", ",d"), ep=num(run, f"{fm}.epochs", "d"),
                    bs=num(run, f"{fm}.batch_size", "d"), fs=num(run, "budget.fashion_steps", ",d"),
                    nt=num(run, "budget.fashion_test", ",d"), k=num(run, "fashion.0.test_acc.n", "d"),
                    sec=num(run, "seconds", ".0f")) if "budget" in s else sentence("")


def accuracy_text(store, run: dict):
    parts = []
    for key, label in DATASETS:
        rows = enumerate(run["summary"][key])
        parts.append(sentence("on {ds} {lst}", ds=label, lst=join(
            sentence("{n} {v}", n=r["name"], v=ms(run, f"{key}.{k}.test_acc")) for k, r in rows)))
    spiral = accuracy_verdict(store, run, "mse", "spiral", classes=3)
    v_mse, v_bce = accuracy_verdict(store, run, "mse"), accuracy_verdict(store, run, "bce")
    return sentence("Held-out accuracy, mean ± std over seeds (the accuracy bars below): {lst}. On the spiral, "
                    "softmax + CE against MSE: {sw}. On Fashion-MNIST, softmax + CE minus MSE on one-hot targets: "
                    "{d1}; minus sigmoids + BCE: {d2}.", lst=join(parts, "; ", "; "), sw=judged(spiral),
                    d1=judged(v_mse, "MSE"), d2=judged(v_bce, "sigmoids + BCE"))


def speed_text(run: dict) -> list:
    return [sentence("Steps to {t} validation accuracy on {ds}, checked every {e} steps (the validation curves "
                     "below): {lst}.", t=num(run, f"val_acc_targets.{key}", ".2f"), ds=label,
                     e=num(run, f"settings.{key}.eval_every", "d"),
                     lst=join(steps_phrase(run, key, k) for k in index(run, key).values()))
            for key, label in DATASETS]


def gradient_text(run: dict):
    g = "gradients"
    return sentence("What cross-entropy's gradient p - y buys, by construction: for a net confidently wrong, "
                    "logits ({a}, {b}, {c}) with the label the second class (softmax probability {p}), the "
                    "gradient on the label's output is {ce} for cross-entropy, {ms} for squared error on the "
                    "softmax's probabilities (the softmax saturates: almost nothing to learn from) and {raw} for "
                    "squared error on the raw outputs, as MSE is trained here, which does not saturate either.",
                    a=num(run, f"{g}.logits.0", ".0f"), b=num(run, f"{g}.logits.1", ".0f"),
                    c=num(run, f"{g}.logits.2", ".0f"), p=num(run, f"{g}.p_label", ".2g"),
                    ce=num(run, f"{g}.ce", ".3f"), ms=num(run, f"{g}.mse_softmax", ".4f"),
                    raw=num(run, f"{g}.mse_raw", ".1f")) if "gradients" in run["summary"] else sentence("")


def reading_text(run: dict):
    i = index(run, "fashion")
    return sentence(
        "How each loss's outputs z become probabilities, by one rule: each loss is the negative log-likelihood "
        "of a model of the one-hot target, and class k gets that model's probability of the target e_k, "
        "normalised over the classes. Cross-entropy's model is the softmax itself. Independent sigmoids (BCE) "
        "give e_k the probability sigmoid(z_k) times the product of one minus sigmoid(z_j) over the other "
        "classes, which is proportional to exp(z_k): softmax(z) again. Squared error is a Gaussian of mean z "
        "and variance s per output, whose density at e_k is proportional to exp(z_k / s): softmax(z / s), s "
        "being that Gaussian's maximum-likelihood variance, the training squared error per output ({s} on "
        "Fashion-MNIST). Clipping MSE's outputs to the unit interval and renormalising instead would leave "
        "exact zeros, which no temperature can lift and which give an infinite NLL wherever the label gets "
        "one. Every loss then gets the same recalibration, fitted by the same code: its log-probabilities "
        "divided by one temperature T, chosen to minimise the NLL on the validation split.",
        s=ms(run, f"fashion.{i['mse']}.scale", ".4f"))


def calibration_text(run: dict):
    i = index(run, "fashion")
    f = {loss: f"fashion.{k}" for loss, k in i.items()}
    k_mse, w_mse = ece_comparison(run, "mse")
    k_bce, w_bce = ece_comparison(run, "bce")
    mse = f["mse"]
    mw = compare(ms(run, f"{mse}.confidence"), ms(run, f"{mse}.test_acc"), more="overconfident",
                 less="underconfident", same="about as confident as it is accurate", floor=ECE_TOL)
    spiral = sentence(" On the spiral the nets are right on almost every held-out point: a net's validation "
                      "split ({n} points) holds {e} errors on average, too few to fit a temperature to (where it "
                      "holds none the NLL keeps falling as T shrinks, and the fit ran to the edge of its range for "
                      "{k} of {m} nets), so the spiral's calibration is reported as read only.",
                      n=num(run, "budget.spiral_val", ",d"), e=ms(run, "budget.spiral_val_errors", ".1f"),
                      k=num(run, "budget.spiral_fits_at_edge", "d"),
                      m=num(run, "budget.spiral_fits", "d")) if "spiral_val" in run["summary"].get("budget", {}) else ""
    return sentence(
        "Calibration on the Fashion-MNIST test split ({b} equal-width bins of top-label confidence; the "
        "reliability diagrams below): the expected calibration error as read is {ce} for softmax + CE, {m} for "
        "MSE and {bc} for sigmoids + BCE; after the fitted temperature (T = {tc}, {tm} and {tb}) it is {ce2}, "
        "{m2} and {bc2}, and the test NLL {n1}, {n2} and {n3}. Read through its Gaussian, MSE is {mw}: mean "
        "confidence {mc} against an accuracy of {ma}, since a small variance s turns small gaps between outputs "
        "into near-certainty. After the same recalibration, softmax + CE's ECE minus MSE's: {w1}; minus "
        "sigmoids + BCE's: {w2}.{sp}", b=num(run, "bins", "d"),
        ce=ms(run, f"{f['cross_entropy']}.ece"), m=ms(run, f"{mse}.ece"), bc=ms(run, f"{f['bce']}.ece"),
        tc=ms(run, f"{f['cross_entropy']}.temperature", ".2f"), tm=ms(run, f"{mse}.temperature", ".2f"),
        tb=ms(run, f"{f['bce']}.temperature", ".2f"), ce2=ms(run, f"{f['cross_entropy']}.ece_scaled"),
        m2=ms(run, f"{mse}.ece_scaled"), bc2=ms(run, f"{f['bce']}.ece_scaled"),
        n1=ms(run, f"{f['cross_entropy']}.nll_scaled"), n2=ms(run, f"{mse}.nll_scaled"),
        n3=ms(run, f"{f['bce']}.nll_scaled"), mc=ms(run, f"{mse}.confidence"), ma=ms(run, f"{mse}.test_acc"),
        mw=mw, w1=w_mse, w2=w_bce, sp=spiral)


def overflow_text(run: dict) -> list:
    o = run["summary"]["overflow"]
    logits = join((num(run, f"overflow.logits.{j}", ".0f") for j in range(3)), ", ", ", ")
    low = join((num(run, f"overflow.low_logits.{j}", ".0f") for j in range(3)), ", ", ", ")
    stable_low = join((num(run, f"overflow.stable_low.{j}", ".3g") for j in range(3)), ", ", ", ")
    first = sentence("Why log-sum-exp (the overflow plot below): in single precision, exp({b}) = {e} but exp({fi}) "
                     "is {inf}, since the largest single-precision float is e^{ma}. For the logits ({z}) the naive "
                     "exp(z) / sum exp(z) returns {naive} for the first class (infinity over infinity) and a "
                     "cross-entropy of {nce}; subtracting the largest logit first, the stable softmax returns {st} "
                     "and a cross-entropy of {sce}.",
                     b=num(run, "overflow.below_arg", ".0f"), e=num(run, "overflow.exp_below", ".4g"),
                     fi=num(run, "overflow.first_inf", "d"),
                     inf=o["exp"][0], ma=num(run, "overflow.max_exp_arg", ".2f"), z=logits, naive=o["naive"][0],
                     nce=o["naive_ce"][0], st=num(run, "overflow.stable.0", ".6g"),
                     sce=num(run, "overflow.stable_ce.0", ".3g"))
    second = sentence("At the other end, the logits ({z}) underflow every exp to zero: the naive softmax returns {n} "
                      "(zero over zero) where the stable one returns {s}.", z=low, n=", ".join(o["naive_low"]),
                      s=stable_low)
    return [first, second]


def after_t(run: dict, base: str, field: str, fmt: str = ".3f"):
    """An after-temperature number for the table: Fashion-MNIST only (the spiral's validation splits
    hold too few errors to fit a temperature to; see calibration_text)."""
    return "-" if base.startswith("spiral") else ms_or(run, f"{base}.{field}", fmt, "-")


def results_table(run: dict) -> dict:
    body = []
    for key, _ in DATASETS:
        for k in index(run, key).values():
            base = f"{key}.{k}"
            body.append([key.replace("fashion", "Fashion-MNIST"), run["summary"][key][k]["name"],
                         ms(run, f"{base}.test_acc"), steps_phrase(run, key, k, named=False),
                         ms(run, f"{base}.ece"), ms(run, f"{base}.confidence"),
                         after_t(run, base, "temperature", ".2f"), after_t(run, base, "ece_scaled"),
                         ms(run, f"{base}.nll"), after_t(run, base, "nll_scaled")])
    return {"caption": "Held out, mean ± std over seeds. Probabilities: softmax(z / s), s one for CE and BCE, the "
                       "training squared error per output for MSE; ECE: equal-width bins of top-label confidence; "
                       "T fitted on the validation NLL, the same fit for every loss (Fashion-MNIST only: the spiral's "
                       "validation splits hold too few errors to fit it)",
            "columns": ["dataset", "loss", "test acc", "steps to target", "test ECE", "mean confidence",
                        "temperature T", "ECE after T", "test NLL", "NLL after T"], "rows": body}


def overflow_table(run: dict) -> dict:
    o = run["summary"]["overflow"]
    rows = [[sentence("exp({x})", x=num(run, "overflow.below_arg", ".0f")), num(run, "overflow.exp_below", ".4g"), ""],
            [sentence("exp({x})", x=num(run, "overflow.first_inf", "d")), o["exp"][0], ""],
            ["naive softmax, first class", o["naive"][0], num(run, "overflow.stable.0", ".6g")],
            ["cross-entropy of the first class", o["naive_ce"][0], num(run, "overflow.stable_ce.0", ".3g")],
            ["underflow: softmax of the low logits", ", ".join(o["naive_low"]),
             join((num(run, f"overflow.stable_low.{j}", ".3g") for j in range(3)), ", ", ", ")]]
    return {"caption": "float32, measured", "columns": ["expression", "naive", "stable (log-sum-exp)"],
            "rows": rows}


# -- the answer sheet ---------------------------------------------------------------------------------------
def verdict_of(v: Verdict) -> str:
    """Softmax + CE ahead in accuracy: supported. Level or behind: partly supported, never "not
    supported": three of the four roles hold by construction whatever the accuracy, and square loss
    on one-hot targets matching cross-entropy's accuracy is a published result, not a refutation of
    why softmax is used. Unclear or still moving: not settled."""
    return {"higher": "supported", "same": "partly supported", "lower": "partly supported"}.get(v.kind, NOT_SETTLED)


def why(store, run: dict) -> Text:
    """The verdict's reasons, for the sheet and the section alike: what holds by construction, what the
    accuracy comparison carries, and (where it was measured) calibration after the same recalibration."""
    v = accuracy_verdict(store, run, "mse")
    out = sentence("Softmax's outputs are a probability distribution over any number of classes and, with "
                   "cross-entropy, give the gradient p - y, by construction. Whether it improves decisions, "
                   "softmax + CE against MSE on one-hot targets, held-out Fashion-MNIST accuracy: {w}", w=v.word)
    if v.kind == "same":
        out += sentence(" (the difference's {lvl} interval lies inside ±{tol}", lvl=stated("level", ".0%"),
                        tol=stated("tolerance", ".2f")) + within_tolerance(v, "MSE") + sentence(")")
    out += sentence(".")
    if v.kind == "unclear":
        out += sentence(" More seeds settle it: {cmd}.", cmd=settles("softmax", run))
    if v.kind in ("same", "lower"):
        out += sentence(" Hui and Belkin find square loss on raw outputs comparable or better across many tasks, "
                        "with a slight edge to cross-entropy on vision tasks (references below).")
    if "by_seed" in run["summary"]["fashion"][0]:
        kind, words = ece_comparison(run, "mse")
        out += sentence(" Calibration, after the same temperature fit for both, test ECE of softmax + CE minus "
                        "MSE: {w}.", w=words)
    return out


def verdict_text(store, run: dict) -> Text:
    """The answer sheet's verdict and reasons, word for word, closing the section."""
    v = accuracy_verdict(store, run, "mse")
    return sentence("Verdict on the week's claim: {v}. ", v=verdict_of(v)) + why(store, run)


def answer(store, run: dict) -> Answer:
    """The deciding number is softmax + CE minus MSE on one-hot targets, held-out accuracy on
    Fashion-MNIST (ten classes, the harder of the study's two sets), paired by seed: MSE is the
    alternative the week's question implies. Calibration, now read the same way for every loss and
    recalibrated alike, is reported beside it in `why`, not folded into the verdict: the week claimed
    better decisions, and a decision is the argmax."""
    v = accuracy_verdict(store, run, "mse")
    return Answer(verdict_of(v), deciding(v), "softmax + CE minus MSE, held-out Fashion-MNIST accuracy",
                  why(store, run), figure=store.run_dir(run["id"]) / "accuracy_ece.png")
