"""Training images/s of csvae.fit against a plain PyTorch loop on the same conv CSVAE.

Synthetic faces, uint8 images resident on the device, same batch, one process, alternating
repeats; the median of each and the overhead are printed (target: at most 15% slower). On a GPU
(--device cuda) use --precision bf16-mixed and --channels-last as the paper-size preset would.
    python benchmarks/image_throughput.py [--size 32] [--n 2048] [--epochs 3] [--device cpu]
"""

import argparse
import statistics
import time

import torch

import csvae
from csvae.data.synthetic_faces import generate_faces
from plain_loop import plain_loop


def build(size, channels, dense, device, channels_last):
    model = csvae.build_model("csvae", x_shape=(3, size, size), y_dim=3, seed=0, z_dim=16, likelihood="bernoulli",
                              conv_channels=channels, conv_dense=dense).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--dense", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    x, y, _ = generate_faces(args.n, seed=0, size=args.size)
    xt, yt = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
    images = (args.n // args.batch_size) * args.batch_size * args.epochs
    rates = {"csvae.fit": [], "plain loop": []}
    for _ in range(args.repeats):
        model = build(args.size, args.channels, args.dense, args.device, args.channels_last)
        start = time.perf_counter()
        csvae.fit(model, x, y, epochs=args.epochs, batch_size=args.batch_size, device=args.device,
                  precision=args.precision, log_every=100)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        rates["csvae.fit"].append(images / (time.perf_counter() - start))
        model = build(args.size, args.channels, args.dense, args.device, args.channels_last)
        start = time.perf_counter()
        autocast = torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16,
                                  enabled=args.precision.startswith("bf16"))
        with autocast:
            plain_loop(model, xt, yt, args.epochs, args.batch_size, 0)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        rates["plain loop"].append(images / (time.perf_counter() - start))
    fit_rate, plain_rate = (statistics.median(rates[k]) for k in ("csvae.fit", "plain loop"))
    print(f"device={args.device} precision={args.precision} size={args.size} batch={args.batch_size} "
          f"channels={args.channels} threads={torch.get_num_threads()}")
    print(f"csvae.fit : {fit_rate:10.1f} images/s")
    print(f"plain loop: {plain_rate:10.1f} images/s")
    print(f"overhead  : {plain_rate / fit_rate - 1:+.1%} (target <= +15%)")


if __name__ == "__main__":
    main()
