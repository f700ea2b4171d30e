"""What the models do with labels, outside any one model: the known rows of a batch, the checks of
labels a model must read, and the class means of codes and the shift between them (the
manipulation rule of CondVAE, CondVAE-info and CSVAE)."""

from __future__ import annotations

from typing import Optional

import torch


def labelled_rows(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """For terms that need labels, on a batch y (B, k) whose unknown rows are all NaN:
    (y with NaN read as 0, the indices of the known rows, weight 1.0). A batch with fewer than 2
    known rows gives (y as 0, every row, weight 0.0): the terms stay in the graph and give no
    gradient, and batch norm never sees a batch of one. A batch of one row is taken as it is."""
    known = torch.isfinite(y).all(1)
    filled = torch.nan_to_num(y, nan=0.0)
    if int(known.sum()) >= min(2, len(y)):
        return filled, known.nonzero().squeeze(1), 1.0
    return filled, torch.arange(len(y), device=y.device), 0.0


def label_shift(y: torch.Tensor, target_y: torch.Tensor, means_1: torch.Tensor, means_0: torch.Tensor,
                label_kind: str) -> torch.Tensor:
    """The latent shift that moves the class means of y to those of target_y, (B, d).

    means_1[i] / means_0[i] (k, d) are the mean codes of examples with y_i = 1 / y_i = 0.
    binary: sum over changed attributes of (m_i[target] - m_i[source]);
    categorical: m[target class] - m[source class] (the paper's m_j - m_i)."""
    delta = target_y - y
    direction = means_1 if label_kind == "categorical" else means_1 - means_0
    return delta @ direction


def class_means(codes: torch.Tensor, y: torch.Tensor,
                weights: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean code of the examples with y_i = 1 and with y_i = 0, each (k, d), weighted by
    ``weights`` (N,) when given (the balance weights: each label combination then counts alike).

    codes: (N, d), shared by all label columns, or (N, k, d), one code per column (CSVAE's w_i).
    A column without examples of one value gets a mean of zeros."""
    ones = y.float().to(codes.device)
    zeros = 1.0 - ones
    if weights is not None:
        ones, zeros = ones * weights.to(codes.device)[:, None], zeros * weights.to(codes.device)[:, None]
    if codes.dim() == 2:
        codes = codes.unsqueeze(1).expand(-1, ones.shape[1], -1)
    mean_1 = torch.einsum("nk,nkd->kd", ones, codes) / ones.sum(0).clamp_min(1e-12).unsqueeze(1)
    mean_0 = torch.einsum("nk,nkd->kd", zeros, codes) / zeros.sum(0).clamp_min(1e-12).unsqueeze(1)
    return mean_1, mean_0


def check_target(y: torch.Tensor, target_y: torch.Tensor) -> None:
    """A manipulation needs the source labels y and the targets (B, k) of one shape, all known."""
    if target_y.shape != y.shape:
        raise ValueError(f"target_y must have the shape of y {tuple(y.shape)}, got {tuple(target_y.shape)}")
    check_known(y, "y")
    check_known(target_y, "target_y")


def check_known(y, name: str = "y") -> None:
    """Refuse labels with unknown (NaN or infinite) entries where a model must read them: they are
    never read as 0. Training is the one place unknown labels are allowed (``data.labelled_fraction``)."""
    if y is None:
        raise ValueError(f"{name} is None; this model reads the labels here: give {name} (N, k), or infer them "
                         f"(csvae.apply.infer_labels)")
    y = torch.as_tensor(y)
    if y.is_floating_point() and not torch.isfinite(y).all():
        rows = torch.nonzero(~torch.isfinite(y).all(-1)).flatten()[:5].tolist()
        raise ValueError(f"{name} has unknown (NaN or infinite) labels (rows {rows}); this model reads the labels "
                         f"here: give known labels, or infer them (csvae.apply.infer_labels)")

