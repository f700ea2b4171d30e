"""Reports: the metrics.json of every run -> DIR/report.md and DIR/report.html.

Per data set: the vector metrics (mean ± sd over seeds), on images the judge's accuracy and the
manipulation table (accuracy with its bootstrap 95% interval, preservation, diversity), on
synthetic faces the ground-truth style scores and the distances to the rendered true
counterfactuals (``csvae.evaluate.counterfactual``), the figures, a line for each of the paper's
claims (and ours) saying whether our numbers support it, and the config of every run.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from csvae.config import atomic_write_bytes
from csvae.evaluate.judge import accuracy_text

VECTOR_METRICS = ("recon_r2", "elbo", "bits_per_dim", "label_chance", "z_label_accuracy_linear",
                  "z_label_accuracy_nonlinear", "w_label_accuracy")


def mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def leakage(metrics: dict) -> float:
    """Nonlinear-probe accuracy of y from z above the majority rate."""
    return metrics["z_label_accuracy_nonlinear"] - metrics["label_chance"]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def toy_targets(runs: dict[str, dict[int, dict]]) -> list[str]:
    """The core issue's swiss-roll targets, seed by seed (pass: at least 4 of 5 seeds)."""
    csvae, vae, info = runs.get("csvae", {}), runs.get("vae", {}), runs.get("condvae_info", {})
    rows, passes = [], defaultdict(int)
    for s in sorted(csvae):
        c, v, i = csvae[s], vae.get(s), info.get(s)
        if not (v and i):
            continue
        rows.append([str(s), f"{c['w_label_accuracy']:.3f}", f"{c['recon_r2']:.3f}", f"{leakage(c):.3f}",
                     f"{leakage(v):.3f}", f"{leakage(i):.3f}"])
        passes["w"] += c["w_label_accuracy"] >= 0.97
        passes["r2"] += c["recon_r2"] >= 0.97
        passes["half"] += leakage(c) <= 0.5 * leakage(v)
        passes["info"] += leakage(i) < leakage(v)
    n = len(rows)
    need = n - 1 if n >= 5 else n

    def verdict(key: str, text: str) -> str:
        return (f"- {'PASS' if passes[key] >= need else 'MISS'}: {text}: {passes[key]} of {n} seeds "
                f"(target: at least {need})")

    return table(["seed", "CSVAE w acc", "CSVAE recon R²", "leakage CSVAE", "leakage VAE", "leakage CondVAE-info"],
                 rows) + ["", verdict("w", "CSVAE w_label_accuracy ≥ 0.97"), verdict("r2", "CSVAE recon_r2 ≥ 0.97"),
                          verdict("half", "CSVAE leakage ≤ half the VAE's (nonlinear probe, same seed)"),
                          verdict("info", "CondVAE-info leakage below the VAE's")]


def manipulation_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    first = seeds[min(seeds)]["manipulation"]
    rows = []
    for direction, row in first["directions"].items():
        accuracies = [m["manipulation"]["directions"][direction]["accuracy"] for m in seeds.values()]
        diversity = [m["manipulation"]["diversity"].get(direction, {}) for m in seeds.values()]
        interval = f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]" if row["accuracy"] is not None else "–"
        rows.append([variant, direction, mean_sd(accuracies), interval,
                     mean_sd([m["manipulation"]["directions"][direction]["preserved_accuracy"]
                              for m in seeds.values()]),
                     mean_sd([m["manipulation"]["directions"][direction]["recon_distance"] for m in seeds.values()]),
                     mean_sd([d.get("pixel") for d in diversity]), mean_sd([d.get("feature") for d in diversity])])
    return rows


def mean_manipulation(seeds: dict[int, dict]) -> float:
    return float(np.mean([m["manipulation"]["mean_accuracy"] for m in seeds.values()]))


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


BASELINE_MODELS = ("vae", "condvae", "condvae_info")
DISTANCES = {"pixel": "pixels", "feature": "judge features"}


def interval_text(summary: dict | None) -> str:
    """A bootstrap summary {"mean", "ci_low", "ci_high"} as "[low, high]" ("–" for None)."""
    return f"[{summary['ci_low']:.3f}, {summary['ci_high']:.3f}]" if summary else "–"


def counterfactual_rows(variant: str, seeds: dict[int, dict]) -> list[list[str]]:
    """Per direction: distance of G(x) to the rendered true counterfactual in pixels and judge
    features (mean ± sd over seeds, 95% interval of the first seed), beside the distance of the
    model's reconstruction of x and of x itself (means over seeds)."""
    first = seeds[min(seeds)]["counterfactual"]["directions"]
    rows = []
    for direction, row in first.items():
        per_seed = [m["counterfactual"]["directions"][direction] for m in seeds.values()]
        cells = []
        for metric in DISTANCES:
            cells += [mean_sd([(r[metric] or {}).get("mean") for r in per_seed]), interval_text(row[metric])]
        references = [mean_sd([r["reference"].get(k, {}).get("pixel") for r in per_seed])
                      for k in ("reconstruction", "input")]
        rows.append([variant, direction, str(row["n"]), str(row["candidates"]), *cells, *references])
    return rows


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
    lines += ["", "### Transfer fidelity against the rendered truth", "",
              "Pairs (a, b) with b showing the attribute; the truth is a's face with b's label and style. Transfer: "
              "a with W_i of b (CSVAE only); label flip: a manipulated to b's label (all a baseline can do; for a that "
              "already has the attribute, its reconstruction). Distances as above.", ""]
    lines += table(["variant", "attribute", "pairs", "transfer (pixels)", "95% interval", "label flip (pixels)",
                    "95% interval", "transfer (features)", "95% interval", "label flip (features)", "95% interval"],
                   [row for v, s in runs.items() for row in transfer_fidelity_rows(v, s)])
    return lines


def _summary_text(summary: dict | None) -> str:
    return f"{summary['mean']:.3f} {interval_text(summary)}" if summary else "no inputs"


def below_every_baseline(runs: dict[str, dict[int, dict]], scores) -> tuple[int, dict[str, list[str]]]:
    """Compare CSVAE with every baseline, seed by seed (seeds both have), on every key and distance.

    scores(variant, metrics) -> key -> {"pixel", "feature"} bootstrap summaries. A comparison holds
    when CSVAE's interval lies wholly below the baseline's. Returns (number of comparisons, key ->
    texts of those that fail)."""
    total, failures = 0, defaultdict(list)
    for variant in (v for v in BASELINE_MODELS if v in runs):
        for seed in sorted(set(runs["csvae"]) & set(runs[variant])):
            ours, theirs = scores("csvae", runs["csvae"][seed]), scores(variant, runs[variant][seed])
            for key, row in ours.items():
                for metric, label in DISTANCES.items():
                    total += 1
                    a, b = row.get(metric), theirs.get(key, {}).get(metric)
                    if a is None or b is None or not a["ci_high"] < b["ci_low"]:
                        failures[key].append(f"{label} vs {variant}, seed {seed}: CSVAE {_summary_text(a)}, "
                                             f"{variant} {_summary_text(b)}")
    return total, failures


def _separation_claim(text: str, what: str, total: int, failures: dict[str, list[str]], keys: int) -> str:
    if not failures:
        return (f"- Supported: *{text}* (all {total} comparisons hold: {keys} {what} × pixels and judge features × "
                f"baselines × seeds).")
    fails = sum(len(f) for f in failures.values())
    detail = "; ".join(f"{key}: {texts[0]}" + (f" (+{len(texts) - 1} more)" if len(texts) > 1 else "")
                       for key, texts in failures.items())
    return (f"- Not supported: *{text}* (fails in {fails} of {total} comparisons, in {len(failures)} of {keys} "
            f"{what}: {detail}).")


def counterfactual_claims(runs: dict[str, dict[int, dict]]) -> list[str]:
    """Claim lines on the rendered truth: CSVAE's counterfactual distance, and its transfer against
    the baselines' label flip, below every baseline's with non-overlapping 95% intervals."""
    have = {v: s for v, s in runs.items() if all("counterfactual" in m for m in s.values())}
    if "csvae" not in have or not any(v in have for v in BASELINE_MODELS):
        return []
    lines = []
    total, failures = below_every_baseline(have, lambda v, m: m["counterfactual"]["directions"])
    keys = len(have["csvae"][min(have["csvae"])]["counterfactual"]["directions"])
    lines.append(_separation_claim("CSVAE's counterfactual distance is below every baseline's in every direction "
                                   "(95% intervals do not overlap)", "directions", total, failures, keys))

    def transfer(variant, metrics):
        method = "transfer" if variant == "csvae" else "label_flip"
        return {a: {m: t[m].get(method) for m in DISTANCES} for a, t in metrics["counterfactual"]["transfer"].items()}

    total, failures = below_every_baseline(have, transfer)
    keys = len(have["csvae"][min(have["csvae"])]["counterfactual"]["transfer"])
    lines.append(_separation_claim("CSVAE's style transfer is closer to the rendered truth than every baseline's "
                                   "label flip, for every attribute (95% intervals do not overlap)", "attributes",
                                   total, failures, keys))
    return lines


def claims(runs: dict[str, dict[int, dict]], image: bool) -> list[str]:
    """One line per claim of the paper (and our leakage and rendered-truth checks) saying whether the
    numbers support it."""
    if "csvae" not in runs:
        return []
    lines = []
    baselines = [v for v in ("vae", "condvae", "condvae_info") if v in runs]
    if image and all("manipulation" in m for s in runs.values() for m in s.values()):
        ours = mean_manipulation(runs["csvae"])
        best = max(baselines, key=lambda v: mean_manipulation(runs[v]), default=None)
        if best:
            ok = ours > mean_manipulation(runs[best])
            lines.append(f"- {'Supported' if ok else 'Not supported'}: *CSVAE has the highest manipulation accuracy* "
                         f"(CSVAE {ours:.3f}, best baseline {best} {mean_manipulation(runs[best]):.3f}).")
        div = mean_diversity(runs["csvae"])
        base_div = max((mean_diversity(runs[v]) for v in baselines), default=0.0)
        lines.append(f"- {'Supported' if div > base_div else 'Not supported'}: *CSVAE gives a larger variety of "
                     f"attribute styles* (judge-feature diversity CSVAE {div:.4f}, baselines at most {base_div:.4f}).")
    if image:
        lines += counterfactual_claims(runs)
    chance = max(m["label_chance"] for m in runs["csvae"].values())
    if "vae" in runs and chance > 0.6:
        ours = np.mean([m["z_label_balanced_accuracy_nonlinear"] for m in runs["csvae"].values()])
        vae = np.mean([m["z_label_balanced_accuracy_nonlinear"] for m in runs["vae"].values()])
        lines.append(f"- {'Supported' if ours < vae else 'Not supported'}: *z is (more) label-free in CSVAE* "
                     f"(the test split is imbalanced, majority rate {chance:.3f}, so balanced accuracy of the "
                     f"nonlinear probe, chance 0.5: CSVAE {ours:.3f}, VAE {vae:.3f}).")
    elif "vae" in runs:
        ours = np.mean([leakage(m) for m in runs["csvae"].values()])
        vae = np.mean([leakage(m) for m in runs["vae"].values()])
        lines.append(f"- {'Supported' if ours < vae else 'Not supported'}: *z is (more) label-free in CSVAE* "
                     f"(nonlinear leakage above chance: CSVAE {ours:.3f}, VAE {vae:.3f}).")
    return lines


def part_figures(out: Path, data: str, runs: dict[str, dict[int, dict]]) -> list[str]:
    """Figures of seed 0 (or the first seed): latent plots, reconstructions and, on images, the
    manipulation, style and transfer grids drawn from the saved models."""
    lines = []
    from csvae.reproduce import run_folder

    folders = {v: run_folder(Path(), data, v, min(s)) for v, s in runs.items()}  # relative to out
    for variant, folder in folders.items():
        for name in ("latents.png", "reconstructions.png"):
            if (out / folder / name).exists():
                lines.append(f"![{variant} {name}]({(folder / name).as_posix()})")
    grids = image_grids(out, data, folders)
    return lines + [f"![{title}]({path})" for title, path in grids]


def image_grids(out: Path, data: str, folders: dict[str, Path]) -> list[tuple[str, str]]:
    """Manipulation comparison, style and transfer grids for an image part (empty for vectors)."""
    import torch

    from csvae import figures
    from csvae.api import load
    from csvae.data import load_dataset

    models = {v: load(out / f) for v, f in folders.items() if (out / f / "model.pt").exists()}
    if not models:
        return []
    dataset = load_dataset(next(iter(models.values())).run_config.data)
    if dataset.x.ndim != 4:
        return []
    x, y = dataset.part("test")
    x, y = x[:8], torch.as_tensor(y[:8])
    grids = []
    figure_dir = out / "figures"
    figure_dir.mkdir(exist_ok=True)
    for i, attribute in enumerate(dataset.attribute_names if dataset.label_kind == "binary" else []):
        target = y.clone()
        target[:, i] = 1 - target[:, i]
        path = figure_dir / f"{data}_manipulate_{attribute}.png"
        figures.manipulation_grid(models, x, y, target, path, title=f"flip {attribute}")
        grids.append((f"manipulation of {attribute} (columns: input, reconstruction, then each model)",
                      path.relative_to(out).as_posix()))
        if "csvae" in models:
            path = figure_dir / f"{data}_styles_{attribute}.png"
            figures.style_grid(models["csvae"], x[:4], y[:4], i, path, names=dataset.attribute_names)
            grids.append((f"CSVAE style grid over W_{attribute}", path.relative_to(out).as_posix()))
            path = figure_dir / f"{data}_transfer_{attribute}.png"
            has = np.flatnonzero(y[:, i].numpy() == 1)[:4]
            if len(has):
                figures.transfer_grid(models["csvae"], x[:4], y[:4], x[has], y[has], i, path)
                grids.append((f"CSVAE transfer of {attribute} (content × style)", path.relative_to(out).as_posix()))
    return grids


def part_section(out: Path, experiment, part, runs: dict[str, dict[int, dict]], jobs) -> list[str]:
    lines = [f"## {part.data}", "",
             "Test-set metrics, mean ± sd over seeds (a single value for one seed). Leakage probes predict the label "
             "from z (linear: logistic regression; nonlinear: gradient boosting); near `label_chance` is the goal.",
             ""]
    lines += table(["variant", *VECTOR_METRICS],
                   [[v, *[mean_sd([m.get(k) for m in s.values()]) for k in VECTOR_METRICS]] for v, s in runs.items()])
    if part.data == "swiss_roll" and "vae" in runs and "csvae" in runs:
        lines += ["", "### Targets on the swiss roll (per seed)", ""] + toy_targets(runs)
    image = any("manipulation" in m for s in runs.values() for m in s.values())
    if image:
        judge = next(iter(next(iter(runs.values())).values()))["manipulation"]["judge"]
        accuracy = accuracy_text(judge["test_accuracy"], judge.get("test_balanced_accuracy"))
        lines += ["", f"### Attribute manipulation (judged by a classifier trained on real {part.data} images; its "
                  f"test accuracy: {accuracy})", "",
                  "accuracy: share of G(x) the judge calls the target (mean ± sd over seeds; 95% bootstrap interval "
                  "of the first seed); preserved: judge accuracy on the other attributes; recon distance: mean "
                  "RMS pixel distance between G(x) and the reconstruction of x; diversity: mean pairwise RMS distance "
                  "between manipulations with different p (pixels, judge features).", ""]
        lines += table(["variant", "direction", "accuracy", "95% interval", "preserved", "recon distance",
                        "diversity (pixels)", "diversity (features)"],
                       [row for v, s in runs.items() for row in manipulation_rows(v, s)])
    if any("styles" in m for s in runs.values() for m in s.values()):
        lines += ["", "### Styles against the ground truth", "",
                  "R², averaged over the attribute's true style factors, on test examples with the attribute: "
                  "predicted from W_i (CSVAE) or z (all models) by a regressor fitted on train codes; read by the "
                  "judge from the model's reconstructions and from the real images (how visibly the decoder draws the "
                  "style; the judge learned on sharp images and can under-read blurry ones); read by the judge "
                  "from the transferred image against the donor b's style. Transfer MSE: pixel MSE between the "
                  "transferred image and the rendered truth (a's nuisances with b's style), beside a's plain "
                  "reconstruction.", ""]
        lines += table(["variant", "attribute", "style R² from w", "style R² from z", "judge on recon",
                        "judge on real", "transferred style R²", "transfer MSE", "recon-of-a MSE"],
                       [row for v, s in runs.items() if "styles" in s[min(s)] for row in style_rows(v, s)])
    lines += counterfactual_section(runs)
    lines += ["", "### The paper's claims", ""] + (claims(runs, image) or ["- (no CSVAE/baseline pair here)"])
    lines += ["", "### Figures", ""] + part_figures(out, part.data, runs)
    configs = [j for j in jobs if j.data_label == part.data]
    lines += ["", "### Configs", ""] + [f"- [{j.variant}, seed {j.config.train.seed}]"
                                        f"({(Path(j.out).relative_to(out) / 'config.yaml').as_posix()})"
                                        for j in configs]
    return lines + [""]


def write_report(out: Path, results: list[dict], experiment, jobs) -> Path:
    grouped: dict[str, dict[str, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for metrics in results:
        grouped[metrics["data"]][metrics["variant"]][metrics["seed"]] = metrics
    lines = [f"# csvae reproduction: {experiment.name}", "", experiment.description, ""]
    for part in experiment.parts:
        if part.data in grouped:
            lines += part_section(out, experiment, part, grouped[part.data], jobs)
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(out / "report.md", text.encode())
    atomic_write_bytes(out / "report.html", markdown_to_html(text, f"csvae: {experiment.name}").encode())
    return out / "report.md"


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r'<img alt="\1" src="\2">', text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def markdown_to_html(text: str, title: str) -> str:
    """The report's own Markdown (headings, paragraphs, lists, pipe tables, images) as one HTML page."""
    body, rows, items = [], [], []

    def flush():
        if rows:
            head, *rest = rows
            body.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>" +
                        "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rest) +
                        "</table>")
            rows.clear()
        if items:
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                rows.append(cells)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        heading = re.match(r"(#+) (.*)", line)
        if heading:
            level = len(heading.group(1))
            body.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
