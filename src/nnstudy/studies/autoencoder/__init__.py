"""Autoencoders on Fashion-MNIST: under- vs over-complete codes, plain vs denoising.

A one-hidden-layer sigmoid autoencoder reconstructs pixels in [0, 1] (sigmoid output, squared
error per pixel). Each variant is scored on held-out test images three ways: reconstructing clean
images, reconstructing images with 25% of pixels masked or with Gaussian noise added (what a
denoising autoencoder is trained for), and a linear probe (softmax regression trained by `fit` on
the codes of the training images): how useful the code is, which reconstruction error cannot say,
since an over-complete code can reconstruct well by copying. PCA with the same code size is the
best linear reconstruction: the baseline an under-complete code has to beat. A 2-unit code
(784-256-64-2, linear code) maps the test images to the plane beside PCA's first two components.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnstudy.config import TrainConfig
from nnstudy.data import Dataset, load_dataset
from nnstudy.models import build_model
from nnstudy.models.autoencoder import autoencoder_spec, reconstruction_error, train_autoencoder
from nnstudy.studies import TOPICS, Entry, Profile, Study, StudyContext, fmt_ms, mean_std, register_study
from nnstudy.studies.shared import record_run
from nnstudy.train import fit

MASK, GAUSS = 0.25, 0.25  # test corruptions: fraction of pixels set to 0; std of added noise (pixel units)
@dataclass(frozen=True)
class AutoencoderProfile(Profile):
    n: int  # training images
    n_test: int  # test images scored
    steps: int  # training steps of batch 64
    codes: tuple[int, ...]  # code sizes: under- and over-complete
    noises: tuple[str, ...]  # corruptions trained with (none: a plain autoencoder)
    map_steps: int  # training steps of the 2-unit code drawn as a map


PROFILES = {
    "quick": AutoencoderProfile(n=1000, n_test=1000, steps=100, codes=(32, 1024), noises=("none", "mask"),
                                map_steps=100),
    "default": AutoencoderProfile(n=10000, n_test=10000, steps=400, codes=(32, 1024),
                                  noises=("none", "mask", "gaussian"), map_steps=800),
    "full": AutoencoderProfile(n=50000, n_test=10000, steps=4000, codes=(32, 1024), noises=("none", "mask", "gaussian"),
                               map_steps=6000),
}
CURVE_IMAGES = 1000  # test images scored during training (the curves); the final numbers use all of them
LEVEL = {"none": 0.0, "mask": MASK, "gaussian": GAUSS}  # training corruption of each denoising variant
AE_OPT = dict(optimizer="adam", lr=1e-2, batch_size=64)  # Adam 1e-2: the best of 1e-3..1e-2 (measured, 600 steps)
PROBE = dict(model="logistic", optimizer="adam", lr=1e-2, batch_size=256, steps=300)


def pixels(data: Dataset, split: str, n: int | None = None) -> torch.Tensor:
    """Images as (N, 784) floats in [0, 1]: what the autoencoders reconstruct."""
    x = data.splits()[split][0]
    return x[:n].flatten(1).float().div(255.0)


def probe_accuracy(codes_train, y_train, codes_test, y_test, seed: int, device: str) -> float:
    """Test accuracy of softmax regression on fixed codes, trained by the one loop (`fit`)."""
    codes = Dataset("codes", codes_train, y_train, codes_test, y_test, num_classes=10)
    cfg = TrainConfig(dataset="fashion-mnist", seed=seed, device=device, eval_every=PROBE["steps"],
                      checkpoint=False, **{k: v for k, v in PROBE.items() if k != "model"})
    torch.manual_seed(seed)
    model = torch.nn.Linear(codes_train.shape[1], 10)
    return fit(model, codes, cfg).final["test_acc"]


def ae_config(p: dict, code: int, noise: str, seed: int, steps: int, model: str = "autoencoder") -> TrainConfig:
    """One sigmoid autoencoder with a `code`-unit code (model "autoencoder-2d": the 2-unit map)."""
    return TrainConfig(dataset="fashion-mnist", train_subset=p["n"], data_seed=seed, model=model, width=code,
                       activation="sigmoid", corruption=noise, corruption_level=LEVEL[noise], seed=seed, steps=steps,
                       eval_every=max(1, steps // 10), checkpoint=False, extra={"input": "pixels/255"}, **AE_OPT)


def train_one(ctx, cfg: TrainConfig, name: str, x, x_test, y, y_test) -> tuple[str, dict]:
    """Train one autoencoder as a child run and score it on the test images."""

    def work():
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, (784,), 10)
        # The curve is scored on the first CURVE_IMAGES test images (split "test"); the final numbers on all.
        res = train_autoencoder(model, x, cfg.replace(device=ctx.device), x_test[:CURVE_IMAGES])
        if res.status != "complete":  # diverged: nothing to score; mean ± std then counts it out (n)
            return res.status, {"final": {}, "steps": res.steps}, res.records, None, res.error
        model.cpu().eval()
        with torch.no_grad():
            c_train, c_test = model.encode(x), model.encode(x_test)
        final = {"train_mse": res.final.get("train_mse"), "test_mse": reconstruction_error(model, x_test),
                 "test_mse_mask": reconstruction_error(model, x_test, "mask", MASK, seed=1),
                 "test_mse_gauss": reconstruction_error(model, x_test, "gaussian", GAUSS, seed=1),
                 "probe_acc": probe_accuracy(c_train, y, c_test, y_test, cfg.seed, ctx.device)}
        summary = {"final": final, "steps": res.steps, "train_seconds": round(res.seconds, 3), "n_train": len(x),
                   "n_test": len(x_test), "status": res.status}
        return res.status, summary, res.records, model.state_dict(), res.error
    return record_run(ctx, cfg, name, work)


def pca_baselines(x: torch.Tensor, x_test: torch.Tensor, ks) -> dict:
    """Test squared error per pixel of the mean training image and of PCA (fitted on the training
    images) with k components: {"mean_image": e, "pca": {k: e}}."""
    mu = x.mean(0)
    _, _, v = torch.linalg.svd(x - mu, full_matrices=False)  # v: (min(N, 784), 784), rows = components
    pca = {}
    for k in ks:
        if k >= min(v.shape):
            pca[k] = 0.0  # k >= 784 components span every image: PCA reconstructs exactly
            continue
        p = v[:k]  # (k, 784)
        pca[k] = (((x_test - mu) @ p.T @ p + mu - x_test) ** 2).mean().item()
    return {"mean_image": ((x_test - mu) ** 2).mean().item(), "pca": pca}


def variant_name(code: int, noise: str) -> str:
    kind = "under" if code < 784 else "over"
    return f"{kind}-complete ({code}), " + {"none": "plain", "mask": f"masking {MASK:.0%}",
                                             "gaussian": f"Gaussian σ={GAUSS}"}[noise]


@register_study
class AutoencoderStudy(Study):
    name = "autoencoder"
    title = "Autoencoders: what does a code learn, under- vs over-complete, plain vs denoising?"
    help = "autoencoders on Fashion-MNIST: under- vs over-complete, plain vs denoising"
    entries = (Entry(TOPICS, 4, "Autoencoders"),)
    default_seeds = {"quick": 1, "default": 3, "full": 5}  # 3: the fewest the verdict rules read a direction from

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        variants = []
        pca, pixel_probe = [], []
        for code in p["codes"]:
            for noise in p["noises"]:
                variants.append({"name": variant_name(code, noise), "code": code, "noise": noise,
                                 "level": LEVEL[noise], "runs": [], "finals": []})
        for seed in ctx.seeds:
            data = load_dataset(ae_config(p, p["codes"][0], "none", seed, p["steps"]))
            x, y = pixels(data, "train"), data.y_train
            x_test, y_test = pixels(data, "test", p["n_test"]), data.y_test[:p["n_test"]]
            pca.append(pca_baselines(x, x_test, (2, *p["codes"])))  # 2: beside the 2-unit code
            pixel_probe.append(probe_accuracy(x, y, x_test, y_test, seed, ctx.device))
            for v in variants:
                ctx.log(f"autoencoder: {v['name']}, seed {seed}")
                cfg = ae_config(p, v["code"], v["noise"], seed, p["steps"])
                run_id, summary = train_one(ctx, cfg, f"{v['name']} seed {seed}", x, x_test, y, y_test)
                v["runs"].append(run_id)
                v["finals"].append(summary["final"])
        for v in variants:
            finals = v.pop("finals")
            for key in ("train_mse", "test_mse", "test_mse_mask", "test_mse_gauss", "probe_acc"):
                v[key] = mean_std(f.get(key) for f in finals)
        ctx.log("autoencoder: a 2-unit code for the map")
        map_cfg = ae_config(p, 2, "none", ctx.seeds[0], p["map_steps"], model="autoencoder-2d")
        map_run, map_summary = train_one(ctx, map_cfg, "2-D code (784-256-64-2)", x, x_test, y, y_test)
        baselines = {"mean_image": mean_std(b["mean_image"] for b in pca),
                     "pca": [{"k": k, "test_mse": mean_std(b["pca"][k] for b in pca)} for k in pca[0]["pca"]],
                     "pixel_probe_acc": mean_std(pixel_probe)}
        return {"variants": variants, "baselines": baselines,
                "map": {"run": map_run, "widths": list(autoencoder_spec(map_cfg).widths), **map_summary["final"]},
                "settings": {**{k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}, **AE_OPT,
                             "mask": MASK, "gauss": GAUSS, "probe": PROBE},
                "table": table(variants, baselines)}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.autoencoder.figures import draw_autoencoder

        return draw_autoencoder(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.autoencoder.report import autoencoder_section

        return autoencoder_section(store, run, self.title)


def table(variants: list[dict], baselines: dict) -> list[dict]:
    rows = [{"code": v["name"], "test mse (clean)": fmt_ms(v["test_mse"], 4),
             "test mse (masked in)": fmt_ms(v["test_mse_mask"], 4),
             "test mse (noisy in)": fmt_ms(v["test_mse_gauss"], 4),
             "probe acc": fmt_ms(v["probe_acc"]), "n": v["test_mse"]["n"]} for v in variants]
    for label, d in [("mean image (no code)", baselines["mean_image"])] + [
            (f"PCA, {b['k']} components", b["test_mse"]) for b in baselines["pca"]]:
        rows.append({"code": label, "test mse (clean)": fmt_ms(d, 4), "test mse (masked in)": "",
                     "test mse (noisy in)": "", "probe acc": "", "n": d["n"]})
    rows.append({"code": "raw pixels (no code)", "test mse (clean)": "", "test mse (masked in)": "",
                 "test mse (noisy in)": "", "probe acc": fmt_ms(baselines["pixel_probe_acc"]),
                 "n": baselines["pixel_probe_acc"]["n"]})
    return rows
