"""The backprop study's report section, from its stored summary only."""

from __future__ import annotations

from nnstudy.evidence import compare, join, ms, num, ratio, sentence
from nnstudy.studies import Section

ROUNDING = {1: ": what is left is PyTorch's own float32 rounding, not a difference in the arithmetic",
            0: ": what is left is float32 rounding, not a difference in the arithmetic",
            -1: ": float32 NumPy's own rounding adds to the gap", None: ""}
FIGURES = {"gradcheck.png": "Relative error of the hand-written gradients, each W and b of each net (float64).",
           "curves.png": "Training loss of the PyTorch and the NumPy net from the same weights, and the gap.",
           "timing.png": "Time per full-batch step (median over the run's steps; mean ± std over seeds)."}


def gradcheck_text(run) -> list:
    return [sentence(
        "Over {k} parameter arrays (nets with {depths} hidden layers; sigmoid, tanh and ReLU; «float64»; {p} spiral "
        "points), the hand-written backward pass agrees with torch.autograd to a relative error of at most {a}, "
        "{w} the target of {t}, and with central finite differences (step {h}) to at most {fd}; a finite "
        "difference carries its own error of order «h^2» and eps/h, so it cannot confirm more digits than that.",
        k=num(run, "counts.arrays", "d"), depths=join(num(run, f"settings.depths.{i}", "d")
                                                    for i in range(len(run["summary"]["settings"]["depths"]))),
        p=num(run, "settings.check_points", "d"), a=num(run, "max_rel_err_autograd", ".1e"),
        w=compare(num(run, "max_rel_err_autograd"), num(run, "autograd_rel_err_target"), more="above", less="far below",
                  same="at", tol=0.0), t=num(run, "autograd_rel_err_target", ".0e"), h=num(run, "fd_step", ".0e"),
        fd=num(run, "max_rel_err_fd", ".1e")), cost_text(run)]


def cost_text(run):
    """Why training uses backpropagation and not the finite differences that check it: the cost."""
    rows = run["summary"]["gradcheck"]
    i = max(range(len(rows)), key=lambda k: rows[k]["checked"])
    return sentence("That is also why training uses backpropagation: one backward pass yields the gradient of every "
                    "parameter for a small constant multiple (about two) of a forward pass's cost, while central "
                    "differences need two forward passes per parameter; the largest array checked here, {shape}, "
                    "alone has {n} entries, so twice as many forward passes, for one gradient of one array.",
                    shape=rows[i]["shape"], n=num(run, f"gradcheck.{i}.checked", ",d"))


def curves_text(run) -> list:
    out = []
    for i, c in enumerate(run["summary"]["curves"]):
        key = f"curves.{i}"
        t, n32 = ms(run, f"{key}.torch_ms", ".2f"), ms(run, f"{key}.numpy_f32_ms", ".2f")
        # float64 NumPy as far from torch as float32 NumPy is (or farther): the gap is torch's own float32 rounding
        same = compare(num(run, f"{key}.max_gap_f64.mean"), ms(run, f"{key}.max_gap_f32"), more="larger than",
                       less="smaller than", same="about the same as")
        out.append(sentence(
            "{name} ({act}, {depth} hidden layer(s) of {width}, {opt}, {steps} full-batch steps on the spiral, {n} "
            "seeds): from the same initial weights the NumPy loss curve stays within {g32} of PyTorch's in «float32» "
            "(the largest gap over the run); NumPy in «float64» is {g64} from PyTorch's «float32» curve, {same} the "
            "«float32» gap{so}. Held out, the PyTorch net scores {acc}. One step takes {t} ms in PyTorch "
            "(train.fit) and {n32} ms in NumPy: {word} ({r}x).",
            name=c["config"], act=c["activation"], depth=num(run, f"{key}.depth", "d"),
            width=num(run, f"{key}.width", "d"), opt=c["optimizer"], steps=num(run, f"{key}.steps", "d"),
            n=num(run, f"{key}.max_gap_f32.n", "d"), g32=ms(run, f"{key}.max_gap_f32", ".1e"),
            g64=num(run, f"{key}.max_gap_f64.mean", ".1e"), same=same, so=ROUNDING[same.sign],
            acc=ms(run, f"{key}.test_acc"), t=t, n32=n32,
            word=compare(n32, t, more="PyTorch is faster here", less="NumPy is faster here",
                         same="about the same", unclear="neither clearly faster"), r=ratio(n32, t, ".2f")))
    out.append("Times are medians per step on this machine's CPU as it was loaded during the run, torch and "
               "NumPy's BLAS each on one thread; the nets are small, so per-operation overhead dominates both.")
    return out


def tables(run) -> list[dict]:
    s = run["summary"]
    checks = {"caption": "Gradient check per parameter array: max relative error |a - b| / max(|a| + |b|, tiny)",
              "columns": ["depth", "activation", "layer", "param", "shape", "entries checked",
                          "vs finite differences", "vs autograd"],
              "rows": [[r["depth"], r["activation"], r["layer"], r["param"], r["shape"],
                        num(run, f"gradcheck.{i}.checked", "d"), num(run, f"gradcheck.{i}.rel_err_fd", ".1e"),
                        num(run, f"gradcheck.{i}.rel_err_autograd", ".1e")] for i, r in enumerate(s["gradcheck"])]}
    curves = {"caption": "NumPy vs PyTorch from the same weights, mean ± std over seeds",
              "columns": ["net", "largest loss gap (float32)", "PyTorch ms/step", "NumPy ms/step",
                          "NumPy float64 ms/step", "held-out accuracy"],
              "rows": [[c["config"], ms(run, f"curves.{i}.max_gap_f32", ".1e"), ms(run, f"curves.{i}.torch_ms", ".2f"),
                        ms(run, f"curves.{i}.numpy_f32_ms", ".2f"), ms(run, f"curves.{i}.numpy_f64_ms", ".2f"),
                        ms(run, f"curves.{i}.test_acc")] for i, c in enumerate(s["curves"])]}
    return [checks, curves]


def backprop_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    return Section(title, paragraphs=[*gradcheck_text(run), *curves_text(run)], tables=tables(run),
                   figures=figures)
