"""The report of an experiment folder, built from its files alone: experiment.json, each run's
metrics.json, data.json, config.yaml and arrays.npz (no model is loaded, no data set read)."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from pathlib import Path

from csvae.config import ConfigError
from csvae.configfile import load_config
from csvae.data.checks import DataError
from csvae.fileio import atomic_write_bytes
from csvae.provenance import versions_text
from csvae.report.attributes import attribute_section
from csvae.report.claims import Claim, claims
from csvae.report.html import markdown_to_html
from csvae.report.inputs import check_renders, read_metrics, run_folder
from csvae.report.tables import (
    NULL_NOTE,
    VECTOR_METRICS,
    counterfactual_section,
    disentanglement_section,
    manipulation_rows,
    mean_sd,
    style_rows,
    table,
    toy_targets,
)
from csvae.rundir import ExperimentDir
from csvae.runfiles import accuracy_text
from csvae.safeio import FolderLock, read_bounded

MAX_REPORT_BYTES = 64 << 20

Results = dict[str, dict[str, dict[int, dict]]]
"""data set -> variant -> seed -> metrics (a run's metrics.json)."""


def collect(exp: ExperimentDir, manifest: dict) -> tuple[Results, list[str], list[str]]:
    """The metrics of every run in the manifest, in the manifest's order of parts and variants;
    the folders of runs without a metrics.json (not evaluated yet); and a line for each run left
    out because its folder leaves the experiment folder or its metrics.json cannot be read or holds
    a value of the wrong type (naming the file and key: one such run costs only its own rows)."""
    results: Results = defaultdict(dict)
    for part in manifest["parts"]:
        for variant in part["variants"]:
            results[part["data"]].setdefault(variant, {})
    missing, unread = [], []
    for run in manifest["runs"]:
        try:
            folder = run_folder(exp, run)
            metrics = read_metrics(folder.evaluation)
            check_renders(folder.evaluation, metrics, part_tables, run)
        except FileNotFoundError:
            missing.append(folder.root.relative_to(exp.root).as_posix())
            continue
        except (DataError, OSError) as err:
            unread.append(str(err))
            continue
        results[run["data"]].setdefault(run["variant"], {})[run["seed"]] = metrics
    return {d: {v: s for v, s in runs.items() if s} for d, runs in results.items()}, missing, unread


def part_figures(exp: ExperimentDir, data: str, runs: dict[str, dict[int, dict]], redraw: bool = True) -> list[str]:
    """Figures of each variant's first seed, drawn from its arrays.npz (latent plot,
    reconstructions, CSVAE's style and transfer grids; with ``redraw`` False only where its latent
    plot is missing), and one grid per attribute comparing every variant's manipulation; as
    Markdown image lines relative to the experiment folder."""
    from csvae.figures import comparison_figures, grid_title, run_figures

    folders = {v: exp.run(data, v, min(seeds)) for v, seeds in runs.items()}
    lines = []
    for variant, run in folders.items():
        if run.arrays.exists() and (redraw or not run.latents_figure.exists()):
            try:
                run_figures(run.root)
            except (DataError, ConfigError) as err:  # one damaged run must not cost the whole report
                lines.append(f"- (the figures of {variant} cannot be drawn: {err})")
        for path in (run.latents_figure, run.reconstructions_figure):
            if path.exists():
                lines.append(f"![{variant} {path.name}]({path.relative_to(exp.root).as_posix()})")
    for title, path in comparison_figures(folders, exp, data):
        lines.append(f"![{title}]({path.relative_to(exp.root).as_posix()})")
    for variant, run in folders.items():
        grids = sorted(run.figures.glob("styles_*.png")) + sorted(run.figures.glob("transfer_*.png"))
        for path in grids:
            lines.append(f"![{grid_title(variant, path)}]({path.relative_to(exp.root).as_posix()})")
    return lines


def part_tables(data: str, runs: dict[str, dict[int, dict]]) -> list[str]:
    """The tables of one data set's runs (variant -> seed -> metrics), read from metrics alone."""
    lines = ["Test-set metrics, mean ± sd over seeds (a single value for one seed). Leakage probes predict the label "
             "from z (linear: logistic regression; nonlinear: gradient boosting); near `label_chance` is the goal. "
             f"{NULL_NOTE}", ""]
    lines += table(["variant", *VECTOR_METRICS],
                   [[v, *[mean_sd([m.get(k) for m in s.values()]) for k in VECTOR_METRICS]] for v, s in runs.items()])
    lines += disentanglement_section(runs)
    if data == "swiss_roll" and "vae" in runs and "csvae" in runs:
        lines += ["", "### Targets on the swiss roll (per seed)", ""] + toy_targets(runs)
    if is_image_part(runs):
        judge = next(iter(next(iter(runs.values())).values()))["manipulation"]["judge"]
        accuracy = accuracy_text(judge["test_accuracy"], judge.get("test_balanced_accuracy"))
        judged_on = judge.get("dataset", data)  # the data set, also for a part of another name
        lines += ["", f"### Attribute manipulation (judged by a classifier trained on real {judged_on} images; its "
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
    lines += attribute_section(runs)
    return lines


def part_section(exp: ExperimentDir, data: str, runs: dict[str, dict[int, dict]], part_claims: list[Claim],
                 configs: list[dict], redraw: bool = True) -> list[str]:
    """One data set's section. configs: the manifest's runs of this part ({"variant", "seed", ...});
    redraw: as in ``part_figures``."""
    lines = [f"## {data}", ""] + part_tables(data, runs) + claim_lines(part_claims)
    lines += ["", "### Figures", ""] + part_figures(exp, data, runs, redraw)
    lines += ["", "### Configs", ""] + [
        f"- [{r['variant']}, seed {r['seed']}]({exp.run(data, r['variant'], r['seed']).config.relative_to(exp.root)})"
        for r in configs]
    lines += extension_lines(exp, data, configs)
    return lines + [""]


def claim_lines(part_claims: list[Claim]) -> list[str]:
    """A part's "The paper's claims" subsection: a line per claim with its verdict and numbers."""
    return ["", "### The paper's claims", ""] + ([c.line() for c in part_claims] or
                                                 ["- (no CSVAE/baseline pair here)"])


EXTENSIONS = {"w_independence": "W-independence term", "swap_cycle": "swap cycle"}
"""Our CSVAE extensions beyond the paper (docs/models.md): config field -> what the report calls it."""


def extension_lines(exp: ExperimentDir, data: str, configs: list[dict]) -> list[str]:
    """A line per variant whose runs use one of our extensions, so no one reads it as the paper's
    model (from each run's config.yaml; a run without one is skipped, one that cannot be read is
    named: one damaged run must not cost the whole report)."""
    used, unread = defaultdict(set), []
    for r in configs:
        path = exp.run(data, r["variant"], r["seed"]).config
        if not path.exists():
            continue
        try:
            model = load_config(path).model
        except ConfigError as err:
            unread.append(f"(the config of {r['variant']}, seed {r['seed']} cannot be read: {err})")
            continue
        used[r["variant"]].update(f"{name} (`model.{field}` {getattr(model, field):g})"
                                  for field, name in EXTENSIONS.items() if getattr(model, field) > 0)
    lines = [f"{variant} here is the paper's model plus our {' and '.join(sorted(names))} (not in the paper; "
             f"docs/models.md)." for variant, names in used.items() if names] + unread
    return [""] + lines if lines else []


def is_image_part(runs: dict[str, dict[int, dict]]) -> bool:
    return any("manipulation" in m for s in runs.values() for m in s.values())


def summary(claims_by_part: dict[str, list[Claim]], missing: list[str], unread: list[str]) -> list[str]:
    """The report's opening: every claim of every data set with its verdict and numbers, then the
    runs not in any table (not evaluated yet; left out, with the reason)."""
    rows = [[data, c.text, f"**{c.verdict}**", c.evidence] for data, part in claims_by_part.items() for c in part]
    lines = ["## Summary", "",
             "The paper's claims (and ours), checked on each data set's runs; the sections below give the tables, "
             "figures and configs.", ""]
    lines += table(["data set", "claim", "verdict", "numbers"], rows) if rows else ["(no CSVAE/baseline pair yet)"]
    if missing:
        lines += ["", f"Not evaluated yet, so not in any table: {', '.join(missing)}."]
    if unread:
        lines += ["", "Left out of every table, as their files cannot be read:", ""] + [f"- {line}" for line in unread]
    return lines + [""]


def versions_lines(results: Results) -> list[str]:
    """"Trained with" and the distinct versions (csvae, torch, Python, commit) the runs' metrics
    record, one line each; [] when none records them (runs from before versions.json)."""
    seen = trained_versions(results)
    return [f"Trained with {'; '.join(seen)}.", ""] if seen else []


def trained_versions(results: Results) -> list[str]:
    """The distinct versions the runs were trained with (from versions.json, as evaluate copies it
    into metrics.json), each as one line of text, in the order first met."""
    seen = []
    for variants in results.values():
        for seeds in variants.values():
            for metrics in seeds.values():
                recorded = (metrics.get("versions") or {}).get("trained")
                text = versions_text(recorded) if isinstance(recorded, dict) else None
                if text and text not in seen:
                    seen.append(text)
    return seen


def part_lines(exp: ExperimentDir, manifest: dict, data: str, runs: dict[str, dict[int, dict]],
               redraw: bool) -> tuple[list[Claim], list[str]]:
    """The claims and the section of one part; a part whose runs' metrics disagree with each other
    (each alone was readable) costs only its own section, which says why."""
    configs = [r for r in manifest["runs"] if r["data"] == data and inside(exp, r)]
    try:
        part_claims = claims(runs, is_image_part(runs))
        return part_claims, part_section(exp, data, runs, part_claims, configs, redraw)
    except DISAGREEING as err:
        return [], [f"## {data}", "", disagreement(err), ""]


DISAGREEING = (KeyError, TypeError, ValueError, AttributeError, IndexError)
"""What the tables raise on runs whose metrics, each readable alone, disagree with each other."""


def disagreement(err: Exception) -> str:
    """The line that stands for a part whose runs' metrics disagree (``DISAGREEING``)."""
    return f"(this part cannot be reported: its runs' metrics.json files do not agree: {type(err).__name__}: {err})"


def inside(exp: ExperimentDir, run: dict) -> bool:
    """Whether a manifest run's folder stays inside the experiment folder."""
    try:
        run_folder(exp, run)
    except DataError:
        return False
    return True


def build_report(out: str | os.PathLike, redraw_figures: bool = True) -> Path:
    """Write DIR/report.md and DIR/report.html from the files of experiment folder ``out``, under
    the folder's lock; returns the path of report.md. Each run's figures are drawn from its
    arrays.npz; with ``redraw_figures`` False only those missing (``csvae reproduce`` draws them in
    its workers). A report.md or report.html that csvae did not write, or that was edited since, is
    refused, never replaced (``check_reports_replaceable``)."""
    exp = ExperimentDir(Path(out))
    manifest = exp.read_manifest()
    with FolderLock(exp.root, "experiment folder"):
        check_reports_replaceable(exp)
        results, missing, unread = collect(exp, manifest)
        claims_by_part, sections = {}, []
        for part in manifest["parts"]:
            runs = results.get(part["data"])
            if runs:
                claims_by_part[part["data"]], section = part_lines(exp, manifest, part["data"], runs, redraw_figures)
                sections += section
        lines = [f"# csvae reproduction: {manifest['name']}", "", manifest.get("description") or "", ""]
        lines += versions_lines(results)
        lines += summary(claims_by_part, missing, unread) + sections
        text = "\n".join(lines) + "\n"
        atomic_write_bytes(exp.report, stamped(text).encode())
        atomic_write_bytes(exp.report_html, stamped(markdown_to_html(text, f"csvae: {manifest['name']}")).encode())
    return exp.report


STAMP = "<!-- written by csvae report, which replaces this file only while it is unchanged: sha256 {} -->"
"""The last line of a report csvae wrote (an HTML comment, unseen in Markdown and HTML alike)."""
STAMP_START = STAMP.split(":")[0]
LEGACY_STARTS = {"report.md": "# csvae reproduction: ",
                 "report.html": "<!doctype html><html><head><meta charset='utf-8'><title>csvae: "}
"""How reports began before they carried the stamp."""


def stamped(text: str) -> str:
    """``text`` with the stamp of its own digest as its last line."""
    return text + STAMP.format(hashlib.sha256(text.encode()).hexdigest()) + "\n"


def written_by_csvae(path: Path) -> bool:
    """Whether ``path`` is a report as csvae wrote it: a regular file whose stamp matches its
    content (or an unstamped report of an older csvae)."""
    if path.is_symlink():
        return False
    text = read_bounded(path, MAX_REPORT_BYTES, "report").decode("utf-8", "replace")
    body, _, last = text[:-1].rpartition("\n")
    if last.startswith(STAMP_START):
        return stamped(body + "\n") == text
    return text.startswith(LEGACY_STARTS[path.name]) and STAMP_START not in text


def check_reports_replaceable(exp: ExperimentDir) -> None:
    """ConfigError naming a report.md or report.html of ``exp`` that csvae did not write, or that
    was edited since (a user's own file is never replaced)."""
    for path in (exp.report, exp.report_html):
        if (path.exists() or path.is_symlink()) and not written_by_csvae(path):
            raise ConfigError(f"{path} is not a report csvae wrote, or it was edited since; it is not replaced: "
                              f"move it away, or choose another folder")
