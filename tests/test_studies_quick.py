"""The main job at the quick profile, end to end: `nnstudy all --profile quick` runs every registered
study once (a session fixture: the slowest thing the suite does), then the report is built from
that store. Each study's own test file checks its claims; here every study must complete, record
its children, draw figures, and appear in a report whose every number matches the store."""

import json

import pytest

from conftest import run_cli
from nnstudy.store import git_commit
from nnstudy.studies import load_all
from test_quick_numbers import FIXTURE, comparable, differences
from test_report import CHROMIUM, check_all_numbers, sheet_rows_and_bottom

STUDIES = load_all().names()


@pytest.mark.parametrize("name", STUDIES)
def test_every_study_completes_at_quick_profile(quick_all, name):
    store, summary, _ = quick_all
    row = store.get(summary["studies"][name]["run"])
    assert row["status"] == "complete" and row["study"] == name
    assert row["summary"]["profile"] == "quick" and row["summary"]["seeds"]
    assert row["summary"].get("table"), "a study prints a table"
    for child in store.runs(parent=row["id"]):
        assert child["status"] in ("complete", "diverged"), child
    pngs = list(store.run_dir(row["id"]).glob("*.png"))
    assert pngs and all(p.stat().st_size > 2000 for p in pngs), "a study draws figures"


def test_report_from_the_main_job_has_every_study_and_checkable_numbers(quick_all):
    store, summary, _ = quick_all
    html = open(summary["report"]["html"], encoding="utf-8").read()
    md = open(summary["report"]["markdown"], encoding="utf-8").read()
    for name in STUDIES:
        assert summary["studies"][name]["run"] in html, name  # every study's run is cited
    assert check_all_numbers(store, html) > 100  # each number re-read from the store and compared
    assert "![" in md


def test_every_figure_has_a_caption_and_a_pointer_and_no_long_table_interrupts(quick_all):
    """Issue 18 item 9: every figure is captioned and numbered, each section's text points at its
    figures by number, and a table longer than LONG_TABLE rows sits in the collapsed appendix."""
    import re

    from nnstudy.report.model import LONG_TABLE

    _, summary, _ = quick_all
    html = open(summary["report"]["html"], encoding="utf-8").read()
    figures = re.findall(r'<figure id="fig-(\d+)"><img [^>]*>(.*?)</figure>', html)
    assert len(figures) > 20
    for n, cap in figures:
        text = re.sub(r"<[^>]+>", "", cap)
        assert text.startswith(f"Figure {n}. ") and len(text) > len(f"Figure {n}. ") + 10, (n, text)
        assert re.search(rf"Figures? (\d+\u2013)?{n}\b|\u2013{n} below|\({n}\)", html), n
    main = html[html.index("<main>"):html.index('id="appendix"') if 'id="appendix"' in html else None]
    for body in re.findall(r"<tbody>(.*?)</tbody>", main):
        assert body.count("<tr>") <= LONG_TABLE
    assert "«" not in html and "»" not in html  # the literal marker never reaches a reader
    # every study's template passed the digits rule (a refused template shows as an error block)
    assert "could not be built" not in html and 'class="badge error"' not in html
    assert "could not be computed" not in html  # every answer on the sheet came from its rules


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_first_screen_of_the_main_jobs_report_holds_every_answer(quick_all, tmp_path):
    """A laptop's first screen (1366 x 900): the week's experiment and all six questions, with
    their verdicts, before any scrolling."""
    _, summary, _ = quick_all
    html = open(summary["report"]["html"], encoding="utf-8").read()
    found = sheet_rows_and_bottom(html, tmp_path, size=(1366, 900))
    assert found and found[0] == 7 and found[1] <= 900, found


def test_all_skips_what_the_store_already_holds(quick_all):
    store, summary, env = quick_all
    commit = git_commit()
    if not commit or commit.endswith("+dirty"):
        pytest.skip("the work tree has uncommitted changes: results are not attributable to a commit, "
                    "so `all` re-runs (CI checks out a clean tree)")
    rc, out, err = run_cli("all", "--profile", "quick", "--device", "cpu", "--json", "--out", store.home, env=env)
    assert rc == 0, err[-2000:]
    again = json.loads(out)
    assert {k: v["run"] for k, v in again["studies"].items()} == {k: v["run"] for k, v in summary["studies"].items()}


# -- the summaries' naming and unit convention (issue 24; README, "Results store") ------------------
FRACTION_SUFFIXES = ("acc", "_err", "_frac")  # accuracies, error rates and shares: fractions in [0, 1]
TIME_SUFFIXES = ("seconds", "_s", "_ms")  # durations: seconds, or milliseconds where it says so (or seconds_...)
BANNED = {"target", "targets", "err", "error", "time", "h", "tiny", "pct"}  # a name that says what it holds
BANNED_PARTS = ("heldout", "printed")  # splits are train, val and test; "printed" is not a quantity
BANNED_ENDS = ("_img_s", "_time", "_sec", "_secs")  # rates end in _per_s; durations say their unit


def convention_violations(obj, path: str = "") -> list[str]:
    """Every numeric field of a summary whose name breaks the convention, as "path: why"."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += convention_violations(v, f"{path}.{k}" if path else str(k))
        return out
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            out += convention_violations(v, f"{path}.{i}")
        return out
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        return out
    # mean_std dicts ({"mean", "std", "n"}) and list items are named by their parent
    names = [p for p in path.split(".") if not p.isdigit() and p not in ("mean", "std", "n")]
    name = names[-1] if names else path
    if name in BANNED or any(part in name for part in BANNED_PARTS) or name.endswith(BANNED_ENDS):
        out.append(f"{path}: {name!r} does not say what it holds or its unit")
    if path.split(".")[-1] == "n":
        return out  # a count of seeds
    if name.endswith(FRACTION_SUFFIXES) or name == "chance":
        if not 0.0 <= obj <= 1.0 and not path.endswith(".std"):
            out.append(f"{path} = {obj}: accuracies and error rates are fractions in [0, 1] (or say _pct)")
    if name.endswith("_pct") and not 0.0 <= obj <= 100.0 and not path.endswith(".std"):
        out.append(f"{path} = {obj}: a percentage outside [0, 100]")
    unit_named = name.endswith(TIME_SUFFIXES) or name.startswith("seconds_") or "_per_s" in name
    if ("second" in name or name.endswith(("_ms", "_s"))) and not unit_named:
        out.append(f"{path}: a duration begins or ends with its unit: seconds, _s or _ms")
    return out


def test_the_convention_check_catches_what_issue_24_found():
    bad = {"target": 1e-6, "cells": [{"methods": {"x": {"test_err": {"mean": 22.9, "std": 1.0, "n": 2}}}}],
           "speed": {"lenet5": {"train_img_s": 2700.0}}, "week": {"printed_acc": 0.5, "heldout_acc": 0.5}}
    found = convention_violations(bad)
    assert len(found) == 5 and any("test_err.mean = 22.9" in f for f in found), found
    good = {"autograd_rel_err_target": 1e-6, "test_err_pct": {"mean": 22.9, "std": 1.0, "n": 2},
            "train_img_per_s": 2700.0, "seconds": 3.5, "torch_ms": 0.6, "test_acc": None, "steps": 100}
    assert convention_violations(good) == []


@pytest.mark.parametrize("name", STUDIES)
def test_every_study_summary_follows_the_naming_and_unit_convention(quick_all, name):
    store, summary, _ = quick_all
    row = store.get(summary["studies"][name]["run"])
    fields = {k: v for k, v in row["summary"].items() if k not in ("env", "table")}  # env: versions; table: text
    assert convention_violations(fields) == []
    for child in store.runs(parent=row["id"]):  # the training runs' summaries too
        assert convention_violations(child["summary"]) == [], child["id"]


def test_every_study_gives_the_numbers_recorded_before_the_redesign(quick_all):
    """tests/test_quick_numbers.py holds the fixture and the comparison; the test lives here, beside
    the other users of quick_all, so that `pytest -n 2 --dist loadfile` runs the studies once."""
    store, summary, _ = quick_all
    want = json.loads(FIXTURE.read_text(encoding="utf-8"))
    got = {name: comparable(store.get(s["run"])["summary"]) for name, s in summary["studies"].items()}
    assert sorted(got) == sorted(want), "the studies changed: re-record the fixture on purpose"
    diffs = [f"{name}.{d}" for name in want for d in differences(got[name], want[name])]
    assert not diffs, f"{len(diffs)} numbers moved:\n" + "\n".join(diffs[:40])
