"""`nnstudy serve` under a real client: a uvicorn server in its own process, a WebSocket client here.

For the week's net (2 -> 100 -> 3 ReLU, Adam, the 3,000-point spiral: 2,400 trained on full batch,
600 held out, all 3,000 evaluated for every frame) it measures, while frames stream:
  steps/s      training steps per second of wall time (from the frames' step counters);
  frames/s     frames delivered per second (each: a 64x64 grid of class probabilities, train and
               test loss and accuracy, per-layer gradient norms, 16 hidden units' 16x16 maps);
  latency      ms from a frame's `computed` stamp (server, after it was built) to its arrival here
               (same machine, same clock): median and 95th percentile;
and the same with two trainings at once (the Compare page), each on its own socket; and, for scale,
the bare loop's steps/s (train.Stepper in this process, no server, no frames) at the same moments.
Each measurement runs `--seconds` and is repeated `--repeats` times; medians are printed, with the
CPU and the load average (other work on the machine slows every figure).

    python benchmarks/serve.py [--seconds 6] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from nnstudy.store import cpu_name

WEEK = {"dataset": "spiral", "n_per_class": 1000, "model": "mlp", "width": 100, "depth": 1, "activation": "relu",
        "optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-5, "batch_size": 0, "steps": 100_000}


async def one_training(url: str, seconds: float) -> dict:
    import websockets

    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "config", "config": WEEK}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.recv()  # the step-0 frame
        await ws.send(json.dumps({"type": "run"}))
        frames, lat = [], []
        t_end = time.time() + seconds
        while time.time() < t_end:
            f = json.loads(await ws.recv())
            now = time.time() * 1000
            assert f["type"] == "frame", f
            frames.append((now, f["step"]))
            lat.append(now - f["computed"])
        await ws.send(json.dumps({"type": "pause"}))
    (t0, s0), (t1, s1) = frames[1], frames[-1]  # from the second frame: the first follows a cold start
    span = (t1 - t0) / 1000
    lat.sort()
    return {"steps_per_s": (s1 - s0) / span, "frames_per_s": (len(frames) - 2) / span,
            "latency_ms_median": statistics.median(lat), "latency_ms_p95": lat[int(0.95 * (len(lat) - 1))]}


def bare_loop(seconds: float) -> float:
    """Steps/s of the same training with no server and no frames (train.Stepper in this process, one
    thread): what the machine gives the loop right now, the ceiling of the streamed figure."""
    import torch

    from nnstudy.config import TrainConfig
    from nnstudy.data import load_dataset
    from nnstudy.models import build_model
    from nnstudy.train import Stepper

    torch.set_num_threads(1)
    cfg = TrainConfig(**WEEK, device="cpu")
    data = load_dataset(cfg)
    torch.manual_seed(cfg.seed)
    st = Stepper(build_model(cfg, data.input_shape, data.num_classes), data, cfg)
    st.advance(20)  # warm
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        n += st.advance(50)
    return n / (time.perf_counter() - t0)


async def measure(url: str, seconds: float, at_once: int) -> list[dict]:
    return list(await asyncio.gather(*(one_training(url, seconds) for _ in range(at_once))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    with tempfile.TemporaryDirectory() as home:
        server = subprocess.Popen([sys.executable, "-m", "nnstudy", "serve", "--port", str(port), "--out", home],
                                  env=env, stderr=subprocess.PIPE, text=True)
        try:
            server.stderr.readline()  # "nnstudy serve: http://...": listening
            url = f"ws://127.0.0.1:{port}/ws"
            load_before = os.getloadavg()
            solo, pair, bare = [], [], []
            for _ in range(args.repeats):  # interleaved: load that comes and goes hits all alike
                bare.append(bare_loop(args.seconds / 2))
                solo += asyncio.run(measure(url, args.seconds, 1))
                pair += asyncio.run(measure(url, args.seconds, 2))
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(10)

    def med(rows, key):
        return round(statistics.median(r[key] for r in rows), 1)

    keys = ("steps_per_s", "frames_per_s", "latency_ms_median", "latency_ms_p95")
    out = {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads_per_training": 1,
           "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in load_after],
           "seconds_each": args.seconds, "repeats": args.repeats,
           "bare_loop_steps_per_s": round(statistics.median(bare), 1),
           "one_training": {k: med(solo, k) for k in keys},
           "two_at_once_each": {k: med(pair, k) for k in keys},
           "two_at_once_worst": {k: round(min(r[k] for r in pair) if "per_s" in k else max(r[k] for r in pair), 1)
                                 for k in keys}}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"nnstudy serve, {out['cpu']} ({out['cores']} cores), 1 torch thread per training; load average "
          f"{out['load_average_before'][0]} before, {out['load_average_after'][0]} after (other work on the machine)")
    print(f"week's net 2->100->3 ReLU + Adam, 3,000-point spiral (2,400 full batch), medians of {args.repeats} x "
          f"{args.seconds:g} s")
    print(f"{'':<26}{'steps/s':>9}{'frames/s':>10}{'latency ms (median, p95)':>27}")
    print(f"{'bare loop, no frames':<26}{out['bare_loop_steps_per_s']:>9.0f}")
    for name, key in (("one training", "one_training"), ("two at once, each", "two_at_once_each"),
                      ("two at once, worst", "two_at_once_worst")):
        r = out[key]
        print(f"{name:<26}{r['steps_per_s']:>9.0f}{r['frames_per_s']:>10.1f}"
              f"{r['latency_ms_median']:>15.1f}{r['latency_ms_p95']:>12.1f}")


if __name__ == "__main__":
    main()
