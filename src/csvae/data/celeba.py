"""CelebA: parse and check the label files, choose attributes, split and balance; decode on demand.

Layouts read (the first one found wins, searched in ``root``, ``root/Anno`` and ``root/Eval``):
  * attributes: ``list_attr_celeba.txt`` (line 1 the row count, line 2 the 40 names, then
    ``NNNNNN.jpg`` and 40 values of 1/-1 separated by any whitespace) or ``list_attr_celeba.csv``
    (header ``image_id,5_o_Clock_Shadow,...``);
  * partition: ``list_eval_partition.txt`` (``file 0|1|2``) or ``list_eval_partition.csv``
    (header ``image_id,partition``); optional (without it every row is in partition 0);
  * identities: ``identity_CelebA.txt`` (``file id``), optional;
  * images: ``img_align_celeba/img_align_celeba/``, ``img_align_celeba/`` or ``Img/img_align_celeba/``.

Rules (all documented in docs/data.md):
  * Missing images: rows whose image file is absent are dropped and counted in
    ``info["missing_images"]``; with ``strict=True`` any missing image is an error.
  * ``facial_hair`` (a derived attribute) = Goatee == 1 or Mustache == 1 or No_Beard == -1.
  * Empty partitions: if no row is in partition 1 (valid) or 2 (test), ``holdout_fraction`` of all
    rows are moved there from partition 0, whole identities at a time when identities are known
    (a seeded permutation of identities, taken until the count is reached), so no identity is in
    two splits; otherwise single rows.
  * Balance (``balance=True``, what ``data.balance: discard`` asks for): in the training split only,
    rows are grouped by their label combination (2^k groups) and every group is subsampled, seeded,
    to the size of the smallest. For k = 1 this keeps all positives and as many negatives (when
    positives are rarer). Valid and test keep their natural frequencies.
  * Crop: the centred 148x148 square of the 178x218 aligned image (``crop``), then resize.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from csvae.data.balance import MAX_ATTRIBUTES, discard_rows
from csvae.data.dataset import Dataset
from csvae.data.imageio import (
    DataError,
    ImageIndex,
    check_both_values,
    decode_index,
    present_rows,
    read_text,
    split_counts,
    stamp,
)

DEFAULT_CROP = 148
ALIGNED_SIZE = (178, 218)
"""Width and height of CelebA's aligned images, which the crop is cut from."""
DERIVED = {"facial_hair": "Goatee == 1 or Mustache == 1 or No_Beard == -1"}
PRESETS = {
    "celeba-glasses": ("Eyeglasses",),
    "celeba-facialhair": ("facial_hair",),
    "celeba-glasses-facialhair": ("Eyeglasses", "facial_hair"),
    "celeba-smiling": ("Smiling",),
}


def _find(root: Path, names: Sequence[str]) -> Optional[Path]:
    for folder in (root, root / "Anno", root / "Eval"):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def locate_celeba(root: str | os.PathLike) -> dict[str, Optional[Path]]:
    """Paths of the CelebA files under ``root``: attributes, partition, identity, images (folder).

    Raises DataError when the attribute file or the image folder is not found.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"CelebA root {root} is not a folder")
    attributes = _find(root, ("list_attr_celeba.txt", "list_attr_celeba.csv"))
    if attributes is None:
        raise DataError(f"no list_attr_celeba.txt or list_attr_celeba.csv in {root} "
                        f"(nor in its Anno/ folder)")
    images = next((p for p in (root / "img_align_celeba" / "img_align_celeba",
                               root / "img_align_celeba", root / "Img" / "img_align_celeba")
                   if p.is_dir()), None)
    if images is None:
        raise DataError(f"no image folder img_align_celeba/ in {root}")
    return {"attributes": attributes,
            "partition": _find(root, ("list_eval_partition.txt", "list_eval_partition.csv")),
            "identity": _find(root, ("identity_CelebA.txt",)),
            "images": images}


def celeba_sources(root: str | os.PathLike) -> dict[str, dict]:
    """Stamps (size/mtime, or entry count/mtime for the image folder) of the files read."""
    root = Path(root)
    return {str(p.relative_to(root)): stamp(p) for p in locate_celeba(root).values() if p is not None}


def _check_values(path: Path, names: list[str], rows: list[tuple[int, list[str]]]) -> np.ndarray:
    """(N, k) int8 of +-1 from rows of (line, [file, v1..vk]); errors name file and line."""
    for line, parts in rows:
        if len(parts) != len(names) + 1:
            raise DataError(f"{path}, line {line}: expected a file name and {len(names)} values, "
                            f"got {len(parts)} fields")
        if not {"1", "-1"}.issuperset(parts[1:]):
            column = next(i for i, v in enumerate(parts[1:]) if v not in ("1", "-1"))
            raise DataError(f"{path}, line {line}: value {parts[column + 1]!r} of "
                            f"{names[column]} is not 1 or -1")
    return np.array([parts[1:] for _, parts in rows], dtype=np.int8).reshape(len(rows), len(names))


def _check_unique(path: Path, rows: list[tuple[int, list[str]]]) -> None:
    seen: dict[str, int] = {}
    for line, parts in rows:
        if parts[0] in seen:
            raise DataError(f"{path}, line {line}: duplicate file name {parts[0]} "
                            f"(first on line {seen[parts[0]]})")
        seen[parts[0]] = line


def _header_names(path: Path, names: list[str], line: int) -> list[str]:
    if not names:
        raise DataError(f"{path}, line {line}: expected the attribute names")
    duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if duplicate:
        raise DataError(f"{path}, line {line}: attribute {duplicate} is named twice")
    return names


def parse_attributes(path: str | os.PathLike) -> tuple[list[str], list[str], np.ndarray]:
    """Read ``list_attr_celeba.txt`` or ``.csv``: (names (k), files (N), values (N, k) int8 of +-1).

    Checks the count line (txt), the number of values per row, that values are 1 or -1, and that
    no file name repeats; each error names the file and the line.
    """
    path = Path(path)
    text = read_text(path)
    if path.suffix == ".csv":
        table = list(csv.reader(text.splitlines()))
        if not table:
            raise DataError(f"{path} is empty")
        names = _header_names(path, [n.strip() for n in table[0][1:]], 1)
        rows = [(i + 1, [v.strip() for v in r]) for i, r in enumerate(table) if i > 0 and r]
    else:
        lines = text.splitlines()
        if len(lines) < 2:
            raise DataError(f"{path}: expected a count line and a line of attribute names")
        try:
            count = int(lines[0].strip())
        except ValueError:
            raise DataError(f"{path}, line 1: expected the number of rows, got {lines[0]!r}") from None
        names = _header_names(path, lines[1].split(), 2)
        rows = [(i + 3, line.split()) for i, line in enumerate(lines[2:]) if line.strip()]
        if count != len(rows):
            raise DataError(f"{path}, line 1: says {count} rows but the file has {len(rows)}")
    values = _check_values(path, names, rows)
    _check_unique(path, rows)
    return names, [parts[0] for _, parts in rows], values


def parse_pairs(path: str | os.PathLike, what: str, allowed: Optional[set[str]] = None) -> dict[str, str]:
    """Read a two-column file -> {file: value}: ``file value`` lines (.txt) or a CSV with a header.

    ``what`` names the value in messages; ``allowed`` restricts the values. Errors name the line.
    """
    path = Path(path)
    text = read_text(path)
    if path.suffix == ".csv":
        rows = [(i + 1, [v.strip() for v in r]) for i, r in enumerate(csv.reader(text.splitlines()))
                if i > 0 and r]
    else:
        rows = [(i + 1, line.split()) for i, line in enumerate(text.splitlines()) if line.strip()]
    out: dict[str, str] = {}
    for line, parts in rows:
        if len(parts) != 2:
            raise DataError(f"{path}, line {line}: expected a file name and a {what}, "
                            f"got {len(parts)} fields")
        if allowed is not None and parts[1] not in allowed:
            raise DataError(f"{path}, line {line}: {what} {parts[1]!r} is not one of {sorted(allowed)}")
        if parts[0] in out:
            raise DataError(f"{path}, line {line}: duplicate file name {parts[0]}")
        out[parts[0]] = parts[1]
    return out


def attribute_columns(names: list[str], values: np.ndarray, attributes: Optional[Sequence[str]],
                      where: str) -> tuple[list[str], np.ndarray]:
    """Pick attributes (None: all; ``facial_hair`` is derived) -> (names, y (N, k) float32 0/1)."""
    attributes = list(names) if attributes is None else list(attributes)
    if not attributes:
        raise DataError(f"{where}: no attributes chosen")
    valid = list(names) + [d for d in DERIVED if d not in names]
    for a in attributes:
        if a not in valid:
            raise DataError(f"unknown attribute {a!r} for {where}; valid attributes: {', '.join(valid)}")
        if attributes.count(a) > 1:
            raise DataError(f"attribute {a!r} is chosen twice")
    positive = values == 1
    columns = []
    for a in attributes:
        if a in names:
            columns.append(positive[:, names.index(a)])
        else:  # facial_hair
            col = {n: positive[:, names.index(n)] for n in ("Goatee", "Mustache", "No_Beard")
                   if n in names}
            if len(col) < 3:
                raise DataError(f"{where}: facial_hair needs Goatee, Mustache and No_Beard")
            columns.append(col["Goatee"] | col["Mustache"] | ~col["No_Beard"])
    return attributes, np.stack(columns, axis=1).astype(np.float32)


def derive_splits(split: np.ndarray, groups: Optional[np.ndarray], fraction: float,
                  seed: int) -> tuple[np.ndarray, list[str]]:
    """Fill empty valid (1) / test (2) partitions from the training rows (rule: module doc).

    split: (N,) int8; groups: (N,) identity per row or None. Returns (new split, names filled).
    """
    split = split.copy()
    n = len(split)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    rng = np.random.default_rng([seed, 1])
    filled = []
    for part, name in ((1, "valid"), (2, "test")):
        target = round(fraction * n)
        if (split == part).any() or target == 0:
            continue
        train = np.flatnonzero(split == 0)
        ids, inverse = np.unique(groups[train], return_inverse=True)
        order = rng.permutation(len(ids))
        cumulative = np.cumsum(np.bincount(inverse, minlength=len(ids))[order])
        chosen = np.isin(inverse, order[: np.searchsorted(cumulative, target) + 1])
        if chosen.all():
            raise DataError(f"too few training rows ({len(train)}) to split off a {name} set of "
                            f"{target}; lower holdout_fraction")
        split[train[chosen]] = part
        filled.append(name)
    return split, filled


def balance_training(y: np.ndarray, split: np.ndarray, seed: int,
                     attribute_names: Sequence[str]) -> np.ndarray:
    """Rows kept after balancing the training split (rule: module doc; ``data.balance: discard``),
    ascending.

    y: (N, k) 0/1; split: (N,). Raises DataError if a label combination has no training row.
    """
    k = y.shape[1]
    if k > MAX_ATTRIBUTES:
        raise DataError(f"balance works on at most {MAX_ATTRIBUTES} attributes, got {k}; "
                        f"set data.balance to weight, sample or none")
    train = np.flatnonzero(split == 0)
    codes = (y[train] > 0.5).astype(np.int64) @ (1 << np.arange(k))
    counts = np.bincount(codes, minlength=1 << k)
    if (counts == 0).any():
        empty = int(np.flatnonzero(counts == 0)[0])
        combo = ", ".join(f"{a}={(empty >> j) & 1}" for j, a in enumerate(attribute_names))
        raise DataError(f"cannot balance: no training row has {combo}")
    return np.sort(np.concatenate([np.flatnonzero(split != 0), train[discard_rows(y[train], seed)]]))


def balanced_rows(files: list[str], y: np.ndarray, split: np.ndarray, names: list[str], balance: bool,
                  seed: int, info: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The rows kept after ``balance_training`` (all of them without ``balance``); records the
    counts per split before and after in ``info``."""
    if balance:
        info["before_balance"] = split_counts(y, split, names)
        keep = balance_training(y, split, seed, names)
        files, y, split = [files[i] for i in keep], y[keep], split[keep]
    info["balanced"] = bool(balance)
    info["counts"] = split_counts(y, split, names)
    return files, y, split


def index_celeba(root: str | os.PathLike, attributes: Optional[Sequence[str]] = None, *,
                 balance: bool = False, seed: int = 0, holdout_fraction: float = 0.1,
                 strict: bool = False, crop: Optional[int] = DEFAULT_CROP) -> ImageIndex:
    """Parse and check a CelebA tree and choose rows, without decoding any image.

    attributes: names from the attribute file, or ``facial_hair``; None means all of the file's.
    Returns an ImageIndex of the images present (see the module doc for every rule).
    """
    paths = locate_celeba(root)
    names, files, values = parse_attributes(paths["attributes"])
    attributes, y = attribute_columns(names, values, attributes, f"CelebA ({paths['attributes']})")
    info: dict = {"reader": "celeba", "rows_in_label_file": len(files), "crop": crop,
                  "attribute_rules": {a: DERIVED[a] for a in attributes if a in DERIVED}}

    split = np.zeros(len(files), dtype=np.int8)
    if paths["partition"] is not None:
        partition = parse_pairs(paths["partition"], "partition", {"0", "1", "2"})
        absent = [f for f in files if f not in partition]
        if absent:
            raise DataError(f"{paths['partition']}: no partition for {len(absent)} images of "
                            f"{paths['attributes'].name}, e.g. {absent[0]}")
        split = np.array([int(partition[f]) for f in files], dtype=np.int8)
    else:
        info["partition_file"] = None
    identity = None
    if paths["identity"] is not None:
        ids = parse_pairs(paths["identity"], "identity")
        absent = [f for f in files if f not in ids]
        if absent:
            raise DataError(f"{paths['identity']}: no identity for {len(absent)} images of "
                            f"{paths['attributes'].name}, e.g. {absent[0]}")
        identity = np.array([ids[f] for f in files])

    present = set(os.listdir(paths["images"]))
    have = np.array([f in present for f in files], dtype=bool)
    rows = present_rows(files, have, strict, paths["attributes"], paths["images"])
    info["missing_images"] = int((~have).sum())
    info["images_without_labels"] = len(present - set(files))
    files = [files[i] for i in rows]
    y, split = y[rows], split[rows]
    identity = None if identity is None else identity[rows]

    split, filled = derive_splits(split, identity, holdout_fraction, seed)
    info["derived_splits"] = filled
    if filled:
        info["derived_split_rule"] = (f"{holdout_fraction} of rows each, seed {seed}, "
                                      + ("by identity" if identity is not None else "by row"))
    if identity is not None:
        info["identities"] = int(len(np.unique(identity)))
    files, y, split = balanced_rows(files, y, split, attributes, balance, seed, info)
    check_both_values(y, split, attributes, f"CelebA ({paths['attributes']}), attribute",
                      "choose other attributes, or more images")
    return ImageIndex(base=paths["images"], files=files, y=y, split=split,
                      attribute_names=attributes, label_kind="binary", crop=crop, channels=3,
                      info=info)


def read_celeba(root: str | os.PathLike, size: int = 64,
                attributes: Optional[Sequence[str]] = None, *, balance: bool = False,
                seed: int = 0, holdout_fraction: float = 0.1, strict: bool = False,
                skip_bad: bool = False, crop: Optional[int] = DEFAULT_CROP) -> Dataset:
    """Read CelebA into memory: x (N, 3, size, size) uint8, y (N, k) float32 (no cache; for large
    sets use ``csvae.data.images.prepare_data``). Options as in :func:`index_celeba`;
    ``skip_bad`` skips undecodable images (counted in ``info["bad_images"]``) instead of failing.
    """
    index = index_celeba(root, attributes, balance=balance, seed=seed,
                         holdout_fraction=holdout_fraction, strict=strict, crop=crop)
    return decode_index(index, size, skip_bad=skip_bad)
