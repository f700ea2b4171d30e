"""Writing a grid of images where the user asked, without ever replacing an input or a file
csvae did not write (``MARK``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from csvae.apply.run import PathLike
from csvae.constraints import is_integer
from csvae.data.checks import DataError
from csvae.fileio import atomic_write_bytes
from csvae.safeio import check_regular


def to_uint8(images) -> np.ndarray:
    """Images as uint8: uint8 as they are, floats in [0, 1] scaled (clipped) to 0..255."""
    images = images.numpy() if torch.is_tensor(images) else np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


OUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""The suffixes of --out and the format each writes."""
MARK = "csvae grid"
"""Written into every grid (PNG text chunk "Software", JPEG comment): the only existing files an
output may replace are grids csvae wrote."""


def written_by_csvae(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        check_regular(path, "grid")  # a FIFO would block Image.open
        with Image.open(path) as image:
            comment = image.info.get("comment", b"")  # bytes in a JPEG, text in a PNG text chunk
            comment = comment.decode("latin-1") if isinstance(comment, bytes) else comment
            return MARK in (image.info.get("Software"), comment)
    except (OSError, ValueError, UnidentifiedImageError):
        return False


def check_out(out: PathLike, inputs: Sequence[Optional[PathLike]]) -> Path:
    """The grid's path: a .png, .jpg or .jpeg file that is none of ``inputs`` (image files, the run,
    the judge) and, if it exists, a grid csvae wrote; anything else is a DataError naming it."""
    out = Path(out)
    if out.is_dir():
        raise DataError(f"--out {out} is a folder; give the path of the PNG file to write")
    if out.suffix.lower() not in OUT_FORMATS:
        raise DataError(f"--out {out}: unknown image suffix {out.suffix!r}; the grid is written as PNG (.png) "
                        f"or JPEG (.jpg, .jpeg)")
    for source in (Path(s) for s in inputs if s is not None):
        if out.resolve() == source.resolve() or (out.exists() and source.exists() and out.samefile(source)):
            raise DataError(f"--out {out} is the input {source}; the grid would replace it, so choose another "
                            f"file name")
    if out.exists() and not written_by_csvae(out):
        raise DataError(f"--out {out} exists and is not a grid csvae wrote; it is not replaced: choose another "
                        f"file name, or delete it first")
    return out


def write_grid(rows: list[np.ndarray], out: Path, scale: int) -> Path:
    """Tile ``rows`` and write them to ``out`` atomically, in the format of its suffix, marked."""
    from PIL import Image, PngImagePlugin

    from csvae.figures import tile

    if not is_integer(scale) or scale < 1:
        raise DataError(f"scale must be a positive integer, got {scale!r}")
    image = Image.fromarray(tile(np.stack([to_uint8(r) for r in rows])))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    if OUT_FORMATS[out.suffix.lower()] == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Software", MARK)
        image.save(buffer, format="PNG", pnginfo=text)
    else:
        image.save(buffer, format="JPEG", quality=95, comment=MARK)
    atomic_write_bytes(out, buffer.getvalue())
    return out
