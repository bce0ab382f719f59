"""The softmax study's report section, computed from its stored summary only: accuracy,
convergence, calibration (ECE, temperature) and the float32 numbers behind log-sum-exp."""

from __future__ import annotations

from nnstudy.evidence import compare, join, ms, num, sentence
from nnstudy.references import REFERENCES
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import figure_list, ms_or, steps_phrase
from nnstudy.verdicts import NOT_SETTLED, deciding, judge, outcome, settles

FLOOR = 0.01  # accuracy: a gap under one point is not called a difference
ECE_FLOOR = 0.005  # calibration error: half a point
FIGURES = {
    "reliability.png": "Reliability diagrams on the test split, every seed pooled: accuracy per confidence bin "
                       "(bars) against mean confidence (outline); the diagonal is perfect calibration.",
    "accuracy_ece.png": "Test accuracy and expected calibration error per loss, mean ± std over seeds.",
    "curves.png": "Validation accuracy during training; the dotted line is the steps-to-target threshold.",
    "overflow.png": "p(class 0) for logits (a, 0, -1) in float32: the naive softmax turns NaN from a = 89.",
}
DATASETS = (("spiral", "the spiral"), ("fashion", "Fashion-MNIST"))


def index(run: dict, key: str) -> dict[str, int]:
    return {r["loss"]: i for i, r in enumerate(run["summary"][key])}


def softmax_section(store, run: dict, title: str) -> Section:
    return Section(title,
                   paragraphs=[accuracy_text(run), *speed_text(run), calibration_text(run),
                               temperature_text(run), *overflow_text(run)],
                   tables=[results_table(run), overflow_table(run)], figures=figure_list(store, run, FIGURES),
                   references=[REFERENCES["fashion_mnist.mlp"].row()])


def accuracy_text(run: dict):
    parts = []
    for key, label in DATASETS:
        i = index(run, key)
        parts.append(sentence("on {ds} {lst}", ds=label, lst=join(
            sentence("{n} {v}", n=run["summary"][key][k]["name"], v=ms(run, f"{key}.{k}.test_acc"))
            for k in i.values())))
    i = index(run, "fashion")
    ce = ms(run, f"fashion.{i['cross_entropy']}.test_acc")
    words = dict(more="above", less="below", same="level with", floor=FLOOR)
    w1 = compare(ms(run, f"fashion.{i['mse']}.test_acc"), ce, **words)
    w2 = compare(ms(run, f"fashion.{i['bce']}.test_acc"), ce, **words)
    tail = " Accuracy alone does not separate the three losses here." if w1.sign == w2.sign == 0 else ""
    return sentence("Held-out accuracy ({n} seeds): {lst}. On Fashion-MNIST, MSE on one-hot targets is {w1} "
                    "softmax + CE and independent sigmoids are {w2} it.{tail}", n=num(run, "fashion.0.test_acc.n", "d"),
                    lst=join(parts, "; ", "; "), w1=w1, w2=w2, tail=tail)


def speed_text(run: dict) -> list:
    return [sentence("Steps to {t} validation accuracy on {ds}: {lst}.", t=num(run, f"val_acc_targets.{key}", ".2f"),
                     ds=label, lst=join(steps_phrase(run, key, k) for k in index(run, key).values()))
            for key, label in DATASETS]


def calibration_text(run: dict):
    i = index(run, "fashion")
    e = {loss: ms(run, f"fashion.{k}.ece") for loss, k in i.items()}
    words = dict(more="less well", less="better", same="about as well", floor=ECE_FLOOR)
    return sentence("Calibration on the Fashion-MNIST test split ({b} confidence bins): the expected calibration "
                    "error is {ce} for softmax + CE, {mse} for MSE on one-hot targets and {bce} for independent "
                    "sigmoids, so softmax + CE is {w1} calibrated than MSE and {w2} than the sigmoids. Its mean "
                    "confidence, {conf}, sits beside its accuracy, {acc}; MSE's mean confidence, {mconf}, is {mw} "
                    "its accuracy, {macc}.", b=num(run, "bins", "d"),
                    mconf=ms(run, f"fashion.{i['mse']}.confidence"), macc=ms(run, f"fashion.{i['mse']}.test_acc"),
                    mw=compare(ms(run, f"fashion.{i['mse']}.confidence"), ms(run, f"fashion.{i['mse']}.test_acc"),
                               more="above (overconfident)", less="below (underconfident)", same="level with",
                               floor=FLOOR),
                    ce=e["cross_entropy"], mse=e["mse"], bce=e["bce"],
                    w1=compare(e["cross_entropy"], e["mse"], **words),
                    w2=compare(e["cross_entropy"], e["bce"], **words),
                    conf=ms(run, f"fashion.{i['cross_entropy']}.confidence"),
                    acc=ms(run, f"fashion.{i['cross_entropy']}.test_acc"))


def temperature_text(run: dict):
    parts = []
    for key, label in DATASETS:
        k = index(run, key)["cross_entropy"]
        before, after = ms(run, f"{key}.{k}.ece"), ms_or(run, f"{key}.{k}.ece_scaled")
        if isinstance(after, str):
            continue
        parts.append(sentence("on {ds} (validation accuracy {va}) T = {t} and the test ECE went from {b} to {a}, "
                              "{w}", ds=label, va=ms(run, f"{key}.{k}.val_acc"),
                              t=ms(run, f"{key}.{k}.temperature", ".2f"), b=before, a=after,
                              w=compare(after, before, more="worse", less="better", same="no clear change",
                                        floor=ECE_FLOOR)))
    return sentence("Dividing the logits by a temperature T fitted on the validation split (softmax only): {lst}. "
                    "T above one softens an overconfident net, below one sharpens an underconfident one; where almost "
                    "every validation point is already right, the fit can only push T down.",
                    lst=join(parts, "; ", "; "))


def overflow_text(run: dict) -> list:
    o = run["summary"]["overflow"]
    logits = join((num(run, f"overflow.logits.{j}", ".0f") for j in range(3)), ", ", ", ")
    low = join((num(run, f"overflow.low_logits.{j}", ".0f") for j in range(3)), ", ", ", ")
    stable_low = join((num(run, f"overflow.stable_low.{j}", ".3g") for j in range(3)), ", ", ", ")
    first = sentence("Why log-sum-exp: in single precision, exp({b}) = {e} but exp({fi}) is {inf}, since the largest "
                     "single-precision float is e^{ma}. For the logits ({z}) the naive exp(z) / sum exp(z) returns "
                     "{naive} for the first class (infinity over infinity) and a cross-entropy of {nce}; "
                     "subtracting the largest logit first, the stable softmax returns {st} and a cross-entropy of "
                     "{sce}.",
                     b=num(run, "overflow.below_arg", ".0f"), e=num(run, "overflow.exp_below", ".4g"),
                     fi=num(run, "overflow.first_inf", "d"),
                     inf=o["exp"][0], ma=num(run, "overflow.max_exp_arg", ".2f"), z=logits, naive=o["naive"][0],
                     nce=o["naive_ce"][0], st=num(run, "overflow.stable.0", ".6g"),
                     sce=num(run, "overflow.stable_ce.0", ".3g"))
    second = sentence("At the other end, the logits ({z}) underflow every exp to zero: the naive softmax returns {n} "
                      "(zero over zero) where the stable one returns {s}.", z=low, n=", ".join(o["naive_low"]),
                      s=stable_low)
    return [first, second]


def results_table(run: dict) -> dict:
    body = []
    for key, _ in DATASETS:
        for k in index(run, key).values():
            base = f"{key}.{k}"
            body.append([key.replace("fashion", "Fashion-MNIST"), run["summary"][key][k]["name"],
                         ms(run, f"{base}.test_acc"),
                         steps_phrase(run, key, k, named=False), ms(run, f"{base}.ece"),
                         ms(run, f"{base}.confidence"), ms_or(run, f"{base}.temperature", ".2f", "-"),
                         ms_or(run, f"{base}.ece_scaled", ".3f", "-")])
    return {"caption": "Held out, mean ± std over seeds (ECE: 15 equal-width confidence bins; T fitted on validation)",
            "columns": ["dataset", "loss", "test acc", "steps to target", "test ECE", "mean confidence",
                        "temperature T", "ECE after T"], "rows": body}


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


def answer(store, run: dict) -> Answer:
    """Of the week's four roles, two hold by construction (softmax's outputs are a distribution
    over any number of classes; with cross-entropy the gradient is p - y) and one can be refuted
    by a measurement: "improves the model's decisions". The deciding number is softmax + CE minus
    MSE on one-hot targets, held-out accuracy on Fashion-MNIST (ten classes, the harder of the
    study's two sets), paired by seed: MSE is the alternative the week's question implies.
    Calibration is left out of the verdict: the losses' outputs become probabilities in different
    ways (see `probabilities`), so their ECEs do not compare like with like. Higher: supported;
    level or lower: partly supported, never "not supported": three of the four roles hold by
    construction whatever the accuracy, and MSE on one-hot targets matching or beating
    cross-entropy in accuracy is a known result, not a refutation of why softmax is used."""
    i = index(run, "fashion")
    v = judge(store, run, f"fashion.{i['cross_entropy']}", f"fashion.{i['mse']}", classes=10,
              settle=settles("softmax", run), words=outcome("softmax + CE ahead", "MSE ahead"))
    verdict = {"higher": "supported", "same": "partly supported", "lower": "partly supported"}.get(v.kind, NOT_SETTLED)
    why = sentence("Softmax's outputs are a probability distribution over any number of classes and, with "
                   "cross-entropy, give the gradient p - y, by construction; whether it also improves decisions, "
                   "softmax + cross-entropy against MSE on one-hot targets, held-out accuracy on Fashion-MNIST: "
                   "{w}.", w=v.word)
    return Answer(verdict, deciding(v), "softmax + CE minus MSE, held-out Fashion-MNIST accuracy", why,
                  figure=store.run_dir(run["id"]) / "accuracy_ece.png")
