"""The uint8 image cache: build, reuse, refuse or rebuild, resume, parallel, and load_images."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import csvae.data.cache as cache  # noqa: E402
from csvae.config import DataConfig  # noqa: E402
from csvae.data.cache import CacheError, CacheMismatch, build_cache, load_cache  # noqa: E402
from csvae.data.checks import DataError  # noqa: E402
from csvae.data.images import index_images, load_images, prepare_data, reader_settings, reader_sources  # noqa: E402

from fixtures_images import assert_rows, celeba_subset_dir, make_celeba, make_tfd  # noqa: E402


@pytest.fixture
def tree(tmp_path):
    return make_celeba(tmp_path / "celeba", n=24)


def test_build_and_load(tree, tmp_path):
    out = prepare_data("celeba", tree["root"], 16, tmp_path / "cache", workers=1,
                       attributes=["Eyeglasses", "facial_hair"], holdout_fraction=0.25)
    data = load_cache(out)
    assert isinstance(data.x, np.memmap) and not data.x.flags.writeable
    assert data.x.shape == (24, 3, 16, 16) and data.x.dtype == np.uint8
    assert data.y.shape == (24, 2) and data.split.dtype == np.int8
    assert_rows(np.asarray(data.x), range(24))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == cache.VERSION and manifest["settings"]["size"] == 16
    assert manifest["settings"]["options"]["crop"] == 148
    assert "list_attr_celeba.txt" in manifest["sources"]
    assert manifest["files"][0] == "000001.jpg"
    assert sorted(os.listdir(out)) == [".lock", "images.npy", "manifest.json"]
    direct = index_images("celeba", tree["root"], attributes=["Eyeglasses", "facial_hair"],
                          holdout_fraction=0.25)
    np.testing.assert_array_equal(data.y, direct.y)
    np.testing.assert_array_equal(data.split, direct.split)


def test_same_settings_reuse_the_cache(tree, tmp_path):
    out = prepare_data("celeba-glasses", tree["root"], 8, tmp_path / "c", workers=1)
    before = (out / "images.npy").stat().st_mtime_ns
    prepare_data("celeba-glasses", tree["root"], 8, tmp_path / "c", workers=1)
    assert (out / "images.npy").stat().st_mtime_ns == before


def test_other_settings_are_refused_or_rebuilt(tree, tmp_path):
    out = prepare_data("celeba-glasses", tree["root"], 8, tmp_path / "c", workers=1)
    with pytest.raises(CacheMismatch, match=r"size: built 8, asked 12"):
        load_cache(out, expect=reader_settings("celeba-glasses", tree["root"], 12))
    with pytest.raises(CacheMismatch, match=r"options.crop: built 148, asked 120"):
        load_cache(out, expect=reader_settings("celeba-glasses", tree["root"], 8, crop=120))
    prepare_data("celeba-glasses", tree["root"], 12, out, workers=1)
    assert load_cache(out, expect=reader_settings("celeba-glasses", tree["root"], 12)).x.shape[-1] == 12


def test_changed_sources_rebuild(tree, tmp_path):
    out = prepare_data("celeba", tree["root"], 8, tmp_path / "c", workers=1,
                       attributes=["Eyeglasses"], holdout_fraction=0)
    (tree["images"] / "000024.jpg").unlink()
    prepare_data("celeba", tree["root"], 8, out, workers=1, attributes=["Eyeglasses"], holdout_fraction=0)
    data = load_cache(out)
    assert len(data.y) == 23 and data.info["missing_images"] == 1


def test_truncated_cache_is_an_error_and_rebuilt(tree, tmp_path):
    out = prepare_data("celeba-glasses", tree["root"], 8, tmp_path / "c", workers=1)
    path = out / "images.npy"
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 100)
    with pytest.raises(CacheError, match=r"images.npy is truncated"):
        load_cache(out)
    prepare_data("celeba-glasses", tree["root"], 8, out, workers=1)
    assert load_cache(out).x.shape[-1] == 8


def test_missing_cache_is_an_error(tmp_path):
    with pytest.raises(CacheError, match=r"no image cache in .*manifest.json missing"):
        load_cache(tmp_path)


def _build(tree, out, **kw):
    settings = reader_settings("celeba", tree["root"], 8, attributes=["Eyeglasses"])
    index = index_images("celeba", tree["root"], attributes=["Eyeglasses"])
    sources = reader_sources("celeba", tree["root"], settings["options"])
    return build_cache(index, out, 8, settings, sources, chunk=4, **kw)


def test_killed_build_resumes(tree, tmp_path, monkeypatch):
    real, calls = cache._decode_chunk, []

    def dying(bounds):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(bounds)
        return real(bounds)

    monkeypatch.setattr(cache, "_decode_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        _build(tree, tmp_path / "c", workers=1)
    assert not (tmp_path / "c" / "manifest.json").exists()
    assert len(json.loads((tmp_path / "c" / ".partial" / "progress.json").read_text())["done"]) == 2
    monkeypatch.setattr(cache, "_decode_chunk", real)
    resumed = load_cache(_build(tree, tmp_path / "c", workers=1))
    assert resumed.info["resumed_chunks"] == 2
    fresh = load_cache(_build(tree, tmp_path / "fresh", workers=1))
    np.testing.assert_array_equal(resumed.x, fresh.x)
    assert not (tmp_path / "c" / ".partial").exists()


def test_parallel_build_matches_serial(tree, tmp_path):
    serial = load_cache(_build(tree, tmp_path / "one", workers=1))
    parallel = load_cache(_build(tree, tmp_path / "two", workers=2))
    np.testing.assert_array_equal(serial.x, parallel.x)
    np.testing.assert_array_equal(serial.y, parallel.y)


def test_bad_images_fail_or_are_skipped(tree, tmp_path):
    bad = tree["images"] / "000007.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DataError, match=r"000007.jpg cannot be decoded"):
        prepare_data("celeba", tree["root"], 8, tmp_path / "c", workers=2, attributes=["Eyeglasses"])
    out = prepare_data("celeba", tree["root"], 8, tmp_path / "c", workers=2,
                       attributes=["Eyeglasses"], skip_bad=True, holdout_fraction=0)
    data = load_cache(out)
    assert len(data.y) == 23 and data.info["bad_images"] == 1
    assert data.info["counts"]["train"]["rows"] == 23
    assert json.loads((out / "manifest.json").read_text())["files"][6] == "000008.jpg"
    assert_rows(np.asarray(data.x), [i for i in range(24) if i != 6])


def test_tfd_cache(tmp_path):
    make_tfd(tmp_path / "TFD_48x48.mat", n=40, fmt="v73")
    out = prepare_data("tfd", tmp_path / "TFD_48x48.mat", 24, tmp_path / "c", fold=1)
    data = load_cache(out)
    assert data.x.shape[1:] == (1, 24, 24) and data.label_kind == "categorical"
    assert data.info["fold"] == 1


def test_unknown_reader_and_option(tree, tmp_path):
    with pytest.raises(DataError, match=r"unknown image reader 'celebb'"):
        prepare_data("celebb", tree["root"], 8, tmp_path / "c")
    with pytest.raises(DataError, match=r"reader celeba has no option 'fold'"):
        prepare_data("celeba", tree["root"], 8, tmp_path / "c", fold=1)
    # unset options of other readers (as a CLI passes them) are ignored
    out = prepare_data("celeba-glasses", tree["root"], 8, tmp_path / "c", workers=1, fold=None,
                       csv=None, strict=False)
    assert load_cache(out).attribute_names == ["Eyeglasses"]


def test_load_images_builds_and_rebuilds(tree, tmp_path):
    cfg = DataConfig(name="celeba-glasses", root=str(tree["root"]), image_size=8,
                     cache=str(tmp_path / "c"), workers=1)
    data = load_images(cfg)
    assert isinstance(data.x, np.memmap) and data.x.shape[1:] == (3, 8, 8)
    assert not data.info["balanced"] and data.attribute_names == ["Eyeglasses"]  # data.balance weight keeps all
    discarded = load_images(dataclasses.replace(cfg, balance="discard"))
    assert discarded.info["balanced"] and len(discarded.x) < len(data.x)
    cfg = DataConfig(name="celeba-glasses", root=str(tree["root"]), image_size=12,
                     cache=str(tmp_path / "c"), workers=1)
    assert load_images(cfg).x.shape[1:] == (3, 12, 12)


def test_load_images_default_cache_folder(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "home"))
    data = load_images(DataConfig(name="celeba-facialhair", root=str(tree["root"]), image_size=8,
                                  workers=1))
    folder = Path(data.info["cache"])
    assert folder.parent == tmp_path / "home" and folder.name.startswith("celeba-facialhair-8px-")
    other = load_images(DataConfig(name="celeba-facialhair", root=str(tree["root"]), image_size=8,
                                   workers=1, seed=3))
    assert Path(other.info["cache"]) != folder


def test_load_images_dispatch(monkeypatch):
    fake = types.ModuleType("csvae.data.synthetic_faces")
    fake.load_synthetic_faces = lambda cfg: ("synthetic", cfg.image_size)
    monkeypatch.setitem(sys.modules, "csvae.data.synthetic_faces", fake)
    assert load_images(DataConfig(name="synthetic_faces", image_size=16)) == ("synthetic", 16)
    with pytest.raises(DataError, match=r"'mnist' is not an image data set"):
        load_images(DataConfig(name="mnist"))
    with pytest.raises(DataError, match=r"needs a root"):
        load_images(DataConfig(name="celeba"))


@pytest.mark.skipif(celeba_subset_dir() is None, reason="real CelebA subset not found: set "
                    "CSVAE_CELEBA_SUBSET or put it at <repo>/../shared/data/celeba-subset")
def test_real_subset_cache(tmp_path):
    out = prepare_data("celeba-glasses-facialhair", celeba_subset_dir(), 32, tmp_path / "c")
    data = load_cache(out)
    assert data.x.shape[1:] == (3, 32, 32) and len(data.y) == data.info["counts"]["train"]["rows"] \
        + data.info["counts"]["valid"]["rows"] + data.info["counts"]["test"]["rows"]
    assert data.info["missing_images"] == 0 and data.info["bad_images"] == 0
    assert 60 < float(np.asarray(data.x[:50]).mean()) < 200


def test_load_images_folder_and_tfd(tmp_path):
    from fixtures_images import make_folder

    make_folder(tmp_path / "f", name="attrs.csv")
    data = load_images(DataConfig(name="folder", root=str(tmp_path / "f"), csv="attrs.csv",
                                  image_size=8, attributes=["hat"], cache=str(tmp_path / "c1")))
    assert data.attribute_names == ["hat"] and data.x.shape[1:] == (3, 8, 8)
    make_tfd(tmp_path / "t" / "TFD_48x48.mat", n=20)
    data = load_images(DataConfig(name="tfd", root=str(tmp_path / "t"), image_size=48, fold=3,
                                  cache=str(tmp_path / "c2")))
    assert data.label_kind == "categorical" and data.x.shape[1:] == (1, 48, 48)
    with pytest.raises(DataError, match=r"data.attributes must be empty for tfd"):
        load_images(DataConfig(name="tfd", root=str(tmp_path / "t"), attributes=["happy"]))


@pytest.mark.parametrize("files", [{"images.npy": b"my own array", "manifest.json": b"{\"mine\": 1}"},
                                   {"holiday.jpg": b"a photo"},
                                   {"images.npy": b"my own array", "notes.txt": b"x"}])
def test_a_folder_that_is_not_a_cache_is_refused(tree, tmp_path, files):
    """prepare-data --out naming the user's own folder used to replace its images.npy/manifest.json."""
    out = tmp_path / "mine"
    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    with pytest.raises(CacheError, match=rf"{out} is not an image cache folder: it holds .*which csvae did "
                                         r"not write and will not replace"):
        prepare_data("celeba-glasses", tree["root"], 8, out, workers=1)
    assert sorted(p.name for p in out.iterdir()) == sorted(files)  # untouched, no .lock either
    assert all((out / name).read_bytes() == data for name, data in files.items())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_data("celeba-glasses", tree["root"], 8, empty, workers=1) == empty


def test_cli_prepare_data_refuses_the_data_folder(tmp_path, capsys):
    from csvae.cli import main

    from fixtures_images import make_folder

    make_folder(tmp_path / "f")
    before = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert main(["prepare-data", "folder", "--root", str(tmp_path / "f"), "--size", "8", "--out",
                 str(tmp_path / "f"), "--workers", "1"]) == 1
    assert "is not an image cache folder: it holds img, labels.csv" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == before


def test_cache_inside_the_data_folder_is_reused(tmp_path):
    """Making the cache folder used to change the stamps of the data folder holding it: the cache
    was rebuilt on the next run."""
    from fixtures_images import make_folder

    make_folder(tmp_path / "f")
    out = prepare_data("folder", tmp_path / "f", 8, tmp_path / "f" / "cache", workers=1)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert prepare_data("folder", tmp_path / "f", 8, out, workers=1) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_workers_must_be_positive(tree, tmp_path, capsys):
    from csvae.cli import main

    assert main(["prepare-data", "celeba", "--root", str(tree["root"]), "--out", str(tmp_path / "c"),
                 "--workers", "0"]) == 1
    assert "workers (--workers) must be a positive integer, got 0" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("change,message", [
    (lambda m: m["images"].update(file="../outside.npy"), r"images.file is '../outside.npy', expected 'images.npy'"),
    (lambda m: m["images"].update(shape=["a", 3, 8, 8]), r"images.shape is \['a', 3, 8, 8\], expected 4"),
    (lambda m: m.pop("settings"), r"settings is missing or not an object"),
    (lambda m: m.update(y=m["y"][:-1]), r"y should be {n} rows of 1 values 0/1"),
    (lambda m: m.update(split=[7] * len(m["split"])), r"split should be {n} values 0/1/2"),
    (lambda m: m.update(label_kind="ordinal"), r"label_kind is 'ordinal'"),
])
def test_a_tampered_manifest_is_refused_naming_the_field(tree, tmp_path, change, message):
    """A manifest whose fields are wrong used to raise a bare KeyError, or (images.file) open a file
    outside the cache folder."""
    out = prepare_data("celeba-glasses", tree["root"], 8, tmp_path / "c", workers=1)
    n = len(load_cache(out).y)
    np.save(tmp_path / "outside.npy", np.zeros((n, 3, 8, 8), dtype=np.uint8))
    manifest = json.loads((out / "manifest.json").read_text())
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match="manifest.json: " + message.replace("{n}", str(n))):
        load_cache(out)
    prepare_data("celeba-glasses", tree["root"], 8, out, workers=1)  # a tampered cache is rebuilt
    assert len(load_cache(out).y) == n
