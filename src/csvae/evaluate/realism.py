"""Realism of generated images as distances between feature distributions.

Both distances compare features (N, d) of real images with features (M, d) of generated ones
(reconstructions or manipulations). csvae computes them in the feature space of its own
attribute judge (``csvae.evaluate.attribute_judge``): they are **not** Inception FID or KID,
whose numbers come from an ImageNet network and are not comparable with these.

- ``frechet_distance``: the Fréchet (2-Wasserstein) distance between Gaussians fitted to the two
  sets, |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Heusel et al. 2017). Biased upwards
  for small sets (compare sets of equal size only).
- ``kernel_distance``: the unbiased estimate of the squared MMD with the polynomial kernel
  k(a, b) = (a.b / d + 1)^3 (Bińkowski et al. 2018, "KID"), averaged over ``subsets`` random
  subsets of ``subset_size`` rows of each set; unbiased, so near 0 (and possibly below) for two
  samples of one distribution whatever their size.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import linalg


def _check_features(a: np.ndarray, b: np.ndarray, least: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (N, d) and (M, d) with one d, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < least:
        raise ValueError(f"need at least {least} feature rows in each set, got {len(a)} and {len(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features hold NaN or inf values")
    return a, b


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to features a (N, d) and b (M, d), N, M >= 2."""
    a, b = _check_features(a, b, 2)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # a singular product: regularise both, as FID code does
        eps = 1e-6 * np.eye(len(cov_a))
        root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = np.real(root)
    return float(max(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root), 0.0))


def _mmd2_unbiased(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / d + 1.0) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    n, m = len(a), len(b)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within_a + within_b - 2.0 * k_ab.mean())


def kernel_distance(a: np.ndarray, b: np.ndarray, subsets: int = 20, subset_size: Optional[int] = 1000,
                    seed: int = 0) -> float:
    """KID-style unbiased squared MMD (polynomial kernel) between features a (N, d) and b (M, d),
    the mean over ``subsets`` seeded subsets of min(subset_size, N, M) rows of each (N, M >= 2)."""
    a, b = _check_features(a, b, 2)
    size = min(len(a), len(b), subset_size or max(len(a), len(b)))
    if size == len(a) == len(b):
        return _mmd2_unbiased(a, b)
    rng = np.random.default_rng(seed)
    return float(np.mean([_mmd2_unbiased(a[rng.choice(len(a), size, replace=False)],
                                         b[rng.choice(len(b), size, replace=False)]) for _ in range(subsets)]))
