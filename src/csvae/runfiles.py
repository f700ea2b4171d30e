"""The formats of the files that more than one stage reads, beside their layout (``rundir``).

``evaluate`` writes them; the figures and the report read them without importing the evaluation:

- arrays.npz (``RunDir.arrays``): named numpy arrays, no pickle (``save_arrays``, ``load_arrays``),
  images stored as uint8 and read back in [0, 1] with ``unit_float``;
- the judge's test scores in metrics.json (attribute name -> accuracy, plain and balanced), as one
  line of text (``accuracy_text``).
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from csvae.data.checks import DataError
from csvae.fileio import atomic_write_bytes
from csvae.safeio import check_regular


def save_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write ``arrays`` as one .npz file, atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a .npz file written by ``save_arrays`` (no pickle); DataError naming the file
    when it is missing or unreadable."""
    with _reading(Path(path)) as path:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def array_names(path: str | os.PathLike) -> set[str]:
    """The names of the arrays of a .npz file, read from its directory without loading one;
    DataError as ``load_arrays``."""
    with _reading(Path(path)) as path:
        with zipfile.ZipFile(path) as archive:
            return {name[:-len(".npy")] for name in archive.namelist() if name.endswith(".npy")}


@contextlib.contextmanager
def _reading(path: Path):
    """Read arrays file ``path`` (a regular file: a FIFO would block) inside the block; its errors
    become a DataError naming the file and saying to evaluate the run (again)."""
    try:
        check_regular(path, "arrays file")
        yield path
    except FileNotFoundError:
        raise DataError(f"{path} is missing: evaluate the run first (`csvae evaluate {path.parent}`)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"{path} is not a readable arrays file ({type(err).__name__}: {err}); evaluate the run "
                        f"again (`csvae evaluate {path.parent}`)") from None


def unit_float(images) -> np.ndarray:
    """uint8 -> float32 / 255; float -> float32 as is."""
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def accuracy_text(test_accuracy: dict[str, float], balanced: Optional[dict[str, float]] = None) -> str:
    """"name 0.950 (balanced 0.900), ..." for a judge's test scores; the balanced figure is shown
    where it is known and differs from the plain one (an imbalanced test split)."""
    parts = []
    for name, value in test_accuracy.items():
        other = (balanced or {}).get(name)
        shown = other is not None and np.isfinite(other) and abs(other - value) >= 5e-4
        extra = f" (balanced {other:.3f})" if shown else ""
        parts.append(f"{name} {value:.3f}{extra}")
    return ", ".join(parts)
