"""Every bad config value, by flag, TOML file or sweep grid, is exit 2 with one line and stores no run
(issue 16): non-finite, negative, zero, huge and wrongly typed values for every numeric, boolean and
choice field. Also: TOML encodings, `nnstudy train --help`, and the image-set batch default."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from conftest import run_cli
from nnstudy.cli import main
from nnstudy.config import TrainConfig, field_docs, read_toml
from nnstudy.recipes import IMAGE_BATCH, resolve
from nnstudy.sweep import expand_grid

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
NOT_A_NUMBER = ["inf", "-inf", "nan", "1e400", "abc", ""]
# field -> values (as typed on a command line) that are out of its range; non-numbers are added below.
OUT_OF_RANGE = {
    "lr": ["0", "-1e-3"],
    "width": ["0", "-3", str(10**30)],
    "depth": ["0", "-1", str(10**30)],
    "n_per_class": ["0", "-5", str(10**30)],
    "classes": ["0", "1", "-2", str(10**30)],
    **{name: ["-1e-9", "-1"] for name in ("weight_decay", "noise", "grad_clip", "corruption_level")},
    **{name: ["-1", str(10**30)] for name in ("steps", "epochs", "batch_size", "eval_every", "train_subset",
                                              "test_subset", "seed", "data_seed", "cutout")},
    "threads": ["-1", "1025", str(10**30)],
    **{name: ["-0.1", "1", "1.5", "1e30"] for name in ("test_frac", "val_frac", "dropout", "momentum",
                                                        "label_smoothing")},
}
CHOICES = ["activation", "init", "optimizer", "schedule", "loss", "amp", "corruption"]  # device is the CLI's own flag


def cases() -> list[tuple[str, str]]:
    out = []
    for name, bad in OUT_OF_RANGE.items():
        kind = type(FIELDS[name].default)
        out += [(name, v) for v in bad + NOT_A_NUMBER + (["1.5", "2e3"] if kind is int else [])]
    return out + [(name, "bogus") for name in CHOICES] + [("augment", "maybe"), ("batch_norm", "2")] + [
        ("features", "x3"), ("features", "x1+x1"), ("widths", "0x3"), ("widths", "8xx"), ("activations", "swish")]


def test_every_numeric_and_choice_field_is_fuzzed():
    numeric = {n for n, f in FIELDS.items() if type(f.default) in (int, float)}
    assert numeric == set(OUT_OF_RANGE)
    assert {n for n, f in FIELDS.items() if isinstance(f.default, str)} - set(CHOICES) == {
        "dataset", "model", "data_dir", "device",  # free text, checked when loaded or built
        "features", "widths", "activations"}  # lists, checked by TrainConfig.validate (fuzzed in cases())


def assert_one_line_exit_2(rc: int, capsys, out_dir) -> str:
    out, err = capsys.readouterr()
    assert rc == 2, (rc, err)
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("nnstudy: error: "), err
    assert not (out_dir / "nnstudy.db").exists() or not any(p.is_dir() for p in out_dir.iterdir()), "a run stored"
    return lines[0]


BASE = ["--dataset", "spiral", "--n-per-class", "5", "--model", "mlp", "--width", "4", "--steps", "1",
        "--device", "cpu"]


@pytest.mark.parametrize("name, value", cases())
def test_bad_value_by_flag(name, value, tmp_path, capsys):
    flag = "--" + name.replace("_", "-")
    args = [flag, value] if not isinstance(FIELDS[name].default, bool) else [f"{flag}={value}"]
    rc = main(["train", *BASE, *args, "--out", str(tmp_path), "--json"])
    assert_one_line_exit_2(rc, capsys, tmp_path)


@pytest.mark.parametrize("name, value", cases())
def test_bad_value_in_a_sweep_grid(name, value, tmp_path, capsys):
    flag = "--" + name.replace("_", "-")
    rc = main(["sweep", *[a for a in BASE if a != "--device" and a != "cpu"], flag, f"1,{value}" if value else ",",
               "--out", str(tmp_path), "--json"])
    assert_one_line_exit_2(rc, capsys, tmp_path)


def toml_value(name: str, text: str):
    """The TOML literal a user would write for this bad value (native types where TOML has them)."""
    kind = type(FIELDS[name].default)
    special = {"inf": "inf", "-inf": "-inf", "nan": "nan", "1e400": "1e400", "": '""', "abc": '"abc"',
               "bogus": '"bogus"', "maybe": '"maybe"'}
    if text in special:
        return special[text]
    if kind is bool:
        return text  # 2: an integer where a boolean belongs
    return text if kind is not str else f'"{text}"'


TOML_CASES = [c for c in cases() if c[1] != "2e3"]  # TOML's 2e3 is the float 2000.0: a whole number, taken
TOML_CASES += [("lr", "true"), ("width", "[8]"), ("model", "3"), ("lr", str(10**400)), ("extra", "5")]


@pytest.mark.parametrize("name, value", TOML_CASES)
def test_bad_value_in_a_toml_file(name, value, tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text(f"dataset = 'spiral'\nn_per_class = 5\nsteps = 1\n{name} = {toml_value(name, value)}\n")
    rc = main(["train", "--config", str(toml), "--device", "cpu", "--out", str(tmp_path / "runs"), "--json"])
    assert_one_line_exit_2(rc, capsys, tmp_path / "runs")


def test_lr_inf_is_named_as_not_finite_in_a_real_process(tmp_path):
    code, out, err = run_cli("train", "--lr", "1e400", "--steps", "1", "--device", "cpu", "--out", tmp_path)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip() == "nnstudy: error: lr=inf is out of range; valid: a finite number > 0"


def test_sweep_ranges_too_large_to_hold_are_refused_before_expanding(tmp_path, capsys):
    assert_one_line_exit_2(main(["sweep", "--seed", "0..10000000000", "--out", str(tmp_path)]), capsys, tmp_path)
    rc = main(["sweep", "--lr", "1e-3:1:1000", "--seed", "0..999", "--out", str(tmp_path)])
    assert "1,000,000 configs" in assert_one_line_exit_2(rc, capsys, tmp_path)
    assert len(expand_grid({"lr": "1e-3:1:4", "steps": "1"})) == 4  # ordinary grids still expand


# -- TOML encodings ----------------------------------------------------------------------------------
def test_toml_with_a_byte_order_mark_reads_as_without(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbflr = 0.5\n# caf\xc3\xa9\n")
    assert read_toml(tmp_path / "bom.toml") == {"lr": 0.5}


def test_toml_that_is_not_utf8_is_one_line_naming_the_byte(tmp_path, capsys):
    (tmp_path / "latin1.toml").write_bytes("steps = 1\n# café\n".encode("latin-1"))
    rc = main(["train", "--config", str(tmp_path / "latin1.toml"), "--out", str(tmp_path / "runs")])
    line = assert_one_line_exit_2(rc, capsys, tmp_path / "runs")
    assert "is not UTF-8 (byte 0xe9 on line 2)" in line and "save it as UTF-8" in line


# -- help ---------------------------------------------------------------------------------------------
def test_train_help_describes_every_config_flag(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare on single spaces
    for name in FIELDS:
        if name in ("extra", "device"):
            continue
        flag = "--" + name.replace("_", "-")
        block = re.search(re.escape(flag) + r"(?:, --no-\S+| [A-Z_]+) (.*?)\[default: ([^\]]*)\]", text)
        assert block and len(block.group(1)) > 10, f"{flag} has no description"
    assert "--lr LR peak learning rate [default: 0.001; valid: a finite number > 0]" in text
    assert "[default: adam; valid: sgd, adam, adamw, rmsprop]" in text
    assert "--momentum MOMENTUM sgd / rmsprop momentum [default: 0.0; valid: a finite number with 0 <= x < 1]" in text
    assert "--augment, --no-augment images: random crop" in text


def test_every_field_has_a_comment_to_show():
    docs = field_docs()
    assert set(docs) == set(FIELDS) and all(docs.values())


# -- image sets default to mini-batches ----------------------------------------------------------------
@pytest.mark.parametrize("flags, batch", [
    ({"dataset": "fashion-mnist"}, IMAGE_BATCH),
    ({"dataset": "npz:x.npz"}, IMAGE_BATCH),
    ({"dataset": "folder:imgs"}, IMAGE_BATCH),
    ({"dataset": "fashion-mnist", "batch_size": 0}, 0),  # said full batch: full batch
    ({"dataset": "spiral"}, 0),  # the week's toy sets keep the full batch
])
def test_image_sets_default_to_mini_batches(flags, batch):
    assert resolve(None, flags=flags).batch_size == batch


def test_recipes_toml_files_and_sweeps_keep_their_batch_size(tmp_path):
    assert resolve("fmnist-fast").batch_size == 256
    assert resolve(None, file={"dataset": "mnist", "batch-size": 32}).batch_size == 32
    cfgs = expand_grid({"dataset": "spiral,mnist", "steps": "1"})
    assert [c.batch_size for c in cfgs] == [0, IMAGE_BATCH]
    assert math.isfinite(cfgs[1].lr)
