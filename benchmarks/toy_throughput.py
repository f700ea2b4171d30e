"""Samples/s of csvae.fit against a plain PyTorch loop training the same CSVAE on the same data.

Both run in this process, alternately, several times; the median of each is reported with the
overhead ratio (target: csvae.fit at most 15% slower). Usage:
    python benchmarks/toy_throughput.py [--epochs 10] [--repeats 3] [--threads 1]
"""

import argparse
import statistics
import time

import torch

import csvae
from csvae.data.toy import make_toy
from plain_loop import plain_loop


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = make_toy("swiss_roll", 4000, seed=0).part("train")
    xt, yt = torch.tensor(x), torch.tensor(y)
    rates = {"csvae.fit": [], "plain loop": []}
    samples = (len(x) // args.batch_size) * args.batch_size * args.epochs
    for _ in range(args.repeats):
        model = csvae.build_model("csvae", x_dim=3, y_dim=1, seed=0)
        start = time.perf_counter()
        csvae.fit(model, x, y, epochs=args.epochs, batch_size=args.batch_size, seed=0, log_every=100,
                   threads=args.threads)
        rates["csvae.fit"].append(samples / (time.perf_counter() - start))
        model = csvae.build_model("csvae", x_dim=3, y_dim=1, seed=0)
        model.set_standardization(xt.mean(0), xt.std(0))
        start = time.perf_counter()
        plain_loop(model, xt, yt, args.epochs, args.batch_size, 0)
        rates["plain loop"].append(samples / (time.perf_counter() - start))
    fit_rate, plain_rate = (statistics.median(rates[k]) for k in ("csvae.fit", "plain loop"))
    print(f"threads={args.threads} epochs={args.epochs} batch={args.batch_size} repeats={args.repeats}")
    print(f"csvae.fit : {fit_rate:10.0f} samples/s")
    print(f"plain loop: {plain_rate:10.0f} samples/s")
    print(f"overhead  : {plain_rate / fit_rate - 1:+.1%} (csvae.fit time / plain time - 1; target <= +15%)")


if __name__ == "__main__":
    main()
