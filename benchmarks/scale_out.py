"""Images/s of `csvae fit` by number of processes and by loader, and how far the final metrics move.

Each case is a real `csvae fit` (Fabric launches the processes; one thread each), on the preset
(default: the slim 32 px CSVAE on synthetic faces). Images/s are steady-state figures read from
metrics.csv: the training steps between the first and the last logging window over the seconds
between them, so process start, data generation and the final statistics are left out. Cases:

- ``1x1``: one process, one thread, device-resident data (today's path);
- ``2x1``: two processes (gloo), one thread each, same global batch;
- ``stream``: one process, one thread, batches streamed from host memory (``train.loader: stream``);
- ``pair``: two independent one-process runs side by side, each on half the global batch, no
  communication: their summed images/s is what two processes reach on this machine when the
  all-reduce is free (the ceiling of ``2x1`` here: cores, caches and memory bandwidth shared);
- ``2x1_weak``: two processes with the per-process batch of ``1x1`` (global batch doubled), the
  weak-scaling figure that multi-GPU benchmarks usually quote.

It prints each case's images/s (median of --repeats), every case's ratio to 1x1 (targets: 2x1
>= 1.7, stream >= 0.9), the last window's loss terms of 1x1 and 2x1 and the load average.
Usage: python benchmarks/scale_out.py [--epochs 2] [--repeats 3] [--cases 1x1 2x1 stream pair 2x1_weak]
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
from csvae.configfile import load_config

PRESET = Path(csvae.__file__).parent / "configs" / "synthetic_faces" / "csvae.yaml"
CASES = {
    "1x1": lambda batch: [[]],
    "2x1": lambda batch: [["--train.devices", "2"]],
    "stream": lambda batch: [["--train.loader", "stream"]],
    "pair": lambda batch: [["--train.batch_size", str(batch // 2)]] * 2,
    "2x1_weak": lambda batch: [["--train.devices", "2", "--train.batch_size", str(batch * 2)]],
}
"""Each case: the preset's batch size -> the `csvae fit` options of each process it starts (run
side by side)."""
DEFAULT_CASES = ("1x1", "2x1", "stream")
RATIO_TARGETS = {"2x1": ">= 1.7", "stream": ">= 0.9"}


def images_per_second(out: Path) -> tuple[float, dict]:
    """Steady-state (images/s, last window's terms) of the finished run in ``out``."""
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    batch = load_config(out / "config.yaml").train.batch_size
    steps = int(rows[-1]["step"]) - int(rows[0]["step"])
    seconds = float(rows[-1]["time"]) - float(rows[0]["time"])
    terms = {k: float(v) for k, v in rows[-1].items() if k not in ("step", "epoch", "time")}
    return steps * batch / seconds, terms


def run(case: str, args, out: Path) -> tuple[float, dict]:
    """(images/s summed over the case's runs, the first run's last window of terms) of ``case``."""
    batch = load_config(args.config).train.batch_size
    env = dict(os.environ, OMP_NUM_THREADS="1")
    folders, processes = [], []
    for k, extra in enumerate(CASES[case](batch)):
        folders.append(out / f"run{k}")
        command = [sys.executable, "-m", "csvae.cli", "fit", "--config", str(args.config), "--out", str(folders[-1]),
                   "--train.epochs", str(args.epochs), "--train.log_every", str(args.log_every),
                   "--train.threads", "1", "--data.n_samples", str(args.n), *extra]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError(f"case {case}: `csvae fit` exited with {process.returncode}")
    results = [images_per_second(folder) for folder in folders]
    return sum(rate for rate, _ in results), results[0][1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=PRESET)
    parser.add_argument("--n", type=int, default=3000, help="data.n_samples")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(DEFAULT_CASES))
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
        for case in (c for c in median if c != "1x1"):
            target = f" (target {RATIO_TARGETS[case]})" if case in RATIO_TARGETS else ""
            print(f"{case} / 1x1 = {median[case] / median['1x1']:.2f}{target}")
    if "1x1" in terms and "2x1" in terms:
        print("last window, 1x1 vs 2x1: " + ", ".join(f"{k} {terms['1x1'][k]:.4g} / {terms['2x1'][k]:.4g}"
                                                       for k in terms["1x1"]))
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
