"""``csvae reproduce``: train every model of an experiment over seeds, evaluate, write a report.

Each run goes to DIR/runs/<data>/<model>/seed<s>; a run whose metrics.json exists (with the same
config) is skipped, an unfinished one is resumed, so a killed reproduction continues where it
stopped. Runs are spread over worker processes (one torch thread each).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import torch

from csvae.config import ConfigError, RunConfig, load_config
from csvae.train import RunFiles

MODEL_ORDER = ("vae", "condvae", "condvae_info", "csvae")


@dataclass(frozen=True)
class Experiment:
    """Which data sets, models and seeds an experiment runs, and its config presets."""

    name: str
    preset_folder: str
    datasets: tuple[str, ...]
    models: tuple[str, ...] = MODEL_ORDER
    seeds: int = 5


EXPERIMENTS = {
    "toy": Experiment("toy", "toy", ("swiss_roll", "s_curve", "moons3d", "swiss_roll_k2")),
}


def preset_path(folder: str, model: str) -> Path:
    """configs/<folder>/<model>.yaml, shipped inside the package."""
    return Path(str(resources.files("csvae") / "configs" / folder / f"{model}.yaml"))


@dataclass(frozen=True)
class Job:
    config: RunConfig
    out: str


def plan(experiment: Experiment, out: Path, seeds: int) -> list[Job]:
    jobs = []
    for data_name in experiment.datasets:
        for model in experiment.models:
            base = load_config(preset_path(experiment.preset_folder, model))
            for seed in range(seeds):
                config = replace(base, data=replace(base.data, name=data_name, seed=seed),
                                 train=replace(base.train, seed=seed))
                jobs.append(Job(config, str(out / "runs" / data_name / model / f"seed{seed}")))
    return jobs


def run_job(job: Job) -> dict:
    """Fit (or resume) and evaluate one run; reuse its metrics.json when it is finished."""
    from csvae.runs import evaluate_run, fit_run

    torch.set_num_threads(1)
    run = RunFiles(Path(job.out))
    metrics_path = run.root / "metrics.json"
    if run.config.exists():
        if load_config(run.config) != job.config:
            raise ConfigError(f"{run.root} holds a run with another config; remove it or choose another --out")
        if metrics_path.exists() and run.final.exists():
            return json.loads(metrics_path.read_text())
    if not run.final.exists():
        fit_run(job.config, run.root, resume=run.config.exists())
    return evaluate_run(run.root, figures=job.config.train.seed == 0)


def reproduce(name: str, out: str | os.PathLike, seeds: int | None = None, jobs: int | None = None) -> Path:
    """Run experiment ``name`` into ``out`` and write out/report.md; returns the report's path."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    experiment = EXPERIMENTS[name]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = seeds or experiment.seeds
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    todo = plan(experiment, out, seeds)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    from tqdm.auto import tqdm
    import sys

    results = []
    bar = tqdm(total=len(todo), desc=f"reproduce {name}", disable=not sys.stderr.isatty())
    if workers == 1:
        for job in todo:
            results.append(run_job(job))
            bar.update(1)
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for metrics in pool.imap(run_job, todo):
                results.append(metrics)
                bar.update(1)
    bar.close()
    from csvae.report import write_toy_report

    return write_toy_report(out, results, experiment)
