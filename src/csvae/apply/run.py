"""What a run was trained on, read from its data card: label names and kind, and image files
read exactly as the run's images were (size, channels and crop of the card)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from csvae.data.checks import DataError
from csvae.data.imageio import decode_image
from csvae.datacard import ARRAYS, DataCard
from csvae.models.base import LatentModel

log = logging.getLogger("csvae.apply")

PathLike = Union[str, os.PathLike]
Label = Union[int, str]


def data_card(model: LatentModel) -> DataCard:
    """The model's data card; DataError when it has none (a model loaded from a training
    checkpoint: only a finished model.pt holds its card)."""
    if model.data_card is None:
        raise DataError("this model carries no data card (a training checkpoint holds none), so its attribute names "
                        "and image crop are unknown; give the run folder, whose model.pt holds the card")
    return model.data_card


def image_card(model: LatentModel) -> DataCard:
    """The data card of an image run; DataError for vector runs, runs on arrays, odd shapes."""
    card = data_card(model)
    if not card.is_image:
        raise DataError(f"this run was trained on vector data ({card.name!r}, x_shape {model.x_shape}); "
                        f"manipulate and transfer work on image runs only")
    if card.name == ARRAYS:
        raise DataError("this run was trained from arrays in Python, so its image crop is unknown; use "
                        "model.manipulate / model.transfer on arrays instead")
    channels, height, width = model.x_shape
    if height != width or channels not in (1, 3):
        raise DataError(f"the run's images have shape {model.x_shape}; expected (1 or 3, S, S)")
    return card


def attribute_names(model: LatentModel) -> list[str]:
    """The run's label names in label-column order (= CSVAE's subspace order): attribute names,
    or class names for a categorical label, from its data card."""
    names = list(image_card(model).attribute_names)
    if len(names) != model.y_dim:
        raise DataError(f"the run's data card has {len(names)} label columns ({', '.join(names)}) but the model "
                        f"has y_dim={model.y_dim}")
    return names


def is_categorical(model: LatentModel) -> bool:
    return model.config.label_kind == "categorical"


def attribute_index(model: LatentModel, name: str, names: Optional[Sequence[str]] = None) -> int:
    """Column of attribute ``name`` (exact, else a unique case-insensitive match); a DataError
    listing the valid names otherwise."""
    names = list(names) if names is not None else attribute_names(model)
    if name in names:
        return names.index(name)
    folded = [i for i, n in enumerate(names) if n.lower() == str(name).lower()]
    if len(folded) == 1:
        return folded[0]
    what = "class" if is_categorical(model) else "attribute"
    raise DataError(f"unknown {what} {name!r} for this run ({data_card(model).name}); valid {what}s: "
                    f"{', '.join(names)}")


def parse_label(model: LatentModel, value: Label, names: Sequence[str], attribute: Optional[str],
                flag: str = "--to") -> int:
    """A label value from the user: 0 or 1 for a binary attribute; a class name or index for a
    categorical label. Returns 0/1, or the class index."""
    text = str(value).strip()
    if is_categorical(model):
        if text.lstrip("-").isdigit():
            index = int(text)
            if 0 <= index < len(names):
                return index
            raise DataError(f"{flag} {value!r}: a class index must be 0..{len(names) - 1}; classes: "
                            f"{', '.join(names)}")
        try:
            return attribute_index(model, text, names)
        except DataError:
            raise DataError(f"{flag} {value!r} is not a class of this run; classes: {', '.join(names)} "
                            f"(or their index 0..{len(names) - 1})") from None
    if isinstance(value, bool) or text not in ("0", "1"):
        raise DataError(f"{flag} must be 0 or 1 for the binary attribute {attribute}, got {value!r}")
    return int(text)




IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_LISTED = 500
"""Image files taken from the folders of --images (the first, by name)."""


def list_image_files(items: Sequence[PathLike]) -> list[Path]:
    """Image files named by ``items`` (files, or folders whose image files are taken, sorted by
    name, not recursive; at most ``MAX_LISTED`` in all); DataError naming an item that does not
    exist or a folder that holds no image."""
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():  # regular image files, and no symlink that leaves the folder
            files = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and item.resolve() in p.resolve().parents)
            if not files:
                raise DataError(f"--images {item}: the folder holds no image files ({', '.join(IMAGE_SUFFIXES)})")
            found.extend(files)
        elif item.is_file():
            found.append(item)
        else:
            raise DataError(f"--images {item} does not exist")
    if len(found) > MAX_LISTED:
        log.warning("--images: %d image files; the first %d are taken", len(found), MAX_LISTED)
    return found[:MAX_LISTED]


def read_images_like_run(model: LatentModel, paths: Sequence[PathLike]) -> np.ndarray:
    """Decode image files with the run's crop, size and channels: uint8 (N, C, S, S).

    Raises DataError naming the first file that is missing, unreadable or smaller than the crop."""
    card = image_card(model)
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not paths:
        raise DataError("no images given")
    channels, size, _ = model.x_shape
    out = np.zeros((len(paths), channels, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        if path.is_dir():
            raise DataError(f"image {path} is a folder, not an image file")
        out[i] = decode_image(path, size, card.crop, channels)
    return out
