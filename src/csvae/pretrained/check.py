"""The metrics that keep a shipped model honest: measured at export on a small fixed slice of the
test split (its first ``ROWS`` examples, ``read_slice``) with the half-precision weights, stored in
the card's ``check``, and measured again by ``tests/test_pretrained_shipped.py`` for every shipped
model. No judge is needed, so the check runs wherever the data are: recon R² of the slice, per
direction the mean RMS change an edit makes to the reconstruction (``style="class_mean"``:
deterministic), and per attribute the accuracy of the labels the model infers for a new photo
(``csvae.apply.labels.infer_labels``, for models with a classifier). A change in code that alters
what a shipped model computes moves these beyond ``TOLERANCE``.

The slice is read alone: a file-based data set (CelebA) has its labels indexed and only the slice's
images decoded, as its cache would decode them (no cache is built: about a second); generated data
(synthetic faces) are drawn again. ``slice_labels`` (a sha256 of the slice's labels) tells that the
same examples were read.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Optional

import numpy as np

from csvae.config import DataConfig
from csvae.data.dataset import SPLITS
from csvae.evaluate.manipulation import direction_rows, directions, generate, reconstruct, rms_distance
from csvae.evaluate.vector import reconstruction_scores
from csvae.models.base import LatentModel

ROWS = 64
"""Examples in the slice: about 1.5-3 s a model on a busy 2-core machine (docs/pretrained.md)."""
TOLERANCE = {"recon_r2": 0.005, "edit_rms": 0.05, "label_accuracy": 0.02}
"""Absolute tolerance of recon R²; relative tolerance of each direction's mean edit size; absolute
tolerance of each attribute's inferred-label accuracy (0.02 of 64 rows: one image)."""


@dataclasses.dataclass(frozen=True)
class Slice:
    """The first rows of a data set's test split: x (n, C, S, S) uint8, y (n, k) float32."""

    x: np.ndarray
    y: np.ndarray
    attribute_names: list[str]
    label_kind: str

    @property
    def labels_sha256(self) -> str:
        """sha256 of the labels as float32 bytes: the same examples give the same digest."""
        return hashlib.sha256(np.ascontiguousarray(self.y, np.float32).tobytes()).hexdigest()


def slice_config(config: DataConfig) -> tuple[Optional[DataConfig], list[str]]:
    """The DataConfig that reads ``config``'s data here, and the places looked at: its own root
    when it exists (or it has none: generated data); else, for a folder of the project's shared
    data (``csvae.reproduce.experiments.SHARED_DATA``, e.g. celeba-20k), the shared copy
    (``shared_root``: its environment variable such as $CSVAE_CELEBA_20K, else
    <clone>/../shared/data/<folder>). (None, places) when the data are nowhere."""
    from csvae.reproduce.experiments import SHARED_DATA, shared_root

    if config.root is None or Path(config.root).exists():
        return config, []
    folder, places = Path(config.root).name, [config.root]
    if folder in SHARED_DATA:
        found = shared_root(folder)
        if found is not None and found.is_dir():
            return dataclasses.replace(config, root=str(found), cache=None), places
        places.append(f"${SHARED_DATA[folder]} ({found or 'unset'}), ../shared/data/{folder} beside the clone")
    return None, places


def read_slice(config: DataConfig, rows: int = ROWS) -> Slice:
    """The first ``rows`` examples of the test split of ``config``'s data, as training read them:
    generated data are drawn whole and cut; file-based image data have their labels indexed and
    only the slice's images decoded (``decode_index``, the cache's decoder), no cache built."""
    from csvae.data import load_dataset
    from csvae.data.imageio import decode_index
    from csvae.data.images import READERS, config_options, index_images

    if config.name in READERS:
        index = index_images(config.name, config.root, **config_options(config))
        test = np.flatnonzero(index.split == SPLITS["test"])[:rows]
        data = decode_index(index.select(test), config.image_size, skip_bad=config.skip_bad)
        x, y = data.x, data.y
    else:
        data = load_dataset(config)
        x, y = data.part("test")
        x, y = x[:rows], y[:rows]
    return Slice(np.ascontiguousarray(x), np.asarray(y, np.float32), list(data.attribute_names), data.label_kind)


def label_accuracy(model: LatentModel, part: Slice) -> Optional[dict[str, float]]:
    """Per attribute (binary; one "class" entry for a categorical label), the accuracy of the labels
    the model infers for the slice's images as for a new photo; None for a model without its own
    classifier (its inference searches by a sampled ELBO, not deterministic)."""
    from csvae.apply.labels import infer_labels

    if not model.predicts_labels:
        return None
    right = infer_labels(model, part.x) == part.y
    if part.label_kind == "categorical":
        return {"class": float(right.all(1).mean())}
    return {name: float(right[:, i].mean()) for i, name in enumerate(part.attribute_names)}


def slice_metrics(model: LatentModel, part: Slice) -> dict:
    """{"rows", "slice_labels": the labels' sha256, "recon_r2", "edit_rms": {direction: mean RMS
    distance (data units) between the edit and the reconstruction, or None when the slice has no
    input of the direction's source}, "label_accuracy": ``label_accuracy``} on ``part``."""
    x, y = part.x, part.y
    recon = reconstruct(model, x, y)  # once: the edits are measured against these too
    out = {"rows": len(y), "slice_labels": part.labels_sha256,
           "recon_r2": reconstruction_scores(recon, x)["recon_r2"], "edit_rms": {},
           "label_accuracy": label_accuracy(model, part)}
    for d in directions(part.attribute_names, part.label_kind):
        picked, target = direction_rows(d, y, part.label_kind)
        if not len(picked):
            out["edit_rms"][d.name] = None
            continue
        edited = generate(model, x[picked], y[picked], target, style="class_mean")
        out["edit_rms"][d.name] = float(rms_distance(edited, recon[picked]).mean())
    return out


def compare(stored: dict, fresh: dict) -> list[str]:
    """What differs beyond ``TOLERANCE`` between a card's check metrics and a fresh measurement
    (empty when they agree). A stored card without ``slice_labels`` or ``label_accuracy`` (written
    before they were measured) is compared on the rest."""
    if stored.get("slice_labels") not in (None, fresh["slice_labels"]):
        return [f"the slice is not the one the card was measured on (its {fresh['rows']} rows have other labels): "
                f"the data or their reading changed"]
    problems = []
    if abs(stored["recon_r2"] - fresh["recon_r2"]) > TOLERANCE["recon_r2"]:
        problems.append(f"recon_r2 {fresh['recon_r2']:.4f}, the card says {stored['recon_r2']:.4f}")
    for name, value in stored["edit_rms"].items():
        now = fresh["edit_rms"].get(name)
        if (value is None) != (now is None) or (value is not None and
                                                abs(now - value) > TOLERANCE["edit_rms"] * max(abs(value), 1e-6)):
            problems.append(f"edit_rms of {name}: {now}, the card says {value}")
    for name, value in (stored.get("label_accuracy") or {}).items():
        now = (fresh["label_accuracy"] or {}).get(name)
        if now is None or abs(now - value) > TOLERANCE["label_accuracy"]:
            problems.append(f"label accuracy of {name}: {now}, the card says {value:.4f}")
    return problems
