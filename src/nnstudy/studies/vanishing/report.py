"""The vanishing study's report section and terminal table, from its stored summary only.

Every number in a sentence is `num`/`ms`/`ref_num` (or arithmetic on them) and every direction
word a `compare`, so the report's test can look each one up in the store.
"""

from __future__ import annotations

from nnstudy.evidence import Word, compare, diff, join, ms, num, ratio, ref_num, sentence
from nnstudy.references import rows as reference_rows
from nnstudy.studies import Answer, Section, fmt_ms
from nnstudy.verdicts import MIN_SEEDS, NOT_SETTLED, judge, mean_interval, settles, stated

FLOOR = 0.02  # accuracy: a gap under two points is not called a difference
FIGURES = {
    "nielsen_gradients.png": "Nielsen's sigmoid nets at initialization: each hidden layer's gradient, ours "
                             "(Fashion-MNIST, mean ± std over seeds) against his (MNIST, markers).",
    "nielsen_training.png": "The deepest of them trained with his SGD: each layer's gradient over training.",
    "init_gradients.png": "Per-layer gradient at initialization, every activation with each init, batch norm "
                          "and residual connections.",
    "init_grid.png": "The whole activation x init x architecture grid at initialization: first/last-layer "
                     "gradient ratio and mean Jacobian singular value.",
    "depth.png": "Held-out accuracy against depth after a fixed budget.",
    "accuracy.png": "Held-out accuracy of each fix at the deepest depth, Fashion-MNIST and the spiral.",
}


def extra_caption(name: str) -> str:
    """Captions of the figures drawn once per part (one per width of the fixes, one for the spiral)."""
    if name.startswith("fixes_gradients_w"):
        return ("Fashion-MNIST, each fix at the deepest depth: each layer's gradient norm over training (the darkest "
                "line is the layer next to the input).")
    if name == "spiral_gradients.png":
        return "The spiral, each fix at the deepest depth: each layer's gradient norm over training."
    return name.rsplit(".", 1)[0].replace("_", " ")


def idx(rows: list[dict], **match) -> int:
    return next(i for i, r in enumerate(rows) if all(r.get(k) == v for k, v in match.items()))


def nielsen_text(run) -> list:
    s = run["summary"]["nielsen"]
    parts = []
    for i, net in enumerate(s["nets"]):
        ours = join(ms(run, f"nielsen.nets.{i}.grad.{j}", ".2g") for j in range(net["hidden"]))
        his = join(ref_num(k) for k in net["published"])
        parts.append(sentence("{net}: {ours} (Nielsen: {his})", net=net["net"], ours=ours, his=his))
    deep = len(s["nets"]) - 1
    k = s["nets"][deep]["hidden"] - 1
    first, last = ms(run, f"nielsen.nets.{deep}.grad.0", ".2g"), ms(run, f"nielsen.nets.{deep}.grad.{k}", ".2g")
    pub = s["nets"][deep]["published"]
    acc = ms(run, "nielsen.trained.test_acc")
    return [
        sentence("Nielsen's sigmoid nets with his initialization and cost, at the start of training, on {n} "
                 "Fashion-MNIST training images (he used {hn} MNIST images; the data set differs), {seeds} seeds: "
                 "the norm of each hidden layer's gradient, first to last, is ", n=num(run, "nielsen.images", "d"),
                 hn=ref_num("vanishing.nielsen.images", "d"),
                 seeds=num(run, "nielsen.seeds", "d")) + join(parts, "; ", "; and ") + ".",
        sentence("In the deepest net the gradient {w} from the last hidden layer to the first: the first layer's "
                 "is {r} of the last one's (Nielsen: {rn}).",
                 w=compare(first, last, more="grows", less="shrinks", same="stays level"),
                 r=ratio(first, last, ".2g"), rn=ratio(ref_num(pub[0]), ref_num(pub[-1]), ".2g")),
        sentence("Trained full-batch with his SGD for {steps} steps (seeds: {n}), it reaches {acc} held-out accuracy, "
                 "{w} chance ({c}).", steps=num(run, "nielsen.trained.steps", "d"),
                 n=num(run, "nielsen.trained.test_acc.n", "d"), acc=acc, c=num(run, "nielsen.trained.chance", ".2f"),
                 w=compare(acc, num(run, "nielsen.trained.chance"), more="above", less="below", same="at",
                           floor=FLOOR)),
    ]


def grid_text(run) -> list:
    g = run["summary"]["init_grid"]
    cells = g["cells"]

    def at(act, init, arch, key, fmt=".2g"):
        return ms(run, f"init_grid.cells.{idx(cells, activation=act, init=init, arch=arch)}.{key}", fmt)

    arms = [("sigmoid, default init", "sigmoid", "default", "plain"),
            ("ReLU, default init", "relu", "default", "plain"),
            ("ReLU, Kaiming init", "relu", "kaiming", "plain"), ("tanh, Xavier init", "tanh", "xavier", "plain"),
            ("sigmoid with batch norm", "sigmoid", "default", "batch norm"),
            ("sigmoid with residual connections", "sigmoid", "default", "residual")]
    listed = join(sentence("{a} {r}", a=label, r=at(*cell, "first_over_last")) for label, *cell in arms)
    sig = at("sigmoid", "default", "plain", "per_layer", ".2f")
    td, tx = at("tanh", "default", "plain", "jac_mean", ".2f"), at("tanh", "xavier", "plain", "jac_mean", ".2f")
    std, nrm = ref_num("vanishing.glorot.jacobian_standard"), ref_num("vanishing.glorot.jacobian_normalized")
    return [
        sentence("At initialization ({d} hidden layers of {w}, one batch of {b} images, {n} seeds), the first "
                 "hidden layer's gradient as a fraction of the last one's: {listed}. With sigmoid and PyTorch's "
                 "default init the gradient is multiplied by {sig} per layer on its way to the input.",
                 d=num(run, "init_grid.depth", "d"), w=num(run, "init_grid.width", "d"),
                 b=num(run, "init_grid.batch", "d"), n=num(run, "init_grid.seeds", "d"), listed=listed, sig=sig),
        sentence("The mean singular value of the hidden-to-hidden Jacobians is {td} for tanh with PyTorch's default "
                 "init (Glorot & Bengio's standard init, which they measured at {std}) and {tx} with Xavier's "
                 "normalized init (theirs: {nrm}); for sigmoid with default init it is {sd}.", td=td, tx=tx,
                 std=std, nrm=nrm, sd=at("sigmoid", "default", "plain", "jac_mean", ".2f")),
    ]


def training_text(run) -> list:
    s = run["summary"]
    d = s["depth"]
    lo, hi = min(r["depth"] for r in d["rows"]), max(r["depth"] for r in d["rows"])
    chance = num(run, "depth.chance", ".2f")
    per_arm = []
    for arm in dict.fromkeys(r["arm"] for r in d["rows"]):
        a = ms(run, f"depth.rows.{idx(d['rows'], arm=arm, depth=lo)}.test_acc")
        b = ms(run, f"depth.rows.{idx(d['rows'], arm=arm, depth=hi)}.test_acc")
        per_arm.append(sentence("{arm} {a} at depth {lo} and {b} at depth {hi} ({w})", arm=arm, a=a, b=b,
                                lo=num(run, f"depth.rows.{idx(d['rows'], arm=arm, depth=lo)}.depth", "d"),
                                hi=num(run, f"depth.rows.{idx(d['rows'], arm=arm, depth=hi)}.depth", "d"),
                                w=compare(b, a, more="better deeper", less="worse deeper", same="no clear change",
                                          floor=FLOOR, unclear="no clear change")))
    out = [sentence("Trained on Fashion-MNIST ({e} epochs of SGD at learning rate {lr}, width {w}; chance is {c}): ",
                    e=num(run, "depth.epochs", "d"), lr=num(run, "depth.lr", "g"), w=num(run, "depth.width", "d"),
                    c=chance) + join(per_arm, "; ", "; ") + "."]
    for part, key in [(f, f"fixes.{i}") for i, f in enumerate(s["fixes"])] + [(s["spiral"], "spiral")]:
        rows = part["rows"]
        base = ms(run, f"{key}.rows.0.test_acc")
        gains = join(sentence("{arm} {acc} ({w}, {d})", arm=r["arm"], acc=ms(run, f"{key}.rows.{i}.test_acc"),
                              w=compare(ms(run, f"{key}.rows.{i}.test_acc"), base, more="better",
                                        less="worse", same="no clear difference", floor=FLOOR),
                              d=diff(ms(run, f"{key}.rows.{i}.test_acc"), base))
                     for i, r in enumerate(rows) if i)
        if key == "spiral":
            where = sentence("the spiral, SGD at learning rate {lr}", lr=num(run, "spiral.lr", "g"))
        else:
            lrs = join((num(run, f"{key}.lrs.{j}", "g") for j in range(len(part["lrs"]))), ", ", " and ")
            where = sentence("Fashion-MNIST, each at its best SGD learning rate among {lrs} on a validation split",
                             lrs=lrs)
        text = sentence("At depth {d} ({where}), against {arm0} at {base}: {gains}.",
                        d=num(run, f"{key}.depth", "d"), where=where, arm0=rows[0]["arm"], base=base, gains=gains)
        if rows[0].get("best_val_acc") is not None:
            text = text + sentence(" No learning rate tried lifts {arm0} above {v} validation accuracy (chance {c}).",
                                   arm0=rows[0]["arm"], v=num(run, f"{key}.rows.0.best_val_acc", ".3f"),
                                   c=num(run, f"{key}.chance", ".2f"))
        out.append(text)
    return out


def tables(run) -> list[dict]:
    s = run["summary"]
    nielsen = {"caption": "Nielsen's nets at initialization: ||dL/db|| per hidden layer (ours: Fashion-MNIST; his: "
                          "MNIST)", "columns": ["net", "hidden layer", "nnstudy", "Nielsen"],
               "rows": [[n["net"], j + 1, ms(run, f"nielsen.nets.{i}.grad.{j}", ".2g"), ref_num(k)]
                        for i, n in enumerate(s["nielsen"]["nets"]) for j, k in enumerate(n["published"])]}
    grid = {"caption": "At initialization: first/last-layer gradient ratio, per-layer factor, mean Jacobian singular "
                       "value, fraction of saturated units",
            "columns": ["activation", "init", "architecture", "first/last", "per layer", "Jacobian", "saturated"],
            "rows": [[c["activation"], c["init"], c["arch"]] + [ms(run, f"init_grid.cells.{i}.{k}", f)
                     for k, f in (("first_over_last", ".2g"), ("per_layer", ".2f"), ("jac_mean", ".2f"),
                                  ("saturated", ".2f"))] for i, c in enumerate(s["init_grid"]["cells"])]}
    trained = {"caption": "Trained: held-out accuracy after a fixed budget, and the same nets at initialization",
               "columns": ["part", "configuration", "learning rate", "test accuracy", "first/last at init"],
               "rows": []}
    for key, part in [("depth", s["depth"])] + [(f"fixes.{i}", f) for i, f in enumerate(s["fixes"])] + \
            [("spiral", s["spiral"])]:
        for i, r in enumerate(part["rows"]):
            label = f"{r['arm']}, depth {r['depth']}" if "depth" in r else r["arm"]
            lr = num(run, f"{key}.rows.{i}.lr", "g") if "lr" in r else num(run, f"{key}.lr", "g")
            trained["rows"].append([key.split(".")[0], label, lr, ms(run, f"{key}.rows.{i}.test_acc"),
                                    ms(run, f"{key}.rows.{i}.first_over_last", ".2g")])
    return [nielsen, grid, trained]


def vanishing_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    figures += [(p, extra_caption(p.name)) for p in sorted(folder.glob("*.png")) if p.name not in FIGURES]
    return Section(title, paragraphs=[*nielsen_text(run), *grid_text(run), *training_text(run)],
                   tables=tables(run), figures=figures, references=reference_rows("vanishing", "glorot"))


# -- the answer sheet's line -------------------------------------------------------------------------
FIX_WORDS = {"higher": "helps", "lower": "hurts", "same": "makes no difference", "unclear": "is unclear with {n} seeds",
             "unsettled": "is not settled ({how})", "chance": "leaves both at chance",
             "ceiling": "leaves both at the ceiling"}


def shrink(run: dict, path: str):
    """Does the gradient shrink layer by layer? The per-layer factor at initialization (first/last
    hidden layer's gradient norm, to the power 1/(layers - 1)) is measured once per seed; its 95%
    t-interval over the seeds wholly below one: shrinks; wholly above: grows (exploding); else
    unclear. Fewer than MIN_SEEDS seeds: no word either way. Returns (kind, Word, number)."""
    m, lo, hi, n = mean_interval(run, path, ".3f")  # three digits: the interval is about +-0.01 wide
    number = sentence("{m} per layer, {lvl} interval {lo} to {hi} over {n} seeds", m=m, lvl=stated("level", ".0%"),
                      lo=lo, hi=hi, n=n)
    rec = {"rule": "per-layer factor against 1", "lo": lo.record(), "hi": hi.record(), "min_seeds": MIN_SEEDS}
    if n.value is None or n.value < MIN_SEEDS or lo.value is None or hi.value is None:
        kind, text = "unclear", f"is not judged with {n.value} seeds (the rules need {MIN_SEEDS})"
    elif hi.value < 1:
        kind, text = "shrinks", "shrinks layer by layer toward the input"
    elif lo.value > 1:
        kind, text = "grows", "grows layer by layer toward the input (exploding, not vanishing)"
    else:
        kind, text = "unclear", f"neither clearly shrinks nor grows (unclear with {n.value} seeds)"
    return kind, Word(text, {"shrinks": -1, "grows": 1}.get(kind), {**rec, "kind": kind}), number


def answer(store, run: dict) -> Answer:
    """The week's definition: the gradient shrinks from layer to layer until the parameters cannot be
    updated and training slows or stalls. The deciding number is the first half, measured: the
    per-layer factor of the gradient norm at initialization in the deep sigmoid net with PyTorch's
    default init (the fixes' baseline: the same depth, width and seeds whose training is then
    compared), with its interval over seeds. The second half is read from the fixes the study
    trains (each at its best learning rate) against that baseline, through the rules: supported
    when the gradient shrinks and some fix trains measurably better; partly supported when it
    shrinks but no fix is shown to help (not settled, level or worse); not supported when it is
    settled that it does not shrink."""
    f = run["summary"]["fixes"][0]
    kind, word, number = shrink(run, "fixes.0.rows.0.per_layer")
    fixes = [(r["arm"], judge(store, run, f"fixes.0.rows.{i}", "fixes.0.rows.0", classes=10,
                              settle=settles("vanishing", run), words=FIX_WORDS)) for i, r in enumerate(f["rows"]) if i]
    if kind == "shrinks":
        verdict = "supported" if any(v.kind == "higher" for _, v in fixes) else "partly supported"
    else:
        verdict = "not supported" if kind == "grows" else NOT_SETTLED
    chance = sentence(" (chance {ch})", ch=num(run, "fixes.0.chance", ".2f")) if "chance" in f else ""
    why = (sentence("The definition, measured: in the {arm} net ({d} hidden layers of {w}) the gradient {word}, and "
                    "trained for {e} epochs of SGD at that depth it reaches {acc} held-out accuracy{chance}. The "
                    "week's wording needs one correction: vanishing gradients slow learning, most in the layers "
                    "nearest the input (the last ones still get a gradient), rather than forbid it; within this "
                    "budget the net does not get going, and a much longer one would let it learn slowly. ",
                    arm=f["rows"][0]["arm"], d=num(run, "fixes.0.depth", "d"), w=num(run, "fixes.0.width", "d"),
                    word=word, e=num(run, "fixes.0.epochs", "d"), acc=ms(run, "fixes.0.rows.0.test_acc"),
                    chance=chance)
           + (causes(run) if "init_grid" in run["summary"] else "")
           + sentence(" Against it in training, each fix at its best learning rate against the plain {arm} net: ",
                      arm=f["rows"][0]["arm"])
           + join(sentence("{a} {v}", a=a, v=v.word) for a, v in fixes) + ".")
    return Answer(verdict, number, "per-layer factor of the gradient norm at initialization (first/last hidden "
                  "layer), deep sigmoid net", why, figure=store.run_dir(run["id"]) / "init_gradients.png")


def causes(run: dict):
    """The causes the study measures at initialization, in the answer's words: saturating derivatives
    and the product of layer Jacobians (mean singular value below one shrinks the gradient), the
    initialization's scale (the same activation with another init), and the opposite, exploding,
    where a cell's per-layer factor is clearly above one."""
    cells = run["summary"]["init_grid"]["cells"]

    def at(act, init, arch, key="per_layer", fmt=".2f"):
        return ms(run, f"init_grid.cells.{idx(cells, activation=act, init=init, arch=arch)}.{key}", fmt)

    path = f"init_grid.cells.{idx(cells, activation='relu', init='kaiming', arch='residual')}.per_layer"
    kind, word, _ = shrink(run, path)
    out = sentence(
        "Causes, measured at initialization: each layer multiplies the gradient by its Jacobian, so the factors "
        "compound over depth; the sigmoid's derivative is at most a quarter and its Jacobians' mean singular value "
        "is {js}; the initialization's scale decides the rest (per layer, tanh goes from {td} at PyTorch's default "
        "init to {tx} with Xavier's, ReLU from {rd} to {rk} with Kaiming's).",
        js=at("sigmoid", "default", "plain", "jac_mean"), td=at("tanh", "default", "plain"),
        tx=at("tanh", "xavier", "plain"), rd=at("relu", "default", "plain"), rk=at("relu", "kaiming", "plain"))
    if kind == "grows":
        out += sentence(" The opposite, exploding, shows too: with ReLU, Kaiming's init and residual connections "
                        "the gradient {w}: {f} per layer.", w=word, f=at("relu", "kaiming", "residual"))
    return out


# -- the terminal's table -----------------------------------------------------------------------------
def fmt_g(d: dict) -> str:
    """mean ± std in significant digits (ratios span orders of magnitude)."""
    return "n/a" if not d or d.get("mean") is None else f"{d['mean']:.3g} ± {d['std']:.2g}"


def table(nielsen, depth, fixes, spiral) -> list[dict]:
    rows = []
    for n in nielsen["nets"]:
        rows.append({"part": "nielsen (at init)", "config": n["net"], "test acc": "",
                     "grad by layer (first->last)": ", ".join(f"{g['mean']:.3g}" for g in n["grad"]),
                     "first/last": f"{n['grad'][0]['mean'] / n['grad'][-1]['mean']:.3g}", "jac sv": "", "lr": ""})

    def row(part, r, config, lr):
        return {"part": part, "config": config, "test acc": fmt_ms(r["test_acc"]), "grad by layer (first->last)": "",
                "first/last": fmt_g(r["first_over_last"]), "jac sv": fmt_ms(r["jac_mean"], 2),
                "lr": f"{r.get('lr') or lr:g}"}
    rows += [row("depth", r, f"{r['arm']}, depth {r['depth']}", depth["lr"]) for r in depth["rows"]]
    for f in fixes:
        rows += [row(f"fixes (width {f['width']})", r, r["arm"], None) for r in f["rows"]]
    rows += [row("spiral", r, r["arm"], spiral["lr"]) for r in spiral["rows"]]
    return rows
