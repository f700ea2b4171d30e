"""Image data sets by name: options, the cache that training reads, and the one entry point.

Readers (``reader`` below, also ``DataConfig.name``):
  * ``celeba``: any CelebA attributes (``attributes``; None: all 40), not balanced by default;
  * ``celeba-glasses`` (Eyeglasses), ``celeba-facialhair`` (facial_hair), and
    ``celeba-glasses-facialhair`` (both): presets, balanced by default;
  * ``tfd``: the Toronto Face Database, 7 expressions as one categorical label;
  * ``folder``: a folder of images with a CSV of binary attributes;
  * ``synthetic_faces`` (``load_images`` only): generated, see ``csvae.data.synthetic_faces``.

File-based readers are decoded once by :func:`prepare_data` into a uint8 cache folder (see
``csvae.data.cache``) and training reads only that cache, through :func:`load_images`. The
default cache folder is ``<cache home>/<reader>-<size>px-<hash of the settings>``, where cache
home is ``$CSVAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/csvae``, else ``~/.cache/csvae``; so other
settings get another folder. An explicit ``out`` / ``data.cache`` folder holding a cache of other
settings, or of changed sources, is rebuilt (with a warning in the log), never reused.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Optional

from csvae.constraints import is_integer
from csvae.data import celeba, folder, tfd
from csvae.data.cache import build_cache, cache_is_current, check_cache_folder, load_cache, log, read_manifest
from csvae.data.dataset import Dataset
from csvae.data.imageio import DataError, ImageIndex

CELEBA_READERS = ("celeba",) + tuple(celeba.PRESETS)
READERS = CELEBA_READERS + ("tfd", "folder")
_SELECTION = ("attributes", "balance", "seed", "holdout_fraction", "strict", "skip_bad", "crop")
OPTIONS = {
    **{name: _SELECTION for name in CELEBA_READERS},
    "tfd": ("fold", "crop"),
    "folder": ("csv", "filename_column") + _SELECTION,
}
"""Reader options each reader accepts (keyword arguments of ``prepare_data``)."""


def _check_reader(reader: str) -> None:
    if reader not in READERS:
        raise DataError(f"unknown image reader {reader!r}; readers: {', '.join(READERS)}")


def resolve_options(reader: str, **options) -> dict:
    """Check ``options`` for ``reader`` and fill in defaults; returns every option explicitly.

    An option the reader does not take is an error, unless it is None or False (unset, as a CLI
    passes every flag); so is a value out of range.
    """
    _check_reader(reader)
    unknown = sorted(k for k, v in options.items()
                     if k not in OPTIONS[reader] and v is not None and v is not False)
    if unknown:
        raise DataError(f"reader {reader} has no option {unknown[0]!r}; its options: "
                        f"{', '.join(OPTIONS[reader])}")
    out = {name: options.get(name) for name in OPTIONS[reader]}
    crop = out["crop"]
    if crop is not None and (not is_integer(crop) or crop <= 0):
        raise DataError(f"crop must be a positive integer or None, got {crop!r}")
    if reader == "tfd":
        out["fold"] = 0 if out["fold"] is None else out["fold"]
        if isinstance(out["fold"], bool) or out["fold"] not in range(tfd.N_FOLDS):
            raise DataError(f"TFD fold must be 0..{tfd.N_FOLDS - 1}, got {out['fold']!r}")
        return out
    preset = celeba.PRESETS.get(reader)
    attributes = out["attributes"]
    if isinstance(attributes, str):
        attributes = [attributes]
    if preset is not None:
        if attributes is not None and list(attributes) != list(preset):
            raise DataError(f"reader {reader} fixes attributes {list(preset)}; got {list(attributes)} "
                            f"(use reader celeba to choose attributes)")
        attributes = list(preset)
    out["attributes"] = None if attributes is None else list(attributes)
    out["balance"] = (preset is not None) if out["balance"] is None else bool(out["balance"])
    out["seed"] = 0 if out["seed"] is None else out["seed"]
    if isinstance(out["seed"], bool) or not isinstance(out["seed"], int) or out["seed"] < 0:
        raise DataError(f"seed must be a non-negative integer, got {out['seed']!r}")
    fraction = 0.1 if out["holdout_fraction"] is None else out["holdout_fraction"]
    if not 0 <= fraction < 0.5:
        raise DataError(f"holdout_fraction must be in [0, 0.5), got {fraction!r}")
    out["holdout_fraction"] = float(fraction)
    out["strict"], out["skip_bad"] = bool(out["strict"]), bool(out["skip_bad"])
    if reader in CELEBA_READERS and crop is None:
        out["crop"] = celeba.DEFAULT_CROP
    return out


def check_relative_root(root: str | os.PathLike) -> None:
    """Refuse a relative data root that does not exist, saying that it is read from the working
    directory (the usual surprise)."""
    if not Path(root).is_absolute() and not Path(root).exists():
        raise DataError(f"data root {str(root)!r} does not exist: it is relative, so it is read from the working "
                        f"directory {os.getcwd()}; give an absolute path, or run from the folder it is relative to")


def reader_settings(reader: str, root: str | os.PathLike, size: int, **options) -> dict:
    """What a cache is built from: reader, absolute root, size and every resolved option."""
    if not is_integer(size) or size <= 0:
        raise DataError(f"image size must be a positive integer, got {size!r}")
    if root is None:
        raise DataError(f"reader {reader} needs a root (data.root / --root)")
    check_relative_root(root)
    options = resolve_options(reader, **options)
    if reader == "folder" and options["csv"] is not None:
        options["csv"] = str((Path(root) / options["csv"]).resolve())
    return {"reader": reader, "root": str(Path(root).resolve()), "size": size, "options": options}


def reader_sources(reader: str, root: str | os.PathLike, options: dict) -> dict:
    """Stamps of the files ``reader`` reads under ``root`` (cheap: no parsing, no decoding)."""
    if reader in CELEBA_READERS:
        return celeba.celeba_sources(root)
    if reader == "tfd":
        return tfd.tfd_sources(root)
    return folder.folder_sources(root, options["csv"], options["filename_column"])


def index_images(reader: str, root: str | os.PathLike, **options) -> ImageIndex:
    """Parse and check the labels of ``reader`` under ``root``, without decoding images."""
    o = resolve_options(reader, **options)
    if reader == "tfd":
        return tfd.index_tfd(root, o["fold"], o["crop"])
    selection = dict(balance=o["balance"], seed=o["seed"], holdout_fraction=o["holdout_fraction"],
                     strict=o["strict"], crop=o["crop"])
    if reader == "folder":
        return folder.index_folder(root, o["csv"], o["filename_column"], o["attributes"], **selection)
    return celeba.index_celeba(root, o["attributes"], **selection)


def cache_home() -> Path:
    """$CSVAE_CACHE_DIR, else $XDG_CACHE_HOME/csvae, else ~/.cache/csvae."""
    if os.environ.get("CSVAE_CACHE_DIR"):
        return Path(os.environ["CSVAE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "csvae"


def default_cache_dir(settings: dict) -> Path:
    """``cache_home() / f"{reader}-{size}px-{hash}"``: one folder per distinct settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return cache_home() / f"{settings['reader']}-{settings['size']}px-{digest}"


def prepare_data(reader: str, root: str | os.PathLike, size: int,
                 out: Optional[str | os.PathLike] = None, workers: Optional[int] = None, *,
                 force: bool = False, progress: bool = False, **reader_options) -> Path:
    """Decode the images of ``reader`` under ``root`` once into the uint8 cache folder ``out``.

    reader: one of ``READERS``; size: side S of the (C, S, S) images; out: cache folder (None: the
    default folder, see module doc); workers: decoding processes (None: all cores);
    reader_options: those in ``OPTIONS[reader]`` (attributes, balance, seed, holdout_fraction,
    strict, skip_bad, crop; fold for tfd; csv, filename_column for folder).
    A complete cache of the same settings and unchanged sources is reused as is (unless
    ``force``); a build that was killed resumes. Returns the cache folder.
    """
    settings = reader_settings(reader, root, size, **reader_options)
    options = settings["options"]  # only the reader's own options, resolved
    if workers is not None and (not is_integer(workers) or workers < 1):
        raise DataError(f"workers (--workers) must be a positive integer, got {workers!r}")
    out = default_cache_dir(settings) if out is None else Path(out)
    check_cache_folder(out)
    sources = reader_sources(reader, root, options)
    if not out.exists():  # made before the stamps are kept: a cache inside the data is no change to it
        out.mkdir(parents=True)
        sources = reader_sources(reader, root, options)
    if not force and cache_is_current(out, settings, sources):
        return out
    if (out / "manifest.json").is_file():
        log.warning("rebuilding the image cache in %s: it was built from other settings or "
                    "sources changed since", out)
    index = index_images(reader, root, **options)
    return build_cache(index, out, size, settings, sources, workers=workers,
                       skip_bad=bool(options.get("skip_bad")), progress=progress, reuse=not force)


def config_options(cfg) -> dict:
    """The reader options of a ``DataConfig`` for reader ``cfg.name``."""
    _check_reader(cfg.name)
    options = {name: getattr(cfg, name) for name in OPTIONS[cfg.name] if hasattr(cfg, name)}
    if "balance" in options:  # the readers subsample for discard; the other choices act in fit
        options["balance"] = cfg.balance == "discard"
    return options


def load_images(cfg) -> Dataset:
    """The Dataset of image set ``cfg.name`` (a ``csvae.config.DataConfig``), for training.

    File-based sets: builds the cache (``cfg.cache``, or the default folder) if it is missing,
    stale or of other settings, then returns it memory-mapped: x (N, C, S, S) uint8 with
    S = ``cfg.image_size``. ``synthetic_faces`` is generated by ``csvae.data.synthetic_faces``.
    """
    if cfg.name == "synthetic_faces":
        from csvae.data.synthetic_faces import load_synthetic_faces

        return load_synthetic_faces(cfg)
    if cfg.name not in READERS:
        from csvae.data.toy import TOY_SETS

        images = READERS + ("synthetic_faces",)
        close = difflib.get_close_matches(cfg.name, (*TOY_SETS, *images), 1)
        raise DataError(f"data.name {cfg.name!r} is not an image data set nor a toy one"
                        + (f"; did you mean {close[0]!r}?" if close else "")
                        + f" Toy data sets: {', '.join(TOY_SETS)}; image data sets: {', '.join(images)}")
    if cfg.name == "tfd" and cfg.attributes:
        raise DataError("data.attributes must be empty for tfd: its label is the expression "
                        f"(one of {', '.join(tfd.EXPRESSIONS)})")
    options = config_options(cfg)
    out = prepare_data(cfg.name, cfg.root, cfg.image_size, cfg.cache, workers=cfg.workers,
                       **options)
    return load_cache(out, expect=reader_settings(cfg.name, cfg.root, cfg.image_size, **options))


__all__ = ["READERS", "OPTIONS", "prepare_data", "load_images", "load_cache", "index_images",
           "reader_settings", "read_manifest", "default_cache_dir", "DataError"]
