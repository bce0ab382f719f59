"""No number that was not measured (issue 24): a split that does not exist has no numbers (null in
JSON, no metric rows, never 0.0) through `train`, `sweep` (the batched trainer) and a study; a run
that blew up or learned nothing stays `complete` but says so (experiment.learning_warnings), solo
and batched alike."""

import json

import pytest

from conftest import run_cli
from nnstudy.batched import train_many
from nnstudy.cli import main
from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.experiment import train_and_evaluate
from nnstudy.store import Store
from nnstudy.studies import StudyContext, train_over_seeds
from nnstudy.sweep import expand_grid, run_sweep
from nnstudy.train import evaluate

TINY = dict(dataset="spiral", n_per_class=40, width=16, steps=30, device="cpu", threads=1)
AT_CHANCE = dict(TINY, activation="sigmoid", depth=10, optimizer="sgd", lr=0.01)  # the vanishing study's kind
BLOWN_UP = dict(TINY, optimizer="sgd", lr=1e3)  # issue 16 item 9: finite, far above its start, at chance


def split_rows(store: Store, run_id: str) -> set:
    return {r[1] for r in store.metrics(run_id)}


def test_no_test_split_through_train_is_null_never_zero(tmp_path):
    rc, out, err = run_cli("train", "--dataset", "spiral", "--n-per-class", "40", "--steps", "25",
                           "--test-frac", "0", "--device", "cpu", "--json", "--out", tmp_path)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["final"]["test_acc"] is None and summary["final"]["test_loss"] is None
    assert summary["final"]["train_acc"] > 0 and "val_acc" not in summary["final"]  # val: never asked for
    store = Store(tmp_path)
    assert split_rows(store, summary["run"]) == {"train"}  # no held-out rows during training either
    assert store.get(summary["run"])["summary"]["final"]["test_acc"] is None
    rc, out, _ = run_cli("train", "--dataset", "spiral", "--n-per-class", "40", "--steps", "5",
                         "--test-frac", "0", "--device", "cpu", "--out", tmp_path)
    assert rc == 0 and "no test split" in out and "test_acc" not in out


def test_evaluate_refuses_an_empty_split():
    data = load_dataset(TrainConfig(**TINY))
    with pytest.raises(ValueError, match="no examples"):
        evaluate(None, data, data.x_test[:0], data.y_test[:0], None)


def test_no_test_split_through_a_batched_sweep(tmp_path, capsys):
    cfgs = expand_grid({"dataset": "spiral", "n_per_class": "40", "width": "8", "steps": "25", "test_frac": "0",
                        "seed": "0..1", "device": "cpu", "threads": "1"})
    summary = run_sweep(cfgs, tmp_path, study="nosplit", log=None)
    assert summary["groups"] == [{"size": 2, "batched": True}]
    row = summary["table"][0]
    assert row["test acc"] == {"mean": None, "std": None, "n": 0} and row["train acc"]["n"] == 2
    store = Store(tmp_path)
    for run in store.runs(study="nosplit"):
        assert run["summary"]["final"]["test_acc"] is None and run["summary"]["final"]["test_loss"] is None
        assert split_rows(store, run["id"]) == {"train"}
    assert main(["sweep", "--dataset", "spiral", "--n-per-class", "40", "--steps", "5", "--test-frac", "0",
                 "--seeds", "0..1", "--out", str(tmp_path / "cli")]) == 0
    assert "n/a" in capsys.readouterr().out  # the table's test column: not measured, not 0.000


def test_no_test_split_through_a_study(tmp_path):
    """train_over_seeds is how studies train: a batched group (MLP) and a solo run (batch norm)."""
    store = Store(tmp_path)
    run_id = store.create_run("study", {}, study="probe")
    ctx = StudyContext("probe", "quick", [0, 1], "cpu", store, run_id, log=lambda m: None)
    rows, results = train_over_seeds(ctx, [
        ("batched", lambda s: TrainConfig(**{**TINY, "test_frac": 0.0, "val_frac": 0.2, "seed": s})),
        ("solo", lambda s: TrainConfig(**{**TINY, "test_frac": 0.0, "batch_norm": True, "seed": s}))])
    batched, solo = rows
    assert batched["test_acc"]["n"] == 0 and batched["val_acc"]["n"] == 2 and batched["train_acc"]["n"] == 2
    assert solo["test_acc"]["n"] == 0 and solo["val_acc"]["n"] == 0 and solo["train_acc"]["n"] == 2
    for runs in results:
        for r in runs:
            assert r.status == "complete" and r.final["test_acc"] is None
            assert "test" not in split_rows(store, r.run_id)


def test_a_net_at_chance_stays_complete_with_a_warning_solo_and_batched(tmp_path):
    store = Store(tmp_path)
    solo = train_and_evaluate(TrainConfig(**AT_CHANCE), store)
    batched = train_many([TrainConfig(**AT_CHANCE), TrainConfig(**{**AT_CHANCE, "seed": 1})], store)
    for r in (solo, *batched):
        assert r.status == "complete" and [w.split(":")[0] for w in r.warnings] == ["at-chance"], r.warnings
        assert store.get(r.run_id)["summary"]["warnings"] == r.warnings
    assert batched[0].warnings == solo.warnings  # the same numbers, the same rule, one place
    good = train_and_evaluate(TrainConfig(**{**TINY, "steps": 150, "lr": 0.02}), store)
    assert good.status == "complete" and good.warnings == [] and good.final["train_acc"] > 0.6


def test_a_blown_up_run_says_so_in_train_runs_and_show(tmp_path):
    args = ["--dataset", "spiral", "--n-per-class", "40", "--width", "16", "--steps", "30", "--optimizer", "sgd",
            "--lr", "1000", "--device", "cpu", "--out", tmp_path]
    rc, out, err = run_cli("train", *args, "--json")
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["status"] == "complete"
    assert [w.split(":")[0] for w in summary["warnings"]] == ["loss-rose", "at-chance"]
    assert "warning: loss-rose" in err and "smaller lr" in err
    rc, out, _ = run_cli("runs", "--out", tmp_path)
    assert rc == 0 and "complete!" in out and "did not learn" in out
    assert json.loads(run_cli("runs", "--out", tmp_path, "--json")[1])["runs"][0]["warnings"] == summary["warnings"]
    rc, out, _ = run_cli("show", summary["run"], "--out", tmp_path)
    assert rc == 0 and "warning     loss-rose: the final train loss" in out


def test_the_blown_up_run_of_issue_16_is_flagged_by_the_batched_trainer_too():
    r = train_many([TrainConfig(**BLOWN_UP)])[0]
    assert r.status == "complete" and r.final["train_loss"] > 10 * r.records[0][3]
    assert [w.split(":")[0] for w in r.warnings] == ["loss-rose", "at-chance"]


def test_a_sweep_counts_its_warned_runs(tmp_path):
    cfgs = expand_grid({"dataset": "spiral", "n_per_class": "40", "width": "16", "steps": "30", "optimizer": "sgd",
                        "lr": "0.5,1e3", "seed": "0..1", "device": "cpu", "threads": "1"})
    rows = {row["lr"]: row for row in run_sweep(cfgs, tmp_path, study="warn", log=None)["table"]}
    assert rows[1000.0]["n"] == 2 and rows[1000.0]["warned"] == 2  # complete, averaged, and flagged
    assert rows[0.5]["warned"] == 0


def test_a_training_split_left_unscored_is_null_and_said_so(tmp_path):
    """eval_train off (the sprint recipe's setting: scoring 54,000 training images would be a quarter
    of its run): the final train numbers are null, not the batches' running means, solo and batched;
    the held-out splits are still scored."""
    rc, out, err = run_cli("train", "--dataset", "spiral", "--n-per-class", "40", "--steps", "25", "--val-frac", "0.2",
                           "--no-eval-train", "--device", "cpu", "--out", tmp_path)
    assert rc == 0, err
    assert "training split not scored" in out and "no train split" not in out and "train_acc" not in out
    run = Store(tmp_path).runs()[0]
    final = run["summary"]["final"]
    assert final["train_acc"] is None and final["train_loss"] is None
    assert final["test_acc"] > 0 and final["val_acc"] > 0
    scored, solo = (train_and_evaluate(TrainConfig(**TINY, eval_train=e, batch_norm=True)) for e in (True, False))
    assert solo.final["train_acc"] is None and solo.final["test_acc"] == scored.final["test_acc"]
    gone = [r for r in scored.records if r not in solo.records]  # batch norm: never batched, same run otherwise
    assert [(r[1], r[2]) for r in gone] == [("train", "loss"), ("train", "acc")]
    assert gone[1][3] == scored.final["train_acc"]
    batched = train_many([TrainConfig(**TINY, eval_train=False, seed=s) for s in (0, 1)])
    for r in batched:
        assert r.final["train_acc"] is None and r.final["test_acc"] > 0
