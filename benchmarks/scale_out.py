"""Images/s of `csvae fit` by number of processes and by loader, and how far the final metrics move.

Each case is a real `csvae fit` (Fabric launches the processes; one thread each), on the preset
(default: the slim 32 px CSVAE on synthetic faces). Images/s are steady-state figures read from
metrics.csv: the training steps between the first and the last logging window over the seconds
between them, so process start, data generation and the final statistics are left out. Cases:

- ``1x1``: one process, one thread, device-resident data (today's path);
- ``2x1``: two processes (gloo), one thread each, same global batch;
- ``stream``: one process, one thread, batches streamed from host memory (``train.loader: stream``).

It prints each case's images/s (median of --repeats), the ratios 2x1/1x1 (target >= 1.7) and
stream/1x1 (target >= 0.9), the last window's loss terms of 1x1 and 2x1 and the load average.
Usage: python benchmarks/scale_out.py [--epochs 2] [--repeats 3] [--cases 1x1 2x1 stream]
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import csvae
from csvae.config import load_config

PRESET = Path(csvae.__file__).parent / "configs" / "synthetic_faces" / "csvae.yaml"
CASES = {"1x1": [], "2x1": ["--train.devices", "2"], "stream": ["--train.loader", "stream"]}


def run(case: str, args, out: Path) -> tuple[float, dict]:
    """(images/s, last window's terms) of one `csvae fit` of ``case``."""
    command = [sys.executable, "-m", "csvae.cli", "fit", "--config", str(args.config), "--out", str(out),
               "--train.epochs", str(args.epochs), "--train.log_every", str(args.log_every),
               "--train.threads", "1", "--data.n_samples", str(args.n), *CASES[case]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    batch = load_config(out / "config.yaml").train.batch_size
    steps = int(rows[-1]["step"]) - int(rows[0]["step"])
    seconds = float(rows[-1]["time"]) - float(rows[0]["time"])
    terms = {k: float(v) for k, v in rows[-1].items() if k not in ("step", "epoch", "time")}
    return steps * batch / seconds, terms


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=PRESET)
    parser.add_argument("--n", type=int, default=3000, help="data.n_samples")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = parser.parse_args()
    print(f"{args.config}: {args.n} samples, {args.epochs} epochs; load average at start {os.getloadavg()[0]:.2f}")
    rates, terms = {case: [] for case in args.cases}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for case in args.cases:  # interleaved, so a change of load touches every case alike
                rate, terms[case] = run(case, args, Path(tmp) / f"{case}-{repeat}")
                rates[case].append(rate)
                print(f"  {case}: {rate:.0f} images/s; load average {os.getloadavg()[0]:.2f}", flush=True)
    median = {case: statistics.median(r) for case, r in rates.items()}
    print("images/s median: " + ", ".join(f"{case} {value:.0f}" for case, value in median.items()))
    if "1x1" in median:
        for case, target in (("2x1", ">= 1.7"), ("stream", ">= 0.9")):
            if case in median:
                print(f"{case} / 1x1 = {median[case] / median['1x1']:.2f} (target {target})")
    if "1x1" in terms and "2x1" in terms:
        print("last window, 1x1 vs 2x1: " + ", ".join(f"{k} {terms['1x1'][k]:.4g} / {terms['2x1'][k]:.4g}"
                                                       for k in terms["1x1"]))
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
