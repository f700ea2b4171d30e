"""The layout of a run folder: the one contract between the stages that write and read it.

``csvae fit`` writes config.yaml (the exact config), data.json (the data card: what the model was
trained on), versions.json (csvae, torch, Python, commit), metrics.csv (training losses),
checkpoints/last.pt (resumable state) and model.pt (the finished model, which also carries its
config and data card). ``csvae evaluate`` reads
model.pt and the data named by the card and writes metrics.json and arrays.npz (everything the
figures draw). The figures stage draws latents.png, reconstructions.png and the grids in
figures/ from arrays.npz alone; the report reads only these files.

Every stage learns file names here, never from another stage's module.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from csvae.fileio import atomic_write_bytes

MANIFEST_FORMAT, MANIFEST_VERSION = "csvae-experiment", 1
FIGURE_GRIDS = ("manipulate_*.png", "styles_*.png", "transfer_*.png")
"""The grids ``csvae.figures`` draws in a run's figures/ folder."""
STAGING = ".overwrite"
"""The folder inside a run folder where ``fit --overwrite`` trains the new run; it replaces the
old run's files only once complete (``RunDir.commit``)."""


class ManifestError(ValueError):
    """An experiment.json that is missing or malformed; the message names the file and field."""


@dataclass(frozen=True)
class RunDir:
    """The files of one run folder, by role. A staged run (``staged``) is written in ``root`` and
    replaces the run in ``target`` when ``commit`` is called; ``lock`` is the run folder's
    ``FolderLock`` while a fit writes it."""

    root: Path
    target: Optional[Path] = None
    lock: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def data_card(self) -> Path:
        return self.root / "data.json"

    @property
    def versions(self) -> Path:
        """The versions of csvae, torch and Python and the git commit that trained it (versions.json)."""
        return self.root / "versions.json"

    @property
    def metrics(self) -> Path:
        """Training losses, one row per logging window."""
        return self.root / "metrics.csv"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def final(self) -> Path:
        return self.root / "model.pt"

    @property
    def evaluation(self) -> Path:
        """Test metrics (metrics.json)."""
        return self.root / "metrics.json"

    @property
    def arrays(self) -> Path:
        """What the figures draw, written by evaluate (arrays.npz)."""
        return self.root / "arrays.npz"

    @property
    def latents_figure(self) -> Path:
        return self.root / "latents.png"

    @property
    def reconstructions_figure(self) -> Path:
        return self.root / "reconstructions.png"

    @property
    def figures(self) -> Path:
        """Folder of the run's grids (styles, transfers, manipulations)."""
        return self.root / "figures"

    def grid(self, kind: str, attribute: str) -> Path:
        """The run's grid ``kind`` (manipulate, styles, transfer) of ``attribute`` in figures/."""
        return self.figures / f"{kind}_{figure_name(attribute)}.png"

    def evaluation_outputs(self) -> list[Path]:
        """What describes one finished model (evaluation and figures); removed when a new model.pt
        replaces it."""
        return [self.evaluation, self.arrays, self.latents_figure, self.reconstructions_figure, self.figures]

    def clear_evaluation(self) -> None:
        """Remove the evaluation outputs (of a model about to be replaced): in figures/ only the
        grids csvae draws (``FIGURE_GRIDS``), and the folder once empty; a user's own file stays."""
        for path in self.evaluation_outputs():
            if path == self.figures and path.is_dir():
                for grid in [p for pattern in FIGURE_GRIDS for p in path.glob(pattern)]:
                    grid.unlink()
                if not any(path.iterdir()):
                    path.rmdir()
            elif not path.is_dir():
                path.unlink(missing_ok=True)

    def training_files(self) -> list[Path]:
        """What fit writes: config.yaml, data.json, metrics.csv, the checkpoint and model.pt (last)."""
        return [self.config, self.data_card, self.metrics, self.checkpoint, self.final]

    def staged(self, lock=None) -> "RunDir":
        """A fresh staging folder (RUN/.overwrite, emptied of a failed overwrite's files) whose
        files replace this run's on ``commit``: nothing of this run changes before."""
        stage = self.root / STAGING
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        return RunDir(stage, target=self.root, lock=lock)

    def commit(self) -> None:
        """A staged run, complete: its files replace those of the run in ``target`` (whose
        evaluation outputs go, as they describe the old model), model.pt last; then the run
        folder's lock is released."""
        if self.target is not None:
            old = RunDir(self.target)
            old.clear_evaluation()
            for new, path in zip(self.training_files(), old.training_files()):
                if new.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(new, path)
                else:
                    path.unlink(missing_ok=True)
            shutil.rmtree(self.root)
        if self.lock is not None:
            self.lock.release()


def figure_name(attribute: str) -> str:
    """An attribute name as a safe file-name part."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in attribute)


def folder_name(label: str) -> str:
    """A variant label ("dim w_i = 4") as a folder name ("dim_w_i__4")."""
    return label.replace(" ", "_").replace("=", "").replace("/", "_")


@dataclass(frozen=True)
class ExperimentDir:
    """The files of an experiment folder (``csvae reproduce``; ``csvae report`` reads it).

    experiment.json (what was run: name, description, parts and runs, written before the first
    run starts), runs/<data>/<variant>/seed<s>/ (run folders), judges/ (cached judges), figures/
    (grids comparing the runs of a part), report.md and report.html."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def manifest(self) -> Path:
        return self.root / "experiment.json"

    @property
    def judges(self) -> Path:
        return self.root / "judges"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    def comparison_figure(self, data: str, attribute: str) -> Path:
        """The grid comparing every variant's manipulation of ``attribute`` on part ``data``."""
        return self.figures / f"{data}_manipulate_{figure_name(attribute)}.png"

    def run(self, data: str, variant: str, seed: int) -> RunDir:
        """The run folder of one (data, variant, seed): runs/<data>/<variant as folder>/seed<s>."""
        return RunDir(self.root / "runs" / data / folder_name(variant) / f"seed{seed}")

    def write_manifest(self, name: str, description: str, parts: list[dict], runs: list[dict]) -> None:
        """Write experiment.json atomically. parts: [{"data", "variants": [label, ...]}] in report
        order; runs: [{"data", "variant", "seed"}] (their folders follow from ``run``)."""
        manifest = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "name": name,
                    "description": description, "parts": parts,
                    "runs": [{**r, "path": self.run(r["data"], r["variant"], r["seed"]).root.relative_to(
                        self.root).as_posix()} for r in runs]}
        atomic_write_bytes(self.manifest, (json.dumps(manifest, indent=2) + "\n").encode())

    def read_manifest(self) -> dict:
        """experiment.json, checked: ManifestError naming the file and what is wrong."""
        from csvae.safeio import read_json

        path = self.manifest
        try:
            manifest = read_json(path, "csvae experiment manifest")
        except FileNotFoundError:
            raise ManifestError(f"{path} is missing: {self.root} is not an experiment folder written by "
                                f"`csvae reproduce`") from None
        except ValueError as err:
            raise ManifestError(str(err)) from None
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"{path} is not a csvae experiment manifest (format {MANIFEST_FORMAT!r})")
        if manifest.get("version") != MANIFEST_VERSION:
            raise ManifestError(f"{path} has version {manifest.get('version')!r}; this csvae reads version "
                                f"{MANIFEST_VERSION}")
        parts, runs = manifest.get("parts"), manifest.get("runs")
        good_parts = isinstance(parts, list) and all(
            isinstance(p, dict) and isinstance(p.get("data"), str) and isinstance(p.get("variants"), list)
            for p in parts)
        good_runs = isinstance(runs, list) and all(
            isinstance(r, dict) and isinstance(r.get("data"), str) and isinstance(r.get("variant"), str)
            and isinstance(r.get("seed"), int) for r in runs)
        if not (good_parts and good_runs and isinstance(manifest.get("name"), str)):
            raise ManifestError(f"{path} is malformed: it needs a name, parts [{{data, variants}}] and runs "
                                f"[{{data, variant, seed}}]")
        outside = [r for r in runs if not (_plain_name(r["data"]) and _plain_name(folder_name(r["variant"])))]
        if outside:
            raise ManifestError(f"{path}: run {outside[0]} does not name a folder inside {self.root / 'runs'}")
        listed = {(p["data"], v) for p in parts for v in p["variants"]}
        stray = [r for r in runs if (r["data"], r["variant"]) not in listed]
        if stray:
            raise ManifestError(f"{path}: its parts and runs disagree: run {stray[0]} (and {len(stray) - 1} more) is "
                                f"in no part's variants, so no table would show it")
        return manifest


def _plain_name(name: str) -> bool:
    """A single folder name: no separator, not . or .., not hidden."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")
