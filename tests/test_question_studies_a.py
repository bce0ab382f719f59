"""The week's questions 2, 5 and 6 as studies (activations, softmax, optimizers): each study's
specific claims at the quick profile (each study runs once per module), plus the pure helpers."""

import math
import re
from html import unescape

import pytest
import torch

from nnstudy.evidence import OPS, lookup, render_html
from nnstudy.references import REFERENCES
from nnstudy.store import Store
from nnstudy.studies import STUDIES, run_study
from test_report import check_direction


def quick(tmp_path_factory, name):
    store = Store(tmp_path_factory.mktemp(name) / "runs")
    return store, run_study(name, store, "quick", None, "cpu")


def rows_by_activation(rows):
    return {r["activation"]: r for r in rows}


def stored(store, r):
    """The value an evidence record claims, recomputed from the store or the references."""
    if "op" in r:
        return OPS[r["op"]](*(stored(store, a) for a in r["args"]))
    if "ref" in r:
        return REFERENCES[r["ref"]].value
    if "metric" in r:  # a point of a stored curve (verdicts.curve_delta)
        steps, vals = store.series(r["run"], *r["metric"].split("."))
        return vals[steps.index(r["step"])]
    return lookup(store.get(r["run"])["summary"], r["key"][len("summary."):])


def check_section(store, row):
    """Every number of the study's report section is the stored value, shown as its format says;
    every direction word follows from the two stored numbers; no digit in a sentence is typed."""
    section = STUDIES.get(row["study"])().section(store, row)
    rec = []
    paragraphs = [render_html(p, rec) for p in section.paragraphs]
    for table in section.tables:
        for cells in table["rows"]:
            for cell in cells:
                render_html(cell, rec)
    for r in rec:
        if r.get("rule") in ("verdict", "welch"):  # a word an interval decides (verdicts.judge, evidence.compare)
            check_direction(store, r)
        elif "dir" in r:
            a, b = stored(store, r["a"]), stored(store, r["b"])
            more, less, same = r["words"]
            assert r["dir"] == (more if a - b > r["tol"] else less if b - a > r["tol"] else same), r
        else:
            assert stored(store, r) == pytest.approx(r["value"], rel=1e-12), r
            assert format(r["value"], r["fmt"]) == r["shown"], r
    for html in paragraphs:
        text = unescape(re.sub(r"<[^>]+>", "", re.sub(r'<span class="num[^"]*"[^>]*>[^<]*</span>', "", html)))
        assert not re.search(r"\d", text), text
    assert all(path.is_file() for path, _ in section.figures)
    return len(rec)


# -- activations -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def activations(tmp_path_factory):
    return quick(tmp_path_factory, "activations")


def test_activations_records_every_run_and_figure(activations):
    store, row = activations
    s = row["summary"]
    children = store.runs(parent=row["id"])
    assert len(children) == 2 * 6 * len(s["seeds"])
    assert all(c["status"] == "complete" for c in children)
    for name in ("derivatives", "boundaries", "accuracy", "curves", "gradient_norms", "output_ranges"):
        assert (store.run_dir(row["id"]) / f"{name}.png").stat().st_size > 5000
    # Gradient norms are in the store as metrics of each Fashion-MNIST run, per hidden layer.
    steps, norms = store.series(s["fashion"][0]["runs"][0], "probe:h1", "grad_z")
    assert steps[0] == 0 and len(steps) > 3 and all(n > 0 for n in norms)


def test_without_an_activation_the_spiral_stays_near_chance(activations):
    _, row = activations
    sp = rows_by_activation(row["summary"]["spiral"])
    assert sp["none"]["test_acc"]["mean"] < 0.6  # three interleaved arms, straight cuts only
    for act in ("tanh", "relu", "leaky_relu", "gelu"):
        assert sp[act]["test_acc"]["mean"] > sp["none"]["test_acc"]["mean"] + 0.25, act
        assert sp[act]["to_target"]["reached"] == len(row["summary"]["seeds"]), act
    assert sp["none"]["to_target"]["reached"] == 0 and sp["none"]["to_target"]["steps"]["mean"] is None


def test_activations_section_is_built_from_the_store(activations):
    assert check_section(*activations) > 100


def test_derivative_curves_are_the_textbook_ones(activations):
    _, row = activations
    d = row["summary"]["derivatives"]
    assert d["sigmoid"]["df_max"] == pytest.approx(0.25, abs=1e-6)
    assert d["tanh"]["df_max"] == pytest.approx(1.0, abs=1e-6)
    assert d["relu"]["df_at_0"] == 0.0 and max(d["relu"]["df"]) == 1.0
    assert min(d["leaky_relu"]["df"]) == pytest.approx(0.01)
    assert set(d["none"]["df"]) == {1.0}
    x = torch.tensor(d["x"])
    assert torch.allclose(torch.tensor(d["sigmoid"]["f"]), torch.sigmoid(x), atol=1e-5)


def test_sigmoid_gradient_shrinks_toward_the_input_faster_than_relu(activations):
    _, row = activations
    fm = rows_by_activation(row["summary"]["fashion"])

    def per_layer_shrink(act):  # mean factor by which ||dL/db|| grows per hidden layer toward the output
        b = [g["mean"] for g in fm[act]["grad"]["init"]["grad_z"]]  # hidden layers, input first
        return (b[-1] / b[0]) ** (1 / (len(b) - 1))

    sig, relu = per_layer_shrink("sigmoid"), per_layer_shrink("relu")
    # Theory at PyTorch's default init (Var W = 1/(3 fan_in)): sigmoid' <= 1/4 gives ~7x a layer,
    # ReLU ~2.4x. Measured (quick): about 7.5x and 2.1x.
    assert sig > 4.0 and relu < 3.5 and sig > 2 * relu


def test_measured_output_ranges_respect_each_function(activations):
    _, row = activations
    fm = rows_by_activation(row["summary"]["fashion"])
    for layer in fm["sigmoid"]["hidden"]:
        assert 0.0 <= layer["min"]["mean"] and layer["max"]["mean"] <= 1.0
    for layer in fm["tanh"]["hidden"]:
        assert -1.0 <= layer["min"]["mean"] and layer["max"]["mean"] <= 1.0
    for layer in fm["relu"]["hidden"]:
        assert layer["min"]["mean"] == 0.0 and layer["flat_frac"]["mean"] > 0.2  # z < 0: no gradient
    for layer in fm["leaky_relu"]["hidden"]:
        assert layer["min"]["mean"] < 0.0 and layer["flat_frac"]["mean"] == 0.0  # slope 0.01 is above FLAT
    for layer in fm["none"]["hidden"]:
        assert layer["flat_frac"]["mean"] == 0.0 and layer["min"]["mean"] < -1.0
    assert all(math.isfinite(r["test_acc"]["mean"]) for r in fm.values())


def test_flat_share_counts_the_derivatives_magnitude_not_its_sign():
    """GELU's derivative is negative for z below about -0.75 (about -0.13 at its least): such a
    unit passes a gradient back, so it is not flat; a signed test would count it."""
    from types import SimpleNamespace

    from nnstudy.models.mlp import MLP, HiddenLayer
    from nnstudy.studies.activations import FLAT, hidden_stats

    model = MLP(1, 2, width=1, depth=1, activation="gelu")
    layer = next(m for m in model.modules() if isinstance(m, HiddenLayer))
    with torch.no_grad():  # one unit with weight 1 and bias 0: z = x
        layer.linear.weight.fill_(1.0)
        layer.linear.bias.zero_()
    z = torch.tensor([[-1.0], [-0.9], [-20.0], [2.0]])  # two negative slopes, one flat, one ~1
    (stats,) = hidden_stats(model, SimpleNamespace(prepare=lambda x: x, x_test=z))
    assert stats["flat_frac"] == pytest.approx(0.25) and FLAT < 0.01


# -- softmax ---------------------------------------------------------------------------------------
def test_naive_softmax_overflows_where_log_sum_exp_does_not():
    from nnstudy.studies.softmax import overflow_demo

    o = overflow_demo()
    assert o["first_inf"] == 89 and o["max_exp_arg"] == pytest.approx(88.7228, abs=1e-3)
    assert o["exp"][0] == "inf" and o["below_arg"] == 88 and math.isfinite(o["exp_below"]) and o["exp_below"] > 1e38
    assert o["naive"][0] == "nan" and o["naive_ce"] == ["nan"] and o["naive_has_nan"]
    assert o["stable"][0] == pytest.approx(1.0) and sum(o["stable"]) == pytest.approx(1.0)
    assert o["stable_ce"][0] == pytest.approx(math.log(1 + math.exp(-89) + math.exp(-90)), abs=1e-6)
    assert o["naive_low"] == ["nan"] * 3  # every exp underflows: 0 / 0
    assert sum(o["stable_low"]) == pytest.approx(1.0)
    naive = [v for v in o["sweep"]["naive"] if v is not None and math.isfinite(v)]
    assert len(naive) == 89  # a = 0 .. 88 survive, 89 .. 120 are NaN


def test_ece_matches_a_hand_computation():
    from nnstudy.studies.softmax import reliability

    p = torch.tensor([[0.8, 0.2]] * 10)
    y = torch.tensor([0] * 8 + [1] * 2)  # 80% right at 80% confidence: calibrated
    assert reliability(p, y)["ece"] == pytest.approx(0.0, abs=1e-6)
    assert reliability(p, torch.ones(10, dtype=torch.long))["ece"] == pytest.approx(0.8, abs=1e-6)
    # Six predictions, top-label confidences 0.95, 0.95, 0.62, 0.62, 0.62, 0.35 (three classes):
    # 15 bins of width 1/15: 0.95 -> bin 14 [0.933, 1], 0.62 -> bin 9 [0.6, 0.667), 0.35 -> bin 5 [0.333, 0.4).
    p = torch.tensor([[0.95, 0.03, 0.02], [0.02, 0.95, 0.03], [0.62, 0.2, 0.18],
                      [0.2, 0.62, 0.18], [0.18, 0.2, 0.62], [0.35, 0.33, 0.32]])
    y = torch.tensor([0, 0, 0, 1, 0, 2])  # bin 14: 1 of 2 right; bin 9: 2 of 3 right; bin 5: 0 of 1 right
    # ECE = sum over bins of (n_b / N) |acc_b - conf_b| = 2/6 |0.5 - 0.95| + 3/6 |2/3 - 0.62| + 1/6 |0 - 0.35|
    hand = 2 / 6 * 0.45 + 3 / 6 * (2 / 3 - 0.62) + 1 / 6 * 0.35
    rel = reliability(p, y)
    assert rel["ece"] == pytest.approx(hand, abs=1e-6)  # 0.2333...
    assert [i for i, c in enumerate(rel["count"]) if c] == [5, 9, 14]
    assert rel["accuracy"][9] == pytest.approx(2 / 3) and rel["confidence"][14] == pytest.approx(0.95)


def test_each_loss_reads_its_outputs_through_its_own_model_of_the_one_hot_target():
    from nnstudy.studies.softmax import log_probabilities, scale

    z = torch.tensor([[2.0, -1.0, 0.5], [-3.0, -2.0, -4.0], [0.3, 1.7, 0.1]])
    onehot = torch.eye(3)  # the C possible targets e_k
    # BCE: independent Bernoullis; P(target = e_k) normalised over k is softmax(z)
    q = z.sigmoid()[:, None, :]  # (N, 1, C)
    bern = torch.where(onehot[None].bool(), q, 1 - q).prod(2)  # (N, k): P(e_k) under the product model
    assert torch.allclose(bern / bern.sum(1, keepdim=True), log_probabilities(z, scale("bce", 0.7, 3)).exp(),
                          atol=1e-6)
    # MSE: a Gaussian of mean z, variance s per output; its density at e_k, normalised over k, is softmax(z / s)
    s = scale("mse", 0.3, 3)
    assert s == pytest.approx(0.1)  # the training squared error (summed over classes) per output
    log_density = -((onehot[None] - z[:, None, :]) ** 2).sum(2) / (2 * s)  # (N, k), up to a constant
    assert torch.allclose(log_density.softmax(1), log_probabilities(z, s).exp(), atol=1e-6)  # normalised over k
    assert scale("cross_entropy", 0.3, 3) == 1.0
    assert torch.allclose(log_probabilities(z).exp(), z.softmax(1))  # CE: the softmax itself
    for loss in ("cross_entropy", "mse", "bce"):  # every map gives a distribution with full support
        p = log_probabilities(z, scale(loss, 0.3, 3)).exp()
        assert torch.allclose(p.sum(1), torch.ones(3)) and (p > 0).all(), loss


def test_temperature_fit_recovers_a_known_temperature():
    from nnstudy.studies.softmax import LOG_T, fit_temperature

    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 5, generator=g) * 2
    y = torch.multinomial(z.softmax(1), 1, generator=g).squeeze(1)  # labels drawn from softmax(z)
    assert fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.05)  # overconfident by 3x
    assert fit_temperature(z, y) == pytest.approx(1.0, rel=0.05)
    assert fit_temperature(z / 4, y) == pytest.approx(0.25, rel=0.05)  # underconfident
    right = z.argmax(1)  # a split the net gets all right: the NLL falls as T shrinks, to the range's edge
    assert fit_temperature(z, right) == pytest.approx(math.exp(LOG_T[0]), rel=1e-3)


def test_the_shared_temperature_fit_lowers_validation_nll_for_every_loss():
    """One synthetic truth, three miscalibrated nets, one per loss's reading, one fitting code."""
    from nnstudy.studies.softmax import fit_temperature, log_probabilities, nll, scale

    g = torch.Generator().manual_seed(1)
    z = torch.randn(5000, 10, generator=g) * 1.5
    y = torch.multinomial(z.softmax(1), 1, generator=g).squeeze(1)  # the true probabilities: softmax(z)
    s_mse = scale("mse", 0.2, 10)
    outputs = {"cross_entropy": 3 * z,  # overconfident logits
               "bce": z / 2,  # underconfident log-odds
               "mse": s_mse * 4 * z}  # softmax(out / s) = softmax(4z): overconfident
    for loss, out, t_true in (("cross_entropy", outputs["cross_entropy"], 3.0), ("bce", outputs["bce"], 0.5),
                              ("mse", outputs["mse"], 4.0)):
        logp = log_probabilities(out, scale(loss, 0.2, 10))
        t = fit_temperature(logp, y)
        assert t == pytest.approx(t_true, rel=0.1), loss
        assert nll(logp, y, t) < nll(logp, y) - 0.02, loss
        assert nll(logp, y, t) == pytest.approx(nll(z.log_softmax(1), y), abs=0.02), loss  # back to the truth


@pytest.fixture(scope="module")
def softmax_run(tmp_path_factory):
    return quick(tmp_path_factory, "softmax")


def test_softmax_study_stores_predictions_and_ece_matches_them(softmax_run):
    from nnstudy.studies.shared import load_tensors
    from nnstudy.studies.softmax import PREDICTIONS, log_probabilities, reliability, scale

    store, row = softmax_run
    s = row["summary"]
    assert len(store.runs(parent=row["id"])) == 2 * 3 * len(s["seeds"])
    for name in ("reliability", "accuracy_ece", "curves", "overflow"):
        assert (store.run_dir(row["id"]) / f"{name}.png").stat().st_size > 5000
    for key, classes in (("spiral", 3), ("fashion", 10)):
        for r in s[key]:
            eces, scaled = [], []
            for rid, t in zip(r["by_seed"]["run"], r["by_seed"]["temperature"]):
                d = load_tensors(store, rid, PREDICTIONS)
                child = store.get(rid)["summary"]
                assert d["test_outputs"].shape == (child["n_test"], classes)
                assert d["scale"] == scale(r["loss"], child["final"]["train_loss"], classes)
                logp = log_probabilities(d["test_outputs"], d["scale"])
                eces.append(reliability(logp.exp(), d["test_labels"])["ece"])
                scaled.append(reliability((logp / t).softmax(1), d["test_labels"])["ece"])
            assert r["by_seed"]["run"] == r["runs"]
            assert sum(eces) / len(eces) == pytest.approx(r["ece"]["mean"], abs=1e-9)
            assert sum(scaled) / len(scaled) == pytest.approx(r["ece_scaled"]["mean"], abs=1e-9)


def test_softmax_section_is_built_from_the_store(softmax_run):
    assert check_section(*softmax_run) > 100


def test_every_loss_gets_the_same_recalibration_and_it_helps_on_fashion(softmax_run):
    _, row = softmax_run
    seeds = len(row["summary"]["seeds"])
    fm = {r["loss"]: r for r in row["summary"]["fashion"]}
    for loss, r in fm.items():  # every loss: a temperature per seed, fitted inside its range
        assert r["temperature"]["n"] == seeds and r["fits_at_edge"] == 0, loss
        assert r["nll_scaled"]["mean"] <= r["nll"]["mean"] + 0.02, loss  # fitted on val, scored on test
        assert r["ece_scaled"]["mean"] <= r["ece"]["mean"] + 0.02, loss
    mse = fm["mse"]  # read through its Gaussian, MSE is overconfident; the temperature softens it
    assert mse["confidence"]["mean"] > mse["test_acc"]["mean"] + 0.05 and mse["temperature"]["mean"] > 2
    assert mse["ece_scaled"]["mean"] < mse["ece"]["mean"] - 0.05
    for r in row["summary"]["spiral"]:  # every loss learns the spiral (the net is the week's ReLU net)
        assert r["test_acc"]["mean"] > 0.9, r["name"]
    g = row["summary"]["gradients"]  # confidently wrong: CE's gradient stays near -1, MSE on softmax vanishes
    assert g["ce"] == pytest.approx(g["p_label"] - 1) and abs(g["mse_softmax"]) < 0.01 and g["mse_raw"] == -2


def test_softmax_section_closes_on_the_answer_sheets_verdict(softmax_run):
    from nnstudy.studies import load_all

    store, row = softmax_run
    study = load_all().get("softmax")()
    a, section = study.answer(store, row), study.section(store, row)
    last = str(section.paragraphs[-1])
    assert last == "Verdict on the week's claim: " + a.verdict + ". " + str(a.why)
    assert "How each loss's outputs z become probabilities" in "".join(str(p) for p in section.paragraphs)
    cited = {r["source"] for r in section.references}
    assert any(src.startswith("Hui and Belkin") for src in cited)


# -- optimizers ------------------------------------------------------------------------------------
def test_descend_groups_match_one_optimizer_each():
    from nnstudy.config import TrainConfig
    from nnstudy.optim import make_optimizer
    from nnstudy.studies.optimizers import descend, rosenbrock

    runs = descend(rosenbrock, (-1.2, 1.0), {"optimizer": "adam"}, (1e-3, 1e-1), 20)
    p = torch.tensor((-1.2, 1.0), dtype=torch.float64, requires_grad=True)
    opt = make_optimizer(TrainConfig(optimizer="adam", lr=1e-1), [p])
    for _ in range(20):
        opt.zero_grad()
        rosenbrock(p).backward()
        opt.step()
    path, vals, blown = runs[1]
    assert not blown and len(path) == 21 and path[0] == [-1.2, 1.0]
    assert path[-1] == pytest.approx(p.detach().tolist(), abs=1e-12)
    assert vals[-1] == pytest.approx(rosenbrock(p).item(), abs=1e-12)
    assert runs[0][0][-1] != path[-1]  # the other group moved at its own rate


@pytest.fixture(scope="module")
def optimizers_run(tmp_path_factory):
    return quick(tmp_path_factory, "optimizers")


def test_optimizers_section_is_built_from_the_store(optimizers_run):
    assert check_section(*optimizers_run) > 150


def test_optimizer_state_memory_is_measured(optimizers_run):
    _, row = optimizers_run
    mem = row["summary"]["memory"]
    # float32 state per parameter: none for SGD, one buffer for momentum/Nesterov/RMSprop, two for
    # Adam/AdamW (plus one scalar `step` per parameter tensor: a few bytes in ~1e5 parameters).
    assert mem["SGD"]["bytes"] == 0
    for name in ("SGD+momentum", "Nesterov", "RMSprop"):
        assert mem[name]["bytes_per_param"] == pytest.approx(4.0, abs=0.01), name
    for name in ("Adam", "AdamW"):
        assert mem[name]["bytes_per_param"] == pytest.approx(8.0, abs=0.01), name
        assert mem[name]["state"] == ["exp_avg", "exp_avg_sq", "step"]


def test_learning_rate_is_chosen_on_validation_and_grid_is_complete(optimizers_run):
    store, row = optimizers_run
    s = row["summary"]
    n_seeds = len(s["seeds"])
    n_grid = sum(len(s["lrs"][k]) for k in ("spiral", "fashion")) * len(s["variants"])
    assert len(store.runs(parent=row["id"])) == n_grid * n_seeds
    for key in ("spiral", "fashion"):
        for best in s[key]["best"]:
            rows = [r for r in s[key]["grid"] if r["optimizer"] == best["optimizer"]]
            assert best["val_acc"]["mean"] == max(r["val_acc"]["mean"] for r in rows if r["val_acc"]["n"])
            gap = best["train_acc"]["mean"] - best["test_acc"]["mean"]
            assert best["gap"]["mean"] == pytest.approx(gap, abs=1e-9)
    spiral = {(r["optimizer"], r["lr"]): r["test_acc"]["mean"] for r in s["spiral"]["grid"]}
    # Sensitivity: at lr 0.01 Adam has learnt the spiral, plain SGD has not (it needs ~100x more).
    assert spiral[("Adam", 0.01)] > 0.9 and spiral[("SGD", 0.01)] < spiral[("Adam", 0.01)] - 0.2


def test_trajectories_are_stored_and_momentum_beats_sgd_on_rosenbrock(optimizers_run):
    import json

    store, row = optimizers_run
    surf = row["summary"]["surfaces"]
    data = json.loads((store.run_dir(row["id"]) / "trajectories.json").read_text())
    steps = data["steps"]
    for sname in ("rosenbrock", "quadratic"):
        for name, p in data["surfaces"][sname].items():
            assert len(p["path"]) == steps + 1 and p["path"][0] == surf[sname]["start"]
            assert p["values"][-1] == pytest.approx(surf[sname]["optimizers"][name]["final"])
    ros = surf["rosenbrock"]["optimizers"]
    assert ros["SGD+momentum"]["final"] < ros["SGD"]["final"] / 10
    assert all(o["final"] < 1e-2 for o in surf["quadratic"]["optimizers"].values())
    assert (store.run_dir(row["id"]) / "trajectories.png").stat().st_size > 5000
