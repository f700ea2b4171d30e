"""Images per second of the synthetic-face generator on one core.

    .venv/bin/python benchmarks/synthetic_faces_speed.py [--n 5000] [--sizes 32 64] [--repeats 3]

Prints, for each size, the images/s of ``generate_faces`` (drawing the factors and rendering) in
each repeat and the median. Rendering is single-threaded Python + Pillow; BLAS/OpenMP threads
are pinned to 1 before numpy is imported so that the number is a one-core number.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import PIL  # noqa: E402

from csvae.data.synthetic_faces import generate_faces  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="images per repeat")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
        except OSError:
            pass
    print(f"python {platform.python_version()}, numpy {np.__version__}, Pillow {PIL.__version__}, "
          f"{platform.processor() or platform.machine()}, n = {args.n}")
    for size in args.sizes:
        generate_faces(64, seed=123, size=size)  # warm up
        rates = []
        for r in range(args.repeats):
            start = time.perf_counter()
            generate_faces(args.n, seed=r, size=size)
            rates.append(args.n / (time.perf_counter() - start))
        print(f"size {size:3d}: {statistics.median(rates):8.0f} images/s (median; repeats: "
              f"{', '.join(f'{v:.0f}' for v in rates)})")


if __name__ == "__main__":
    main()
