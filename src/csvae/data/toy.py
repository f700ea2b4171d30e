"""Toy 3-D data sets with binary labels and a clear structure within each class.

All are seeded and split into train/test by ``test_fraction``:
- ``swiss_roll``: sklearn's swiss roll; y = height (column 1, uniform on [0, 21]) > its median.
- ``s_curve``: sklearn's S-curve; y = depth (column 1, uniform on [0, 2]) > its median.
- ``moons3d``: two interleaved half-moons in (x0, x2) with y = which moon, lifted to 3-D with an
  independent uniform nuisance axis x1.
- ``circles3d``: two concentric circles in (x0, x2) with y = inner circle, plus a nuisance axis.
- ``swiss_roll_k2``: the swiss roll with k = 2 independent attributes: height > median and
  angle t > median.

``Dataset.factors`` holds each set's generating variables (for the disentanglement scores):
swiss roll and S-curve ``t`` (the curve's parameter) and ``height`` (column 1, whose median
split is the label); moons and circles ``angle`` (the position along the curve, read from the
noisy plane) and ``nuisance`` (the uniform axis, before noise).
"""

from __future__ import annotations

import numpy as np
from sklearn import datasets

from csvae.data.dataset import Dataset

TOY_SETS = ("swiss_roll", "s_curve", "moons3d", "circles3d", "swiss_roll_k2")


def _above_median(values: np.ndarray) -> np.ndarray:
    return (values > np.median(values)).astype(np.float32)


def _lift(points_2d: np.ndarray, rng: np.random.Generator, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) -> (N, 3): the plane in columns 0 and 2, a uniform nuisance axis in column 1; and
    the nuisance (N,) before noise."""
    nuisance = rng.uniform(-1.0, 1.0, size=len(points_2d))
    x = np.stack([points_2d[:, 0], nuisance, points_2d[:, 1]], axis=1)
    return x + noise * rng.standard_normal(x.shape), nuisance


def _moon_angle(plane: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Position along make_moons' half circles: outer (cos a, sin a), inner (1 - cos a, 0.5 - sin a)."""
    cos = np.where(label == 0, plane[:, 0], 1.0 - plane[:, 0])
    sin = np.where(label == 0, plane[:, 1], 0.5 - plane[:, 1])
    angle = np.arctan2(sin, cos)
    return np.where(angle < -np.pi / 2, angle + 2 * np.pi, angle)  # noise below a = pi stays near pi


def make_toy(name: str, n_samples: int = 4000, noise: float = 0.05, seed: int = 0,
             test_fraction: float = 0.25) -> Dataset:
    """One toy data set: x (N, 3) float32, y (N, k) float32 in {0, 1}, a seeded train/test split."""
    if name not in TOY_SETS:
        raise ValueError(f"unknown toy data set {name!r}; choose one of {list(TOY_SETS)}")
    rng = np.random.default_rng(seed)
    state = int(rng.integers(2**31 - 1))
    names = ["label"]
    if name in ("swiss_roll", "swiss_roll_k2", "s_curve"):
        make = datasets.make_s_curve if name == "s_curve" else datasets.make_swiss_roll
        x, t = make(n_samples, noise=noise, random_state=state)
        y = _above_median(x[:, 1])[:, None]
        factors = {"t": t, "height": x[:, 1].copy()}
        if name == "swiss_roll_k2":
            y = np.stack([y[:, 0], _above_median(t)], axis=1)
            names = ["height", "angle"]
    else:
        if name == "moons3d":
            plane, label = datasets.make_moons(n_samples, noise=noise, random_state=state)
            angle = _moon_angle(plane, label)
        else:
            plane, label = datasets.make_circles(n_samples, noise=noise, factor=0.5, random_state=state)
            angle = np.arctan2(plane[:, 1], plane[:, 0])
        (x, nuisance), y = _lift(plane, rng, noise), label[:, None]
        factors = {"angle": angle, "nuisance": nuisance}
    split = np.zeros(n_samples, dtype=np.int8)
    split[rng.permutation(n_samples)[: int(round(test_fraction * n_samples))]] = 2
    return Dataset(x=x.astype(np.float32), y=np.asarray(y, dtype=np.float32), split=split,
                   attribute_names=names, label_kind="binary",
                   factors={k: np.asarray(v, dtype=np.float32) for k, v in factors.items()})
