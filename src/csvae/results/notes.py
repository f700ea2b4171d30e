"""The hand-written notes of the results page: one Markdown file per section in a checked-in
folder (docs/results-notes/<section>.md, and intro.md under the page's header), inserted as they
are, so the whole page is regenerated and the prose that no run can write is kept. A notes file
that names no section is refused, never silently left out."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from csvae.results.sources import ResultsError
from csvae.safeio import read_bounded

INTRO = "intro"
"""The notes file that goes under the page's header."""
MARK = "<!-- generated results -->"
"""A line in a notes file where the section's generated tables and figures go (without it: after the notes)."""
MAX_NOTES_BYTES = 1 << 20


def read_notes(folder: Optional[Path], keys: set[str]) -> dict[str, str]:
    """Section key -> the text of its notes file in ``folder`` (None or missing folder: no notes);
    ResultsError naming a .md file whose name is no section of ``keys`` (nor ``INTRO``)."""
    if folder is None or not folder.is_dir():
        return {}
    notes = {}
    for path in sorted(folder.glob("*.md")):
        if path.stem not in keys | {INTRO}:
            raise ResultsError(f"{path} names no section of the results page; notes files are "
                               f"{', '.join(f'{k}.md' for k in sorted(keys | {INTRO}))}")
        notes[path.stem] = read_bounded(path, MAX_NOTES_BYTES, "notes file").decode("utf-8").strip("\n")
    return notes


def around(text: Optional[str]) -> tuple[list[str], list[str]]:
    """The lines of a notes text that go before and after the generated part of its section."""
    if not text:
        return [], []
    before, found, after = text.partition(MARK)
    return (_lines(before), _lines(after)) if found else (_lines(text), [])


def _lines(text: str) -> list[str]:
    """A block of notes as lines, followed by a blank one ([] for blank text)."""
    return text.strip("\n").splitlines() + [""] if text.strip() else []
