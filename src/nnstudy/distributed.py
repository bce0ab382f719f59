"""DistributedDataParallel under torchrun: the same `nnstudy train`, one process per device.

    torchrun --nproc_per_node 4 -m nnstudy train --recipe cifar10-vgg16

What changes when WORLD_SIZE > 1 (torchrun sets it, with RANK and LOCAL_RANK):
- `setup()` joins the process group (NCCL for CUDA, gloo for the CPU) and pins rank r to cuda:LOCAL_RANK;
- every rank draws the same permutation and augmentation (same seed, same generator) and trains on
  its contiguous slice of every global batch (`local_slice`); the loss is weighted by the slice's
  share so that DDP's gradient average equals the single-process gradient of the global batch,
  ragged last batch included;
- per-step train loss/accuracy are all-reduced once per epoch (`reduce_mean`), so the recorded
  curve is the global batch's;
- rank 0 alone writes the store (one run), checkpoints and figures; the others read the store only
  to resume from the same checkpoint;
- evaluation is replicated: every rank evaluates the whole held-out set after `sync_buffers` makes
  batch-norm statistics equal to rank 0's, so all ranks hold the same numbers (no speed-up there).

Batch norm normalises with each rank's own slice (no SyncBatchNorm), as plain DDP does: with BN a
run differs slightly from one process with the same global batch; without BN it matches to float
rounding (tests/test_resume_ddp.py).
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def setup(device: str = "auto") -> None:
    """Join the process group when torchrun started us (WORLD_SIZE > 1); a no-op otherwise."""
    if world_size() <= 1 or active():
        return
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))  # "cuda" now means this rank's GPU
    dist.init_process_group("nccl" if cuda else "gloo")
    if is_main():
        print(f"nnstudy: distributed over {world_size()} processes ({dist.get_backend()}); "
              "rank 0 writes the store", file=sys.stderr, flush=True)


def teardown() -> None:
    if active():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DDP around the model (parameters broadcast from rank 0 at construction)."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def local_slice(n: int) -> tuple[slice, float]:
    """This rank's contiguous part of a global batch of n, and its loss weight
    (local share x world size: the DDP mean of weighted local means is the global mean)."""
    if not active():
        return slice(0, n), 1.0
    w, r = dist.get_world_size(), dist.get_rank()
    bounds = [n * i // w for i in range(w + 1)]
    lo, hi = bounds[r], bounds[r + 1]
    return slice(lo, hi), (hi - lo) * w / max(1, n)


def reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Average of already-weighted per-rank values across ranks (identity on one process)."""
    if not active():
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / dist.get_world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True when `flag` holds on any rank: every rank stops together (a lone stop would hang the rest)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


@torch.no_grad()
def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (batch-norm running statistics) to every rank."""
    if not active():
        return
    for b in model.buffers():
        dist.broadcast(b, src=0)
