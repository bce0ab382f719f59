"""The verdict rules (nnstudy.verdicts), one at a time, on stores whose per-seed child runs and
curves are written by hand: each rule must yield its words, and no rule may let a direction
through that the numbers do not carry."""

import math
import statistics

import pytest

from nnstudy.evidence import OPS, lookup, num
from nnstudy.store import Store
from nnstudy.verdicts import TOLERANCE, classify, edge_note, grid_edge, judge, t95


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs")


def child(store, parent, name, seed, final, curve=None, split="val"):
    """A complete per-seed training run: its final test accuracy and (optionally) a held-out curve."""
    rid = store.create_run("train", {"seed": seed, "steps": 100}, study="t", name=f"{name} seed {seed}",
                           parent=parent, seed=seed)
    if curve:
        n = len(curve)
        store.log_metrics(rid, [(round(i * 100 / (n - 1)), split, "acc", v) for i, v in enumerate(curve)])
    store.finish(rid, "complete", {"final": {"test_acc": final}})
    return rid


def row(store, parent, name, finals, curves=None):
    runs = [child(store, parent, name, s, f, curves[s] if curves else None) for s, f in enumerate(finals)]
    m = statistics.fmean(finals)
    sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
    acc = {"mean": m, "std": sd, "n": len(finals)}
    return {"name": name, "test_acc": acc, "train_acc": acc, "diverged": 0, "runs": runs}


def study(store, a, b, curves_a=None, curves_b=None, rows_without_runs=False):
    parent = store.create_run("study", {"study": "t"}, study="t", name="t")
    rows = [row(store, parent, "A", a, curves_a), row(store, parent, "B", b, curves_b)]
    if rows_without_runs:
        rows = [{**r, "runs": []} for r in rows]
    store.finish(parent, "complete", {"rows": rows})
    return store.get(parent)


def flat(final, n=11):
    return [final] * n


def rising(final, n=11):
    return [final - 0.3 + 0.3 * i / (n - 1) for i in range(n)]  # still climbing at the end


def verdict(store, run, **kw):
    return judge(store, run, "rows.0", "rows.1", classes=3, settle="the default profile", **kw)


# -- noise: paired differences over seeds ---------------------------------------------------------
def test_a_consistent_paired_gain_is_a_direction_even_when_seeds_scatter(store):
    # seeds differ a lot from each other (0.6 .. 0.8) but A beats B by 0.05 on every seed
    a, b = [0.65, 0.75, 0.85, 0.70, 0.80], [0.60, 0.70, 0.80, 0.65, 0.75]
    v = verdict(store, study(store, a, b))
    assert v.kind == "higher" and str(v.word) == "higher than"
    assert v.diff.op == "paired_mean" and v.diff.value == pytest.approx(0.05)
    assert v.lo.value > 0 and v.n.value == 5
    assert "95% interval" in str(v.interval()) and "paired by seed" in str(v.interval())


def test_two_seeds_carry_no_direction_however_equal_their_differences(store):
    # quick profile: 2 seeds whose differences are both +0.4 made an interval of width 0 ("+0.408 to +0.408")
    v = verdict(store, study(store, [0.9, 0.8], [0.5, 0.4]))
    assert v.kind == "unclear" and v.sign is None and "unclear with 2 seeds" in str(v.word)
    assert verdict(store, study(store, [0.9, 0.8, 0.85], [0.5, 0.4, 0.45])).kind == "higher"


def test_a_difference_inside_noise_is_unclear_with_n_seeds(store):
    a, b = [0.70, 0.78, 0.72], [0.74, 0.70, 0.75]
    v = verdict(store, study(store, a, b))
    assert v.kind == "unclear" and v.sign is None
    assert str(v.word) == "not clearly different from (unclear with 3 seeds)"


def test_about_the_same_only_when_the_interval_lies_inside_the_tolerance(store):
    a, b = [0.801, 0.752, 0.903, 0.651], [0.800, 0.750, 0.901, 0.653]
    v = verdict(store, study(store, a, b))
    assert v.kind == "same" and -TOLERANCE < v.lo.value and v.hi.value < TOLERANCE
    assert str(v.word) == "about the same as"


def test_without_per_seed_runs_the_interval_is_welchs_from_mean_and_std(store):
    v = verdict(store, study(store, [0.90, 0.91, 0.92], [0.50, 0.51, 0.52], rows_without_runs=True))
    assert v.kind == "higher" and v.diff.op == "sub" and v.lo.op == "welch_lo"
    # Welch: se = sqrt(2 * 0.01^2 / 3), df = 4
    assert v.hi.value - v.diff.value == pytest.approx(t95(4) * math.sqrt(2 * 0.01 ** 2 / 3))


def test_interval_records_recompute_from_their_args(store):
    v = verdict(store, study(store, [0.65, 0.75, 0.85], [0.60, 0.69, 0.82]))
    for x in (v.diff, v.lo, v.hi, v.n):
        vals = [lookup(store.get(a.run)["summary"], a.key) for a in x.args]
        assert OPS[x.op](*vals) == pytest.approx(x.value)


@pytest.mark.parametrize("lo, hi, kind", [(0.02, 0.05, "higher"), (-0.05, -0.02, "lower"), (-0.005, 0.008, "same"),
                                          (-0.02, 0.03, "unclear"), (0.001, 0.004, "same"), (None, 0.1, "unclear")])
def test_classify(lo, hi, kind):
    assert classify(lo, hi) == kind


# -- convergence ----------------------------------------------------------------------------------
def test_a_run_still_improving_is_not_settled_and_names_what_settles_it(store):
    a, b = [0.60, 0.61, 0.62], [0.80, 0.81, 0.82]  # A trails and is still climbing: it might catch up
    run = study(store, a, b, curves_a=[rising(x) for x in a], curves_b=[flat(x) for x in b])
    v = verdict(store, run)
    assert v.kind == "unsettled" and v.sign is None
    assert str(v.word) == "not settled at this budget (still improving; the default profile settles it)"
    (name, delta), = v.moved
    assert name == "A" and delta.value == pytest.approx(0.06) and delta.op == "curve_delta"


def test_flat_curves_have_converged_and_the_noise_rule_decides(store):
    a, b = [0.80, 0.81, 0.82], [0.60, 0.61, 0.62]
    run = study(store, a, b, curves_a=[flat(x) for x in a], curves_b=[flat(x) for x in b])
    assert verdict(store, run).kind == "higher"


def test_a_small_late_wobble_under_the_tolerance_counts_as_settled(store):
    a, b = [0.80, 0.81, 0.82], [0.60, 0.61, 0.62]
    wobble = [[x] * 9 + [x - 0.004, x] for x in a]
    assert verdict(store, study(store, a, b, curves_a=wobble)).kind == "higher"


# -- ceilings and chance --------------------------------------------------------------------------
def test_a_clear_gap_stands_when_the_trailing_side_falls_away(store):
    # an unstable trailing side (SGD losing accuracy late) gives more budget no way to close the gap
    falling = [[0.62 + 0.08 * (1 - i / 10) for i in range(11)] for _ in range(3)]  # 0.70 -> 0.62
    v = verdict(store, study(store, [0.80, 0.81, 0.82], [0.62, 0.62, 0.62],
                             curves_a=[flat(0.80), flat(0.81), flat(0.82)], curves_b=falling))
    assert v.kind == "higher" and "B: held-out accuracy still falling" in str(v.interval())
    rising_b = [[0.50 + 0.12 * i / 10 for i in range(11)] for _ in range(3)]  # the trailer climbs: it may close
    v = verdict(store, study(store, [0.80, 0.81, 0.82], [0.62, 0.62, 0.62],
                             curves_a=[flat(0.80), flat(0.81), flat(0.82)], curves_b=rising_b))
    assert v.kind == "unsettled"


def test_both_at_the_ceiling_are_not_ranked(store):
    v = verdict(store, study(store, [0.999, 0.998, 1.0], [0.991, 0.993, 0.992]))
    assert v.kind == "ceiling" and str(v.word) == "level with (both at the ceiling)"


def test_both_at_chance_are_not_ranked(store):
    v = verdict(store, study(store, [0.36, 0.34, 0.35], [0.31, 0.33, 0.30]))  # 3 classes: chance 1/3
    assert v.kind == "chance" and str(v.word) == "level with (both at chance)"


def test_one_at_chance_one_above_is_ranked(store):
    assert verdict(store, study(store, [0.90, 0.91, 0.92], [0.33, 0.34, 0.33])).kind == "higher"


# -- grid edges -----------------------------------------------------------------------------------
def test_a_best_value_at_the_edge_of_its_grid_is_flagged(store):
    run = study(store, [0.9, 0.9], [0.8, 0.8])
    grid = [1e-3, 1e-2, 1e-1, 1.0]
    assert grid_edge(grid, 1.0) == "highest" and grid_edge(grid, 1e-3) == "lowest" and grid_edge(grid, 1e-2) is None
    best = num(run, "rows.0.test_acc.n", "d")  # any stored number stands in for the best value
    assert "the highest of its grid" in str(edge_note([0, 1, 2], best, "width"))
    assert str(edge_note([1, 2, 3], best, "width")) == ""


def test_a_clear_leader_still_rising_keeps_its_direction_and_says_so(store):
    a, b = [0.80, 0.81, 0.82], [0.50, 0.51, 0.52]
    run = study(store, a, b, curves_a=[rising(x) for x in a], curves_b=[flat(x) for x in b])
    v = verdict(store, run)
    assert v.kind == "higher" and "A: held-out accuracy still rising" in str(v.interval())
    # ... but the trailing side rising makes it unsettled: it might catch up
    run = study(store, b, a, curves_a=[rising(x) for x in b], curves_b=[flat(x) for x in a])
    assert verdict(store, run).kind == "unsettled"


# -- the report, from a store of synthetic summaries with per-seed child runs ---------------------
def spiral_with_children(store, relu_adam, lin_adam, rising_side=None):
    """The spiral study's summary layout (test_report.spiral_summary) whose Adam cells carry
    per-seed child runs with held-out curves; `rising_side` ('linear+Adam') is still climbing."""
    from test_report import spiral_summary

    summary = spiral_summary()
    parent = store.create_run("study", {"study": "spiral", "profile": "quick", "seeds": [0, 1, 2]},
                              study="spiral", name="spiral")
    for i, name, finals in ((3, "ReLU+Adam", relu_adam), (1, "linear+Adam", lin_adam)):
        curves = [rising(f) if name == rising_side else flat(f) for f in finals]
        summary["factorial"][i] = row(store, parent, name, finals, curves)
    store.finish(parent, "complete", summary)
    return store.get(parent)


def test_report_says_unclear_never_a_direction_when_the_gap_is_inside_noise(store):
    from nnstudy.report import write_report

    spiral_with_children(store, relu_adam=[0.60, 0.68, 0.62], lin_adam=[0.63, 0.61, 0.64])
    md = open(write_report(store)["markdown"]).read()
    assert "Adding ReLU" in md and "with Adam (unclear with 3 seeds)" not in md
    assert "has no clear effect (unclear with 3 seeds) with Adam" in md
    assert "The activation's effect is unclear with these seeds" in md
    sheet = md.split("## The week's experiment")[0]
    assert "| not settled at this budget |" in sheet and "| supported |" not in sheet


def test_report_says_not_settled_when_the_trailing_run_still_improves(store):
    from nnstudy.report import write_report

    spiral_with_children(store, relu_adam=[0.80, 0.81, 0.82], lin_adam=[0.70, 0.71, 0.72], rising_side="linear+Adam")
    md = open(write_report(store)["markdown"]).read()
    assert "is not settled at this budget (still improving; `nnstudy run spiral --profile default` settles it) " \
           "with Adam" in md
    assert "Which change matters is not settled at this budget" in md
    assert "So the activation" not in md and "ReLU helps with Adam" not in md
    sheet = md.split("## The week's experiment")[0]
    assert "| not settled at this budget |" in sheet
