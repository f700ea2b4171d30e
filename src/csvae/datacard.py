"""The data card: what a model was trained on, written by ``fit`` and read by every later stage.

A run folder's data.json (and a copy inside model.pt) records the data set's name, its label
names and kind, the shape of one example, the crop its images were cut with, the split sizes and
a fingerprint of the data (``csvae.data.dataset.fingerprint``). ``apply`` (manipulate, transfer),
``evaluate`` and the judge read names, kind and crop from the card rather than re-deriving them
from a reader's internals; ``evaluate`` and ``--resume`` refuse data whose fingerprint changed.

Versions: 2 (this csvae) says so in its ``version`` field. A card without one is of version 1 and
is read as it stands; but a toy run's card of version 1 may hold the fingerprint of x, y and split
alone (written before the toy sets carried their generating factors), which no longer matches its
data: ``check_data`` then says to train the run again. Any other version is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

import numpy as np

from csvae.config import DataConfig
from csvae.constraints import is_positive_integer
from csvae.data.checks import DataError
from csvae.data.dataset import SPLITS, Dataset, fingerprint
from csvae.fileio import atomic_write_bytes
from csvae.safeio import read_json

VERSION = 2
ARRAYS = "arrays"
"""The name of data given to ``csvae.fit`` as arrays in Python (no reader to read them again)."""


@dataclass(frozen=True)
class DataCard:
    """What a model was trained on.

    name: ``data.name`` ("arrays" for arrays given in Python). attribute_names: the k label names
    in label-column order (class names for a categorical label). label_kind: "binary" or
    "categorical". x_shape: one example, [n] for vectors or [C, H, W] for images. crop: side of
    the centred square cut before resizing (None: no crop, or the largest centred square).
    split_sizes: examples per split. fingerprint: sha256 of x, y, split and factors. cache: the
    image cache folder read (None for generated or in-memory data). version: the card's format
    (module doc)."""

    name: str
    attribute_names: list[str]
    label_kind: str
    x_shape: list[int]
    crop: Optional[int]
    split_sizes: dict[str, int]
    fingerprint: str
    cache: Optional[str] = None
    version: int = VERSION

    @property
    def is_image(self) -> bool:
        return len(self.x_shape) == 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values, source: str = "the data card") -> "DataCard":
        """A card from its JSON form; DataError naming ``source`` and the field when malformed."""
        if not isinstance(values, dict):
            raise DataError(f"{source} is not a JSON object")
        values = {"version": 1, **values}
        if isinstance(values["version"], bool) or values["version"] not in (1, VERSION):
            raise DataError(f"{source} has data card version {values['version']!r}; this csvae reads version "
                            f"{VERSION} (and 1): read the run with the csvae that wrote it, or train it again")
        missing = [f.name for f in fields(cls) if f.name not in values and f.name != "cache"]
        if missing:
            raise DataError(f"{source} lacks {', '.join(missing)}")
        checks = {
            "name": isinstance(values["name"], str),
            "attribute_names": isinstance(values["attribute_names"], list)
            and all(isinstance(n, str) for n in values["attribute_names"]) and values["attribute_names"],
            "label_kind": values["label_kind"] in ("binary", "categorical"),
            "x_shape": isinstance(values["x_shape"], list) and len(values["x_shape"]) in (1, 3)
            and all(is_positive_integer(v) for v in values["x_shape"]),
            "crop": values["crop"] is None or is_positive_integer(values["crop"]),
            "split_sizes": isinstance(values["split_sizes"], dict) and set(values["split_sizes"]) == set(SPLITS)
            and all(isinstance(v, int) and v >= 0 for v in values["split_sizes"].values()),
            "fingerprint": isinstance(values["fingerprint"], str) and len(values["fingerprint"]) == 64,
            "cache": values.get("cache") is None or isinstance(values.get("cache"), str),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            found = ", ".join(f"{b} ({values.get(b)!r})" for b in bad)
            raise DataError(f"{source}: malformed {found}; expected a name, a non-empty list of attribute names, "
                            f"label_kind binary|categorical, x_shape of 1 or 3 positive integers, crop null or a "
                            f"positive integer, split_sizes for {', '.join(SPLITS)}, a sha256 fingerprint")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def check_data(self, data: Dataset, what: str) -> None:
        """Raise DataError when ``data`` is not the data this card describes (``what`` says who asks
        and which card, e.g. "evaluate runs/x (data.json)")."""
        if data.fingerprint() != self.fingerprint:
            old = (" (or this card, of version 1, holds a toy set's fingerprint from before its factors were "
                   "fingerprinted too)" if self.version == 1 else "")
            raise DataError(f"{what}: the data {self.name!r} read now differ from the data the model was trained on "
                            f"(fingerprint {data.fingerprint()[:12]} now, {self.fingerprint[:12]} at training): the "
                            f"images, labels or split changed since{old}; retrain, or restore the data")



def split_sizes(split: Optional[np.ndarray], n: int) -> dict[str, int]:
    if split is None:
        return {"train": n, "valid": 0, "test": 0}
    return {name: int((split == code).sum()) for name, code in SPLITS.items()}


def source_crop(cfg: DataConfig) -> Optional[int]:
    """The crop the reader of ``cfg`` cuts (``data.crop``, else its default; 148 for CelebA);
    None for generated data (toy sets, synthetic faces), which are never cropped."""
    from csvae.data.images import READERS, config_options, resolve_options

    if cfg.name not in READERS:
        return None
    return resolve_options(cfg.name, **config_options(cfg))["crop"]


def card_of_dataset(data: Dataset, cfg: DataConfig) -> DataCard:
    """The card of ``data`` as read by ``cfg``."""
    return DataCard(name=cfg.name, attribute_names=list(data.attribute_names), label_kind=data.label_kind,
                    x_shape=[int(s) for s in data.x.shape[1:]], crop=source_crop(cfg),
                    split_sizes=split_sizes(data.split, len(data.x)), fingerprint=data.fingerprint(),
                    cache=data.info.get("cache"))


def card_of_arrays(x: np.ndarray, y: np.ndarray, label_kind: str,
                   attribute_names: Optional[list[str]] = None) -> DataCard:
    """The card of arrays given to ``csvae.fit`` (all of them the training split). Attribute
    names default to y0, y1, ..."""
    names = list(attribute_names) if attribute_names is not None else [f"y{i}" for i in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise DataError(f"{len(names)} attribute names for {y.shape[1]} label columns")
    return DataCard(name=ARRAYS, attribute_names=names, label_kind=label_kind,
                    x_shape=[int(s) for s in x.shape[1:]], crop=None, split_sizes=split_sizes(None, len(x)),
                    fingerprint=fingerprint(x, y))


def write_card(card: DataCard, path: str | os.PathLike) -> None:
    atomic_write_bytes(Path(path), (json.dumps(card.to_dict(), indent=2) + "\n").encode())


def read_card(path: str | os.PathLike) -> DataCard:
    """The card in JSON file ``path``; DataError naming the file when missing or malformed."""
    path = Path(path)
    try:
        values = read_json(path, "JSON data card")
    except FileNotFoundError:
        raise DataError(f"{path} is missing: the run has no data card (fit writes it)") from None
    return DataCard.from_dict(values, str(path))
