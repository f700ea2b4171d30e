"""Setting up an experiment folder (``csvae.rundir.ExperimentDir``): refuse one that holds another
experiment or a user's own report, and write its experiment.json."""

from __future__ import annotations

import sys
from pathlib import Path

from csvae.config import ConfigError
from csvae.report.document import check_reports_replaceable
from csvae.reproduce.experiments import SHARED_DATA, Experiment
from csvae.reproduce.planning import Job
from csvae.rundir import ExperimentDir, ManifestError


def prepare_experiment_folder(out: Path, experiment: Experiment, jobs: list[Job]) -> ExperimentDir:
    """Make ``out`` and write its experiment.json, refusing a folder that holds another experiment
    or a report.md that csvae did not write or that was edited since (a user's own file is never
    replaced)."""
    exp = ExperimentDir(out)
    if exp.root.exists() and not exp.root.is_dir():
        raise ConfigError(f"--out {exp.root} is a file; give a folder")
    if exp.manifest.exists():
        try:
            held = exp.read_manifest()["name"]
        except ManifestError as err:
            raise ConfigError(f"--out {exp.root}: {err}; choose another folder") from None
        if held != experiment.name:
            raise ConfigError(f"--out {exp.root} holds the experiment {held!r}; choose another folder for "
                              f"{experiment.name!r}")
    elif any(p.exists() for p in (exp.report, exp.report_html)):
        raise ConfigError(f"--out {exp.root} holds a report.md or report.html that no `csvae reproduce` wrote there "
                          f"(no experiment.json); it is not replaced: choose another folder")
    check_reports_replaceable(exp)
    exp.root.mkdir(parents=True, exist_ok=True)
    planned = {j.data_label for j in jobs}
    parts = [{"data": p.label, "variants": [v.label for v in p.variants]} for p in experiment.parts
             if p.label in planned]
    description = experiment.description
    skipped = [p for p in experiment.parts if p.label not in planned]
    if skipped:  # an optional part whose data is absent: said on screen and in the report
        missing = "; ".join(f"{p.label} not run here: its data was not found (set ${SHARED_DATA[p.shared]} or put "
                            f"{p.shared} at <repo>/../shared/data/{p.shared})" for p in skipped)
        description += f"; {missing}"
        print(f"csvae reproduce {experiment.name}: {missing}", file=sys.stderr)
    exp.write_manifest(experiment.name, description, parts,
                       [{"data": j.data_label, "variant": j.variant, "seed": j.seed} for j in jobs])
    return exp
