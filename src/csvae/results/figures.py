"""The figures of the results page: a selection of what the report shows for each part (CSVAE's
latent codes and reconstructions, the grid comparing every model's manipulation of each attribute,
CSVAE's style and transfer grids), copied from the experiment folder into the docs. A figure the
runs' files say should be there but is not, or that is too large for the docs, is said on the page
instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from csvae.data.checks import DataError
from csvae.datacard import read_card
from csvae.figures import comparison_title, grid_title
from csvae.fileio import atomic_write_bytes
from csvae.results.sources import Source
from csvae.runfiles import array_names
from csvae.safeio import read_bounded

MAX_FIGURE_BYTES = 1 << 20
"""The largest PNG copied into the docs (the report's grids are 50-300 kB)."""
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class Figure:
    """A figure of one part: its caption, its file in the experiment folder, and its path under the
    docs' figures folder (<experiment>/<path in the experiment folder>)."""

    title: str
    source: Path
    target: str


def figure_variant(source: Source, data: str) -> str:
    """The variant whose figures the page shows: csvae when the part has it, else its first."""
    runs = source.results[data]
    return "csvae" if "csvae" in runs else next(iter(runs))


def part_figures(source: Source, data: str, images: bool) -> tuple[list[Figure], list[str]]:
    """The figures the page shows for part ``data`` of ``source`` and the lines saying why some
    cannot be shown (the run's data card or arrays cannot be read)."""
    exp, variant = source.exp, figure_variant(source, data)
    run = exp.run(data, variant, min(source.results[data][variant]))
    wanted = [(f"{variant}: the latent codes of the test set, coloured by the label", run.latents_figure)]
    if not images:
        return [Figure(t, p, target(source, p)) for t, p in wanted], []
    wanted.append((f"{variant}: test images (top) and their reconstructions", run.reconstructions_figure))
    try:
        attributes, names = read_card(run.data_card).attribute_names, array_names(run.arrays)
    except DataError as err:
        return [Figure(t, p, target(source, p)) for t, p in wanted], [f"(the grids cannot be listed: {err})"]
    for i, attribute in enumerate(attributes):
        wanted.append((comparison_title(attribute), exp.comparison_figure(data, attribute)))
        wanted += [(grid_title(variant, run.grid(kind, attribute)), run.grid(kind, attribute))
                   for kind, array in (("styles", "style"), ("transfer", "transfer")) if f"{array}_{i}" in names]
    return [Figure(t, p, target(source, p)) for t, p in wanted], []


def target(source: Source, path: Path) -> str:
    """Where figure ``path`` of ``source`` goes under the docs' figures folder."""
    return f"{source.name}/{path.relative_to(source.exp.root).as_posix()}"


def figure_bytes(figure: Figure) -> tuple[Optional[bytes], str]:
    """The PNG of ``figure`` and "", or None and why it is not shown (missing, not a whole PNG,
    larger than ``MAX_FIGURE_BYTES``)."""
    try:
        data = read_bounded(figure.source, MAX_FIGURE_BYTES, "figure for the docs")
    except FileNotFoundError:
        return None, f"{figure.source} is missing (`csvae report` draws it from the run's arrays.npz)"
    except (DataError, OSError) as err:
        return None, str(err)
    if not (data.startswith(PNG_START) and data.endswith(PNG_END)):
        return None, f"{figure.source} is not a whole PNG file"
    return data, ""


def copy_figures(figures: dict[str, bytes], folder: Path) -> None:
    """Write each figure (target -> PNG) under ``folder`` atomically, leaving unchanged ones alone."""
    for name, data in figures.items():
        path = folder / name
        if not (path.is_file() and path.read_bytes() == data):
            atomic_write_bytes(path, data)


def prune_figures(folder: Path, experiments: list[str], kept: set[str]) -> list[Path]:
    """Remove the PNGs under ``folder``/<experiment>/ that the page no longer links (figures of
    earlier runs), for the experiments on the page only; returns them."""
    stale = [p for name in experiments for p in sorted((folder / name).rglob("*.png"))
             if p.relative_to(folder).as_posix() not in kept]
    for path in stale:
        path.unlink()
    return stale
