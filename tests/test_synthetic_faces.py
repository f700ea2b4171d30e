"""Synthetic faces: determinism, shapes, label independence, factors, re-rendering, visibility."""

import hashlib

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from csvae.config import DataConfig
from csvae.data.dataset import SPLITS
from csvae.data.synthetic_faces import (
    ATTRIBUTES,
    NUISANCE_FACTORS,
    STYLE_FACTORS,
    factor_names,
    generate_faces,
    load_synthetic_faces,
    render_faces,
)


@pytest.fixture(scope="module")
def many():
    """4,000 faces at 32 px (about half a second)."""
    return generate_faces(4000, seed=0, size=32)


def test_shapes_and_dtypes():
    for size in (32, 64):
        x, y, f = generate_faces(10, seed=1, size=size)
        assert x.shape == (10, 3, size, size) and x.dtype == np.uint8
        assert y.shape == (10, 3) and y.dtype == np.float32
        assert set(np.unique(y)) <= {0.0, 1.0}
        assert list(f) == list(factor_names())
        for name, v in f.items():
            assert v.shape == (10,) and v.dtype == np.float32, name
    x, y, f = generate_faces(5, size=48, attributes=("smile", "glasses"))
    assert x.shape == (5, 3, 48, 48) and y.shape == (5, 2)
    assert list(f) == list(NUISANCE_FACTORS) + list(STYLE_FACTORS["smile"]) + list(STYLE_FACTORS["glasses"])


def test_deterministic_and_seed_dependent():
    a = generate_faces(50, seed=7, size=32)
    b = generate_faces(50, seed=7, size=32)
    assert a[0].tobytes() == b[0].tobytes()
    np.testing.assert_array_equal(a[1], b[1])
    for name in a[2]:
        np.testing.assert_array_equal(a[2][name], b[2][name])
    c = generate_faces(50, seed=8, size=32)
    assert a[0].tobytes() != c[0].tobytes()


def test_chunk_invariance():
    # More than one internal chunk (512), and a prefix of a longer call: the same faces.
    x, y, f = generate_faces(600, seed=3, size=32)
    x_long, y_long, f_long = generate_faces(700, seed=3, size=32)
    assert x.tobytes() == x_long[:600].tobytes()
    np.testing.assert_array_equal(y, y_long[:600])
    # Rendering in pieces gives the same bytes as one call.
    pieces = [render_faces(y[s:s + 97], {k: v[s:s + 97] for k, v in f.items()}, size=32)
              for s in range(0, 600, 97)]
    assert np.concatenate(pieces).tobytes() == x.tobytes()


def test_render_reproduces_generate():
    for size in (32, 64):
        x, y, f = generate_faces(40, seed=11, size=size)
        assert render_faces(y, f, size=size).tobytes() == x.tobytes()
    x, y, f = generate_faces(20, seed=2, size=32, attributes=("facial_hair",))
    assert render_faces(y, f, size=32, attributes=("facial_hair",)).tobytes() == x.tobytes()


# SHA-256 of the image bytes, computed by the generator as it was before its drawing was split into
# named parts (commit a052d61, Pillow 13.0). A change here is a change of every synthetic data set:
# cached judges, shipped results and the demo's report then no longer match.
FROZEN_FACES = [
    (dict(n=40, seed=0, size=32), "a7b39e96301baeff954f6a39b430a5799319ebf24b7bacc4d8bdc11966be6ad2"),
    (dict(n=24, seed=5, size=64), "cd6753fcf3eebd4ddaefe0b1c09b3e51ed3e76a88cc6516c9da712edabc3b2f7"),
    (dict(n=8, seed=1, size=16), "3a6a5a4f818387d34a9de52cd6ee406c6f74f2509376b6f0a0646af1de5619d5"),
    (dict(n=6, seed=2, size=100), "43f52c93405e3cdeb0d13d8210fc34bad4483cd6f1e9b4773b89fae1c146d2f6"),
    (dict(n=2, seed=4, size=256), "e15be01e5e5db5453332cce980303e1028e23d4c446f76a80b5cc407ca7dc191"),
    (dict(n=12, seed=3, size=48, attributes=("smile", "glasses")),
     "aa5aea253173d8ea79db6c2c76e5918e6b99f6fdea4267fd974d2440be8eeffa"),
]
FROZEN_EXTREMES = {0.0: "c4326cf0dba3d72211181e80f9c9fd33bbcd039b88529062297f71f513eb8e7f",
                   1.0: "a8322a291387e378f208939540666519d3107f98173d02db1c6be5b12d31ceb5"}


@pytest.mark.parametrize("call, digest", FROZEN_FACES)
def test_faces_are_frozen(call, digest):
    """The same seed draws the same bytes as the generator of commit a052d61."""
    images = generate_faces(**call)[0]
    assert hashlib.sha256(images.tobytes()).hexdigest() == digest


@pytest.mark.parametrize("value", sorted(FROZEN_EXTREMES))
def test_extreme_factors_are_frozen(value):
    """Every attribute present, every factor at one end of its range: the same bytes as before."""
    factors = {name: np.full(1, value) for name in factor_names()}
    images = render_faces(np.ones((1, 3)), factors, size=64)
    assert hashlib.sha256(images.tobytes()).hexdigest() == FROZEN_EXTREMES[value]


def test_labels_balanced_and_independent(many):
    _, y, f = many
    assert np.all(np.abs(y.mean(0) - 0.5) < 0.03)
    corr = np.corrcoef(y.T)
    off = corr[~np.eye(3, dtype=bool)]
    assert np.abs(off).max() < 0.05, corr
    for name in NUISANCE_FACTORS:  # labels vs nuisances
        for j in range(3):
            assert abs(np.corrcoef(y[:, j], f[name])[0, 1]) < 0.05, (name, ATTRIBUTES[j])
        assert 0 <= f[name].min() and f[name].max() <= 1


def test_style_factor_nan_iff_attribute_absent(many):
    _, y, f = many
    for j, attribute in enumerate(ATTRIBUTES):
        for name in STYLE_FACTORS[attribute]:
            np.testing.assert_array_equal(np.isnan(f[name]), y[:, j] == 0, err_msg=name)
            present = f[name][y[:, j] == 1]
            assert 0 <= present.min() and present.max() <= 1
    for name in NUISANCE_FACTORS:
        assert not np.isnan(f[name]).any()


def test_subset_keeps_the_same_faces():
    _, _, f_all = generate_faces(30, seed=4, size=32)
    x, y, f = generate_faces(30, seed=4, size=32, attributes=("smile",))
    for name in NUISANCE_FACTORS:
        np.testing.assert_array_equal(f[name], f_all[name])
    np.testing.assert_array_equal(np.isnan(f["smile.width"]), y[:, 0] == 0)


def test_label_and_factor_overrides():
    n = 16
    labels = np.zeros((n, 3), dtype=np.float32)
    labels[:, 0] = 1
    x, y, f = generate_faces(n, seed=5, size=32, labels=labels, factors={"glasses.tint": 1.0})
    np.testing.assert_array_equal(y, labels)
    assert np.all(f["glasses.tint"] == 1.0)
    assert np.isnan(f["smile.curvature"]).all()
    _, _, f_free = generate_faces(n, seed=5, size=32)
    np.testing.assert_array_equal(f["nuisance.skin_tone"], f_free["nuisance.skin_tone"])


@pytest.mark.slow
def test_attributes_visible_at_32px(many):
    """A linear classifier on raw 32x32 pixels predicts every attribute (chance: 0.5)."""
    x, y, _ = many
    features = x[:3000].reshape(3000, -1).astype(np.float32) / 255
    train, test = slice(0, 2000), slice(2000, 3000)
    for j, attribute in enumerate(ATTRIBUTES):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, solver="liblinear", random_state=0))
        clf.fit(features[train], y[train, j])
        accuracy = clf.score(features[test], y[test, j])
        assert accuracy >= 0.95, (attribute, accuracy)


# Rows (fractions of the side) where each attribute may be drawn when the face is centred.
REGIONS = {"glasses": (0.30, 0.60), "facial_hair": (0.55, 1.0), "smile": (0.60, 0.85)}


@pytest.mark.parametrize("name", [n for a in ATTRIBUTES for n in STYLE_FACTORS[a]])
def test_style_factor_changes_its_region(name):
    size, n = 64, 6
    attribute = name.split(".")[0]
    labels = np.zeros((n, 3), dtype=np.float32)
    labels[:, ATTRIBUTES.index(attribute)] = 1
    rng = np.random.default_rng(0)
    factors = {k: rng.random(n) for k in factor_names()}
    factors["nuisance.offset_x"][:] = 0.5
    factors["nuisance.offset_y"][:] = 0.5
    low = render_faces(labels, {**factors, name: np.zeros(n)}, size=size).astype(np.int16)
    high = render_faces(labels, {**factors, name: np.ones(n)}, size=size).astype(np.int16)
    changed = np.abs(high - low).max(axis=1) > 8  # (n, H, W)
    rows = np.flatnonzero(changed.any(axis=(0, 2)))
    top, bottom = REGIONS[attribute]
    assert rows.min() >= top * size and rows.max() < bottom * size, (rows.min(), rows.max())
    # Clearly visible: at least 20 pixels of every face change by more than 8 levels.
    assert changed.sum(axis=(1, 2)).min() >= 20, changed.sum(axis=(1, 2))


def test_attribute_changes_the_image():
    n = 4
    factors = {k: np.full(n, 0.5) for k in factor_names()}
    plain = render_faces(np.zeros((n, 3)), factors, size=32)
    for j in range(3):
        labels = np.zeros((n, 3))
        labels[:, j] = 1
        with_attribute = render_faces(labels, factors, size=32)
        assert (np.abs(with_attribute.astype(int) - plain).max(axis=1) > 30).sum() >= 10 * n


@pytest.mark.parametrize("call, message", [
    (lambda: generate_faces(4, attributes=("glasses", "hat")),
     r"unknown synthetic-face attribute\(s\) \['hat'\]; valid attributes: \['glasses', 'facial_hair', 'smile'\]"),
    (lambda: generate_faces(0), "n must be a positive integer"),
    (lambda: generate_faces(-3), "n must be a positive integer"),
    (lambda: generate_faces(4, size=8), "image size must be an integer within 16..256"),
    (lambda: generate_faces(4, size=64.0), "image size"),
    (lambda: generate_faces(4, attributes=()), "at least one attribute"),
    (lambda: generate_faces(4, attributes=("smile", "smile")), "listed twice"),
    (lambda: generate_faces(4, labels=np.zeros((4, 2))), r"labels must have shape \(4, 3\)"),
    (lambda: generate_faces(4, labels=np.full((4, 3), 2)), "0 or 1"),
    (lambda: generate_faces(4, factors={"glasses.colour": 0.5}), r"unknown factor\(s\) \['glasses.colour'\]"),
    (lambda: generate_faces(4, labels=np.ones((4, 3)), factors={"glasses.size": 1.5}),
     r"'glasses.size' must be in \[0, 1\]"),
    (lambda: render_faces(np.ones((2, 3)), {}), "missing"),
    (lambda: render_faces(np.ones((2, 3)), {k: np.full(2, np.nan) for k in factor_names()}), "must be in"),
    (lambda: render_faces(np.ones((2, 1)), {k: np.zeros(2) for k in factor_names()}, attributes=("smile",)),
     "unexpected"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_load_synthetic_faces():
    cfg = DataConfig(name="synthetic_faces", n_samples=200, image_size=32, test_fraction=0.25,
                     attributes=["glasses", "smile"])
    data = load_synthetic_faces(cfg)
    assert data.x.shape == (200, 3, 32, 32) and data.x.dtype == np.uint8
    assert data.y.shape == (200, 2) and data.attribute_names == ["glasses", "smile"]
    assert data.label_kind == "binary"
    counts = {name: int((data.split == code).sum()) for name, code in SPLITS.items()}
    assert counts == {"train": 130, "valid": 20, "test": 50}
    assert set(data.factors) == set(factor_names(("glasses", "smile")))
    assert all(v.shape == (200,) for v in data.factors.values())
    again = load_synthetic_faces(cfg)
    assert again.x.tobytes() == data.x.tobytes()
    np.testing.assert_array_equal(again.split, data.split)
    other = load_synthetic_faces(DataConfig(name="synthetic_faces", n_samples=200, image_size=32,
                                            attributes=["glasses", "smile"], seed=1))
    assert other.x.tobytes() != data.x.tobytes()
    all_three = load_synthetic_faces(DataConfig(name="synthetic_faces", n_samples=20, image_size=32))
    assert all_three.attribute_names == list(ATTRIBUTES)
    with pytest.raises(ValueError, match="valid attributes"):
        load_synthetic_faces(DataConfig(n_samples=20, attributes=["beard"]))
