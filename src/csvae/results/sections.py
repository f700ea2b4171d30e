"""The sections of docs/results.md, in their fixed order: which data sets each holds, the notes
file that goes under it and the command that makes its reference run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Section:
    """One section of the results page: the parts of the experiments whose data set starts with
    one of ``data`` (and, for images, whose side is ``size`` px; None: any)."""

    key: str
    """Its notes file (NOTES/<key>.md) and its anchor."""
    title: str
    data: tuple[str, ...]
    size: Optional[int] = None
    reproduce: str = ""
    """The command that makes its reference run (said when no run is given)."""

    def holds(self, data: str, size: Optional[int]) -> bool:
        """Whether a part on data set ``data`` with images of side ``size`` (None: not images) goes here."""
        return data.startswith(self.data) and (self.size is None or size == self.size)


SECTIONS = (
    Section("toy", "Swiss roll and the toy sets", ("swiss_roll", "s_curve", "moons3d"),
            reproduce="csvae reproduce toy (five seeds) or csvae reproduce demo (the swiss roll, one seed)"),
    Section("synthetic-faces", "Synthetic faces", ("synthetic_faces",),
            reproduce="csvae reproduce synthetic-faces (three seeds) or csvae reproduce demo (one seed)"),
    Section("partly-labelled", "Partly labelled synthetic faces", ("partly_labelled",),
            reproduce="csvae reproduce partly-labelled (one seed; --seeds 3 for three)"),
    Section("celeba-32", "CelebA at 32 px", ("celeba",), 32, reproduce="csvae reproduce demo"),
    Section("celeba-64", "CelebA at 64 px", ("celeba",), 64, reproduce="csvae reproduce celeba"),
    Section("tfd", "Toronto Face Database", ("tfd",), reproduce="csvae reproduce tfd-expressions"),
)
"""The sections in page order; a part that fits none gets a section of its own after them."""


def section_of(data: str, size: Optional[int]) -> Section:
    """The section of a part (data set ``data``, image side ``size``): the first of ``SECTIONS``
    that holds it, else one named after the data set (and its size)."""
    found = next((s for s in SECTIONS if s.holds(data, size)), None)
    if found is not None:
        return found
    suffix = f"-{size}" if size else ""
    return Section(f"{data}{suffix}", f"{data} at {size} px" if size else data, (data,), size)
