"""Tiny generated image data sets for the reader and cache tests (no conftest; import directly).

Every generated image has a flat colour that encodes its row (``row_colour``), so a test can
check that pixels and labels stay aligned through cropping, skipping and caching.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

CELEBA_NAMES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
    "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
    "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()


def celeba_subset_dir() -> Optional[Path]:
    """The real CelebA subset: $CSVAE_CELEBA_SUBSET, else <repo>/../shared/data/celeba-subset."""
    if os.environ.get("CSVAE_CELEBA_SUBSET"):
        path = Path(os.environ["CSVAE_CELEBA_SUBSET"])
    else:
        path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celeba-subset"
    return path if (path / "list_attr_celeba.txt").is_file() else None


def row_colour(row: int) -> tuple[int, int, int]:
    return (20 + (row * 37) % 216, 20 + (row * 91) % 216, 200 - (row * 13) % 180)


def write_image(path: Path, row: int, size: tuple[int, int] = (178, 218)) -> None:
    """A flat image of ``row_colour(row)`` with a darker border (outside any centred crop)."""
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8) + 30
    array[2:-2, 2:-2] = row_colour(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)


def celeba_values(n: int, seed: int = 0) -> np.ndarray:
    """(n, 40) +-1 with every Eyeglasses / facial-hair combination present and a known rule:
    Eyeglasses on rows 0 mod 3, Goatee on 1 mod 4, Mustache on 2 mod 7, No_Beard off on 3 mod 5."""
    values = np.where(np.random.default_rng(seed).random((n, 40)) < 0.3, 1, -1).astype(np.int8)
    rows = np.arange(n)
    col = {name: j for j, name in enumerate(CELEBA_NAMES)}
    values[:, col["Eyeglasses"]] = np.where(rows % 3 == 0, 1, -1)
    values[:, col["Goatee"]] = np.where(rows % 4 == 1, 1, -1)
    values[:, col["Mustache"]] = np.where(rows % 7 == 2, 1, -1)
    values[:, col["No_Beard"]] = np.where(rows % 5 == 3, -1, 1)
    return values


def facial_hair(values: np.ndarray) -> np.ndarray:
    col = {name: j for j, name in enumerate(CELEBA_NAMES)}
    return ((values[:, col["Goatee"]] == 1) | (values[:, col["Mustache"]] == 1)
            | (values[:, col["No_Beard"]] == -1))


def make_celeba(root: Path, n: int = 20, fmt: str = "txt", nested: bool = False,
                partition: Optional[Sequence[int]] = None, identity: bool = True,
                missing: Sequence[int] = (), seed: int = 0) -> dict:
    """A CelebA tree of ``n`` 178x218 JPEGs (file i+1 has row colour i). Returns its facts.

    fmt: "txt" (standard) or "csv" (Kaggle variant); nested: images under
    img_align_celeba/img_align_celeba/; partition: per-row 0/1/2 (default all 0); identity:
    write identity_CelebA.txt with identity i // 2; missing: rows whose image is not written.
    """
    root = Path(root)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    values = celeba_values(n, seed)
    partition = [0] * n if partition is None else list(partition)
    images = root / "img_align_celeba" / ("img_align_celeba" if nested else "")
    images.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(files):
        if i not in missing:
            write_image(images / name, i)
    if fmt == "txt":
        lines = [str(n), " ".join(CELEBA_NAMES)]
        lines += [f + " " + " ".join(f"{v:2d}" for v in row) for f, row in zip(files, values)]
        (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
        (root / "list_eval_partition.txt").write_text(
            "".join(f"{f} {p}\n" for f, p in zip(files, partition)))
    else:
        lines = ["image_id," + ",".join(CELEBA_NAMES)]
        lines += [f + "," + ",".join(str(v) for v in row) for f, row in zip(files, values)]
        (root / "list_attr_celeba.csv").write_text("\n".join(lines) + "\n")
        (root / "list_eval_partition.csv").write_text(
            "image_id,partition\n" + "".join(f"{f},{p}\n" for f, p in zip(files, partition)))
    if identity:
        (root / "identity_CelebA.txt").write_text(
            "".join(f"{f} {i // 2 + 1}\n" for i, f in enumerate(files)))
    return {"root": root, "files": files, "values": values, "images": images}


def make_tfd(path: Path, n: int = 40, fmt: str = "v5", layout: str = "nhw",
             fields: Optional[dict] = None, drop: Sequence[str] = ()) -> dict:
    """A fake TFD .mat file: n 48x48 uint8 images (image i is flat, value 3 * i % 256), labs_ex
    (1..7, every 4th row -1), labs_id, folds (n, 5). Rows with label -1 have folds 0; the others
    cycle train/valid/test per fold.

    fmt: "v5" (scipy.io.savemat) or "v73" (HDF5 with MATLAB's 512-byte header and axes reversed,
    as MATLAB writes them); layout: "nhw" (n, 48, 48) or "hwn" (48, 48, n); fields: replace
    fields; drop: leave fields out. Returns the fields written (MATLAB axis order).
    """
    images = np.stack([np.full((48, 48), (3 * i) % 256, dtype=np.uint8) for i in range(n)])
    images[:, :4, :4] = 255  # a corner mark to pin the orientation
    labels = np.array([-1 if i % 4 == 3 else 1 + i % 7 for i in range(n)], dtype=np.float64)
    folds = np.zeros((n, 5), dtype=np.float64)
    for j in range(5):
        folds[:, j] = np.where(labels > 0, 1 + (np.arange(n) + j) % 3, 0)
    data = {"images": images if layout == "nhw" else np.moveaxis(images, 0, 2),
            "labs_ex": labels[:, None], "labs_id": (np.arange(n) // 3 + 1.0)[:, None],
            "folds": folds}
    data.update(fields or {})
    for name in drop:
        data.pop(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "v5":
        import scipy.io

        scipy.io.savemat(path, data)
    else:
        import h5py

        with h5py.File(path, "w", userblock_size=512) as f:
            for name, value in data.items():
                f.create_dataset(name, data=np.asarray(value).T)
                f[name].attrs["MATLAB_class"] = np.bytes_(
                    "uint8" if np.asarray(value).dtype == np.uint8 else "double")
        header = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
                  b"HDF5 schema 1.00 .").ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
        with open(path, "r+b") as handle:
            handle.write(header.ljust(512, b"\0"))
    return data


def make_folder(root: Path, n: int = 12, convention: str = "01", split: bool = False,
                sizes: Sequence[tuple[int, int]] = ((64, 48), (40, 60), (50, 50)),
                missing: Sequence[int] = (), name: str = "labels.csv") -> dict:
    """A folder of n PNG/JPEG images (row colours, various sizes) under ``root/img`` and a CSV
    with columns file, smile (even rows), hat (rows 0 mod 3) and, with ``split``, split
    (train, train, valid, valid, test, test, repeated). convention: "01", "pm1" or "bool"."""
    root = Path(root)
    files = [f"img/{i:03d}." + ("png" if i % 2 else "jpg") for i in range(n)]
    smile = np.arange(n) % 2 == 0
    hat = np.arange(n) % 3 == 0
    for i, f in enumerate(files):
        if i not in missing:
            write_image(root / f, i, sizes[i % len(sizes)])
    code = {"01": ("0", "1"), "pm1": ("-1", "1"), "bool": ("False", "TRUE")}[convention]
    header = "file,smile,hat" + (",split" if split else "")
    rows = [f"{f},{code[int(s)]},{code[int(h)]}" + (f",{('train', 'valid', 'test')[i // 2 % 3]}" if split else "")
            for i, (f, s, h) in enumerate(zip(files, smile, hat))]
    (root / name).write_text(header + "\n" + "\n".join(rows) + "\n")
    return {"root": root, "files": files, "y": np.stack([smile, hat], 1).astype(np.float32)}


def mean_colour(x: np.ndarray) -> np.ndarray:
    """(N, 3) mean colour of the centre quarter of (N, 3, S, S) images."""
    s = x.shape[-1]
    return x[:, :, s // 4: 3 * s // 4, s // 4: 3 * s // 4].reshape(len(x), x.shape[1], -1).mean(-1)


def assert_rows(x: np.ndarray, rows: Sequence[int], tolerance: float = 8.0) -> None:
    """Check that image j of x shows ``row_colour(rows[j])``."""
    expected = np.array([row_colour(r) for r in rows], dtype=np.float64)
    diff = np.abs(mean_colour(x) - expected).max(axis=1)
    assert (diff < tolerance).all(), f"rows {np.flatnonzero(diff >= tolerance)} have the wrong colour"
