"""The judge: an attribute classifier trained on REAL images, used to score generated images.

A small conv net (``csvae.nets.ConvEncoder`` + a linear layer) trained on the train split of one
data set and scored on its test split. Binary attributes get one sigmoid each; a categorical label
one softmax. Images go in as uint8 (N, C, H, W) or float in [0, 1] and are scaled on the fly.

A judge knows what it was trained on (data-set name, image shape, attribute names, label kind and
a hash of the data and the settings) and refuses images of another data set
(``check_compatible``). Files hold a plain dict of tensors and primitives, written atomically and
read with ``weights_only=True``.

On data with ground-truth factors (``Dataset.factors``, synthetic faces) the judge also learns to
read every factor from a real image (a linear head on the same features, squared error on the
images where the factor is defined): ``read_factors`` then measures how much of a style survives
in a reconstruction or a transfer, and ``test_factor_r2`` says how well it reads real images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from csvae.config import atomic_write_bytes
from csvae.data.dataset import Dataset
from csvae.nets.conv import ConvEncoder

FORMAT, VERSION = "csvae-judge", 1
FLOAT_LIMIT = 1.5  # float images above this look like 0..255 values


@dataclass(frozen=True)
class JudgeSettings:
    """How a judge is trained. Every field is part of the judge's hash."""

    epochs: int = 3
    min_steps: int = 300
    """At least this many optimiser steps whatever the data size (small sets get more epochs)."""
    batch_size: int = 128
    lr: float = 1e-3
    channels: tuple[int, ...] = (16, 32, 64)
    dense: int = 64
    seed: int = 0
    factor_weight: float = 10.0
    """Weight of the factor read-out's mean squared error (factors in [0, 1]) beside the
    classification loss; used only on data with ground-truth factors."""

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        for name in ("epochs", "min_steps", "batch_size", "dense"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"judge setting {name} must be a positive integer, got {value!r}")
        for name in ("lr", "factor_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"judge setting {name} must be a positive number, got {value!r}")


def judge_settings(**options) -> JudgeSettings:
    """JudgeSettings from keyword options, naming any unknown option."""
    known = {f.name for f in dataclasses.fields(JudgeSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown judge setting(s) {unknown}; valid settings: {sorted(known)}")
    return JudgeSettings(**options)


class JudgeNet(nn.Module):
    """x float (B, C, H, W) in [0, 1] -> logits (B, k); ``encoder`` gives the features (B, dense)
    and, with n_factors > 0, ``factor_head`` reads n_factors continuous factors from them."""

    def __init__(self, image_shape: Sequence[int], k: int, channels: Sequence[int], dense: int,
                 n_factors: int = 0):
        super().__init__()
        self.encoder = ConvEncoder(tuple(image_shape), list(channels), dense, "batch")
        self.head = nn.Linear(dense, k)
        self.factor_head = nn.Linear(dense, n_factors) if n_factors else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def read_factors(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor_head(self.encoder(x))


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


def data_hash(dataset: Dataset, name: str, settings: JudgeSettings) -> str:
    """sha256 (hex) of the data's fingerprint (images, labels, split, factors), its name, label
    names and kind, and the settings."""
    meta = {"name": name, "fingerprint": dataset.fingerprint(), "attributes": list(dataset.attribute_names),
            "label_kind": dataset.label_kind, "settings": dataclasses.asdict(settings)}
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def as_unit_float(x, image_shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 (N, *image_shape) -> float / 255; float -> clipped to [0, 1]. numpy or torch in."""
    x = torch.as_tensor(x)
    if tuple(x.shape[1:]) != tuple(image_shape) or x.dim() != len(image_shape) + 1:
        raise ValueError(f"the judge takes images of shape (N, {', '.join(map(str, image_shape))}), "
                         f"got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    x = x.float()
    if len(x) and x.max() > FLOAT_LIMIT:
        raise ValueError(f"float images must be in [0, 1] (max here {float(x.max()):.3g}); pass uint8 "
                         f"images or divide by 255")
    return x.clamp(0.0, 1.0)


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

    def to_state(self) -> dict:
        """A plain dict of tensors and primitives (what ``save`` writes)."""
        return {"format": FORMAT, "version": VERSION, "net": {k: v.cpu() for k, v in self.net.state_dict().items()},
                "dataset_name": self.dataset_name, "image_shape": list(self.image_shape),
                "attribute_names": self.attribute_names, "label_kind": self.label_kind,
                "data_hash": self.data_hash, "settings": {**dataclasses.asdict(self.settings),
                                                          "channels": list(self.settings.channels)},
                "test_accuracy": self.test_accuracy, "test_accuracy_overall": self.test_accuracy_overall,
                "test_balanced_accuracy": self.test_balanced_accuracy,
                "factor_names": self.factor_names, "test_factor_r2": self.test_factor_r2}

    def save(self, path: str | os.PathLike) -> None:
        buffer = io.BytesIO()
        torch.save(self.to_state(), buffer)
        atomic_write_bytes(path, buffer.getvalue())


def labels_from_logits(logits: np.ndarray, label_kind: str) -> np.ndarray:
    """(N, k) logits -> (N, k) float 0/1 labels."""
    if label_kind == "categorical":
        return np.eye(logits.shape[1], dtype=np.float32)[logits.argmax(1)]
    return (logits > 0).astype(np.float32)


def load_judge(path: str | os.PathLike, device: str = "cpu") -> Judge:
    """A judge written by ``Judge.save``, loaded without pickle."""
    path = Path(path)
    try:
        state = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"judge file {path} does not exist") from None
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... here
        raise ValueError(f"{path} is not a readable judge file: {type(err).__name__}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != VERSION:
        raise ValueError(f"{path} is not a csvae judge file of version {VERSION}")
    try:
        settings = JudgeSettings(**state["settings"])
        factor_names = state.get("factor_names", [])
        net = JudgeNet(state["image_shape"], len(state["attribute_names"]), settings.channels, settings.dense,
                       len(factor_names))
        net.load_state_dict(state["net"])
        return Judge(net.to(device), dataset_name=state["dataset_name"], image_shape=state["image_shape"],
                     attribute_names=state["attribute_names"], label_kind=state["label_kind"],
                     data_hash=state["data_hash"], settings=settings, test_accuracy=state["test_accuracy"],
                     test_accuracy_overall=state["test_accuracy_overall"],
                     test_balanced_accuracy=state.get("test_balanced_accuracy"), factor_names=factor_names,
                     test_factor_r2=state.get("test_factor_r2"))
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} is a damaged judge file: its weights and description disagree "
                         f"({type(err).__name__}: {err})") from err


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


def accuracy_text(test_accuracy: dict[str, float], balanced: Optional[dict[str, float]] = None) -> str:
    """"name 0.950 (balanced 0.900), ..." for a judge's test scores; the balanced figure is shown
    where it is known and differs from the plain one (an imbalanced test split)."""
    parts = []
    for name, value in test_accuracy.items():
        other = (balanced or {}).get(name)
        shown = other is not None and np.isfinite(other) and abs(other - value) >= 5e-4
        extra = f" (balanced {other:.3f})" if shown else ""
        parts.append(f"{name} {value:.3f}{extra}")
    return ", ".join(parts)


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


def _train(net: JudgeNet, x: np.ndarray, y: np.ndarray, label_kind: str, s: JudgeSettings,
           device: str, factors: Optional[np.ndarray] = None) -> None:
    """Adam on the classification loss, plus ``s.factor_weight`` times the read-out's squared
    error averaged over the defined entries of ``factors`` (N, F; NaN = undefined) when given."""
    generator = torch.Generator().manual_seed(s.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=s.lr)
    x_t, y_t = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y, dtype=np.float32))
    if factors is not None:
        defined = torch.from_numpy(np.isfinite(factors)).float()
        targets = torch.from_numpy(np.nan_to_num(factors, nan=0.0)).float()
    net.train()
    steps_per_epoch = max(1, len(x_t) // s.batch_size)
    for _ in range(max(s.epochs, -(-s.min_steps // steps_per_epoch))):
        order = torch.randperm(len(x_t), generator=generator)
        for start in range(0, len(order), s.batch_size):
            rows = order[start:start + s.batch_size]
            if len(rows) < 2:  # BatchNorm needs two examples
                continue
            xb = as_unit_float(x_t[rows], net.encoder.x_shape).to(device)
            yb = y_t[rows].to(device)
            features = net.encoder(xb)
            logits = net.head(features)
            if label_kind == "categorical":
                loss = F.cross_entropy(logits, yb.argmax(1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, yb)
            if factors is not None:
                mask, target = defined[rows].to(device), targets[rows].to(device)
                squared = (net.factor_head(features) - target) ** 2 * mask
                loss = loss + s.factor_weight * squared.sum() / mask.sum().clamp(min=1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    net.eval()


def fit_judge(dataset: Dataset, name: Optional[str] = None, *, device: str = "cpu", **settings) -> Judge:
    """Train a judge on the REAL images of ``dataset``'s train split; score it on its test split.

    dataset: images x (N, C, H, W) uint8. name: the data set's name (default: from dataset.info).
    settings: JudgeSettings fields (epochs, batch_size, lr, channels, dense, seed)."""
    s = judge_settings(**settings)
    name = dataset_name(dataset, name)
    return _fit(dataset, name, s, data_hash(dataset, name, s), device)


def load_or_fit_judge(dataset: Dataset, cache_dir: str | os.PathLike, name: Optional[str] = None, *,
                      device: str = "cpu", **settings) -> Judge:
    """The judge for (dataset, name, settings) from ``cache_dir``/judge-<hash>.pt, trained and
    saved there when absent (or when the file there holds another hash)."""
    s = judge_settings(**settings)
    name = dataset_name(dataset, name)
    digest = data_hash(dataset, name, s)
    path = Path(cache_dir) / f"judge-{digest[:20]}.pt"
    if path.exists():
        judge = load_judge(path, device)
        if judge.data_hash == digest:
            return judge
    judge = _fit(dataset, name, s, digest, device)
    judge.save(path)
    return judge


def _fit(dataset: Dataset, name: str, s: JudgeSettings, digest: str, device: str) -> Judge:
    if dataset.x.ndim != 4 or dataset.x.dtype != np.uint8:
        raise ValueError(f"a judge is trained on uint8 images (N, C, H, W); got {dataset.x.dtype} "
                         f"{tuple(dataset.x.shape)}")
    x_train, y_train = dataset.part("train")
    x_test, y_test = dataset.part("test")
    if len(x_train) < 2 or len(x_test) < 1:
        raise ValueError(f"a judge needs a train split (>= 2 images) and a test split; got "
                         f"{len(x_train)} train and {len(x_test)} test images")
    image_shape = tuple(dataset.x.shape[1:])
    factor_names, factors = factor_matrix(dataset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        net = JudgeNet(image_shape, y_train.shape[1], s.channels, s.dense, len(factor_names)).to(device)
    train_factors = None if factors is None else factors[dataset.indices("train")]
    _train(net, x_train, y_train, dataset.label_kind, s, device, train_factors)
    judge = Judge(net, dataset_name=name, image_shape=image_shape, attribute_names=dataset.attribute_names,
                  label_kind=dataset.label_kind, data_hash=digest, settings=s, factor_names=factor_names)
    judge.test_accuracy, judge.test_accuracy_overall = accuracy_by_attribute(judge, x_test, y_test)
    judge.test_balanced_accuracy = balanced_accuracy_by_attribute(judge, x_test, y_test)
    if factors is not None:
        judge.test_factor_r2 = r2_by_column(factors[dataset.indices("test")], judge.read_factors(x_test),
                                            factor_names)
    return judge
