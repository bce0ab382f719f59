"""The spiral study's report section, computed from its stored summary only.

Three questions, in the order the study asks them: did we reproduce the week's two printed
numbers (and how do they hold up on held-out points)? Of the week's two changes, activation and
optimizer, which one made the difference? Is the week's 94.9% a ceiling of the setup or the
budget it was trained with? Every verdict is chosen from `compare` results, so it says only
what the stored numbers show.
"""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, ref_num, sentence
from nnstudy.references import REFERENCES, rows
from nnstudy.studies import Section

FLOOR = 0.01  # accuracy: a gap under one point is not called a difference, whatever the seeds say
PRINTED = 0.0005  # half a unit of the week's third printed digit: "matches" means same digits
FIGURES = {"week_boundaries.png": "The week's two nets, reproduced: decision regions on the week's points.",
           "factorial_boundaries.png": "The factorial, first seed: decision regions on held-out points.",
           "factorial_curves.png": "Held-out accuracy during training, mean and std over seeds.",
           "budget.png": "Budgets: ReLU+SGD over learning rates, ReLU+Adam over step counts (held out)."}


def spiral_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items()]
    figures += [(p, "") for p in sorted(folder.glob("*.png")) if p.name not in FIGURES]
    return Section(title, paragraphs=[*week_text(run), *factorial_text(run), *budget_text(run)],
                   tables=[comparison_table(run)], figures=figures, references=rows("spiral"))


def week_text(run: dict) -> list:
    lp, rp = num(run, "week.linear_sgd.last_step_train_acc"), num(run, "week.relu_adam.last_step_train_acc")
    lw, rw = ref_num("spiral.linear_sgd"), ref_num("spiral.relu_adam")
    lh, rh = num(run, "week.linear_sgd.test_acc"), num(run, "week.relu_adam.test_acc")
    words = dict(more="is above", less="is below", same="matches", tol=PRINTED)
    claim = sentence("The week printed a training accuracy of {lw} for a linear net trained with SGD and {rw} for "
                     "a ReLU net trained with Adam, after {steps} full-batch steps: one seed, scored on the "
                     "training points, with the activation and the optimizer changed at once.",
                     lw=lw, rw=rw, steps=ref_num("spiral.steps"))
    ours = sentence("Run again here from the same random stream, the linear net prints {lp}, which {m1} the "
                    "week's {lw}, and the ReLU net {rp}, which {m2} the week's {rw}. On a fresh draw of the same "
                    "spiral (held out) they score {lh} and {rh}: the ReLU net is {d} the linear one out of "
                    "sample too.", lp=lp, rp=rp, lw=lw, rw=rw, lh=lh, rh=rh, m1=compare(lp, lw, **words),
                    m2=compare(rp, rw, **words),
                    d=compare(rh, lh, more="above", less="below", same="level with", floor=FLOOR))
    return [claim, ours]


def factorial_text(run: dict) -> list:
    idx = {r["name"]: i for i, r in enumerate(run["summary"]["factorial"])}
    cell = {name: ms(run, f"factorial.{i}.test_acc") for name, i in idx.items()}
    ra, rs, ls, la = (cell[k] for k in ("ReLU+Adam", "ReLU+SGD", "linear+SGD", "linear+Adam"))
    cells = sentence("Separating the two changes ({n} seeds each, {steps} steps, accuracy on held-out points): "
                     "ReLU+Adam reached {ra}, ReLU+SGD {rs}, linear+SGD {ls} and linear+Adam {la}.",
                     n=num(run, f"factorial.{idx['ReLU+Adam']}.test_acc.n", "d"),
                     steps=num(run, "settings.steps", "d"), ra=ra, rs=rs, ls=ls, la=la)
    kw = dict(more="helps", less="hurts", same="makes no clear difference", floor=FLOOR)
    w = [compare(rs, ls, **kw), compare(ra, la, **kw), compare(la, ls, **kw), compare(ra, rs, **kw)]
    effects = sentence("Adding ReLU {w0} with SGD ({d0}) and {w1} with Adam ({d1}); switching SGD for Adam {w2} "
                       "for the linear net ({d2}) and {w3} for the ReLU net ({d3}).",
                       w0=w[0], w1=w[1], w2=w[2], w3=w[3], d0=diff(rs, ls), d1=diff(ra, la), d2=diff(la, ls),
                       d3=diff(ra, rs))
    return [cells, effects + " " + verdict(w, ra, la, rs)]


def verdict(w, ra, la, rs):
    """Which factor matters, from the four effect directions (activation: w0, w1; optimizer: w2, w3)."""
    act, opt = (w[0].sign, w[1].sign), (w[2].sign, w[3].sign)
    if act == (1, 1) and opt == (0, 0):
        return "So the activation, not the optimizer, makes the week's difference."
    if opt == (1, 1) and act == (0, 0):
        return "So the optimizer, not the activation, makes the week's difference."
    if act == (1, 1) and opt == (1, 1):
        bigger = compare(diff(ra, la), diff(ra, rs), more="the activation", less="the optimizer",
                         same="neither (the two are level)", floor=FLOOR)
        return sentence("Both help; the larger single step is {b}.", b=bigger)
    if act[1] == 1 and opt[1] == 1 and act[0] <= 0 and opt[0] <= 0:
        return ("Neither change helps on its own at this budget: ReLU pays off only with Adam, and Adam only "
                "with the ReLU net. The week's jump needed both.")
    if act == (0, 0) and opt == (0, 0):
        return "None of the four differs beyond seed noise at this budget."
    return "The two changes interact; the table below gives every cell."


def budget_text(run: dict) -> list:
    s = run["summary"]
    adam = [(num(run, f"adam_steps.{i}.steps", "d"), ms(run, f"adam_steps.{i}.test_acc"))
            for i in range(len(s["adam_steps"]))]
    sgd = [(num(run, f"sgd_lr.{i}.lr", "g"), ms(run, f"sgd_lr.{i}.test_acc")) for i in range(len(s["sgd_lr"]))]
    (k0, a0), (kn, an) = adam[0], adam[-1]
    out = [sentence("Is the week's {c} a ceiling or a budget? Held out, ReLU+Adam reaches {steps}; from {k0} to "
                    "{kn} steps it {w} ({d}).", c=ref_num("spiral.relu_adam"),
                    steps=join(sentence("{a} after {k} steps", a=a, k=k) for k, a in adam), k0=k0, kn=kn,
                    w=compare(an, a0, more="keeps climbing", less="falls", same="stays flat", floor=FLOOR),
                    d=diff(an, a0))]
    best = max(range(len(sgd)), key=lambda i: sgd[i][1].value if sgd[i][1].value is not None else -1)
    out.append(sentence("ReLU+SGD at the week's learning rate {lr0} reaches {s0}; its best learning rate here, "
                        "{lrb}, reaches {sb}, {w} the week's setting.", lr0=sgd[0][0], s0=sgd[0][1],
                        lrb=sgd[best][0], sb=sgd[best][1],
                        w=compare(sgd[best][1], sgd[0][1], more="above", less="below", same="level with",
                                  floor=FLOOR)))
    return out + [ceiling(run, adam, sgd, best)]


def ceiling(run, adam, sgd, best):
    """Does any budget beat the week's ReLU+Adam run on held-out points?"""
    week = num(run, "week.relu_adam.test_acc")
    top_adam = max(range(len(adam)), key=lambda i: adam[i][1].value if adam[i][1].value is not None else -1)
    cand = [("ReLU+Adam with {k} steps", adam[top_adam]), ("ReLU+SGD at learning rate {k}", sgd[best])]
    (label, (k, acc)) = max(cand, key=lambda c: c[1][1].value if c[1][1].value is not None else -1)
    w = compare(acc, week, more="above", less="below", same="level with", floor=FLOOR)
    who = sentence(label, k=k)
    if w.sign == 1:
        return sentence("So the week's {c} was a budget, not a ceiling: {who} reaches {acc} held out, {w} the "
                        "week's run ({week}).", c=ref_num("spiral.relu_adam"), who=who, acc=acc, w=w,
                        week=week)
    longest, week_steps = adam[-1][0], ref_num("spiral.steps")
    if compare(longest, week_steps).sign != 1:
        return sentence("This profile's longest budget ({kn} steps) is {w} the week's {ks}, so it cannot tell a "
                        "ceiling from a budget; the default profile can.", kn=longest, ks=week_steps,
                        w=compare(longest, week_steps, more="longer than", less="shorter than", same="no longer than"))
    return sentence("No budget tried here beats the week's run held out: the best, {who}, reaches {acc}, {w} the "
                    "week's {week}. At this setup the week's number looks close to a ceiling.",
                    who=who, acc=acc, w=w, week=week)


def comparison_table(run: dict) -> dict:
    """Our held-out and train accuracy beside the published train accuracy of the same configuration
    (rows of the budget sweeps that repeat a factorial configuration are left out)."""
    s = run["summary"]
    lr, steps = s["settings"]["lr"], s["settings"]["steps"]

    def pub(key, steps_key="spiral.steps"):
        if key not in REFERENCES:
            return ["-", "-"]
        return [sentence("{v} ({k} steps)", v=ref_num(key), k=ref_num(steps_key)), REFERENCES[key].source]

    rows = [[label, ref_num("spiral.steps"), num(run, f"week.{key}.test_acc"),
             num(run, f"week.{key}.last_step_train_acc"),
             *pub(f"spiral.{key}")] for key, label in (("linear_sgd", "week: linear+SGD"),
                                                        ("relu_adam", "week: ReLU+Adam"))]
    keys = {"linear+SGD": "spiral.linear_sgd", "linear+Adam": "spiral.linear_adam",
            "ReLU+SGD": f"spiral.relu_sgd.lr={lr:g}", "ReLU+Adam": "spiral.relu_adam"}
    for i, r in enumerate(s["factorial"]):
        rows.append([r["name"], num(run, "settings.steps", "d"), ms(run, f"factorial.{i}.test_acc"),
                     ms(run, f"factorial.{i}.train_acc"), *pub(keys.get(r["name"], ""))])
    for i, r in enumerate(s["sgd_lr"]):
        if r["lr"] != lr:
            rows.append([r["name"], num(run, "settings.steps", "d"), ms(run, f"sgd_lr.{i}.test_acc"),
                         ms(run, f"sgd_lr.{i}.train_acc"), *pub(f"spiral.relu_sgd.lr={r['lr']:g}")])
    long = {5000: ("spiral.relu_adam.steps=5000", "spiral.steps_long")}
    for i, r in enumerate(s["adam_steps"]):
        if r["steps"] != steps:
            rows.append([r["name"], num(run, f"adam_steps.{i}.steps", "d"), ms(run, f"adam_steps.{i}.test_acc"),
                         ms(run, f"adam_steps.{i}.train_acc"), *pub(*long.get(r["steps"], ("",)))])
    return {"caption": "Ours (held out and train, mean ± std over seeds) beside the published train accuracy "
                       "of the same configuration, at the published budget",
            "columns": ["configuration", "steps (ours)", "held-out acc (ours)", "train acc (ours)",
                        "published train acc", "published by"], "rows": rows}
