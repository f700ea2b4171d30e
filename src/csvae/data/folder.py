"""Any folder of images with a CSV of binary attributes.

The CSV (``csv``; default ``root/labels.csv``, else the only ``.csv`` file in ``root``) has a
header row. One column holds image file names relative to ``root`` (``filename_column``; default
the first column); every other column is an attribute, unless ``attributes`` picks some of them.
A column named ``split`` is not an attribute: it gives each row's split (train/valid/test or
0/1/2); without it, valid and test are split off by the CelebA rule (``holdout_fraction`` of rows
each, seeded). Attribute values: 0/1, -1/1 or true/false (any case), one convention per column.

Images are read as RGB, centre-cropped (``crop``; default the largest centred square) and resized.
Missing images are dropped and counted (``info["missing_images"]``) or, with ``strict``, an error;
``balance`` balances the training split as for CelebA.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path, PurePath, PurePosixPath
from typing import Optional, Sequence

import numpy as np

from csvae.data.celeba import balanced_rows, derive_splits
from csvae.data.dataset import Dataset
from csvae.data.imageio import (
    DataError,
    ImageIndex,
    check_both_values,
    decode_index,
    only_file,
    present_rows,
    read_text,
    stamp,
)

CONVENTIONS = ({"0": 0, "1": 1}, {"-1": 0, "1": 1}, {"false": 0, "true": 1})
SPLIT_VALUES = {"train": 0, "valid": 1, "test": 2, "0": 0, "1": 1, "2": 2}


def locate_csv(root: str | os.PathLike, csv_path: Optional[str | os.PathLike] = None) -> Path:
    """The label CSV: ``csv_path`` (relative to ``root`` unless absolute), ``root/labels.csv``, or
    the only .csv file in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} is not a folder")
    if csv_path is not None:
        path = root / csv_path
        if not path.is_file():
            raise DataError(f"label file {path} does not exist")
        return path
    return only_file(root, "labels.csv", ".csv", "name it with the csv option")


def read_table(path: Path) -> list[tuple[int, list[str]]]:
    """The non-empty rows of a UTF-8 CSV as (line, fields); a byte-order mark is dropped. A file
    that is not UTF-8 text is a DataError naming it."""
    text = read_text(path)
    return [(i + 1, row) for i, row in enumerate(csv.reader(io.StringIO(text, newline=""))) if row]


def check_name(path: Path, line: int, name: str, root: Path) -> None:
    """A file name from the CSV ``path`` must stay inside the image folder ``root``: it may not be
    empty or absolute, nor hold a ``..`` part (which could leave the folder, also through a link)."""
    if not name:
        raise DataError(f"{path}, line {line}: empty file name")
    if "\0" in name:
        raise DataError(f"{path}, line {line}: file name {name!r} holds a NUL character")
    if PurePath(name).anchor or PurePosixPath(name).is_absolute():
        raise DataError(f"{path}, line {line}: file name {name!r} is an absolute path; file names are "
                        f"relative to the image folder {root}")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise DataError(f"{path}, line {line}: file name {name!r} holds '..'; file names must stay inside "
                        f"the image folder {root}")


def folder_sources(root: str | os.PathLike, csv_path: Optional[str | os.PathLike] = None,
                   filename_column: Optional[str] = None) -> dict:
    """Stamps of the CSV and of every folder holding its images (entry count and mtime)."""
    root = Path(root)
    path = locate_csv(root, csv_path)
    table = read_table(path)
    folders = {root}
    if table:
        header = [h.strip() for h in table[0][1]]
        column = header.index(filename_column) if filename_column in header else 0
        for line, row in table[1:]:
            if len(row) > column:
                check_name(path, line, row[column].strip(), root)
                folders.add((root / row[column].strip()).parent)
    name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    out = {name: stamp(path)}
    for folder in sorted(folders):
        if folder.is_dir():
            out[str(folder.relative_to(root)) + "/"] = stamp(folder)
    return out


def _column_values(path: Path, name: str, cells: list[tuple[int, str]]) -> np.ndarray:
    """0/1 float32 of one attribute column; errors name line, column and value."""
    lowered = [(line, v.strip().lower()) for line, v in cells]
    for convention in CONVENTIONS:
        if all(v in convention for _, v in lowered):
            return np.array([convention[v] for _, v in lowered], dtype=np.float32)
    known = {v for c in CONVENTIONS for v in c}
    for line, v in lowered:
        if v not in known:
            raise DataError(f"{path}, line {line}, column {name}: value {v!r} is not 0/1, -1/1 "
                            f"or true/false")
    raise DataError(f"{path}, column {name}: values mix conventions "
                    f"({sorted({v for _, v in lowered})}); use one of 0/1, -1/1, true/false")


def index_folder(root: str | os.PathLike, csv_path: Optional[str | os.PathLike] = None,
                 filename_column: Optional[str] = None,
                 attributes: Optional[Sequence[str]] = None, *, balance: bool = False,
                 seed: int = 0, holdout_fraction: float = 0.1, strict: bool = False,
                 crop: Optional[int] = None) -> ImageIndex:
    """Parse and check the CSV of an image folder and choose rows, without decoding (module doc)."""
    root = Path(root)
    path = locate_csv(root, csv_path)
    table = read_table(path)
    if not table:
        raise DataError(f"{path} is empty")
    header = [h.strip() for h in table[0][1]]
    values = {v for c in CONVENTIONS for v in c}
    cells = [h.lower() for h in header[1:]]
    if any(c in values for c in cells) and all(c in values or c in SPLIT_VALUES for c in cells):
        raise DataError(f"{path}, line 1 holds values ({', '.join(header)}), not column names; the first "
                        f"line must be a header naming the columns, e.g. file,smile,hat")
    for i, h in enumerate(header):
        if h in header[:i]:
            raise DataError(f"{path}, line 1: column {h!r} appears twice")
    file_column = header[0] if filename_column is None else filename_column
    if file_column not in header:
        raise DataError(f"{path}: no file-name column {file_column!r}; columns: {', '.join(header)}")
    candidates = [h for h in header if h not in (file_column, "split")]
    chosen = candidates if attributes is None else list(attributes)
    for a in chosen:
        if a not in candidates:
            raise DataError(f"unknown attribute {a!r} for {path}; valid attributes: {', '.join(candidates)}")
        if chosen.count(a) > 1:
            raise DataError(f"attribute {a!r} is chosen twice")
    if not chosen:
        raise DataError(f"{path}: no attribute columns")

    rows = table[1:]
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: expected {len(header)} fields, got {len(row)}")
    col = {h: j for j, h in enumerate(header)}
    files = [row[col[file_column]].strip() for _, row in rows]
    seen: dict[str, int] = {}
    for (line, _), f in zip(rows, files):
        check_name(path, line, f, root)
        if f in seen:
            raise DataError(f"{path}, line {line}: duplicate file name {f} (first on line {seen[f]})")
        seen[f] = line
    y = np.stack([_column_values(path, a, [(line, row[col[a]]) for line, row in rows])
                  for a in chosen], axis=1) if rows else np.zeros((0, len(chosen)), np.float32)
    split = np.zeros(len(rows), dtype=np.int8)
    if "split" in col:
        for i, (line, row) in enumerate(rows):
            value = row[col["split"]].strip().lower()
            if value not in SPLIT_VALUES:
                raise DataError(f"{path}, line {line}, column split: value {value!r} is not "
                                f"train/valid/test or 0/1/2")
            split[i] = SPLIT_VALUES[value]

    have = np.array([(root / f).is_file() for f in files], dtype=bool)
    keep = present_rows(files, have, strict, path, root)
    missing = int((~have).sum())
    files, y, split = [files[i] for i in keep], y[keep], split[keep]
    info: dict = {"reader": "folder", "csv": path.name, "rows_in_label_file": len(rows),
                  "missing_images": missing, "crop": crop}
    split, filled = derive_splits(split, None, holdout_fraction, seed)
    info["derived_splits"] = filled
    files, y, split = balanced_rows(files, y, split, chosen, balance, seed, info)
    check_both_values(y, split, chosen, f"{path}, column", "leave the column out with the attributes option")
    return ImageIndex(base=root, files=files, y=y, split=split, attribute_names=chosen,
                      label_kind="binary", crop=crop, channels=3, info=info)


def read_folder(root: str | os.PathLike, size: int = 64, csv_path: Optional[str | os.PathLike] = None,
                filename_column: Optional[str] = None, attributes: Optional[Sequence[str]] = None,
                *, balance: bool = False, seed: int = 0, holdout_fraction: float = 0.1,
                strict: bool = False, skip_bad: bool = False, crop: Optional[int] = None) -> Dataset:
    """Read an image folder into memory: x (N, 3, size, size) uint8, y (N, k) float32 0/1."""
    index = index_folder(root, csv_path, filename_column, attributes, balance=balance, seed=seed,
                         holdout_fraction=holdout_fraction, strict=strict, crop=crop)
    return decode_index(index, size, skip_bad=skip_bad)
