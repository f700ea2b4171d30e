"""Metrics of a trained model on a data set: reconstruction, ELBO and label leakage.

Keys (flat values are means over attributes; ``per_attribute`` holds each one):
recon_mse, recon_r2, elbo (test set; for images also bits_per_dim, comparable across likelihoods);
label_chance; z_label_accuracy_linear,
z_label_accuracy_nonlinear (and their balanced accuracies, z_label_balanced_accuracy_*, whose
chance is 0.5 for a binary label whatever the test split's balance); and for CSVAE w_label_accuracy
(a linear probe on W_i for attribute i, or on all of w for a categorical label).
"""

from __future__ import annotations

import numpy as np
import torch

from csvae.data.dataset import Dataset
from csvae.evaluate.probes import chance_rate, label_columns, probe_accuracy, probe_scores
from csvae.models.base import LatentModel


def reconstruction_metrics(model: LatentModel, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """recon_mse (mean squared error per element, data units; images in [0, 1]) and recon_r2
    (1 - SSE / total sum of squares about the per-dimension mean)."""
    return reconstruction_scores(model.reconstruct(x, y), x)


def reconstruction_scores(recon: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """``reconstruction_metrics`` of the reconstructions ``recon`` (data units) of ``x``."""
    recon = np.asarray(recon).reshape(len(x), -1).astype(np.float64)
    target = x.reshape(len(x), -1).astype(np.float64)
    if x.dtype == np.uint8:
        target = target / 255.0
    sse = ((recon - target) ** 2).sum()
    sst = ((target - target.mean(0)) ** 2).sum()
    return {"recon_mse": float(sse / target.size), "recon_r2": float(1.0 - sse / max(sst, 1e-12))}


def mean_elbo(model: LatentModel, x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    torch.manual_seed(seed)
    return float(model.map_batches(model.elbo, x, y).mean())


def mean_bits_per_dim(model: LatentModel, x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """-ELBO in bits per dimension of 8-bit images, with a normalised density for every likelihood."""
    torch.manual_seed(seed)
    return float(model.map_batches(model.bits_per_dim, x, y).mean())


def code_parts(model: LatentModel, latents: dict[str, np.ndarray], label_kind: str) -> list[np.ndarray]:
    """The w code that should predict each probe target: W_i for attribute i, all of w for a
    categorical label."""
    w = latents["w"]
    if label_kind == "categorical":
        return [w]
    d = model.config.w_dim
    return [w[:, i * d:(i + 1) * d] for i in range(model.y_dim)]


def evaluate_model(model: LatentModel, data: Dataset, seed: int = 0) -> dict:
    """All metrics of ``model`` on ``data`` (probes fitted on train, scored on test)."""
    x_train, y_train = data.part("train")
    x_test, y_test = data.part("test")
    kind = data.label_kind
    lat_train, lat_test = model.latents(x_train, y_train), model.latents(x_test, y_test)
    names = [data.attribute_names[0] if len(data.attribute_names) == 1 else "class"] \
        if kind == "categorical" else data.attribute_names
    targets_train, targets_test = label_columns(y_train, kind), label_columns(y_test, kind)
    per_attribute = {}
    w_train = code_parts(model, lat_train, kind) if "w" in lat_train else None
    w_test = code_parts(model, lat_test, kind) if "w" in lat_test else None
    for i, name in enumerate(names):
        row = {"label_chance": chance_rate(targets_test[i])}
        for probe in ("linear", "nonlinear"):
            row[f"z_label_accuracy_{probe}"], row[f"z_label_balanced_accuracy_{probe}"] = probe_scores(
                probe, lat_train["z"], targets_train[i], lat_test["z"], targets_test[i], seed)
        if w_train is not None:
            row["w_label_accuracy"] = probe_accuracy("linear", w_train[i], targets_train[i], w_test[i],
                                                     targets_test[i], seed)
        per_attribute[name] = row
    metrics = {**reconstruction_metrics(model, x_test, y_test), "elbo": mean_elbo(model, x_test, y_test, seed)}
    if x_test.ndim == 4:
        metrics["bits_per_dim"] = mean_bits_per_dim(model, x_test, y_test, seed)
    for key in per_attribute[names[0]]:
        metrics[key] = float(np.mean([row[key] for row in per_attribute.values()]))
    metrics["per_attribute"] = per_attribute
    return metrics
