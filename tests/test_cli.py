"""The command line: exit codes, one-line errors, --json, bad input leaves nothing behind."""

import json
import os
import sqlite3
import stat

import pytest

from conftest import run_cli
from nnstudy.cli import main
from nnstudy.store import Store


def one_line_error(capsys, argv, *words):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("nnstudy: error:"), err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.mark.parametrize("argv, words", [
    (["train", "--lr", "-1"], ["lr", "-1", "> 0"]),
    (["train", "--optimizer", "lbfgs"], ["optimizer", "lbfgs", "sgd, adam, adamw, rmsprop"]),
    (["train", "--depth", "0"], ["depth", "0"]),
    (["train", "--activation", "swish"], ["activation", "swish", "relu"]),
    (["train", "--steps", "0", "--epochs", "0"], ["nothing to train"]),
    (["train", "--dataset", "imagenet"], ["unknown dataset", "imagenet", "spiral"]),
    (["train", "--model", "resnet1000"], ["unknown model", "resnet1000", "mlp"]),
    (["train", "--lr", "fast"], ["--lr", "fast"]),
    (["train", "--no-such-flag"], ["--no-such-flag"]),
    (["run", "spiarl"], ["unknown study", "spiral"]),
    (["run", "spiral", "--seeds", "0"], ["seeds"]),
    (["show", "nope"], ["no run", "nope"]),
])
def test_bad_usage_is_one_line_exit_2(capsys, argv, words):
    one_line_error(capsys, argv, *words)


def test_toml_config_unknown_key_and_malformed(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text('dataset = "moons"\nsteps = 20\nlr = 0.01\n')
    bad_key = tmp_path / "bad.toml"
    bad_key.write_text('dataset = "moons"\nlearning_rate = 0.1\n')
    broken = tmp_path / "broken.toml"
    broken.write_text('dataset = "moons\nsteps = \n')
    one_line_error(capsys, ["train", "--config", str(bad_key)], "unknown key", "learning_rate", "lr")
    one_line_error(capsys, ["train", "--config", str(broken)], "not valid TOML", "broken.toml")
    one_line_error(capsys, ["train", "--config", str(tmp_path / "missing.toml")], "does not exist")
    # Flags override the file; the file fills the rest.
    rc = main(["train", "--config", str(good), "--steps", "7", "--json", "--out", str(tmp_path / "r")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["steps"] == 7 and out["config"]["dataset"] == "moons" and out["config"]["lr"] == 0.01


def test_unwritable_out_and_non_sqlite_store(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere: use a path under a regular file instead
        blocker = tmp_path / "file"
        blocker.write_text("x")
        target = blocker / "runs"
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(stat.S_IRUSR | stat.S_IXUSR)
    one_line_error(capsys, ["train", "--steps", "5", "--out", str(target)], "not writable", "--out")
    home = tmp_path / "notdb"
    home.mkdir()
    (home / "nnstudy.db").write_bytes(b"this is not a database, just text" * 100)
    one_line_error(capsys, ["runs", "--out", str(home)], "not an nnstudy store")
    folder = tmp_path / "folderdb"
    (folder / "nnstudy.db").mkdir(parents=True)  # sqlite cannot even open it
    one_line_error(capsys, ["runs", "--out", str(folder)], "not an nnstudy store")


def test_bad_data_leaves_no_run(tmp_path, capsys):
    out = tmp_path / "runs"
    one_line_error(capsys, ["train", "--dataset", "imagenet", "--out", str(out)], "unknown dataset")
    assert Store(out).runs() == []


def test_train_json_is_exactly_one_object_and_store_round_trip(tmp_path):
    out = tmp_path / "runs"
    rc, stdout, stderr = run_cli("train", "--dataset", "moons", "--steps", "40", "--lr", "0.05", "--json",
                                 "--out", out)
    assert rc == 0, stderr
    summary = json.loads(stdout)  # the whole of stdout parses as one object
    assert summary["status"] == "complete" and summary["steps"] == 40
    assert 0.5 < summary["final"]["test_acc"] <= 1.0
    store = Store(out)
    run = store.get(summary["run"][:15])  # a unique prefix works
    assert run["status"] == "complete" and run["config"]["dataset"] == "moons"
    assert run["env"]["torch"] and run["env"]["python"] and run["env"]["cpu"] and run["seed"] == 0
    steps, loss = store.series(run["id"], "train", "loss")
    assert steps == list(range(40)) + [40]
    assert (store.run_dir(run["id"]) / "config.json").exists()
    assert json.loads((store.run_dir(run["id"]) / "summary.json").read_text())["status"] == "complete"
    for argv in (["runs", "--json"], ["show", run["id"], "--json"], ["list", "--json"], ["models", "--json"]):
        rc, stdout, _ = run_cli(*argv, "--out", out) if argv[0] in ("runs", "show") else run_cli(*argv)
        assert rc == 0 and isinstance(json.loads(stdout), dict), argv


def test_list_names_every_study_one_line_each(capsys):
    from nnstudy.studies import load_all

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == load_all().names()


def test_diverged_run_is_recorded_as_diverged(tmp_path, capsys):
    rc = main(["train", "--dataset", "moons", "--optimizer", "sgd", "--lr", "1e4", "--loss", "mse",
               "--steps", "200", "--json", "--out", str(tmp_path / "r")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["status"] == "diverged" and "diverged" in out["error"]
    run = Store(tmp_path / "r").get(out["run"])
    assert run["status"] == "diverged"


def test_store_file_is_sqlite_wal(tmp_path):
    Store(tmp_path / "s")
    con = sqlite3.connect(tmp_path / "s" / "nnstudy.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_closed_pipe_ends_quietly():
    """`nnstudy list | head -0`: the reader leaves before nnstudy writes; no traceback, exit 141."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "nnstudy", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # long before the child has imported torch and written anything
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
