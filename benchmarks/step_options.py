"""Two choices inside `train.fit`, measured: foreach optimizers and channels_last on the CPU.

1. The spiral's 1000 full-batch Adam steps (the week's ReLU net, 3,000 points) with torch.optim.Adam
   single-tensor (torch's CPU default), foreach=True (what nnstudy uses) and fused=True: median
   seconds of the loop, and the largest weight difference from the single-tensor run.
2. One training step (forward, loss, backward, SGD+momentum) of each conv net on 28x28 inputs in
   NCHW and in channels_last, interleaved, at 1 and 2 threads: images/s and the ratio, which is
   what train.channels_last_pays encodes.

    python benchmarks/step_options.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nnstudy.config import TrainConfig
from nnstudy.data.toy import make_spiral
from nnstudy.models import build_model
from nnstudy.store import cpu_name

CONV_MODELS = [("lenet5", 128), ("lenet5-modern", 128), ("convnet-tiny", 128), ("convnet-small", 256),
               ("convnet-fast", 256), ("alexnet", 128)]


def adam_run(X, Y, **kw) -> tuple[float, torch.Tensor]:
    torch.manual_seed(12345)
    model = torch.nn.Sequential(torch.nn.Linear(2, 100), torch.nn.ReLU(), torch.nn.Linear(100, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5, **kw)
    t0 = time.perf_counter()
    for _ in range(1000):
        loss = F.cross_entropy(model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, torch.cat([p.detach().flatten() for p in model.parameters()])


def optimizers(repeats: int) -> list[str]:
    torch.set_num_threads(1)
    torch.manual_seed(12345)
    X, Y = make_spiral(1000, 3, 0.2)
    kinds = {"single-tensor (torch's CPU default)": dict(foreach=False), "foreach (nnstudy)": dict(foreach=True),
             "fused": dict(fused=True)}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    weights = {}
    for _ in range(repeats):
        for k, kw in kinds.items():
            t, w = adam_run(X, Y, **kw)
            times[k].append(t)
            weights[k] = w
    base = weights["single-tensor (torch's CPU default)"]
    lines = ["## Adam on the spiral, 1000 full-batch steps, 1 thread", "",
             "| implementation | median s | vs single-tensor | largest weight difference from single-tensor |",
             "|---|---|---|---|"]
    t0 = statistics.median(times["single-tensor (torch's CPU default)"])
    for k in kinds:
        t = statistics.median(times[k])
        lines.append(f"| {k} | {t:.3f} | {t / t0:.3f} | {(weights[k] - base).abs().max().item():.2e} |")
    return lines


def conv_steps(repeats: int) -> list[str]:
    lines = ["## One training step of each conv net on 28x28 inputs: NCHW vs channels_last", "",
             "| model | batch | threads | NCHW img/s | channels_last img/s | ratio |", "|---|---|---|---|---|---|"]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, bs in CONV_MODELS:
            cfg = TrainConfig(model=name)
            nets = {}
            for cl in (False, True):
                torch.manual_seed(0)
                m = build_model(cfg, (1, 28, 28), 10)
                if cl:
                    m = m.to(memory_format=torch.channels_last)
                nets[cl] = (m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9))
            x, y = torch.randn(bs, 1, 28, 28), torch.randint(0, 10, (bs,))
            times: dict[bool, list[float]] = {False: [], True: []}
            for i in range(repeats + 3):
                for cl, (m, opt) in nets.items():
                    t0 = time.perf_counter()
                    loss = F.cross_entropy(m(x), y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if i >= 3:  # the first steps pick kernels
                        times[cl].append(time.perf_counter() - t0)
            a, b = (bs / statistics.median(times[cl]) for cl in (False, True))
            lines.append(f"| {name} | {bs} | {threads} | {a:.0f} | {b:.0f} | {b / a:.2f}x |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    head = [f"# Step options (python benchmarks/step_options.py --repeats {args.repeats})", "",
            f"{time.strftime('%Y-%m-%d %H:%M')}; {cpu_name()}, "
            f"{os.cpu_count()} cores, torch {torch.__version__}; load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} before.", ""]
    text = "\n".join(head + optimizers(args.repeats) + [""] + conv_steps(args.repeats * 2)) + "\n"
    print(text)
    (Path(__file__).parent / "results" / "step_options.md").write_text(text)


if __name__ == "__main__":
    main()
