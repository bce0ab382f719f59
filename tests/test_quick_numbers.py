"""Every study's quick-profile summary, value for value, against the numbers the code gave before
the one-loop redesign (issue 17): a refactor that changes no behaviour changes no number.

The fixture (tests/fixtures/quick_summaries.json) was recorded once from `nnstudy all --profile
quick --device cpu` (the command of the quick_all fixture) on the code before the change (commit
8e0d17f, 2-core Intel Xeon, one thread); re-record it
only when a change is meant to move numbers, and say so in the commit:

    python tests/test_quick_numbers.py RUNS_DIR   # RUNS_DIR: a store `nnstudy all --profile quick` wrote

Compared: every field of each study's summary except what measures the machine rather than the
model (wall-clock: seconds, *_ms, *_per_s, speed ratios), run ids (new every run), `env` (versions)
and `table` (text formatted from the same numbers, timings among them).

Tolerance: relative 1e-4, absolute 1e-6. Each number comes from one process running the same
float32 kernels in the same order, so on one machine the values are bit-identical (measured: 0
differences between the stores before and after the redesign). Another CPU (CI runs on AMD EPYC and
Intel Xeon) may pick other BLAS/oneDNN kernels, which sum in another order: about 1e-7 relative
per operation, grown by a few hundred training steps to well under 1e-4 on these small, short runs.
A change in behaviour (another batch order, another init, a missed step) moves numbers by 1e-3 or
more, so the tolerance still catches it. Integers and strings compare exactly.
"""

import json
import math
import re
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "quick_summaries.json"
REL, ABS = 1e-4, 1e-6
# versions; text tables formatted from the compared numbers (and timings); what this machine has
# (the images study's record of which sets and devices were present, the tensors study's torch)
SKIP_KEYS = {"env", "table", "next_week", "torch_version"}
# Config fields added after the fixture was recorded, at their defaults: summaries that dump a whole
# config name them now, and a field at its default changes no number (issue 17's typed fields).
ADDED_FIELDS = {"corruption": "none", "corruption_level": 0.0, "features": "", "widths": "", "activations": "",
                "cutout": 0, "auto_threads": False, "eval_train": True}
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


SPEED_RATIOS = {"speed_ratio", "numpy_over_torch"}  # ratios of two timings


def wall_clock(name: str) -> bool:
    """A field that measures the machine: durations, rates, speed ratios."""
    return "seconds" in name or name.endswith("_ms") or "_per_s" in name or name in SPEED_RATIOS


def comparable(obj, name: str = ""):
    """The summary without what differs from run to run on one machine (see the module docstring)."""
    if isinstance(obj, dict):  # run ids as keys (per-run tables) become their position
        ids = iter(range(len(obj)))
        return {(f"<run {next(ids)}>" if RUN_ID.match(k) else k): comparable(v, k) for k, v in obj.items()
                if k not in SKIP_KEYS and not wall_clock(k)}
    if isinstance(obj, list):
        return [comparable(v, name) for v in obj]
    if isinstance(obj, str) and RUN_ID.match(obj):
        return "<run>"
    return obj


def differences(got, want, path: str = "") -> list[str]:
    """Every place where got and want differ beyond the tolerance, as "path: got vs want"."""
    if isinstance(want, dict) and isinstance(got, dict):
        at = f"{path}." if path else ""
        out = [f"{at}{k}: missing" for k in want if k not in got]
        out += [f"{at}{k}: not in the fixture" for k in got
                if k not in want and not (k in ADDED_FIELDS and got[k] == ADDED_FIELDS[k])]
        for k in want:
            if k in got:
                out += differences(got[k], want[k], f"{at}{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items vs {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}.{i}")]
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(want) and math.isnan(got):
            return []
        ok = math.isclose(got, want, rel_tol=REL, abs_tol=ABS)
        return [] if ok else [f"{path}: {got!r} vs {want!r} (rel {REL}, abs {ABS})"]
    return [] if got == want and type(got) is type(want) else [f"{path}: {got!r} vs {want!r}"]


def study_summaries(store) -> dict[str, dict]:
    """The newest complete top-level run of each study: its summary, made comparable."""
    out = {}
    for row in store.runs():
        if row.get("study") and row.get("parent") is None and row["status"] == "complete":
            out.setdefault(row["study"], comparable(store.get(row["id"])["summary"]))
    return out


def test_the_comparison_names_the_field_and_skips_wall_clock():
    want = comparable({"run": "20261206-021654-36217c", "seconds": 9.8, "a": [{"test_acc": {"mean": 0.5}}],
                       "torch_ms": 0.6, "speed": {"x": {"train_img_per_s": 10.0}}, "steps": 100})
    got = comparable({"run": "20261207-000000-abcdef", "seconds": 1.0, "a": [{"test_acc": {"mean": 0.5001}}],
                      "torch_ms": 9.0, "speed": {"x": {"train_img_per_s": 99.0}}, "steps": 100})
    assert differences(got, want) == ["a.0.test_acc.mean: 0.5001 vs 0.5 (rel 0.0001, abs 1e-06)"]
    assert differences({**got, "steps": 101}, want)[-1] == "steps: 101 vs 100"
    assert differences(comparable({"x": 0.5 + 1e-6}), comparable({"x": 0.5})) == []  # within rel 1e-4
    assert differences({"corruption": "none"}, {}) == []  # a field added since, at its default
    assert differences({"corruption": "mask"}, {}) == ["corruption: not in the fixture"]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
    from nnstudy.store import Store

    found = study_summaries(Store(sys.argv[1]))
    FIXTURE.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{FIXTURE}: {len(found)} studies")
