"""Reports: run metrics -> a Markdown table (mean ± sd over seeds), per-seed values, target checks."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from csvae.config import atomic_write_bytes

TOY_METRICS = ("recon_r2", "elbo", "label_chance", "z_label_accuracy_linear", "z_label_accuracy_nonlinear",
               "w_label_accuracy")


def group(results: list[dict]) -> dict[tuple[str, str], dict[int, dict]]:
    """(data, model) -> seed -> metrics."""
    table: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for metrics in results:
        table[(metrics["data"], metrics["model"])][metrics["seed"]] = metrics
    return table


def mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def leakage(metrics: dict) -> float:
    """Nonlinear-probe accuracy of y from z above the majority rate."""
    return metrics["z_label_accuracy_nonlinear"] - metrics["label_chance"]


def toy_targets(table, data: str = "swiss_roll") -> list[str]:
    """The core issue's targets on one data set, checked seed by seed (pass: at least 4 of 5)."""
    csvae, vae, info = table.get((data, "csvae"), {}), table.get((data, "vae"), {}), table.get((data, "condvae_info"), {})
    seeds = sorted(csvae)
    lines = ["| seed | CSVAE w acc | CSVAE recon R² | leakage CSVAE | leakage VAE | leakage CondVAE-info |",
             "|---|---|---|---|---|---|"]
    passes = defaultdict(int)
    for s in seeds:
        c = csvae[s]
        v, i = vae.get(s), info.get(s)
        lines.append(f"| {s} | {c['w_label_accuracy']:.3f} | {c['recon_r2']:.3f} | {leakage(c):.3f} | "
                     f"{leakage(v):.3f} | {leakage(i):.3f} |" if v and i else f"| {s} | missing runs |")
        passes["w"] += c["w_label_accuracy"] >= 0.97
        passes["r2"] += c["recon_r2"] >= 0.97
        if v:
            passes["half"] += leakage(c) <= 0.5 * leakage(v)
        if v and i:
            passes["info"] += leakage(i) < leakage(v)
    n = len(seeds)
    need = max(1, n - 1) if n >= 5 else n

    def verdict(key: str, text: str) -> str:
        ok = passes[key] >= need
        return f"- {'PASS' if ok else 'MISS'}: {text}: {passes[key]} of {n} seeds (target: at least {need})"

    return lines + ["", verdict("w", "CSVAE w_label_accuracy ≥ 0.97"), verdict("r2", "CSVAE recon_r2 ≥ 0.97"),
                    verdict("half", "CSVAE leakage ≤ half the VAE's (nonlinear probe, same seed)"),
                    verdict("info", "CondVAE-info leakage below the VAE's")]


def write_toy_report(out: Path, results: list[dict], experiment) -> Path:
    table = group(results)
    lines = [f"# csvae reproduction: {experiment.name}", "",
             "Test-set metrics, mean ± sd over seeds. Leakage is the accuracy of a probe predicting the "
             "label from z (linear: logistic regression; nonlinear: gradient boosting); near "
             "`label_chance` is the goal. `w_label_accuracy` is a linear probe on W_i.", ""]
    header = "| data | model | " + " | ".join(TOY_METRICS) + " |"
    lines += [header, "|" + "---|" * (len(TOY_METRICS) + 2)]
    for data in experiment.datasets:
        for model in experiment.models:
            runs = table.get((data, model), {})
            cells = [mean_sd([m[key] for m in runs.values() if key in m]) for key in TOY_METRICS]
            lines.append(f"| {data} | {model} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets on the swiss roll (per seed)", ""] + toy_targets(table)
    lines += ["", "## Latent spaces (seed 0, test set, coloured by the first attribute)", ""]
    for data in experiment.datasets:
        for model in experiment.models:
            figure = Path("runs") / data / model / "seed0" / "latents.png"
            if (out / figure).exists():
                lines.append(f"**{model} on {data}**\n\n![{model} {data}]({figure.as_posix()})\n")
    lines += ["## Every run", "", "| data | model | seed | " + " | ".join(TOY_METRICS) + " |",
              "|" + "---|" * (len(TOY_METRICS) + 3)]
    for (data, model), runs in sorted(table.items()):
        for seed, m in sorted(runs.items()):
            cells = [f"{m[key]:.3f}" if key in m else "–" for key in TOY_METRICS]
            lines.append(f"| {data} | {model} | {seed} | " + " | ".join(cells) + " |")
    path = out / "report.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path
