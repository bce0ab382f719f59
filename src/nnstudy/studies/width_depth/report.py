"""The width-depth study's report section, computed from its stored summary only.

In order: what was trained; wide against deep at each parameter budget, on the spiral and on
Fashion-MNIST, with how many runs of each depth reached the target and what they cost in time;
Atcold's MLP against CNN at equal parameters, on original and on pixel-permuted images. Every
direction comes from `compare` (seed noise, the stds, as tolerance, at least FLOOR).
"""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, ratio, ref_num, sentence
from nnstudy.references import rows as reference_rows
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import ms_or
from nnstudy.verdicts import NOT_SETTLED, deciding, judge, settles

FLOOR = 0.01  # accuracy: a gap under one point is not called a difference
TIME_TOL = 0.2  # time ratios within 20% of 1 are "about as fast": timings on a shared CPU are noisy
NAMES = {"spiral": "the spiral", "fashion": "Fashion-MNIST"}
FIGURES = {"grid_spiral.png": "Spiral: held-out accuracy and training time against parameters, one line per depth.",
           "grid_fashion.png": "Fashion-MNIST: held-out accuracy and training time against parameters, one line "
                               "per depth.",
           "spiral_boundaries.png": "Decision regions of the spiral nets (first seed), smallest and largest budget.",
           "mlp_vs_cnn.png": "Atcold's equal-parameter pair on Fashion-MNIST, original and pixel-permuted, with "
                             "Atcold's MNIST numbers as markers."}
PAIR_REFS = {("mlp", False): "mlp_vs_cnn.fc", ("convnet-tiny", False): "mlp_vs_cnn.cnn",
             ("mlp", True): "mlp_vs_cnn.fc_permuted", ("convnet-tiny", True): "mlp_vs_cnn.cnn_permuted"}


def width_depth_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    kinds = list(run["summary"]["grids"])
    paras = [setup(run)] + [p for kind in kinds for p in grid_text(run, kind)] + pair_text(run)
    tables = [grid_table(run, kind) for kind in kinds] + [pair_table(run)]
    return Section(title, paragraphs=paras, tables=tables, figures=figures,
                   references=reference_rows("mlp_vs_cnn"))


def setup(run: dict):
    sub = (sentence("a fixed subset of {n} training images", n=num(run, "settings.fashion_subset", ",d"))
           if run["summary"]["settings"]["fashion_subset"] else "the full training set")
    return sentence(
        "Each budget of parameters is spent at several depths, the width of each solved so that all depths of "
        "a budget have about the same number of parameters (ReLU MLPs, Adam). Spiral: {n} points per arm, {st} "
        "full-batch steps at learning rate {lr}. Fashion-MNIST: {sub} (a tenth of it for validation), {ep} "
        "epochs of batches of {bs} at learning rate {flr}. Accuracy is on held-out test points, mean ± std over "
        "{k} seeds; a run reached the target when its validation accuracy reached {ts} (spiral) or {tf} "
        "(Fashion-MNIST) at some check.",
        n=num(run, "settings.spiral_n", "d"), st=num(run, "settings.spiral_steps", "d"),
        lr=num(run, "settings.spiral_lr", "g"), sub=sub,
        ep=num(run, "settings.fashion_epochs", "d"), bs=num(run, "settings.fashion_batch", "d"),
        flr=num(run, "settings.fashion_lr", "g"), k=num(run, "grids.spiral.0.test_acc.n", "d"),
        ts=num(run, "val_acc_targets.spiral", "g"), tf=num(run, "val_acc_targets.fashion", "g"))


def grid_index(run: dict, kind: str) -> dict:
    return {(r["budget"], r["depth"]): i for i, r in enumerate(run["summary"]["grids"][kind])}


def grid_text(run: dict, kind: str) -> list:
    rows, idx = run["summary"]["grids"][kind], grid_index(run, kind)
    budgets, depths = sorted({r["budget"] for r in rows}), sorted({r["depth"] for r in rows})
    lo, hi = depths[0], depths[-1]
    acc = lambda b, d: ms(run, f"grids.{kind}.{idx[(b, d)]}.test_acc")
    key = lambda b, d, k, fmt=",d": num(run, f"grids.{kind}.{idx[(b, d)]}.{k}", fmt)
    words = []
    parts = []
    for b in budgets:
        w = compare(acc(b, lo), acc(b, hi), more="ahead of", less="behind", same="level with", floor=FLOOR)
        words.append(w.sign)
        parts.append(sentence("at {p} parameters {wl} units in one layer reach {al}, {w} {wh} units in each of "
                              "{dh} layers ({ah})", p=key(b, lo, "params"), wl=key(b, lo, "width"), al=acc(b, lo),
                              w=w, wh=key(b, hi, "width"), dh=key(b, hi, "depth"), ah=acc(b, hi)))
    head = sentence("On {name}, wide against deep at equal parameters: ", name=NAMES[kind]) + join(parts, "; ")
    out = [head + ". " + verdict(words)]
    j = {r["depth"]: i for i, r in enumerate(run["summary"]["by_depth"][kind])}
    dep = lambda d, k: num(run, f"by_depth.{kind}.{j[d]}.{k}", "d")
    reach = join(sentence("{r} of {n} at depth {d}", r=dep(d, "reached"), n=dep(d, "runs"), d=dep(d, "depth"))
                 for d in depths)
    b = budgets[-1]
    t_lo, t_hi = (ms(run, f"grids.{kind}.{idx[(b, d)]}.seconds", ".2f") for d in (lo, hi))
    x = ratio(t_hi, t_lo)
    w = compare(x, num_one(x), more="slower", less="faster", same="about as fast", tol=TIME_TOL)
    out.append(sentence("Runs that reached the target: {reach}. At the largest budget, for about the same "
                        "multiply-adds, a run took {tl} s with one layer and {th} s with {dh} layers ({x} times as "
                        "long): the deep net is {w} (wall-clock on a shared CPU; the seeds of one shape are trained "
                        "together and share one timing).", reach=reach, tl=t_lo, th=t_hi, dh=key(b, hi, "depth"),
                        x=x, w=w))
    return out


def num_one(x):
    """The constant 1 as a comparable Num (ratio of a number to itself), so 'slower' is checkable."""
    return ratio(x.args[1], x.args[1])


def verdict(signs: list) -> str:
    """Wide-minus-deep directions over the budgets -> one plain sentence (no numbers)."""
    ahead, behind = signs.count(1), signs.count(-1)
    if not ahead and not behind:
        return "At every budget the two are level within seed noise: here the split between width and depth " \
               "does not matter."
    if ahead and not behind:
        return "Where they differ the wide net is ahead: at equal parameters, depth does not pay here."
    if behind and not ahead:
        return "Where they differ the deep net is ahead: at equal parameters, depth pays here."
    return "Which is ahead depends on the budget (see the table)."


def pair_index(run: dict) -> dict:
    return {(r["model"], r["permuted"]): i for i, r in enumerate(run["summary"]["pair"])}


def pair_text(run: dict) -> list:
    i = pair_index(run)
    acc = {k: ms(run, f"pair.{v}.test_acc") for k, v in i.items()}
    fc, cnn, fcp, cnnp = (acc[k] for k in (("mlp", False), ("convnet-tiny", False), ("mlp", True),
                                           ("convnet-tiny", True)))
    f0, c0 = i[("mlp", False)], i[("convnet-tiny", False)]
    first = sentence(
        "Atcold's pair has the same size, {pf} parameters fully connected and {pc} convolutional. Trained as Atcold "
        "trained it (SGD at learning rate {lr}, momentum {m}, batches of {bs}, one pass over {n} training images), "
        "on Fashion-MNIST the fully connected net reaches {fc} and the CNN {cnn}: the CNN is {w}. Atcold's MNIST "
        "numbers: {rf} and {rc}.", pf=num(run, f"pair.{f0}.params", ",d"), pc=num(run, f"pair.{c0}.params", ",d"),
        lr=num(run, "settings.pair_lr", "g"), m=num(run, "settings.pair_momentum", "g"),
        bs=num(run, "settings.pair_batch", "d"), n=num(run, f"pair.{f0}.n_train", ",d"), fc=fc, cnn=cnn,
        w=compare(cnn, fc, more="ahead", less="behind", same="level", floor=FLOOR),
        rf=ref_num("mlp_vs_cnn.fc"), rc=ref_num("mlp_vs_cnn.cnn"))
    kw = dict(more="gains", less="loses", same="is unchanged within seed noise", floor=FLOOR)
    d_fc, d_cnn = diff(fcp, fc), diff(cnnp, cnn)
    noise = max(FLOOR, sum(x.std.value or 0.0 for x in (fc, cnn, fcp, cnnp)))  # the four stds: seed noise
    second = sentence(
        "With every image's pixels shuffled by one fixed permutation, the fully connected net reaches {fcp} "
        "({dfc}: it {wf}) and the CNN {cnnp} ({dc}: it {wc}); Atcold measured {rfp} and {rcp}. A fixed "
        "permutation only renames a fully connected net's inputs, while a convolution relies on neighbouring "
        "pixels belonging together; here the permutation costs the CNN {w} it costs the fully connected net.",
        fcp=fcp, dfc=d_fc, wf=compare(fcp, fc, **kw), cnnp=cnnp, dc=d_cnn, wc=compare(cnnp, cnn, **kw),
        rfp=ref_num("mlp_vs_cnn.fc_permuted"), rcp=ref_num("mlp_vs_cnn.cnn_permuted"),
        w=compare(d_fc, d_cnn, more="more than", less="less than", same="about what", tol=noise))
    mf, mc = num(run, f"pair.{f0}.macs", ",d"), num(run, f"pair.{c0}.macs", ",d")
    third = sentence("Equal parameters are not equal cost: the CNN does {mc} multiply-adds per image against {mf} "
                     "({x} times as many), because each filter weight is used at every position, and a run took "
                     "{tc} s against {tf} s.", mc=mc, mf=mf, x=ratio(mc, mf, ".0f"),
                     tc=ms(run, f"pair.{c0}.seconds", ".2f"), tf=ms(run, f"pair.{f0}.seconds", ".2f"))
    return [first, second, third]


def grid_table(run: dict, kind: str) -> dict:
    rows = []
    for i in range(len(run["summary"]["grids"][kind])):
        g = f"grids.{kind}.{i}"
        rows.append([num(run, f"{g}.budget", ",d"), num(run, f"{g}.depth", "d"), num(run, f"{g}.width", "d"),
                     num(run, f"{g}.params", ",d"), ms(run, f"{g}.test_acc"), ms(run, f"{g}.train_acc"),
                     sentence("{r} / {n}", r=num(run, f"{g}.reached", "d"), n=num(run, f"{g}.n", "d")),
                     ms_or(run, f"{g}.steps_to_target", ".0f", missing="–"), ms(run, f"{g}.seconds", ".2f")])
    return {"caption": f"{NAMES[kind]}: equal parameter budgets at several depths (ours, mean ± std over seeds)",
            "columns": ["budget", "depth", "width", "parameters", "held-out acc", "train acc", "reached target (val)",
                        "steps to target (val)", "seconds per run"], "rows": rows}


def pair_table(run: dict) -> dict:
    rows = []
    for i, r in enumerate(run["summary"]["pair"]):
        ref = PAIR_REFS[(r["model"], r["permuted"])]
        rows.append([r["label"], "permuted" if r["permuted"] else "original", num(run, f"pair.{i}.params", ",d"),
                     num(run, f"pair.{i}.macs", ",d"), ms(run, f"pair.{i}.test_acc"), ms(run, f"pair.{i}.train_acc"),
                     ref_num(ref)])
    return {"caption": "MLP vs CNN at equal parameters: ours on Fashion-MNIST (mean ± std over seeds) beside "
                       "Atcold's 06-convnet on MNIST (1 epoch)",
            "columns": ["model", "pixels", "parameters", "multiply-adds / image", "held-out acc (ours)",
                        "train acc (ours)", "published (MNIST)"], "rows": rows}


CLASSES = {"spiral": 3, "fashion": 10}
SPLIT_WORDS = {"higher": "wide ahead", "lower": "deep ahead", "same": "level",
               "unclear": "unclear with {n} seeds", "unsettled": "not settled ({how})",
               "chance": "both at chance", "ceiling": "both at the ceiling"}


def comparisons(store, run: dict) -> list[tuple]:
    """(where, sort key, verdict, its deciding number) for every budget of both grids: the shallowest
    (widest) net minus the deepest (narrowest) at the same parameter count, paired by seed."""
    out = []
    for kind in run["summary"]["grids"]:
        rows, idx = run["summary"]["grids"][kind], grid_index(run, kind)
        depths = sorted({r["depth"] for r in rows})
        for b in sorted({r["budget"] for r in rows}):
            wide, deep = f"grids.{kind}.{idx[(b, depths[0])]}", f"grids.{kind}.{idx[(b, depths[-1])]}"
            v = judge(store, run, wide, deep, classes=CLASSES[kind], settle=settles("width-depth", run),
                      words=SPLIT_WORDS)
            where = sentence("{ds} at {p} parameters", ds=NAMES[kind], p=num(run, f"{wide}.budget", ",d"))
            # grid rows carry no name: a moving side is named by what it is, not by its summary path
            shown = deciding(v, {wide: "the wide net", deep: "the deep net"})
            out.append((where, (kind == "fashion", b), v, shown))
    return out


def answer(store, run: dict) -> Answer:
    """The week answers "it depends on the task". That is a claim that the better split of a fixed
    number of parameters changes from one setting to another, so what decides it is a sign change:
    wide ahead of deep at equal parameters somewhere and deep ahead of wide elsewhere, each through
    the rules. The deciding numbers are therefore the two comparisons that show it (the largest gap
    each way); without a sign change, the comparison at the largest budget of the larger data set.
    Supported: both signs occur. Partly: one sign and "level" occur (the split matters in some
    settings only). Not supported: every comparison settled and all alike (one split always wins,
    or it never matters). Otherwise not settled."""
    found = comparisons(store, run)
    signs = {v.sign for _, _, v, _ in found if v.sign is not None}
    if {1, -1} <= signs:
        verdict = "supported"
        shown = [max((c for c in found if c[2].sign == s), key=lambda c: abs(c[2].diff.value)) for s in (1, -1)]
    else:
        verdict = ("partly supported" if len(signs) == 2 else
                   "not supported" if signs and all(v.sign is not None for _, _, v, _ in found) else NOT_SETTLED)
        shown = [max(found, key=lambda c: c[1])]  # the largest budget, Fashion-MNIST first
    number = join([sentence("{where}: ", where=w) + d for w, _, _, d in shown], "; ", "; ")
    why = sentence("Wide minus deep at equal parameters: ") + join(
        (sentence("{where}: {w}", where=w, w=v.word) for w, _, v, _ in found), "; ", "; ") + "."
    return Answer(verdict, number, "wide minus deep at equal parameters, held-out accuracy", why,
                  figure=store.run_dir(run["id"]) / "grid_fashion.png")
