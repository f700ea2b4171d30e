"""Images per second (and per core) of ``prepare_data`` on the real CelebA subset.

Builds the cache of every image of the subset (reader ``celeba``, attribute Eyeglasses, no
balancing, no held-out split) from scratch, once with one worker and once with every core, and
prints images/s and images/s per core. The goal is >= 1,000 images/s per core at 64x64.

    .venv/bin/python benchmarks/cache_throughput.py [--root DIR] [--size 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from csvae.data.cache import load_cache
from csvae.data.images import prepare_data

DEFAULT_ROOT = Path(os.environ.get("CSVAE_CELEBA_SUBSET") or
                    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celeba-subset")


def measure(root: Path, size: int, workers: int, repeats: int) -> tuple[int, float]:
    """(images, best seconds) of ``repeats`` full builds with ``workers`` processes."""
    best, n = float("inf"), 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            out = prepare_data("celeba", root, size, Path(tmp) / "cache", workers=workers,
                               attributes=["Eyeglasses"], balance=False, holdout_fraction=0.0)
            best = min(best, time.perf_counter() - start)
            n = len(load_cache(out).y)
    return n, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not (args.root / "list_attr_celeba.txt").is_file():
        raise SystemExit(f"no CelebA subset at {args.root}; pass --root or set CSVAE_CELEBA_SUBSET")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for workers in sorted({1, cores}):
        n, seconds = measure(args.root, args.size, workers, args.repeats)
        print(f"{n} images at {args.size}x{args.size}, {workers} worker(s): {seconds:.2f} s, "
              f"{n / seconds:,.0f} images/s, {n / seconds / workers:,.0f} images/s per core")


if __name__ == "__main__":
    main()
