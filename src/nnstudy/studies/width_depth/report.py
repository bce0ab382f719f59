"""The width-depth study's report section, computed from its stored summary only.

In order: what was trained; wide against deep at each parameter budget, on the spiral and on
Fashion-MNIST, with how many runs of each depth reached the target and what they cost in time;
Atcold's MLP against CNN at equal parameters, on original and on pixel-permuted images. Every
accuracy direction comes from the verdict rules (`verdicts.judge`: chance, ceiling, convergence,
paired interval over seeds), the same ones the answer sheet uses; times are shown, never ranked.
"""

from __future__ import annotations

from nnstudy.evidence import diff, join, ms, num, ratio, ref_num, sentence
from nnstudy.references import rows as reference_rows
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import ms_or
from nnstudy.verdicts import NOT_SETTLED, deciding, judge, outcome, settles

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
    paras = [setup(run)] + [p for kind in kinds for p in grid_text(store, run, kind)] + pair_text(store, run)
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


def grid_text(store, run: dict, kind: str) -> list:
    """Wide against deep at each budget, in the words of the verdict rules (the same comparisons the
    answer sheet uses, so the section and the sheet cannot disagree)."""
    rows, idx = run["summary"]["grids"][kind], grid_index(run, kind)
    budgets, depths = sorted({r["budget"] for r in rows}), sorted({r["depth"] for r in rows})
    lo, hi = depths[0], depths[-1]
    acc = lambda b, d: ms(run, f"grids.{kind}.{idx[(b, d)]}.test_acc")
    key = lambda b, d, k, fmt=",d": num(run, f"grids.{kind}.{idx[(b, d)]}.{k}", fmt)
    found = {c[1][1]: (c[2], c[4]) for c in comparisons(store, run) if c[1][0] == (kind == "fashion")}
    parts = []
    for b in budgets:
        v, d = found[b]
        parts.append(sentence("at {p} parameters {wl} units in one layer reach {al} and {wh} units in each of "
                              "{dh} layers {ah}: {w}{iv}", p=key(b, lo, "params"), wl=key(b, lo, "width"),
                              al=acc(b, lo), wh=key(b, d, "width"), dh=key(b, d, "depth"), ah=acc(b, d),
                              w=v.word, iv=sentence(" (") + v.interval() + sentence(")") if v.diff is not None
                              else ""))
    head = sentence("On {name}, one layer against the deeper net that did best on validation, at equal parameters: ",
                    name=NAMES[kind]) + join(parts, "; ")
    narrow = [r for r in rows if r["depth"] == hi and r["width"] < 2 * SHAPES_OUT[kind]]
    bottleneck = (sentence(" The deepest nets at the smallest budgets have layers only {w} units wide: there depth "
                           "is bought with a width bottleneck, which is why they fall behind.",
                           w=key(narrow[0]["budget"], hi, "width")) if narrow else "")
    out = [head + ". " + verdict([found[b][0] for b in budgets]) + bottleneck]
    j = {r["depth"]: i for i, r in enumerate(run["summary"]["by_depth"][kind])}
    dep = lambda d, k: num(run, f"by_depth.{kind}.{j[d]}.{k}", "d")
    reach = join(sentence("{r} of {n} at depth {d}", r=dep(d, "reached"), n=dep(d, "runs"), d=dep(d, "depth"))
                 for d in depths)
    b = budgets[-1]
    t_lo, t_hi = (ms(run, f"grids.{kind}.{idx[(b, d)]}.seconds", ".2f") for d in (lo, hi))
    x = ratio(t_hi, t_lo)
    out.append(sentence("Runs that reached the target: {reach}. At the largest budget, for about the same "
                        "multiply-adds, a run took {tl} s with one layer and {th} s with {dh} layers ({x} times as "
                        "long): one wall-clock timing per shape (its seeds train together) on a shared CPU, so a "
                        "hint, not a measurement of speed.", reach=reach, tl=t_lo.mean, th=t_hi.mean,
                        dh=key(b, hi, "depth"), x=x))
    return out


def verdict(found: list) -> str:
    """The budgets' verdicts (wide minus deep) -> one plain sentence (no numbers): a direction only
    where the rules granted one, and never a conclusion over budgets the rules left open."""
    signs = [v.sign for v in found]
    ahead, behind, level = signs.count(1), signs.count(-1), signs.count(0)
    open_ = sum(s is None for s in signs)
    if ahead and behind:
        out = "Which is ahead depends on the budget: the split of a fixed number of parameters matters, both ways."
    elif ahead:
        out = "Where the rules find a gap the wide net is ahead: at these budgets, depth does not pay."
    elif behind:
        out = "Where the rules find a gap the deep net is ahead: at these budgets, depth pays."
    elif level:
        out = "Where the rules settle a comparison the two are level: the split does not matter there."
    else:
        return "No budget gives a settled comparison here."
    return out + (" The other budgets are not settled (see each one's words)." if open_ else "")


def pair_index(run: dict) -> dict:
    return {(r["model"], r["permuted"]): i for i, r in enumerate(run["summary"]["pair"])}


def pair_text(store, run: dict) -> list:
    i = pair_index(run)
    path = {k: f"pair.{v}" for k, v in i.items()}
    acc = {k: ms(run, f"{p}.test_acc") for k, p in path.items()}
    fc, cnn, fcp, cnnp = (("mlp", False), ("convnet-tiny", False), ("mlp", True), ("convnet-tiny", True))
    settle = settles("width-depth", run)
    vs = judge(store, run, path[cnn], path[fc], classes=10, settle=settle,
               words=outcome("ahead", "behind", "level with it"))
    perm = {m: judge(store, run, path[p], path[o], classes=10, settle=settle,
                     words={**outcome("gains", "loses", "is unchanged"),
                            "unclear": "changes by an amount unclear with {n} seeds"})
            for m, p, o in (("fc", fcp, fc), ("cnn", cnnp, cnn))}
    f0, c0 = i[fc], i[cnn]
    first = sentence(
        "Atcold's pair has the same size, {pf} parameters fully connected and {pc} convolutional. Trained as Atcold "
        "trained it (SGD at learning rate {lr}, momentum {m}, batches of {bs}, one pass over {n} training images), "
        "on Fashion-MNIST the fully connected net reaches {fcv} and the CNN {cnnv}: the CNN is {w}. Atcold's MNIST "
        "numbers: {rf} and {rc}.", pf=num(run, f"pair.{f0}.params", ",d"), pc=num(run, f"pair.{c0}.params", ",d"),
        lr=num(run, "settings.pair_lr", "g"), m=num(run, "settings.pair_momentum", "g"),
        bs=num(run, "settings.pair_batch", "d"), n=num(run, f"pair.{f0}.n_train", ",d"), fcv=acc[fc], cnnv=acc[cnn],
        w=vs.word, rf=ref_num("mlp_vs_cnn.fc"), rc=ref_num("mlp_vs_cnn.cnn"))
    kinds = (perm["fc"].kind, perm["cnn"].kind)
    so = {("same", "lower"): "the permutation costs the CNN and not the fully connected net, as the argument predicts",
          ("lower", "lower"): "the permutation costs both nets here, so part of what it takes is not about "
                              "neighbouring pixels (the two trainings differ in more than the pixel order's meaning)",
          ("same", "same"): "the permutation costs neither net at this budget: the CNN does not yet use what the "
                            "permutation takes away"}.get(kinds, "what the permutation costs each net is not settled "
                                                                "here (see each verdict)")
    second = sentence(
        "With every image's pixels shuffled by one fixed permutation, the fully connected net reaches {fcpv} "
        "({dfc}: it {wf}) and the CNN {cnnpv} ({dc}: it {wc}); Atcold measured {rfp} and {rcp}. A fixed "
        "permutation only renames a fully connected net's inputs, while a convolution relies on neighbouring "
        "pixels belonging together; here {so}.",
        fcpv=acc[fcp], dfc=diff(acc[fcp], acc[fc]), wf=perm["fc"].word, cnnpv=acc[cnnp],
        dc=diff(acc[cnnp], acc[cnn]), wc=perm["cnn"].word,
        rfp=ref_num("mlp_vs_cnn.fc_permuted"), rcp=ref_num("mlp_vs_cnn.cnn_permuted"), so=so)
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
SHAPES_OUT = CLASSES  # outputs per data set: a hidden layer narrower than twice this is a bottleneck
SPLIT_WORDS = {"higher": "wide ahead", "lower": "deep ahead", "same": "level",
               "unclear": "unclear with {n} seeds", "unsettled": "not settled ({how})",
               "chance": "both at chance", "ceiling": "both at the ceiling"}


def final_val(store, row: dict) -> float:
    """Mean over a row's seeds of the last validation accuracy its run recorded (-1 without one)."""
    vals = []
    for rid in row.get("runs", []):
        _, v = store.series(rid, "val", "acc")
        if v:
            vals.append(v[-1])
    return sum(vals) / len(vals) if vals else -1.0


def deep_arm(store, run: dict, kind: str, budget: int) -> int:
    """The deeper net that stands for "deep" at a budget: of every depth above one, the one whose
    validation accuracy ended highest (chosen on validation, never on the test split). Comparing
    only with the deepest would pit one layer against nets whose layers are a few units wide, a
    width bottleneck rather than a test of depth."""
    rows, idx = run["summary"]["grids"][kind], grid_index(run, kind)
    deeper = sorted(d for (b, d) in idx if b == budget and d > min(r["depth"] for r in rows))
    return max(deeper, key=lambda d: final_val(store, rows[idx[(budget, d)]]))


def comparisons(store, run: dict) -> list[tuple]:
    """(where, sort key, verdict, its deciding number, deep depth) for every budget of both grids: the
    one-layer (widest) net minus the best deeper net on validation at the same parameter count,
    paired by seed."""
    out = []
    for kind in run["summary"]["grids"]:
        rows, idx = run["summary"]["grids"][kind], grid_index(run, kind)
        depths = sorted({r["depth"] for r in rows})
        for b in sorted({r["budget"] for r in rows}):
            d = deep_arm(store, run, kind, b)
            wide, deep = f"grids.{kind}.{idx[(b, depths[0])]}", f"grids.{kind}.{idx[(b, d)]}"
            v = judge(store, run, wide, deep, classes=CLASSES[kind], settle=settles("width-depth", run),
                      words=SPLIT_WORDS)
            where = sentence("{ds} at {p} parameters", ds=NAMES[kind], p=num(run, f"{wide}.budget", ",d"))
            # grid rows carry no name: a moving side is named by what it is, not by its summary path
            shown = deciding(v, {wide: "the wide net", deep: "the deep net"})
            out.append((where, (kind == "fashion", b), v, shown, d, deep))
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
    signs = {v.sign for _, _, v, _, _, _ in found if v.sign is not None}
    if {1, -1} <= signs:
        verdict = "supported"
        shown = [max((c for c in found if c[2].sign == s), key=lambda c: abs(c[2].diff.value)) for s in (1, -1)]
    elif len(signs) == 2:  # one direction and "level": show one of each
        verdict = "partly supported"
        shown = [max((c for c in found if c[2].sign == s), key=lambda c: (abs(c[2].diff.value), c[1]))
                 for s in sorted(signs, reverse=True)]
    else:
        verdict = "not supported" if signs and all(v.sign is not None for _, _, v, _, _, _ in found) else NOT_SETTLED
        shown = [max(found, key=lambda c: c[1])]  # the largest budget, Fashion-MNIST first
    number = join([sentence("{where}: ", where=w) + d for w, _, _, d, _, _ in shown], "; ", "; ")
    why = sentence("One layer against the best deeper net (chosen on validation) at equal parameters: ") + join(
        (sentence("{where} ({dd} layers): {w}", where=w, w=v.word, dd=num(run, f"{deep}.depth", "d"))
         for w, _, v, _, _, deep in found),
        "; ", "; ") + sentence(". Only the split of parameters is tested here; the week's \u201coverfitting on small "
                              "data\u201d and \u201cbetter on large data sets\u201d are not (one data-set size "
                              "each). Theory says why the answer is \u201cit depends\u201d: one hidden layer can "
                              "approximate any continuous function (the universal approximation theorem), but some "
                              "functions need exponentially more units at one layer than in several.")
    return Answer(verdict, number, "wide minus deep at equal parameters, held-out accuracy", why,
                  figure=store.run_dir(run["id"]) / "grid_fashion.png")
