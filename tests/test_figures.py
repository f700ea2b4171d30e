"""Figures: exact tiling, subspace decoding and the arrays a run's figures need (figure_data), each
figure drawn from arrays alone as a readable PNG, and a run's figures drawn from its files."""

import numpy as np
import pytest
import torch
from PIL import Image

import csvae
from csvae.data.synthetic_faces import generate_faces
from csvae.evaluate import figure_data
from csvae.evaluate.figure_data import decode_subspace_grid, figure_arrays, style_grid_images, transfer_cells
from csvae.evaluate.manipulation import generate
from csvae.figures import comparison_grid, latent_scatter, save_image_grid, style_grid, tile, transfer_grid

OPTIONS = dict(x_shape=(3, 32, 32), y_dim=2, z_dim=4, conv_channels=[8, 8, 8], conv_dense=16, head_hidden=8, seed=0)


@pytest.fixture(scope="module")
def data():
    x, y, _ = generate_faces(12, seed=3, size=32, attributes=("glasses", "smile"))
    return x, y


@pytest.fixture(scope="module")
def model():
    return csvae.build_model("csvae", w_dim=2, adversary_hidden=[8], **OPTIONS)


def read_png(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def only_file(folder):
    files = [p.name for p in folder.iterdir()]
    assert len(files) == 1, files  # no temporary file left behind
    return folder / files[0]


def test_tile_places_images_with_white_gaps():
    images = np.zeros((2, 3, 3, 4, 4), np.uint8)
    for r in range(2):
        for c in range(3):
            images[r, c] = 10 * (3 * r + c)
    picture = tile(images, pad=2)
    assert picture.shape == (2 * 6 - 2, 3 * 6 - 2, 3) and picture.dtype == np.uint8
    assert (picture[6:10, 12:16] == 50).all()  # row 1, column 2
    assert (picture[4:6] == 255).all() and (picture[:, 4:6] == 255).all()
    grey = tile(np.full((1, 2, 1, 3, 3), 0.5, np.float32), pad=1)
    assert grey.shape == (3, 7, 3) and (grey[:, :3] == 128).all()
    blank = tile(np.full((1, 1, 3, 2, 2), np.nan, np.float32))
    assert (blank == 255).all()
    with pytest.raises(ValueError, match="rows, cols"):
        tile(np.zeros((2, 3, 4, 4)))


def test_decode_subspace_grid_sets_only_that_subspace(model, data):
    x, y = data
    model.eval()
    xt, yt = torch.from_numpy(x[:1]), torch.from_numpy(y[:1])
    post = model.encode(xt, yt)
    own = post.w.mean[0, 2:4].detach().numpy()[None]  # subspace 1 at its posterior mean
    at_mean = decode_subspace_grid(model, x[:1], y[:1], 1, own)
    np.testing.assert_allclose(at_mean[:, 0], model.reconstruct(x[:1], y[:1]), atol=1e-5)
    points = np.array([[0.0, 0.0], [3.0, -1.0]], np.float32)
    grid = decode_subspace_grid(model, x[:3], y[:3], 0, points)
    assert grid.shape == (3, 2, 3, 32, 32)
    w = post.w.mean.detach().clone()
    w[0, :2] = torch.tensor([3.0, -1.0])
    with torch.no_grad():
        expected = model.to_data(model.decode(post.z.mean, w)).numpy()
    np.testing.assert_allclose(grid[0, 1], expected[0], atol=1e-5)
    with pytest.raises(ValueError, match="points must have shape"):
        decode_subspace_grid(model, x[:1], y[:1], 0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        decode_subspace_grid(model, x[:1], y[:1], 2, points)


def test_each_figure_is_a_png(model, data, tmp_path):
    x, y = data
    names = ["glasses", "smile"]
    vae = csvae.build_model("vae", **OPTIONS)
    model.train()
    decoded = style_grid_images(model, x[:3], y[:3], 0, steps=4)
    cells = transfer_cells(model, x[:3], y[:3], x[3:7], y[3:7], 1)
    assert decoded.shape == (3, 4, 4, 3, 32, 32) and cells.shape == (3, 4, 3, 32, 32)
    recon = model.reconstruct(x[:4], y[:4])
    edits = {name: generate(m, x[:4], y[:4], 1 - y[:4]) for name, m in (("csvae", model), ("vae", vae))}
    figures = {
        "style": lambda p: style_grid(x[:3], decoded, (-1.0, 4.0), "glasses", p),
        "manipulation": lambda p: comparison_grid(x[:4], recon, edits, p),
        "transfer": lambda p: transfer_grid(x[:3], x[3:7], cells, p),
        "scatter": lambda p: latent_scatter(model.latents(x, y)["w"], y, names, 2, p),
        "grid": lambda p: save_image_grid(np.stack([x[:2], x[2:4]]), p, row_labels=["a", "b"],
                                          col_labels=["1", "2"], title="t"),
    }
    for name, draw in figures.items():
        folder = tmp_path / name
        folder.mkdir()
        draw(folder / f"{name}.png")
        width, height = read_png(only_file(folder))
        assert width > 100 and height > 50, name
    assert model.training and vae.training  # computing the images restores the train/eval mode
    with pytest.raises(ValueError, match="at least one model"):
        comparison_grid(x[:1], x[:1], {}, tmp_path / "m.png")


def test_style_grid_needs_2d_subspaces(data):
    x, y = data
    model = csvae.build_model("csvae", w_dim=1, adversary_hidden=[8], **OPTIONS)
    with pytest.raises(ValueError, match="w_dim=1"):
        style_grid_images(model, x[:1], y[:1], 0)


def test_style_grid_of_3d_subspaces_varies_two_coordinates(data, monkeypatch):
    x, y = data
    model = csvae.build_model("csvae", w_dim=3, adversary_hidden=[8], **OPTIONS)
    seen = {}

    def record(model, x, y, attribute, points):
        seen["points"] = points
        return decode_subspace_grid(model, x, y, attribute, points)

    monkeypatch.setattr(figure_data, "decode_subspace_grid", record, raising=True)
    decoded = style_grid_images(model, x[:2], y[:2], 1, steps=3, extent=(-1.0, 2.0))
    points = seen["points"]
    assert points.shape == (9, 3) and decoded.shape == (2, 3, 3, 3, 32, 32)
    assert sorted(set(points[:, 0].tolist())) == [-1.0, 0.5, 2.0] and set(points[:, 1].tolist()) == {-1.0, 0.5, 2.0}
    assert (points[:, 2] == model.config.prior_mean_1).all()
    assert (points[0, :2] == [-1.0, 2.0]).all()  # top-left cell: smallest w_1, largest w_2


def test_figure_arrays_hold_what_every_grid_draws(model, data):
    x, y = data
    arrays = figure_arrays(model, x, y, "binary", n_images=6, n_styles=3, steps=3)
    assert arrays["inputs"].shape == (6, 3, 32, 32) and arrays["reconstructions"].dtype == np.uint8
    assert arrays["latent_w"].shape == (12, 4) and arrays["labels"].shape == (12, 2)
    for i in range(2):
        assert arrays[f"manipulated_{i}"].shape == (6, 3, 32, 32)
        assert arrays[f"style_{i}"].shape == (3, 3, 3, 3, 32, 32)
        donors = arrays[f"transfer_donors_{i}"]
        assert (y[donors, i] == 1).all() and arrays[f"transfer_{i}"].shape == (3, len(donors), 3, 32, 32)
    vae = figure_arrays(csvae.build_model("vae", **OPTIONS), x, y, "binary", n_images=6)
    assert "manipulated_0" in vae and not any(k.startswith(("style_", "transfer_")) for k in vae)


def test_ccvae_figure_arrays_hold_transfers_but_no_style_grid(data):
    x, y = data
    ccvae = csvae.build_model("ccvae", **{**OPTIONS, "z_dim": 2})
    arrays = figure_arrays(ccvae, x, y, "binary", n_images=6, n_styles=3)
    assert arrays["transfer_0"].shape[:2] == (3, len(arrays["transfer_donors_0"]))
    assert "style_extent" not in arrays and "style_0" not in arrays  # its prior is learned: no fixed range
