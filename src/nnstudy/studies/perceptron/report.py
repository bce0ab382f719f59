"""The perceptron study's report section, from its stored summary only."""

from __future__ import annotations

from nnstudy.evidence import compare, diff, join, ms, num, ratio, sentence
from nnstudy.studies import Section

FIGURES = {"perceptron_updates.png": "The perceptron's line after some of its updates on one separable set.",
           "mistakes_vs_bound.png": "Mistakes until convergence against Novikoff's bound, every set.",
           "xor.png": "XOR: the perceptron's mistakes per epoch, a hand-set and a trained hidden layer, and "
                      "a trained net on noisy XOR (held out)."}


def separable_text(run) -> list:
    s = run["summary"]
    rows = s["separable"]
    per_margin = join(sentence("at margin {m}, {k} mistakes against a bound of {b}",
                               m=num(run, f"separable.{i}.margin", "g"), k=ms(run, f"separable.{i}.mistakes", ".1f"),
                               b=ms(run, f"separable.{i}.bound", ".0f")) for i in range(len(rows)))
    first, last = len(rows) - 1, 0
    out = [sentence("On {n} linearly separable sets ({k} margins, {p} training points each, the margin measured "
                    "from the line that made the labels), the perceptron reached a mistake-free epoch on {c} and "
                    "made no more mistakes than Novikoff's bound «(R/gamma)^2» on {w}: {per}.",
                    n=num(run, "counts.sets", "d"), k=num(run, "counts.margins", "d"), p=num(run, "settings.n", "d"),
                    c=num(run, "counts.converged", "d"), w=num(run, "counts.within_bound", "d"), per=per_margin)]
    tight = ms(run, f"separable.{first}.mistakes_over_bound", ".2f")
    loose = ms(run, f"separable.{last}.mistakes_over_bound", ".2f")
    c = run["summary"]["counts"]
    holds = ("Every set stayed within the bound." if c["within_bound"] == c["sets"] else
             "Some sets exceeded the bound, which the theorem rules out: a bug to chase.")
    out.append(sentence(holds + " The perceptron used {a} of the bound at margin {m1} and {b} at margin {m0}. A "
                        "smaller margin means {w} mistakes ({r}x between the two margins' means); held out, the final "
                        "line classifies {acc} of new points at margin {m0}.",
                        a=tight, b=loose, m1=num(run, f"separable.{first}.margin", "g"),
                        m0=num(run, f"separable.{last}.margin", "g"),
                        w=compare(ms(run, f"separable.{last}.mistakes"), ms(run, f"separable.{first}.mistakes"),
                                  more="more", less="fewer", same="about as many"),
                        r=ratio(ms(run, f"separable.{last}.mistakes"), ms(run, f"separable.{first}.mistakes"), ".1f"),
                        acc=ms(run, f"separable.{last}.test_acc")))
    return out


def xor_text(run) -> list:
    p = "xor.perceptron"
    out = [sentence("On XOR's four points the perceptron made {m} updates in {e} epochs in the given order, and its "
                    "last epoch still had {last} mistakes; over {n} shuffled orders it converged {c} times. The best "
                    "accuracy of any weights it held was {best}: no line gets more than three of the four points, and "
                    "the rule never settles on such a line, since every mistake it corrects moves the line off "
                    "another point, so it cycles.",
                    m=num(run, f"{p}.mistakes", "d"), e=num(run, f"{p}.epochs", "d"),
                    last=num(run, f"{p}.epoch_mistakes_last", "d"), n=num(run, "xor.mlp_seeds", "d"),
                    c=num(run, f"{p}.shuffled_converged", "d"), best=num(run, f"{p}.best_acc", ".2f")),
           sentence("One hidden layer is enough: a hand-set «2-2-1» net of threshold units (the AND of OR and "
                    "NAND) scores {hand}, and a «2-2-2» MLP trained with Adam by the hand-written backward pass got "
                    "all four points on {solved} of {n} seeds (mean accuracy {acc}); a seed may redraw a start "
                    "that gets stuck, {tries} starts per solution on average.",
                    hand=num(run, "xor.hand_net_acc", ".2f"), solved=num(run, "xor.mlp_solved", "d"),
                    n=num(run, "xor.mlp_seeds", "d"), acc=ms(run, "xor.mlp_acc", ".2f"),
                    tries=ms(run, "xor.mlp_tries", ".1f"))]
    pa, ma = ms(run, "noisy_xor.perceptron.test_acc"), ms(run, "noisy_xor.mlp.test_acc")
    out.append(sentence("On TensorFlow Playground's noisy XOR, held out, the perceptron scores {pa} and a net with one "
                        "hidden layer of {w} tanh units {ma}: {word} ({d}).", pa=pa, ma=ma,
                        w=num(run, "noisy_xor.mlp.width", "d"), d=diff(ma, pa),
                        word=compare(ma, pa, more="the hidden layer is better", less="the perceptron is better",
                                     same="no clear difference", floor=0.02)))
    return out


def table(run) -> dict:
    rows = run["summary"]["separable"]
    return {"caption": "Separable sets: mistakes until convergence vs Novikoff's bound, mean ± std over seeds",
            "columns": ["margin", "sets", "mistakes", "bound (R/gamma)^2", "mistakes / bound", "held-out accuracy"],
            "rows": [[num(run, f"separable.{i}.margin", "g"), num(run, f"separable.{i}.sets", "d"),
                      ms(run, f"separable.{i}.mistakes", ".1f"), ms(run, f"separable.{i}.bound", ".1f"),
                      ms(run, f"separable.{i}.mistakes_over_bound"), ms(run, f"separable.{i}.test_acc")]
                     for i in range(len(rows))]}


def perceptron_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    return Section(title, paragraphs=[*separable_text(run), *xor_text(run)], tables=[table(run)],
                   figures=figures)
