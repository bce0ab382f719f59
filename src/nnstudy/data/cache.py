"""Parsed image sets cached twice: in this process and as a .pt file, keyed by the sources' state.

The key hashes each source file's resolved path, size and mtime, so an edited or replaced file
is parsed again. The .pt lives in $NNSTUDY_CACHE (default ~/.cache/nnstudy/tensors; "off"
disables it), never beside the data (a data dir may be shared or read-only), and is read with
torch.load(weights_only=True): a cache file from elsewhere runs no code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

CACHE_VERSION = 1  # bump when the cached layout changes: old files are then simply not found


def data_home() -> Path:
    return Path.home() / ".cache" / "nnstudy"


_MEMORY: dict[str, dict] = {}  # source key -> parsed tensors, for this process


def cache_dir() -> Path | None:
    env = os.environ.get("NNSTUDY_CACHE")
    if env is not None and env.lower() in ("", "off", "0", "none"):
        return None
    return Path(env).expanduser() if env else data_home() / "tensors"


def clear_memory_cache() -> None:
    _MEMORY.clear()


def source_key(sources: list[Path]) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in sources]
    return hashlib.sha256(json.dumps([CACHE_VERSION, stats]).encode()).hexdigest()[:16]


def cached(slug: str, sources: list[Path], parse, disk: bool = True) -> dict:
    """parse() once per source state: from memory, else the .pt cache, else parse and save. Copies."""
    key = f"{slug}-{source_key(sources)}"
    if key not in _MEMORY:
        d = cache_dir() if disk else None
        path = d / f"{key}.pt" if d else None
        hit = read_cache(path) if path else None
        if hit is None:
            hit = parse()
            if path:
                write_cache(path, hit)
        _MEMORY[key] = hit
    hit = _MEMORY[key]
    # Copies: a caller that edits its tensors in place must not change the next run's data.
    return {k: v.clone() if isinstance(v, torch.Tensor) else json.loads(json.dumps(v))
            for k, v in hit.items()}


def read_cache(path: Path) -> dict | None:
    """The cached tensors, or None when absent or unusable (then the caller re-parses and rewrites)."""
    try:
        d = torch.load(path, weights_only=True)
        splits = [k[2:] for k in d if k.startswith("x_")]  # train, and test / val when the source has them
        ok = d.pop("version") == CACHE_VERSION and "train" in splits and all(
            d["x_" + s].dtype == torch.uint8 and d["x_" + s].dim() == 4 and d["y_" + s].dtype == torch.int64
            and len(d["x_" + s]) == len(d["y_" + s]) for s in splits) and {"classes", "meta"} <= set(d)
    except Exception:  # missing, truncated, or not ours: a cache never stops a run
        return None
    return d if ok else None


def write_cache(path: Path, data: dict) -> None:
    """Atomically (temp file + rename), so a killed or concurrent writer leaves no half file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            torch.save({"version": CACHE_VERSION, **data}, fh)
        os.replace(tmp, path)
    except (OSError, RuntimeError):  # a read-only or full cache dir only costs the next run a re-parse
        if tmp:
            Path(tmp).unlink(missing_ok=True)
