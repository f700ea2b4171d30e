"""The metrics that keep a shipped model honest: measured at export on a small fixed slice of the
test split (the first ``ROWS`` examples) with the half-precision weights, stored in the card's
``check``, and measured again by ``tests/test_pretrained_shipped.py`` for every shipped model. No
judge is needed, so the check runs wherever the data are: recon R² of the slice, and per direction
the mean RMS change an edit makes to the reconstruction (``style="class_mean"``: deterministic).
A change in code that alters what a shipped model computes moves these beyond ``TOLERANCE``."""

from __future__ import annotations

import numpy as np

from csvae.data.dataset import Dataset
from csvae.evaluate.manipulation import direction_rows, directions, generate, reconstruct, rms_distance
from csvae.evaluate.vector import reconstruction_metrics
from csvae.models.base import LatentModel

ROWS = 128
TOLERANCE = {"recon_r2": 0.005, "edit_rms": 0.05}
"""Absolute tolerance of recon R²; relative tolerance of each direction's mean edit size."""


def slice_metrics(model: LatentModel, data: Dataset, rows: int = ROWS) -> dict:
    """{"recon_r2": float, "edit_rms": {direction: mean RMS distance (data units) between the edit
    and the reconstruction, or None when the slice has no input of the direction's source}} on the
    first ``rows`` test examples of ``data``."""
    x, y = data.part("test")
    x, y = np.asarray(x[:rows]), np.asarray(y[:rows], np.float32)
    out = {"recon_r2": reconstruction_metrics(model, x, y)["recon_r2"], "edit_rms": {}}
    for d in directions(data.attribute_names, data.label_kind):
        picked, target = direction_rows(d, y, data.label_kind)
        if not len(picked):
            out["edit_rms"][d.name] = None
            continue
        edited = generate(model, x[picked], y[picked], target, style="class_mean")
        out["edit_rms"][d.name] = float(rms_distance(edited, reconstruct(model, x[picked], y[picked])).mean())
    return out


def compare(stored: dict, fresh: dict) -> list[str]:
    """What differs beyond ``TOLERANCE`` between a card's check metrics and a fresh measurement
    (empty when they agree)."""
    problems = []
    if abs(stored["recon_r2"] - fresh["recon_r2"]) > TOLERANCE["recon_r2"]:
        problems.append(f"recon_r2 {fresh['recon_r2']:.4f}, the card says {stored['recon_r2']:.4f}")
    for name, value in stored["edit_rms"].items():
        now = fresh["edit_rms"].get(name)
        if (value is None) != (now is None) or (value is not None and
                                                abs(now - value) > TOLERANCE["edit_rms"] * max(abs(value), 1e-6)):
            problems.append(f"edit_rms of {name}: {now}, the card says {value}")
    return problems
