#!/usr/bin/env bash
# Every GPU check of the image issue, unattended, in minutes:
#   cifar10-fast and cifar10-vgg16 (test accuracy, training time, images/s), fmnist-fast on the GPU,
#   the training throughput of nnstudy's pipeline vs torchvision + DataLoader on the GPU (needs
#   Fashion-MNIST), and a DDP run over every visible GPU when there are 2 or more.
# Where CIFAR-10 is absent it says so and trains the same recipes on a random stand-in of the same
# shape (50,000 + 10,000 uint8 images 3x32x32): the times and images/s are real, the accuracy is chance.
#
#   benchmarks/gpu.sh                 # SEEDS=1 by default; SEEDS=3 for medians; EPOCHS=N to shorten
#   PYTHON=python benchmarks/gpu.sh   # another interpreter than .venv/bin/python
#   DEVICE=cpu STANDIN=1000 EPOCHS=1 benchmarks/gpu.sh   # a smoke test of the script itself, no GPU needed
# Writes benchmarks/results/gpu.md (and gpu.json); exits 0 with a message where no GPU is visible.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
SEEDS=${SEEDS:-1}
DEVICE=${DEVICE:-cuda}
STANDIN=${STANDIN:-50000}  # training images of the stand-in (10,000 test images per 50,000)
RESULTS=benchmarks/results
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ "$DEVICE" = cuda ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu.sh: no CUDA GPU visible to torch; nothing to measure" >&2
    exit 0
fi
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', '| torch', torch.__version__, '| GPUs:', torch.cuda.device_count())"

DATA=cifar10
EPOCH_FLAGS=()
if ! "$PY" -c "from nnstudy.config import TrainConfig; from nnstudy.data.vision import locate; locate('cifar10', TrainConfig(dataset='cifar10'))" 2>"$WORK/where"; then
    echo "gpu.sh: CIFAR-10 not found ($(cat "$WORK/where")); using a random stand-in of the same shape: speed only, accuracy is chance" >&2
    "$PY" - "$WORK/standin.npz" "$STANDIN" <<'EOF'
import sys
import numpy as np
r, n = np.random.default_rng(0), int(sys.argv[2])
np.savez(sys.argv[1], x=r.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), y=r.integers(0, 10, n),
         x_test=r.integers(0, 256, (n // 5, 3, 32, 32), dtype=np.uint8), y_test=r.integers(0, 10, n // 5))
EOF
    DATA="npz:$WORK/standin.npz"
    EPOCH_FLAGS=(--epochs "${EPOCHS:-3}")  # speed needs a few epochs, not the whole schedule
elif [ -n "${EPOCHS:-}" ]; then
    EPOCH_FLAGS=(--epochs "$EPOCHS")
fi

run() {  # run LABEL ARGS...: one training run, its JSON summary kept as $WORK/LABEL.json
    local label=$1; shift
    echo "== $label: nnstudy train $*" >&2
    "$PY" -m nnstudy train "$@" --device "$DEVICE" --json --no-figures --out "$WORK/store" > "$WORK/$label.json"
}

for seed in $(seq 0 $((SEEDS - 1))); do
    run "cifar10-fast.s$seed" --recipe cifar10-fast --dataset "$DATA" --seed "$seed" ${EPOCH_FLAGS[@]+"${EPOCH_FLAGS[@]}"}
    run "cifar10-vgg16.s$seed" --recipe cifar10-vgg16 --dataset "$DATA" --seed "$seed" ${EPOCH_FLAGS[@]+"${EPOCH_FLAGS[@]}"}
    if [ "$DEVICE" = cuda ] && "$PY" -c "from nnstudy.config import TrainConfig; from nnstudy.data.vision import locate; locate('fashion-mnist', TrainConfig(dataset='fashion-mnist'))" 2>/dev/null; then
        run "fmnist-fast.s$seed" --recipe fmnist-fast --seed "$seed"
    fi
done
if [ "$DEVICE" = cuda ] && "$PY" -c "from nnstudy.config import TrainConfig; from nnstudy.data.vision import locate; locate('fashion-mnist', TrainConfig(dataset='fashion-mnist'))" 2>/dev/null; then
    echo "== throughput on the GPU: nnstudy vs torchvision + DataLoader (benchmarks/images.py)" >&2
    "$PY" benchmarks/images.py --throughput --device cuda --threads 0 --repeats 3 --images 20000 >&2
fi
if [ "$DEVICE" = cuda ] && [ "$NGPU" -ge 2 ]; then  # DDP over every GPU, same global batch as the single-GPU run
    echo "== cifar10-vgg16 under torchrun on $NGPU GPUs" >&2
    "$PY" -m torch.distributed.run --standalone --nproc_per_node "$NGPU" -m nnstudy train --recipe cifar10-vgg16 \
        --dataset "$DATA" ${EPOCH_FLAGS[@]+"${EPOCH_FLAGS[@]}"} --device cuda --json --no-figures --out "$WORK/store" \
        > "$WORK/cifar10-vgg16-ddp$NGPU.s0.json"
fi

"$PY" - "$WORK" "$RESULTS" "$DATA" <<'EOF'
import json, statistics, sys, time
from pathlib import Path
import torch
work, results, data = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
runs = {}
for f in sorted(work.glob("*.json")):
    label = f.stem.rsplit(".s", 1)[0]
    s = json.loads(f.read_text())
    c = s["config"]
    n_train = s["steps"] * c["batch_size"] / c["epochs"]  # images an epoch (the last batch may be short)
    runs.setdefault(label, []).append({"test_acc": s["final"]["test_acc"], "train_seconds": s["train_seconds"],
                                       "img_s": n_train * c["epochs"] / s["train_seconds"], "epochs": c["epochs"]})
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU (smoke test on the CPU)"
lines = [f"# GPU checks (benchmarks/gpu.sh), {time.strftime('%Y-%m-%d %H:%M')}", "",
         f"{gpu}, torch {torch.__version__}, data: "
         + ("CIFAR-10" if data == "cifar10" else "RANDOM STAND-IN (CIFAR-10 absent): accuracy is chance, times are real"), "",
         "| recipe | runs | epochs | test acc (median) | training s (median) | images/s |", "|---|---|---|---|---|---|"]
for label, rs in runs.items():
    med = lambda k: statistics.median(r[k] for r in rs)
    lines.append(f"| {label} | {len(rs)} | {rs[0]['epochs']} | {med('test_acc'):.4f} | {med('train_seconds'):.1f} | {med('img_s'):.0f} |")
lines += ["", "Targets: cifar10-vgg16 >= 93.5% test, cifar10-fast >= 94% test (anchors.md: kuangliu VGG16 92.64%, "
          "airbench94 94.01% in 2.59 s on an A100)."]
name = "gpu" if torch.cuda.is_available() else "gpu-smoke"
(results / f"{name}.md").write_text("\n".join(lines) + "\n")
(results / f"{name}.json").write_text(json.dumps(runs, indent=2))
print("\n".join(lines))
EOF
