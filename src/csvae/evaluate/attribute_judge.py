"""What an attribute edit keeps of the photo, and how real its results look, read by one judge of
every CelebA attribute.

The *attribute judge* is a classifier of all 40 CelebA attributes, trained on the real photos of
the training split of the run's CelebA tree (same root, size and crop; every row, unbalanced) and
cached with the other judges. For a run on a CelebA task it gives, on the test split:

- **preservation** (as attribute-editing papers, AttGAN and STGAN, report it): per direction, the
  share of the other attributes that the judge reads the same on G(x) as on x, averaged over the
  inputs with a bootstrap interval. "Other" leaves out the task's attributes and the attributes
  that define them (facial_hair: Goatee, Mustache, No_Beard). The identity edit G(x) = x
  preserves 1.0; an unrelated photo preserves about the chance agreement of two random faces.
- **realism**: ``csvae.evaluate.realism``'s Fréchet distance and kernel distance between the
  judge's features of the real test photos and of the reconstructions, and of the manipulations
  (every direction's, pooled); and, as the floor, of the real validation photos. These are
  distances in this judge's feature space, **not** Inception FID/KID.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from csvae.config import DataConfig
from csvae.data.dataset import Dataset
from csvae.data.images import CELEBA_READERS
from csvae.evaluate.judge import Judge, load_or_fit_judge
from csvae.evaluate.manipulation import (
    bootstrap_summary,
    directions,
    generate,
    reconstruct,
    sampled_direction_rows,
)
from csvae.evaluate.realism import frechet_distance, kernel_distance

NAME = "celeba-attributes"
"""The name the attribute judge records (its cache key includes the data's fingerprint)."""
SETTINGS = {"channels": (32, 64, 128, 256), "dense": 256, "epochs": 5}
"""A wider judge than the task judges': 40 attributes at 64 px."""
DEFINED_BY = {"facial_hair": ("Goatee", "Mustache", "No_Beard")}
"""Derived task attributes and the CelebA attributes they are computed from."""


def attribute_data(data: DataConfig) -> Optional[DataConfig]:
    """The data config of the attribute judge for a run's ``data`` (every attribute, every row),
    or None for data that is not a CelebA tree."""
    if data.name not in CELEBA_READERS or data.root is None:
        return None
    return dataclasses.replace(data, name="celeba", attributes=None, balance="none", labelled_fraction=1.0)


def load_attribute_judge(data: DataConfig, judges: str | Path) -> Judge:
    """The attribute judge of ``data`` (a config from ``attribute_data``) from the cache folder
    ``judges``, trained (and cached) when absent."""
    from csvae.data import load_dataset

    return load_or_fit_judge(load_dataset(data), judges, NAME, **SETTINGS)


def other_columns(judge_names: Sequence[str], task_names: Sequence[str]) -> list[int]:
    """The judge's columns that a task edit should leave alone: not a task attribute and not one
    that defines a derived task attribute."""
    excluded = set(task_names)
    for name in task_names:
        excluded.update(DEFINED_BY.get(name, ()))
    return [i for i, name in enumerate(judge_names) if name not in excluded]


def preservation(judge: Judge, x, edited, columns: Sequence[int]) -> np.ndarray:
    """Per image (N,): the share of ``columns`` that ``judge`` reads the same on ``edited`` as on
    ``x`` (two image batches (N, C, H, W), uint8 or float in [0, 1])."""
    if len(x) != len(edited):
        raise ValueError(f"x has {len(x)} images but edited has {len(edited)}")
    if not len(columns):
        raise ValueError("preservation needs at least one attribute that the edit leaves alone")
    columns = list(columns)
    return (judge.classify(x)[:, columns] == judge.classify(edited)[:, columns]).mean(1)


def realism(real: np.ndarray, generated: np.ndarray, seed: int = 0) -> dict:
    """{"frechet", "kernel", "n"}: ``csvae.evaluate.realism``'s distances between the judge's
    features of real images (N, d) and of generated ones (M, d) (None when either has fewer than
    2 rows)."""
    if min(len(real), len(generated)) < 2:
        return {"frechet": None, "kernel": None, "n": int(len(generated))}
    return {"frechet": frechet_distance(real, generated), "kernel": kernel_distance(real, generated, seed=seed),
            "n": int(len(generated))}


def attribute_report(model, judge: Judge, dataset: Dataset, *, style="sample", seed: int = 0, n_boot: int = 1000,
                     max_per_direction: Optional[int] = 500) -> dict:
    """Preservation per direction and realism of ``model`` on the test split of ``dataset`` (a
    CelebA task), read by the attribute judge (JSON-ready). Directions see the inputs that
    ``manipulation_scores`` sees (same seed and limit)."""
    x, y = dataset.part("test")
    columns = other_columns(judge.attribute_names, dataset.attribute_names)
    rows_out, pooled = {}, []
    for d in directions(dataset.attribute_names, dataset.label_kind):
        rows, target = sampled_direction_rows(d, y, dataset.label_kind, max_per_direction, seed)
        if not len(rows):
            rows_out[d.name] = None
            continue
        edited = generate(model, x[rows], y[rows], target, style=style, seed=seed)
        rows_out[d.name] = {"n": int(len(rows)),
                            **bootstrap_summary(preservation(judge, x[rows], edited, columns), n_boot, seed)}
        pooled.append(edited)
    means = [r["mean"] for r in rows_out.values() if r is not None]
    real = judge.features(x)  # the test photos' features, read once for the three comparisons
    manipulated = features_of(judge, np.concatenate(pooled) if pooled else x[:0])
    return {"judge": {"dataset": judge.dataset_name, "hash": judge.data_hash,
                      "test_accuracy": judge.test_accuracy, "test_balanced_accuracy": judge.test_balanced_accuracy},
            "preserved_attributes": [judge.attribute_names[i] for i in columns],
            "preservation": rows_out, "mean_preservation": float(np.mean(means)) if means else None,
            "realism": {"reconstruction": realism(real, judge.features(reconstruct(model, x, y)), seed),
                        "manipulation": realism(real, manipulated, seed),
                        "real_valid": realism(real, features_of(judge, dataset.part("valid")[0]), seed)}}


def features_of(judge: Judge, images) -> np.ndarray:
    """The judge's features of images (N, C, H, W), (N, d); (0, d) for no image."""
    return judge.features(images) if len(images) else np.zeros((0, judge.net.encoder.out_dim), np.float32)
