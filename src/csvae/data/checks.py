"""Checks on training arrays, with messages that name the array and the first bad row."""

from __future__ import annotations

import numpy as np
import torch


class DataError(ValueError):
    """Input data that cannot be used as given; the message names the file, field or row."""


def as_numpy(values, name: str) -> np.ndarray:
    if torch.is_tensor(values):
        return values.detach().cpu().numpy()
    try:
        return np.asarray(values)
    except Exception as err:
        raise DataError(f"{name} must be an array or tensor, got {type(values).__name__}") from err


def check_xy(x, y, label_kind: str = "binary", allow_unknown: bool = False,
             who: str = "this step") -> tuple[np.ndarray, np.ndarray]:
    """Validate training inputs and return them as numpy arrays.

    x: (N, ...) float without NaN/inf, or uint8 images; y: (N, k) in {0, 1} (a 1-D y is read as
    k = 1), and for a categorical label every row sums to 1. A row of y that is all NaN is an
    example whose label is unknown: kept (as NaN) with ``allow_unknown``, else refused naming
    ``who`` (the model or step that cannot use it). A row partly NaN, or a y without any known
    row, is refused."""
    x, y = as_numpy(x, "x"), as_numpy(y, "y")
    if x.ndim < 2:
        raise DataError(f"x must have shape (N, n) or (N, C, H, W), got shape {x.shape}")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise DataError(f"y must have shape (N, k), got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} rows but y has {len(y)}; they must match")
    if len(x) == 0:
        raise DataError("x and y are empty")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise DataError(f"x must hold real numbers, got dtype {x.dtype}")
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            raise DataError(f"x has NaN or inf values, first in row {row}")
    if y.dtype == bool:
        y = y.astype(np.float32)
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise DataError(f"y must be numeric 0/1, got dtype {y.dtype}")
    y = y.astype(np.float32) if not np.issubdtype(y.dtype, np.floating) else y
    unknown = np.isnan(y)
    if unknown.any():
        rows = unknown.any(1)
        partial = rows & ~unknown.all(1)
        if partial.any():
            row = int(np.flatnonzero(partial)[0])
            raise DataError(f"y row {row} is partly unknown (NaN in some columns only); a row's label is either "
                            f"known in every column or all NaN")
        if not allow_unknown:
            raise DataError(f"y has unknown labels (NaN), first in row {int(np.flatnonzero(rows)[0])}, and {who} "
                            f"cannot use them")
        if rows.all():
            raise DataError("every label of y is unknown (NaN): there is nothing to learn the labels from")
        y = np.where(unknown, 0.0, y).astype(np.float32)
    binary = (y == 0) | (y == 1)
    if not binary.all():
        row, col = (int(i) for i in np.argwhere(~binary)[0])
        raise DataError(f"y must hold only 0 and 1; row {row}, column {col} is {y[row, col]!r}")
    if label_kind == "categorical":
        sums = np.where(unknown.any(1), 1.0, y.sum(axis=1))
        if not (sums == 1).all():
            row = int(np.flatnonzero(sums != 1)[0])
            raise DataError(f"a categorical y must be one-hot: row {row} sums to {sums[row]:g}, not 1")
    y = y.astype(np.float32)
    if unknown.any():
        y[unknown] = np.nan
    return x, y


def one_value(where: str, what: str, value: int, hint: str) -> DataError:
    """The refusal of an attribute with one value only (no model can learn it, and a judge would
    score it perfect), as the readers and ``fit`` give it."""
    return DataError(f"{where}: {what} has the value {value}; an attribute needs rows of both values to be learnt "
                     f"({hint})")


def check_learnable(y: np.ndarray, label_kind: str) -> None:
    """Refuse labels y (N, k; unknown rows NaN) with one class present among the known rows: a
    binary column of one value, or a categorical label of one class."""
    known = y[~np.isnan(y).any(1)]
    if label_kind == "categorical":
        present = np.flatnonzero(known.any(0))
        if len(present) < 2:
            raise DataError(f"y: every known row is class {int(present[0])}; a label needs rows of at least two "
                            f"classes to be learnt (give rows of other classes)")
        return
    for j in range(y.shape[1]):
        values = np.unique(known[:, j])
        if len(values) < 2:
            raise one_value(f"y, column {j}", "every known row", int(values[0]),
                            "give rows of both values, or leave the column out")
