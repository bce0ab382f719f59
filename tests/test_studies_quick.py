"""Every registered study runs in the quick profile, records a complete run and draws figures."""

import pytest

from nnstudy.store import Store
from nnstudy.studies import load_all, run_study

STUDIES = load_all().names()


@pytest.mark.parametrize("name", STUDIES)
def test_study_quick_profile(name, tmp_path):
    store = Store(tmp_path / "runs")
    row = run_study(name, store, "quick", None, "cpu")
    assert row["status"] == "complete"
    assert row["summary"]["profile"] == "quick" and row["summary"]["seeds"]
    assert row["summary"].get("table"), "a study prints a table"
    for child in store.runs(parent=row["id"]):
        assert child["status"] in ("complete", "diverged"), child
    assert list(store.run_dir(row["id"]).glob("*.png")), "a study draws figures"
