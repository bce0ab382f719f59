"""The tensors study: the week's tensor basics run as an executable tutorial, checked and shown as
they ran; the week's normal draws measured."""

import math

from nnstudy.studies.tensors import TUTORIAL, normal_draws, run_tutorial, sections, short_traceback


def test_the_tutorial_runs_as_documented_and_every_example_is_kept_with_its_output():
    t = run_tutorial()
    assert t["examples"] > 40 and t["passed"] == t["examples"] and t["failed"] == []
    heads = [s["heading"] for s in t["sections"]]
    assert "Creating tensors" in heads and "Concatenation" in heads
    cat = next(s for s in t["sections"] if s["heading"] == "Concatenation")
    assert any(e["got"].startswith("tensor([[1., 2., 3., 4., 5., 6., 7., 8.]])") for e in cat["examples"])
    assert "```" not in cat["prose"] and "torch.cat" in cat["prose"]


def test_an_example_that_prints_something_else_is_recorded_as_failed_with_what_it_printed(tmp_path):
    md = tmp_path / "t.md"
    md.write_text("# t\n\n## Sums\n\nAdding.\n\n```python\n>>> 1 + 1\n3\n>>> 2 + 2\n4\n\n```\n")
    t = run_tutorial(md)
    assert t["examples"] == 2 and t["passed"] == 1 and t["failed"] == ["1 + 1"]
    bad = t["sections"][0]["examples"][0]
    assert (bad["want"], bad["got"], bad["ok"]) == ("3", "2", False)


def test_an_exception_is_shown_as_the_prompt_shows_it_without_this_machines_paths():
    got = ('Traceback (most recent call last):\n  File "/x/doctest.py", line 1, in run\n    exec(...)\n'
           "RuntimeError: dtypes differ\n")
    assert short_traceback(got) == "Traceback (most recent call last):\n  ...\nRuntimeError: dtypes differ\n"
    assert short_traceback("tensor(1)\n") == "tensor(1)\n"


def test_sections_split_at_second_level_headings():
    secs = sections("# T\n\nintro\n\n## A\n\none\n\n## B\n\ntwo\n")
    assert [(s["heading"], s["prose"]) for s in secs] == [("A", "one"), ("B", "two")]
    assert TUTORIAL.is_file()


def test_normal_draws_sit_within_their_standard_errors():
    d = normal_draws(100_000, seed=0)
    assert abs(d["mean"]) < 5 * d["se_mean"] and abs(d["std"] - 1) < 5 * d["se_std"]
    assert abs(d["within_1sd"] - math.erf(1 / math.sqrt(2))) < 0.005
    assert normal_draws(1000, seed=3) == normal_draws(1000, seed=3)
