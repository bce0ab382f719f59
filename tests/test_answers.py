"""The answer sheet's line of each of the six questions (Study.answer), on stores whose summaries
are written by hand in each study's layout, with per-seed child runs and held-out curves: the
verdict must follow the rules (nnstudy.verdicts), and a difference inside noise, a run still
improving, too few seeds or a best learning rate at its grid's edge must never yield a direction."""

import statistics

import pytest

from nnstudy.evidence import OPS, lookup
from nnstudy.report import write_report
from nnstudy.store import Store
from nnstudy.studies import VERDICTS, load_all
from nnstudy.verdicts import mean_interval
from test_report import CHROMIUM, sheet_rows_and_bottom
from test_verdicts import flat, rising, spiral_with_children
from test_verdicts import row as seeded_row


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs")


def study_run(store, name, build, seeds=(0, 1, 2)):
    """A complete study run whose summary `build(parent)` writes (its rows' child runs under it)."""
    parent = store.create_run("study", {"study": name, "profile": "quick", "seeds": list(seeds)}, study=name,
                              name=name)
    store.finish(parent, "complete", build(parent))
    return store.get(parent)


def cell(store, parent, name, finals, moving=False, **extra):
    """A summary row over len(finals) seeds; `moving`: its held-out curves still climb at the end."""
    curves = [rising(f) if moving else flat(f) for f in finals]
    return {**seeded_row(store, parent, name, finals, curves), **extra}


def answer_of(store, study, run):
    a = load_all().get(study)().answer(store, run)
    assert a.verdict in VERDICTS
    return a


CLEAR = ([0.80, 0.82, 0.81], [0.60, 0.63, 0.61])  # a gap of about 0.2 on every seed
NOISE = ([0.70, 0.78, 0.72], [0.74, 0.70, 0.75])  # seed-to-seed scatter larger than the gap
SAME = ([0.801, 0.752, 0.903], [0.800, 0.750, 0.901])  # inside ±0.01 on every seed


# -- Q2 activations: ReLU against no activation on the spiral --------------------------------------
def activations(store, relu, none, moving=False, seeds=(0, 1, 2)):
    def build(p):
        rows = [cell(store, p, "none (linear)", none, moving=moving, activation="none"),
                cell(store, p, "ReLU", relu, activation="relu")]
        return {"spiral": rows}
    return study_run(store, "activations", build, seeds)


@pytest.mark.parametrize("relu, none, moving, expect", [
    # a clear non-linearity gain is "partly": the week's range, gradient and speed roles hold only in part
    (*CLEAR, False, "partly supported"), (*reversed(CLEAR), False, "not supported"), (*SAME, False, "not supported"),
    (*NOISE, False, "not settled at this budget"), (*CLEAR, True, "not settled at this budget"),
    ([0.9, 0.8], [0.5, 0.4], False, "not settled at this budget")])
def test_q2_verdict_follows_the_rules(store, relu, none, moving, expect):
    a = answer_of(store, "activations", activations(store, relu, none, moving))
    assert a.verdict == expect
    if expect == "not settled at this budget":
        assert "ReLU ahead" not in str(a.why) and "no activation ahead" not in str(a.why)


# -- Q5 softmax: softmax + CE against MSE on Fashion-MNIST -----------------------------------------
def softmax(store, ce, mse, moving=False):
    return study_run(store, "softmax", lambda p: {"fashion": [
        cell(store, p, "softmax + CE", ce, loss="cross_entropy"),
        cell(store, p, "MSE on one-hot", mse, moving=moving, loss="mse")]})


@pytest.mark.parametrize("ce, mse, moving, expect, ranked", [
    (*CLEAR, False, "supported", True), (*SAME, False, "partly supported", False),
    # MSE ahead in accuracy refutes only "improves decisions": the distribution roles hold by construction
    (*reversed(CLEAR), False, "partly supported", True),
    (*NOISE, False, "not settled at this budget", False), (*CLEAR, True, "not settled at this budget", False)])
def test_q5_verdict_follows_the_rules(store, ce, mse, moving, expect, ranked):
    a = answer_of(store, "softmax", softmax(store, ce, mse, moving))
    assert a.verdict == expect
    assert ("ahead" in str(a.why)) == ranked


def test_q5_a_gap_inside_the_tolerance_but_clear_of_zero_is_level_and_named(store):
    # MSE ahead on every seed by about half a point: "level" by the practical tolerance, yet measurable
    a = answer_of(store, "softmax", softmax(store, [0.800, 0.750, 0.900], [0.805, 0.756, 0.904]))
    assert a.verdict == "partly supported"
    assert "level (the difference's 95% interval lies inside ±0.01; the interval excludes zero: a gap in favour " \
           "of MSE, smaller than 0.01)" in str(a.why) and "ahead" not in str(a.why)
    a = answer_of(store, "softmax", softmax(store, [0.800, 0.750, 0.900], [0.801, 0.749, 0.902]))
    assert a.verdict == "partly supported"  # an interval straddling zero names no one
    assert "excludes zero" not in str(a.why) and "Hui and Belkin" in str(a.why)


# -- Q6 optimizers: Adam against SGD, each at its best learning rate -------------------------------
GRID = [1e-3, 1e-2, 1e-1, 1.0]


def optimizers(store, adam, sgd, adam_lr=1e-2, sgd_lr=1e-1):
    return study_run(store, "optimizers", lambda p: {"lrs": {"fashion": GRID}, "fashion": {"best": [
        cell(store, p, "SGD", sgd, optimizer="SGD", lr=sgd_lr),
        cell(store, p, "Adam", adam, optimizer="Adam", lr=adam_lr)]}})


def test_q6_adam_ahead_at_interior_rates_is_partly_supported(store):
    # "converges faster" borne out; the claim's other halves are not tested by the study
    a = answer_of(store, "optimizers", optimizers(store, *CLEAR))
    assert a.verdict == "partly supported" and "Adam ahead" in str(a.why) and "edge" not in str(a.why)
    assert "not tested here" in str(a.why)
    assert "95% interval" in str(a.number)


def test_q6_a_trailing_side_at_its_grids_edge_is_not_settled_and_flagged(store):
    a = answer_of(store, "optimizers", optimizers(store, *CLEAR, sgd_lr=1.0))  # SGD might do better above 1
    assert a.verdict == "not settled at this budget"
    assert "The best learning rate for SGD, 1, is the highest of its grid" in str(a.why)
    # the winner at an edge can only widen its lead: the direction stands, still flagged
    a = answer_of(store, "optimizers", optimizers(store, *CLEAR, adam_lr=1e-3))
    assert a.verdict == "partly supported" and "for Adam, 0.001, is the lowest of its grid" in str(a.why)


def test_q6_level_or_behind_is_not_supported_unless_adam_sits_at_an_edge(store):
    assert answer_of(store, "optimizers", optimizers(store, *SAME)).verdict == "not supported"
    assert answer_of(store, "optimizers", optimizers(store, *reversed(CLEAR))).verdict == "not supported"
    assert answer_of(store, "optimizers", optimizers(store, *SAME, adam_lr=1.0)).verdict == "not settled at this budget"
    assert answer_of(store, "optimizers", optimizers(store, *NOISE)).verdict == "not settled at this budget"


# -- Q1 lenet-alexnet: AlexNet against LeNet, and its ideas ----------------------------------------
ABLATED = ("alexnet-sigmoid", "alexnet-tanh", "alexnet-nodrop", "alexnet-shallow")


def lenet_alexnet(store, alexnet, lenet, ablated, modern=None):
    def build(p):
        rows = [cell(store, p, "AlexNet", alexnet, key="alexnet"), cell(store, p, "LeNet", lenet, key="lenet5")]
        if modern is not None:
            rows.append(cell(store, p, "modern LeNet", modern, key="lenet5-modern"))
        rows += [cell(store, p, k, ablated[k], key=k) for k in ABLATED]
        return {"fashion": rows, "ablations": [{"key": k} for k in ABLATED]}
    return study_run(store, "lenet-alexnet", build)


def test_q1_supported_only_when_alexnet_wins_and_every_idea_pays(store):
    alex, low = [0.80, 0.82, 0.81], [0.60, 0.63, 0.61]
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, alex, low, {k: low for k in ABLATED}))
    assert a.verdict == "supported" and "AlexNet ahead" in str(a.why)
    level = {**{k: low for k in ABLATED}, "alexnet-nodrop": [0.801, 0.821, 0.809]}  # dropout buys nothing
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, alex, low, level))
    assert a.verdict == "partly supported" and "dropout makes no difference" in str(a.why)


def test_q1_a_modern_lenet_ahead_of_alexnet_keeps_the_claim_partly_supported(store):
    alex, low = [0.80, 0.82, 0.81], [0.60, 0.63, 0.61]
    high = [0.90, 0.91, 0.92]  # LeNet's layers with ReLU, max pooling and batch norm beat AlexNet
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, alex, low, {k: low for k in ABLATED}, modern=high))
    assert a.verdict == "partly supported"
    assert "AlexNet ahead; against modern LeNet: modern LeNet ahead" in str(a.why)
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, alex, low, {k: low for k in ABLATED}, modern=low))
    assert a.verdict == "supported" and "against modern LeNet: AlexNet ahead" in str(a.why)
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, alex, low, {k: low for k in ABLATED},
                                                         modern=[0.9, 0.5, 0.7]))  # inside noise: no win
    assert a.verdict == "partly supported" and "unclear with 3 seeds" in str(a.why)


def test_q1_alexnet_level_or_inside_noise_never_reads_as_a_win(store):
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, *SAME, {k: SAME[1] for k in ABLATED}))
    assert a.verdict == "not supported"
    a = answer_of(store, "lenet-alexnet", lenet_alexnet(store, *NOISE, {k: NOISE[1] for k in ABLATED}))
    assert a.verdict == "not settled at this budget" and "AlexNet ahead" not in str(a.why)


# -- Q4 width-depth: "it depends" needs a sign change ----------------------------------------------
def width_depth(store, spiral, fashion):
    """spiral, fashion: (wide finals, deep finals) at one budget each."""
    def build(p):
        grids = {}
        for kind, (wide, deep), budget in (("spiral", spiral, 1000), ("fashion", fashion, 20000)):
            grids[kind] = [cell(store, p, f"{kind} wide", wide, budget=budget, depth=1),
                           cell(store, p, f"{kind} deep", deep, budget=budget, depth=4)]
        return {"grids": grids}
    return study_run(store, "width-depth", build)


@pytest.mark.parametrize("spiral, fashion, expect", [
    (CLEAR, tuple(reversed(CLEAR)), "supported"), (CLEAR, CLEAR, "not supported"), (SAME, SAME, "not supported"),
    (CLEAR, SAME, "partly supported"), (CLEAR, NOISE, "not settled at this budget")])
def test_q4_it_depends_is_supported_only_by_a_settled_sign_change(store, spiral, fashion, expect):
    a = answer_of(store, "width-depth", width_depth(store, spiral, fashion))
    assert a.verdict == expect
    if expect == "supported":  # both comparisons that show the change are the deciding numbers
        assert str(a.number).count("95% interval") == 2


# -- Q3 vanishing: the per-layer factor, then the fixes --------------------------------------------
def vanishing(store, factors, fix, base=CLEAR[1]):
    """factors: the sigmoid net's per-layer gradient factor per seed; fix: a fix's finals."""
    def build(p):
        per_layer = {"mean": statistics.fmean(factors), "std": statistics.stdev(factors), "n": len(factors)}
        rows = [cell(store, p, "sigmoid", base, arm="sigmoid", per_layer=per_layer),
                cell(store, p, "relu + kaiming", fix, arm="relu + kaiming", per_layer=per_layer)]
        return {"fixes": [{"depth": 10, "width": 30, "epochs": 10, "chance": 0.1, "rows": rows}]}
    return study_run(store, "vanishing", build)


@pytest.mark.parametrize("factors, fix, base, expect", [
    ([0.24, 0.25, 0.26], *CLEAR, "supported"), ([0.24, 0.25, 0.26], *SAME, "partly supported"),
    ([0.24, 0.25, 0.26], *NOISE, "partly supported"), ([0.9, 1.1, 1.0], *CLEAR, "not settled at this budget"),
    ([1.3, 1.31, 1.32], *CLEAR, "not supported"), ([0.24, 0.25], *CLEAR, "not settled at this budget")])
def test_q3_verdict_needs_a_shrinking_gradient_first(store, factors, fix, base, expect):
    a = answer_of(store, "vanishing", vanishing(store, factors, fix, base))
    assert a.verdict == expect
    why = str(a.why)
    assert ("shrinks layer by layer" in why) == (expect in ("supported", "partly supported"))
    assert ("exploding" in why) == (expect == "not supported")


def test_mean_interval_records_recompute_from_the_store(store):
    run = vanishing(store, [0.24, 0.25, 0.26], CLEAR[0])
    m, lo, hi, n = mean_interval(run, "fixes.0.rows.0.per_layer")
    for x in (lo, hi):
        vals = [lookup(store.get(a.run)["summary"], a.key) for a in x.args]
        assert OPS[x.op](*vals) == pytest.approx(x.value)
    assert lo.value < m.value < hi.value and n.value == 3


# -- the report: a synthetic store's sheet and section say "not settled", never a direction --------
def test_report_sheet_and_section_never_rank_a_difference_inside_noise(store, monkeypatch):
    from nnstudy.studies import Section

    for name in ("activations", "softmax"):  # these summaries hold only what answer() reads
        monkeypatch.setattr(load_all().get(name), "section", lambda self, store, run: Section(self.title))
    activations(store, *NOISE)
    softmax(store, *CLEAR, moving=True)  # MSE trails and still climbs: it might catch up
    md = open(write_report(store)["markdown"]).read()
    sheet = md.split("## The week's experiment")[0]
    for q in ("Q2. What do activation functions do?", "Q5. Why use softmax?"):
        line = next(ln for ln in sheet.splitlines() if ln.startswith(f"| {q}"))
        assert "| not settled at this budget |" in line, line
    assert "ReLU ahead" not in md and "softmax + CE ahead" not in md
    assert "unclear with 3 seeds" in md and "still improving" in md
    section = md.split("### Q2. What do activation functions do?")[1]
    assert section.split("\n\n")[2].startswith("**not settled at this budget.** Non-linearity and expressive power")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
def test_first_screen_holds_all_seven_answers_with_their_longest_numbers(store, tmp_path, monkeypatch):
    from nnstudy.studies import Section

    for name in ("lenet-alexnet", "activations", "vanishing", "width-depth", "softmax", "optimizers"):
        monkeypatch.setattr(load_all().get(name), "section", lambda self, store, run: Section(self.title))
    spiral_with_children(store, relu_adam=[0.60, 0.68, 0.62], lin_adam=[0.63, 0.61, 0.64])
    lenet_alexnet(store, *NOISE, {k: NOISE[1] for k in ABLATED})
    activations(store, *NOISE)
    vanishing(store, [0.24, 0.25, 0.26], *NOISE)
    width_depth(store, CLEAR, tuple(reversed(CLEAR)))  # two intervals: the longest number
    softmax(store, *CLEAR, moving=True)
    optimizers(store, *NOISE, sgd_lr=1.0)
    html_text = open(write_report(store)["html"]).read()
    assert html_text.count("not judged yet") == 0 and html_text.count("no complete run") == 0
    found = sheet_rows_and_bottom(html_text, tmp_path)
    assert found and found[0] == 7 and found[1] <= 1100, found
