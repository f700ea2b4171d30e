"""``csvae results``: the results page (docs/results.md) from experiment folders, with its figures
copied beside it. Everything is read and checked first; then the figures are written, the page
replaces the old one in one rename, and only then are the figures it no longer links removed, so a
failure leaves the old page whole."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from csvae.fileio import atomic_write_bytes
from csvae.results.figures import copy_figures, prune_figures
from csvae.results.notes import read_notes
from csvae.results.page import page, sections_of
from csvae.results.sources import read_sources


@dataclass(frozen=True)
class Written:
    """What ``build_results`` wrote: the page, the figures' folder, the figures it links, the stale
    figures it removed and the experiments another process was writing while they were read (one
    line each)."""

    page: Path
    folder: Path
    figures: list[Path]
    removed: list[Path]
    in_progress: list[str]


def build_results(folders: Sequence[str | os.PathLike], out: str | os.PathLike = "docs/results.md",
                  notes: Optional[str | os.PathLike] = None, figures: Optional[str | os.PathLike] = None,
                  command: Optional[str] = None) -> Written:
    """Write the results page ``out`` from experiment folders ``folders`` (in any order: the
    sections have a fixed one). ``notes``: the folder of notes files (default: results-notes/
    beside ``out``); ``figures``: where the figures go, under <experiment>/ (default: ``out``
    without its suffix, docs/results/); ``command``: the command line the page names (default: the
    ``csvae results`` call that writes it). ResultsError when a folder is not an experiment folder,
    holds no evaluated run, or a notes file names no section."""
    out = Path(out)
    notes_dir = Path(notes) if notes is not None else out.parent / "results-notes"
    figures_dir = Path(figures) if figures is not None else out.with_suffix("")
    sources = read_sources(list(folders))
    known = {section.key for section in sections_of(sources)}
    command = command or shlex.join(["csvae", "results", *map(str, folders), "--out", str(out)])
    text, shown = page(sources, read_notes(notes_dir, known), command, out, figures_dir)
    copy_figures(shown, figures_dir)
    atomic_write_bytes(out, text.encode())
    removed = prune_figures(figures_dir, [s.name for s in sources], set(shown))
    return Written(out, figures_dir, [figures_dir / name for name in shown], removed,
                   [f"{s.given}: {s.writer} was writing it" for s in sources if s.writer])
