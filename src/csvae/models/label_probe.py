"""A linear read-out of the labels from an encoder's features, fitted once training is done.

CSVAE's encoder q(w|x, y) needs y, so the paper gives no way to label a new photo. The ELBO rule
of ``csvae.apply.labels`` (the label under which the model explains the image best) reads real
photos poorly (docs/results.md, "CelebA at 64 px"). ``LabelProbe`` is our alternative: a logistic
regression from the W encoder's features h(x) (B, d), computed before y enters, to each label,
fitted on the training rows with their balance weights (``data.balance``) at the end of ``fit``.
Binary labels: one logistic regression per attribute; categorical: a multinomial one.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn


class LabelProbe(nn.Module):
    """weight (k, d) and bias (k,) of the read-out; ``fitted`` is 0 until ``fit`` ran. A checkpoint
    written before the probe existed loads with the probe unfitted (its keys are absent)."""

    def __init__(self, features: int, y_dim: int, label_kind: str):
        super().__init__()
        self.label_kind = label_kind
        self.register_buffer("weight", torch.zeros(y_dim, features))
        self.register_buffer("bias", torch.zeros(y_dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit(self, features: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, seed: int = 0) -> None:
        """Fit on features (N, d) and known labels y (N, k) with sample weights (N,)."""
        h, y, w = features.double().cpu().numpy(), y.cpu().numpy(), weights.double().cpu().numpy()
        if self.label_kind == "categorical":
            model = LogisticRegression(max_iter=1000, random_state=seed).fit(h, y.argmax(1), sample_weight=w)
            coef, intercept = _class_rows(model, y.shape[1])
        else:
            fits = [LogisticRegression(max_iter=1000, random_state=seed).fit(h, y[:, i], sample_weight=w)
                    for i in range(y.shape[1])]
            coef = np.concatenate([f.coef_ for f in fits])
            intercept = np.concatenate([f.intercept_ for f in fits])
        self.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        self.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))
        self.fitted.fill_(True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """p(y_i = 1) per attribute (binary) or class probabilities (categorical), (B, k)."""
        logits = features.float() @ self.weight.T + self.bias
        return logits.softmax(-1) if self.label_kind == "categorical" else logits.sigmoid()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        keys = [prefix + name for name in ("weight", "bias", "fitted")]
        if not any(key in state_dict for key in keys):  # a model saved before the probe: left unfitted
            return
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def _class_rows(model: LogisticRegression, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(k, d) coefficients and (k,) intercepts of a fitted multinomial regression, one row per
    class: a two-class fit's single row split as (-c/2, c/2) (the same softmax), a class absent
    from training given a very low intercept."""
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:
        coef, intercept = np.stack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    rows, bias = np.zeros((k, coef.shape[1])), np.full(k, -1e4)
    rows[model.classes_], bias[model.classes_] = coef, intercept
    return rows, bias
