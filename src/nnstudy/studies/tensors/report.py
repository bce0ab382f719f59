"""The tensors study's report section: the tutorial as it ran here, and the normal draws measured."""

from __future__ import annotations

from nnstudy.evidence import Text, join, num, sentence
from nnstudy.studies import Section

FIGURES = {"normal_draws.png": "The week's histograms, redrawn: torch.randn draws (seed in the budget line) as a "
                               "density, with the standard normal's density over them."}


def tensors_section(store, run: dict, title: str) -> Section:
    folder = store.run_dir(run["id"])
    figures = [(folder / f, cap) for f, cap in FIGURES.items() if (folder / f).is_file()]
    return Section(title, paragraphs=[ran_text(run), draws_text(run)], figures=figures, listings=listings(run))


def ran_text(run: dict) -> Text:
    t = run["summary"]["tutorial"]
    out = sentence("The tutorial (docs/tensor-basics.md: the week's code with two corrections, each explained) ran "
                   "here, all its examples in one session as a reader would type them: {p} of {n} produced the "
                   "output the tutorial documents, on torch {v}. Random tensors are checked by shape, dtype and "
                   "statistics, never by their values. Below, each part's code with the output it printed here.",
                   p=num(run, "tutorial.passed", "d"), n=num(run, "tutorial.examples", "d"),
                   v=run["summary"].get("torch_version") or run["summary"].get("torch", "?"))
    if t["failed"]:
        out += sentence(" The examples that printed something else: ") + join(t["failed"], "; ") + "."
    return out


def draws_text(run: dict) -> Text:
    parts = []
    for i, _ in enumerate(run["summary"]["draws"]):
        d = f"draws.{i}"
        parts.append(sentence("with {n} draws the sample mean is {m} (standard error {sm}), the std {s} (standard "
                              "error {ss}) and a share {w} falls within one std of zero", n=num(run, f"{d}.n", ",d"),
                              m=num(run, f"{d}.mean", "+.4f"), sm=num(run, f"{d}.se_mean", ".4f"),
                              s=num(run, f"{d}.std", ".4f"), ss=num(run, f"{d}.se_std", ".4f"),
                              w=num(run, f"{d}.within_1sd", ".4f")))
    return (sentence("The histograms the week drew are of standard normal draws: ") + join(parts, "; ", "; ")
            + sentence(". The normal distribution puts {p} of its mass there; with more draws the histogram's "
                       "shape converges to the density (the error of each estimate shrinks as one over the square "
                       "root of the number of draws), which is all the week's second, larger histogram shows.",
                       p=num(run, "normal_within_1sd", ".4f")))


def listings(run: dict) -> list[dict]:
    """Each tutorial part: its heading, its prose, and a transcript of its examples with this run's output."""
    out = []
    for s in run["summary"]["tutorial"]["sections"]:
        lines = []
        for e in s.get("examples", []):
            src = e["source"].split("\n")
            lines += [">>> " + src[0]] + ["... " + ln for ln in src[1:]]
            lines += [e["got"]] if e["got"] else []
            if not e["ok"]:
                lines.append("# the tutorial documents: " + e["want"].replace("\n", " "))
        out.append({"caption": s["heading"], "note": s["prose"], "text": "\n".join(lines)})
    return out
