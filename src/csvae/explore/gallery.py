"""The inputs the explorer offers: the runs' own test examples, the image files given with
``--images`` (listed once at start), and uploads (kept in memory, never written to disk).

Every input has an id the server made ("test-3", "file-12", "upload-<hex>"); requests name inputs
only by these ids, so no request reaches the file system beyond the files listed at start. An
image is decoded for each run as that run's images were read (its crop, size and channels).
"""

from __future__ import annotations

import io
import logging
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image

from csvae.config import ConfigError
from csvae.data import load_dataset
from csvae.data.checks import DataError
from csvae.data.imageio import decode_image, resize_array
from csvae.explore.views import RunView

log = logging.getLogger("csvae.explore")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_LISTED = 500
"""Image files listed from --images (the first, by name)."""
TEST_EXAMPLES = {"image": 16, "vector": 400}
"""Test examples offered per run kind (the first of the test split)."""
MAX_UPLOADS = 64
"""Uploads kept in memory; the oldest is forgotten beyond this."""
ID = re.compile(r"^(test|file|upload)-([0-9a-f]{1,32})$")
MAX_UPLOAD_PIXELS = 1 << 24
"""Largest upload decoded (width x height, 4096 x 4096), read from its header before decoding."""
DECODES = 2
"""Uploads decoded at once; more wait (up to ``DECODE_WAIT`` seconds, then are refused)."""
DECODE_WAIT = 30.0


class UploadError(ValueError):
    """An upload that is not an image the runs can read; the message says why."""


@dataclass
class Entry:
    """One input: its display name and, per run index, its pixels (or vector) for that run."""

    name: str
    load: Callable[[int], np.ndarray]
    labels: Optional[np.ndarray] = None
    """Known labels (test examples), else None (inferred)."""


def list_image_files(items: Sequence[str | Path]) -> list[Path]:
    """Image files named by ``items`` (files, or folders whose image files are taken, sorted by
    name, not recursive); DataError naming an item that does not exist or holds no image."""
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
        log.warning("--images: %d image files; the first %d are offered", len(found), MAX_LISTED)
    return found[:MAX_LISTED]


def for_run(pixels: np.ndarray, view: RunView) -> np.ndarray:
    """uint8 (C, H, W) pixels as ``view``'s run reads images: the largest centred square at its size and channels."""
    channels, size, _ = view.model.x_shape
    if tuple(pixels.shape) == tuple(view.model.x_shape):
        return pixels
    hwc = pixels.transpose(1, 2, 0)
    image = Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc)
    image = image.convert("L" if channels == 1 else "RGB")
    return resize_array(np.asarray(image), size, None)


def test_examples(view: RunView) -> tuple[np.ndarray, np.ndarray]:
    """The run's first test examples and their labels: from arrays.npz (``csvae evaluate``) when
    it holds them, else read from the data its card names (refused if they changed)."""
    n = TEST_EXAMPLES[view.kind]
    arrays = view.arrays
    if view.kind == "image" and "inputs" in arrays and "input_labels" in arrays:
        return arrays["inputs"][:n], arrays["input_labels"][:n]
    try:
        data = load_dataset(view.model.run_config.data)
        view.card.check_data(data, f"explore {view.run.root}")
    except (DataError, ConfigError, OSError) as err:
        log.warning("%s: its test examples cannot be read (%s); use --images or upload images", view.run.root, err)
        return np.zeros((0, *view.model.x_shape)), np.zeros((0, len(view.names)), np.float32)
    x, y = data.part("test")
    return x[:n], np.asarray(y[:n], np.float32)


class Gallery:
    """The inputs on offer, by id; thread-safe for uploads."""

    def __init__(self, views: Sequence[RunView], image_files: Sequence[Path] = ()):
        self.views = list(views)
        self.entries: "OrderedDict[str, Entry]" = OrderedDict()
        self.uploads: "OrderedDict[str, Entry]" = OrderedDict()
        self._lock = threading.Lock()
        self._decodes = threading.BoundedSemaphore(DECODES)
        seen = set()
        for view in self.views:  # runs of the same data share their test examples
            if view.card.fingerprint in seen:
                continue
            seen.add(view.card.fingerprint)
            x, y = test_examples(view)
            for j in range(len(x)):
                self.entries[f"test-{len(self.entries):x}"] = Entry(
                    f"test {j} ({view.card.name})", self._array_loader(x[j]), np.asarray(y[j], np.float32))
        for number, path in enumerate(image_files):
            self.entries[f"file-{number:x}"] = Entry(path.name, self._file_loader(path))

    def _array_loader(self, x: np.ndarray) -> Callable[[int], np.ndarray]:
        return lambda r: for_run(x, self.views[r]) if self.views[r].kind == "image" else x

    def _file_loader(self, path: Path) -> Callable[[int], np.ndarray]:
        def load(r: int) -> np.ndarray:
            channels, size, _ = self.views[r].model.x_shape
            return decode_image(path, size, self.views[r].card.crop, channels)
        return load

    def listing(self) -> list[dict]:
        with self._lock:
            items = list(self.entries.items()) + list(self.uploads.items())
        return [{"id": key, "name": entry.name} for key, entry in items]

    def get(self, image_id: str) -> Optional[Entry]:
        """The entry of a server-made id; None for anything else (the server answers 404)."""
        if not isinstance(image_id, str) or not ID.match(image_id):
            return None
        with self._lock:
            return self.entries.get(image_id) or self.uploads.get(image_id)

    @staticmethod
    def _decode(data: bytes, name: str, view: RunView) -> np.ndarray:
        """An upload as ``view``'s run reads images; UploadError when it cannot, or when it has more
        than ``MAX_UPLOAD_PIXELS`` pixels (refused from its header, before decoding)."""
        channels, size, _ = view.model.x_shape
        try:
            return decode_image(io.BytesIO(data), size, view.card.crop, channels, max_pixels=MAX_UPLOAD_PIXELS)
        except DataError as err:
            reason = str(err).split(": ", 1)[-1] if ": " in str(err) else str(err)
            raise UploadError(f"{name} is not an image this run can read ({reason})") from None

    def add_upload(self, data: bytes, name: str) -> str:
        """Keep an uploaded image in memory (decoded for every run now, so a bad file fails here)
        and return its id; UploadError when it is not an image every run can read."""
        if self.views and self.views[0].kind != "image":
            raise UploadError("this explorer shows vector runs; uploads are images")
        if not data:
            raise UploadError(f"{name}: the upload is empty")
        if not self._decodes.acquire(timeout=DECODE_WAIT):
            raise UploadError(f"{name}: the explorer is busy decoding other uploads; try again")
        try:
            decoded = [self._decode(data, name, view) for view in self.views]
        finally:
            self._decodes.release()
        key = f"upload-{secrets.token_hex(8)}"
        entry = Entry(f"{name} (upload)", lambda r: decoded[r])
        with self._lock:
            self.uploads[key] = entry
            while len(self.uploads) > MAX_UPLOADS:
                self.uploads.popitem(last=False)
        return key
