"""Scores of a judge on real images: accuracy per attribute, balanced accuracy, R² of factors."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from csvae.evaluate.judge.model import Judge


def r2_by_column(truth: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """R^2 of predicted against truth, (N, F) each, per column over the rows where the truth is
    finite (NaN for a column with fewer than 2 such rows or a constant truth)."""
    out = {}
    for j, name in enumerate(names):
        rows = np.isfinite(truth[:, j])
        t, p = truth[rows, j].astype(np.float64), predicted[rows, j].astype(np.float64)
        total = ((t - t.mean()) ** 2).sum() if len(t) >= 2 else 0.0
        out[name] = float(1.0 - ((t - p) ** 2).sum() / total) if total > 0 else float("nan")
    return out


def accuracy_by_attribute(judge: Judge, x: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], float]:
    """Per-attribute (or per-class) accuracy and the overall accuracy of ``judge`` on (x, y)."""
    pred = judge.classify(x)
    if judge.label_kind == "categorical":
        truth, guess = y.argmax(1), pred.argmax(1)
        per = {name: float((guess[truth == i] == i).mean()) if (truth == i).any() else float("nan")
               for i, name in enumerate(judge.attribute_names)}
        return per, float((guess == truth).mean())
    per = {name: float((pred[:, i] == y[:, i]).mean()) for i, name in enumerate(judge.attribute_names)}
    return per, float(np.mean(list(per.values())))


def balanced_accuracy_by_attribute(judge: Judge, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Per-attribute balanced accuracy of ``judge`` on (x, y): the mean of the recalls of 1 and 0
    (binary; NaN for an attribute with one class in y), or each class's recall (categorical)."""
    if judge.label_kind == "categorical":
        return accuracy_by_attribute(judge, x, y)[0]
    pred = judge.classify(x)
    out = {}
    for i, name in enumerate(judge.attribute_names):
        positive = y[:, i] == 1
        if positive.all() or not positive.any():
            out[name] = float("nan")
        else:
            out[name] = float(((pred[positive, i] == 1).mean() + (pred[~positive, i] == 0).mean()) / 2)
    return out
