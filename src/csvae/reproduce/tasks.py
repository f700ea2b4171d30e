"""The tasks a worker runs for an experiment, each on one torch thread: fit a run, evaluate it, and
train the judges of its image data (built once, before the workers start)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from csvae.api import stored_config
from csvae.config import ConfigError, config_to_dict
from csvae.configfile import load_config
from csvae.data import load_dataset
from csvae.data.checks import DataError
from csvae.evaluate.attribute_judge import attribute_data, load_attribute_judge
from csvae.evaluate.judge import load_or_fit_judge
from csvae.figures import run_figures
from csvae.reproduce.planning import Job
from csvae.rundir import RunDir
from csvae.runs import evaluate_run, fit_run
from csvae.safeio import read_json


def fit_job(job: Job) -> bool:
    """Fit (or resume) one run on one torch thread; True when it still needs its evaluation
    (False: its metrics.json, of this config, is there)."""
    torch.set_num_threads(1)
    run = RunDir(Path(job.out))
    # model.pt is this job's only if it was trained with its config (an overwrite that did not
    # finish leaves the old model.pt beside the new config.yaml)
    finished = run.final.exists() and stored_config(run.final) == job.config
    if run.config.exists():
        if load_config(run.config) != job.config:
            raise ConfigError(f"{run.root} holds a run with another config; remove it or choose another --out")
        if run.evaluation.exists() and finished:
            return False
    if not finished:
        with threadpool_limits(1):  # sklearn's OpenMP probes too: the workers already fill the cores
            fit_run(job.config, run.root, resume=run.config.exists())
    return True


def evaluate_job(job: Job) -> dict:
    """Evaluate a fitted run on one torch thread and, for seed 0 (the seed the report shows), draw
    its figures (in the workers, beside other runs, rather than one after another in the report);
    returns its metrics."""
    torch.set_num_threads(1)
    with threadpool_limits(1):
        metrics = evaluate_run(job.out, figures=False, judges=job.judges)
        if job.seed == 0:
            try:
                run_figures(job.out)
            except (DataError, ConfigError):  # the report draws what is missing and says why it cannot
                RunDir(Path(job.out)).latents_figure.unlink(missing_ok=True)
    return metrics


def run_job(job: Job) -> dict:
    """Fit (or resume) and evaluate one run; reuse its metrics.json when it is finished. Returns
    the run's metrics."""
    if fit_job(job):
        return evaluate_job(job)
    return read_json(RunDir(Path(job.out)).evaluation, "metrics.json")


def prepare_shared_data(jobs: list[Job]) -> list[tuple]:
    """Build each image cache once, before the workers start (they would race to build the same
    files, each doing the whole work); return the judges to train as (function, job) pairs: one
    ``fit_judge`` per distinct image data set, one ``fit_attribute_judge`` per CelebA tree."""
    seen, judged = set(), []
    for job in jobs:
        # the labels a fit hides (data.labelled_fraction) do not change the data a judge learns from
        judged_data = dataclasses.replace(job.config.data, labelled_fraction=1.0)
        for function, data in ((fit_judge, judged_data), (fit_attribute_judge, attribute_data(job.config.data))):
            key = json.dumps(config_to_dict(job.config)["data"] if data is None else dataclasses.asdict(data),
                             sort_keys=True)
            if data is None or key in seen:
                continue
            seen.add(key)
            if load_dataset(data).x.ndim == 4:
                judged.append((function, job))
    return judged


def fit_judge(job: Job) -> None:
    """Train (or find in its cache) the judge of a job's image data, on one thread like the runs
    (the judge's weights then do not depend on the machine's core count, and it does not thrash a
    shared machine)."""
    torch.set_num_threads(1)
    with threadpool_limits(1):
        load_or_fit_judge(load_dataset(job.config.data), job.judges)


def fit_attribute_judge(job: Job) -> None:
    """Train (or find in its cache) the attribute judge of a CelebA job's tree, on one thread."""
    torch.set_num_threads(1)
    with threadpool_limits(1):
        load_attribute_judge(attribute_data(job.config.data), job.judges)


JUDGES = (fit_judge, fit_attribute_judge)
