"""The activations study's report section, computed from its stored summary only.

Four of the week's claims in turn: non-linearity (the spiral), convergence (steps to a target),
the gradient signal (derivatives and measured per-layer gradient norms, beside Nielsen's), and
the output range (measured on the test images). Every number is a stored value or arithmetic on
stored values, every direction word a `compare` of them.
"""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, ratio, ref_num, sentence
from nnstudy.references import REFERENCES, rows
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import figure_list, mean_of, ms_or, steps_phrase
from nnstudy.verdicts import claimed, deciding, judge, outcome, settles

FLOOR = 0.01  # accuracy: a gap under one point is not called a difference
FIGURES = {
    "boundaries.png": "Decision regions on held-out spiral points (first seed): no activation, straight cuts only.",
    "accuracy.png": "Held-out (test) accuracy per activation, mean ± std over seeds.",
    "curves.png": "Validation accuracy during training; the dotted line is the target of the steps-to-target count.",
    "derivatives.png": "Each activation and its derivative: the factor a unit passes back.",
    "gradient_norms.png": "Measured per hidden layer on Fashion-MNIST (nnstudy.probes): ||dL/db|| at the first step, "
                          "||dL/dW|| averaged over training.",
    "output_ranges.png": "Measured hidden outputs on the test images, and the share of flat unit-image pairs "
                         "(|f'| under the threshold the text states).",
}
NIELSEN = [f"vanishing.nielsen.3hidden.layer{i}" for i in (1, 2, 3)]


def index(run: dict, key: str) -> dict[str, int]:
    return {r["activation"]: i for i, r in enumerate(run["summary"][key])}


def activations_section(store, run: dict, title: str) -> Section:
    refs = [REFERENCES[k].row() for k in NIELSEN] + rows("glorot") + [REFERENCES["fashion_mnist.mlp"].row()]
    return Section(title,
                   paragraphs=[*linear_text(run), *speed_text(run), *gradient_text(run), range_text(run)],
                   tables=[accuracy_table(run), gradient_table(run)], figures=figure_list(store, run, FIGURES),
                   references=refs)


def linear_text(run: dict) -> list:
    i = index(run, "spiral")
    acc = {a: ms(run, f"spiral.{k}.test_acc") for a, k in i.items()}
    name = {a: run["summary"]["spiral"][k]["name"] for a, k in i.items()}
    best = max((a for a in i if a != "none"), key=lambda a: mean_of(run, f"spiral.{i[a]}.test_acc"))
    first = sentence("Without an activation the net is a product of linear maps, hence a linear classifier however "
                     "wide it is: on held-out spiral points ({n} seeds, {steps} full-batch Adam steps) it reached "
                     "{none}, where {others}.", n=num(run, f"spiral.{i['none']}.test_acc.n", "d"),
                     steps=num(run, "settings.spiral.steps", "d"), none=acc["none"],
                     others=join(sentence("{a} reached {v}", a=name[a], v=acc[a]) for a in i if a != "none"))
    # the highest mean is not "the best" when others sit within its noise: name every activation
    # the top one is not clearly ahead of (Welch's interval over seeds, evidence.compare)
    tied = [a for a in i if a not in ("none", best) and compare(acc[best], acc[a], floor=FLOOR).sign != 1]
    who = (sentence("{b} (level with or not clearly ahead of {t})", b=name[best], t=join(name[a] for a in tied))
           if tied else name[best])
    verdict = sentence("The highest, {b}, {w} the linear net by {d}: the decision regions show why (straight cuts "
                       "against curved ones).", b=who,
                       w=compare(acc[best], acc["none"], more="beats", less="trails", same="only matches",
                                 unclear="is not clearly ahead of", floor=FLOOR), d=diff(acc[best], acc["none"]))
    return [first, verdict]


def speed_text(run: dict) -> list:
    out = []
    for key, how in (("spiral", "full-batch Adam steps"), ("fashion", "SGD + momentum steps")):
        i = index(run, key)
        target = num(run, f"val_acc_targets.{key}", ".2f")
        reached = [a for a, k in i.items() if run["summary"][key][k]["to_target"]["steps"]["mean"] is not None]
        out.append(sentence("Steps to {t} validation accuracy on {ds} ({how}): {lst}.", t=target,
                            ds="the spiral" if key == "spiral" else "Fashion-MNIST", how=how,
                            lst=join(steps_phrase(run, key, k) for k in i.values())))
        if len(reached) >= 2:
            steps = {a: ms(run, f"{key}.{i[a]}.to_target.steps", ".0f") for a in reached}
            fast = min(reached, key=lambda a: steps[a].value)
            slow = max(reached, key=lambda a: steps[a].value)
            names = {a: run["summary"][key][i[a]]["name"] for a in reached}
            w = compare(steps[slow], steps[fast], more="needed", less="needed", same="needed")
            if w.sign == 1:  # beyond the two runs' seed noise
                tail = sentence("Of those that got there, {f} needed the fewest steps on average and {s} {w} {r} "
                                "times as many.", f=names[fast], s=names[slow], w=w,
                                r=ratio(steps[slow], steps[fast], ".1f"))
            else:
                tail = sentence("Of those that got there, the fastest ({f}) and the slowest ({s}) differ by less "
                                "than their seed noise: no ranking.", f=names[fast], s=names[slow])
            out[-1] = out[-1] + " " + tail
    return out


def gradient_text(run: dict) -> list:
    i = index(run, "fashion")
    d = {a: num(run, f"derivatives.{a}.df_max", ".3g") for a in ("sigmoid", "tanh", "relu", "gelu")}
    deriv = sentence("The derivative bounds what each unit passes back: at most {s} for the sigmoid, {t} for tanh, "
                     "{r} for ReLU (nothing below zero) and {g} for GELU.", s=d["sigmoid"], t=d["tanh"], r=d["relu"],
                     g=d["gelu"])
    g = {a: [ms(run, f"fashion.{i[a]}.grad.init.grad_z.{layer}", ".3g") for layer in (0, 2)]
         for a in ("sigmoid", "relu")}
    shrink = {a: ratio(g[a][0], g[a][1], ".3f") for a in g}
    nielsen = [ref_num(NIELSEN[0]), ref_num(NIELSEN[2])]
    measured = sentence("Measured at the first step on Fashion-MNIST ({d} hidden layers of {wd}, PyTorch's default "
                        "init), ||dL/db|| of the first hidden layer is {sr} of the third's with the sigmoid ({s1} vs "
                        "{s3}) and {rr} with ReLU ({r1} vs {r3}): the sigmoid's gradient {w} toward the input. "
                        "Nielsen's sigmoid net with three hidden layers of thirty units, on MNIST images, measured "
                        "{n1} vs {n3}, a ratio of {nr}.", d=num(run, "settings.fashion.depth", "d"),
                        wd=num(run, "settings.fashion.width", "d"),
                        sr=shrink["sigmoid"], rr=shrink["relu"], s1=g["sigmoid"][0], s3=g["sigmoid"][1],
                        r1=g["relu"][0], r3=g["relu"][1],
                        w=compare(shrink["sigmoid"], shrink["relu"], more="shrinks less than ReLU's",
                                  less="shrinks faster than ReLU's", same="shrinks about as fast as ReLU's",
                                  tol=0.0),
                        n1=nielsen[0], n3=nielsen[1], nr=ratio(nielsen[0], nielsen[1], ".3f"))
    acc = {a: ms(run, f"fashion.{i[a]}.test_acc") for a in ("sigmoid", "relu", "tanh")}
    effect = sentence("Trained with SGD + momentum for {e} epochs, the sigmoid net reached {s} test accuracy, {w} "
                      "ReLU's {r} (tanh: {t}).", e=num(run, "settings.fashion.epochs", "d"), s=acc["sigmoid"],
                      r=acc["relu"], t=acc["tanh"],
                      w=compare(acc["sigmoid"], acc["relu"], more="above", less="below", same="level with",
                                floor=FLOOR))
    return [deriv, measured, effect]


def range_text(run: dict):
    i = index(run, "fashion")
    h = {a: f"fashion.{i[a]}.hidden.0" for a in i}
    span = {a: (ms(run, f"{h[a]}.min", ".3g"), ms(run, f"{h[a]}.max", ".3g")) for a in ("sigmoid", "tanh", "relu")}
    flat = {a: ms(run, f"{h[a]}.flat_frac", ".3f") for a in ("relu", "leaky_relu", "sigmoid", "gelu")}
    return sentence("On the test images, the first hidden layer's outputs ran from {s0} to {s1} with the sigmoid, "
                    "{t0} to {t1} with tanh and {r0} to {r1} with ReLU. The share of unit-image pairs with "
                    "|f'(z)| < {thr} (passing back under {pct} of the gradient) was {fr} for ReLU (units switched off "
                    "for that image), {fl} for leaky ReLU, {fg} for GELU and {fs} for the sigmoid.",
                    s0=span["sigmoid"][0], s1=span["sigmoid"][1], t0=span["tanh"][0], t1=span["tanh"][1],
                    r0=span["relu"][0], r1=span["relu"][1], thr=num(run, "flat_threshold", "g"),
                    pct=num(run, "flat_threshold", ".1%"),
                    fr=flat["relu"], fl=flat["leaky_relu"], fg=flat["gelu"], fs=flat["sigmoid"])


def accuracy_table(run: dict) -> dict:
    sp, fm = index(run, "spiral"), index(run, "fashion")
    body = [[run["summary"]["spiral"][sp[a]]["name"], ms(run, f"spiral.{sp[a]}.test_acc"),
             steps_phrase(run, "spiral", sp[a], False), ms(run, f"fashion.{fm[a]}.test_acc"),
             steps_phrase(run, "fashion", fm[a], False), num(run, f"derivatives.{a}.df_max", ".3g")] for a in sp]
    return {"caption": "Held-out accuracy (mean ± std over seeds) and steps to the target validation accuracy",
            "columns": ["activation", "spiral test acc", "spiral: steps to target", "Fashion-MNIST test acc",
                        "Fashion-MNIST: steps to target", "max f'"], "rows": body}


def gradient_table(run: dict) -> dict:
    fm = index(run, "fashion")
    n = len(run["summary"]["fashion"][0]["grad"]["init"]["grad_z"])
    body = [[run["summary"]["fashion"][k]["name"],
             *[ms_or(run, f"fashion.{k}.grad.init.grad_z.{j}", ".3g") for j in range(n)],
             ms_or(run, f"fashion.{k}.hidden.0.flat_frac", ".3f")] for k in fm.values()]
    return {"caption": "Fashion-MNIST, measured: ||dL/db|| per hidden layer at the first step (input first), and "
                       "the first layer's share of flat units on the test images",
            "columns": ["activation", *[f"||dL/db|| h{j + 1}" for j in range(n)], "flat share h1"], "rows": body}


def answer(store, run: dict) -> Answer:
    """The week names five roles. Non-linearity and expressive power are the ones a measurement can
    refute, and they decide the verdict: ReLU minus no activation on held-out spiral points, paired
    by seed (the spiral is not linearly separable, so a net without activations, a product of linear
    maps, is a linear classifier however wide). ReLU is named in advance (the week's activation), not
    picked as the best of six after the fact. The other three hold only in part, whatever the
    numbers: only bounded activations control the output range; the derivative scales the gradient
    flowing back rather than providing it; and whether an activation speeds up learning depends on
    the task, which the Fashion-MNIST comparison (ReLU against none, where a linear model is already
    good) shows. So a supported first part makes the whole "partly supported"."""
    i = index(run, "spiral")
    v = judge(store, run, f"spiral.{i['relu']}", f"spiral.{i['none']}", classes=3, settle=settles("activations", run),
              words=outcome("ReLU ahead", "no activation ahead"))
    speed = "it depends on the task"
    if run["summary"].get("fashion"):
        f = index(run, "fashion")
        vf = judge(store, run, f"fashion.{f['relu']}", f"fashion.{f['none']}", classes=10,
                   settle=settles("activations", run), words=outcome("ReLU ahead", "no activation ahead"))
        speed = sentence("it depends on the task; on Fashion-MNIST, where a linear model is already good, ReLU "
                         "against none at this budget: {wf}", wf=vf.word)
    ranges = run["summary"].get("ranges", {})
    verdict = {"supported": "partly supported"}.get(claimed(v), claimed(v))
    why = sentence(
        "Non-linearity and expressive power, a one-hidden-layer net with ReLU against the same net without an "
        "activation on held-out spiral points: {w}. The rest holds in part. Output range: only bounded activations "
        "control it (sigmoid {rs}, tanh {rt}; ReLU's is {rr}). Gradient signal: the activation's derivative scales "
        "the gradient flowing back (the sigmoid's by at most a quarter), it does not provide it. Speed: {speed}.",
        w=v.word, rs=ranges.get("sigmoid", "(0, 1)"), rt=ranges.get("tanh", "(-1, 1)"),
        rr=ranges.get("relu", "[0, inf)"), speed=speed)
    return Answer(verdict, deciding(v), "ReLU minus no activation, held-out spiral accuracy (Adam)", why,
                  figure=store.run_dir(run["id"]) / "boundaries.png")
