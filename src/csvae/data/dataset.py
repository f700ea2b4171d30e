"""The one shape every data reader returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np

SPLITS = {"train": 0, "valid": 1, "test": 2}
HASH_CHUNK = 4096
"""Examples hashed per step (keeps a memmap out of memory)."""


def fingerprint(x: np.ndarray, y: np.ndarray, split: Optional[np.ndarray] = None,
                factors: Optional[dict[str, np.ndarray]] = None) -> str:
    """sha256 (hex) of examples x (N, ...), labels y (N, k), the split (N,) and the factors: it
    changes when any example, label, split assignment or factor value changes."""
    h = hashlib.sha256(json.dumps({"shape": list(x.shape), "dtype": str(x.dtype)}).encode())
    for start in range(0, len(x), HASH_CHUNK):
        h.update(np.ascontiguousarray(x[start:start + HASH_CHUNK]).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.float32).tobytes())
    if split is not None:
        h.update(np.ascontiguousarray(split, dtype=np.int8).tobytes())
    for name in sorted(factors or {}):
        h.update(name.encode())
        h.update(np.ascontiguousarray(factors[name], dtype=np.float64).tobytes())
    return h.hexdigest()


@dataclass
class Dataset:
    """Examples with labels and a split.

    x: (N, n) float32 for vector data, or (N, C, H, W) uint8 for images (may be a memmap).
    y: (N, k) float32 in {0, 1}: k binary attributes, or a one-hot row over k classes.
    split: (N,) int8, 0 train / 1 valid / 2 test (see ``SPLITS``).
    attribute_names: k names (attributes, or class names for a categorical label).
    label_kind: "binary" or "categorical".
    factors: ground-truth generative factors, name -> (N, ...) array, where known (synthetic data).
    """

    x: np.ndarray
    y: np.ndarray
    split: np.ndarray
    attribute_names: list[str]
    label_kind: Literal["binary", "categorical"] = "binary"
    factors: Optional[dict[str, np.ndarray]] = None
    info: dict = field(default_factory=dict)
    """Free-form facts about how the data were read (counts of skipped rows, crop, ...)."""
    _fingerprint: Optional[str] = field(default=None, init=False, repr=False, compare=False)

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of one split: "train", "valid" or "test"."""
        index = np.flatnonzero(self.split == SPLITS[name])
        return self.x[index], self.y[index]

    def part_view(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``part(name)``, but x is a view of ``self.x`` (a memory map stays one, nothing is read)
        when the split's rows are one contiguous range; else a copy as ``part`` makes."""
        index = np.flatnonzero(self.split == SPLITS[name])
        if len(index) and index[-1] - index[0] + 1 == len(index):
            return self.x[index[0]:index[-1] + 1], self.y[index]
        return self.x[index], self.y[index]

    def indices(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS[name])

    def fingerprint(self) -> str:
        """``fingerprint`` of x, y, split and factors (computed once; the arrays are not changed
        after reading)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.x, self.y, self.split, self.factors)
        return self._fingerprint
