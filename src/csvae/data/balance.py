"""Balance of the label terms (``data.balance``) without throwing images away.

A rare label (CelebA: 7% wear glasses) lets every term that reads labels (CSVAE's subspace
heads and adversary, CondVAE-info's r(z), CCVAE's classifier, the VAE's class means) learn the
majority. The choices, for every model and reader:

- ``weight`` (default): every training example is used; the terms that read labels weigh
  example n by ``N / (C * n_c)``, where c is its label combination (the 2^k combinations of k
  binary attributes, or the class of a categorical label), n_c the training rows of c and C the
  number of combinations present. The weights average 1 over the training rows, and the weighted
  mean of a term equals, in expectation, its mean over a subset with C equal groups (what
  ``discard`` trains on). Reconstruction and KL(q(z|x) || p(z)) see every image unweighted.
- ``sample``: batches are drawn with replacement with probabilities proportional to the same
  weights (``csvae.loader``), so every term, the reconstruction included, sees the balanced
  distribution; an epoch is still N draws, and a rare image is seen several times an epoch.
- ``discard``: the training split is subsampled to the size of its smallest combination
  (image readers do it when they index, ``csvae.data.celeba``; other data in ``fit``).
- ``none``: the natural frequencies everywhere.

Rows whose label is unknown (all NaN, ``data.labelled_fraction``) have weight 1 and belong to no
combination.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from csvae.data.checks import DataError

MAX_ATTRIBUTES = 8
"""Balance groups rows by label combination (2^k of them), so it is limited to this many binary
attributes."""


def combinations(y: torch.Tensor, label_kind: str) -> torch.Tensor:
    """The label combination of each row of y (B, k) as an index (B,) int64: sum_i y_i 2^i for
    binary attributes, the class for a one-hot row; -1 for a row whose label is unknown (NaN)."""
    known = torch.isfinite(y).all(-1)
    filled = torch.nan_to_num(y.float(), nan=0.0)
    if label_kind == "categorical":
        index = filled.argmax(-1)
    else:
        powers = 2 ** torch.arange(y.shape[-1], device=y.device)
        index = ((filled > 0.5).long() * powers).sum(-1)
    return torch.where(known, index, torch.full_like(index, -1))


def combination_count(k: int, label_kind: str) -> int:
    """How many label combinations k columns can hold: 2^k binary attributes, or k classes."""
    return k if label_kind == "categorical" else 2 ** k


def check_combinations(k: int, label_kind: str) -> None:
    """Refuse more than ``MAX_ATTRIBUTES`` binary attributes: their 2^k combinations cannot be
    balanced."""
    if label_kind == "binary" and k > MAX_ATTRIBUTES:
        raise DataError(f"data.balance groups rows by label combination and works on at most {MAX_ATTRIBUTES} "
                        f"binary attributes, got {k}; set data.balance: none")


def weight_table(y: torch.Tensor, label_kind: str) -> torch.Tensor:
    """Per-combination weights (C,) float32 from the training labels y (N, k): N_known / (C_present
    * n_c) for each combination present, 0 for one absent. DataError for more than
    ``MAX_ATTRIBUTES`` binary attributes."""
    k = y.shape[1]
    check_combinations(k, label_kind)
    index = combinations(torch.as_tensor(y), label_kind)
    index = index[index >= 0]
    counts = torch.bincount(index, minlength=combination_count(k, label_kind)).float()
    present = counts > 0
    table = torch.zeros_like(counts)
    table[present] = len(index) / (int(present.sum()) * counts[present])
    return table


def example_weights(y: torch.Tensor, table: Optional[torch.Tensor], label_kind: str) -> torch.Tensor:
    """The balance weight of each row of y (B, k), (B,) float32: ``table`` at its combination, 1
    for an unknown row, and 1 for every row without a table (``data.balance`` none or sample)."""
    if table is None:
        return torch.ones(len(y), device=y.device)
    index = combinations(y, label_kind)
    return torch.where(index >= 0, table.to(y.device)[index.clamp_min(0)], torch.ones((), device=y.device))


def discard_rows(y: np.ndarray, seed: int, label_kind: str = "binary") -> np.ndarray:
    """Indices (ascending) of a balanced subset of the rows of y (N, k): every label combination
    present is subsampled, seeded, to the size of the smallest; unknown rows are kept."""
    check_combinations(y.shape[1], label_kind)
    index = combinations(torch.as_tensor(y), label_kind).numpy()
    groups = [np.flatnonzero(index == c) for c in np.unique(index[index >= 0])]
    smallest = min(len(g) for g in groups)
    rng = np.random.default_rng([seed, 2])
    keep = [np.flatnonzero(index < 0)] + [rng.choice(g, size=smallest, replace=False) for g in groups]
    return np.sort(np.concatenate(keep))
