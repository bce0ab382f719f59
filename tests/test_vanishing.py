"""The vanishing study's claims at its quick profile (runs once for the module), and Nielsen's recipe."""

import pytest
import torch

from nnstudy.evidence import OPS, Part, lookup
from nnstudy.references import REFERENCES, ref
from nnstudy.store import Store
from nnstudy.studies import STUDIES, run_study
from nnstudy.studies.vanishing.nielsen import nielsen_init, nielsen_loss


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("vanishing") / "runs")
    return store, run_study("vanishing", store, "quick", None, "cpu")


def cell(s, act, init, arch):
    return next(c for c in s["init_grid"]["cells"] if (c["activation"], c["init"], c["arch"]) == (act, init, arch))


def row(part, arm, **kw):
    return next(r for r in part["rows"] if r["arm"] == arm and all(r[k] == v for k, v in kw.items()))


def test_nielsen_recipe():
    torch.manual_seed(0)
    lin = nielsen_init(torch.nn.Linear(400, 30))
    assert abs(lin.weight.std().item() - 400 ** -0.5) < 0.002 and abs(lin.bias.std().item() - 1) < 0.4
    z, y = torch.zeros(2, 10), torch.tensor([3, 7])  # sigmoid(0) = 0.5 on every output
    assert nielsen_loss(z, y).item() == pytest.approx(10 * torch.log(torch.tensor(2.0)).item())


def test_gradient_shrinks_toward_the_input_as_nielsen_measured(quick):
    """Sigmoid nets, his init and cost, 1000 images: every hidden layer's ||dL/db|| is a few
    times smaller than the next one's, and each layer's mean is within 2x of his MNIST value."""
    _, run = quick
    nets = run["summary"]["nielsen"]["nets"]
    assert [n["hidden"] for n in nets] == [2, 3, 4]
    for n in nets:
        means = [g["mean"] for g in n["grad"]]
        for a, b in zip(means, means[1:]):
            assert 1 / 20 < a / b < 1 / 2, means  # Nielsen: about 4-5x per layer
        for g, key in zip(n["grad"], n["published"]):
            assert 0.5 < g["mean"] / ref(key).value < 2, (key, g)


def test_init_grid_sigmoid_vanishes_and_the_fixes_do_not(quick):
    _, run = quick
    s = run["summary"]
    assert len(s["init_grid"]["cells"]) == 27
    depth = s["init_grid"]["depth"]
    plain = cell(s, "sigmoid", "default", "plain")
    assert plain["first_over_last"]["mean"] < 1e-3  # 6 layers: ~6e-5
    assert plain["per_layer"]["mean"] < 0.3 and plain["jac_mean"]["mean"] < 0.2  # sigmoid' <= 1/4
    assert cell(s, "relu", "default", "plain")["first_over_last"]["mean"] < 0.1  # ReLU alone does not fix it
    assert 0.5 < cell(s, "relu", "kaiming", "plain")["first_over_last"]["mean"] < 2
    for act in ("sigmoid", "tanh", "relu"):
        for init in ("default", "xavier", "kaiming"):
            assert cell(s, act, init, "batch norm")["first_over_last"]["mean"] > 0.3
            assert 0.9 < cell(s, act, init, "residual")["jac_mean"]["mean"] < 1.4  # I + small
    # Glorot & Bengio: mean singular value ~0.5 (standard init) vs ~0.8 (normalized), tanh
    assert 0.4 < cell(s, "tanh", "default", "plain")["jac_mean"]["mean"] < 0.6
    assert 0.65 < cell(s, "tanh", "xavier", "plain")["jac_mean"]["mean"] < 0.95
    assert all(len(c["grad"]) == depth for c in s["init_grid"]["cells"])


def test_deep_sigmoid_does_not_train_and_the_fixes_do(quick):
    _, run = quick
    s = run["summary"]
    deepest = max(s["depth"]["rows"], key=lambda r: r["depth"])["depth"]
    sig = row(s["depth"], "sigmoid", depth=deepest)["test_acc"]["mean"]
    assert sig < 0.15  # 10 Fashion-MNIST classes: chance is 0.1
    assert row(s["depth"], "relu + kaiming", depth=deepest)["test_acc"]["mean"] > sig + 0.3
    fixes = s["fixes"][0]
    assert fixes["rows"][0]["arm"] == "sigmoid" and fixes["rows"][0]["gain"] == 0
    assert row(fixes, "sigmoid + batch norm")["test_acc"]["mean"] > sig + 0.2
    base = row(fixes, "sigmoid")["first_over_last"]["mean"]
    for r in fixes["rows"][1:]:
        assert r["first_over_last"]["mean"] > 1000 * base, r["arm"]
    spiral = s["spiral"]
    assert row(spiral, "relu + kaiming")["test_acc"]["mean"] > row(spiral, "sigmoid")["test_acc"]["mean"] + 0.3


def test_probes_are_stored_over_training_and_figures_drawn(quick):
    store, run = quick
    s = run["summary"]
    r = row(s["fixes"][0], "sigmoid + batch norm")["runs"][0]
    steps, vals = store.series(r, "probe:h1", "grad_z_example")
    assert steps[0] == 0 and len(steps) >= 5 and all(v > 0 for v in vals)
    assert store.series(r, "probe:h1", "jac_mean")[1]  # Jacobians probed too
    trained = s["nielsen"]["trained"]["runs"][0]
    for layer in range(1, 5):
        assert len(store.series(trained, f"probe:h{layer}", "grad_z")[0]) == s["design"]["nielsen_steps"]
    folder = store.run_dir(run["id"])
    for name in ("nielsen_gradients.png", "nielsen_training.png", "init_gradients.png", "init_grid.png",
                 "depth.png", "fixes_gradients_w30.png", "spiral_gradients.png", "accuracy.png"):
        assert (folder / name).stat().st_size > 5000, name


# -- the report section: every number and direction word recomputed from the store ---------------------
def evidence_value(store, r):
    if "op" in r:
        value = OPS[r["op"]](*(evidence_value(store, a) for a in r["args"]))
    elif "ref" in r:
        value = REFERENCES[r["ref"]].value
    else:
        value = lookup(store.get(r["run"])["summary"], r["key"][len("summary."):])
    assert value == pytest.approx(r["value"], rel=1e-12, abs=1e-15), r
    assert value is not None and format(value, r["fmt"]) == r["shown"], r
    return value


def check_section(store, run) -> tuple:
    """The study's Section, its paragraphs as text, and how many evidence records were verified."""
    section = STUDIES.get(run["study"])().section(store, run)
    records = []
    text = []
    for p in section.paragraphs:
        if isinstance(p, Part):
            p.html(records)
        text.append(str(p))
    for t in section.tables:
        for cells in t["rows"]:
            for c in cells:
                if isinstance(c, Part):
                    c.html(records)
    for r in records:
        if r.get("rule"):  # a word an interval decides (evidence.compare's Welch rule, the verdict rules)
            from test_report import check_direction

            check_direction(store, r)
        elif "dir" in r:
            a, b = evidence_value(store, r["a"]), evidence_value(store, r["b"])
            more, less, same = r["words"]
            assert r["dir"] == (more if a - b > r["tol"] else less if b - a > r["tol"] else same), r
        else:
            evidence_value(store, r)
    assert section.figures and all(p.is_file() for p, _ in section.figures)
    return section, " ".join(text), len(records)


def test_section_numbers_come_from_the_store(quick):
    store, run = quick
    section, text, n = check_section(store, run)
    assert n > 150 and "n/a" not in text
    assert "shrinks" in text  # Nielsen's deepest net, computed from its layers' gradients
    assert [t["caption"].split(":")[0] for t in section.tables][:2] == [
        "Nielsen's nets at initialization", "At initialization"]
    assert any(r["source"].startswith("Glorot") for r in section.references)
