"""The main job at the quick profile, end to end: `nnstudy all --profile quick` runs every registered
study once (a session fixture: the slowest thing the suite does), then the report is built from
that store. Each study's own test file checks its claims; here every study must complete, record
its children, draw figures, and appear in a report whose every number matches the store."""

import json

import pytest

from conftest import run_cli
from nnstudy.store import Store, git_commit
from nnstudy.studies import load_all
from test_report import check_all_numbers

STUDIES = load_all().names()


@pytest.fixture(scope="session")
def quick_all(tmp_path_factory):
    root = tmp_path_factory.mktemp("all-quick")
    env = {"NNSTUDY_CACHE": str(root / "cache"), "MPLBACKEND": "Agg"}
    rc, out, err = run_cli("all", "--profile", "quick", "--device", "cpu", "--json", "--out", root / "runs",
                           env=env, timeout=1800)
    assert rc == 0, err[-3000:]
    return Store(root / "runs"), json.loads(out), env


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
