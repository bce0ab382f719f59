"""The notebook API (`import nnstudy as ns`) against the command line (issue 20): the same arguments
record the same runs with the same numbers, bad arguments raise UsageError with the line the command
prints after `nnstudy: error: `, and results show themselves as HTML with inline PNGs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import nnstudy as ns
from conftest import run_cli
from nnstudy.errors import UsageError


def cli_json(*args) -> dict:
    rc, out, err = run_cli(*args, "--json")
    assert rc == 0, err
    return json.loads(out)


def test_train_records_what_nnstudy_train_records(tmp_path):
    flags = ["--dataset", "moons", "--steps", "150", "--lr", "0.01", "--seed", "3", "--device", "cpu"]
    by_cli = cli_json("train", *flags, "--out", tmp_path / "cli")
    run = ns.train(dataset="moons", steps=150, lr=0.01, seed=3, device="cpu", out=tmp_path / "api")
    assert run.final == by_cli["final"]  # the same numbers, to the last bit (one thread, same seed)
    assert run.config.to_dict() == by_cli["config"] and run.status == by_cli["status"] == "complete"
    assert [p.name for p in run.figures] == ["curves.png"] and run.figures[0].exists()
    loaded = ns.load(by_cli["run"], out=tmp_path / "cli")  # the command line's run, read back
    assert loaded.final == run.final and loaded.name == run.name == "mlp on moons"
    assert list(loaded.records) == list(run.records)  # every (step, split, name, value) the same
    x = torch.randn(5, 2)
    assert (loaded.model(x) == run.model(x)).all()  # the stored weights are the trained net's


def test_run_returns_what_nnstudy_run_prints(tmp_path):
    by_cli = cli_json("run", "perceptron", "--profile", "quick", "--seeds", "1", "--out", tmp_path / "cli")
    study = ns.run("perceptron", profile="quick", seeds=1, out=tmp_path / "api")
    assert study.summary["table"] == by_cli["table"] and study.status == "complete"
    assert [p.name for p in study.figures] == sorted(p.rsplit("/", 1)[1] for p in by_cli["figures"])
    assert len(study.children()) == len(ns.load(by_cli["run"], out=tmp_path / "cli").children())
    html = study._repr_html_()
    assert "<table>" in html and html.count("data:image/png;base64,") == len(study.figures) > 0


def test_runs_lists_what_nnstudy_runs_lists(tmp_path):
    store = tmp_path / "runs"
    ns.train(dataset="xor", steps=50, out=store, figures=False)
    ns.train(dataset="gauss", steps=50, out=store, figures=False, lr=0.01)
    for filters, flags in (({}, []), ({"last": 1}, ["--last", "1"]), ({"status": "failed"}, ["--status", "failed"])):
        table = ns.runs(out=store, **filters)
        assert list(table) == cli_json("runs", "--out", store, *flags)["runs"]
    table = ns.runs(out=store)
    assert len(table) == 2 and table["name"] == ["mlp on xor", "mlp on gauss"]
    assert repr(table) == run_cli("runs", "--out", store)[1].rstrip("\n")  # the command's text, uncoloured
    assert table._repr_html_().count("<tr>") == 3 and "mlp on gauss" in table._repr_html_()


def test_sweep_summarises_what_nnstudy_sweep_does(tmp_path):
    by_cli = cli_json("sweep", "--dataset", "moons", "--steps", "60", "--lr", "1e-3,1e-2", "--seeds", "0..1",
                      "--out", tmp_path / "cli")
    grid = ns.sweep(dataset="moons", steps=60, lr=[1e-3, 1e-2], seeds=[0, 1], out=tmp_path / "api")
    assert grid.summary["table"] == by_cli["table"] and len(grid.run_ids) == 4
    assert [r.config.lr for r in grid.runs()] == [c for c in (1e-3, 1e-2) for _ in range(2)]
    assert "<table>" in grid._repr_html_() and "±" in repr(grid)


def test_report_writes_what_nnstudy_report_writes(tmp_path):
    store = tmp_path / "runs"
    ns.train(dataset="xor", steps=50, out=store, figures=False)
    paths = ns.report(out=store, report_dir=tmp_path / "api")
    by_cli = cli_json("report", "--out", store, "--report-dir", tmp_path / "cli")
    assert set(paths) == set(by_cli) and all(
        open(paths[k]).read().count("<section") == open(by_cli[k]).read().count("<section") for k in paths)


# (the API call, the same request on the command line)
BAD = [
    (lambda o: ns.run("no-such-study", out=o), ["run", "no-such-study"]),
    (lambda o: ns.run("spiral", profile="huge", out=o), ["run", "spiral", "--profile", "huge"]),
    (lambda o: ns.run("spiral", seeds=0, out=o), ["run", "spiral", "--seeds", "0"]),
    (lambda o: ns.train(lr=float("inf"), out=o), ["train", "--lr", "inf"]),
    (lambda o: ns.train(momentum=1.5, optimizer="sgd", out=o), ["train", "--momentum", "1.5", "--optimizer", "sgd"]),
    (lambda o: ns.train(optimizer="adamm", out=o), ["train", "--optimizer", "adamm"]),
    (lambda o: ns.train(lrr=0.1, out=o), ["train", "--lrr", "0.1"]),
    (lambda o: ns.train(steps="many", out=o), ["train", "--steps", "many"]),
    (lambda o: ns.train(recipe="nope", out=o), ["train", "--recipe", "nope"]),
    (lambda o: ns.runs(kind="sweeps", out=o), ["runs", "--kind", "sweeps"]),
    (lambda o: ns.runs(last=0, out=o), ["runs", "--last", "0"]),
    (lambda o: ns.load("zzz", out=o), ["show", "zzz"]),
    (lambda o: ns.sweep(lr="1..", out=o), ["sweep", "--lr", "1.."]),
    (lambda o: ns.sweep(seeds=[0, 1], seed=2, out=o), ["sweep", "--seeds", "0,1", "--seed", "2"]),
]


@pytest.mark.parametrize("call,argv", BAD, ids=[" ".join(a) for _, a in BAD])
def test_bad_arguments_raise_the_line_the_command_prints(tmp_path, call, argv):
    ns.train(dataset="xor", steps=5, out=tmp_path, figures=False)  # a store to read, for runs and show
    rc, out, err = run_cli(*argv, "--out", tmp_path)
    assert rc == 2 and err.startswith("nnstudy: error: ")
    with pytest.raises(UsageError) as caught:
        call(tmp_path)
    assert str(caught.value) == err.strip().removeprefix("nnstudy: error: ")


def test_inline_display_of_a_training_run(tmp_path):
    run = ns.train(dataset="spiral", n_per_class=100, steps=40, out=tmp_path)
    html = run._repr_html_()
    assert "<table>" in html and "test" in html and html.count("data:image/png;base64,") == 1
    assert repr(run).startswith(f"run {run.run_id} (mlp on spiral): complete; train_loss ")
    steps, values = run.curve("train", "loss")
    assert steps == list(range(41)) and len(values) == 41  # each step, then the final evaluation at 40
    assert run.records._repr_html_().count("more rows") == 1  # 80+ records: the middle is elided


def test_verbs_stay_callable_next_to_their_modules():
    """nnstudy/train.py, sweep.py and report are modules too; importing them must not hide ns.train."""
    import nnstudy.report
    import nnstudy.sweep
    import nnstudy.train

    assert callable(ns.train) and callable(ns.sweep) and callable(ns.report)
    assert nnstudy.train.fit.__module__ == "nnstudy.train" and nnstudy.report.write_report
    from nnstudy.train import fit

    assert fit is nnstudy.train.fit


def test_import_nnstudy_stays_cheap():
    """The command line's start-up: `import nnstudy` loads neither torch nor the API."""
    code = "import sys, nnstudy; print('torch' in sys.modules, 'nnstudy.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
