"""The thread count a run picks for itself (nnstudy.threads: choose_threads, ThreadPicker) and the
OpenMP wait policy nnstudy sets before torch loads. No timing here: benchmarks/peer_fmnist.py
measures what the choice buys under load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nnstudy.threads import TAKEN, ThreadPicker, choose_threads, read_cpu_ticks, usable_cores


@pytest.mark.parametrize("cores, others, expected", [
    (2, 0.0, 2),  # a quiet 2-core laptop: both
    (2, 0.2, 2),  # a browser tab's worth of load: still both
    (2, 0.3, 1),  # a core partly taken: an op would wait on the thread that shares it
    (2, 1.0, 1),  # one core kept busy: the free one
    (2, 1.9, 1),  # both taken: never fewer than one
    (2, 5.0, 1),
    (1, 0.0, 1),
    (4, 0.0, 4),
    (4, 1.0, 3),
    (4, 1.3, 2),
    (8, 2.1, 6),
    (16, 0.0, 16),
])
def test_one_thread_per_core_left_free(cores, others, expected):
    assert choose_threads(cores, others) == expected


def test_a_core_counts_as_taken_just_above_the_threshold():
    assert choose_threads(2, TAKEN) == 2 and choose_threads(2, TAKEN + 0.01) == 1


class FakeMachine:
    """/proc/stat ticks and this process's clocks, advanced by hand: `cores` CPUs at 100 ticks/s."""

    def __init__(self, cores: int):
        self.cores, self.busy, self.total, self.wall, self.cpu = cores, 0, 0, 0.0, 0.0

    def advance(self, seconds: float, ours: float, others: float):
        """ours, others: cores kept busy by this process and by the rest, over `seconds`."""
        self.wall += seconds
        self.cpu += ours * seconds
        self.busy += round((ours + others) * seconds * 100)
        self.total += round(self.cores * seconds * 100)

    def read(self):
        return self.busy, self.total

    def clock(self):
        return self.wall, self.cpu


def test_picker_counts_other_processes_not_its_own_threads():
    m = FakeMachine(2)
    p = ThreadPicker(cores=2, read=m.read, clock=m.clock, every=2.0)
    assert p.pick() is None  # the first look only sets the mark
    m.advance(2.0, ours=2.0, others=0.0)  # we used both cores: nobody else is there
    assert p.pick() == 2
    m.advance(1.0, ours=1.0, others=1.0)
    assert p.pick() is None  # too soon to look again
    m.advance(1.5, ours=1.0, others=1.0)  # a spinning process arrived: it holds a core
    assert p.pick() == 1
    m.advance(2.0, ours=1.0, others=0.0)  # it left
    assert p.pick() == 2


def test_picker_without_proc_stat_leaves_the_count_alone():
    p = ThreadPicker(cores=2, read=lambda: None, clock=lambda: (0.0, 0.0))
    assert p.pick() is None and p.pick(now=True) is None


def test_proc_stat_is_read_where_linux_has_it(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  30 0 10 160 0 0 0 0 0 0\n"
                    "cpu0 10 0 5 85 0 0 0 0 0 0\n"
                    "cpu1 20 0 5 75 0 0 0 0 0 0\n"
                    "intr 12345\n")
    assert read_cpu_ticks(None, str(stat)) == (40, 200)
    assert read_cpu_ticks({1}, str(stat)) == (25, 100)  # only the CPUs this process may use
    assert read_cpu_ticks(None, str(tmp_path / "none")) is None
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_openmp_threads_sleep_while_waiting_unless_the_user_said_otherwise():
    code = "import os, nnstudy; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_auto_threads_trains_and_restores_the_callers_count():
    import torch

    from nnstudy.config import TrainConfig
    from nnstudy.data import load_dataset
    from nnstudy.models import build_model
    from nnstudy.train import fit

    cfg = TrainConfig(dataset="spiral", n_per_class=50, batch_size=30, epochs=2, device="cpu", auto_threads=True)
    data = load_dataset(cfg)
    before = torch.get_num_threads()
    res = fit(build_model(cfg, data.input_shape, data.num_classes), data, cfg)
    assert res.status == "complete" and torch.get_num_threads() == before
