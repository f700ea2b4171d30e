"""Planning an experiment: every run (a ``Job``) of its parts, variants and seeds, and its expected
cost for the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from csvae.config import ConfigError, RunConfig
from csvae.configfile import load_config, with_overrides
from csvae.models import MODELS
from csvae.reproduce.experiments import Experiment, preset_path, shared_root
from csvae.rundir import ExperimentDir


@dataclass(frozen=True)
class Job:
    """One run of an experiment: its config, its run folder, the experiment's judges folder, and
    where it stands in the report (its part's label, variant, seed)."""

    config: RunConfig
    out: str
    judges: str
    data_label: str
    variant: str
    seed: int


def plan(experiment: Experiment, out: Path, seeds: Optional[int], data_root: Optional[str]) -> list[Job]:
    """Every run of the experiment; ``seeds`` (when given) replaces every part's number of seeds."""
    exp = ExperimentDir(out)
    jobs = []
    for part in experiment.parts:
        root = data_root or shared_root(part.shared)
        if part.needs_root and root is None:
            if part.optional:
                continue
            raise ConfigError(f"experiment {experiment.name} needs --data-root (the {part.data} data)")
        for variant in part.variants:
            base = load_config(preset_path(part.presets, variant.model))
            overrides = [("data.name", part.data), *part.overrides, *variant.overrides]
            if part.needs_root:
                overrides.append(("data.root", str(Path(root).resolve())))
            for seed in range(seeds or variant.seeds or part.seeds or experiment.seeds):
                config = with_overrides(base, [*overrides, ("data.seed", seed), ("train.seed", seed)])
                jobs.append(Job(config, str(exp.run(part.label, variant.label, seed).root), str(exp.judges),
                                part.label, variant.label, seed))
    return jobs


def expected_cost(job: Job) -> tuple:
    """A sort key for scheduling: image runs before vector runs, longer and subspace-model runs
    first (CSVAE's two encoders, CCVAE's K classifier samples), so the workers finish together (the
    report does not depend on the order)."""
    c = job.config
    encoders = 2 if MODELS[c.model.name].has_subspaces else 1
    return c.model.backbone == "conv", c.data.n_samples * c.train.epochs * encoders
