"""Training images/s of csvae.fit, a plain PyTorch loop, and a plain forward+backward of the nets.

The network is built from a shipped preset (default: the slim 32 px CSVAE of
configs/synthetic_faces/csvae.yaml, its model section), so a change of the preset's nets shows
here; --channels/--dense/--norm/--size override it. Data: synthetic faces, uint8, resident in
memory. For each thread count (--threads, default 1 and 2) and each repeat, three figures:

- csvae.fit: the library's loop (Fabric, metrics, NaN checks, final class statistics) with
  ``threads`` and ``precision`` set; it keeps images and conv weights channels_last;
- plain loop: the same alternation in nothing but torch (plain_loop.py), channels_last unless
  --contiguous, under bf16 autocast when --precision bf16-mixed;
- nets fwd+bwd: only the conv encoders and decoder of the same model, forward and backward on a
  batch, no heads, losses or optimizer: the CPU's practical limit for these nets.

Runs alternate and the median and best of --repeats are printed with the load average (run it on a
quiet machine; another job on the cores changes every figure). It also prints the FLOPs of one
training step per image (``csvae.flops``: matrix products and convolutions, forward and backward)
and what share of the device's peak csvae.fit reaches (peak: --peak-tflops, else the datasheet's
dense bf16 figure of a known GPU). --paper measures the paper-size 64 px nets (64-128-256, dense
2048); --device cuda runs csvae.fit on the GPU (the plain loop and nets figures are CPU-only).
Usage:
    python benchmarks/image_throughput.py [--threads 1 2] [--precision bf16-mixed] [--contiguous]
    python benchmarks/image_throughput.py --device cuda --precision bf16-mixed --paper --only fit
"""

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

import csvae
from csvae.api import model_from_config
from csvae.configfile import load_config
from csvae.data.synthetic_faces import generate_faces
from csvae.flops import training_step_flops
from csvae.nets import ConvDecoder, ConvEncoder
from plain_loop import plain_loop

PRESET = Path(csvae.__file__).parent / "configs" / "synthetic_faces" / "csvae.yaml"
PAPER = {"channels": [64, 128, 256], "dense": 2048, "size": 64}
"""Larsen's (the paper's) 64 px nets."""
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
"""Dense bf16 tensor-core peaks of NVIDIA's datasheets (SXM parts), by a word of the device name."""


def peak_tflops(args) -> float | None:
    """The device's peak for the share-of-peak figure: --peak-tflops, else a known GPU's."""
    if args.peak_tflops or args.device != "cuda" or args.precision != "bf16-mixed":
        return args.peak_tflops
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def flops_per_image(args, x, y) -> float:
    """FLOPs of one training step per image, counted on a small batch on the CPU."""
    model = build(args, y.shape[1])
    batch = 4
    return training_step_flops(model, x[:batch], y[:batch]) / batch


def build(args, y_dim: int, layout=torch.contiguous_format):
    """The preset's model with the command line's overrides, on the CPU in ``layout``."""
    config = load_config(args.config).model
    for field, value in (("conv_channels", args.channels), ("conv_dense", args.dense), ("conv_norm", args.norm)):
        if value is not None:
            setattr(config, field, value)
    model = model_from_config(config, (3, args.size, args.size), y_dim, seed=0)
    return model.to(memory_format=layout)


def run_fit(args, x, y, threads: int) -> float:
    """Seconds of one csvae.fit."""
    model = build(args, y.shape[1])
    start = time.perf_counter()
    csvae.fit(model, x, y, epochs=args.epochs, batch_size=args.batch_size, precision=args.precision,
              threads=threads, device=args.device)
    if args.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run_plain(args, x, y, threads: int) -> float:
    """Seconds of the plain loop over the same steps."""
    torch.set_num_threads(threads)
    model = build(args, y.shape[1], args.layout)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed"):
        plain_loop(model, x, y, args.epochs, args.batch_size, 0)
    return time.perf_counter() - start


def run_nets(args, x, y, threads: int) -> float:
    """Seconds of forward+backward of the conv encoders and decoder alone over the same steps."""
    torch.set_num_threads(threads)
    model = build(args, y.shape[1], args.layout)
    encoders = [m for m in model.modules() if isinstance(m, ConvEncoder)]
    decoders = [m for m in model.modules() if isinstance(m, ConvDecoder)]
    steps = (len(x) // args.batch_size) * args.epochs
    codes = [torch.randn(args.batch_size, d.in_dim) for d in decoders]
    start = time.perf_counter()
    for step in range(steps):
        i = (step % (len(x) // args.batch_size)) * args.batch_size
        xb = x[i:i + args.batch_size].float().div_(255.0)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed"):
            loss = (sum(e(xb).float().mean() for e in encoders)
                    + sum(d(c).float().mean() for d, c in zip(decoders, codes)))
        model.zero_grad(set_to_none=True)
        loss.backward()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=PRESET, help="preset whose model section is measured")
    parser.add_argument("--channels", type=int, nargs="+", help="override model.conv_channels")
    parser.add_argument("--dense", type=int, help="override model.conv_dense")
    parser.add_argument("--norm", choices=["batch", "group", "none"], help="override model.conv_norm")
    parser.add_argument("--size", type=int, help="image side (default: the preset's data.image_size)")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--contiguous", action="store_true",
                        help="plain loop and nets in contiguous (NCHW) layout instead of channels_last")
    parser.add_argument("--only", nargs="+", choices=["fit", "plain", "nets"], default=["fit", "plain", "nets"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where csvae.fit trains")
    parser.add_argument("--paper", action="store_true", help="the paper-size 64 px nets (64-128-256, dense 2048)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak, for the share-of-peak figure")
    args = parser.parse_args()
    if args.paper:
        args.channels, args.dense, args.size = PAPER["channels"], PAPER["dense"], PAPER["size"]
    if args.device == "cuda" and args.only != ["fit"]:
        print("--device cuda: measuring csvae.fit only (the plain loop and nets figures are CPU-only)")
        args.only = ["fit"]
    args.size = args.size or load_config(args.config).data.image_size
    args.layout = torch.contiguous_format if args.contiguous else torch.channels_last
    x_np, y_np, _ = generate_faces(args.n, seed=0, size=args.size)
    x = torch.from_numpy(x_np).contiguous(memory_format=args.layout)
    y = torch.from_numpy(y_np)
    images = (args.n // args.batch_size) * args.batch_size * args.epochs
    runners = {"fit": ("csvae.fit", run_fit), "plain": ("plain loop", run_plain), "nets": ("nets fwd+bwd", run_nets)}
    model = build(args, y.shape[1])
    c = model.config
    print(f"{args.config.name}: {c.name}, {args.size} px, channels {c.conv_channels}, dense {c.conv_dense}, "
          f"norm {c.conv_norm}, batch {args.batch_size}, {images} images a run, precision {args.precision}, "
          f"plain layout {'contiguous' if args.contiguous else 'channels_last'}; load average at start "
          f"{os.getloadavg()[0]:.2f}")
    gflop = flops_per_image(args, x, y) / 1e9
    peak = peak_tflops(args)
    print(f"GFLOP per image (one training step, forward and backward): {gflop:.4f}")
    short = argparse.Namespace(**{**vars(args), "n": 4 * args.batch_size, "epochs": 1})
    for threads in args.threads:
        for key in args.only:  # warm up: oneDNN builds its kernels on first use
            runners[key][1](short, x[:short.n], y[:short.n], threads)
        rates = {key: [] for key in args.only}
        for _ in range(args.repeats):
            for key in args.only:
                rates[key].append(images / runners[key][1](args, x, y, threads))
        summary = "  ".join(f"{runners[k][0]} {statistics.median(r):6.0f} (best {max(r):4.0f})"
                            for k, r in rates.items())
        print(f"threads {threads}: images/s median {summary}; load average {os.getloadavg()[0]:.2f}")
        if "fit" in rates:
            tflops = statistics.median(rates["fit"]) * gflop / 1e3
            share = f", {tflops / peak:.1%} of the peak {peak:g} TFLOP/s" if peak else " (peak unknown: --peak-tflops)"
            print(f"threads {threads}: csvae.fit {statistics.median(rates['fit']):.0f} images/s x {gflop:.4f} GFLOP "
                  f"= {tflops:.3f} TFLOP/s{share}")
        if "fit" in rates and "plain" in rates:
            ratio = statistics.median(rates["fit"]) / statistics.median(rates["plain"])
            print(f"threads {threads}: csvae.fit / plain loop = {ratio:.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
