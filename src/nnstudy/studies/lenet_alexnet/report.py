"""The lenet-alexnet study's report section, computed from its stored summary only.

In order: the budget every model got and whether its curves had flattened; what the two nets are
(d2l's LeNet against LeCun et al. 1998's LeNet-5, the AlexNet-style net against the 2012 net);
LeNet against AlexNet; AlexNet with each of its ideas taken away; ReLU against tanh measured as
Krizhevsky et al. 2012 measured it (updates to 25% training error); what each model costs; CIFAR
when present. Every direction between two variants' accuracies comes from `verdicts.judge`, the
rules the answer sheet uses, so the section and the sheet cannot disagree; speeds and gaps use
`compare` (seed noise as tolerance). Names in sentences are words, so every digit in a paragraph is
a number with its evidence.
"""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, ratio, ref_num, sentence
from nnstudy.references import rows as reference_rows
from nnstudy.studies import Answer, Section
from nnstudy.studies.shared import ms_or
from nnstudy.verdicts import NOT_SETTLED, curve_delta, deciding, judge, mean_interval, outcome, settles, stated

WORDS = {"lenet5": "classic LeNet", "lenet5-modern": "modern LeNet", "alexnet": "AlexNet",
         "alexnet-sigmoid": "AlexNet with sigmoid", "alexnet-tanh": "AlexNet with tanh",
         "alexnet-nodrop": "AlexNet without dropout", "alexnet-shallow": "AlexNet with three conv layers",
         "relu-sgd": "ReLU with SGD", "tanh-sgd": "tanh with SGD"}
IDEAS = {"alexnet-sigmoid": "ReLU over sigmoid", "alexnet-tanh": "ReLU over tanh", "alexnet-nodrop": "dropout",
         "alexnet-shallow": "depth (five conv layers over three)"}
SPEED_TOL = 0.2  # speed ratios within 20% of 1 are "about the same": timings on a shared CPU are noisy
FIGURES = {"accuracy.png": "Accuracy figure. Held-out and training accuracy per model, mean ± std over seeds "
                           "(d2l's LeNet, ten epochs of the full set, as a marker).",
           "curves.png": "Curves figure. Validation accuracy against training images seen, mean ± std over seeds; the "
                         "LeNets train for more images than the AlexNets (see the budget).",
           "relu_tanh.png": "ReLU-tanh figure. Running training error (mean over the last batches) against "
                            "updates, ReLU and tanh AlexNet, with Adam and with SGD + momentum; the dashed line "
                            "is the 25% training error Krizhevsky et al. timed.",
           "ablations.png": "Ablation figure. AlexNet with one idea taken away: accuracy lost and relative "
                            "training speed.",
           "speed.png": "Cost figure. Training and inference images per second (measured side by side) and "
                        "multiply-adds per image.",
           "cifar.png": "CIFAR figure. The three main models on CIFAR-10."}
IDEA_WORDS = {"higher": "buys accuracy", "lower": "costs accuracy", "same": "makes no difference",
              "unclear": "is unclear with {n} seeds", "unsettled": "is not settled ({how})",
              "chance": "cannot be judged (both nets at chance)", "ceiling": "cannot be judged (both at the ceiling)"}


def lenet_alexnet_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    paras = [setup(run), settled(store, run), *nets(run), comparison(store, run), *ablations(store, run),
             *relu_tanh(run), cost(run), target(run), cifar(run)]
    tables = [model_table(run, "fashion")] + ([model_table(run, "sgd")] if run["summary"].get("sgd") else []) \
        + ([model_table(run, "cifar")] if run["summary"]["cifar"] else [])
    refs = reference_rows("lenet_alexnet", "fashion_mnist", "cifar10")
    return Section(title, paragraphs=[p for p in paras if p], tables=tables, figures=figures, references=refs)


def at(run: dict, key: str, part: str = "fashion") -> int:
    return next(i for i, r in enumerate(run["summary"][part]) if r["key"] == key)


def acc(run: dict, key: str, part: str = "fashion"):
    return ms(run, f"{part}.{at(run, key, part)}.test_acc")


def verdict(store, run: dict, a: str, b: str, words: dict | None = None):
    """The rules' verdict on variant a against b (held-out accuracy, paired by seed): the answer
    sheet's own call, so the section says what the sheet says."""
    return judge(store, run, f"fashion.{at(run, a)}", f"fashion.{at(run, b)}", classes=10,
                 settle=settles("lenet-alexnet", run), words=words)


def setup(run: dict):
    i, j = at(run, "alexnet"), at(run, "lenet5")
    more = run["summary"]["fashion"][j]["epochs"] > run["summary"]["fashion"][i]["epochs"]
    why = (", so that their curves too have flattened: a lead of AlexNet over them is not a lead in data" if more
           else "")
    return sentence(
        "Budget: every model trained on the same {n} Fashion-MNIST training images ({v} of the subset held out "
        "for validation) in batches of {bs}, with Adam at a peak learning rate of {lr} annealed to zero by a cosine "
        "schedule, and was scored on the same {t} test images; mean ± std over {k} seeds; the study took {sec} s "
        "on this machine. AlexNet and its variants trained for {ep} epoch(s) ({ia} images, {ua} updates); the two "
        "LeNets, about {x} times cheaper per image, for {lep} epoch(s) ({il} images){why}.", why=why,
        n=num(run, f"fashion.{i}.images.train", ",d"), v=num(run, "settings.val_frac", ".0%"),
        bs=num(run, "settings.batch", "d"), lr=num(run, "settings.lr", "g"),
        t=num(run, f"fashion.{i}.images.test", ",d"), k=num(run, f"fashion.{i}.test_acc.n", "d"),
        sec=num(run, "seconds", ".0f"), ep=num(run, f"fashion.{i}.epochs", "d"),
        ia=num(run, f"fashion.{i}.images_seen", ",d"), ua=num(run, f"fashion.{i}.steps", ",d"),
        x=ratio(num(run, "speed.alexnet.macs", ",d"), num(run, "speed.lenet5.macs", ",d"), ".0f"),
        lep=num(run, f"fashion.{j}.epochs", "d"), il=num(run, f"fashion.{j}.images_seen", ",d"))


def settled(store, run: dict):
    """Whether each model's held-out curve had flattened by the end (verdicts.py's convergence rule)."""
    moving = []
    for r in run["summary"]["fashion"]:
        d = curve_delta(store, r)
        if d is not None and d.value is not None and abs(d.value) >= stated("settled").value:
            moving.append(sentence("{name} ({d})", name=WORDS[r["key"]], d=d))
    if not moving:
        return sentence("Every model's validation accuracy, averaged over seeds, moved by less than {tol} over the "
                        "last fifth of its training: converged at this budget, which the annealed learning rate "
                        "forces; what the nets could reach with more data or epochs is a question for {cmd}.",
                        tol=stated("settled", ".2f"), cmd=settles("lenet-alexnet", run))
    return (sentence("Still moving over the last fifth of training (validation accuracy, mean over seeds; the rule "
                     "allows under {tol}): ", tol=stated("settled", ".2f")) + join(moving)
            + sentence(". Comparisons involving them are not settled at this budget; {cmd} settles them.",
                       cmd=settles("lenet-alexnet", run)))


def nets(run: dict) -> list:
    """Item 1 of issue 18: every variant named by what it is; numbers from the built nets or references."""
    a, le = "architecture.alexnet", "architecture.lenet5"
    ch = lambda path, k: join((num(run, f"{path}.channels.{i}", "d") for i in range(k)), "-", "-")
    fc = lambda path: join((num(run, f"{path}.fc.{i}", "d") for i in range(3)), "-", "-")
    r = lambda k: ref_num(f"alexnet2012.{k}")
    lenet = sentence(
        "The classic LeNet here is Dive into Deep Learning's variant: {lk} convolutions ({lc} channels, sigmoid, "
        "average pooling) and fully connected layers of {lf} units, {lp} parameters. LeCun et al.'s original "
        "differs: scaled tanh units, trainable subsampling, a sparse connection table in its second convolution "
        "and RBF output units; it "
        "reached {e1} test error on MNIST digits without distortions and {e2} with them (published values, table "
        "below): digits, not the clothing photographs used here. The modern LeNet keeps those layers and adds "
        "ReLU, max pooling and batch norm.", lk=num(run, f"{le}.convs", "d"), lc=ch(le, 2), lf=fc(le),
        lp=num(run, f"{le}.params", ",d"),
        e1=ref_num("lenet_alexnet.lecun_lenet5"), e2=ref_num("lenet_alexnet.lecun_lenet5_distorted"))
    alex = sentence(
        "The AlexNet here is AlexNet-style, scaled down: Krizhevsky, Sutskever and Hinton's net read {px}-pixel "
        "ImageNet photographs with {c} convolutions of {k1}-{k2}-{k3}-{k4}-{k5} channels (the first at a stride of "
        "{s1} pixels) and {f} fully connected layers of {f1}-{f2}-{f3} units, about {pm} million parameters, with "
        "local "
        "response normalisation, overlapping max pooling and dropout. This net keeps the {ac} convolutions, ReLU, "
        "overlapping max pooling ({pk} by {pk}, stride {ps}) and dropout ({dp}) on its fully connected layers, and "
        "scales the rest to {ip}-pixel grayscale images: {ach} channels, kernels of {k} pixels at stride {st}, fully "
        "connected layers of {af} units: {ap} parameters. Why smaller: a {ip}-pixel image has no room for a "
        "large-stride first layer and the poolings of a {px}-pixel net, sixty thousand images do not feed tens of "
        "millions of weights, and a CPU has to train it in minutes; local response normalisation (later work "
        "found it adds little) and the two-GPU split are left "
        "out.", px=r("input_px"), c=r("convs"), k1=r("conv1"), k2=r("conv2"), k3=r("conv3"), k4=r("conv4"),
        k5=r("conv5"), s1=r("conv1_stride"), f=r("fcs"), f1=r("fc1"), f2=r("fc2"), f3=r("classes"),
        pm=r("params_million"),
        ac=num(run, f"{a}.convs", "d"), pk=num(run, f"{a}.pool.0", "d"), ps=num(run, f"{a}.pool.1", "d"),
        dp=num(run, f"{a}.dropout", "g"), ip=num(run, f"{a}.input.1", "d"), ach=ch(a, 5),
        k=join((num(run, f"{a}.kernels.{i}", "d") for i in range(5)), "-", "-"), st=num(run, f"{a}.stride", "d"),
        af=fc(a), ap=num(run, f"{a}.params", ",d"))
    return [lenet, alex]


def comparison(store, run: dict):
    lc, lm, ax = acc(run, "lenet5"), acc(run, "lenet5-modern"), acc(run, "alexnet")
    vc = verdict(store, run, "alexnet", "lenet5", outcome("AlexNet ahead", "LeNet ahead"))
    vm = verdict(store, run, "alexnet", "lenet5-modern", outcome("AlexNet ahead", "modern LeNet ahead"))
    return sentence(
        "Held-out accuracy (accuracy figure): classic LeNet {lc}, modern LeNet {lm}, the AlexNet-style net {ax}. "
        "AlexNet against classic LeNet: {w1} ({i1}); against modern LeNet: {w2} ({i2}). For scale: Dive into Deep "
        "Learning's classic LeNet reaches {ref} after ten epochs of the full set.", lc=lc, lm=lm, ax=ax,
        w1=vc.word, i1=vc.interval() if vc.diff is not None else diff(ax, lc), w2=vm.word,
        i2=vm.interval() if vm.diff is not None else diff(ax, lm), ref=ref_num("fashion_mnist.d2l_lenet"))


def ablations(store, run: dict) -> list:
    s = run["summary"]
    fast = num(run, "speed.alexnet.train_img_per_s", ".0f")
    out, bought = [], []
    for a in s["ablations"]:
        k = a["key"]
        v = verdict(store, run, "alexnet", k, IDEA_WORDS)
        bought.append((v, k))
        out.append(sentence("{name} reaches {a}: {idea} {w} ({d}), and the changed net trains at {r} times "
                            "AlexNet's images per second.", name=WORDS[k], a=acc(run, k), idea=IDEAS[k], w=v.word,
                            d=v.interval() if v.diff is not None else diff(acc(run, "alexnet"), acc(run, k)),
                            r=ratio(num(run, f"speed.{k}.train_img_per_s", ".0f"), fast)))
    i, j = at(run, "alexnet"), at(run, "alexnet-nodrop")
    g, gn = ms(run, f"fashion.{i}.gap"), ms(run, f"fashion.{j}.gap")
    out.append(sentence("Dropout is there for the gap between training and test accuracy: {g} with it, {gn} "
                        "without, so at this budget dropout {w} the gap (beyond seed noise).", g=g, gn=gn,
                        w=compare(g, gn, more="widens", less="narrows", same="does not change", floor=0.01,
                                  unclear="may widen or narrow")))
    helps = [b for b in bought if b[0].kind == "higher"]
    if helps:
        top = max(helps, key=lambda b: b[0].diff.value)
        out.append(sentence("Of the ideas the week names, the one that buys the most accuracy here is {idea} ({d}).",
                            idea=IDEAS[top[1]], d=top[0].diff))
    else:
        out.append("None of the ideas the week names buys accuracy by the rules at this budget.")
    return out


def got_there(run: dict, part: str, i: int, opt: str, name: str):
    """'ReLU got there after 310 ± 40 updates (3 of 3 seeds)', or 'never got there (0 of 3 seeds)'."""
    k, n = num(run, f"{part}.{i}.train_err_reached", "d"), num(run, f"relu_tanh.{opt}.of", "d")
    if run["summary"][part][i]["updates_to_err_target"]["mean"] is None:
        return sentence("{name} never got there ({k} of {n} seeds)", name=name, k=k, n=n)
    return sentence("{name} got there after {u} updates ({k} of {n} seeds)", name=name, k=k, n=n,
                    u=ms(run, f"{part}.{i}.updates_to_err_target", ".0f"))


def relu_tanh(run: dict) -> list:
    """Issue 18 item 4: the paper's quantity (updates to 25% training error), beside its six times."""
    s = run["summary"]
    rt = s.get("relu_tanh", {})
    six, err = ref_num("lenet_alexnet.krizhevsky_relu_tanh"), ref_num("lenet_alexnet.krizhevsky_train_err")
    out = [sentence(
        "ReLU against tanh, measured as Krizhevsky et al. measured it (the caption of their first figure, quoted "
        "in the table "
        "of published values): a four-layer convolutional net with ReLUs reached {e} training error on CIFAR "
        "{six} times faster than the same net with tanh units, each at its own best learning rate, without "
        "regularization. What follows is not a replication of that experiment: here one learning rate serves both "
        "nets, the init is PyTorch's default (they gave most ReLU layers positive biases), the Adam arm keeps "
        "dropout, and the target sits near where both nets end at this budget, so the crossing times are noisy. "
        "The running training error is the mean error of the last {w} training batches "
        "({img} images) as they were trained, dropout on where the net has it (ReLU-tanh figure); the target is {t}.",
        e=err, six=six, w=num(run, "settings.window", "d"), img=num(run, "settings.running", ",d"),
        t=num(run, "train_err_target", ".0%"))]
    for opt, part, how in (("adam", "fashion", "With Adam (the main runs, dropout on)"),
                           ("sgd", "sgd", "With SGD + momentum, the paper's optimizer, one learning rate for both "
                                          "and no dropout")):
        if opt not in rt:
            continue
        r, t = at(run, rt[opt]["relu"], part), at(run, rt[opt]["tanh"], part)
        got = sentence("{how}: {a}, {b}; ", how=how, a=got_there(run, part, r, opt, "ReLU"),
                       b=got_there(run, part, t, opt, "tanh"))
        if rt[opt]["updates_ratio"]["mean"] is None:
            out.append(got + "no seed reached it with both, so there is no ratio.")
            continue
        m, lo, hi, n = mean_interval(run, f"relu_tanh.{opt}.updates_ratio", ".2f")
        word = compare(ms(run, f"relu_tanh.{opt}.updates_ratio", ".2f"), six, more="more than", less="less than",
                       same="close to")
        spread = sentence(" ({lvl} interval {lo} to {hi} over {n} seeds where both did)", lvl=stated("level", ".0%"),
                          lo=lo, hi=hi, n=n) if rt[opt]["both"] > 1 else sentence(" (one seed)")
        out.append(got + sentence(
            "tanh took {m} times as many updates as ReLU{spread}, {w} the paper's {six} (judged against the seeds' "
            "spread); in seconds of training, {sec} times.", m=m, spread=spread, w=word, six=six,
            sec=ms(run, f"relu_tanh.{opt}.seconds_ratio", ".2f")))
    bounds = {o: mean_interval(run, f"relu_tanh.{o}.updates_ratio", ".2f")[1:3] for o in rt
              if rt[o]["both"] > 1}  # (lo, hi) of each optimizer's ratio: which activation got there first
    if not bounds:
        return out
    names = {"adam": "Adam", "sgd": "SGD"}
    tanh_first = [names[o] for o, (lo, hi) in bounds.items() if hi.value is not None and hi.value < 1]
    relu_first = [names[o] for o, (lo, hi) in bounds.items() if lo.value is not None and lo.value > 1]
    if tanh_first:
        lead = sentence("With {o}, tanh reached the target sooner than ReLU (the ratio's interval lies below one): "
                        "the opposite of the paper.", o=join(tanh_first))
    elif relu_first:
        lead = sentence("With {o}, ReLU reached the target sooner (the ratio's interval lies above one), as in "
                        "the paper.", o=join(relu_first))
    else:
        lead = sentence("Neither activation reached the target clearly sooner (every ratio's interval holds one), "
                        "so the paper's lead for ReLU is not seen here.")
    same_opt = False
    if {"adam", "sgd"} <= set(bounds):
        w = compare(ms(run, "relu_tanh.sgd.updates_ratio", ".2f"), ms(run, "relu_tanh.adam.updates_ratio", ".2f"),
                    more="larger than", less="smaller than", same="about the same as")
        same_opt = w.sign == 0
        lead += sentence(" The ratio with SGD is {w} the ratio with Adam (judged against the seeds' spread){so}.", w=w,
                         so=", so the optimizer does not explain the gap to the paper" if same_opt else "")
    adam = "" if same_opt else ("; Adam rescales every weight's step by its own gradient history, which offsets the "
                                "smaller gradients through saturated tanh units")
    out.append(lead + sentence(
        " Possible reasons, not measured one by one here: both nets start from PyTorch's default "
        "initialisation, whose small weights shrink the signal from layer to layer, more through ReLUs (which "
        "zero half their inputs) than through tanh (close to linear near zero), so a deep ReLU net can sit near "
        "chance for its first updates (ReLU-tanh figure), while Krizhevsky et al. gave most of their ReLU layers "
        "positive biases because that \u201caccelerates the early stages of learning by providing the ReLUs with "
        "positive inputs\u201d; Fashion-MNIST is easier than CIFAR, so {e} error comes within a few hundred "
        "updates, before many tanh units saturate; the paper tuned a learning rate for each net, here one rate "
        "serves both{adam}; and the paper's net had four layers, this one {c} convolutions and {f} fully "
        "connected layers.", e=err, adam=adam, c=num(run, "architecture.alexnet.convs", "d"),
        f=num(run, "architecture.alexnet.fc_layers", "d")))
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
        "{va} images per second against {vl} (measured side by side, {th} CPU thread(s), on a machine shared with "
        "other work: timings are noisy; cost figure). {lead}: with sigmoid AlexNet trains at {vs} images per second "
        "({ws}), with tanh at {vt} ({wt}).",
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
    return (sentence("Runs whose validation accuracy reached {t} (curves figure): ", t=num(run, "val_acc_target", "g"))
            + join(parts, "; ") + ".")


def cifar(run: dict):
    s = run["summary"]
    if not s["cifar"]:
        return ("The CIFAR set (ten classes of small colour photographs) was not found on this machine, so the "
                "comparison on it is skipped; with the set in place the study trains the three main models on it "
                "too.")
    return sentence("On CIFAR (colour photographs) with the same budget (CIFAR figure): classic LeNet {a}, modern "
                    "LeNet {b}, AlexNet {c}.", a=acc(run, "lenet5", "cifar"), b=acc(run, "lenet5-modern", "cifar"),
                    c=acc(run, "alexnet", "cifar"))


def model_table(run: dict, part: str) -> dict:
    s = run["summary"]
    rows = []
    for i, r in enumerate(s[part]):
        p = f"{part}.{i}"
        speed = [num(run, f"speed.{r['key']}.macs", ",d"), num(run, f"speed.{r['key']}.train_img_per_s", ".0f")] \
            if part == "fashion" else ["", ""]
        err = [ms_or(run, f"{p}.updates_to_err_target", ".0f", missing="–")] if "updates_to_err_target" in r else [""]
        rows.append([r["label"], num(run, f"{p}.params", ",d"), *speed, ms(run, f"{p}.test_acc"),
                     ms(run, f"{p}.train_acc"), ms(run, f"{p}.gap"),
                     *(["", ""] if part == "sgd" else  # two held-out evaluations: no curve to time
                       [sentence("{k} / {n}", k=num(run, f"{p}.reached", "d"), n=num(run, f"{p}.n", "d")),
                        ms_or(run, f"{p}.images_to_target", ".0f", missing="–")]), *err])
    name = {"fashion": "Fashion-MNIST", "sgd": "Fashion-MNIST, SGD + momentum, no dropout",
            "cifar": "CIFAR-10"}[part]
    return {"caption": f"{name}: same optimizer, batch and images for every model of the table (ours, mean ± std "
                       "over seeds)",
            "columns": ["model", "parameters", "multiply-adds / image", "train images / s", "held-out acc",
                        "train acc", "train - test gap", "reached target (val)", "images to target (val)",
                        "updates to the training-error target"],
            "rows": rows}


def answer(store, run: dict) -> Answer:
    """The week's claim has two parts: AlexNet beats LeNet, and it does so because of depth, ReLU
    and dropout. The deciding number is the first part, AlexNet minus LeNet-5 (the classic
    variant: sigmoid, average pooling) in held-out Fashion-MNIST accuracy, paired by seed: it is
    what the week's "why" explains, and without it there is nothing to explain. The second part
    is read from the ablations (AlexNet minus AlexNet with one idea taken away), each through the
    same rules: supported when AlexNet wins, over modern LeNet too where it was trained, and every
    named idea buys accuracy; partly supported when AlexNet wins over classic LeNet but loses or
    ties with modern LeNet, or some idea does not buy accuracy or is not settled; not supported
    when AlexNet does not win over classic LeNet (level or behind)."""
    v = verdict(store, run, "alexnet", "lenet5", outcome("AlexNet ahead", "LeNet ahead"))
    ideas = {a["key"]: verdict(store, run, "alexnet", a["key"], IDEA_WORDS) for a in run["summary"]["ablations"]}
    modern = None  # LeNet's own layers with ReLU, max pooling and batch norm: a win over it is part of "beats LeNet"
    if any(r["key"] == "lenet5-modern" for r in run["summary"]["fashion"]):
        modern = verdict(store, run, "alexnet", "lenet5-modern", outcome("AlexNet ahead", "modern LeNet ahead"))
    if v.sign is None:
        verdict_word = NOT_SETTLED
    elif v.sign != 1:
        verdict_word = "not supported"
    else:
        all_ideas = all(i.kind == "higher" for i in ideas.values())
        verdict_word = "supported" if all_ideas and (modern is None or modern.sign == 1) else "partly supported"
    why = sentence("AlexNet against classic LeNet, held-out accuracy at this budget: {w}", w=v.word)
    if modern is not None:
        why += sentence("; against modern LeNet: {w}", w=modern.word)
    why += sentence(". With one idea taken away: ")
    why += join(sentence("{idea} {w}", idea=IDEAS[k], w=i.word) for k, i in ideas.items()) + "."
    why += sentence(" What made AlexNet win on ImageNet at scale (its data, GPUs, augmentation) cannot be "
                    "tested on small Fashion-MNIST subsets; the runs end on a learning rate annealed to zero, so "
                    "\u201cat this budget\u201d, not at the nets' best.")
    number = deciding(v)
    if modern is not None:  # the comparison that goes the other way belongs beside the one that decides
        number += sentence("; against modern LeNet: ") + deciding(modern)
    return Answer(verdict_word, number, "AlexNet-style small net minus d2l's LeNet-5, held-out Fashion-MNIST "
                  "accuracy", why, figure=store.run_dir(run["id"]) / "accuracy.png")
