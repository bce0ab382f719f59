"""Does batching pay for small CNNs? K same-shaped conv nets as one grouped computation vs one by one.

    python benchmarks/batched_cnn.py            # ~70 s on the shared 2-core CPU
    python benchmarks/batched_cnn.py --quick    # ~30 s: K up to 8, fewer steps

Issue 7 asks for a batched trainer for MLPs "and, if it pays, small CNNs". This measures whether it
pays before anything is built: the training step's tensor work alone (forward, cross-entropy,
backward, foreach Adam), per model-step, for nnstudy's `lenet5` and `convnet-tiny` on 1x28x28 inputs
(Fashion-MNIST's shape), mini-batches of 32 and 128:
- solo: K separate models, each stepped on its own batch in turn (what one run after another does,
  without the data loading and logging around it, so the comparison favours neither side);
- grouped: the same K models' weights stacked into one net: every Conv2d becomes one Conv2d with
  groups=K over K*C channels (each member's own images as its own channel group), activations and
  pooling act on the stacked channels unchanged, every Linear becomes one baddbmm over (K, B, F).
  The stacked net's logits are checked against the K solo nets' before timing (printed).
Each side uses its faster thread count (1 or 2, measured first); medians of 3 interleaved repeats.
A ratio below 1 means the grouped step is slower per model than solo steps: no trainer around it
could make batching pay. Beside it, a ceiling for any batching of these kernels: a solo step on a
batch of 1 is almost all fixed per-step cost (Python, dispatch, the optimizer's launches), the part
batching can share; solo(B) / (solo(B) - solo(1)) is the speed-up if that part vanished and the
arithmetic ran as fast stacked as alone. Writes results/batched_cnn.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from nnstudy.config import TrainConfig
from nnstudy.models import build_model
from nnstudy.store import cpu_name

RESULTS = Path(__file__).parent / "results"
IN_SHAPE, CLASSES = (1, 28, 28), 10


class Grouped(nn.Module):
    """K ConvNets (features: Conv2d / elementwise / pooling; head: Linear / elementwise) as one net.

    Input (B, K*C, H, W): member k's images in channels k*C..(k+1)*C. Output (K, B, classes)."""

    def __init__(self, nets: list[nn.Module]):
        super().__init__()
        self.K = K = len(nets)
        feats = []
        for layers in zip(*(n.features for n in nets)):
            m = layers[0]
            if isinstance(m, nn.Conv2d):
                g = nn.Conv2d(m.in_channels * K, m.out_channels * K, m.kernel_size, m.stride, m.padding,
                              groups=K * m.groups, bias=m.bias is not None)
                with torch.no_grad():
                    g.weight.copy_(torch.cat([l.weight for l in layers]))
                    if m.bias is not None:
                        g.bias.copy_(torch.cat([l.bias for l in layers]))
                feats.append(g)
            elif isinstance(m, nn.BatchNorm2d):
                raise ValueError("batch norm is not stacked here")
            else:
                feats.append(m)  # acts per channel or elementwise: the same on stacked channels
        self.features = nn.Sequential(*feats)
        self.head, self.kinds = nn.ParameterList(), []
        for layers in zip(*(n.head for n in nets)):
            if isinstance(layers[0], nn.Linear):
                self.head.append(nn.Parameter(torch.stack([l.weight.detach().T for l in layers])))  # (K, in, out)
                self.head.append(nn.Parameter(torch.stack([l.bias.detach()[None] for l in layers])))  # (K, 1, out)
                self.kinds.append(None)
            else:
                self.kinds.append(layers[0])

    def forward(self, x):
        h = self.features(x)
        h = h.reshape(x.shape[0], self.K, -1).transpose(0, 1)  # (K, B, F): each member's flattened features
        params = iter(self.head)
        for act in self.kinds:
            if act is None:
                w, b = next(params), next(params)
                h = torch.baddbmm(b, h, w)
            else:
                h = act(h)
        return h


def nets(model: str, k: int) -> list[nn.Module]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(build_model(TrainConfig(model=model, dataset="fashion-mnist"), IN_SHAPE, CLASSES))
    return out


def solo_step_time(models, xs, ys, steps: int) -> float:
    """Seconds per model-step, the K models stepped one after another on their own batches."""
    opts = [torch.optim.Adam(m.parameters(), 1e-3, foreach=True) for m in models]
    t = time.perf_counter()
    for _ in range(steps):
        for m, o, x, y in zip(models, opts, xs, ys):
            o.zero_grad(set_to_none=True)
            F.cross_entropy(m(x), y).backward()
            o.step()
    return (time.perf_counter() - t) / (steps * len(models))


def grouped_step_time(net: Grouped, x, y, steps: int) -> float:
    """Seconds per model-step, all K members in one step. The loss is the sum of the members' mean
    losses, so each member's gradient is its own (members share no parameter)."""
    o = torch.optim.Adam(net.parameters(), 1e-3, foreach=True)
    B = x.shape[0]
    t = time.perf_counter()
    for _ in range(steps):
        o.zero_grad(set_to_none=True)
        F.cross_entropy(net(x).reshape(-1, CLASSES), y.reshape(-1), reduction="sum").div(B).backward()
        o.step()
    return (time.perf_counter() - t) / (steps * net.K)


def stack_channels(xs: torch.Tensor) -> torch.Tensor:
    """(K, B, C, H, W) -> (B, K*C, H, W): member k's images in channel group k."""
    K, B, C = xs.shape[:3]
    return xs.transpose(0, 1).reshape(B, K * C, *xs.shape[3:]).contiguous()


def batches(k: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(k, batch, *IN_SHAPE, generator=gen), torch.randint(0, CLASSES, (k, batch), generator=gen)


def time_solo(model: str, k: int, batch: int, steps: int, threads: int) -> float:
    """Per model-step, one after another. A solo model's cost does not depend on K, so at most 4
    models are stepped (more steps each when K is small)."""
    torch.set_num_threads(threads)
    n = min(k, 4)
    members, (xs, ys) = nets(model, n), batches(n, batch)
    solo_step_time(members, xs, ys, 2)  # warm-up
    return solo_step_time(members, xs, ys, max(3, steps // k) if k > 4 else steps)


def time_grouped(model: str, k: int, batch: int, steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    g, (xs, ys) = Grouped(nets(model, k)), batches(k, batch)
    x = stack_channels(xs)
    grouped_step_time(g, x, ys, 2)  # warm-up
    return grouped_step_time(g, x, ys, max(3, steps // k))


def check(model: str, k: int = 4) -> float:
    """Largest |grouped - solo| in the logits of k fresh members on one batch of 16."""
    members = nets(model, k)
    g = Grouped(members)
    x = torch.randn(k, 16, *IN_SHAPE)
    with torch.no_grad():
        solo = torch.stack([m(xi) for m, xi in zip(members, x)])
        grouped = g(stack_channels(x))
    return (solo - grouped).abs().max().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="K up to 8, fewer steps")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ks = (1, 8) if args.quick else (1, 8, 32)
    steps = 40 if args.quick else 160
    load = os.getloadavg()
    lines = ["# Batched small CNNs (python benchmarks/batched_cnn.py)", "",
             f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {cpu_name()} ({os.cpu_count()} cores), "
             f"torch {torch.__version__}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} before.", "",
             "Per model-step: forward, cross-entropy, backward, foreach Adam; 1x28x28 inputs, 10 classes. "
             "Solo: K models stepped one after another; grouped: the K models' weights as one net "
             "(grouped convolutions, batched matmuls). Ratio = solo / grouped: above 1, batching pays.", ""]
    for model in ("lenet5", "convnet-tiny"):
        lines.append(f"{model}: largest |grouped - solo| logit, 4 members: {check(model):.1e}")
    lines += ["", "| model | batch | K | threads (solo, grouped) | solo | grouped | ratio | ceiling |",
              "|---|---|---|---|---|---|---|---|"]
    for model in ("lenet5", "convnet-tiny"):
        for batch in (32, 128):
            # threads: each side's faster of 1 and 2, from a short run at K=8
            best = {}
            for side, timer in ((0, time_solo), (1, time_grouped)):
                t = {n: timer(model, 8, batch, 16, n) for n in (1, 2)}
                best[side] = min(t, key=t.get)
            fixed = statistics.median(time_solo(model, 1, 1, steps, best[0]) for _ in range(args.repeats))
            for k in ks:
                solo, grouped = [], []
                for _ in range(args.repeats):
                    solo.append(time_solo(model, k, batch, steps, best[0]))
                    grouped.append(time_grouped(model, k, batch, steps, best[1]))
                s, g = statistics.median(solo), statistics.median(grouped)
                lines.append(f"| {model} | {batch} | {k} | {best[0]}, {best[1]} | {s * 1e6:,.0f} µs | "
                             f"{g * 1e6:,.0f} µs | {s / g:.2f}x | {s / max(s - fixed, 1e-9):.2f}x |")
                print(lines[-1], flush=True)
    load = os.getloadavg()
    lines += ["", f"Load average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "batched_cnn.md").write_text(text)


if __name__ == "__main__":
    main()
