"""The autoencoder study's report section, computed from its stored summary only.

In order: what was trained; under- vs over-complete reconstruction, with PCA as the linear
optimum beside it; what denoising training buys on corrupted images; what a linear probe reads
from each code; the two-unit map against PCA's plane. Directions come from `compare`, with seed
noise (the stds) as tolerance and a floor below which a gap is not called a difference.
"""

from __future__ import annotations

from nnstudy.evidence import compare, join, ms, num, sentence
from nnstudy.studies import Section

MSE_FLOOR = 0.0005  # squared error per pixel: smaller gaps are not called differences
ACC_FLOOR = 0.01  # probe accuracy
FIGURES = {"reconstructions.png": "Test images, each variant's reconstruction (first seed), then the same from "
                                  "masked images.",
           "filters.png": "First-layer filters, up to 64 units of each code (all of a small code, the first 64 of "
                          "a large one): what each unit responds to.",
           "codes_2d.png": "Test images mapped by the two-unit code and by PCA's first two components.",
           "curves.png": "Held-out reconstruction error during training, mean ± std over seeds."}


def pca(run, k: int):
    """mean ± std of PCA's test error with k components."""
    i = next(j for j, b in enumerate(run["summary"]["baselines"]["pca"]) if b["k"] == k)
    return ms(run, f"baselines.pca.{i}.test_mse", ".4f")


def variant(run, i: int):
    """A variant's name with its numbers as evidence: 'over-complete (1024), masking 25%'."""
    v = run["summary"]["variants"][i]
    code = sentence("{kind}-complete ({c})", kind="under" if v["code"] < 784 else "over",
                    c=num(run, f"variants.{i}.code", "d"))
    if v["noise"] == "none":
        return code + ", plain"
    level = num(run, f"variants.{i}.level", ".0%" if v["noise"] == "mask" else "g")
    return code + sentence(", masking {x}" if v["noise"] == "mask" else ", Gaussian σ = {x}", x=level)


def lower(a, b, floor=MSE_FLOOR):
    return compare(a, b, more="higher than", less="lower than", same="level with", floor=floor)


def autoencoder_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    idx = {(v["code"], v["noise"]): i for i, v in enumerate(run["summary"]["variants"])}
    paras = [setup(run), reconstruction(run, idx), *denoising(run, idx), probe(run, idx), code_map(run)]
    return Section(title, paragraphs=paras, tables=[table(run)], figures=figures)


def setup(run):
    s = run["summary"]["settings"]
    return sentence("One-hidden-layer sigmoid autoencoders were trained on {n} Fashion-MNIST training images for "
                    "{steps} steps (Adam, learning rate {lr}, batches of {bs}), with a code of {u} units "
                    "(under-complete) or {o} units (over-complete: more units than the image has pixels), plain or "
                    "denoising. Errors are squared error per pixel (pixels scaled to the unit interval) on {t} "
                    "held-out test images, mean ± std over seeds (n = {k}).",
                    n=num(run, "settings.n", "d"), steps=num(run, "settings.steps", "d"),
                    lr=num(run, "settings.lr", "g"), bs=num(run, "settings.batch_size", "d"),
                    u=num(run, "settings.codes.0", "d"), o=num(run, f"settings.codes.{len(s['codes']) - 1}", "d"),
                    t=num(run, "settings.n_test", "d"), k=num(run, "variants.0.test_mse.n", "d"))


def mse(run, i, key="test_mse"):
    return ms(run, f"variants.{i}.{key}", ".4f")


def reconstruction(run, idx):
    codes = run["summary"]["settings"]["codes"]
    u, o = codes[0], codes[-1]
    under, over = mse(run, idx[(u, "none")]), mse(run, idx[(o, "none")])
    p = pca(run, u)
    w = lower(under, p)
    why = {1: "short of the principal subspace, the best a single hidden layer with linear outputs can do "
              "(Bourlard and Kamp): at this budget the code has not reached that optimum",
           0: "matching the principal subspace, as Bourlard and Kamp's "
              "result for a single hidden layer leads one to expect",
           -1: "so the nonlinearity buys something beyond the principal subspace here"}.get(w.sign, "")
    return sentence("Without noise, the over-complete code reconstructs held-out images with {over}, {w1} the "
                    "under-complete code's {under}. A low error alone says little when copying is within reach: "
                    "PCA with as many components as pixels is exact. PCA with {k} components reaches {pca}, "
                    "{w2} the sigmoid code of the same size ({under}), {why}. Predicting the mean image scores {m}.",
                    over=over, under=under, w1=lower(over, under), k=num(run, "settings.codes.0", "d"), pca=p,
                    w2=lower(p, under), why=why, m=ms(run, "baselines.mean_image", ".4f"))


def denoising(run, idx):
    s = run["summary"]["settings"]
    out = []
    for noise, key, what in (("mask", "test_mse_mask", sentence("{m} of their pixels masked",
                                                                 m=num(run, "settings.mask", ".0%"))),
                             ("gaussian", "test_mse_gauss", sentence("Gaussian noise of standard deviation {g} "
                                                                     "added", g=num(run, "settings.gauss", "g")))):
        if noise not in s["noises"]:
            continue
        parts = []
        for code in s["codes"]:
            d, p = mse(run, idx[(code, noise)], key), mse(run, idx[(code, "none")], key)
            parts.append(sentence("the {c}-unit denoising code restores them with {d}, {w} the plain code's {p}",
                                  c=num(run, f"variants.{idx[(code, noise)]}.code", "d"), d=d, p=p, w=lower(d, p)))
        out.append(sentence("Given test images with {what}, {parts}.", what=what,
                            parts=join(parts, sep="; ", last="; and ")))
    return out


def probe(run, idx):
    v = run["summary"]["variants"]
    accs = [sentence("{name} {a}", name=variant(run, i), a=ms(run, f"variants.{i}.probe_acc")) for i in range(len(v))]
    best = max(range(len(v)), key=lambda i: v[i]["probe_acc"]["mean"] or 0)
    pix = ms(run, "baselines.pixel_probe_acc")
    return sentence("How much of the class a code keeps, read by a linear probe (softmax regression on the frozen "
                    "codes, trained by the same training loop as every classifier here): {accs}; on the raw pixels "
                    "{pix}. The best code ({name}) is {w} the pixels.", accs=join(accs, sep="; ", last="; "),
                    pix=pix, name=variant(run, best),
                    w=compare(ms(run, f"variants.{best}.probe_acc"), pix, more="above", less="below",
                              same="level with", floor=ACC_FLOOR))


def code_map(run):
    m, p2 = num(run, "map.test_mse", ".4f"), pca(run, 2)
    return sentence("A deeper encoder down to a two-unit code ({widths}) reconstructs with {m}, {w} PCA's first two "
                    "components ({pca}); a linear probe on its two numbers scores {a}.",
                    widths=join([num(run, f"map.widths.{i}", "d") for i in range(len(run["summary"]["map"]["widths"]))],
                                sep="-", last="-"),
                    m=m, w=lower(m, p2), pca=p2, a=num(run, "map.probe_acc", ".3f"))


PIXELS = 784  # a Fashion-MNIST image: PCA has at most this many components


def table(run) -> dict:
    rows = []
    for i in range(len(run["summary"]["variants"])):
        rows.append([variant(run, i), mse(run, i), mse(run, i, "test_mse_mask"), mse(run, i, "test_mse_gauss"),
                     mse(run, i, "train_mse"), ms(run, f"variants.{i}.probe_acc")])
    rows.append(["mean image", ms(run, "baselines.mean_image", ".4f"), "", "", "", ""])
    for i, _ in enumerate(run["summary"]["baselines"]["pca"]):
        k = run["summary"]["baselines"]["pca"][i]["k"]
        kn = num(run, f"baselines.pca.{i}.k", "d")
        label = (sentence("PCA at {k} components: capped at the image's pixels, so exact", k=kn) if k >= PIXELS
                 else sentence("PCA, {k} components", k=kn))
        rows.append([label,
                     ms(run, f"baselines.pca.{i}.test_mse", ".4f"), "", "", "", ""])
    rows.append(["raw pixels", "", "", "", "", ms(run, "baselines.pixel_probe_acc")])
    return {"caption": "Squared error per pixel on held-out test images (clean, masked and noisy input; train: "
                       "clean training images) and linear-probe test accuracy, mean ± std over seeds",
            "columns": ["code", "test (clean)", "test (masked in)", "test (noisy in)", "train (clean)", "probe acc"],
            "rows": rows}
