"""Attribute manipulation scored by a judge: accuracy, preservation and diversity.

A *direction* changes one label: for binary attributes attribute i from 0 to 1 or from 1 to 0 with
the other attributes kept; for a categorical label class i to class j. Its inputs are the examples
whose current label is the source value; G(x) is ``model.manipulate(x, y, target_y, style=...)``.

- accuracy: the fraction of G(x) the judge classifies as the target (for binary, on the changed
  attribute), with a seeded percentile-bootstrap 95 % interval;
- preservation: the judge's accuracy on the attributes that were not changed (against the input's
  labels), and the mean RMS pixel distance between G(x) and the reconstruction of x;
- diversity: for each x, the mean pairwise distance between ``n_samples`` manipulations drawn with
  different generators, as RMS pixel distance and as Euclidean distance between judge features.
  Deterministic manipulations (the baselines) score 0.

Images are in data units ([0, 1] for images); distances are in those units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from csvae.data.dataset import Dataset
from csvae.evaluate.judge import Judge, dataset_name
from csvae.runfiles import unit_float

BOOT_CHUNK = 100  # bootstrap resamples drawn at once (bounds memory for large test sets)


@dataclass(frozen=True)
class Direction:
    """One label change. Binary: column ``attribute`` from ``source`` to ``target`` (0/1);
    categorical: class ``source`` to class ``target`` (``attribute`` == ``source``)."""

    name: str
    attribute: int
    source: int
    target: int


def directions(attribute_names: Sequence[str], label_kind: str) -> list[Direction]:
    """Binary: "<name>: 0->1" and "<name>: 1->0" per attribute; categorical: "<i>-><j>" for i != j."""
    if label_kind == "categorical":
        return [Direction(f"{a}->{b}", i, i, j) for i, a in enumerate(attribute_names)
                for j, b in enumerate(attribute_names) if i != j]
    if label_kind == "binary":
        return [Direction(f"{a}: {s}->{1 - s}", i, s, 1 - s) for i, a in enumerate(attribute_names) for s in (0, 1)]
    raise ValueError(f"label_kind must be 'binary' or 'categorical', got {label_kind!r}")


def direction_rows(direction: Direction, y: np.ndarray, label_kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of y (N, k) whose label is the direction's source, (n,), and their targets (n, k)."""
    y = np.asarray(y, dtype=np.float32)
    if label_kind == "categorical":
        rows = np.flatnonzero(y.argmax(1) == direction.source)
        target = np.zeros((len(rows), y.shape[1]), np.float32)
        target[:, direction.target] = 1.0
        return rows, target
    rows = np.flatnonzero(y[:, direction.attribute] == direction.source)
    target = y[rows].copy()
    target[:, direction.attribute] = direction.target
    return rows, target


def generate(model, x, y, target_y, *, style="sample", seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """G(x) = model.manipulate(x, y, target_y, style, generator), batch-wise (``map_batches``).

    x (N, C, H, W) uint8 or float, y and target_y (N, k). One torch.Generator seeded with ``seed``
    drives the whole call. Returns float32 (N, C, H, W) in data units."""
    if len(x) == 0:
        return np.zeros((0, *np.shape(x)[1:]), np.float32)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    out = model.map_batches(lambda xb, yb, tb: model.manipulate(xb, yb, tb, style=style, generator=generator),
                            x, np.asarray(y, dtype=np.float32), np.asarray(target_y, dtype=np.float32),
                            batch_size=batch_size)
    return out.float().numpy()


def reconstruct(model, x, y, batch_size: int = 256) -> np.ndarray:
    """model.reconstruct as float32 (N, ...) data units."""
    return np.asarray(model.reconstruct(np.asarray(x), np.asarray(y, dtype=np.float32), batch_size=batch_size),
                      dtype=np.float32)


def rms_distance(a, b) -> np.ndarray:
    """Root-mean-square difference per example of two image batches (N, ...), (N,)."""
    diff = unit_float(a).reshape(len(a), -1) - unit_float(b).reshape(len(b), -1)
    return np.sqrt((diff ** 2).mean(1))


def mean_pairwise_distance(samples: np.ndarray) -> np.ndarray:
    """samples (S, N, D) -> (N,): mean Euclidean distance over the S(S-1)/2 pairs of each column."""
    s = samples.shape[0]
    if s < 2:
        raise ValueError(f"diversity needs at least 2 samples per input, got {s}")
    total = np.zeros(samples.shape[1])
    for i in range(s):
        for j in range(i + 1, s):
            total += np.linalg.norm(samples[i] - samples[j], axis=-1)
    return total / (s * (s - 1) / 2)


def bootstrap_interval(values, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of values (N,); (nan, nan) when N = 0."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for s in range(0, n_boot, BOOT_CHUNK):
        rows = rng.integers(0, len(values), size=(min(BOOT_CHUNK, n_boot - s), len(values)))
        means[s:s + len(rows)] = values[rows].mean(1)
    tail = (1.0 - level) / 2.0 * 100.0
    return float(np.percentile(means, tail)), float(np.percentile(means, 100.0 - tail))


def bootstrap_summary(values, n_boot: int, seed: int) -> Optional[dict]:
    """{"mean", "ci_low", "ci_high"} of values (N,) (percentile-bootstrap 95 % interval), None when N = 0."""
    if len(values) == 0:
        return None
    low, high = bootstrap_interval(values, n_boot, seed=seed)
    return {"mean": float(np.mean(values)), "ci_low": low, "ci_high": high}


def _pick(n: int, limit: Optional[int], seed: int) -> np.ndarray:
    """Positions 0..n-1, or a seeded sorted sample of ``limit`` of them."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def sampled_direction_rows(direction: Direction, y: np.ndarray, label_kind: str, limit: Optional[int],
                           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``direction_rows``, then at most ``limit`` of them (a seeded sorted sample; None: all):
    (rows (n,), targets (n, k)). Every metric that samples a direction's inputs goes through this,
    so metrics of one run see the same inputs."""
    rows, target = direction_rows(direction, y, label_kind)
    pick = _pick(len(rows), limit, seed)
    return rows[pick], target[pick]


def _check(judge: Judge, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 2 or y.shape[1] != len(judge.attribute_names):
        raise ValueError(f"y must have shape (N, {len(judge.attribute_names)}) for the judge's attributes "
                         f"{judge.attribute_names}, got {y.shape}")
    return y


def manipulation_scores(model, judge: Judge, x, y, *, style="sample", seed: int = 0, n_boot: int = 1000,
                        max_per_direction: Optional[int] = None, batch_size: int = 256) -> dict[str, dict]:
    """Accuracy and preservation of every direction on (x, y) (test images and labels).

    Returns direction name -> {"attribute", "source", "target" (names or 0/1), "n",
    "accuracy", "ci_low", "ci_high", "preserved" (other attribute -> judge accuracy against the
    input's label; binary with k >= 2 only), "preserved_accuracy" (their mean, or None),
    "recon_distance" (mean RMS distance between G(x) and the reconstruction of x)}.
    Values are None for a direction without inputs."""
    y = _check(judge, y)
    names, kind = judge.attribute_names, judge.label_kind
    out = {}
    for d in directions(names, kind):
        rows, target = sampled_direction_rows(d, y, kind, max_per_direction, seed)
        row = {"attribute": names[d.attribute], "source": names[d.source] if kind == "categorical" else d.source,
               "target": names[d.target] if kind == "categorical" else d.target, "n": int(len(rows)),
               "accuracy": None, "ci_low": None, "ci_high": None, "preserved": {}, "preserved_accuracy": None,
               "recon_distance": None}
        out[d.name] = row
        if not len(rows):
            continue
        xs, ys = x[rows], y[rows]
        generated = generate(model, xs, ys, target, style=style, seed=seed, batch_size=batch_size)
        judged = judge.classify(generated)
        column, wanted = (d.target, 1.0) if kind == "categorical" else (d.attribute, float(d.target))
        hits = judged[:, column] == wanted
        row["accuracy"] = float(hits.mean())
        row["ci_low"], row["ci_high"] = bootstrap_interval(hits, n_boot, seed=seed)
        if kind == "binary":
            row["preserved"] = {names[k]: float((judged[:, k] == ys[:, k]).mean())
                                for k in range(len(names)) if k != d.attribute}
            row["preserved_accuracy"] = float(np.mean(list(row["preserved"].values()))) if row["preserved"] else None
        row["recon_distance"] = float(rms_distance(generated, reconstruct(model, xs, ys, batch_size)).mean())
    return out


def diversity_scores(model, judge: Judge, x, y, *, n_samples: int = 8, style="sample", seed: int = 0,
                     max_per_direction: Optional[int] = 64, batch_size: int = 256,
                     n_boot: int = 1000) -> dict[str, dict]:
    """Diversity of every direction on (x, y): direction name -> {"n", "pixel", "feature",
    "feature_ci_low", "feature_ci_high"}, the mean over inputs of the mean pairwise distance between
    ``n_samples`` manipulations of each input (generators seeded seed, seed + 1, ...); RMS pixel
    distance and Euclidean distance of judge features, the latter with its percentile-bootstrap 95%
    interval over inputs. None for a direction without inputs."""
    y = _check(judge, y)
    out = {}
    for d in directions(judge.attribute_names, judge.label_kind):
        rows, target = sampled_direction_rows(d, y, judge.label_kind, max_per_direction, seed)
        if not len(rows):
            out[d.name] = {"n": 0, "pixel": None, "feature": None, "feature_ci_low": None, "feature_ci_high": None}
            continue
        samples = np.stack([generate(model, x[rows], y[rows], target, style=style, seed=seed + s,
                                     batch_size=batch_size) for s in range(n_samples)])
        pixels = samples.reshape(n_samples, len(rows), -1) / np.sqrt(samples[0, 0].size)
        features = np.stack([judge.features(images) for images in samples])
        per_input = mean_pairwise_distance(features)
        low, high = bootstrap_interval(per_input, n_boot, seed=seed)
        out[d.name] = {"n": int(len(rows)), "pixel": float(mean_pairwise_distance(pixels).mean()),
                       "feature": float(per_input.mean()), "feature_ci_low": low, "feature_ci_high": high}
    return out


def manipulation_report(model, judge: Judge, dataset: Dataset, name: Optional[str] = None, *, split: str = "test",
                        style="sample", seed: int = 0, n_boot: int = 1000, max_per_direction: Optional[int] = 500,
                        n_samples: int = 8, max_diversity: Optional[int] = 64) -> dict:
    """Every manipulation metric of ``model`` on one split of ``dataset`` (JSON-ready).

    Refuses a judge of another data set, image shape or attribute list. Returns {"judge":
    {"dataset", "test_accuracy", "test_accuracy_overall", "test_balanced_accuracy", "hash"}, "style", "directions":
    manipulation_scores(...), "diversity": diversity_scores(...), "mean_accuracy"}."""
    judge.check_compatible(dataset_name(dataset, name), tuple(dataset.x.shape[1:]), dataset.attribute_names)
    x, y = dataset.part(split)
    scores = manipulation_scores(model, judge, x, y, style=style, seed=seed, n_boot=n_boot,
                                 max_per_direction=max_per_direction)
    accuracies = [row["accuracy"] for row in scores.values() if row["accuracy"] is not None]
    return {"judge": {"dataset": judge.dataset_name, "test_accuracy": judge.test_accuracy,
                      "test_accuracy_overall": judge.test_accuracy_overall,
                      "test_balanced_accuracy": judge.test_balanced_accuracy, "hash": judge.data_hash},
            "style": style if isinstance(style, str) else "points", "split": split, "directions": scores,
            "diversity": diversity_scores(model, judge, x, y, n_samples=n_samples, style=style, seed=seed,
                                          max_per_direction=max_diversity, n_boot=n_boot),
            "mean_accuracy": float(np.mean(accuracies)) if accuracies else None}
