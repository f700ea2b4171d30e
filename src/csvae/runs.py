"""Config-driven steps that read and write run folders (layout: ``csvae.rundir``): fit a run,
evaluate a run.

``fit_run`` reads the data and writes config.yaml, data.json, metrics.csv, checkpoints and
model.pt; ``evaluate_run`` reads model.pt and the data named by its card and writes metrics.json
and arrays.npz (metrics include the disentanglement scores of ``csvae.evaluate.factor_scores``),
then (``figures``) the figures drawn from those files (``csvae.figures``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from csvae.api import fit, load, model_from_config
from csvae.config import ConfigError, DataConfig, RunConfig
from csvae.data import TOY_SETS, Dataset, load_dataset
from csvae.data.cache import IMAGES, source_guard
from csvae.data.images import check_relative_root
from csvae.datacard import ARRAYS, card_of_dataset
from csvae.evaluate.factor_scores import disentanglement_report
from csvae.evaluate.vector import evaluate_model
from csvae.fileio import atomic_write_bytes
from csvae.provenance import versions
from csvae.rundir import RunDir
from csvae.safeio import FolderLock
from csvae.train import training_threads

log = logging.getLogger("csvae.runs")


def check_label_kind(config: RunConfig, data: Dataset) -> None:
    if config.model.label_kind != data.label_kind:
        raise ConfigError(f"data {config.data.name!r} has a {data.label_kind} label but model.label_kind is "
                          f"{config.model.label_kind!r}; set model.label_kind: {data.label_kind}")


def absolute_paths(data: DataConfig) -> DataConfig:
    """``data`` with its root and cache folder made absolute (against the working directory), so
    the run folder that records them can be read from any folder. A relative root that does not
    exist is refused (``check_relative_root``)."""
    if data.root is not None and data.name not in TOY_SETS:
        check_relative_root(data.root)
    paths = {name: str(Path(getattr(data, name)).resolve()) for name in ("root", "cache")
             if getattr(data, name) is not None}
    return dataclasses.replace(data, **paths) if paths else data


def check_test_split(config: RunConfig, data: Dataset) -> None:
    """Refuse data without test examples before training: ``evaluate`` would have none to score."""
    counts = {name: len(data.indices(name)) for name in ("train", "valid", "test")}
    if not counts["test"]:
        sizes = ", ".join(f"{name} {n}" for name, n in counts.items())
        raise ConfigError(f"data {config.data.name!r} has no test examples ({sizes}); evaluate needs some: give more "
                          f"data, a larger data.holdout_fraction, or a split column that names test rows")


def fit_run(config: RunConfig, out: str | os.PathLike, resume: bool = False, overwrite: bool = False):
    """Read the data of ``config``, build its model and train it into the run folder ``out``
    (config.yaml records the data's root and cache as absolute paths)."""
    config = dataclasses.replace(config, data=absolute_paths(config.data))
    data = load_dataset(config.data)
    check_label_kind(config, data)
    check_test_split(config, data)
    x, y = data.part_view("train")
    model = model_from_config(config.model, x.shape[1:], y.shape[1], seed=config.train.seed)
    options = {f.name: getattr(config.train, f.name) for f in dataclasses.fields(config.train)}
    cache = data.info.get("cache")
    return fit(model, x, y, out=out, standardize=config.data.standardize and x.ndim == 2, resume=resume,
               overwrite=overwrite, data=config.data, card=card_of_dataset(data, config.data),
               check_source=source_guard(Path(cache) / IMAGES) if cache else None, **options)


def run_data(config: RunConfig, run_root: Path, data_root: Optional[str | os.PathLike] = None) -> DataConfig:
    """The DataConfig that reads a run's data again: its own, or with ``data.root`` replaced by
    ``data_root`` (data moved since training; the card's fingerprint still checks that they are the
    same). ConfigError saying where it looked and how to point elsewhere when the root is gone."""
    if data_root is not None:
        return dataclasses.replace(config.data, root=str(Path(data_root).resolve()))
    root = config.data.root
    if root is not None and not Path(root).exists():
        where = "" if Path(root).is_absolute() else f" (relative to the working directory {Path.cwd()})"
        raise ConfigError(f"{run_root} was trained on the data at {root}{where}, data.root in "
                          f"{RunDir(run_root).config}, which is not there: point at the data where it is now with "
                          f"--data-root DIR (csvae evaluate; Python: evaluate_run(..., data_root=DIR))")
    return config.data


def judge_dir(run_root: Path) -> Path:
    """Where judges are cached: $CSVAE_JUDGE_DIR, else a ``judges`` folder beside the run."""
    return Path(os.environ.get("CSVAE_JUDGE_DIR") or run_root.resolve().parent / "judges")


def image_evaluation(model, data: Dataset, name: str, judges: Path, seed: int,
                     data_config: Optional[DataConfig] = None) -> dict:
    """The paper's evaluation and ours on images: manipulation accuracy judged by a classifier
    trained on real images of the same data (cached in ``judges``), preservation, diversity, and
    on synthetic faces the ground-truth style and transfer scores and the distances to the
    rendered true counterfactuals ("counterfactual"); on a CelebA task (``data_config``) the
    attribute judge's preservation of the other attributes and realism ("attributes")."""
    from csvae.evaluate.attribute_judge import attribute_data, attribute_report, load_attribute_judge
    from csvae.evaluate.judge import load_or_fit_judge
    from csvae.evaluate.manipulation import manipulation_report

    judge = load_or_fit_judge(data, judges, name)
    out = {"manipulation": manipulation_report(model, judge, data, seed=seed)}
    attributes = attribute_data(data_config) if data_config is not None else None
    if attributes is not None:
        out["attributes"] = attribute_report(model, load_attribute_judge(attributes, judges), data, seed=seed)
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


def evaluate_run(run_dir: str | os.PathLike, figures: bool = True, judges: str | os.PathLike | None = None,
                 precision: Optional[str] = None, data_root: Optional[str | os.PathLike] = None) -> dict:
    """Evaluate a finished run on its own data's test split (the data its card names, refused when
    they changed since training); write RUN/metrics.json and RUN/arrays.npz and, with
    ``figures``, draw the run's figures from them. Image runs add the judge-based metrics (see
    ``image_evaluation``). ``precision``: that of the model's conv nets (None: the run's
    ``train.precision``, the one it trained at; "32-true" for float32); the judges always run in
    float32. ``data_root``: where the run's data are now, when they moved since training (else
    its config's ``data.root``). The run folder's lock is held throughout (no fit or other
    evaluate writes it meanwhile). Returns the metrics."""
    run = RunDir(Path(run_dir))
    with FolderLock(run.root, "run folder"):
        return _evaluate_run(run, figures, judges, precision, data_root)


def _evaluate_run(run: RunDir, figures: bool, judges, precision: Optional[str], data_root) -> dict:
    """``evaluate_run`` in a locked run folder."""
    from csvae.runfiles import save_arrays

    model = load(run.root)
    config = model.run_config  # the exact config, stored with the finished model
    card = model.data_card
    if config.data.name == ARRAYS:
        raise ConfigError(f"{run.root} was trained from arrays in Python, so its data cannot be re-read; "
                          f"use csvae.evaluate.vector.evaluate_model(model, dataset) instead")
    data = load_dataset(run_data(config, run.root, data_root))
    card.check_data(data, f"evaluate {run.root}")
    precision = precision or config.train.precision
    # as trained, and conv weights channels_last as in training: faster on a CPU, the same fp32 maths
    # (docs/performance.md, "Figures behind the code")
    model.set_inference_precision(precision)
    if data.x.ndim == 4:
        model.to(memory_format=torch.channels_last)
    # the run's thread count (default 1) for torch and for sklearn's OpenMP probes: no thrashing under load
    with training_threads(config.train), threadpool_limits(config.train.threads or 1), \
            stage_bar(f"evaluate {run.root.name}", 4 if data.x.ndim == 4 else 3) as step:
        metrics, arrays = _evaluate(model, data, card, config, judges or judge_dir(run.root), step)
    metrics["eval_precision"] = precision if data.x.ndim == 4 else "32-true"
    metrics["versions"] = {"trained": read_versions(run.versions), "evaluated": versions()}
    metrics["warnings"] = test_size_warnings(card.split_sizes["test"], run.root)
    save_arrays(arrays, run.arrays)
    atomic_write_bytes(run.evaluation, json.dumps(json_safe(metrics), indent=2, allow_nan=False).encode())
    if figures:
        from csvae.figures import run_figures

        run_figures(run.root)
    return metrics


MIN_TEST_EXAMPLES = 100
"""Below this many test examples the scores (DCI, MIG, SAP, probes, judge rates) say little: a
warning says so, on screen and in metrics.json."""


def test_size_warnings(n_test: int, run_root: Path) -> list[str]:
    """[a warning] when the test split is too small for the metrics to mean anything, else []."""
    if n_test >= MIN_TEST_EXAMPLES:
        return []
    text = (f"the test split has {n_test} example{'s' if n_test != 1 else ''} (fewer than {MIN_TEST_EXAMPLES}): "
            f"DCI, MIG, SAP, probe accuracies and judge rates from so few say little (a perfect score included)")
    log.warning("%s: %s", run_root, text)
    return [text]


def read_versions(path: Path) -> Optional[dict]:
    """The versions a run was trained with (RUN/versions.json), None when the run predates them."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def stage_bar(desc: str, total: int):
    """A progress bar over the stages of a long command, with its ETA, at a terminal only (quiet
    in CI and logs); yields ``step(name)``, called as each stage starts."""
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, disable=not sys.stderr.isatty(), bar_format="{l_bar}{bar}| {n}/{total} "
              "[{elapsed}<{remaining}] {postfix}") as bar:
        started = []

        def step(name: str) -> None:
            if started:
                bar.update(1)
            started.append(name)
            bar.set_postfix_str(name)

        yield step
        bar.update(total - bar.n)


def _evaluate(model, data: Dataset, card, config: RunConfig, judges, step=lambda name: None) -> tuple[dict, dict]:
    """(metrics, figure arrays) of a model on its data's test split; ``step(name)`` is called as
    each stage starts."""
    from csvae.evaluate.figure_data import figure_arrays

    seed = config.train.seed
    step("likelihood and probes")
    metrics = {"model": config.model.name, "data": card.name, "seed": seed, **evaluate_model(model, data, seed=seed)}
    step("disentanglement")
    metrics["disentanglement"] = disentanglement_report(model, data, seed=seed)
    if data.x.ndim == 4:
        step("judge and manipulations")
        metrics.update(image_evaluation(model, data, card.name, Path(judges), seed, config.data))
    step("figure arrays")
    x_test, y_test = data.part("test")
    return metrics, figure_arrays(model, x_test, y_test, card.label_kind, seed=seed)
