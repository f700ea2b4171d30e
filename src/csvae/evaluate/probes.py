"""Probes: how well a fresh classifier predicts the labels from a latent code.

A probe is fitted on training codes and scored on test codes, per attribute (binary labels) or
once over the classes (categorical labels). The linear probe is a logistic regression; the
nonlinear one is gradient boosting, which also finds label information that is folded into z in
ways a linear probe cannot see (a leaking z can be linearly clean).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PROBES = ("linear", "nonlinear")
MAX_TRAIN = 5000


def label_columns(y: np.ndarray, label_kind: str) -> list[np.ndarray]:
    """The targets a probe predicts: one 0/1 vector per attribute, or one class-index vector."""
    if label_kind == "categorical":
        return [y.argmax(1)]
    return [y[:, i] for i in range(y.shape[1])]


def make_probe(kind: str, seed: int = 0):
    if kind == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if kind == "nonlinear":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    raise ValueError(f"probe kind must be one of {list(PROBES)}, got {kind!r}")


def probe_scores(kind: str, train_codes: np.ndarray, train_target: np.ndarray, test_codes: np.ndarray,
                 test_target: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """(accuracy, balanced accuracy) on the test codes of a probe fitted on (train_codes,
    train_target). Balanced accuracy (the mean recall over classes; chance 1 / classes) stays
    meaningful when the test split is imbalanced. A single-class training target gives chance."""
    if len(np.unique(train_target)) < 2:
        return chance_rate(test_target), 1.0 / max(2, len(np.unique(test_target)))
    if len(train_codes) > MAX_TRAIN:
        keep = np.random.default_rng(seed).choice(len(train_codes), MAX_TRAIN, replace=False)
        train_codes, train_target = train_codes[keep], train_target[keep]
    predicted = make_probe(kind, seed).fit(train_codes, train_target).predict(test_codes)
    return float(accuracy_score(test_target, predicted)), float(balanced_accuracy_score(test_target, predicted))


def probe_accuracy(kind: str, train_codes: np.ndarray, train_target: np.ndarray, test_codes: np.ndarray,
                   test_target: np.ndarray, seed: int = 0) -> float:
    """Test accuracy of a probe fitted on (train_codes, train_target) (see ``probe_scores``)."""
    return probe_scores(kind, train_codes, train_target, test_codes, test_target, seed)[0]


def chance_rate(target: np.ndarray) -> float:
    """The majority rate: the accuracy of always predicting the most frequent value."""
    _, counts = np.unique(target, return_counts=True)
    return float(counts.max() / counts.sum())
