"""The week's PyTorch tensor basics (its section 2.1), as a study: the executable tutorial
`tensor-basics.md` (beside this file; docs/tensor-basics.md links to it) runs on this machine's
torch, every example's output is checked against the one the tutorial documents and stored, and
the week's two histograms of normal draws are measured (sample mean, std, share within one std)
and drawn. The report shows the tutorial as it ran here, so a learner reads outputs this torch
printed, not ones copied from somewhere else.
"""

from __future__ import annotations

import doctest
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from nnstudy.studies import TOPICS, Entry, Profile, Study, StudyContext, register_study

TUTORIAL = Path(__file__).with_name("tensor-basics.md")
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@dataclass(frozen=True)
class TensorsProfile(Profile):
    draws: tuple[int, ...]  # sizes of the normal samples measured and drawn (the week's 1000 and 10**6)
    bins: int  # histogram bins (the week's 100)


PROFILES = {"quick": TensorsProfile(draws=(1000, 10**6), bins=100),
            "default": TensorsProfile(draws=(1000, 10**6), bins=100),
            "full": TensorsProfile(draws=(1000, 10**6, 10**7), bins=100)}


class _Recorder(doctest.DocTestRunner):
    """A doctest runner that keeps each example's actual output (doctest itself only reports failures)."""

    def __init__(self):
        super().__init__(optionflags=FLAGS, verbose=False)
        self.got: dict[int, tuple[str, bool]] = {}

    def report_success(self, out, test, example, got):
        self.got[id(example)] = (short_traceback(got), True)

    def report_failure(self, out, test, example, got):
        self.got[id(example)] = (short_traceback(got), False)

    def report_unexpected_exception(self, out, test, example, exc_info):
        kind, value = exc_info[:2]
        self.got[id(example)] = (f"{kind.__name__}: {value}\n", False)


def short_traceback(got: str) -> str:
    """An exception as the Python prompt shows it to a reader: the header, "...", the last line
    (doctest hands over the whole traceback, with this machine's file paths)."""
    if not got.startswith("Traceback (most recent call last):"):
        return got
    last = [ln for ln in got.rstrip("\n").split("\n") if ln and not ln.startswith(" ")][-1]
    return f"Traceback (most recent call last):\n  ...\n{last}\n"


def sections(text: str) -> list[dict]:
    """The tutorial's "## " sections: heading, prose (code fences removed) and first line number."""
    out, lines = [], text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("## ")] + [len(lines)]
    for a, b in zip(starts, starts[1:]):
        body = "\n".join(lines[a + 1:b])
        prose = re.sub(r"```python.*?```", "", body, flags=re.S)
        prose = " ".join(" ".join(p.split()) for p in prose.split("\n\n") if p.strip())
        out.append({"heading": lines[a][3:].strip(), "prose": prose, "start": a, "end": b})
    return out


def run_tutorial(path: Path = TUTORIAL) -> dict:
    """Every example of the tutorial, in order, in one namespace (as a reader would type them):
    its source, the documented output, the output here, and whether they agree (doctest's rules:
    whitespace normalised, `...` matches anything)."""
    text = path.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, path.name, str(path), 0)
    runner = _Recorder()
    runner.run(test, out=lambda s: None, clear_globs=True)
    secs = sections(text)
    for ex in test.examples:
        got, ok = runner.got.get(id(ex), ("", False))
        sec = next((s for s in secs if s["start"] <= ex.lineno < s["end"]), None)
        if sec is not None:
            sec.setdefault("examples", []).append({"source": ex.source.rstrip("\n"), "want": ex.want.rstrip("\n"),
                                                   "got": got.rstrip("\n"), "ok": ok})
    for s in secs:
        s.pop("start"), s.pop("end")
    examples = [e for s in secs for e in s.get("examples", [])]
    return {"sections": secs, "examples": len(examples), "passed": sum(e["ok"] for e in examples),
            "failed": [e["source"] for e in examples if not e["ok"]]}


def normal_draws(n: int, seed: int) -> dict:
    """The week's `torch.randn(n)`: its sample mean and std, their standard errors, and the share
    of draws within one std of zero beside the normal's own share, erf(1/sqrt 2)."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(n, generator=g, dtype=torch.float64)
    return {"n": n, "seed": seed, "mean": r.mean().item(), "std": r.std().item(),
            "se_mean": 1 / math.sqrt(n), "se_std": 1 / math.sqrt(2 * (n - 1)),
            "within_1sd": (r.abs() < 1).double().mean().item()}


@register_study
class TensorsStudy(Study):
    name = "tensors"
    title = "PyTorch tensor basics, run on this machine"
    help = "the week's PyTorch tensor basics: the executable tutorial run and checked, normal draws measured"
    entries = (Entry(TOPICS, 6, "PyTorch tensor basics",
                     "The week practised creating tensors (tensor, ones, empty, rand, zeros, new_ones, "
                     "randn_like), sizes, matrix-vector products, transposes, histograms of normal draws and "
                     "concatenation, in Colab."),)
    default_seeds = {"quick": 1, "default": 1, "full": 1}

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        ctx.log("tensors (1/2): the tutorial's examples")
        tutorial = run_tutorial()
        ctx.log("tensors (2/2): normal draws")
        draws = [normal_draws(n, ctx.seeds[0]) for n in p["draws"]]
        return {"tutorial": tutorial, "draws": draws, "bins": p["bins"], "torch_version": torch.__version__,
                "normal_within_1sd": math.erf(1 / math.sqrt(2)),
                "table": [{"section": s["heading"], "examples": len(s.get("examples", [])),
                           "as documented": sum(e["ok"] for e in s.get("examples", []))}
                          for s in tutorial["sections"]]}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.tensors.figures import draw_histograms

        return draw_histograms(run, folder)

    def section(self, store, run):
        from nnstudy.studies.tensors.report import tensors_section

        return tensors_section(store, run, self.title)
