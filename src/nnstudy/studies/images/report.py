"""The images study's report section, computed from its stored summary only.

Two questions: what does each rung of the ladder (softmax regression, MLP, LeNet-5, the fast conv
net) reach on held-out Fashion-MNIST images, and where do those numbers sit next to the published
ones? Every number is a stored value (`num`, `ms`, `ref_num`) or arithmetic on them; every
direction word comes from `compare`, with seed noise (the two stds) as the tolerance.
"""

from __future__ import annotations

from nnstudy.evidence import code, compare, diff, ms, num, ref_num, sentence
from nnstudy.references import ref
from nnstudy.references import rows as reference_rows
from nnstudy.studies import Section

FLOOR = 0.005  # accuracy: half a point is the least gap called a difference
REF_KEYS = {"mlp": "fashion_mnist.mlp", "lenet5": "fashion_mnist.d2l_lenet", "fast": "fashion_mnist.conv2"}
FIGURES = {"accuracy.png": "Test accuracy per model, mean ± std over seeds; diamonds: the nearest published entry "
                           "(a different model, longer training).",
           "val_curves.png": "Validation accuracy during training (mean ± std over seeds).",
           "fast_confusion.png": "The fast net (first seed): test confusion matrix, rows normalised.",
           "fast_confident_errors.png": "The fast net's most confidently wrong test images.",
           "fast_filters.png": "The fast net's first-layer filters."}


def images_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).exists()]
    return Section(title, paragraphs=[*plan_text(run), budget_text(run), *ladder_text(run), published_text(run)],
                   tables=[table(run)], figures=figures, partial=True,
                   # the plan's own targets (VGG16 on CIFAR-10) beside the Fashion-MNIST ones
                   references=reference_rows("fashion_mnist", "cifar10"))


DATA_DIR = {"mnist": "MNIST/raw/ or the four IDX files", "cifar10": "cifar-10-batches-py/"}


def plan_text(run: dict) -> list:
    """What of the week's plan ran here and what did not, with the command that runs the rest. The
    study trains Fashion-MNIST only (Debian ships it; MNIST and CIFAR-10 are not on a fresh machine),
    so this is said before any number, and the badge reads "partly measured"."""
    plan = run["summary"].get("next_week") or {}

    def found(name):
        return (sentence("found at {p}, not trained by this study", p=plan[name]) if plan.get(name) else
                sentence("not found on this machine"))

    gpu = "this run had a GPU" if plan.get("cuda") else "this run had none"
    return [sentence(
        "What ran here: the four baselines below, on Fashion-MNIST only. What the week's plan names and this "
        "study did not run: «MNIST» ({m}; to run it: {mc}, DIR holding {md}); «CIFAR-10» ({c}; to run it: {cc}, "
        "DIR holding {cd}); «VGG16» on «CIFAR-10», which needs the set and a GPU (the recipe is written for one; "
        "{gpu}; to run it: {vc}). The convolution itself, LeNet against an AlexNet-style net, is measured "
        "under «Q1» above.",
        m=found("mnist"), mc=code("nnstudy train --recipe mnist-lenet5 --data-dir DIR"), md=DATA_DIR["mnist"],
        c=found("cifar10"), cc=code("nnstudy train --recipe cifar10-fast --data-dir DIR"), cd=DATA_DIR["cifar10"],
        gpu=gpu, vc=code("nnstudy train --recipe cifar10-vgg16 --data-dir DIR --device cuda"))]


def index(run: dict) -> dict[str, int]:
    return {r["key"]: i for i, r in enumerate(run["summary"]["rows"])}


def recipes_used(run: dict) -> bool:
    """full trains the conv nets with their recipes; quick and default train every model alike."""
    return run["summary"]["budget"]["epochs"] is None


def budget_text(run: dict):
    i, m = index(run)["fast"], index(run)["mlp"]
    how = (sentence("the conv nets with their recipes («fmnist-lenet5», fmnist-fast) for {ce} epochs, softmax "
                    "regression and the MLP with Adam for {me}.", ce=num(run, f"rows.{i}.config.epochs", "d"),
                    me=num(run, f"rows.{m}.config.epochs", "d"))
           if recipes_used(run) else
           sentence("all four the same way: Adam at a constant learning rate of {lr}, batches of {b}, no "
                    "augmentation, {e} epoch(s).", lr=num(run, f"rows.{i}.config.lr", "g"),
                    b=num(run, f"rows.{i}.config.batch_size", "d"), e=num(run, f"rows.{i}.config.epochs", "d")))
    return sentence("Every model was trained {n} times (seeds) on {train} Fashion-MNIST training images "
                    "({val} more held out for validation) and scored once on {test} test images; ",
                    n=num(run, f"rows.{i}.test_acc.n", "d"), train=num(run, f"rows.{i}.n_train", ",d"),
                    val=num(run, f"rows.{i}.n_val", ",d"), test=num(run, f"rows.{i}.n_test", ",d")) + how


def ladder_text(run: dict) -> list:
    ix = index(run)
    acc = {k: ms(run, f"rows.{i}.test_acc") for k, i in ix.items()}
    params = {k: num(run, f"rows.{i}.params", ",d") for k, i in ix.items()}
    kw = dict(more="above", less="below", same="level with", floor=FLOOR)
    first = sentence("Test accuracy: softmax regression {lo}, the MLP {mlp}, «LeNet-5» {le} and the fast conv net "
                     "{fast}.", lo=acc["logistic"], mlp=acc["mlp"], le=acc["lenet5"], fast=acc["fast"])
    conv = sentence("With {pf} parameters the fast net is {w1} the MLP ({d1}), which has {pm}; «LeNet-5», with "
                    "{pl}, is {w2} it ({d2}). The MLP is {w3} softmax regression ({d3}).",
                    pf=params["fast"], pm=params["mlp"], pl=params["lenet5"],
                    w1=compare(acc["fast"], acc["mlp"], **kw), d1=diff(acc["fast"], acc["mlp"]),
                    w2=compare(acc["lenet5"], acc["mlp"], **kw), d2=diff(acc["lenet5"], acc["mlp"]),
                    w3=compare(acc["mlp"], acc["logistic"], **kw), d3=diff(acc["mlp"], acc["logistic"]))
    gap = ms(run, f"rows.{ix['mlp']}.gap")
    fgap = ms(run, f"rows.{ix['fast']}.gap")
    fit = sentence("Train minus test accuracy is {g} for the MLP and {f} for the fast net" +
                   (", whose recipe augments its training images." if recipes_used(run) else "."), g=gap, f=fgap)
    return [first, conv, fit]


def published_text(run: dict):
    ix = index(run)
    mine = {k: ms(run, f"rows.{ix[k]}.test_acc") for k in REF_KEYS}
    refs = {k: ref_num(v) for k, v in REF_KEYS.items()}
    kw = dict(more="above", less="below", same="level with", floor=FLOOR)
    return sentence("Next to the nearest published numbers, each for a different model trained on the whole training "
                    "set, mostly for longer (so a gap says little about the architecture): the "
                    "zalandoresearch benchmark's {sm} scores {rm}, ours is {wm} it; its entry \u201c{sf}\u201d "
                    "scores {rf}, our fast net is {wf} it; in «d2l» (classic edition), {sl}, scores {rl}, our "
                    "«LeNet-5» with batch norm and ReLU is {wl} it.",
                    sm=ref(REF_KEYS["mlp"]).setup, sf=ref(REF_KEYS["fast"]).setup, sl=ref(REF_KEYS["lenet5"]).setup,
                    rm=refs["mlp"], wm=compare(mine["mlp"], refs["mlp"], **kw),
                    rf=refs["fast"], wf=compare(mine["fast"], refs["fast"], **kw),
                    rl=refs["lenet5"], wl=compare(mine["lenet5"], refs["lenet5"], **kw))


def table(run: dict) -> dict:
    rows = []
    for i, r in enumerate(run["summary"]["rows"]):
        ref = ref_num(REF_KEYS[r["key"]]) if r["key"] in REF_KEYS else ""
        rows.append([r["label"], num(run, f"rows.{i}.params", ",d"), ms(run, f"rows.{i}.train_acc"),
                     ms(run, f"rows.{i}.test_acc"), ms(run, f"rows.{i}.seconds", ".1f"), ref])
    return {"caption": "Fashion-MNIST, mean ± std over seeds; published: the nearest published entry, a different "
                       "model (see the published values for what each is)",
            "columns": ["model", "parameters", "train acc", "test acc", "training s per run",
                        "nearest published (other model)"],
            "rows": rows}
