"""What a run was trained on, read from its data card: label names and kind, and image files
read exactly as the run's images were (size, channels and crop of the card)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from csvae.data.celeba import ALIGNED_SIZE
from csvae.data.checks import DataError
from csvae.data.imageio import MAX_PIXELS, decode_image
from csvae.datacard import ARRAYS, DataCard
from csvae.models.base import LatentModel

log = logging.getLogger("csvae.apply")

PathLike = Union[str, os.PathLike]
Label = Union[int, str]


def open_model(run: Optional[PathLike], pretrained: Optional[str]) -> LatentModel:
    """The model of the run folder ``run`` or of the shipped model ``pretrained``
    (``csvae.pretrained``): exactly one of them (DataError otherwise)."""
    from csvae.api import load

    check_one_source([run] if run is not None else [], [pretrained] if pretrained is not None else [])
    if pretrained is not None:
        from csvae import pretrained as shipped

        return shipped.load(pretrained)
    return load(run)


def check_one_source(runs: Sequence, pretrained: Sequence) -> None:
    """Refuse run folders given together with --pretrained names, and neither given."""
    if runs and pretrained:
        raise DataError(f"give run folders or --pretrained names, not both (runs: {', '.join(map(str, runs))}; "
                        f"--pretrained: {', '.join(pretrained)})")
    if not runs and not pretrained:
        raise DataError("give a run folder or --pretrained NAME (csvae pretrained lists the names)")


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


def photo_crop(card: DataCard, width: int, height: int) -> Optional[int]:
    """The crop for an image of width x height read like the run's data: the card's crop, except
    that a CelebA run (crop cut from 178 x 218 aligned faces) cuts a photo of another size in the
    same proportion (the centred square of crop / 178 of its width, at most its shorter side), so
    a face photo that frames the face as CelebA does reads the same whatever its resolution."""
    if card.crop is None or not card.name.startswith("celeba") or (width, height) == ALIGNED_SIZE:
        return card.crop
    return max(1, min(width, height, round(card.crop * width / ALIGNED_SIZE[0])))


def decode_like_card(source, card: DataCard, x_shape: Sequence[int], max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One image (a path or a binary file object) decoded as the run with ``card`` and ``x_shape``
    (C, S, S) read its images: uint8 (C, S, S); DataError naming it when it cannot be (or when it
    has more than ``max_pixels`` pixels, as ``decode_image`` refuses)."""
    from PIL import Image, UnidentifiedImageError

    channels, size, _ = x_shape
    try:
        with Image.open(source) as image:
            crop = photo_crop(card, *image.size)
    except FileNotFoundError:
        raise DataError(f"image {source} does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        crop = card.crop  # decode_image names what is wrong
    if hasattr(source, "seek"):
        source.seek(0)
    return decode_image(source, size, crop, channels, max_pixels=max_pixels)


def read_images_like_run(model: LatentModel, paths: Sequence[PathLike]) -> np.ndarray:
    """Decode image files with the run's crop, size and channels: uint8 (N, C, S, S).

    Raises DataError naming the first file that is missing, unreadable or smaller than the crop."""
    card = image_card(model)
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not paths:
        raise DataError("no images given")
    out = np.zeros((len(paths), *model.x_shape), dtype=np.uint8)
    for i, path in enumerate(paths):
        if path.is_dir():
            raise DataError(f"image {path} is a folder, not an image file")
        out[i] = decode_like_card(path, card, model.x_shape)
    return out
