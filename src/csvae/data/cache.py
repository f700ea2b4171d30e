"""The uint8 image cache: decode once (in parallel, resumably), then memory-map for training.

A cache is a folder:
  * ``images.npy``: (N, C, S, S) uint8 in NumPy's .npy format, opened with ``mmap_mode="r"``;
  * ``manifest.json``: format version, the settings it was built from (reader, root, size, crop,
    reader options), stamps of its source files, the label table (file, y, split per row),
    attribute names, label kind and the reader's info.
``manifest.json`` is written last, through a temporary file and a rename, and removed first when
a cache is rebuilt, so a folder with a manifest always holds a complete, matching images.npy.
A build refuses a folder that holds anything else (``check_cache_folder``): it never replaces
files it did not write.

While building, ``.partial/images.npy`` is filled chunk by chunk (``CHUNK`` rows, one task each
for a ``multiprocessing`` pool) and ``.partial/progress.json`` records the finished chunks; a
build killed half-way resumes from there when rerun with the same settings and sources. Images
that cannot be decoded raise DataError, or with ``skip_bad`` are counted and left out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from csvae.constraints import is_integer
from csvae.data.dataset import Dataset
from csvae.data.imageio import DataError, ImageIndex, decode_rows, describe_bad, split_counts
from csvae.fileio import atomic_write_bytes

FORMAT = "csvae-image-cache"
VERSION = 1
CHUNK = 256
IMAGES = "images.npy"
MANIFEST = "manifest.json"
log = logging.getLogger("csvae.data")


class CacheError(DataError):
    """A cache folder is missing, truncated, of another format version, or inconsistent."""


class CacheMismatch(CacheError):
    """A cache was built from other settings than those asked for."""


def _normal(value):
    """JSON round trip, so tuples and lists (and numpy scalars) compare equal to a loaded manifest."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _digest(settings: dict, sources: dict, index: ImageIndex) -> str:
    h = hashlib.sha256(json.dumps([VERSION, settings, sources], sort_keys=True).encode())
    h.update("\n".join(index.files or []).encode())
    h.update(np.ascontiguousarray(index.y).tobytes() + np.ascontiguousarray(index.split).tobytes())
    return h.hexdigest()


def read_manifest(out: str | os.PathLike) -> dict:
    """The parsed manifest.json of cache folder ``out``; CacheError if absent or unreadable."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise CacheError(f"no image cache in {out} ({MANIFEST} missing); build it with "
                         f"csvae prepare-data")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CacheError(f"{path} cannot be read: {err}") from err
    if not isinstance(manifest, dict):
        raise CacheError(f"{path} is not a cache manifest (a JSON object); rebuild the cache")
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise CacheError(f"{path}: format {manifest.get('format')!r} version "
                         f"{manifest.get('version')!r}, this csvae reads {FORMAT!r} version "
                         f"{VERSION}; rebuild the cache")
    problem = _manifest_problem(manifest)
    if problem:
        raise CacheError(f"{path}: {problem}; rebuild the cache (csvae prepare-data --force)")
    return manifest


def _manifest_problem(manifest: dict) -> Optional[str]:
    """What is wrong with the fields of a manifest (None: nothing). Its image file must be
    ``images.npy`` in the cache folder: a name read from a file never leads outside it."""
    for key in ("settings", "sources", "info", "images"):
        if not isinstance(manifest.get(key), dict):
            return f"{key} is missing or not an object"
    images = manifest["images"]
    if images.get("file") != IMAGES:
        return f"images.file is {images.get('file')!r}, expected {IMAGES!r}"
    shape = images.get("shape")
    if (not isinstance(shape, list) or len(shape) != 4
            or not all(is_integer(v) and v >= 0 for v in shape)):
        return f"images.shape is {shape!r}, expected 4 non-negative integers"
    names = manifest.get("attribute_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "attribute_names is missing or not a list of names"
    if manifest.get("label_kind") not in ("binary", "categorical"):
        return f"label_kind is {manifest.get('label_kind')!r}, expected 'binary' or 'categorical'"
    try:
        y, split = np.asarray(manifest.get("y"), dtype=np.float64), np.asarray(manifest.get("split"))
    except (TypeError, ValueError):
        return "y or split is not a table of numbers"
    rows = (shape[0], len(names))
    if y.size != rows[0] * rows[1] or (y.size and y.shape != rows) or not np.isin(y, (0, 1)).all():
        return f"y should be {shape[0]} rows of {len(names)} values 0/1"
    if split.shape != (shape[0],) or not np.isin(split, (0, 1, 2)).all():
        return f"split should be {shape[0]} values 0/1/2"
    return None


def _differences(built: dict, asked: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(built) | set(asked)):
        a, b = built.get(key), asked.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: built {a!r}, asked {b!r}")
    return out


def check_images_file(path: Path, shape: Optional[list[int]] = None) -> tuple[int, ...]:
    """Shape of a uint8 .npy file; CacheError if it is absent, truncated or not the expected shape."""
    if not path.is_file():
        raise CacheError(f"cache file {path} is missing")
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            found, _, dtype = read(handle)
            offset = handle.tell()
    except (OSError, ValueError) as err:
        raise CacheError(f"cache file {path} is not a valid .npy file: {err}") from err
    expected = offset + int(np.prod(found)) * dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise CacheError(f"cache file {path} is truncated: {actual} bytes, expected {expected}; "
                         f"rebuild the cache")
    if dtype != np.uint8 or (shape is not None and list(found) != list(shape)):
        raise CacheError(f"cache file {path} holds {dtype} {found}, manifest says uint8 {shape}")
    return found


def source_guard(path: Path):
    """A check that raises CacheError once the file at ``path`` is no longer the one it was when the
    guard was made (replaced, rewritten or resized): a job streaming from a cache refuses one
    that changed under it rather than mixing two caches' rows."""
    def stamp():
        info = path.stat()
        return info.st_ino, info.st_size, info.st_mtime_ns

    first = stamp()

    def check() -> None:
        try:
            now = stamp()
        except OSError as err:
            raise CacheError(f"the cache file {path} that this job streams from is gone: {err.strerror}") from err
        if now != first:
            raise CacheError(f"the cache file {path} changed while this job streamed from it (inode, size, "
                             f"modification time {first} -> {now}); it was rebuilt or rewritten: resume the run "
                             f"once the cache is complete (csvae fit ... --resume)")

    return check


def cache_is_current(out: str | os.PathLike, settings: dict, sources: dict) -> bool:
    """True if ``out`` holds a complete cache built from these settings and unchanged sources."""
    try:
        manifest = read_manifest(out)
        check_images_file(Path(out) / IMAGES, manifest["images"]["shape"])
    except CacheError:
        return False
    return manifest["settings"] == _normal(settings) and manifest["sources"] == _normal(sources)


def load_cache(out: str | os.PathLike, expect: Optional[dict] = None) -> Dataset:
    """Open cache folder ``out`` as a Dataset whose x is a read-only (N, C, S, S) uint8 memmap.

    expect: the settings the caller wants (``csvae.data.images.reader_settings``); a cache built
    from other settings raises CacheMismatch naming the differences. A missing, truncated or
    inconsistent cache raises CacheError.
    """
    out = Path(out)
    manifest = read_manifest(out)
    if expect is not None and manifest["settings"] != _normal(expect):
        raise CacheMismatch(f"cache {out} was built from other settings ("
                            + "; ".join(_differences(manifest["settings"], _normal(expect)))
                            + "); rebuild it with csvae prepare-data or choose another cache folder")
    check_images_file(out / IMAGES, manifest["images"]["shape"])
    x = np.load(out / IMAGES, mmap_mode="r")
    k = len(manifest["attribute_names"])
    y = np.asarray(manifest["y"], dtype=np.float32).reshape(-1, k)
    split = np.asarray(manifest["split"], dtype=np.int8)
    info = dict(manifest["info"], cache=str(out))
    return Dataset(x=x, y=y, split=split, attribute_names=list(manifest["attribute_names"]),
                   label_kind=manifest["label_kind"], info=info)


# --- building ------------------------------------------------------------------------------

def _written_by_cache(name: str) -> bool:
    """Whether a cache build writes entries of this name (module doc)."""
    return (name in (IMAGES, MANIFEST, ".lock", ".partial", f".{IMAGES}.tmp")
            or (name.startswith(f".{MANIFEST}.") and name.endswith(".tmp")))


def check_cache_folder(out: str | os.PathLike) -> None:
    """Refuse to build a cache in ``out`` when it holds anything a cache build did not write: a
    user's own files there (an ``images.npy``, a ``manifest.json``, photos) are never replaced.
    A folder that does not exist or is empty is fine, and so is one a build has written (every
    build first creates ``.lock``)."""
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise CacheError(f"the cache folder {out} is a file; give a new or empty folder")
    names = sorted(p.name for p in out.iterdir())
    foreign = [n for n in names if not _written_by_cache(n)]
    if not foreign and names and ".lock" not in names:
        foreign = names  # an images.npy or manifest.json that no cache build wrote
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise CacheError(f"{out} is not an image cache folder: it holds {shown}, which csvae did not write "
                         f"and will not replace; give a new or empty folder for the cache")


_WORKER: dict = {}


def _init_worker(index: ImageIndex, partial: str, size: int, skip_bad: bool) -> None:
    _WORKER.clear()
    _WORKER.update(index=index, partial=partial, size=size, skip_bad=skip_bad, memmap=None)


def _decode_chunk(bounds: tuple[int, int]) -> tuple[int, int, list[int]]:
    """Decode rows start:stop into the partial file; returns (start, stop, bad rows)."""
    start, stop = bounds
    if _WORKER["memmap"] is None:
        _WORKER["memmap"] = np.load(_WORKER["partial"], mmap_mode="r+")
    target = _WORKER["memmap"][start:stop]
    bad = decode_rows(_WORKER["index"], start, stop, _WORKER["size"], target, _WORKER["skip_bad"])
    target.flush()
    return start, stop, bad


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(out: Path):
    """Hold an exclusive lock on ``out/.lock`` so two builds of one folder never interleave."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no lock
            pass
        yield


def _write_json(path: Path, value) -> None:
    atomic_write_bytes(path, json.dumps(value, separators=(",", ":")).encode())


def _context():
    """fork where it exists (Linux): workers start at once, and they run only Pillow and numpy
    code, never torch, so a parent's threads do not matter; spawn elsewhere (importing csvae
    takes seconds per worker)."""
    if "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_chunks(index, partial, size, skip_bad, todo, workers, on_done, progress) -> None:
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(b - a for a, b in todo), unit="img", desc="decoding")
    try:
        if workers <= 1 or len(todo) <= 1 or index.pixels is not None:
            _init_worker(index, str(partial), size, skip_bad)
            try:
                for bounds in todo:
                    on_done(*_decode_chunk(bounds))
                    bar and bar.update(bounds[1] - bounds[0])
            finally:
                _WORKER.clear()
            return
        with warnings.catch_warnings():  # Python >= 3.12 warns about fork with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pool = _context().Pool(min(workers, len(todo)), _init_worker,
                                   (index, str(partial), size, skip_bad))
        with pool:
            for start, stop, bad in pool.imap_unordered(_decode_chunk, todo):
                on_done(start, stop, bad)
                bar and bar.update(stop - start)
    finally:
        bar and bar.close()


def build_cache(index: ImageIndex, out: str | os.PathLike, size: int, settings: dict,
                sources: dict, workers: Optional[int] = None, skip_bad: bool = False,
                chunk: int = CHUNK, progress: bool = False, reuse: bool = True) -> Path:
    """Decode every row of ``index`` to ``out/images.npy`` ((N, C, size, size) uint8) and write
    the manifest (module doc). Resumes a killed build of the same settings; ``workers`` processes
    (None: every available core) decode chunks of ``chunk`` rows. With ``reuse``, a complete
    cache of these settings and sources (e.g. built by another process while this one waited for
    the lock) is kept as it is. Returns ``out``.
    """
    out = Path(out)
    if workers is None:
        workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    n = len(index)
    shape = (n, index.channels, size, size)
    key = _digest(_normal(settings), _normal(sources), index)
    check_cache_folder(out)
    with _locked(out):
        if reuse and cache_is_current(out, settings, sources):
            return out
        (out / MANIFEST).unlink(missing_ok=True)  # first, so no manifest ever names a stale file
        (out / IMAGES).unlink(missing_ok=True)
        partial_dir = out / ".partial"
        partial, progress_file = partial_dir / IMAGES, partial_dir / "progress.json"
        state = None
        if progress_file.is_file():
            with contextlib.suppress(ValueError, OSError):
                state = json.loads(progress_file.read_text())
        if state is None or state.get("key") != key or not partial.is_file():
            shutil.rmtree(partial_dir, ignore_errors=True)
            partial_dir.mkdir(parents=True)
            np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape).flush()
            state = {"key": key, "done": [], "bad": []}
            _write_json(progress_file, state)
        resumed = len(state["done"])
        done = {tuple(b) for b in state["done"]}
        todo = [(a, min(a + chunk, n)) for a in range(0, n, chunk) if (a, min(a + chunk, n)) not in done]
        if resumed:
            log.info("resuming %s: %d chunks done, %d to go", out, resumed, len(todo))

        def on_done(start, stop, bad):
            state["done"].append([start, stop])
            state["bad"].extend(int(b) for b in bad)
            _write_json(progress_file, state)

        _run_chunks(index, partial, size, skip_bad, todo, workers, on_done, progress)
        _fsync(partial)
        bad = sorted(state["bad"])
        if bad:
            keep = np.setdiff1d(np.arange(n), np.asarray(bad, dtype=np.int64))
            source = np.load(partial, mmap_mode="r")
            tmp = out / f".{IMAGES}.tmp"
            target = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                               shape=(len(keep),) + shape[1:])
            for a in range(0, len(keep), 4096):
                target[a:a + 4096] = source[keep[a:a + 4096]]
            target.flush()
            del target, source
            _fsync(tmp)
            os.replace(tmp, out / IMAGES)
            kept = index.select(keep)
        else:
            os.replace(partial, out / IMAGES)
            kept = index
        info = dict(kept.info, size=size, resumed_chunks=resumed, **describe_bad(index, bad))
        info["counts"] = split_counts(kept.y, kept.split, kept.attribute_names)
        manifest = {
            "format": FORMAT, "version": VERSION, "settings": _normal(settings),
            "sources": _normal(sources), "created": datetime.now(timezone.utc).isoformat(),
            "images": {"file": IMAGES, "shape": [len(kept)] + list(shape[1:]), "dtype": "uint8"},
            "attribute_names": list(kept.attribute_names), "label_kind": kept.label_kind,
            "files": kept.files, "y": kept.y.astype(np.int8).tolist(),
            "split": kept.split.astype(int).tolist(), "info": _normal(info),
        }
        _write_json(out / MANIFEST, manifest)
        shutil.rmtree(partial_dir, ignore_errors=True)
    return out
