"""Training a judge on the real images of a data set, and its cache keyed by a hash of the data."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.nn import functional as F

from csvae.data.dataset import Dataset
from csvae.evaluate.judge.metrics import accuracy_by_attribute, balanced_accuracy_by_attribute, r2_by_column
from csvae.evaluate.judge.model import Judge, dataset_name, factor_matrix
from csvae.evaluate.judge.net import JudgeNet, JudgeSettings, as_unit_float, judge_settings
from csvae.evaluate.judge.storage import load_judge, save_judge


def data_hash(dataset: Dataset, name: str, settings: JudgeSettings) -> str:
    """sha256 (hex) of the data's fingerprint (images, labels, split, factors), its name, label
    names and kind, and the settings."""
    meta = {"name": name, "fingerprint": dataset.fingerprint(), "attributes": list(dataset.attribute_names),
            "label_kind": dataset.label_kind, "settings": dataclasses.asdict(settings)}
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def _train(net: JudgeNet, x: np.ndarray, y: np.ndarray, label_kind: str, s: JudgeSettings,
           device: str, factors: Optional[np.ndarray] = None) -> None:
    """Adam on the classification loss, plus ``s.factor_weight`` times the read-out's squared
    error averaged over the defined entries of ``factors`` (N, F; NaN = undefined) when given;
    at least ``s.min_steps`` steps, ``s.factor_min_steps`` with factors (whole epochs)."""
    generator = torch.Generator().manual_seed(s.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=s.lr)
    x_t, y_t = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y, dtype=np.float32))
    if factors is not None:
        defined = torch.from_numpy(np.isfinite(factors)).float()
        targets = torch.from_numpy(np.nan_to_num(factors, nan=0.0)).float()
    net.train()
    steps_per_epoch = max(1, len(x_t) // s.batch_size)
    min_steps = s.min_steps if factors is None else max(s.min_steps, s.factor_min_steps)
    for _ in range(max(s.epochs, -(-min_steps // steps_per_epoch))):
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
    save_judge(judge, path)
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
