"""``reproduce``: plan an experiment, set up its folder (locked: one reproduce or report at a time),
run its tasks (``run_experiment``), write its report."""


from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path
from typing import Optional

from tqdm.auto import tqdm

from csvae.config import ConfigError
from csvae.report import build_report
from csvae.reproduce.experiments import EXPERIMENTS, quick_experiment
from csvae.reproduce.folder import prepare_experiment_folder
from csvae.reproduce.planning import Job, expected_cost, plan
from csvae.reproduce.scheduler import run_in_pool
from csvae.reproduce.tasks import prepare_shared_data, run_job
from csvae.rundir import ExperimentDir
from csvae.safeio import FolderLock


def reproduce(name: str, out: str | os.PathLike, seeds: Optional[int] = None, jobs: Optional[int] = None,
              data_root: Optional[str] = None, quick: bool = False) -> Path:
    """Run experiment ``name`` into ``out``; write out/report.md and out/report.html. ``quick``:
    a smoke test (``quick_experiment``)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    experiment = quick_experiment(EXPERIMENTS[name]) if quick else EXPERIMENTS[name]
    out = Path(out)
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    planned = plan(experiment, out, seeds, data_root)
    with FolderLock(out, "experiment folder"):  # one reproduce (or report) at a time
        return run_experiment(prepare_experiment_folder(out, experiment, planned), name, planned, jobs)


def run_experiment(exp: ExperimentDir, name: str, planned: list[Job], jobs: Optional[int]) -> Path:
    """Fit and evaluate the ``planned`` runs of experiment ``name`` in ``jobs`` worker processes,
    then build the report of ``exp``; returns the path of report.md."""
    todo = sorted(planned, key=expected_cost, reverse=True)
    judged = prepare_shared_data(todo)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    with tqdm(total=len(todo), desc=f"reproduce {name}", disable=not sys.stderr.isatty()) as bar:
        if workers == 1:
            for function, job in judged:
                function(job)
            for job in todo:
                run_job(job)
                bar.update(1)
        else:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for _ in run_in_pool(pool, workers, judged, todo):
                    bar.update(1)
    return build_report(exp.root, redraw_figures=False)  # the workers drew each run's figures
