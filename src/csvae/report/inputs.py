"""What the report reads of an experiment folder, checked before any table sees it: each run
folder must stay inside the experiment folder (symlinks resolved), and its metrics.json must be a
bounded regular JSON file whose numbers are numbers or null (evaluate writes NaN and inf as null).
A run that fails costs only its own rows, named in the report with the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from csvae.data.checks import DataError
from csvae.report.tables import VECTOR_METRICS, MetricTypeError, number
from csvae.rundir import ExperimentDir, RunDir
from csvae.safeio import inside_root, read_json

NUMBERS = (*VECTOR_METRICS, "z_label_balanced_accuracy_nonlinear")
"""The top-level metrics the report reads as numbers."""


def run_folder(exp: ExperimentDir, run: dict) -> RunDir:
    """The folder of a manifest run; DataError when it, or a file the report reads there
    (metrics.json, arrays.npz, data.json, config.yaml), leads outside the experiment folder (a
    symlink on the way)."""
    folder = exp.run(run["data"], run["variant"], run["seed"])
    for path in (folder.root, folder.evaluation, folder.arrays, folder.data_card, folder.config):
        inside_root(path, exp.root, "the run folder" if path == folder.root else "the file")
    return folder


def read_metrics(path: Path) -> dict:
    """A run's metrics.json, checked: a regular JSON file holding an object whose top-level
    metrics are numbers or null; DataError naming the file and the key otherwise
    (FileNotFoundError when it does not exist: the run is not evaluated yet)."""
    metrics = read_json(path, "metrics file")
    if not isinstance(metrics, dict):
        raise DataError(f"{path} holds a JSON {type(metrics).__name__}, not an object of metrics")
    for key in NUMBERS:
        try:
            number(metrics.get(key))
        except MetricTypeError as err:
            raise DataError(f"{path}: {key} must be a number or null, got {err.value!r:.60}") from None
    return metrics


def check_renders(path: Path, metrics: dict, render: Callable[[str, dict], object], run: dict) -> None:
    """Render the tables of manifest run ``run`` alone (``render(data, {variant: {seed:
    metrics}})``); DataError naming ``path`` and the key when a value is missing or of another
    type than the tables read."""
    try:
        render(run["data"], {run["variant"]: {run["seed"]: metrics}})
    except MetricTypeError as err:
        raise DataError(f"{path}: {key_of(metrics, err.value) or 'a value'} must be a number or null, got "
                        f"{err.value!r:.60}") from None
    except KeyError as err:
        raise DataError(f"{path} lacks the key {err.args[0]!r} the report reads") from None
    except (TypeError, AttributeError, IndexError, ValueError) as err:
        raise DataError(f"{path} holds a value of another type than the report reads ({err})") from None


def key_of(metrics, value, name: str = "") -> Optional[str]:
    """The dotted key of ``value`` in ``metrics``: of the object itself, or for a boolean (one of
    two shared objects) of the first boolean that is not in a list."""
    if metrics is value:
        return name
    if isinstance(metrics, dict):
        items = [(f"{name}.{key}" if name else str(key), child) for key, child in metrics.items()]
    elif isinstance(metrics, list) and not isinstance(value, bool):
        items = [(f"{name}[{i}]", child) for i, child in enumerate(metrics)]
    else:
        return None
    return next((found for key, child in items if (found := key_of(child, value, key))), None)
