"""The lenet-alexnet study's report section, computed from its stored summary only.

In order: the budget every model got; LeNet (as published and with modern parts) against AlexNet;
AlexNet with each of its ideas taken away (accuracy, the train-test gap for dropout, speed); what
each model costs per image; how soon each reaches the target; CIFAR when present. Directions come
from `compare` (seed noise as tolerance, at least FLOOR); names in sentences are words, so every
digit in a paragraph is a number with its evidence.
"""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, ratio, ref_num, sentence
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import ms_or
from nnstudy.verdicts import NOT_SETTLED, deciding, judge, outcome, settles

FLOOR = 0.01  # accuracy: a gap under one point is not called a difference
WORDS = {"lenet5": "classic LeNet", "lenet5-modern": "modern LeNet", "alexnet": "AlexNet",
         "alexnet-sigmoid": "AlexNet with sigmoid", "alexnet-tanh": "AlexNet with tanh",
         "alexnet-nodrop": "AlexNet without dropout", "alexnet-shallow": "AlexNet with three conv layers"}
IDEAS = {"alexnet-sigmoid": "ReLU over sigmoid", "alexnet-tanh": "ReLU over tanh", "alexnet-nodrop": "dropout",
         "alexnet-shallow": "depth (five conv layers over three)"}
SPEED_TOL = 0.2  # speed ratios within 20% of 1 are "about the same": timings on a shared CPU are noisy
FIGURES = {"accuracy.png": "Held-out and training accuracy per model, mean ± std over seeds (d2l's LeNet, ten "
                           "epochs, as a marker).",
           "curves.png": "Validation accuracy against training images seen, mean ± std over seeds.",
           "ablations.png": "AlexNet with one idea taken away: accuracy lost and relative training speed.",
           "speed.png": "Training and inference images per second (measured side by side) and multiply-adds per "
                        "image.",
           "cifar.png": "The three main models on CIFAR-10."}


def lenet_alexnet_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    paras = [setup(run), comparison(run), *ablations(run), cost(run), target(run), cifar(run)]
    tables = [model_table(run, "fashion")] + ([model_table(run, "cifar")] if run["summary"]["cifar"] else [])
    return Section(title, paragraphs=paras, tables=tables, figures=figures)


def at(run: dict, key: str, part: str = "fashion") -> int:
    return next(i for i, r in enumerate(run["summary"][part]) if r["key"] == key)


def acc(run: dict, key: str, part: str = "fashion"):
    return ms(run, f"{part}.{at(run, key, part)}.test_acc")


def setup(run: dict):
    i = at(run, "alexnet")
    return sentence(
        "Every model saw the same {n} Fashion-MNIST training images (after {v} of the subset was held out for "
        "validation) in batches of {bs}, for {ep} epoch(s), with Adam at learning rate {lr}, and was scored on "
        "the same {t} test images; mean ± std over {k} seeds. On a CPU this budget shows how fast each model "
        "starts to learn, not where it ends.", n=num(run, f"fashion.{i}.images.train", ",d"),
        v=num(run, "settings.val_frac", ".0%"), bs=num(run, "settings.batch", "d"),
        ep=num(run, "settings.epochs", "d"), lr=num(run, "settings.lr", "g"),
        t=num(run, f"fashion.{i}.images.test", ",d"), k=num(run, f"fashion.{i}.test_acc.n", "d"))


def comparison(run: dict):
    lc, lm, ax = acc(run, "lenet5"), acc(run, "lenet5-modern"), acc(run, "alexnet")
    kw = dict(more="ahead of", less="behind", same="level with", floor=FLOOR)
    return sentence(
        "LeNet as Dive into Deep Learning teaches it (sigmoid, average pooling; LeCun et al.'s original used "
        "scaled tanh, trainable subsampling and RBF outputs) reaches {lc}; the same layers with ReLU, max pooling and "
        "batch norm reach {lm}; the AlexNet-style small net reaches {ax}. It is {w1} classic LeNet ({d1}) and "
        "{w2} modern LeNet ({d2}). For scale: Dive into Deep Learning's classic LeNet reaches {ref} after ten "
        "epochs of the full set.",
        lc=lc, lm=lm, ax=ax, w1=compare(ax, lc, **kw), d1=diff(ax, lc), w2=compare(ax, lm, **kw), d2=diff(ax, lm),
        ref=ref_num("fashion_mnist.d2l_lenet"))


def ablations(run: dict) -> list:
    s = run["summary"]
    ax = acc(run, "alexnet")
    fast = num(run, "speed.alexnet.train_img_per_s", ".0f")
    out, bought = [], []
    for a in s["ablations"]:
        k = a["key"]
        mine = acc(run, k)
        w = compare(ax, mine, more="buys accuracy", less="costs accuracy", same="makes no difference beyond seed "
                    "noise", floor=FLOOR)
        bought.append((w, k, diff(ax, mine)))
        out.append(sentence("{name} reaches {a}: {idea} {w} ({d}), and the changed net trains at {r} times "
                            "AlexNet's images per second.", name=WORDS[k], a=mine, idea=IDEAS[k], w=w,
                            d=diff(ax, mine), r=ratio(num(run, f"speed.{k}.train_img_per_s", ".0f"), fast)))
    i, j = at(run, "alexnet"), at(run, "alexnet-nodrop")
    g, gn = ms(run, f"fashion.{i}.gap"), ms(run, f"fashion.{j}.gap")
    out.append(sentence("Dropout is there for the gap between training and test accuracy: {g} with it, {gn} "
                        "without, so at this budget dropout {w} the gap.", g=g, gn=gn,
                        w=compare(g, gn, more="widens", less="narrows", same="does not change", floor=FLOOR)))
    helps = [b for b in bought if b[0].sign == 1]
    if helps:
        top = max(helps, key=lambda b: b[2].value if b[2].value is not None else -1)
        out.append(sentence("Of the ideas the week names, the one that buys the most accuracy here is {idea} ({d}).",
                            idea=IDEAS[top[1]], d=top[2]))
    else:
        out.append("None of the ideas the week names buys accuracy beyond seed noise at this budget.")
    return out


def cost(run: dict):
    m = lambda k: num(run, f"speed.{k}.macs", ",d")
    v = lambda k: num(run, f"speed.{k}.train_img_per_s", ".0f")
    rel = {k: ratio(v(k), v("alexnet")) for k in ("alexnet-sigmoid", "alexnet-tanh")}
    one = ratio(v("alexnet"), v("alexnet"))  # 1, as a checkable number
    w = {k: compare(r, one, more="faster", less="slower", same="about as fast", tol=SPEED_TOL) for k, r in rel.items()}
    same = all(x.sign == 0 for x in w.values())
    return sentence(
        "Per image AlexNet does {ma} multiply-adds against classic LeNet's {ml} ({x} times as many) and trains at "
        "{va} images per second against {vl} (measured side by side, {th} CPU thread(s)). {lead}: with sigmoid "
        "AlexNet trains at {vs} images per second ({ws}), with tanh at {vt} ({wt}).",
        ma=m("alexnet"), ml=m("lenet5"), x=ratio(m("alexnet"), m("lenet5"), ".0f"), va=v("alexnet"),
        vl=v("lenet5"), th=num(run, "settings.threads", "d"), vs=v("alexnet-sigmoid"), vt=v("alexnet-tanh"),
        ws=w["alexnet-sigmoid"], wt=w["alexnet-tanh"],
        lead="The activation is not where the time goes" if same else "Swapping the activation changes the speed")


def target(run: dict):
    parts = []
    for i, r in enumerate(run["summary"]["fashion"]):
        got = sentence("{name}: {k} of {n}", name=WORDS[r["key"]], k=num(run, f"fashion.{i}.reached", "d"),
                       n=num(run, f"fashion.{i}.n", "d"))
        if r["reached"]:
            got += sentence(" after {img} images", img=ms(run, f"fashion.{i}.images_to_target", ".0f"))
        parts.append(got)
    return (sentence("Runs whose validation accuracy reached {t}: ", t=num(run, "val_acc_target", "g"))
            + join(parts, "; ") + ".")


def cifar(run: dict):
    s = run["summary"]
    if not s["cifar"]:
        return ("The CIFAR set (ten classes of small colour photographs) was not found on this machine, so the "
                "comparison on it is skipped; with the set in place the study trains the three main models on it "
                "too.")
    return sentence("On CIFAR (colour photographs) with the same budget: classic LeNet {a}, modern LeNet {b}, "
                    "AlexNet {c}.", a=acc(run, "lenet5", "cifar"), b=acc(run, "lenet5-modern", "cifar"),
                    c=acc(run, "alexnet", "cifar"))


def model_table(run: dict, part: str) -> dict:
    s = run["summary"]
    rows = []
    for i, r in enumerate(s[part]):
        p = f"{part}.{i}"
        speed = [num(run, f"speed.{r['key']}.macs", ",d"), num(run, f"speed.{r['key']}.train_img_per_s", ".0f")] \
            if part == "fashion" else ["", ""]
        rows.append([r["label"], num(run, f"{p}.params", ",d"), *speed, ms(run, f"{p}.test_acc"),
                     ms(run, f"{p}.train_acc"), ms(run, f"{p}.gap"),
                     sentence("{k} / {n}", k=num(run, f"{p}.reached", "d"), n=num(run, f"{p}.n", "d")),
                     ms_or(run, f"{p}.images_to_target", ".0f", missing="–")])
    name = "Fashion-MNIST" if part == "fashion" else "CIFAR-10"
    return {"caption": f"{name}: same optimizer, batch and images for every model (ours, mean ± std over seeds)",
            "columns": ["model", "parameters", "multiply-adds / image", "train images / s", "held-out acc",
                        "train acc", "train - test gap", "reached target (val)", "images to target (val)"],
            "rows": rows}


IDEA_WORDS = {"higher": "buys accuracy", "lower": "costs accuracy", "same": "makes no difference",
              "unclear": "is unclear with {n} seeds", "unsettled": "is not settled ({how})",
              "chance": "cannot be judged (both nets at chance)", "ceiling": "cannot be judged (both at the ceiling)"}


def answer(store, run: dict) -> Answer:
    """The week's claim has two parts: AlexNet beats LeNet, and it does so because of depth, ReLU
    and dropout. The deciding number is the first part, AlexNet minus LeNet-5 (the classic
    variant: sigmoid, average pooling) in held-out Fashion-MNIST accuracy, paired by seed: it is
    what the week's "why" explains, and without it there is nothing to explain. The second part
    is read from the ablations (AlexNet minus AlexNet with one idea taken away), each through the
    same rules: supported when AlexNet wins and every named idea buys accuracy; partly supported
    when AlexNet wins but some idea does not or is not settled; not supported when AlexNet does
    not win (level or behind)."""
    cmd = settles("lenet-alexnet", run)
    ax = f"fashion.{at(run, 'alexnet')}"
    v = judge(store, run, ax, f"fashion.{at(run, 'lenet5')}", classes=10, settle=cmd,
              words=outcome("AlexNet ahead", "LeNet ahead"))
    ideas = {a["key"]: judge(store, run, ax, f"fashion.{at(run, a['key'])}", classes=10, settle=cmd,
                             words=IDEA_WORDS) for a in run["summary"]["ablations"]}
    if v.sign is None:
        verdict = NOT_SETTLED
    elif v.sign != 1:
        verdict = "not supported"
    else:
        verdict = "supported" if all(i.kind == "higher" for i in ideas.values()) else "partly supported"
    why = sentence("AlexNet against classic LeNet, held-out accuracy: {w}. With one idea taken away: ", w=v.word)
    why += join(sentence("{idea} {w}", idea=IDEAS[k], w=i.word) for k, i in ideas.items()) + "."
    return Answer(verdict, deciding(v), "AlexNet-style small net minus d2l's LeNet-5, held-out Fashion-MNIST "
                  "accuracy", why, figure=store.run_dir(run["id"]) / "accuracy.png")
