"""Toronto Face Database (TFD): a .mat file of 48x48 greyscale faces with expression labels.

Fields read (MATLAB v5 through scipy.io.loadmat, v7.3 through h5py):
  * ``images``: N greyscale images, stored (N, H, W) or (H, W, N) (the axis of length N is found
    from the label count); uint8, or floats in [0, 1] (scaled by 255) or [0, 255];
  * ``labs_ex``: N expression labels, 1..7 = anger, disgust, fear, happy, sad, surprise, neutral,
    and -1 for unlabelled images;
  * ``labs_id``: N identity numbers (checked for shape, counted in ``info``);
  * ``folds``: (N, 5) (or (5, N)), per fold 0 unlabelled / 1 train / 2 valid / 3 test.

Only the images of the chosen fold (``fold``, 0..4) with a fold value of 1, 2 or 3 are returned,
and those must be labelled (a row in a fold's train/valid/test with ``labs_ex`` = -1 is an error).
The label is categorical: y is one-hot over the 7 expressions (``label_kind="categorical"``).

h5py reads a MATLAB array with its axes reversed (MATLAB is column-major), so every field read
from a v7.3 file is transposed back before the checks above; both formats then look the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from csvae.constraints import is_integer
from csvae.data.dataset import Dataset
from csvae.data.imageio import DataError, ImageIndex, decode_index, only_file, split_counts, stamp

EXPRESSIONS = ["anger", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FIELDS = ("images", "labs_ex", "labs_id", "folds")
N_FOLDS = 5


def locate_tfd(root: str | os.PathLike) -> Path:
    """The .mat file: ``root`` itself, or in folder ``root`` TFD_48x48.mat or its only .mat file."""
    root = Path(root)
    if root.is_file():
        return root
    if not root.is_dir():
        raise DataError(f"TFD path {root} does not exist")
    return only_file(root, "TFD_48x48.mat", ".mat", "give the .mat file itself as the root")


def tfd_sources(root: str | os.PathLike) -> dict[str, dict]:
    """Stamp (size, mtime) of the .mat file read."""
    path = locate_tfd(root)
    return {path.name: stamp(path)}


def load_mat_fields(path: str | os.PathLike, fields=FIELDS) -> dict[str, np.ndarray]:
    """Read ``fields`` of a MATLAB v5 or v7.3 file as numpy arrays in MATLAB's axis order."""
    path = Path(path)
    import h5py

    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                missing = [k for k in fields if k not in f]
                if missing:
                    raise DataError(f"{path}: missing field {missing[0]!r} (found {sorted(f.keys())})")
                return {k: np.asarray(f[k][()]).T for k in fields}
        import scipy.io

        data = scipy.io.loadmat(path, variable_names=list(fields))
    except DataError:
        raise
    except Exception as err:  # scipy and h5py raise many kinds (MatReadError, IndexError, ...)
        raise DataError(f"cannot read {path} as a MATLAB file: {err}") from err
    missing = [k for k in fields if k not in data]
    if missing:
        found = sorted(k for k in data if not k.startswith("__"))
        raise DataError(f"{path}: missing field {missing[0]!r} (found {found})")
    return {k: np.asarray(data[k]) for k in fields}


def _vector(path: Path, name: str, array: np.ndarray, n: int, shapes: str) -> np.ndarray:
    if array.size != n or array.ndim > 2 or (array.ndim == 2 and 1 not in array.shape):
        raise DataError(f"{path}: fields disagree: {name} should hold {n} values; {shapes}")
    return array.reshape(-1)


def _whole(path: Path, name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as int64, refusing anything that is not a whole number (NaN, 2.5, text)."""
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise DataError(f"{path}: {name} has type {values.dtype}, expected whole numbers")
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
    if bad.size:
        raise DataError(f"{path}: {name}[{bad[0]}] = {float(values[bad[0]]):g}, expected a whole number")
    return values.astype(np.int64)


def _images(path: Path, images: np.ndarray, n: int, shapes: str) -> np.ndarray:
    """(N, H, W) from (N, H, W) or (H, W, N)."""
    if images.ndim != 3:
        raise DataError(f"{path}: images should have 3 axes (N images of H x W); {shapes}")
    if images.shape[0] == n:
        return images
    if images.shape[2] == n:
        return np.moveaxis(images, 2, 0)
    raise DataError(f"{path}: fields disagree: no axis of images has the {n} labels of labs_ex; {shapes}")


def _to_uint8(path: Path, images: np.ndarray) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.number) or np.iscomplexobj(images):
        raise DataError(f"{path}: images have type {images.dtype}, expected real numbers")
    finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{path}: image {first} has a NaN or infinite pixel ({int((~finite).sum())} images "
                        f"do); every pixel must be a finite number")
    low, high = float(images.min(initial=0)), float(images.max(initial=0))
    if low < 0 or high > 255:
        raise DataError(f"{path}: image values run from {low} to {high}, expected 0..255 or 0..1")
    scale = 255.0 if high <= 1.0 and np.issubdtype(images.dtype, np.floating) else 1.0
    return np.clip(np.rint(images * scale), 0, 255).astype(np.uint8)


def index_tfd(root: str | os.PathLike, fold: int = 0, crop: Optional[int] = None) -> ImageIndex:
    """Read and check a TFD .mat file; keep the labelled images of ``fold`` (module doc).

    Returns an ImageIndex holding the (N, 48, 48) uint8 pixels, y (N, 7) one-hot, split (N,).
    """
    if not is_integer(fold, numpy=True) or not 0 <= fold < N_FOLDS:
        raise DataError(f"TFD fold must be 0..{N_FOLDS - 1}, got {fold!r}")
    path = locate_tfd(root)
    fields = load_mat_fields(path)
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in fields.items())
    n = fields["labs_ex"].size
    labels = _whole(path, "labs_ex", _vector(path, "labs_ex", fields["labs_ex"], n, shapes))
    identity = _vector(path, "labs_id", fields["labs_id"], n, shapes)
    folds = fields["folds"]
    if folds.shape == (N_FOLDS, n) and folds.shape != (n, N_FOLDS):
        folds = folds.T
    if folds.shape != (n, N_FOLDS):
        raise DataError(f"{path}: fields disagree: folds should be ({n}, {N_FOLDS}); {shapes}")
    images = _to_uint8(path, _images(path, fields["images"], n, shapes))

    bad = np.flatnonzero(~np.isin(labels, [-1, 1, 2, 3, 4, 5, 6, 7]))
    if bad.size:
        raise DataError(f"{path}: labs_ex[{bad[0]}] = {labels[bad[0]]}, expected 1..7 or -1")
    bad = np.argwhere(~np.isin(folds, [0, 1, 2, 3]))
    if bad.size:
        i, j = bad[0]
        raise DataError(f"{path}: folds[{i}, {j}] = {folds[i, j]}, expected 0, 1, 2 or 3")
    chosen = folds[:, fold].astype(np.int64)
    rows = np.flatnonzero(chosen > 0)
    unlabelled = rows[labels[rows] == -1]
    if unlabelled.size:
        raise DataError(f"{path}: image {unlabelled[0]} is in fold {fold} "
                        f"(folds = {chosen[unlabelled[0]]}) but has labs_ex = -1")
    if rows.size == 0:
        raise DataError(f"{path}: fold {fold} holds no images")
    y = np.eye(len(EXPRESSIONS), dtype=np.float32)[labels[rows] - 1]
    split = (chosen[rows] - 1).astype(np.int8)
    info = {"reader": "tfd", "file": path.name, "fold": int(fold), "images_in_file": int(n),
            "labelled_images": int((labels > 0).sum()), "identities": int(len(np.unique(identity[rows]))),
            "image_shape": list(images.shape[1:]), "crop": crop,
            "counts": split_counts(y, split, EXPRESSIONS)}
    return ImageIndex(base=path, files=None, y=y, split=split, attribute_names=list(EXPRESSIONS),
                      label_kind="categorical", crop=crop, channels=1, info=info,
                      pixels=images[rows])


def read_tfd(root: str | os.PathLike, size: int = 48, fold: int = 0,
             crop: Optional[int] = None) -> Dataset:
    """Read TFD into memory: x (N, 1, size, size) uint8, y (N, 7) one-hot (module doc)."""
    return decode_index(index_tfd(root, fold, crop), size)
