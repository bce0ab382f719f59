"""The pretraining study's report section, computed from its stored summary only.

Questions, in order: what does each starting point reach on the deepest, smallest-data sigmoid
cell; in which cells does pretraining help, make no difference or hurt (against default and xavier
init); does the error grow faster with depth without pretraining, and is the gain larger with
fewer examples (Erhan et al.'s two findings); where does the modern recipe stand; how far did
fine-tuning move the weights; and the published RBM number beside ours. Every verdict is chosen
by `compare` from stored numbers, with seed noise (the stds) as the tolerance.
"""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, sentence
from nnstudy.studies import Section

FLOOR = 1.0  # test error, percentage points: a smaller gap is not called a difference
NAMES = {"default": "default init", "xavier": "xavier init", "pretrained": "greedy pretraining",
         "modern": "ReLU + kaiming + batch norm", "longer": "default init given the pretraining's steps"}


def methods(run) -> list[str]:
    """The starting points this run trained (stores from before the compute-matched control lack it)."""
    return [m for m in NAMES if m in run["summary"]["cells"][0]["methods"]]
FIGURES = {"error_vs_depth.png": "Test error against depth, mean ± std over seeds.",
           "error_vs_size.png": "Test error against the number of training examples.",
           "curves.png": "Validation error during fine-tuning, smallest training set, shallowest and deepest net.",
           "moved.png": "How far fine-tuning moved each hidden layer's weights, relative to where they started.",
           "pretrain_layers.png": "Greedy pretraining: each layer's reconstruction error, relative to its input's "
                                  "variance."}


def err(run, i: int, method: str):
    return ms(run, f"cells.{i}.methods.{method}.test_err_pct", ".1f")


def label(run, i: int):
    c = run["summary"]["cells"][i]
    return sentence("{act} depth {d} with {n} examples", act=c["activation"], d=num(run, f"cells.{i}.depth", "d"),
                    n=num(run, f"cells.{i}.n_train", "d"))


def pretraining_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    paras = [setup(run), focus(run), *verdicts(run), *trends(run), movement(run), published(run)]
    return Section(title, paragraphs=[p for p in paras if p is not None],
                   tables=[table(run)], figures=figures)


def focus_index(run) -> int:
    """The deepest sigmoid cell of the smallest training set (falls back to the first cell)."""
    cells = run["summary"]["cells"]
    sig = [i for i, c in enumerate(cells) if c["activation"] == "sigmoid"] or list(range(len(cells)))
    n0 = min(cells[i]["n_train"] for i in sig)
    return max((i for i in sig if cells[i]["n_train"] == n0), key=lambda i: cells[i]["depth"])


def setup(run):
    s = "settings"
    return sentence("Each net has hidden layers of {w} units and is fine-tuned on Fashion-MNIST with SGD (momentum "
                    "{m}, learning rate {lr}, batches of {bs}) for {steps} steps from four starting points: "
                    "default init, xavier init, a greedy stack of denoising autoencoders ({pre} steps a layer, "
                    "{mask} of inputs masked, tied weights) and, as the modern recipe, ReLU with kaiming init "
                    "and batch norm. Pretraining is not free: as a control matched in steps, default init also gets "
                    "the pretraining's steps (depth x {pre} per net) as extra supervised steps. Errors are test error "
                    "in percent, on the held-out test set, mean ± std over seeds (n = {k}).",
                    w=num(run, f"{s}.width", "d"), m=num(run, f"{s}.finetune.momentum", "g"),
                    lr=num(run, f"{s}.finetune.lr", "g"), bs=num(run, f"{s}.finetune.batch_size", "d"),
                    steps=num(run, f"{s}.steps", "d"), pre=num(run, f"{s}.pre_steps", "d"),
                    mask=num(run, f"{s}.pretrain.level", ".0%"),
                    k=num(run, "cells.0.methods.default.test_err_pct.n", "d"))


def chance(run):
    return num(run, "settings.chance_err_pct", ".1f")


def at_chance(run, i: int, method: str) -> bool:
    """The net never left chance: its error is within FLOOR of guessing's (or above it)."""
    return compare(err(run, i, method), chance(run), floor=FLOOR).sign in (0, 1)


def shallow_index(run) -> int:
    """The shallowest sigmoid cell of the smallest training set: the nearest we have to the published
    two-hidden-layer net."""
    cells = run["summary"]["cells"]
    sig = [i for i, c in enumerate(cells) if c["activation"] == "sigmoid"] or list(range(len(cells)))
    n0 = min(cells[i]["n_train"] for i in sig)
    return min((i for i in sig if cells[i]["n_train"] == n0), key=lambda i: cells[i]["depth"])


def focus(run):
    i = focus_index(run)
    e = {m: err(run, i, m) for m in methods(run)}
    stuck = [NAMES[m] for m in ("default", "xavier") if at_chance(run, i, m)]
    note = sentence(" Guessing scores {c}: {who} never left chance within this budget; whether an adaptive "
                    "optimizer would free {them} is not measured here.", c=chance(run), who=join(stuck),
                    them="it" if len(stuck) == 1 else "them") if stuck else ""
    if "longer" in e:
        note = sentence(" Given the pretraining's steps as extra supervised steps, default init ends at {lo}: "
                        "pretraining {w} it ({dl} points).", lo=e["longer"], w=helps(e["pretrained"], e["longer"]),
                        dl=diff(e["pretrained"], e["longer"], "+.1f")) + note
    return sentence("On {cell}, after {steps} steps: default init ends at {d} test error, xavier init at {x}, greedy "
                    "pretraining at {p} and the modern recipe at {mo}. Pretraining {w1} default init ({d1} points) "
                    "and {w2} xavier init ({d2}).{note}", cell=label(run, i), steps=num(run, "settings.steps", "d"),
                    note=note, d=e["default"], x=e["xavier"], p=e["pretrained"],
                    mo=e["modern"], w1=helps(e["pretrained"], e["default"]),
                    d1=diff(e["pretrained"], e["default"], "+.1f"), w2=helps(e["pretrained"], e["xavier"]),
                    d2=diff(e["pretrained"], e["xavier"], "+.1f"))


def helps(a, b):
    """Lower error is better: the word for what `a` does against `b`."""
    return compare(a, b, more="does worse than", less="beats", same="is level with", floor=FLOOR)


def grouped(run, method: str, against: str, words=("helps", "makes no clear difference", "hurts",
                                                    "is unclear with {n} seeds")):
    """One sentence listing the cells by the direction of `method` against `against` (lower error
    is better); a cell whose interval over seeds straddles zero is listed as unclear, never dropped."""
    groups = {-1: [], 0: [], 1: [], None: []}
    n = 0
    for i, _ in enumerate(run["summary"]["cells"]):
        a, b = err(run, i, method), err(run, i, against)
        w = compare(a, b, more="worse", less="better", same="level", floor=FLOOR)
        n = max(n, min(a.n or 0, b.n or 0))
        groups[w.sign].append(sentence("{cell} ({d})", cell=label(run, i), d=diff(a, b, "+.1f")))
    parts = [sentence("{w} in {cells}", w=word.format(n=n), cells=listing(groups[sign]))
             for sign, word in zip((-1, 0, 1, None), words) if groups[sign]]
    return listing(parts)


def listing(items: list):
    """'a and b', or 'a; b; and c' (the items hold commas of their own)."""
    return join(items, sep="; ", last=" and " if len(items) == 2 else "; and ")


def verdicts(run):
    control = ([sentence("Against the control trained as long as pretraining plus fine-tuning took (default init, "
                         "the pretraining's steps added as supervised steps), pretraining {g}.",
                         g=grouped(run, "pretrained", "longer"))] if "longer" in methods(run) else [])
    return control + [
            sentence("Against default init (error difference in points, negative = pretraining lower), greedy "
                     "pretraining {g}.", g=grouped(run, "pretrained", "default")),
            sentence("Against xavier init, pretraining {g}.", g=grouped(run, "pretrained", "xavier")),
            sentence("The modern recipe, against the pretrained net of the same shape, {g}.",
                     g=grouped(run, "modern", "pretrained",
                               ("is better", "is level", "is worse", "is unclear with {n} seeds")))]


def trends(run):
    """Erhan et al.: without pretraining the error grows faster with depth; the gain is larger on
    small training sets. Checked on the sigmoid cells where the grid has two depths / two sizes."""
    cells = run["summary"]["cells"]
    sig = [i for i, c in enumerate(cells) if c["activation"] == "sigmoid"]
    out = []
    n0 = min((cells[i]["n_train"] for i in sig), default=None)
    by_depth = sorted((i for i in sig if cells[i]["n_train"] == n0), key=lambda i: cells[i]["depth"])
    if len(by_depth) > 1:
        a, b = by_depth[0], by_depth[-1]
        g_def, g_pre = diff(err(run, b, "default"), err(run, a, "default"), "+.1f"), \
            diff(err(run, b, "pretrained"), err(run, a, "pretrained"), "+.1f")
        out.append(sentence("From depth {da} to {db} (sigmoid, {n} examples) the test error changes by {gd} points "
                            "from default init and by {gp} from pretraining: it grows {w}.",
                            da=num(run, f"cells.{a}.depth", "d"), db=num(run, f"cells.{b}.depth", "d"),
                            n=num(run, f"cells.{a}.n_train", "d"), gd=g_def, gp=g_pre,
                            w=compare(g_def, g_pre, more="faster without pretraining, as Erhan et al. found",
                                      less="faster with pretraining, unlike Erhan et al.'s finding",
                                      same="about as fast either way", floor=FLOOR))
                   + (sentence(" By depth, default init reaches {a}; pretraining {b}.",
                               a=by_depth_list(run, by_depth, "default"), b=by_depth_list(run, by_depth, "pretrained"))
                      if len(by_depth) > 2 else "")
                   + (" (At the deeper end default init does not train at all: there the depth effect is an "
                      "optimisation failure, the difficulty greedy pretraining was introduced to get around.)"
                      if at_chance(run, b, "default") else ""))
    for d in sorted({cells[i]["depth"] for i in sig}):
        by_n = sorted((i for i in sig if cells[i]["depth"] == d), key=lambda i: cells[i]["n_train"])
        if len(by_n) < 2:
            continue
        a, b = by_n[0], by_n[-1]
        # against the control trained as long where the run has one: pretraining's steps are not free
        base = "longer" if "longer" in methods(run) else "default"
        d_a = diff(err(run, a, "pretrained"), err(run, a, base), "+.1f")
        d_b = diff(err(run, b, "pretrained"), err(run, b, base), "+.1f")
        if at_chance(run, a, "default") and at_chance(run, b, "default"):
            out.append(sentence("At sigmoid depth {d}, default init stays at chance with both {na} and {nb} examples, "
                                "so its gap to pretraining ({da} and {db} points) measures how well the pretrained "
                                "net learns from more data, not Erhan et al.'s small-data effect.",
                                d=num(run, f"cells.{a}.depth", "d"), da=d_a, db=d_b,
                                na=num(run, f"cells.{a}.n_train", "d"), nb=num(run, f"cells.{b}.n_train", "d")))
            continue
        out.append(sentence("At sigmoid depth {d}, pretraining changes the test error against {base} by {da} "
                            "points with {na} examples and by {db} with {nb} (negative: pretraining lower): its "
                            "advantage is {w}.", d=num(run, f"cells.{a}.depth", "d"), da=d_a, db=d_b,
                            base=NAMES[base],
                            na=num(run, f"cells.{a}.n_train", "d"), nb=num(run, f"cells.{b}.n_train", "d"),
                            w=compare(d_a, d_b, more="larger with more examples, unlike Erhan et al.'s finding",
                                      less="larger with fewer examples, as Erhan et al. found",
                                      same="about the same at both sizes", floor=FLOOR)))
    return out


def by_depth_list(run, idx: list[int], method: str):
    return join([sentence("{e} at depth {d}", e=err(run, i, method), d=num(run, f"cells.{i}.depth", "d"))
                 for i in idx])


def movement(run):
    i = focus_index(run)
    mv = {m: ms(run, f"cells.{i}.methods.{m}.moved.0", ".2f") for m in methods(run)}
    return sentence("How far fine-tuning moved the first hidden layer on {cell}, as a fraction of its starting "
                    "norm: {d} from default init, {x} from xavier, {p} from pretraining, {mo} for the modern "
                    "recipe. The pretrained first layer moved {w} the default-init one, whose gradient has to "
                    "cross every sigmoid layer above it.", cell=label(run, i), d=mv["default"], x=mv["xavier"],
                    p=mv["pretrained"], mo=mv["modern"],
                    w=compare(mv["pretrained"], mv["default"], more="more than", less="less than",
                              same="about as much as", floor=0.02))


def published(run):
    i = shallow_index(run)
    return sentence("Published: Erhan et al. (JMLR) found that unsupervised pretraining acts as a regularizer, that "
                    "without it the error grows faster with depth, that it helps most with small training sets and "
                    "can hurt small networks (they pretrained with RBMs and with denoising autoencoders, as here). "
                    "Ours differ in data (Fashion-MNIST, not MNIST) and budget; on our shallowest net, {cell}, "
                    "pretraining changes the test error by {ours} points against default init, so compare "
                    "directions with theirs, not digits.", cell=label(run, i),
                    ours=diff(err(run, i, "pretrained"), err(run, i, "default"), "+.1f"))


def table(run) -> dict:
    rows_ = []
    for i, c in enumerate(run["summary"]["cells"]):
        rows_.append([c["activation"], num(run, f"cells.{i}.n_train", "d"), num(run, f"cells.{i}.depth", "d"),
                      *(err(run, i, m) for m in methods(run)),
                      ms(run, f"cells.{i}.methods.pretrained.moved_mean", ".2f"),
                      ms(run, f"cells.{i}.methods.default.moved_mean", ".2f")])
    return {"caption": "Test error % (mean ± std over seeds) by starting point, and how far fine-tuning moved the "
                       "hidden weights (mean over layers of ||W_end - W_start|| / ||W_start||)",
            "columns": ["activation", "training examples", "depth", *(f"{NAMES[m]} error %" for m in methods(run)),
                        "moved (pretrained)", "moved (default init)"], "rows": rows_}
