"""TFD reader: MATLAB v5 and v7.3 files, both image orientations, folds, and bad files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from csvae.data.checks import DataError  # noqa: E402
from csvae.data.tfd import EXPRESSIONS, index_tfd, read_tfd  # noqa: E402

from fixtures_images import make_tfd  # noqa: E402


def _expected(n: int, fold: int):
    labels = np.array([-1 if i % 4 == 3 else 1 + i % 7 for i in range(n)])
    rows = np.flatnonzero(labels > 0)
    return rows, labels[rows], (rows + fold) % 3


@pytest.mark.parametrize("fmt", ["v5", "v73"])
@pytest.mark.parametrize("layout", ["nhw", "hwn"])
def test_reads_labelled_images_of_a_fold(tmp_path, fmt, layout):
    path = tmp_path / "TFD_48x48.mat"
    make_tfd(path, n=40, fmt=fmt, layout=layout)
    data = read_tfd(path, size=48, fold=2)
    rows, labels, split = _expected(40, 2)
    assert data.x.shape == (len(rows), 1, 48, 48) and data.x.dtype == np.uint8
    np.testing.assert_array_equal(data.x[:, 0, 20, 20], (3 * rows) % 256)
    assert (data.x[:, 0, :4, :4] == 255).all() and (data.x[:, 0, -4:, -4:] != 255).all()
    assert data.label_kind == "categorical" and data.attribute_names == EXPRESSIONS
    np.testing.assert_array_equal(data.y.argmax(1), labels - 1)
    assert (data.y.sum(1) == 1).all() and data.y.dtype == np.float32
    np.testing.assert_array_equal(data.split, split)
    assert data.info["labelled_images"] == len(rows) and data.info["fold"] == 2


def test_v73_file_has_matlab_header(tmp_path):
    path = tmp_path / "t.mat"
    make_tfd(path, fmt="v73")
    assert path.read_bytes()[:10] == b"MATLAB 7.3"
    a, b = read_tfd(path), read_tfd(make_tfd(tmp_path / "v5.mat") and tmp_path / "v5.mat")
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)


def test_resize_and_folder_lookup(tmp_path):
    make_tfd(tmp_path / "TFD_48x48.mat", n=20)
    data = read_tfd(tmp_path, size=32)
    assert data.x.shape[1:] == (1, 32, 32)
    assert abs(float(data.x[0, 0, 16, 16]) - 0) <= 1


def test_float_images_in_unit_range(tmp_path):
    images = np.full((12, 48, 48), 0.5)
    make_tfd(tmp_path / "t.mat", n=12, fields={"images": images})
    assert (read_tfd(tmp_path / "t.mat").x == 128).all()


def test_missing_field(tmp_path):
    for fmt in ("v5", "v73"):
        make_tfd(tmp_path / f"{fmt}.mat", fmt=fmt, drop=["folds"])
        with pytest.raises(DataError, match=r"missing field 'folds'"):
            index_tfd(tmp_path / f"{fmt}.mat")


def test_shapes_that_disagree(tmp_path):
    make_tfd(tmp_path / "a.mat", n=20, fields={"labs_ex": np.ones((19, 1))})
    with pytest.raises(DataError, match=r"fields disagree.*images \(20, 48, 48\), labs_ex \(19, 1\)"):
        index_tfd(tmp_path / "a.mat")
    make_tfd(tmp_path / "b.mat", n=20, fields={"folds": np.ones((20, 4))})
    with pytest.raises(DataError, match=r"folds should be \(20, 5\).*folds \(20, 4\)"):
        index_tfd(tmp_path / "b.mat")
    make_tfd(tmp_path / "c.mat", n=20, fields={"labs_id": np.ones((21, 1))})
    with pytest.raises(DataError, match=r"labs_id should hold 20 values"):
        index_tfd(tmp_path / "c.mat")


def test_bad_values(tmp_path):
    labels = np.ones((12, 1))
    labels[5] = 9
    make_tfd(tmp_path / "a.mat", n=12, fields={"labs_ex": labels})
    with pytest.raises(DataError, match=r"labs_ex\[5\] = 9"):
        index_tfd(tmp_path / "a.mat")
    labels[5] = -1
    make_tfd(tmp_path / "b.mat", n=12, fields={"labs_ex": labels, "folds": np.ones((12, 5))})
    with pytest.raises(DataError, match=r"image 5 is in fold 0 .* labs_ex = -1"):
        index_tfd(tmp_path / "b.mat")
    with pytest.raises(DataError, match="fold must be 0..4"):
        index_tfd(tmp_path / "b.mat", fold=5)


def test_not_a_mat_file(tmp_path):
    (tmp_path / "x.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match=r"x.mat"):
        index_tfd(tmp_path / "x.mat")


def test_non_finite_pixels_are_refused(tmp_path):
    """One NaN used to turn the min/max scaling of every image into 0/1, with only a NumPy warning."""
    images = np.full((12, 48, 48), 0.5)
    images[7, 3, 4] = np.nan
    make_tfd(tmp_path / "t.mat", n=12, fields={"images": images})
    with pytest.raises(DataError, match=r"t.mat: image 7 has a NaN or infinite pixel \(1 images do\)"):
        index_tfd(tmp_path / "t.mat")
    images[7, 3, 4], images[2, 0, 0] = 0.5, np.inf
    make_tfd(tmp_path / "t.mat", n=12, fmt="v73", fields={"images": images})
    with pytest.raises(DataError, match=r"t.mat: image 2 has a NaN or infinite pixel"):
        index_tfd(tmp_path / "t.mat")


@pytest.mark.parametrize("value", [2.5, np.nan])
def test_fractional_labels_are_refused(tmp_path, value):
    labels = np.ones((12, 1))
    labels[4] = value
    make_tfd(tmp_path / "a.mat", n=12, fields={"labs_ex": labels})
    with pytest.raises(DataError, match=rf"a.mat: labs_ex\[4\] = {value:g}, expected a whole number"):
        index_tfd(tmp_path / "a.mat")
