"""Batched training vs one run after another: the spiral MLPs of the week, K at a time.

    python benchmarks/batched.py            # ~12 minutes on the shared 2-core CPU
    python benchmarks/batched.py --quick    # ~1 minute: 8 models, 200 steps, 200 points per class

1. Threads: batched and solo training with torch.set_num_threads(1) and (2), a short run of each,
   interleaved; each side then uses its faster setting (stated in the output).
2. Side by side, interleaved, medians of --repeats: 32 spiral MLPs (1000 points per class, H=100,
   1000 full-batch Adam steps, lr 1e-3, weight decay 1e-5, seeds 0..31, each its own spiral draw)
   trained by `batched.train_many` vs `experiment.train_and_evaluate` one after another (no store
   for either). Both do the same work: train loss/accuracy recorded every step and the 600-point
   held-out split evaluated every 10 steps (what `fit` does for a full-batch run), final evaluation
   of both splits. Wall time, CPU time, the ratio, and the largest difference between the two in
   any final accuracy or loss, next to a control: solo against solo with the training rows in
   another order (mathematically the same full-batch run; only the rounding differs), which shows
   how far 1000 Adam steps carry rounding-level differences.
   Ceiling: the batched step's tensor work alone, timed in a tight loop at each chunk size the trainer
   picks from, per member-step, against a solo run's time per step: the largest speed-up any
   batching of these kernels could show on this machine.
3. Scaling: K = 1, 2, 4, ..., 256 batched models, each K in its own subprocess so its peak
   resident memory (getrusage ru_maxrss of that process) is its own: wall time, model-steps per
   second. The peak includes the returned per-step records of every member (Python tuples).
Prints a Markdown table and writes it to results/batched.md. Timings on a shared machine are noisy:
the load average before and after is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from nnstudy.batched import train_many
from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.experiment import train_and_evaluate
from nnstudy.store import cpu_name

RESULTS = Path(__file__).parent / "results"


def configs(k: int, steps: int, n_per_class: int, threads: int) -> list[TrainConfig]:
    return [TrainConfig(dataset="spiral", n_per_class=n_per_class, model="mlp", width=100, optimizer="adam",
                        lr=1e-3, weight_decay=1e-5, steps=steps, seed=s, data_seed=s, device="cpu", threads=threads)
            for s in range(k)]


def timed(fn) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def solo(cfgs):
    return [train_and_evaluate(c) for c in cfgs]


def pick_threads(k: int, steps: int, n: int) -> dict:
    """Seconds per model-step for each side at 1 and 2 threads (short runs, interleaved, best of 2)."""
    out = {}
    for threads in (1, 2):
        cfgs = configs(k, steps, n, threads)
        b = min(timed(lambda c=cfgs: train_many(c))[0] for _ in range(2)) / (k * steps)
        s = min(timed(lambda c=cfgs: solo(c[:2]))[0] for _ in range(2)) / (2 * steps)
        out[threads] = {"batched": b, "solo": s}
    return out


def compare(k: int, steps: int, n: int, threads: dict, repeats: int) -> dict:
    cfgs_b, cfgs_s = configs(k, steps, n, threads["batched"]), configs(k, steps, n, threads["solo"])
    train_many(configs(2, 5, n, threads["batched"]))  # warm-up at the chosen thread counts, untimed
    solo(configs(1, 5, n, threads["solo"]))
    walls: dict[str, list] = {"batched": [], "solo": []}
    cpus: dict[str, list] = {"batched": [], "solo": []}
    for _ in range(repeats):
        for side, fn in (("batched", lambda: train_many(cfgs_b)), ("solo", lambda: solo(cfgs_s))):
            w, c, res = timed(fn)
            walls[side].append(w)
            cpus[side].append(c)
            if side == "batched":
                rb = res
            else:
                rs = res
    reordered = [train_and_evaluate(c, data=reorder(c)) for c in cfgs_s]  # the solo path's own float sensitivity
    med = {side: statistics.median(v) for side, v in walls.items()}
    return {"k": k, "steps": steps, "wall": med, "cpu": {s: statistics.median(v) for s, v in cpus.items()},
            "ratio": med["solo"] / med["batched"], "walls": walls, "max_abs_diff": max_diff(rb, rs),
            "reordered_diff": max_diff(reordered, rs),
            "early_curve_diff": max(curve_diff(a, b, steps // 10) for a, b in zip(rb, rs)),
            "statuses": sorted({r.status for r in rb + rs})}


def reorder(cfg: TrainConfig):
    """cfg's data with the training rows in another order: full-batch training is then the same
    computation with other summation orders, the kind of difference the batched trainer makes."""
    data = load_dataset(cfg)
    perm = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(99))
    data.x_train, data.y_train = data.x_train[perm], data.y_train[perm]
    return data


def curve_diff(a, b, upto: int) -> float:
    """Largest |difference| between two runs' train-loss curves over their first `upto` steps."""
    la = [v for s, sp, n, v in a.records if sp == "train" and n == "loss" and s < upto]
    lb = [v for s, sp, n, v in b.records if sp == "train" and n == "loss" and s < upto]
    return max(abs(x - y) for x, y in zip(la, lb))


def max_diff(a: list, b: list) -> dict:
    return {key: max(abs(x.final[key] - y.final[key]) for x, y in zip(a, b)) for key in b[0].final}


def kernels_alone(K: int, n: int, threads: int, repeats: int = 100) -> dict:
    """The batched step's own tensor work for K members (forward, accuracy, loss and gradient, backward
    for each chunk, then Adam over all K), timed in a tight loop with nothing else, per member-step, at
    each chunk size the trainer chooses from (CHUNK_BUDGETS). When the trainer runs at about the best of
    these, its loop has no overhead left: more speed needs faster kernels."""
    from nnstudy.batched import CHUNK_BUDGETS, _chunks, _stack
    from nnstudy.models import build_model
    from nnstudy.stacked import StackedNet, StackedOptimizer, layer_plan, loss_and_grad

    torch.set_num_threads(threads)
    cfgs = configs(K, 1, n, threads)
    datas = [load_dataset(c) for c in cfgs]
    models = []
    for c in cfgs:
        torch.manual_seed(c.seed)
        models.append(build_model(c, datas[0].input_shape, datas[0].num_classes))
    net = StackedNet(models, layer_plan(models[0], cfgs[0]), torch.device("cpu"))
    opt = StackedOptimizer("adam", net.params, [torch.optim.Adam(m.parameters()).param_groups[0] for m in models])
    X, Y = _stack(datas, "train", torch.device("cpu"))
    grads = [torch.empty_like(p) for p in net.params]
    active = torch.ones(K, dtype=torch.bool)
    per_member = net.floats_per_example() * X.shape[2] * 4  # fit_group's workspace bytes per member

    def step(chunks) -> None:
        for lo, hi in chunks:
            params = [p[lo:hi] for p in net.params]
            z = net.forward(params, X[lo:hi])
            _, _, dz = loss_and_grad(cfgs[0], z, Y[lo:hi], 3)
            net.backward(params, X[lo:hi], dz, [g[lo:hi] for g in grads])
        opt.step(grads, active)

    per_chunk = {}
    for budget in CHUNK_BUDGETS:
        chunks = _chunks(K, per_member, budget, torch.device("cpu"))
        k = chunks[0][1]
        if k in per_chunk:
            continue
        for _ in range(10):
            step(chunks)
        t0 = time.perf_counter()
        for _ in range(repeats):
            step(chunks)
        per_chunk[k] = (time.perf_counter() - t0) / (repeats * K) * 1e6
        net.release_workspaces()
    cfg = configs(1, 1000, n, threads)[0]
    w = statistics.median(timed(lambda: train_and_evaluate(cfg))[0] for _ in range(3))
    return {"per_chunk_us": per_chunk, "solo_step_us": w / 1000 * 1e6,  # solo: with its held-out and final evals
            "K": K, "threads": threads, "examples": X.shape[2]}


def child(k: int, steps: int, n: int, threads: int) -> None:
    """One K in a fresh process: its wall time and its own peak resident memory, the peak since
    just before training (Linux: VmHWM after resetting it through clear_refs) next to the whole
    process's peak (ru_maxrss, which includes loading torch)."""
    cfgs = configs(k, steps, n, threads)
    train_many(configs(1, 2, n, threads))  # warm-up: first-call costs out of the timing
    before = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current size
    except OSError:
        pass
    w, c, res = timed(lambda: train_many(cfgs))
    print(json.dumps({"k": k, "wall": w, "cpu": c, "rss_before_mb": before, "peak_mb": _status("VmHWM"),
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "complete": sum(r.status == "complete" for r in res)}))


def _status(key: str) -> float | None:
    """A size from /proc/self/status, in MB (None where there is no such file)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def scaling(ks: list[int], steps: int, n: int, threads: int) -> list[dict]:
    rows = []
    for k in ks:
        out = subprocess.run([sys.executable, __file__, "--child", str(k), str(steps), str(n), str(threads)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["model_steps_per_s"] = k * steps / row["wall"]
        rows.append(row)
        print(f"  K={k}: {row['wall']:.1f} s, {row['model_steps_per_s']:.0f} model-steps/s, "
              f"peak {_mb(row['peak_mb'])} while training", file=sys.stderr, flush=True)
    return rows


def render(env: dict, th: dict, cmp: dict, rows: list[dict], kernels: dict) -> str:
    lines = [f"# Batched training ({env['command']})", "",
             f"{env['when']}; {env['cpu']} ({env['cores']} cores), torch {env['torch']}; load average "
             f"{env['load_before']} before, {env['load_after']} after (a shared machine: noisy).", "",
             "Threads (seconds per model-step, short runs): " + "; ".join(
                 f"{t} thread{'s' * (t > 1)}: batched {v['batched'] * 1e6:.0f} µs, solo {v['solo'] * 1e6:.0f} µs"
                 for t, v in th["measured"].items())
             + f". Used: batched {th['batched']}, solo {th['solo']} (each side's faster).", "",
             f"## {cmp['k']} spiral MLPs, {cmp['steps']} full-batch Adam steps, "
             "held-out eval every 10 steps (both sides)",
             "", "| | wall (median) | each run | CPU | per model-step |", "|---|---|---|---|---|"]
    per = cmp["k"] * cmp["steps"]
    for side in ("solo", "batched"):
        each = ", ".join(f"{w:.1f}" for w in cmp["walls"][side])
        lines.append(f"| {'one after another' if side == 'solo' else 'batched'} | {cmp['wall'][side]:.1f} s | "
                     f"{each} | {cmp['cpu'][side]:.1f} s | {cmp['wall'][side] / per * 1e6:.0f} µs |")
    diff = ", ".join(f"{k} {v:.1e}" for k, v in cmp["max_abs_diff"].items())
    reordered = ", ".join(f"{k} {v:.1e}" for k, v in cmp["reordered_diff"].items())
    lines += ["", f"Speed-up (wall, medians of {len(cmp['walls']['solo'])}): **{cmp['ratio']:.1f}x** "
              f"(CPU time: {cmp['cpu']['solo'] / cmp['cpu']['batched']:.1f}x).", "",
              f"Largest |batched - solo| in a final number over the {cmp['k']} runs: {diff}. For scale, solo "
              f"against solo on the same points in another row order (the same full-batch computation, "
              f"other rounding): {reordered}. "
              f"Train-loss curves, first {cmp['steps'] // 10} steps: largest |batched - solo| "
              f"{cmp['early_curve_diff']:.1e}. Statuses: {', '.join(cmp['statuses'])}.", "",
              f"Kernels alone: the batched step's tensor work for {kernels['K']} members (forward, accuracy, "
              f"loss and gradient, backward per chunk, then Adam; {kernels['examples']} examples, "
              f"{kernels['threads']} thread(s)) in a tight loop with nothing else, per member-step, by members per "
              "chunk (the sizes the trainer times in its first steps and picks from): "
              + ", ".join(f"{k}: {us:.0f} µs" for k, us in kernels["per_chunk_us"].items())
              + f"; the trainer above: {cmp['wall']['batched'] / per * 1e6:.0f} µs (its held-out evaluations "
              f"included); one solo run measured with it: {kernels['solo_step_us']:.0f} µs per step. What is "
              f"left is the kernels: a member's (100, {kernels['examples']}) hidden layer is written by a "
              "matmul with a 3-wide inner dimension, made ReLU in place, read by the 3-row head, turned into "
              "its ReLU mask in place and read by one 9-row matmul for both weight gradients "
              "(StackedNet._backward_factored), each step.",
              "", f"## Scaling: K batched models, {env['scale_steps']} steps each (one process per K)",
              "", "| K | wall | model-steps/s | peak RSS while training | growth in training | process peak |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['k']} | {r['wall']:.1f} s | {r['model_steps_per_s']:.0f} | {_mb(r['peak_mb'])} | "
              f"{_mb(r['peak_mb'] and r['peak_mb'] - r['rss_before_mb'])} | {_mb(r['maxrss_mb'])} |" for r in rows]
    lines += ["", "Peak RSS while training: the process's resident memory at its highest during train_many "
              "(VmHWM, reset just before); growth: that peak minus the resident memory before training "
              "(data, stacked parameters, buffers, and the per-step records every member returns as Python "
              "tuples); process peak: ru_maxrss, which includes loading torch."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 models, 200 steps, 200 points per class, K up to 32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=4, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(*a.child)
    k, steps, n, kmax = (8, 200, 200, 32) if a.quick else (32, 1000, 1000, 256)
    env = {"command": "python benchmarks/batched.py" + (" --quick" if a.quick else ""),
           "when": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_name(),
           "cores": os.cpu_count(), "torch": torch.__version__, "load_before": _load(), "scale_steps": steps}
    print("threads: 1 vs 2 ...", file=sys.stderr, flush=True)
    measured = pick_threads(min(k, 8), max(20, steps // 10), n)
    th = {"measured": measured,
          **{side: min(measured, key=lambda t: measured[t][side]) for side in ("batched", "solo")}}
    print(f"comparison: {k} models, {steps} steps, {a.repeats} repeats ...", file=sys.stderr, flush=True)
    cmp = compare(k, steps, n, th, a.repeats)
    print("kernels alone ...", file=sys.stderr, flush=True)
    kernels = kernels_alone(k, n, th["batched"])
    print("scaling ...", file=sys.stderr, flush=True)
    rows = scaling([2 ** i for i in range(kmax.bit_length()) if 2 ** i <= kmax], steps, n, th["batched"])
    env["load_after"] = _load()
    text = render(env, th, cmp, rows, kernels)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("batched-quick.md" if a.quick else "batched.md")).write_text(text)


def _mb(v) -> str:
    return "n/a" if v is None else f"{v:.0f} MB"


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
