"""What `runs`, `show`, `sweep` and `all` print for a person (golden text from a fixed store, line
by line), that --json carries every field the page shows, and colour only on a terminal."""

from __future__ import annotations

import json
import os
import re
import socket
import time

import pytest

from conftest import run_cli
from nnstudy import console
from nnstudy.cli import main
from nnstudy.config import TrainConfig
from nnstudy.experiment import RunResult
from nnstudy.store import Store

ENV = {"device": "cpu", "torch": "2.5.1", "git": "0a886c1e6500", "python": "3.12.3"}
T0 = 1764748800.0  # 2025-12-03 08:00:00 UTC: every run starts a whole minute after it


@pytest.fixture
def utc(monkeypatch):
    """Times print in local time: pin it, so the golden text is the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def add_run(store: Store, run_id: str, kind: str, status: str, minute: int, seconds: float, *, study=None,
            name=None, parent=None, config=None, summary=None, error=None, figures=()):
    """A run row as the store writes it, with a fixed id and fixed times."""
    store.run_dir(run_id).mkdir()
    for f in figures:
        (store.run_dir(run_id) / f).write_bytes(b"")
    started = T0 + 60 * minute
    finished = None if status == "running" else started + seconds + 0.5
    store.db.execute("INSERT INTO runs (id, kind, study, name, parent, status, seed, config, env, summary, "
                     "error, started, finished, pid, host) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (run_id, kind, study, name, parent, status, json.dumps(config or {}), json.dumps(ENV),
                      json.dumps(summary or {}), error, started, finished, None, socket.gethostname()))


def train_summary(run_id, status, final, cfg, seconds, n=(2400, 0, 600)):
    """The summary `experiment.finish_run` stores, built through RunResult so its keys follow the code."""
    r = RunResult(run_id, status, final, cfg, cfg.steps, seconds, 10_803)
    return r.summary() | {"dataset": cfg.dataset, "n_train": n[0], "n_val": n[1], "n_test": n[2]}


def acc(train, test, val=None):
    out = {"train_loss": 0.5, "train_acc": train, "test_loss": 0.6, "test_acc": test}
    return out | ({"val_loss": 0.55, "val_acc": val} if val is not None else {})


@pytest.fixture
def store(tmp_path, utc):
    """A study run with two children (one diverged), a long-named run, a sweep run without a test
    split, a crashed run (its process is gone) and a failed one."""
    s = Store(tmp_path / "runs")
    study = "20251203-080000-aaaaaa"
    add_run(s, study, "study", "complete", 0, 9.05, study="spiral", name="spiral",
            config={"study": "spiral", "profile": "quick", "seeds": [0, 1], "device": "cpu"},
            summary={"title": "Spiral classification: linear+SGD vs ReLU+Adam", "profile": "quick", "seeds": [0, 1],
                     "seconds": 9.05, "env": ENV,
                     "table": [{"config": "linear+SGD", "test acc": {"mean": 0.5, "std": 0.01, "n": 2}}]},
            figures=("week_boundaries.png",))
    lin = TrainConfig(activation="none", optimizer="sgd", weight_decay=1e-5)
    add_run(s, "20251203-080100-bbbbbb", "train", "complete", 1, 1.49, study="spiral", name="week linear+SGD",
            parent=study, config=lin.to_dict(), summary=train_summary("20251203-080100-bbbbbb", "complete",
                                                                      acc(0.504, 0.5), lin, 1.49))
    hot = TrainConfig(optimizer="sgd", lr=1e4)
    add_run(s, "20251203-080200-cccccc", "train", "diverged", 2, 0.03, study="spiral", name="ReLU+SGD lr=1e4",
            parent=study, config=hot.to_dict(), error="loss became inf at step 2: the run diverged",
            summary=train_summary("20251203-080200-cccccc", "diverged", {}, hot, 0.03))
    deep = TrainConfig(dataset="moons", depth=3, width=64, batch_size=64, epochs=20, lr=0.01)
    add_run(s, "20251203-080300-dddddd", "train", "complete", 3, 123.4,
            name="a three-layer MLP on moons with mini-batches of 64, twenty epochs", config=deep.to_dict(),
            summary=train_summary("20251203-080300-dddddd", "complete", acc(0.9912, 0.9875), deep, 123.4,
                                  (1600, 0, 400)), figures=("curves.png", "confusion.png"))
    no_test = TrainConfig(val_frac=0.1, test_frac=0.1, lr=0.1)
    add_run(s, "20251203-080400-eeeeee", "train", "complete", 4, 2.5, study="lr-sweep", name="lr-sweep: lr=0.1",
            config=no_test.to_dict(), summary=train_summary(
                "20251203-080400-eeeeee", "complete", acc(0.97, None, val=0.95) | {"test_loss": None}, no_test, 2.5,
                (2430, 270, 0)))
    add_run(s, "20251203-080500-ffffff", "train", "running", 5, 0, name="mlp on spiral",
            config=TrainConfig().to_dict())
    add_run(s, "20251203-080600-gggggg", "train", "failed", 6, 0.2, name="mlp on xor", config=TrainConfig().to_dict(),
            error="KeyboardInterrupt: ")
    return s


def cli(capsys, *argv, store=None) -> str:
    assert main([*argv, "--out", str(store.home)]) == 0
    return capsys.readouterr().out.replace(str(store.home), "STORE")


def same_lines(out: str, golden: str) -> None:
    assert out.rstrip("\n").splitlines() == golden.strip("\n").splitlines()


RUNS = """
id                      kind   status    study     name                 result  seconds  started
20251203-080000-aaaaaa  study  complete  spiral    spiral                  1/2     9.05  12-03 08:00
20251203-080100-bbbbbb  train  complete  spiral    week linear+SGD       0.500     1.49  12-03 08:01
20251203-080200-cccccc  train  diverged  spiral    ReLU+SGD lr=1e4           -     0.03  12-03 08:02
20251203-080300-dddddd  train  complete  -         a three-layer MLP …   0.988    123.4  12-03 08:03
20251203-080400-eeeeee  train  complete  lr-sweep  lr-sweep: lr=0.1          -     2.50  12-03 08:04
20251203-080500-ffffff  train  crashed   -         mlp on spiral             -        -  12-03 08:05
20251203-080600-gggggg  train  failed    -         mlp on xor                -     0.70  12-03 08:06
result: a training run's test accuracy (-: not measured); a study run's complete/all child runs
"""


def test_runs_is_a_table_with_a_header_newest_last_in_100_columns(store, capsys):
    out = cli(capsys, "runs", store=store)
    same_lines(out, RUNS)
    assert max(map(len, out.splitlines())) <= 100


@pytest.mark.parametrize("argv, ids", [
    (["--kind", "study"], ["aaaaaa"]),
    (["--study", "spiral"], ["aaaaaa", "bbbbbb", "cccccc"]),
    (["--status", "complete"], ["aaaaaa", "bbbbbb", "dddddd", "eeeeee"]),
    (["--status", "crashed"], ["ffffff"]),  # worked out on reading: no process, never stored as such
    (["--status", "running"], []),
    (["--last", "2"], ["ffffff", "gggggg"]),
    (["--kind", "train", "--status", "complete", "--last", "1"], ["eeeeee"]),
])
def test_runs_filters(store, capsys, argv, ids):
    out = cli(capsys, "runs", *argv, store=store).splitlines()
    assert [ln.split()[0][-6:] for ln in out[1:-1]] == ids if ids else out == ["(no runs)"]
    listing = json.loads(cli(capsys, "runs", *argv, "--json", store=store))["runs"]
    assert [r["id"][-6:] for r in listing] == ids


def test_runs_last_needs_a_positive_count(store, capsys):
    assert main(["runs", "--last", "0", "--out", str(store.home)]) == 2
    assert "--last 0" in capsys.readouterr().err


def test_runs_json_carries_every_cell_of_the_table(store, capsys):
    text = cli(capsys, "runs", store=store).splitlines()[1:-1]
    listing = json.loads(cli(capsys, "runs", "--json", store=store))["runs"]
    assert len(text) == len(listing)
    for line, r in zip(text, listing):
        cells = re.split(r"\s{2,}", line.strip())
        kids = r["children"]
        result = (f"{kids['complete']}/{kids['total']}" if r["kind"] == "study"
                  else "-" if not r["final"] or r["final"].get("test_acc") is None else f"{r['final']['test_acc']:.3f}")
        assert cells[:4] == [r["id"], r["kind"], r["status"], r["study"] or "-"]
        assert r["name"].startswith(cells[4].rstrip("…"))
        assert cells[5] == result
        assert cells[6] == ("-" if r["seconds"] is None else console.seconds(r["seconds"]))
        assert cells[7] == time.strftime("%m-%d %H:%M", time.gmtime(r["started"]))


SHOW_TRAIN = """
a three-layer MLP on moons with mini-batches of 64, twenty epochs  (run 20251203-080300-dddddd, train)
status      complete
data        moons (1,600 train / 400 test)
model       mlp: 3 hidden x 64, relu
optimizer   adam, lr 0.01
budget      20 epochs, batch 64 (1000 steps run)
seed        0 (weights, batch order); data seed 0 (data draw, split)

config, fields that differ from the defaults
  dataset     moons  (default spiral)
  width       64  (default 100)
  depth       3  (default 1)
  lr          0.01  (default 0.001)
  epochs      20  (default 0: count steps)
  batch_size  64  (default 0: full batch)

                loss  accuracy
train         0.5000    0.9912
validation         -         -  no validation split
test          0.6000    0.9875

time        123.4 s training; started 2025-12-03 08:03, finished 2025-12-03 08:05
environment cpu, torch 2.5.1, commit 0a886c1e6500
folder      STORE/20251203-080300-dddddd
figures     confusion.png, curves.png
"""

SHOW_NO_TEST = """
validation    0.5500    0.9500
test               -         -  no test split
"""

SHOW_DIVERGED = """
ReLU+SGD lr=1e4  (run 20251203-080200-cccccc, train)
status      diverged
error       loss became inf at step 2: the run diverged
part of     study run 20251203-080000-aaaaaa
data        spiral (2,400 train / 600 test)
model       mlp: 1 hidden x 100, relu
optimizer   sgd, lr 10000.0
budget      1000 steps, full batch
seed        0 (weights, batch order); data seed 0 (data draw, split)
"""

SHOW_STUDY = """
spiral  (run 20251203-080000-aaaaaa, study)
status      complete
question    Spiral classification: linear+SGD vs ReLU+Adam
profile     quick, seeds 2 (0..1), device cpu
runs        1 of 2 complete (1 diverged)

results
  config      test acc
  ----------  -------------
  linear+SGD  0.500 ± 0.010

time        9.05 s; started 2025-12-03 08:00, finished 2025-12-03 08:00
environment cpu, torch 2.5.1, commit 0a886c1e6500
folder      STORE/20251203-080000-aaaaaa
figures     week_boundaries.png
"""


def test_show_a_training_run_is_a_page(store, capsys):
    same_lines(cli(capsys, "show", "20251203-0803", store=store), SHOW_TRAIN)


def test_show_a_missing_split_and_a_diverged_run_never_print_zero(store, capsys):
    page = cli(capsys, "show", "20251203-080400", store=store).splitlines()
    same_lines("\n".join(page[page.index("                loss  accuracy") + 2:][:2]), SHOW_NO_TEST)
    page = cli(capsys, "show", "20251203-080200", store=store)
    same_lines("\n".join(page.splitlines()[:9]), SHOW_DIVERGED)
    assert "0.0000" not in page  # no final numbers: "-", never zeros


def test_show_a_study_run_counts_its_children(store, capsys):
    same_lines(cli(capsys, "show", "20251203-080000", store=store), SHOW_STUDY)


def test_show_all_lists_every_config_field(store, capsys):
    page = cli(capsys, "show", "20251203-0803", "--all", store=store).splitlines()
    fields = list(TrainConfig().to_dict())
    start = page.index("config, every field") + 1
    assert [ln.split()[0] for ln in page[start:start + len(fields)]] == fields
    assert page[start + len(fields)] == ""
    w = max(map(len, fields))  # names padded to the longest field name, then two spaces
    assert f"  {'batch_size':<{w}}  64  (default 0: full batch)" in page and f"  {'noise':<{w}}  0.2" in page


def test_show_json_is_the_whole_run_and_carries_what_the_page_shows(store, capsys):
    r = json.loads(cli(capsys, "show", "20251203-0803", "--json", store=store))
    page = cli(capsys, "show", "20251203-0803", store=store)
    assert r["id"] == "20251203-080300-dddddd" and r["status"] == "complete" and r["name"] in page
    assert r["folder"] == "STORE/20251203-080300-dddddd" and r["figures"] == ["confusion.png", "curves.png"]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):  # the numbers table
        assert f"{r['summary']['final'][key]:.4f}" in page
    for line in page[page.index("differ from the defaults"):].splitlines()[1:7]:  # the config lines
        k, v = line.split()[:2]
        assert str(r["config"][k]) == v
    assert all(str(r["env"][k]) in page for k in ("device", "torch", "git"))
    assert str(r["summary"]["train_seconds"]) in page and r["config"]["epochs"] == 20
    study = json.loads(cli(capsys, "show", "20251203-080000", "--json", store=store))
    assert study["children"] == {"complete": 1, "diverged": 1, "total": 2}


def test_a_real_run_reads_back_through_runs_and_show(tmp_path):
    """The fixture above writes summaries by hand; this one checks the page against a real stored run."""
    out = tmp_path / "runs"
    rc, stdout, err = run_cli("train", "--dataset", "moons", "--steps", "5", "--no-figures", "--json", "--out", out)
    assert rc == 0, err
    trained = json.loads(stdout)
    rc, page, err = run_cli("show", trained["run"], "--out", out)
    assert rc == 0, err
    lines = page.splitlines()
    test = next(ln for ln in lines if ln.startswith("test "))
    assert test.split()[1:3] == [f"{trained['final']['test_loss']:.4f}", f"{trained['final']['test_acc']:.4f}"]
    assert "no validation split" in page and ["steps", "5", "(default", "1000)"] in [ln.split() for ln in lines]
    rc, table, err = run_cli("runs", "--out", out)
    assert rc == 0 and f"{trained['final']['test_acc']:.3f}" in table.splitlines()[1], err


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert console.use_colour(Tty()) and not console.use_colour(open(os.devnull, "w"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not console.use_colour(Tty())
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: set but empty means colour stays on
    assert console.use_colour(Tty())


def test_colour_never_moves_a_column(store, capsys):
    listing = console.runs_listing(store, store.runs())
    painted, plain = console.runs_table(listing, colour=True), console.runs_table(listing, colour=False)
    assert "\033[" in painted and re.sub(r"\033\[\d+m", "", painted) == plain
    r = store.get("20251203-0803")
    painted = console.show_page(store, r, colour=True)
    assert re.sub(r"\033\[\d+m", "", painted) == console.show_page(store, r)


def test_colour_on_a_real_terminal(store):
    """Through a pseudo-terminal: coloured; the same with NO_COLOR set: plain."""
    import pty
    import subprocess
    import sys

    def through_pty(env):
        leader, follower = pty.openpty()
        p = subprocess.run([sys.executable, "-m", "nnstudy", "runs", "--kind", "study", "--out", str(store.home)],
                           stdout=follower, stderr=subprocess.PIPE, env=dict(os.environ, **env), timeout=120)
        os.close(follower)
        out = os.read(leader, 65536).decode()
        os.close(leader)
        assert p.returncode == 0, p.stderr
        return out

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\033[32mcomplete" in through_pty({**env})
    assert "\033[" not in through_pty({"NO_COLOR": "1"})


def test_sweep_ends_with_a_summary_a_person_reads(tmp_path, capsys):
    rc = main(["sweep", "--dataset", "spiral", "--n-per-class", "20", "--width", "8", "--steps", "3",
               "--lr", "1e-2,1e-1", "--device", "cpu", "--threads", "1", "--name", "tiny", "--out", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert re.fullmatch(rf"2 runs of sweep tiny in [\d.]+ s, stored in {re.escape(str(tmp_path))}", out[-2])
    assert out[-1] == "list them: nnstudy runs --study tiny"


def test_all_ends_with_the_report_path_not_a_dict():
    done = {"spiral": {"run": "20251203-080000-aaaaaa", "status": "complete", "seconds": 9.05, "kept": False},
            "perceptron": {"run": "20251203-080100-bbbbbb", "status": "complete", "seconds": 120.0, "kept": True}}
    text = console.all_summary(done, {"html": "/s/report/report.html", "markdown": "/s/report/report.md"}, "/s")
    same_lines(text, """
study       run                     status    seconds
spiral      20251203-080000-aaaaaa  complete     9.05
perceptron  20251203-080100-bbbbbb  complete    120.0  (kept: the store held it for this code)

2 studies, stored in /s
report: /s/report/report.html (Markdown: /s/report/report.md)
""")
    assert "{" not in text and "'" not in text


def test_all_prints_that_summary(store, capsys, monkeypatch):
    """`nnstudy all`'s own output, with the studies and the report stood in for (the real ones train
    for minutes; tests/test_studies_quick.py runs them): a study the store already held reads 'kept'."""
    import nnstudy.report
    import nnstudy.studies

    class Registry:
        def names(self):
            return ["spiral"]

    monkeypatch.setattr(nnstudy.studies, "load_all", lambda: Registry())
    monkeypatch.setattr(nnstudy.studies, "run_study", lambda name, st, *a, **k: st.get("20251203-080000"))
    monkeypatch.setattr(nnstudy.report, "write_report", lambda st, where: {"html": "R.html", "markdown": "R.md"})
    out = cli(capsys, "all", store=store).splitlines()
    assert out[1].split() == ["spiral", "20251203-080000-aaaaaa", "complete", "9.05", "(kept:", "the", "store",
                              "held", "it", "for", "this", "code)"]
    assert out[-2:] == ["1 study, stored in STORE", "report: R.html (Markdown: R.md)"]
