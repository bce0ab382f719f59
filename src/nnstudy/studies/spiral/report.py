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
from nnstudy.studies import Answer, Section
from nnstudy.studies.spiral import WEEK
from nnstudy.verdicts import MIN_SEEDS, deciding, edge_note, judge, settles, stated

FLOOR = 0.01  # accuracy: budget comparisons below (unpaired rows of a sweep) call a gap under one point level
PRINTED = 0.0005  # half a unit of the week's third printed digit: "matches" means same digits
FIGURES = {"week_boundaries.png": "The week's two nets, reproduced: decision regions on the week's points.",
           "factorial_boundaries.png": "The factorial, first seed: decision regions on held-out points.",
           "factorial_curves.png": "Held-out accuracy during training, mean and std over seeds.",
           "budget.png": "Budgets: ReLU+SGD over learning rates, ReLU+Adam over step counts (held out)."}


def spiral_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items()]
    figures += [(p, "") for p in sorted(folder.glob("*.png")) if p.name not in FIGURES]
    return Section(title, paragraphs=[*week_text(run), *factorial_text(store, run), *budget_text(run)],
                   tables=[comparison_table(run)], figures=figures, references=rows("spiral"))


def week_text(run: dict) -> list:
    lp, rp = num(run, "week.linear_sgd.last_step_train_acc"), num(run, "week.relu_adam.last_step_train_acc")
    lw, rw = ref_num("spiral.linear_sgd"), ref_num("spiral.relu_adam")
    lh, rh = num(run, "week.linear_sgd.test_acc"), num(run, "week.relu_adam.test_acc")
    words = dict(more="is above", less="is below", same="matches", tol=PRINTED)
    claim = sentence("The week printed a training accuracy of {lw} for a linear net trained with SGD and {rw} for "
                     "a ReLU net trained with Adam, after {steps} full-batch steps: one seed, scored on the "
                     "training points, with the activation and the optimizer changed at once. With three arms "
                     "of equal size, guessing scores one third. The week's \u201clinear\u201d net is two linear "
                     "layers with nothing between them: their product is a single linear map, so it draws three "
                     "straight boundaries however wide its hidden layer, and no optimizer can change that.",
                     lw=lw, rw=rw, steps=ref_num("spiral.steps"))
    ours = sentence("Run again here from the same random stream, the linear net prints {lp}, which {m1} the "
                    "week's {lw}, and the ReLU net {rp}, which {m2} the week's {rw}. On a fresh draw of the same "
                    "spiral (held out) they score {lh} and {rh}: the ReLU net is {d} the linear one out of "
                    "sample too.", lp=lp, rp=rp, lw=lw, rw=rw, lh=lh, rh=rh, m1=compare(lp, lw, **words),
                    m2=compare(rp, rw, **words),
                    d=compare(rh, lh, more="above", less="below", same="level with", floor=FLOOR))
    return [claim, ours]


EFFECT = {"higher": "helps", "lower": "hurts", "same": "makes no clear difference",
          "unclear": "has no clear effect (unclear with {n} seeds)",
          "unsettled": "is not settled at this budget ({how}; {settle} settles it)",
          "chance": "cannot be judged (both at chance)", "ceiling": "cannot be judged (both at the ceiling)"}


def rows_at(run: dict) -> dict[str, str]:
    """{'ReLU+Adam': 'factorial.3', ...}: summary paths of the factorial's cells."""
    return {r["name"]: f"factorial.{i}" for i, r in enumerate(run["summary"]["factorial"])}


def best_sgd(run: dict) -> int:
    """Index of the ReLU+SGD learning rate with the highest held-out mean."""
    s = run["summary"]["sgd_lr"]
    return max(range(len(s)), key=lambda i: s[i]["test_acc"]["mean"] if s[i]["test_acc"]["mean"] is not None else -1)


def best_linear_sgd(run: dict) -> str:
    """The linear+SGD arm at its own best swept learning rate (a summary path); the factorial's cell
    at the week's rate for runs stored before the linear sweep existed. Tuned against tuned: ReLU+SGD
    at its best rate is compared with linear+SGD at its best, not at the week's."""
    s = run["summary"].get("linear_sgd_lr")
    if not s:
        return rows_at(run)["linear+SGD"]
    i = max(range(len(s)), key=lambda i: s[i]["test_acc"]["mean"] if s[i]["test_acc"]["mean"] is not None else -1)
    return f"linear_sgd_lr.{i}"


def effects(store, run: dict) -> dict:
    """The four single-change effects of the factorial, and the activation's effect with SGD at
    the best learning rate of the study's own sweeps (each arm tuned), each through the verdict rules."""
    at, cmd = rows_at(run), settles("spiral", run)
    j = lambda a, b: judge(store, run, at.get(a, a), at.get(b, b), classes=3, settle=cmd, words=EFFECT)
    return {"relu_sgd": j("ReLU+SGD", "linear+SGD"), "relu_adam": j("ReLU+Adam", "linear+Adam"),
            "adam_linear": j("linear+Adam", "linear+SGD"), "adam_relu": j("ReLU+Adam", "ReLU+SGD"),
            "relu_sgd_best": j(f"sgd_lr.{best_sgd(run)}", best_linear_sgd(run))}


def factorial_text(store, run: dict) -> list:
    idx = {r["name"]: i for i, r in enumerate(run["summary"]["factorial"])}
    cell = {name: ms(run, f"factorial.{i}.test_acc") for name, i in idx.items()}
    ra, rs, ls, la = (cell[k] for k in ("ReLU+Adam", "ReLU+SGD", "linear+SGD", "linear+Adam"))
    cells = sentence("Separating the two changes ({n} seeds each, {steps} steps, accuracy on held-out points): "
                     "ReLU+Adam reached {ra}, ReLU+SGD {rs}, linear+SGD {ls} and linear+Adam {la}.",
                     n=num(run, f"factorial.{idx['ReLU+Adam']}.test_acc.n", "d"),
                     steps=num(run, "settings.steps", "d"), ra=ra, rs=rs, ls=ls, la=la)
    e = effects(store, run)
    how = lambda v, a, b: v.interval() if v.diff is not None else diff(a, b)
    said = sentence("Adding ReLU {w0} with SGD ({d0}) and {w1} with Adam ({d1}); switching SGD for Adam {w2} "
                    "for the linear net ({d2}) and {w3} for the ReLU net ({d3}). Each interval is a {lvl} t-interval "
                    "over seeds (paired: same data and initial stream per seed); \u201cno clear difference\u201d "
                    "means it lies within {tol} either way.", lvl=stated("level", ".0%"),
                    w0=e["relu_sgd"].word, w1=e["relu_adam"].word, w2=e["adam_linear"].word,
                    w3=e["adam_relu"].word, d0=how(e["relu_sgd"], rs, ls), d1=how(e["relu_adam"], ra, la),
                    d2=how(e["adam_linear"], la, ls), d3=how(e["adam_relu"], ra, rs),
                    tol=stated("tolerance"))
    return [cells, said, verdict(run, e)]


def verdict(run: dict, e: dict):
    """Which change matters, from the rules' verdicts, the learning-rate sweep included: an
    optimizer that only looks worse at the week's learning rate is not ruled out by it."""
    k = {name: v.kind for name, v in e.items()}
    if "unsettled" in (k["relu_adam"], k["relu_sgd_best"]):
        return sentence("Which change matters is not settled at this budget: {s}.", s=settles("spiral", run))
    i = best_sgd(run)
    lrb, sb = num(run, f"sgd_lr.{i}.lr", "g"), ms(run, f"sgd_lr.{i}.test_acc")
    if k["relu_adam"] == "higher" and k["relu_sgd_best"] == "higher":
        lead = sentence("So the activation is what the spiral needs: ReLU helps with Adam, and with SGD too once each "
                        "SGD net has its own best learning rate (ReLU at {lrb}: {sb}; against the linear net at its "
                        "best, {v}).", lrb=lrb, sb=sb, v=e["relu_sgd_best"].interval())
        if k["relu_sgd"] != "higher":
            lead += sentence(" At the week's learning rate, {lr}, SGD moves the ReLU net too little in {steps} "
                             "steps: the optimizer's share of the week's jump is a learning-rate effect, not "
                             "something only Adam can do.", lr=num(run, "settings.lr", "g"),
                             steps=num(run, "settings.steps", "d"))
        return lead
    if k["relu_adam"] == "higher":
        return sentence("ReLU helps with Adam, but with SGD not even at the sweep's best learning rate ({lrb}: "
                        "{sb}); the week's jump needed Adam as well at this budget.", lrb=lrb, sb=sb)
    if k["relu_adam"] in ("same", "lower") and k["relu_sgd_best"] in ("same", "lower"):
        return "ReLU does not beat the linear net here with either optimizer."
    return sentence("The activation's effect is unclear with these seeds; more seeds ({s}) would decide it.",
                    s=settles("spiral", run))


def answer(store, run: dict) -> Answer:
    """The week's claim: adding ReLU improved accuracy markedly. Decided by ReLU minus linear,
    both with Adam (the week's optimizer for the ReLU net), held out, paired by seed; "partly"
    when ReLU helps with Adam but not with SGD even at SGD's best swept learning rate."""
    e = effects(store, run)
    adam, sgd = e["relu_adam"], e["relu_sgd_best"]
    if adam.kind in ("unsettled", "unclear") or sgd.kind == "unsettled":
        v = "not settled at this budget"
    elif adam.kind == "higher":
        v = "supported" if sgd.kind == "higher" else "partly supported"
    else:
        v = "not supported"
    number = deciding(adam)
    return Answer(v, number, "ReLU minus linear net, both with Adam, held-out accuracy",
                  verdict(run, e), figure=store.run_dir(run["id"]) / "factorial_boundaries.png")


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
                                  floor=FLOOR))
               + edge_note([lr.value for lr, _ in sgd], sgd[best][0]))
    return out + [ceiling(run, adam, sgd, best)]


def ceiling(run, adam, sgd, best):
    """Does any budget beat the week's ReLU+Adam run on held-out points?"""
    week = num(run, "week.relu_adam.test_acc")
    top_adam = max(range(len(adam)), key=lambda i: adam[i][1].value if adam[i][1].value is not None else -1)
    cand = [("ReLU+Adam with {k} steps", adam[top_adam]), ("ReLU+SGD at learning rate {k}", sgd[best])]
    (label, (k, acc)) = max(cand, key=lambda c: c[1][1].value if c[1][1].value is not None else -1)
    w = compare(acc, week, more="above", less="below", same="level with", floor=FLOOR)
    who = sentence(label, k=k)
    if len(run["config"].get("seeds") or []) < MIN_SEEDS:  # a mean of two seeds against one run carries nothing
        return sentence("Whether the week's {c} was a budget or a ceiling is not settled with this profile's few "
                        "seeds: the best budget tried, {who}, reaches {acc} held out against the week's run "
                        "({week}); the default profile settles it.", c=ref_num("spiral.relu_adam"), who=who,
                        acc=acc, week=week)
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

    def pub(key):
        if key not in REFERENCES:  # only what Atcold's notebook printed; the other cells were never published
            return ["-", "-"]
        return [sentence("{v} ({k} steps)", v=ref_num(key), k=ref_num("spiral.steps")), REFERENCES[key].source]

    rows = [[label, ref_num("spiral.steps"), num(run, f"week.{key}.test_acc"),
             num(run, f"week.{key}.last_step_train_acc"),
             *pub(f"spiral.{key}")] for key, label in (("linear_sgd", "week: linear+SGD"),
                                                        ("relu_adam", "week: ReLU+Adam"))]
    week = lr == WEEK["lr"] and steps == WEEK["steps"]  # Atcold printed the week's budget only
    keys = {"linear+SGD": "spiral.linear_sgd", "ReLU+Adam": "spiral.relu_adam"} if week else {}
    for i, r in enumerate(s["factorial"]):
        rows.append([r["name"], num(run, "settings.steps", "d"), ms(run, f"factorial.{i}.test_acc"),
                     ms(run, f"factorial.{i}.train_acc"), *pub(keys.get(r["name"], ""))])
    for i, r in enumerate(s["sgd_lr"]):
        if r["lr"] != lr:
            rows.append([r["name"], num(run, "settings.steps", "d"), ms(run, f"sgd_lr.{i}.test_acc"),
                         ms(run, f"sgd_lr.{i}.train_acc"), "-", "-"])
    for i, r in enumerate(s.get("linear_sgd_lr", [])):
        if r["lr"] != lr:
            rows.append([r["name"], num(run, "settings.steps", "d"), ms(run, f"linear_sgd_lr.{i}.test_acc"),
                         ms(run, f"linear_sgd_lr.{i}.train_acc"), "-", "-"])
    for i, r in enumerate(s["adam_steps"]):
        if r["steps"] != steps:
            rows.append([r["name"], num(run, f"adam_steps.{i}.steps", "d"), ms(run, f"adam_steps.{i}.test_acc"),
                         ms(run, f"adam_steps.{i}.train_acc"), "-", "-"])
    return {"caption": "Ours (held out and train, mean ± std over seeds) beside the train accuracy Atcold's "
                       "notebook printed for the same configuration, where it printed one (-: never published)",
            "columns": ["configuration", "steps (ours)", "held-out acc (ours)", "train acc (ours)",
                        "published train acc", "published by"], "rows": rows}
