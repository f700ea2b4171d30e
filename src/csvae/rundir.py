"""The layout of a run folder: the one contract between the stages that write and read it.

``csvae fit`` writes config.yaml (the exact config), data.json (the data card: what the model was
trained on), metrics.csv (training losses), checkpoints/last.pt (resumable state) and model.pt
(the finished model, which also carries its config and data card). ``csvae evaluate`` reads
model.pt and the data named by the card and writes metrics.json and arrays.npz (everything the
figures draw). The figures stage draws latents.png, reconstructions.png and the grids in
figures/ from arrays.npz alone; the report reads only these files.

Every stage learns file names here, never from another stage's module.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

EVALUATION_OUTPUTS = ("metrics.json", "arrays.npz", "latents.png", "reconstructions.png", "figures")
"""What describes one finished model (evaluation and figures); removed when a new model.pt replaces it."""


@dataclass(frozen=True)
class RunDir:
    """The files of one run folder, by role."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def data_card(self) -> Path:
        return self.root / "data.json"

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

    def evaluation_outputs(self) -> list[Path]:
        return [self.root / name for name in EVALUATION_OUTPUTS]

    def clear_evaluation(self) -> None:
        """Remove the evaluation outputs (of a model about to be replaced)."""
        for path in self.evaluation_outputs():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
