"""Decoding images into uint8 arrays: open, centre-crop, resize; and the index readers hand over.

Every image reader works in two steps. First it *indexes*: it parses the label files, checks
them, and returns an :class:`ImageIndex` (which files to decode, with their labels and splits).
Then the images are *decoded* by :func:`decode_index` (in memory) or by ``csvae.data.cache``
(into a memory-mapped file). Both use :func:`decode_rows`, so the pixels are identical.

Crop and resize (one rule for every reader):
  * ``crop=None``: the largest centred square (side = the shorter image side);
  * ``crop=c``: the centred ``c x c`` square (an image smaller than that is an error);
  * then a Lanczos resize of that square to ``size x size``.
For JPEGs, Pillow's ``draft()`` first lets the decoder scale by 1/2, 1/4 or 1/8 while the crop
still covers at least ``2 * size`` pixels, which is then resized with the Lanczos filter; at
CelebA's 148-pixel crop this kicks in for sizes of 37 and below. A square under ``MIN_SIDE``
pixels is refused (enlarging it would invent the picture).

Pixel modes: every mode Pillow opens is converted to 8-bit RGB (then to greyscale for one
channel): palette, bilevel, CMYK, YCbCr, LAB and HSV by Pillow's conversions (alpha is dropped);
16-bit greyscale (``I;16*``, and ``I`` from 16-bit PNG/PPM files) scaled by 255/65535. Modes
whose values have no defined range (``F``, 32-bit ``I``) are refused naming the file and mode.
The EXIF orientation of a photo is applied, so it is read upright.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from csvae.data.checks import DataError, one_value  # DataError: the package's one error for bad input
from csvae.data.dataset import Dataset
from csvae.safeio import check_regular, inside_root, read_bounded

log = logging.getLogger("csvae.data")

RESAMPLE = Image.Resampling.LANCZOS
MIN_SIDE = 8
MAX_PIXELS = 1 << 26
"""Largest image (width x height, about 8200 x 8200) decoded; checked from the header, before any
pixel is decoded (Pillow's own bound only warns below twice its 89M pixels)."""
MAX_LABEL_FILE_BYTES = 1 << 30
"""Largest label file (CSV, CelebA list) read."""
"""The smallest square (in pixels) an image may be cut to before it is resized."""
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
SIXTEEN_BIT_I_FORMATS = ("PNG", "PPM")
"""Formats whose mode-``I`` images are 16-bit (Pillow scales them to 0..65535)."""
ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
"""EXIF orientation tag -> the transpose that shows the picture upright (as ``ImageOps.exif_transpose``)."""


@dataclass
class ImageIndex:
    """What a reader found, before any pixel is decoded: one row per image.

    files: N paths relative to ``base`` (file-based readers), or None when ``pixels`` holds them.
    pixels: (N, H, W) or (N, H, W, C) uint8 already in memory (e.g. TFD), else None.
    y: (N, k) float32 in {0, 1}; split: (N,) int8 0/1/2.
    crop: the crop applied before resizing (None: largest centred square).
    channels: 3 (RGB) or 1 (greyscale) in the decoded arrays.
    sources: {relative name: stamp} of the files the index was read from (see ``stamp``).
    """

    base: Path
    files: Optional[list[str]]
    y: np.ndarray
    split: np.ndarray
    attribute_names: list[str]
    label_kind: Literal["binary", "categorical"]
    crop: Optional[int]
    channels: int
    info: dict = field(default_factory=dict)
    pixels: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.y)

    def select(self, rows: np.ndarray) -> "ImageIndex":
        """The same index restricted to ``rows`` (ascending integer positions)."""
        rows = np.asarray(rows, dtype=np.int64)
        return ImageIndex(
            base=self.base,
            files=None if self.files is None else [self.files[i] for i in rows],
            y=self.y[rows], split=self.split[rows], attribute_names=list(self.attribute_names),
            label_kind=self.label_kind, crop=self.crop, channels=self.channels,
            info=dict(self.info), pixels=None if self.pixels is None else self.pixels[rows])


def stamp(path: Path) -> dict:
    """Size and modification time of a file, or entry count and mtime of a folder: what a cache
    compares to tell whether its sources changed."""
    st = path.stat()
    if path.is_dir():
        return {"entries": len(os.listdir(path)), "mtime_ns": st.st_mtime_ns}
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def centre_box(width: int, height: int, crop: Optional[int]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the centred crop square; raises ValueError if it does not fit."""
    side = min(width, height) if crop is None else crop
    if side > width or side > height:
        raise ValueError(f"image is {width}x{height}, smaller than the {crop}x{crop} crop")
    if side < MIN_SIDE:
        raise ValueError(f"image is {width}x{height}, so its square is {side}x{side}, smaller than the "
                         f"minimum of {MIN_SIDE}x{MIN_SIDE} pixels")
    left, top = (width - side) / 2, (height - side) / 2
    return left, top, left + side, top + side


def _to_chw(image: Image.Image) -> np.ndarray:
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _eight_bit(image: Image.Image, path) -> Image.Image:
    """``image`` with 8-bit values: 16-bit greyscale scaled by 255/65535 (module doc); other modes
    as they are, except those without a defined range, which are a DataError naming file and mode."""
    mode = image.mode
    if mode in SIXTEEN_BIT or (mode == "I" and image.format in SIXTEEN_BIT_I_FORMATS):
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise DataError(f"image {path} cannot be decoded: mode {mode} holds values from {values.min()} to "
                            f"{values.max()}, outside the 16-bit range 0..65535")
        return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8), "L")
    if mode in ("I", "F"):
        kind = "32-bit integer" if mode == "I" else "floating-point"
        raise DataError(f"image {path} cannot be decoded: its mode {mode} ({kind} pixels) has no defined "
                        f"range of values; save it with 8 or 16 bits per channel")
    return image


def decode_image(path: str | os.PathLike, size: int, crop: Optional[int] = None,
                 channels: int = 3, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode one image file (or binary file object) to a (channels, size, size) uint8 array (crop
    rule and pixel modes: module doc).

    Raises DataError naming the file if it is not a regular file, cannot be read, is corrupt, has
    more than ``max_pixels`` pixels (read from its header: nothing is decoded), has a pixel mode
    that cannot be converted, or is smaller than the crop or ``MIN_SIDE``.
    """
    try:
        if not hasattr(path, "read"):
            check_regular(path, "image")  # a FIFO would block Image.open
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise DataError(f"image {path}: {width} x {height} pixels, more than the {max_pixels} an "
                                f"image may have")
            box = centre_box(width, height, crop)
            orientation = image.getexif().get(0x0112)
            side = box[2] - box[0]
            scale = side / (2 * size)
            factor = 1.0
            if scale >= 2:  # let the JPEG decoder shrink by 2, 4 or 8 (no-op for other formats)
                drafted = image.draft("L" if channels == 1 else None,
                                      (math.ceil(width / scale), math.ceil(height / scale)))
                if drafted is not None:
                    factor = drafted[1][2] / width
            mode, image = image.mode, _eight_bit(image, path)
            try:
                image = image.convert("RGB")
                if channels == 1:
                    image = image.convert("L")
            except ValueError as err:
                raise DataError(f"image {path} cannot be decoded: its mode {mode} cannot be converted to "
                                f"RGB ({err})") from err
            box = tuple(v * factor for v in box)
            out = image.resize((size, size), RESAMPLE, box=box)
            if orientation in ORIENTATION:  # the centred square of the upright picture, upright
                out = out.transpose(ORIENTATION[orientation])
    except FileNotFoundError as err:
        raise DataError(f"image {path} does not exist") from err
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"image {path} cannot be decoded: {err}") from err
    return _to_chw(out)


def resize_array(pixels: np.ndarray, size: int, crop: Optional[int] = None) -> np.ndarray:
    """(H, W) or (H, W, C) uint8 -> (C, size, size) uint8 with the same crop and resize rule."""
    height, width = pixels.shape[:2]
    box = centre_box(width, height, crop)
    if box == (0, 0, width, height) and width == size and height == size:
        return _to_chw(pixels)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    return _to_chw(image.resize((size, size), RESAMPLE, box=box))


def decode_rows(index: ImageIndex, start: int, stop: int, size: int, out: np.ndarray,
                skip_bad: bool = False) -> list[int]:
    """Decode rows ``start:stop`` of ``index`` into ``out`` ((stop - start, C, size, size) uint8).

    Returns the row numbers (absolute, in ``index``) that could not be decoded; those are left
    zero in ``out``. Without ``skip_bad`` the first bad image raises DataError instead.
    """
    bad = []
    for row in range(start, stop):
        try:
            if index.pixels is not None:
                try:
                    out[row - start] = resize_array(index.pixels[row], size, index.crop)
                except ValueError as err:
                    raise DataError(f"image row {row} of {index.base}: {err}") from err
            else:  # a symlink that leads outside the image folder is not followed
                out[row - start] = decode_image(inside_root(index.base / index.files[row], index.base, "image"),
                                                size, index.crop, index.channels)
        except DataError:
            if not skip_bad:
                raise
            bad.append(row)
    return bad


def split_counts(y: np.ndarray, split: np.ndarray, names: Sequence[str]) -> dict:
    """{split name: {"rows": n, attribute: positives}} for ``Dataset.info``."""
    out = {}
    for part, name in enumerate(("train", "valid", "test")):
        rows = split == part
        out[name] = {"rows": int(rows.sum()),
                     **{a: int(y[rows, j].sum()) for j, a in enumerate(names)}}
    return out


def check_both_values(y: np.ndarray, split: np.ndarray, names: Sequence[str], where: str, hint: str) -> None:
    """Refuse a binary attribute that has one value only, in all rows or in the training rows: no
    model can learn it, and a judge would score it perfect. ``where`` starts the message (e.g.
    "labels.csv, column"), ``hint`` ends it."""
    train = split == 0
    for j, name in enumerate(names):
        for rows, what in ((slice(None), "every row"), (train, "every training row")):
            column = y[rows, j]
            if len(column) and (column == column[0]).all():
                raise one_value(f"{where} {name}", what, int(column[0]), hint)


def describe_bad(index: ImageIndex, bad: Sequence[int], limit: int = 10) -> dict:
    """Facts about skipped images for ``Dataset.info``: a count and the first few names."""
    names = [index.files[i] if index.files is not None else f"row {i}" for i in bad[:limit]]
    return {"bad_images": len(bad), "bad_image_examples": names}


def decode_index(index: ImageIndex, size: int, skip_bad: bool = False) -> Dataset:
    """Decode every row of ``index`` in memory (no cache) and return the Dataset.

    x: (N', C, size, size) uint8 where N' = N minus the bad images skipped (``skip_bad``).
    For large sets use ``csvae.data.images.prepare_data`` (parallel, cached, resumable).
    """
    n = len(index)
    x = np.zeros((n, index.channels, size, size), dtype=np.uint8)
    bad = decode_rows(index, 0, n, size, x, skip_bad=skip_bad)
    keep = np.setdiff1d(np.arange(n), np.asarray(bad, dtype=np.int64))
    info = dict(index.info, size=size, **describe_bad(index, bad))
    if bad:
        x, index = x[keep], index.select(keep)
        info["counts"] = split_counts(index.y, index.split, index.attribute_names)
    return Dataset(x=x, y=index.y, split=index.split, attribute_names=list(index.attribute_names),
                   label_kind=index.label_kind, info=info)


def read_text(path: Path) -> str:
    """The text of a UTF-8 label file, without a byte-order mark; an unreadable file, or one that
    is not UTF-8, is a DataError naming it."""
    try:
        return read_bounded(path, MAX_LABEL_FILE_BYTES, "label file").decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"cannot read {path}: it is not UTF-8 text (byte {err.object[err.start]:#04x} at "
                        f"offset {err.start}); save it as UTF-8") from err
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from err


def only_file(folder: Path, default: str, suffix: str, what: str) -> Path:
    """``folder/default`` if it exists, else the only file ending in ``suffix`` in ``folder``."""
    if (folder / default).is_file():
        return folder / default
    found = sorted(folder.glob(f"*{suffix}"))
    if len(found) != 1:
        raise DataError(f"expected {default} or exactly one {suffix} file in {folder}, found "
                        f"{[p.name for p in found]}; {what}")
    return found[0]


def present_rows(files: Sequence[str], have: np.ndarray, strict: bool, label_file: Path, folder: Path) -> np.ndarray:
    """Indices of the listed images that exist (``have``); with ``strict`` a missing one is an
    error, and none at all always is. Both messages name the label file and the image folder; the
    missing images of a non-strict read are counted in a warning that names the first five."""
    missing = int((~have).sum())
    first = [f for f, h in zip(files, have) if not h][:5]
    if missing and strict:
        raise DataError(f"{missing} images listed in {label_file} are missing from {folder}, "
                        f"e.g. {', '.join(first)} (strict)")
    if not have.any():
        raise DataError(f"none of the {len(files)} images listed in {label_file} is in {folder}")
    if missing:
        log.warning("%d of the %d images listed in %s are missing from %s and left out (first: %s); "
                    "data.strict (--strict) makes this an error", missing, len(files), label_file, folder,
                    ", ".join(first))
    return np.flatnonzero(have)
