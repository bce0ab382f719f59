"""Studies are folders: the registry is exactly the packages in `studies/`, ordered by what their
descriptors declare, and adding a folder (here a throwaway one in a temp dir on the package's
path) adds a study to `nnstudy list`, `nnstudy run` and the report, with no list edited by hand."""

import sys
import textwrap
from pathlib import Path

import pytest

import nnstudy.studies
from nnstudy.cli import main
from nnstudy.report import outline, write_report
from nnstudy.store import Store
from nnstudy.studies import STUDIES, load_all

STUDIES_DIR = Path(nnstudy.studies.__file__).parent


def test_the_registry_is_the_folders_one_study_each():
    reg = load_all()
    folders = sorted(p.parent.name for p in STUDIES_DIR.glob("*/__init__.py"))
    owners = sorted(reg.get(n).__module__.rpartition(".")[2] for n in reg.names())
    assert owners == folders  # every folder registers exactly one study, and nothing else registers
    for folder in folders:  # the house layout: descriptor + run, figures from the store, report section
        assert (STUDIES_DIR / folder / "figures.py").is_file() and (STUDIES_DIR / folder / "report.py").is_file()


def test_descriptors_order_the_registry_and_the_report():
    reg = load_all()
    parts = outline(reg)
    first = [study for _, entries in parts for study, e in entries if not e.see]
    assert first == reg.names()  # `list` and `all` read in the report's order
    assert [heading for heading, _ in parts][:4] == ["The week's experiment", "What the week studied",
                                                     "The week's six questions", "Next week"]
    questions = dict(parts)["The week's six questions"]
    assert [e.heading[:3] for _, e in questions] == ["Q1.", "Q2.", "Q3.", "Q4.", "Q5.", "Q6."]
    assert [s for s, e in questions if e.see] == ["vanishing"]  # Q3 links to the study's own section
    numbers = {}
    for name in reg.names():  # a part number means one heading, whichever study declares it
        for e in reg.get(name).entries:
            assert numbers.setdefault(e.part.number, e.part.heading) == e.part.heading, name


TOY = '''
"""A throwaway study: the mean of its seeds (no training), in a part of its own."""
from nnstudy.studies import Entry, Part, Section, Study, register_study


@register_study
class ToyCountStudy(Study):
    name = "toy-count"
    title = "Does a new folder become a study?"
    help = "a folder added at test time"
    entries = (Entry(Part(5, "Week two"), 1, "W2. Counting seeds", "The week after: count."),)

    def run(self, ctx):
        return {"mean_seed": sum(ctx.seeds) / len(ctx.seeds), "table": [{"seeds": len(ctx.seeds)}]}

    def section(self, store, run):
        from nnstudy.studies.toy_count.report import toy_section

        return toy_section(run, self.title)
'''

TOY_REPORT = '''
from nnstudy.studies import Section


def toy_section(run, title):
    return Section(title, paragraphs=[f"Mean seed {run['summary']['mean_seed']:g}."])
'''


def test_a_new_folder_is_a_new_study(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "studies" / "toy_count"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(TOY))
    (pkg / "report.py").write_text(textwrap.dedent(TOY_REPORT))
    monkeypatch.setattr(nnstudy.studies, "__path__", [*nnstudy.studies.__path__, str(tmp_path / "studies")])
    monkeypatch.setattr(STUDIES, "_items", dict(STUDIES._items))  # restored after the test
    monkeypatch.setattr(STUDIES, "_help", dict(STUDIES._help))
    try:
        assert load_all().names()[-1] == "toy-count"  # part 5 sorts after "Next week"
        assert main(["list"]) == 0
        assert "toy-count       a folder added at test time" in capsys.readouterr().out
        assert main(["run", "toy-count", "--profile", "quick", "--seeds", "3", "--out", str(tmp_path / "runs")]) == 0
        md = Path(write_report(Store(tmp_path / "runs"))["markdown"]).read_text()
        assert md.index("## Next week") < md.index("## Week two") < md.index("### W2. Counting seeds")
        assert "> The week: The week after: count." in md and "Mean seed 1." in md
    finally:
        for mod in [m for m in sys.modules if m.startswith("nnstudy.studies.toy_count")]:
            del sys.modules[mod]


def test_profiles_are_typed_and_read_as_their_fields():
    import importlib

    from nnstudy.studies import Profile

    for name in load_all().names():
        module = importlib.import_module(STUDIES.get(name).__module__)
        profiles = getattr(module, "PROFILES", None)
        if profiles is None:  # the studies on shared.SIZES
            continue
        assert list(profiles) == ["quick", "default", "full"], name
        for p in profiles.values():
            assert isinstance(p, Profile)
            assert {**p} == {f: getattr(p, f) for f in p.__dataclass_fields__}  # stored `settings` = the fields
    quick = importlib.import_module("nnstudy.studies.spiral").PROFILES["quick"]
    assert quick["steps"] == quick.steps == 600
    with pytest.raises(KeyError):
        quick["stepz"]
    with pytest.raises(TypeError):  # a typo in a profile table fails at import, not mid-run
        type(quick)(n=1, steps=1, lrs=(), adam_steps=(), stepz=3)
