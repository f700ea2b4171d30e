"""True counterfactuals of synthetic faces, rendered once per process.

Every model of an experiment is scored against the same truths (the same seeded rows, grids of
styles, donors and pairs), so a process that evaluates several models of one data set (a worker
of ``csvae reproduce``, a notebook) renders each request once. ``render`` takes the arguments of
``csvae.data.synthetic_faces.render_counterfactuals`` and returns a copy of its images from a
cache keyed by the data set's fingerprint and every argument, bounded by ``CACHE_BYTES`` (least
recently used first out). A copy costs about a thousandth of a render.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Optional

import numpy as np

from csvae.data.dataset import Dataset
from csvae.data.synthetic_faces import render_counterfactuals

CACHE_BYTES = 256 * 2**20
_cache: OrderedDict[bytes, np.ndarray] = OrderedDict()


def _array_bytes(h, value) -> None:
    array = np.ascontiguousarray(np.asarray(value, dtype=np.float64))
    h.update(repr(array.shape).encode())
    h.update(array.tobytes())


def request_key(dataset: Dataset, rows, attribute: int | str, target, style: Optional[dict] = None) -> bytes:
    """sha256 of the data set's fingerprint and every argument of a render (shapes included)."""
    h = hashlib.sha256(dataset.fingerprint().encode())
    h.update(repr(attribute).encode())
    for value in (rows, target):
        _array_bytes(h, value)
    for name in sorted(style or {}):
        h.update(name.encode())
        _array_bytes(h, style[name])
    return h.digest()


def render(dataset: Dataset, rows, attribute: int | str, target, style: Optional[dict] = None) -> np.ndarray:
    """``render_counterfactuals(dataset, rows, attribute, target, style)``: uint8 (n, C, H, W), the
    caller's own copy."""
    key = request_key(dataset, rows, attribute, target, style)
    images = _cache.get(key)
    if images is not None:
        _cache.move_to_end(key)
        return images.copy()
    images = render_counterfactuals(dataset, rows, attribute, target, style)
    _cache[key] = images.copy()
    held = sum(a.nbytes for a in _cache.values())
    while held > CACHE_BYTES and len(_cache) > 1:
        held -= _cache.popitem(last=False)[1].nbytes
    return images


def clear() -> None:
    """Forget every rendered image."""
    _cache.clear()
