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
from PIL import Image, UnidentifiedImageError

from csvae.apply.run import decode_like_card
from csvae.config import ConfigError
from csvae.data import load_dataset
from csvae.data.checks import DataError
from csvae.data.imageio import resize_array
from csvae.explore.views import RunView
from csvae.runs import run_data

log = logging.getLogger("csvae.explore")

TEST_EXAMPLES = {"image": 16, "vector": 400}
"""Test examples offered per run kind (the first of the test split)."""
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WebP", "TIFF", "PPM")
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
    source: str = ""
    """Where it came from, for exports: the image file's path, the test example, or the upload."""


def for_run(pixels: np.ndarray, view: RunView) -> np.ndarray:
    """uint8 (C, H, W) pixels as ``view``'s run reads images: the largest centred square at its size and channels."""
    channels, size, _ = view.model.x_shape
    if tuple(pixels.shape) == tuple(view.model.x_shape):
        return pixels
    hwc = pixels.transpose(1, 2, 0)
    image = Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc)
    image = image.convert("L" if channels == 1 else "RGB")
    return resize_array(np.asarray(image), size, None)


def covering_rows(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of at most ``n`` rows of labels y (N, k), in order: for every attribute, the first
    row of each of its values (0 and 1) that occurs, then the first rows, so that the inputs hold
    both classes of every attribute (a donor and a removal for each) wherever the data do."""
    chosen: list[int] = []
    for column in range(y.shape[1]):
        for value in (0, 1):
            rows = np.flatnonzero(y[:, column] == value)
            if len(rows) and not (y[chosen, column] == value).any() and len(chosen) < n:
                chosen.append(int(rows[0]))
    rest = [i for i in range(len(y)) if i not in set(chosen)][:n - len(chosen)]
    return np.array(sorted(chosen + rest), dtype=int)


def covers(y: np.ndarray) -> bool:
    """Whether labels y (N, k) hold both values of every attribute."""
    return bool(len(y)) and all(len(np.unique(y[:, c])) == 2 for c in range(y.shape[1]))


def test_examples(view: RunView) -> tuple[np.ndarray, np.ndarray]:
    """The run's test examples on offer and their labels (``covering_rows`` of the test split for
    image runs, the first ones for vector runs): from arrays.npz (``csvae evaluate``) when its
    stored inputs hold both classes of every attribute, else read from the data its card names
    (refused if they changed), else the stored inputs as they are."""
    n = TEST_EXAMPLES[view.kind]
    arrays = view.arrays
    stored = view.kind == "image" and "inputs" in arrays and "input_labels" in arrays
    if stored and covers(arrays["input_labels"][:n]):
        return arrays["inputs"][:n], arrays["input_labels"][:n]
    try:
        data = load_dataset(run_data(view.model.run_config, view.run.root))
        view.card.check_data(data, f"explore {view.run.root}")
    except (DataError, ConfigError, OSError) as err:
        if stored:
            return arrays["inputs"][:n], arrays["input_labels"][:n]
        log.warning("%s: its test examples cannot be read (%s); use --images or upload images", view.run.root, err)
        return np.zeros((0, *view.model.x_shape)), np.zeros((0, len(view.names)), np.float32)
    x, y = data.part("test")
    rows = covering_rows(np.asarray(y), n) if view.kind == "image" else np.arange(min(n, len(x)))
    return np.asarray(x[rows]), np.asarray(y[rows], np.float32)


def describe(key: str, entry: Entry) -> dict:
    """An input as the page lists it: its id, name and source."""
    return {"id": key, "name": entry.name, "source": entry.source}


def upload_reason(err: DataError) -> str:
    """What was wrong with an uploaded file, in words (the reader's message names a file, which
    an upload is not)."""
    cause = err.__cause__
    if isinstance(cause, UnidentifiedImageError):
        return f"its content is not in an image format this server reads ({', '.join(FORMATS)})"
    if isinstance(cause, Image.DecompressionBombError):
        return "it has too many pixels to decode safely"
    if isinstance(cause, (OSError, SyntaxError, ValueError)):
        return f"it is damaged or truncated ({re.sub(r'<_io.BytesIO object at 0x[0-9a-f]+>', 'the file', str(cause))})"
    text = re.sub(r"image <_io.BytesIO object at 0x[0-9a-f]+>: (\d+ x \d+ pixels)", r"it has \1", str(err))
    return re.sub(r"image <_io.BytesIO object at 0x[0-9a-f]+> ", "it ", text)


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
                name = f"test {j} ({view.card.name})"
                self.entries[f"test-{len(self.entries):x}"] = Entry(
                    name, self._array_loader(x[j]), np.asarray(y[j], np.float32),
                    f"{name}: a test example of {view.card.name}, as {view.run.root.resolve()} reads it")
        for number, path in enumerate(image_files):
            self.entries[f"file-{number:x}"] = Entry(path.name, self._file_loader(path), source=str(path.resolve()))

    def _array_loader(self, x: np.ndarray) -> Callable[[int], np.ndarray]:
        return lambda r: for_run(x, self.views[r]) if self.views[r].kind == "image" else x

    def _file_loader(self, path: Path) -> Callable[[int], np.ndarray]:
        def load(r: int) -> np.ndarray:
            return decode_like_card(path, self.views[r].card, self.views[r].model.x_shape)
        return load

    def listing(self) -> list[dict]:
        with self._lock:
            items = list(self.entries.items()) + list(self.uploads.items())
        return [describe(key, entry) for key, entry in items]

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
        try:
            return decode_like_card(io.BytesIO(data), view.card, view.model.x_shape, max_pixels=MAX_UPLOAD_PIXELS)
        except DataError as err:
            raise UploadError(f"{name} is not an image this run can read: {upload_reason(err)}") from None

    def add_upload(self, data: bytes, name: str) -> dict:
        """Keep an uploaded image in memory (decoded for every run now, so a bad file fails here)
        and return its listing ({"id", "name", "source"}); UploadError when it is not an image
        every run can read."""
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
        entry = Entry(f"{name} (upload)", lambda r: decoded[r], source=f"{name} (uploaded, {len(data)} bytes)")
        with self._lock:
            self.uploads[key] = entry
            while len(self.uploads) > MAX_UPLOADS:
                self.uploads.popitem(last=False)
        return describe(key, entry)
