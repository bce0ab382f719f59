"""Image training on real Fashion-MNIST: recipes resolve and validate, a short run learns, the run's
figures come from the store and agree with its numbers, show-model counts, the progress bar and
the per-epoch lines, and the images study's quick profile."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from nnstudy.config import TrainConfig
from nnstudy.errors import UsageError
from nnstudy.recipes import QUICK_STEPS, QUICK_SUBSET, RECIPES, resolve, summary_for
from nnstudy.store import Store


# -- recipes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RECIPES))
@pytest.mark.parametrize("profile", ["quick", "default", "full"])
def test_every_recipe_resolves_to_a_valid_config(name, profile):
    cfg = resolve(name, profile)
    assert cfg.val_frac == pytest.approx(0.1)  # model selection and curves on validation, never the test set
    assert cfg.epochs >= 1 or cfg.steps >= 1  # a recipe counts epochs, or steps (fmnist-sprint: 1.3 epochs)
    assert cfg.batch_size > 0
    unit = "epochs" if RECIPES[name].fields.get("epochs") else "steps"
    if profile == "quick":
        assert cfg.train_subset == QUICK_SUBSET
        assert cfg.epochs == 1 if unit == "epochs" else (cfg.epochs, cfg.steps) == (0, QUICK_STEPS)
    if profile == "full":
        assert getattr(cfg, unit) == RECIPES[name].full.get(unit, RECIPES[name].fields[unit])


def test_required_recipes_exist_and_say_what_they_target():
    assert {"fmnist-lenet5", "fmnist-fast", "mnist-lenet5", "cifar10-vgg16", "cifar10-fast"} <= set(RECIPES)
    vgg = resolve("cifar10-vgg16")
    assert (vgg.model, vgg.optimizer, vgg.momentum, vgg.nesterov) == ("vgg16-bn", "sgd", 0.9, True)
    assert vgg.weight_decay == 5e-4
    assert vgg.augment and 30 <= vgg.epochs <= 60
    assert resolve("cifar10-fast").extra == {}  # the whitened stem is airbench's own init_from_data


def test_flags_override_recipe_and_profile():
    cfg = resolve("fmnist-fast", "quick", {"epochs": 3, "lr": 0.05})
    assert (cfg.epochs, cfg.lr, cfg.train_subset) == (3, 0.05, QUICK_SUBSET)
    assert cfg.model == RECIPES["fmnist-fast"].fields["model"]
    assert resolve(None, "quick", {"dataset": "spiral"}).steps == 100  # step-counted runs shrink too ...
    assert resolve(None, "quick", {"dataset": "spiral", "steps": 500}).steps == 500  # ... unless a flag says


def test_bad_recipe_and_bad_override_are_one_line_errors():
    with pytest.raises(UsageError, match="did you mean 'fmnist-fast'"):
        resolve("fmnist-fats")
    with pytest.raises(UsageError, match="lr"):
        resolve("fmnist-fast", flags={"lr": -1.0})
    rc, _, err = run_cli("train", "--recipe", "nope")
    assert rc == 2 and "unknown recipe 'nope'" in err and "Traceback" not in err


def test_recipes_command_lists_them_as_json():
    rc, out, _ = run_cli("recipes", "--json")
    rows = {r["name"]: r for r in json.loads(out)["recipes"]}
    assert rc == 0 and set(rows) == set(RECIPES) and rows["fmnist-fast"]["dataset"] == "fashion-mnist"


# -- show-model ----------------------------------------------------------------------------------------
def test_show_model_counts_lenet5_and_vgg16():
    s, shape = summary_for("lenet5", "fashion-mnist")
    assert shape == (1, 28, 28) and s.params == 61_706
    assert s.macs == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert summary_for("vgg16-bn", "cifar10")[0].params == 14_728_266  # kuangliu's VGG16 with a 512 -> 10 head
    rc, out, _ = run_cli("show-model", "fmnist-fast", "--json")  # a recipe's name shows its model
    d = json.loads(out)
    assert rc == 0 and d["input"] == [1, 28, 28] and d["layers"][-1]["output"] == [10]
    assert d["params"] == sum(r["params"] for r in d["layers"])
    rc, _, err = run_cli("show-model", "lenet6")
    assert rc == 2 and "did you mean 'lenet5'" in err


# -- a short real run through the command line ---------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The fast net, one epoch of Adam on 4,500 images (500 more validate) in batches of 64, scored on
    2,000 test images: a few seconds of training. One thread: OpenMP threads that spin-wait for a
    descheduled partner make a loaded 2-core machine 5-20x slower."""
    out = tmp_path_factory.mktemp("train") / "runs"
    rc, stdout, stderr = run_cli("train", "--dataset", "fashion-mnist", "--model", "convnet-small", "--optimizer",
                                 "adam", "--lr", "0.002", "--batch-size", "64", "--epochs", "1", "--train-subset",
                                 "5000", "--val-frac", "0.1", "--test-subset", "2000", "--threads", "1", "--json",
                                 "--out", out, env={"NNSTUDY_HOME": str(out.parent / "unused")})
    assert rc == 0, stderr
    return Store(out), json.loads(stdout), stderr


def test_one_quick_epoch_reaches_80_percent(quick_run):
    _, res, _ = quick_run
    assert res["status"] == "complete" and res["config"]["val_frac"] == pytest.approx(0.1)
    assert res["final"]["test_acc"] >= 0.78  # measured 0.820 on all 10,000 test images; chance is 0.10


def test_per_epoch_line_and_no_progress_bar_in_logs(quick_run):
    _, _, stderr = quick_run
    assert "epoch 1/1  batches' mean train loss" in stderr
    assert "\r" not in stderr  # stderr is a pipe here: no bar


def test_run_figures_are_drawn_and_agree_with_the_store(quick_run):
    store, res, _ = quick_run
    names = sorted(p.rsplit("/", 1)[-1] for p in res["figures"])
    assert names == ["confident_errors.png", "confusion.png", "curves.png", "filters.png"]
    assert all((store.run_dir(res["run"]) / n).stat().st_size > 5000 for n in names)

    from nnstudy.experiment import load_run_model
    from nnstudy.studies.images.figures import confusion_matrix, predict

    model, cfg, data = load_run_model(store, res["run"])
    pred = predict(model, data, cfg).argmax(1)
    cm = confusion_matrix(pred, data.y_test.numpy(), 10)
    assert cm.sum() == 2_000 and cm.shape == (10, 10)
    assert np.trace(cm) / cm.sum() == pytest.approx(res["final"]["test_acc"], abs=1e-4)  # the stored number


def test_validation_is_recorded_at_each_epochs_end_and_test_once(tmp_path):
    from nnstudy.experiment import train_and_evaluate

    cfg = resolve("fmnist-lenet5", "quick", {"epochs": 3, "batch_size": 100, "device": "cpu", "train_subset": 1000,
                                             "test_subset": 500, "threads": 1})
    store = Store(tmp_path / "runs")
    logged = []
    res = train_and_evaluate(cfg, store, log=logged.append)
    steps, _ = store.series(res.run_id, "val", "acc")
    assert steps == [0, 9, 18, 27]  # before training, after each epoch (the last is the final evaluation)
    assert store.series(res.run_id, "test", "acc")[0] == [27]  # the test set: once, at the end
    val_after_1 = store.series(res.run_id, "val", "acc")[1][1]
    assert f"val acc {val_after_1:.4f}" in logged[0]  # epoch 1's line shows the model after epoch 1


def test_progress_bar_draws_on_a_terminal(monkeypatch):
    from nnstudy.data.toy import load_toy  # noqa: F401  (toy data: no files needed)
    from nnstudy.experiment import train_and_evaluate

    class Tty(io.StringIO):
        def isatty(self):
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    monkeypatch.setattr("nnstudy.progress.REDRAW_SECONDS", 0)  # these epochs take less than one redraw interval
    cfg = TrainConfig(dataset="spiral", n_per_class=100, batch_size=16, epochs=2, device="cpu")
    train_and_evaluate(cfg, log=lambda m: print(m, file=fake))
    text = fake.getvalue()
    assert "\repoch 1/2:" in text and "img/s" in text and "240/240" in text  # 15 batches of 16 images
    assert "\repoch 2/2  batches' mean train loss" in text  # the bar was wiped before the epoch's line


def test_no_progress_bar_on_a_redirected_stream(monkeypatch):
    """stderr to a file or pipe (`nnstudy train 2> log`): only the epoch lines, no carriage returns."""
    from nnstudy.experiment import train_and_evaluate

    fake = io.StringIO()
    monkeypatch.setattr("sys.stderr", fake)
    cfg = TrainConfig(dataset="spiral", n_per_class=100, batch_size=16, epochs=2, device="cpu")
    train_and_evaluate(cfg, log=lambda m: print(m, file=fake))
    lines = fake.getvalue().splitlines()
    assert "\r" not in fake.getvalue() and len(lines) == 2 and lines[1].startswith("epoch 2/2  batches' mean")


# -- the images study ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def images_study(tmp_path_factory):
    from nnstudy.studies import run_study

    store = Store(tmp_path_factory.mktemp("images") / "runs")
    return store, run_study("images", store, "quick", None, "cpu")


def test_images_study_quick_records_every_rung(images_study):
    store, row = images_study
    s = row["summary"]
    assert row["status"] == "complete"
    assert [r["key"] for r in s["rows"]] == ["logistic", "mlp", "lenet5", "fast"]
    children = store.runs(parent=row["id"])
    assert len(children) == 4 * len(s["seeds"]) and all(c["status"] == "complete" for c in children)
    for r in s["rows"]:
        assert r["test_acc"]["n"] == len(s["seeds"]) and 0.1 < r["test_acc"]["mean"] <= 1.0
        assert r["config"]["test_subset"] == 500 and r["config"]["val_frac"] == pytest.approx(0.1)
        assert (r["config"]["optimizer"], r["config"]["batch_size"]) == ("adam", 32)  # one setting for all
    published = {r["key"]: r["published"]["value"] for r in s["rows"] if "published" in r}
    assert published == {"mlp": 0.883, "lenet5": 0.779, "fast": 0.925}  # anchors.md
    for name in ("accuracy.png", "val_curves.png", "fast_confusion.png", "fast_filters.png"):
        assert (store.run_dir(row["id"]) / name).stat().st_size > 5000


def test_images_study_quick_every_rung_learns(images_study):
    _, row = images_study
    acc = {r["key"]: r["test_acc"]["mean"] for r in row["summary"]["rows"]}
    # One epoch on 1,350 images, scored on 500: measured 0.70 (softmax), 0.73 (MLP), 0.68 (LeNet-5) and
    # 0.72 (the fast net): too short for the conv nets to pull ahead (default and full do). Chance is 0.10.
    assert all(a > 0.5 for a in acc.values()), acc


def test_whitening_stem_is_set_from_data_and_frozen():
    from nnstudy.data import Dataset
    from nnstudy.models.cnn import AirBench

    torch.manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    data = Dataset("stand-in", x, torch.zeros(64, dtype=torch.long), x, torch.zeros(64, dtype=torch.long), 10,
                   mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    model = AirBench()
    before = model.features[0].weight.clone()
    model.init_from_data(data)
    assert not torch.equal(before, model.features[0].weight) and not model.features[0].weight.requires_grad


def test_images_section_is_built_from_stored_numbers(images_study):
    from nnstudy.evidence import Text, render_md
    from nnstudy.studies.images import ImagesStudy

    store, row = images_study
    sec = ImagesStudy().section(store, row)
    text = " ".join(render_md(p) for p in sec.paragraphs)
    assert all(isinstance(p, Text) for p in sec.paragraphs)  # sentences of stored numbers, not strings
    fast = row["summary"]["rows"][3]["test_acc"]["mean"]
    assert f"{fast:.3f}" in text and "0.925" in text  # ours and the published 2-conv net, side by side
    assert len(sec.tables[0]["rows"]) == 4 and len(sec.figures) >= 4
    assert any(r["value"] == "0.939" and "flips" in r["setup"] for r in sec.references)


@pytest.mark.parametrize("total", range(1, 9))
def test_onecycle_survives_runs_of_a_few_steps(total):
    """A recipe's quick profile can leave 2 steps (1,800 images in batches of 1,024): one-cycle must
    still warm up and anneal instead of dividing by a zero-length phase."""
    from nnstudy.optim import make_scheduler

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = make_scheduler(TrainConfig(schedule="onecycle", lr=1.0), opt, total)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert all(0 <= lr <= 1.0 for lr in lrs) and (total < 3 or max(lrs) > 0.7)


def test_named_image_sets_validate_by_default():
    assert resolve(None, flags={"dataset": "fashion-mnist", "model": "lenet5"}).val_frac == pytest.approx(0.1)
    assert resolve(None, flags={"dataset": "fashion-mnist", "val_frac": 0.0}).val_frac == 0.0  # unless told
    assert resolve(None, flags={"dataset": "spiral"}).val_frac == 0.0  # toy sets keep their default


def test_a_run_counted_in_steps_numbers_its_partial_last_epoch(tmp_path):
    """fmnist-sprint counts 1,100 steps of 844 an epoch: its lines read epoch 1/2 and 2/2, never 2/1.
    Here 96 spiral training points in batches of 32 (3 steps an epoch) for 4 steps."""
    rc, _, err = run_cli("train", "--dataset", "spiral", "--n-per-class", "40", "--batch-size", "32", "--steps", "4",
                         "--device", "cpu", "--no-figures", "--out", tmp_path)
    assert rc == 0, err
    lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"], err
