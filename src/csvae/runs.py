"""Config-driven steps that read and write run folders: fit a run, evaluate a run.

A run folder holds config.yaml (the exact config), metrics.csv, checkpoints/last.pt, model.pt
(the finished model), then metrics.json and figures from ``evaluate_run``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from pathlib import Path

import numpy as np
from lightning_fabric.utilities.rank_zero import rank_zero_only

from csvae.api import fit, load, model_from_config
from csvae.config import ConfigError, RunConfig, atomic_write_bytes
from csvae.data import Dataset, load_dataset
from csvae.data.cache import IMAGES, source_guard
from csvae.evaluate.vector import evaluate_model
from csvae.rundir import RunDir

log = logging.getLogger("csvae.runs")


def check_label_kind(config: RunConfig, data: Dataset) -> None:
    if config.model.label_kind != data.label_kind:
        raise ConfigError(f"data {config.data.name!r} has a {data.label_kind} label but model.label_kind is "
                          f"{config.model.label_kind!r}; set model.label_kind: {data.label_kind}")


def fit_run(config: RunConfig, out: str | os.PathLike, resume: bool = False, overwrite: bool = False):
    """Read the data of ``config``, build its model and train it into the run folder ``out``."""
    data = load_dataset(config.data)
    check_label_kind(config, data)
    x, y = data.part_view("train")
    model = model_from_config(config.model, x.shape[1:], y.shape[1], seed=config.train.seed)
    options = {f.name: getattr(config.train, f.name) for f in dataclasses.fields(config.train)}
    cache = data.info.get("cache")
    model = fit(model, x, y, out=out, standardize=config.data.standardize and x.ndim == 2, resume=resume,
                overwrite=overwrite, data=config.data,
                check_source=source_guard(Path(cache) / IMAGES) if cache else None, **options)
    if x.ndim == 4 and rank_zero_only.rank == 0:
        save_reconstructions(model, data, Path(out) / "reconstructions.png")
    return model


def save_reconstructions(model, data: Dataset, path: Path, n: int = 12) -> None:
    """Rows of test images and their reconstructions, as a PNG grid."""
    from csvae.figures import save_image_grid, unit_float

    x, y = data.part("test")
    x, y = x[:n], y[:n]
    save_image_grid(np.stack([unit_float(x), model.reconstruct(x, y)]), path,
                    row_labels=["input", "reconstruction"])


def judge_dir(run_root: Path) -> Path:
    """Where judges are cached: $CSVAE_JUDGE_DIR, else a ``judges`` folder beside the run."""
    return Path(os.environ.get("CSVAE_JUDGE_DIR") or run_root.resolve().parent / "judges")


def image_evaluation(model, data: Dataset, judges: Path, seed: int) -> dict:
    """The paper's evaluation and ours on images: manipulation accuracy judged by a classifier
    trained on real images of the same data (cached in ``judges``), preservation, diversity, and
    on synthetic faces the ground-truth style and transfer scores and the distances to the
    rendered true counterfactuals ("counterfactual")."""
    from csvae.evaluate.judge import load_or_fit_judge
    from csvae.evaluate.manipulation import manipulation_report

    judge = load_or_fit_judge(data, judges)
    out = {"manipulation": manipulation_report(model, judge, data, seed=seed)}
    if data.factors is not None:
        from csvae.evaluate.counterfactual import counterfactual_report
        from csvae.evaluate.styles import style_report

        out["styles"] = style_report(model, data, judge=judge, seed=seed)
        out["counterfactual"] = counterfactual_report(model, judge, data, seed=seed)
    return out


def json_safe(metrics: dict) -> dict:
    """``metrics`` with every NaN or infinite number replaced by None (JSON null: bare NaN is not
    JSON); each one is named in a warning."""
    bad = []

    def clean(value, name):
        if isinstance(value, dict):
            return {k: clean(v, f"{name}.{k}" if name else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{name}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            bad.append(name)
            return None
        return value

    out = clean(metrics, "")
    if bad:
        log.warning("metrics %s are NaN or infinite (written as null)", ", ".join(bad))
    return out


def evaluate_run(run_dir: str | os.PathLike, figures: bool = True, judges: str | os.PathLike | None = None) -> dict:
    """Evaluate a finished run on its own data's test split; write RUN/metrics.json (and
    RUN/latents.png). Image runs add the judge-based metrics (see ``image_evaluation``).
    Returns the metrics."""
    run = RunDir(Path(run_dir))
    model = load(run.root)
    config = model.run_config  # the exact config, stored with the finished model
    if config.data.name == "arrays":
        raise ConfigError(f"{run.root} was trained from arrays in Python, so its data cannot be re-read; "
                          f"use csvae.evaluate.vector.evaluate_model(model, dataset) instead")
    data = load_dataset(config.data)
    seed = config.train.seed
    metrics = {"model": config.model.name, "data": config.data.name, "seed": seed,
               **evaluate_model(model, data, seed=seed)}
    if data.x.ndim == 4:
        metrics.update(image_evaluation(model, data, Path(judges) if judges else judge_dir(run.root), seed))
    atomic_write_bytes(run.root / "metrics.json", json.dumps(json_safe(metrics), indent=2, allow_nan=False).encode())
    if figures:
        from csvae.plots import plot_latents

        x_test, y_test = data.part("test")
        plot_latents(model.latents(x_test, y_test), y_test, data.attribute_names, data.label_kind,
                     run.root / "latents.png", title=f"{config.model.name} on {config.data.name}",
                     w_dim=config.model.w_dim)
    return metrics
