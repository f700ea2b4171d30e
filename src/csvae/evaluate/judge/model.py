"""A trained judge: its prediction interface and what it knows of its training data."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from csvae.data.dataset import Dataset
from csvae.evaluate.judge.net import JudgeNet, JudgeSettings, as_unit_float


def dataset_name(dataset: Dataset, name: Optional[str] = None) -> str:
    """The name a judge records: ``name``, else ``dataset.info`` "name", "reader" or "generator"."""
    found = name or next((dataset.info.get(key) for key in ("name", "reader", "generator")
                          if dataset.info.get(key)), None)
    if not found:
        raise ValueError("the data set has no name (dataset.info has no 'name', 'reader' or 'generator'); "
                         "pass name=...")
    return str(found)


def factor_matrix(dataset: Dataset) -> tuple[list[str], Optional[np.ndarray]]:
    """The data set's ground-truth factors as (names, float32 (N, F) with NaN where undefined);
    ([], None) for data without factors."""
    if not dataset.factors:
        return [], None
    names = list(dataset.factors)
    return names, np.stack([np.asarray(dataset.factors[n], dtype=np.float32) for n in names], 1)


class Judge:
    """A trained attribute classifier with its identity and its own test accuracy.

    test_accuracy: name -> accuracy on the test split (binary: accuracy of that attribute;
    categorical: accuracy on the test images of that class, NaN when there are none).
    test_accuracy_overall: mean over attributes (binary) or plain accuracy (categorical).
    test_balanced_accuracy: name -> balanced accuracy on the test split (binary: the mean of the
    true-positive and true-negative rates, chance 0.5 whatever the class balance; NaN when the
    test split has one class only). Categorical labels: the per-class accuracies are already
    recalls, so this equals test_accuracy.
    factor_names: the ground-truth factors the judge reads (empty for data without factors);
    test_factor_r2: name -> R^2 of its reading on the real test images where the factor is defined.
    """

    def __init__(self, net: JudgeNet, *, dataset_name: str, image_shape: Sequence[int],
                 attribute_names: Sequence[str], label_kind: str, data_hash: str, settings: JudgeSettings,
                 test_accuracy: Optional[dict[str, float]] = None, test_accuracy_overall: float = float("nan"),
                 test_balanced_accuracy: Optional[dict[str, float]] = None,
                 factor_names: Sequence[str] = (), test_factor_r2: Optional[dict[str, float]] = None):
        if label_kind not in ("binary", "categorical"):
            raise ValueError(f"label_kind must be 'binary' or 'categorical', got {label_kind!r}")
        self.net = net.eval()
        self.dataset_name = dataset_name
        self.image_shape = tuple(int(s) for s in image_shape)
        self.attribute_names = list(attribute_names)
        self.label_kind = label_kind
        self.data_hash = data_hash
        self.settings = settings
        self.test_accuracy = dict(test_accuracy or {})
        self.test_accuracy_overall = float(test_accuracy_overall)
        self.test_balanced_accuracy = dict(test_balanced_accuracy or {})
        self.factor_names = list(factor_names)
        self.test_factor_r2 = dict(test_factor_r2 or {})

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def _map(self, fn, x, batch_size: int) -> np.ndarray:
        x = as_unit_float(x, self.image_shape)
        self.net.eval()
        out = [fn(x[s:s + batch_size].to(self.device)).float().cpu() for s in range(0, max(len(x), 1), batch_size)]
        return torch.cat(out).numpy()

    def logits(self, x, batch_size: int = 512) -> np.ndarray:
        """(N, k) logits."""
        return self._map(self.net, x, batch_size)

    def predict(self, x, batch_size: int = 512) -> np.ndarray:
        """(N, k) probabilities: per-attribute sigmoids (binary) or a softmax over classes."""
        z = torch.from_numpy(self.logits(x, batch_size))
        return (z.softmax(-1) if self.label_kind == "categorical" else z.sigmoid()).numpy()

    def classify(self, x, batch_size: int = 512) -> np.ndarray:
        """(N, k) float 0/1 labels: each sigmoid > 0.5 (binary) or a one-hot argmax (categorical)."""
        return labels_from_logits(self.logits(x, batch_size), self.label_kind)

    def read_factors(self, x, batch_size: int = 512) -> np.ndarray:
        """(N, F) the ground-truth factors ``factor_names`` read from images (what the judge
        learned on real images; meaningful only where a factor is defined)."""
        if not self.factor_names:
            raise ValueError(f"this judge was trained on {self.dataset_name!r} without ground-truth factors; "
                             f"it cannot read styles")
        return self._map(self.net.read_factors, x, batch_size)

    def features(self, x, batch_size: int = 512) -> np.ndarray:
        """(N, dense) penultimate features (after the encoder's ReLU)."""
        return self._map(self.net.encoder, x, batch_size)

    def check_compatible(self, dataset_name: str, image_shape: Sequence[int],
                         attribute_names: Sequence[str]) -> None:
        """Raise ValueError unless the images come from the data set, shape and attributes the
        judge was trained on."""
        problems = []
        if dataset_name != self.dataset_name:
            problems.append(f"data set {dataset_name!r} (judge: {self.dataset_name!r})")
        if tuple(image_shape) != self.image_shape:
            problems.append(f"image shape {tuple(image_shape)} (judge: {self.image_shape})")
        if list(attribute_names) != self.attribute_names:
            problems.append(f"attributes {list(attribute_names)} (judge: {self.attribute_names})")
        if problems:
            raise ValueError("this judge cannot score these images: " + "; ".join(problems))


def labels_from_logits(logits: np.ndarray, label_kind: str) -> np.ndarray:
    """(N, k) logits -> (N, k) float 0/1 labels."""
    if label_kind == "categorical":
        return np.eye(logits.shape[1], dtype=np.float32)[logits.argmax(1)]
    return (logits > 0).astype(np.float32)
