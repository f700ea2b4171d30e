"""The experiment folders the results page is built from, read as ``csvae report`` reads them
(its ``collect``) but without its lock: nothing is written into them, so a folder another process
is still writing (its lock held) is read as it stands, and the page says it was in progress."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from csvae.data.checks import DataError
from csvae.datacard import read_card
from csvae.report.document import Results, collect
from csvae.rundir import ExperimentDir
from csvae.safeio import lock_holder


class ResultsError(ValueError):
    """Input the results page cannot be built from; the message names the folder or file."""


@dataclass
class Source:
    """One experiment folder, read: as given on the command line (``given``), its manifest, the
    metrics of its evaluated runs, the runs not evaluated yet or unreadable, and the process writing
    it when it was read (None: none)."""

    given: str
    exp: ExperimentDir
    manifest: dict
    results: Results
    missing: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    writer: Optional[str] = None

    @property
    def name(self) -> str:
        return self.manifest["name"]

    def evaluated(self) -> int:
        return sum(len(seeds) for variants in self.results.values() for seeds in variants.values())

    def planned(self) -> int:
        return len(self.manifest["runs"])

    def parts(self) -> list[str]:
        """Its data sets with at least one evaluated run, in the manifest's order."""
        return [p["data"] for p in self.manifest["parts"] if self.results.get(p["data"])]

    def image_size(self, data: str) -> Optional[int]:
        """The image side in px of part ``data`` (from its first evaluated run's data card; None
        for vector data or a card that cannot be read)."""
        variant, seeds = next(iter(self.results[data].items()))
        try:
            shape = read_card(self.exp.run(data, variant, min(seeds)).data_card).x_shape
        except DataError:
            return None
        return int(shape[-1]) if len(shape) == 3 else None


def read_source(folder: str | os.PathLike) -> Source:
    """Experiment folder ``folder``, read; ResultsError naming it when it is not an experiment
    folder (no folder, no experiment.json, a malformed one) or holds no evaluated run."""
    root = Path(folder)
    if not root.is_dir():
        raise ResultsError(f"{folder} is not a folder; csvae results reads experiment folders (what "
                           f"`csvae reproduce NAME --out DIR` writes)")
    exp = ExperimentDir(root)
    try:
        manifest = exp.read_manifest()
    except ValueError as err:
        raise ResultsError(f"{folder} is not an experiment folder: {err}") from None
    writer = lock_holder(root)
    results, missing, unread = collect(exp, manifest)
    source = Source(str(folder), exp, manifest, results, missing, unread, writer)
    if not source.evaluated():
        why = f"; left out: {'; '.join(unread)}" if unread else ""
        raise ResultsError(f"{folder} holds no evaluated run (a runs/<data>/<variant>/seed<k>/metrics.json that "
                           f"`csvae reproduce` or `csvae evaluate` writes){why}"
                           + (f"; {writer} is still writing it" if writer else ""))
    return source


def read_sources(folders: list[str | os.PathLike]) -> list[Source]:
    """Every folder, read (``read_source``); ResultsError when two hold experiments of one name
    (their figures would share docs/results/<name>/)."""
    sources = [read_source(f) for f in folders]
    names = [s.name for s in sources]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        folders_of = [s.given for s in sources if s.name == twice]
        raise ResultsError(f"{' and '.join(folders_of)} both hold experiment {twice!r}; give one folder per "
                           f"experiment")
    return sources
