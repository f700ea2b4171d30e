"""csvae.apply: manipulate and transfer on image files, with tiny synthetic-face runs."""

import dataclasses
import logging
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from csvae import apply
from csvae.api import load
from csvae.checkpoint import CheckpointError
from csvae.configfile import load_config
from csvae.data.checks import DataError
from csvae.data.synthetic_faces import generate_faces
from csvae.figures import PAD  # the grid padding
from csvae.runs import fit_run

from run_helpers import untrained_run as _untrained_run

SIZE = 32


def _tiny_run(root, name: str, out):
    config = load_config(root / "configs" / "synthetic_faces" / f"{name}.yaml")
    model = dataclasses.replace(config.model, conv_channels=[8, 16, 32], conv_dense=32, head_hidden=16,
                                adversary_hidden=[16])
    data = dataclasses.replace(config.data, n_samples=300)
    train = dataclasses.replace(config.train, epochs=1, log_every=1000, checkpoint_every=1000)
    fit_run(dataclasses.replace(config, model=model, data=data, train=train), out)
    return out


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny nets: one torch thread is faster than two, and much faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs(one_thread, request, tmp_path_factory):
    root = request.config.rootpath
    tmp = tmp_path_factory.mktemp("apply")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSVAE_CACHE_DIR", str(tmp / "cache"))
        return {name: _tiny_run(root, name, tmp / name) for name in ("csvae", "condvae")}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three JPEGs of 50 x 70 (a 50 px face centred on a taller canvas) and one PNG of 64 x 48;
    face 0 has no glasses, face 1 glasses (labels in the file names)."""
    tmp = tmp_path_factory.mktemp("images")
    x, y, _ = generate_faces(4, seed=3, size=50)
    paths = []
    for i in range(3):
        canvas = np.full((70, 50, 3), 200, dtype=np.uint8)
        canvas[10:60] = x[i].transpose(1, 2, 0)
        path = tmp / f"face{i}-glasses{int(y[i, 0])}.jpg"
        Image.fromarray(canvas).save(path, quality=95)
        paths.append(path)
    wide = np.asarray(Image.fromarray(x[3].transpose(1, 2, 0)).resize((48, 48)))
    canvas = np.full((48, 64, 3), 90, dtype=np.uint8)
    canvas[:, 8:56] = wide
    path = tmp / "face3.png"
    Image.fromarray(canvas).save(path)
    paths.append(path)
    return paths, y


def _png_size(path):
    with Image.open(path) as image:
        return image.size  # (width, height)


def _grid_size(rows, cols, size=SIZE, scale=1):
    return ((cols * (size + PAD) - PAD) * scale, (rows * (size + PAD) - PAD) * scale)


def test_read_images_like_run_crops_the_largest_centred_square(runs, images):
    model = load(runs["csvae"])
    paths, _ = images
    x = apply.read_images_like_run(model, paths)
    assert x.shape == (4, 3, SIZE, SIZE) and x.dtype == np.uint8
    # the 50 x 70 canvas is cut to its centred 50 x 50 square: the generated face itself
    face = np.asarray(Image.open(paths[0]).convert("RGB"))[10:60]
    expected = np.asarray(Image.fromarray(face).resize((SIZE, SIZE), Image.Resampling.LANCZOS))
    assert np.abs(x[0].transpose(1, 2, 0).astype(int) - expected.astype(int)).mean() < 3
    assert model.data_card.crop is None and (runs["csvae"] / "data.json").exists()


def test_manipulate_writes_a_grid_per_input(runs, images, tmp_path):
    paths, _ = images
    out = apply.manipulate_files(runs["csvae"], paths, "glasses", 1, tmp_path / "grid.png", samples=3, seed=1,
                                 current=0)
    assert out == tmp_path / "grid.png"
    assert _png_size(out) == _grid_size(rows=4, cols=2 + 3)
    picture = np.asarray(Image.open(out)).astype(int)
    tiles = [picture[PAD:PAD + SIZE, PAD + j * (SIZE + PAD):PAD + j * (SIZE + PAD) + SIZE] for j in range(5)]
    assert np.abs(tiles[2] - tiles[3]).max() > 0  # style "sample": a new point in W_glasses per sample
    again = apply.manipulate_files(runs["csvae"], paths, "glasses", 1, tmp_path / "again.png", samples=3, seed=1,
                                   current=0)
    assert np.array_equal(np.asarray(Image.open(again)), picture)  # seeded
    apply.manipulate_files(runs["csvae"], paths[:1], "glasses", 0, tmp_path / "infer.png")  # labels inferred
    assert _png_size(tmp_path / "infer.png") == _grid_size(rows=1, cols=3)


def test_manipulate_baseline_and_scale(runs, images, tmp_path):
    paths, _ = images
    out = apply.manipulate_files(runs["condvae"], paths[:2], "smile", "0", tmp_path / "b.png", current=1, scale=2)
    assert _png_size(out) == _grid_size(rows=2, cols=3, scale=2)


def test_target_equal_to_current_is_reported_not_fatal(runs, images, tmp_path, caplog):
    paths, _ = images
    for run in runs.values():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="csvae.apply"):
            out = apply.manipulate_files(run, paths[:2], "glasses", 1, tmp_path / "same.png", current=1)
        assert out.exists()
        notes = [r.getMessage() for r in caplog.records]
        assert len(notes) == 2
        assert all("glasses" in n and "already 1" in n for n in notes)
        assert str(paths[0]) in notes[0] and str(paths[1]) in notes[1]
        # the manipulation of an unchanged label is the reconstruction
        picture = np.asarray(Image.open(out)).astype(int)
        recon = picture[:SIZE, SIZE + PAD:2 * SIZE + PAD]
        edit = picture[:SIZE, 2 * (SIZE + PAD):2 * (SIZE + PAD) + SIZE]
        assert np.abs(recon - edit).max() <= 1


def test_inferred_labels_are_binary_and_respect_fixed_values(runs, images):
    paths, _ = images
    for run in runs.values():
        model = load(run)
        x = apply.read_images_like_run(model, paths)
        y = apply.infer_labels(model, x)
        assert y.shape == (4, 3) and set(np.unique(y)) <= {0.0, 1.0}
        assert (apply.infer_labels(model, x, {1: 1})[:, 1] == 1).all()


def test_transfer_writes_one_row_and_refuses_baselines(runs, images, tmp_path):
    paths, _ = images
    out = apply.transfer_files(runs["csvae"], paths[0], paths[1], "glasses", tmp_path / "t.png")
    assert _png_size(out) == _grid_size(rows=1, cols=4)
    with pytest.raises(DataError, match="transfer needs a CSVAE or CCVAE run.*condvae"):
        apply.transfer_files(runs["condvae"], paths[0], paths[1], "glasses", tmp_path / "u.png")
    assert not (tmp_path / "u.png").exists()


@pytest.mark.slow
def test_bad_inputs_are_named(runs, images, tmp_path):
    paths, _ = images
    run = runs["csvae"]
    with pytest.raises(DataError, match="unknown attribute 'Eyeglasses'.*glasses, facial_hair, smile"):
        apply.manipulate_files(run, paths, "Eyeglasses", 1, tmp_path / "x.png")
    with pytest.raises(DataError, match="unknown attribute 'hat'.*glasses, facial_hair, smile"):
        apply.transfer_files(run, paths[0], paths[1], "hat", tmp_path / "x.png")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="broken.jpg"):
        apply.manipulate_files(run, [paths[0], broken], "glasses", 1, tmp_path / "x.png")
    with pytest.raises(DataError, match="missing.png does not exist"):
        apply.transfer_files(run, paths[0], tmp_path / "missing.png", "glasses", tmp_path / "x.png")
    with pytest.raises(DataError, match="--to must be 0 or 1.*glasses.*'2'"):
        apply.manipulate_files(run, paths, "glasses", "2", tmp_path / "x.png")
    with pytest.raises(DataError, match="--current must be 0 or 1"):
        apply.manipulate_files(run, paths, "glasses", 1, tmp_path / "x.png", current="yes")
    with pytest.raises(DataError, match="--style must be one of"):
        apply.manipulate_files(run, paths, "glasses", 1, tmp_path / "x.png", style="random")
    with pytest.raises(CheckpointError, match="no finished model"):
        apply.manipulate_files(tmp_path, paths, "glasses", 1, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    assert apply.attribute_index(load(run), "Smile") == 2  # case-insensitive when unique


def test_celeba_runs_read_the_centred_148_crop(tmp_path, images):
    from csvae.config import DataConfig
    from csvae.data.imageio import decode_image

    run = _untrained_run(tmp_path / "run", "csvae", DataConfig(name="celeba-glasses", root="/nowhere"),
                         (3, 32, 32), 1, names=["Eyeglasses"])
    model = load(run)
    assert apply.attribute_names(model) == ["Eyeglasses"] and model.data_card.crop == 148
    photo = tmp_path / "photo.jpg"
    rgb = np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(photo, quality=95)
    assert np.array_equal(apply.read_images_like_run(model, [photo])[0], decode_image(photo, 32, 148))
    # a photo of another size: the same share of its width (148 / 178 of 50 px: 42 px)
    assert np.array_equal(apply.read_images_like_run(model, [images[0][0]])[0], decode_image(images[0][0], 32, 42))
    tiny = tmp_path / "tiny.png"
    Image.fromarray(rgb[:9, :9]).save(tiny)
    with pytest.raises(DataError, match=r"tiny.png.*its square is 7x7, smaller than the minimum of 8x8"):
        apply.read_images_like_run(model, [photo, tiny])
    out = apply.manipulate_files(run, [photo], "eyeglasses", 1, tmp_path / "m.png", samples=2)
    assert _png_size(out) == _grid_size(rows=1, cols=4, size=32)


@pytest.mark.slow
def test_categorical_runs_take_a_class_name(tmp_path, images, caplog):
    from csvae.config import DataConfig
    from csvae.data.tfd import EXPRESSIONS

    run = _untrained_run(tmp_path / "run", "csvae", DataConfig(name="tfd", root="/nowhere"), (1, 32, 32), 7,
                         names=EXPRESSIONS, label_kind="categorical")
    paths, _ = images
    out = apply.manipulate_files(run, paths[:2], None, "happy", tmp_path / "m.png", samples=2)
    assert _png_size(out) == _grid_size(rows=2, cols=4, size=32)
    assert np.asarray(Image.open(out)).ndim == 3  # greyscale tiles drawn as RGB
    with caplog.at_level(logging.WARNING, logger="csvae.apply"):
        apply.manipulate_files(run, paths[:1], None, 3, tmp_path / "m.png", current="happy")
    assert "class is already happy" in caplog.records[0].getMessage()
    with pytest.raises(DataError, match="not a class of this run; classes: anger, disgust"):
        apply.manipulate_files(run, paths[:1], None, "joy", tmp_path / "m.png")
    with pytest.raises(DataError, match="leave out --attribute"):
        apply.manipulate_files(run, paths[:1], "happy", "sad", tmp_path / "m.png")
    out = apply.transfer_files(run, paths[0], paths[1], None, tmp_path / "t.png")  # the whole label
    assert _png_size(out) == _grid_size(rows=1, cols=4, size=32)


def test_vector_runs_are_refused(tmp_path, images):
    from csvae.config import DataConfig

    run = _untrained_run(tmp_path / "run", "csvae", DataConfig(name="swiss_roll"), (3,), 1)
    with pytest.raises(DataError, match="vector data.*image runs only"):
        apply.manipulate_files(run, images[0][:1], "a", 1, tmp_path / "m.png")


def test_folder_runs_take_names_and_crop_from_their_data_card(tmp_path, images, monkeypatch):
    """The card records the label CSV's names and the crop when the data are read; apply reads the
    card, so it works after the data are gone."""
    from csvae.config import DataConfig
    from csvae.data import load_dataset
    from csvae.datacard import card_of_dataset

    from fixtures_images import make_folder

    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))
    make_folder(tmp_path / "data")
    data_config = DataConfig(name="folder", root=str(tmp_path / "data"), crop=40)
    card = card_of_dataset(load_dataset(data_config), data_config)
    assert card.attribute_names == ["smile", "hat"] and card.crop == 40 and card.x_shape == [3, 32, 32]
    run = _untrained_run(tmp_path / "run", "condvae", data_config, (3, 32, 32), 2, names=card.attribute_names)
    shutil.rmtree(tmp_path / "data")
    assert apply.attribute_names(load(run)) == ["smile", "hat"]
    out = apply.manipulate_files(run, images[0][:1], "hat", 1, tmp_path / "m.png", current=0)
    assert _png_size(out) == _grid_size(rows=1, cols=3)
    with pytest.raises(DataError, match="unknown attribute 'glasses'.*smile, hat"):
        apply.manipulate_files(run, images[0][:1], "glasses", 1, tmp_path / "m.png")


def test_command_line_manipulate_and_transfer(runs, images, tmp_path, capsys):
    from csvae.cli import main

    paths = images[0]
    grid = tmp_path / "grid.png"
    assert main(["manipulate", str(runs["csvae"]), "--images", *map(str, paths[:2]), "--attribute", "glasses",
                 "--to", "1", "--samples", "2", "--out", str(grid)]) == 0
    assert _png_size(grid) == _grid_size(2, 4)
    out = tmp_path / "transfer.png"
    assert main(["transfer", str(runs["csvae"]), "--content", str(paths[0]), "--style", str(paths[1]),
                 "--attribute", "glasses", "--out", str(out)]) == 0
    assert out.exists()
    assert main(["manipulate", str(runs["csvae"]), "--images", str(paths[0]), "--attribute", "Eyeglasses",
                 "--to", "1", "--out", str(grid)]) == 1
    assert "glasses" in capsys.readouterr().err


def test_out_never_replaces_an_input(runs, images, tmp_path, capsys):
    """--out naming an input image used to overwrite the user's photo with the grid."""
    from csvae.cli import main

    paths = images[0]
    photo = tmp_path / "photo.png"
    photo.write_bytes(paths[3].read_bytes())
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    hard = tmp_path / "hard.png"
    hard.hardlink_to(photo)
    original = photo.read_bytes()
    for out in (photo, link, hard, tmp_path / "." / "photo.png"):
        with pytest.raises(DataError, match=rf"--out {out} is the input .*photo.png; the grid would replace it"):
            apply.manipulate_files(runs["csvae"], [paths[0], photo], "glasses", 1, out)
    with pytest.raises(DataError, match=r"is the input .*photo.png"):
        apply.transfer_files(runs["csvae"], paths[0], photo, "glasses", link)
    assert main(["manipulate", str(runs["csvae"]), "--images", str(photo), "--attribute", "glasses", "--to", "1",
                 "--out", str(photo)]) == 1
    assert "the grid would replace it" in capsys.readouterr().err
    assert main(["transfer", str(runs["csvae"]), "--content", str(photo), "--style", str(paths[1]),
                 "--attribute", "glasses", "--out", str(photo)]) == 1
    assert photo.read_bytes() == original


def test_out_never_replaces_a_file_csvae_did_not_write(runs, images, tmp_path):
    paths = images[0]
    mine = tmp_path / "mine.png"
    mine.write_bytes(paths[3].read_bytes())
    with pytest.raises(DataError, match=r"--out .*mine.png exists and is not a grid csvae wrote"):
        apply.manipulate_files(runs["condvae"], paths[:1], "glasses", 1, mine)
    assert mine.read_bytes() == paths[3].read_bytes()
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "my holiday")  # a text comment, not the bytes a JPEG has
    Image.open(paths[3]).save(mine, pnginfo=text)
    with pytest.raises(DataError, match=r"--out .*mine.png exists and is not a grid csvae wrote"):
        apply.manipulate_files(runs["condvae"], paths[:1], "glasses", 1, mine)
    grid = apply.manipulate_files(runs["condvae"], paths[:1], "glasses", 1, tmp_path / "grid.png")
    assert apply.manipulate_files(runs["condvae"], paths[:1], "glasses", 0, grid) == grid  # its own grid


@pytest.mark.slow
def test_out_format_follows_the_suffix(runs, images, tmp_path):
    """--out x.jpg used to be written as PNG; an unknown suffix is refused."""
    paths = images[0]
    for name, fmt in (("g.jpg", "JPEG"), ("g.JPEG", "JPEG"), ("g.png", "PNG")):
        out = apply.transfer_files(runs["csvae"], paths[0], paths[1], "glasses", tmp_path / name)
        with Image.open(out) as image:
            assert image.format == fmt and image.size == _grid_size(rows=1, cols=4)
        assert apply.transfer_files(runs["csvae"], paths[0], paths[1], "glasses", out) == out  # rewritable
    for name in ("g.gif", "grid"):
        with pytest.raises(DataError, match=r"unknown image suffix .*PNG \(.png\) or JPEG \(.jpg, .jpeg\)"):
            apply.manipulate_files(runs["csvae"], paths[:1], "glasses", 1, tmp_path / name)


def test_ccvae_runs_infer_labels_with_their_own_classifier(tmp_path, images):
    from csvae.config import DataConfig

    run = _untrained_run(tmp_path / "run", "ccvae", DataConfig(name="synthetic_faces"), (3, 32, 32), 2,
                         names=["glasses", "smile"])
    model = load(run)
    x = apply.read_images_like_run(model, images[0])
    expected = (model.predict_labels(x) > 0.5).astype(np.float32)
    np.testing.assert_array_equal(apply.infer_labels(model, x), expected)
    fixed = apply.infer_labels(model, x, {1: 1})
    assert (fixed[:, 1] == 1).all() and (fixed[:, 0] == expected[:, 0]).all()
    out = apply.transfer_files(run, images[0][0], images[0][1], "smile", tmp_path / "t.png")
    assert _png_size(out) == _grid_size(rows=1, cols=4, size=32)
