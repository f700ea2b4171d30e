"""Data readers. ``load_dataset(cfg)`` turns a DataConfig into a ``Dataset``."""

from __future__ import annotations

from csvae.config import DataConfig
from csvae.data.checks import DataError
from csvae.data.dataset import SPLITS, Dataset
from csvae.data.toy import TOY_SETS, make_toy


def load_dataset(cfg: DataConfig) -> Dataset:
    """Toy sets are generated from ``cfg`` (seed ``cfg.seed``); every other name is an image data
    set read through its cache (see ``csvae.data.images``)."""
    if cfg.name in TOY_SETS:
        data = make_toy(cfg.name, cfg.n_samples, cfg.noise, cfg.seed, cfg.test_fraction)
    else:
        from csvae.data.images import load_images

        data = load_images(cfg)
    data.info["name"] = cfg.name
    return data


__all__ = ["Dataset", "DataError", "SPLITS", "load_dataset", "make_toy", "TOY_SETS"]
