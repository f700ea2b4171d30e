"""The report's tables: metrics over seeds (mean ± sd), manipulation, styles against the ground
truth, counterfactual distances and transfer fidelity, and the swiss-roll targets."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

VECTOR_METRICS = ("recon_r2", "elbo", "bits_per_dim", "label_chance", "z_label_accuracy_linear",
                  "z_label_accuracy_nonlinear", "w_label_accuracy")


NULL_NOTE = ("– marks a value that is missing or null (evaluate writes a NaN or infinite metric as null); "
             "\"(n of m)\" marks a mean over the n of m seeds that have one.")


class NullMetric(ValueError):
    """A number a claim needs is null (NaN or infinite when evaluated) or missing."""


class MetricTypeError(TypeError):
    """A value the report reads as a number is something else (a string, a boolean, a list, ...);
    ``value`` is the object itself, so the reader of the file can name its key."""

    def __init__(self, value):
        super().__init__(f"{value!r:.60} where the report reads a number")
        self.value = value


def number(value) -> float | None:
    """``value`` as a number, None for a null, missing or non-finite one; MetricTypeError for a
    value of another type (a boolean is not a number)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MetricTypeError(value)
    return value if math.isfinite(value) else None


def finite_mean(values, what: str) -> float:
    """The mean of ``values``; NullMetric naming ``what`` when one is not a finite number."""
    values = [number(v) for v in values]
    bad = sum(v is None for v in values)
    if bad or not values:
        raise NullMetric(f"{what} is null or missing in {bad} of {len(values)} run(s) (a NaN or infinite metric "
                         f"is written as null)")
    return float(np.mean(values))


def mean_sd(values: list[float]) -> str:
    """Mean ± sd of the numbers among ``values`` ("–" when none is one; "(n of m)" added when only
    some are)."""
    numbers = [v for v in map(number, values) if v is not None]
    if not numbers:
        return "–"
    some = f" ({len(numbers)} of {len(values)})" if len(numbers) < len(values) else ""
    if len(numbers) == 1:
        return f"{numbers[0]:.3f}{some}"
    return f"{np.mean(numbers):.3f} ± {np.std(numbers, ddof=1):.3f}{some}"


def number_text(value) -> str:
    """A number with 3 decimals, "–" for a null or missing one."""
    return "–" if number(value) is None else f"{value:.3f}"


def leakage(metrics: dict) -> float | None:
    """Nonlinear-probe accuracy of y from z above the majority rate (None when either is null or
    missing)."""
    probe, chance = number(metrics.get("z_label_accuracy_nonlinear")), number(metrics.get("label_chance"))
    return probe - chance if probe is not None and chance is not None else None


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def toy_targets(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The core issue's swiss-roll targets, seed by seed (pass: at least 4 of 5 seeds; a seed whose
    numbers are null does not pass, and is counted)."""
    csvae, vae, info = runs.get("csvae", {}), runs.get("vae", {}), runs.get("condvae_info", {})
    rows, passes, nulls = [], defaultdict(int), defaultdict(int)
    for s in sorted(csvae):
        c, v, i = csvae[s], vae.get(s), info.get(s)
        if not (v and i):
            continue
        w, r2, lc, lv, li = number(c.get("w_label_accuracy")), number(c.get("recon_r2")), *map(leakage, (c, v, i))
        rows.append([str(s), *map(number_text, (w, r2, lc, lv, li))])
        checks = {"w": w >= 0.97 if w is not None else None, "r2": r2 >= 0.97 if r2 is not None else None,
                  "half": lc <= 0.5 * lv if lc is not None and lv is not None else None,
                  "info": li < lv if li is not None and lv is not None else None}
        for key, ok in checks.items():
            passes[key] += bool(ok)
            nulls[key] += ok is None
    n = len(rows)
    need = n - 1 if n >= 5 else n

    def verdict(key: str, text: str) -> str:
        null = f"; {nulls[key]} seed(s) null, not passing" if nulls[key] else ""
        return (f"- {'PASS' if passes[key] >= need else 'MISS'}: {text}: {passes[key]} of {n} seeds "
                f"(target: at least {need}{null})")

    return table(["seed", "CSVAE w acc", "CSVAE recon R²", "leakage CSVAE", "leakage VAE", "leakage CondVAE-info"],
                 rows) + ["", verdict("w", "CSVAE w_label_accuracy ≥ 0.97"), verdict("r2", "CSVAE recon_r2 ≥ 0.97"),
                          verdict("half", "CSVAE leakage ≤ half the VAE's (nonlinear probe, same seed)"),
                          verdict("info", "CondVAE-info leakage below the VAE's")]


DISENTANGLEMENT = ("dci_disentanglement", "dci_completeness", "dci_informativeness", "dci_informativeness_r2",
                   "mig", "sap")


def disentanglement_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per code part (z, each W_i, w, all): DCI, MIG and SAP, mean ± sd over seeds."""
    parts = [m["disentanglement"]["parts"] for m in seeds.values() if "disentanglement" in m]
    if not parts:
        return []
    return [[variant, part, *[mean_sd([p.get(part, {}).get(key) for p in parts]) for key in DISENTANGLEMENT]]
            for part in parts[0]]


def disentanglement_section(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The table of disentanglement scores of a part (empty when no run has them)."""
    rows = [row for v, s in runs.items() for row in disentanglement_rows(v, s)]
    if not rows:
        return []
    first = next(m["disentanglement"] for s in runs.values() for m in s.values() if "disentanglement" in m)
    return ["", "### Disentanglement against the known factors", "",
            f"DCI, MIG and SAP as disentanglement_lib defines them (docs/evaluation.md), of each code part against "
            f"the factors {', '.join(first['factors'])}; {first['n_train']} train / {first['n_test']} test codes. "
            "D and C of a part come from the whole code's importance matrix restricted to its dimensions; "
            "informativeness (accuracy over the discrete factors, R² over the continuous ones) is the whole code's. "
            "MIG, SAP and DCI-C need at least two dimensions, DCI-D two factors (– otherwise).", "",
            *table(["variant", "code", "DCI-D", "DCI-C", "DCI-I (acc)", "DCI-I (R²)", "MIG", "SAP"], rows)]


def manipulation_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    first = seeds[min(seeds)]["manipulation"]
    rows = []
    for direction, row in first["directions"].items():
        accuracies = [m["manipulation"]["directions"][direction]["accuracy"] for m in seeds.values()]
        diversity = [m["manipulation"]["diversity"].get(direction, {}) for m in seeds.values()]
        interval = (f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
                    if number(row.get("ci_low")) is not None and number(row.get("ci_high")) is not None else "–")
        rows.append([variant, direction, mean_sd(accuracies), interval,
                     mean_sd([m["manipulation"]["directions"][direction]["preserved_accuracy"]
                              for m in seeds.values()]),
                     mean_sd([m["manipulation"]["directions"][direction]["recon_distance"] for m in seeds.values()]),
                     mean_sd([d.get("pixel") for d in diversity]), mean_sd([d.get("feature") for d in diversity])])
    return rows


def mean_manipulation(seeds: dict[int, dict]) -> float:
    """The mean manipulation accuracy over seeds; NullMetric when a seed's is null."""
    return finite_mean([m["manipulation"].get("mean_accuracy") for m in seeds.values()], "mean_accuracy")


def mean_diversity(seeds: dict[int, dict]) -> float:
    return float(np.mean([d["feature"] for m in seeds.values() for d in m["manipulation"]["diversity"].values()
                          if d.get("feature") is not None] or [0.0]))


def factor_mean(table: dict | None, factors) -> float | None:
    """Mean of table[f] over the factors f (None for a missing table)."""
    return float(np.mean([table[f] for f in factors])) if table else None


def style_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per attribute: mean R^2 over its style factors from W_i and z, the judge's reading of them on
    real images and on reconstructions, of the transferred style, and the transfer MSEs."""
    rows = []
    styles = [m["styles"] for m in seeds.values()]
    for attribute, factors in seeds[min(seeds)]["styles"]["r2"]["z_style"].items():
        w_style = [factor_mean(st["r2"]["w_style"][attribute], factors) for st in styles if "w_style" in st["r2"]]
        z_style = [factor_mean(st["r2"]["z_style"][attribute], factors) for st in styles]
        real = [factor_mean(st.get("reader", {}).get("real"), factors) for st in styles]
        recon = [factor_mean(st.get("reader", {}).get("reconstruction"), factors) for st in styles]
        transfer = [st.get("transfer", {}).get(attribute, {}) for st in styles]
        rows.append([variant, attribute, mean_sd(w_style), mean_sd(z_style), mean_sd(recon), mean_sd(real),
                     mean_sd([factor_mean(t.get("style_r2", {}).get("transfer"), factors) for t in transfer]),
                     mean_sd([t.get("mse", {}).get("transfer") for t in transfer]),
                     mean_sd([t.get("mse", {}).get("recon_a") for t in transfer])])
    return rows


DISTANCES = {"pixel": "pixels", "feature": "judge features"}


def interval_text(summary: dict | None) -> str:
    """A bootstrap summary {"mean", "ci_low", "ci_high"} as "[low, high]" ("–" for None)."""
    if not summary or number(summary["ci_low"]) is None or number(summary["ci_high"]) is None:
        return "–"
    return f"[{summary['ci_low']:.3f}, {summary['ci_high']:.3f}]"


def per_direction(seeds: dict[int, dict], key: str):
    """(direction, the first seed's row, every seed's row) of each direction in
    metrics["counterfactual"][key] ("directions" or "energy")."""
    first = seeds[min(seeds)]["counterfactual"][key]
    for direction, row in first.items():
        yield direction, row, [m["counterfactual"][key][direction] for m in seeds.values()]


def distance_cells(row: dict, per_seed: list[dict]) -> list[str]:
    """Pixels and judge features: mean ± sd over seeds and the first seed's 95% interval."""
    cells = []
    for metric in DISTANCES:
        cells += [mean_sd([(r[metric] or {}).get("mean") for r in per_seed]), interval_text(row[metric])]
    return cells


def counterfactual_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per direction: distance of G(x) to the rendered true counterfactual in pixels and judge
    features (mean ± sd over seeds, 95% interval of the first seed), beside the distance of the
    model's reconstruction of x and of x itself (means over seeds)."""
    rows = []
    for direction, row, per_seed in per_direction(seeds, "directions"):
        references = [mean_sd([r["reference"].get(k, {}).get("pixel") for r in per_seed])
                      for k in ("reconstruction", "input")]
        rows.append([variant, direction, str(row["n"]), str(row["candidates"]), *distance_cells(row, per_seed),
                     *references])
    return rows


def energy_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per direction: energy distance of the model's counterfactuals from the true ones in pixels and
    judge features (mean ± sd over seeds, 95% interval of the first seed)."""
    return [[variant, direction, str(row["n"]), str(row["draws"]), *distance_cells(row, per_seed)]
            for direction, row, per_seed in per_direction(seeds, "energy")]


def transfer_fidelity_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per attribute: distance to the rendered truth (a with donor b's style) of the transfer
    (models with one) and of the label flip, in pixels and judge features (mean ± sd over seeds,
    95% interval of the first seed)."""
    first = seeds[min(seeds)]["counterfactual"]["transfer"]
    rows = []
    for attribute, row in first.items():
        per_seed = [m["counterfactual"]["transfer"][attribute] for m in seeds.values()]
        cells = []
        for metric in DISTANCES:
            for method in ("transfer", "label_flip"):
                cells += [mean_sd([(r[metric].get(method) or {}).get("mean") for r in per_seed]),
                          interval_text(row[metric].get(method))]
        rows.append([variant, attribute, str(row["n"]), *cells])
    return rows


def counterfactual_section(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The counterfactual-distance and transfer-fidelity tables of a synthetic-face part."""
    runs = {v: s for v, s in runs.items() if all("counterfactual" in m for m in s.values())}
    if not runs:
        return []
    grid = next(iter(next(iter(runs.values())).values()))["counterfactual"]["grid"]
    values = ", ".join(f"{v:.2f}" for v in grid["values"])
    lines = ["", "### Counterfactual distance against the rendered truth", "",
             "Each test face re-rendered with the attribute changed and everything else kept is the image G(x) "
             "should be. Distance of G(x) to it: RMS over pixels (images in [0, 1]) and Euclidean between judge "
             "features; lower is better. For 0->1 the added style is not determined by x, so every model is scored "
             f"against the closest of a grid of styles (each style factor at {values}: `candidates` styles). "
             "References: the model's reconstruction of x and x itself (doing nothing), in pixels. Mean ± sd over "
             "seeds; 95% bootstrap interval of the first seed.", ""]
    lines += table(["variant", "direction", "n", "candidates", "pixels", "95% interval", "features", "95% interval",
                    "recon of x (pixels)", "x itself (pixels)"],
                   [row for v, s in runs.items() for row in counterfactual_rows(v, s)])
    with_energy = {v: s for v, s in runs.items() if all("energy" in m["counterfactual"] for m in s.values())}
    if with_energy:
        lines += ["", "### Energy distance to the true counterfactuals", "",
                  "The distribution of each model's counterfactuals of x (`draws` draws) against the distribution of "
                  "the true ones (x re-rendered with the attribute changed; an added attribute in the style of a "
                  "random test face that shows it): 2 E|G - T| - E|G - G'| - E|T - T'|, 0 for a model whose "
                  "counterfactuals are distributed as the truth's, lower is better. Unlike the grid distance above, "
                  "it does not reward adding one style (docs/evaluation.md). Pixels (RMS) and judge features; mean "
                  "± sd over seeds, 95% bootstrap interval of the first seed.", ""]
        lines += table(["variant", "direction", "n", "draws", "pixels", "95% interval", "features", "95% interval"],
                       [row for v, s in with_energy.items() for row in energy_rows(v, s)])
    lines += ["", "### Transfer fidelity against the rendered truth", "",
              "Pairs (a, b) with b showing the attribute; the truth is a's face with b's label and style. Transfer: "
              "a with W_i of b (CSVAE only); label flip: a manipulated to b's label (all a baseline can do; for a that "
              "already has the attribute, its reconstruction). Distances as above.", ""]
    lines += table(["variant", "attribute", "pairs", "transfer (pixels)", "95% interval", "label flip (pixels)",
                    "95% interval", "transfer (features)", "95% interval", "label flip (features)", "95% interval"],
                   [row for v, s in runs.items() for row in transfer_fidelity_rows(v, s)])
    return lines
