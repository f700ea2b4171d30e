"""Disentanglement scores of codes against known factors, as disentanglement_lib defines them.

Plain functions on arrays: codes (N, D) and factors (N, F), a factor NaN where it is undefined
(a style factor of an absent attribute); each factor is scored on the rows where it is defined.
``discrete[j]`` says whether factor j is a class (a label) or a continuous number.

- DCI (Eastwood & Williams 2018; the lib's ``dci.py``): one gradient-boosted tree model per factor
  predicts it from the whole code (sklearn's GradientBoostingClassifier for a discrete factor as
  in the lib; GradientBoostingRegressor for a continuous one, as in the DCI paper's regression
  setting); R (D, F) holds |feature importances|, each column summing to 1 (D needs F >= 2,
  C needs D >= 2: an entropy with log base 1 is undefined).
  disentanglement = sum_d rho_d (1 - H_F(R_d.)), rho_d = R_d. / sum R (H_F: entropy with log base F);
  completeness = sum_f rho_f (1 - H_D(R_.f)); informativeness = mean test accuracy over the
  discrete factors (the lib's) and ``informativeness_r2`` the mean test R^2 over continuous ones.
- MIG (Chen et al. 2018; the lib's ``mig.py``): codes (and continuous factors) discretised into
  20 equal-width bins; per factor the gap between the two largest I(code_d; factor) over H(factor);
  averaged over factors. Needs D >= 2.
- SAP (Kumar et al. 2018; the lib's ``sap_score.py``): score S (D, F) is the test accuracy of a
  one-dimensional LinearSVC(C=0.01, balanced) for a discrete factor, the squared correlation for a
  continuous one; per factor the gap between the two largest scores; averaged. Needs D >= 2.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.metrics import mutual_info_score, r2_score
from sklearn.svm import LinearSVC

BINS = 20


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy with log base ``base`` (>= 2) of each row of p (rows normalised to sum 1), (rows,)."""
    p = p + 1e-11
    p = p / p.sum(1, keepdims=True)
    return -(p * np.log(p)).sum(1) / np.log(base)


def _weighted_score(r: np.ndarray) -> Optional[float]:
    """sum over rows of (1 - H_cols(row)) * the row's share of the total; None for one column
    (an entropy with log base 1 is undefined, as in the lib) or no row."""
    if r.shape[1] < 2 or r.shape[0] == 0:
        return None
    total = r.sum()
    if total == 0:
        return 0.0
    return float(((1.0 - _entropy_rows(r, r.shape[1])) * r.sum(1) / total).sum())


def dci_scores(importance: np.ndarray) -> tuple[Optional[float], Optional[float]]:
    """(disentanglement, completeness) of an importance matrix R (D codes, F factors), as the lib:
    each weighted by the share of the total importance of the code (row) or factor (column).
    Disentanglement needs F >= 2 and completeness D >= 2 (None otherwise)."""
    r = np.abs(np.asarray(importance, dtype=np.float64))
    return _weighted_score(r), _weighted_score(r.T)


def _defined(codes: np.ndarray, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = ~np.isnan(factor)
    return codes[keep], factor[keep]


def dci(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray,
        discrete: Sequence[bool], seed: int = 0) -> dict:
    """DCI of codes (N, D) against factors (N, F): {"importance": (D, F) list, "disentanglement",
    "completeness", "informativeness" (mean test accuracy over discrete factors, None without any),
    "informativeness_r2" (mean test R^2 over continuous factors, None without any)}. A factor with
    one value on its defined training rows gets no column."""
    columns, accuracy, r2 = [], [], []
    for j, is_discrete in enumerate(discrete):
        x_tr, f_tr = _defined(train_codes, train_factors[:, j])
        x_te, f_te = _defined(test_codes, test_factors[:, j])
        if len(np.unique(f_tr)) < 2 or len(f_te) == 0:
            continue
        model = (GradientBoostingClassifier if is_discrete else GradientBoostingRegressor)(random_state=seed)
        model.fit(x_tr, f_tr)
        columns.append(np.abs(model.feature_importances_))
        predicted = model.predict(x_te)
        if is_discrete:
            accuracy.append(float(np.mean(predicted == f_te)))
        else:
            r2.append(float(r2_score(f_te, predicted)))
    importance = np.stack(columns, 1) if columns else np.zeros((train_codes.shape[1], 0))
    d, c = dci_scores(importance)
    return {"importance": importance.tolist(), "disentanglement": d, "completeness": c,
            "informativeness": float(np.mean(accuracy)) if accuracy else None,
            "informativeness_r2": float(np.mean(r2)) if r2 else None}


def histogram_discretize(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each column of (N, D) into ``bins`` equal-width bins over its range (the lib's
    ``_histogram_discretize``), integer (N, D)."""
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = np.zeros(values.shape, dtype=np.int64)
    for d in range(values.shape[1]):
        edges = np.histogram(values[:, d], bins)[1]
        out[:, d] = np.digitize(values[:, d], edges[:-1])
    return out


def _as_classes(factor: np.ndarray, is_discrete: bool) -> np.ndarray:
    return np.unique(factor, return_inverse=True)[1] if is_discrete else histogram_discretize(factor)[:, 0]


def mig(codes: np.ndarray, factors: np.ndarray, discrete: Sequence[bool], bins: int = BINS) -> Optional[float]:
    """Mutual information gap of codes (N, D) for factors (N, F); None for D < 2 or no factor."""
    if codes.shape[1] < 2:
        return None
    gaps = []
    for j, is_discrete in enumerate(discrete):
        x, f = _defined(codes, factors[:, j])
        classes = _as_classes(f, is_discrete)
        entropy = mutual_info_score(classes, classes)
        if entropy <= 0:
            continue
        binned = histogram_discretize(x, bins)
        mi = np.sort([mutual_info_score(binned[:, d], classes) for d in range(x.shape[1])])[::-1]
        gaps.append((mi[0] - mi[1]) / entropy)
    return float(np.mean(gaps)) if gaps else None


def sap_matrix(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray,
               test_factors: np.ndarray, discrete: Sequence[bool]) -> np.ndarray:
    """SAP's score matrix (D, F); NaN for a factor with one value."""
    scores = np.full((train_codes.shape[1], len(discrete)), np.nan)
    for j, is_discrete in enumerate(discrete):
        x_tr, f_tr = _defined(train_codes, train_factors[:, j])
        x_te, f_te = _defined(test_codes, test_factors[:, j])
        if len(np.unique(f_tr)) < 2 or len(f_te) == 0:
            continue
        for d in range(x_tr.shape[1]):
            if is_discrete:
                svm = LinearSVC(C=0.01, class_weight="balanced").fit(x_tr[:, d:d + 1], f_tr)
                scores[d, j] = np.mean(svm.predict(x_te[:, d:d + 1]) == f_te)
            else:
                cov = np.cov(x_tr[:, d], f_tr, ddof=1)
                scores[d, j] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]) if cov[0, 0] > 1e-12 else 0.0
    return scores


def sap(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray,
        discrete: Sequence[bool]) -> Optional[float]:
    """Separated attribute predictability of codes (N, D); None for D < 2 or no factor."""
    if train_codes.shape[1] < 2:
        return None
    scores = sap_matrix(train_codes, train_factors, test_codes, test_factors, discrete)
    gaps = [np.sort(col)[::-1][:2] for col in scores.T if not np.isnan(col).any()]
    return float(np.mean([a - b for a, b in gaps])) if gaps else None
