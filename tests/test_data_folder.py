"""Folder + CSV reader: value conventions, columns, splits, and bad CSVs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from csvae.data.checks import DataError  # noqa: E402
from csvae.data.folder import folder_sources, index_folder, read_folder  # noqa: E402

from fixtures_images import assert_rows, make_folder  # noqa: E402


@pytest.mark.parametrize("convention", ["01", "pm1", "bool"])
def test_value_conventions(tmp_path, convention):
    made = make_folder(tmp_path, convention=convention)
    data = read_folder(tmp_path, size=16, holdout_fraction=0)
    assert data.x.shape == (12, 3, 16, 16) and data.attribute_names == ["smile", "hat"]
    np.testing.assert_array_equal(data.y, made["y"])
    assert_rows(data.x, range(12))  # PNG and JPEG of several sizes, largest centred square


def test_split_column_and_attribute_choice(tmp_path):
    make_folder(tmp_path, split=True)
    index = index_folder(tmp_path, attributes=["hat"])
    assert index.attribute_names == ["hat"]
    np.testing.assert_array_equal(index.split, np.arange(12) // 2 % 3)
    assert index.info["derived_splits"] == []


def test_derived_splits_without_split_column(tmp_path):
    make_folder(tmp_path, n=30)
    index = index_folder(tmp_path, holdout_fraction=0.2)
    assert [(index.split == p).sum() for p in range(3)] == [18, 6, 6]


def test_filename_column_and_csv_option(tmp_path):
    make_folder(tmp_path, name="other.csv")
    path = tmp_path / "other.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(",".join(reversed(line.split(","))) for line in lines) + "\n")
    index = index_folder(tmp_path, csv_path="other.csv", filename_column="file")
    assert index.attribute_names == ["hat", "smile"] and index.files[0] == "img/000.jpg"
    with pytest.raises(DataError, match=r"no file-name column 'name'; columns: hat, smile, file"):
        index_folder(tmp_path, filename_column="name")


def test_unknown_attribute(tmp_path):
    make_folder(tmp_path)
    with pytest.raises(DataError, match=r"unknown attribute 'beard' .*valid attributes: smile, hat"):
        index_folder(tmp_path, attributes=["beard"])


def test_bad_values_name_line_and_column(tmp_path):
    make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0] + ",maybe"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"labels.csv, line 5, column hat: value 'maybe'"):
        index_folder(tmp_path)


def test_mixed_conventions(tmp_path):
    make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",-1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column hat: values mix conventions"):
        index_folder(tmp_path)


def test_duplicates_and_field_counts(tmp_path):
    make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(DataError, match=r"line 14: duplicate file name img/000.jpg \(first on line 2\)"):
        index_folder(tmp_path)
    path.write_text("\n".join(lines + ["img/x.jpg,1"]) + "\n")
    with pytest.raises(DataError, match=r"line 14: expected 3 fields, got 2"):
        index_folder(tmp_path)


def test_missing_images(tmp_path):
    make_folder(tmp_path, missing=(2,))
    data = read_folder(tmp_path, size=16, holdout_fraction=0)
    assert len(data.y) == 11 and data.info["missing_images"] == 1
    assert_rows(data.x, [i for i in range(12) if i != 2])
    with pytest.raises(DataError, match=r"1 images listed .* missing .*img/002.jpg"):
        index_folder(tmp_path, strict=True)


def test_which_csv(tmp_path):
    make_folder(tmp_path, name="a.csv")
    (tmp_path / "b.csv").write_text("x\n")
    with pytest.raises(DataError, match=r"exactly one .csv file"):
        index_folder(tmp_path)


def _append_row(root, row):
    path = root / "labels.csv"
    path.write_text(path.read_text() + row + "\n")


@pytest.mark.parametrize("name,message", [
    ("../outside.png", r"line 14: file name '../outside.png' holds '..'; file names must stay inside"),
    ("img/../../outside.png", r"line 14: file name 'img/../../outside.png' holds '..'"),
    ("../../../../etc/passwd", r"line 14: file name '../../../../etc/passwd' holds '..'"),
])
def test_names_that_leave_the_folder_are_refused(tmp_path, name, message):
    """A row naming a file outside the image folder is an error before any file is opened."""
    from fixtures_images import write_image

    root = tmp_path / "data"
    make_folder(root)
    write_image(tmp_path / "outside.png", 3, (40, 40))
    _append_row(root, f"{name},1,0")
    with pytest.raises(DataError, match=message):
        index_folder(root)
    with pytest.raises(DataError, match=message):  # nor is its folder stamped for the cache
        folder_sources(root)


def test_absolute_name_is_refused_naming_csv_and_line(tmp_path):
    make_folder(tmp_path / "data")
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"")
    _append_row(tmp_path / "data", f"{outside},1,0")
    with pytest.raises(DataError, match=r"labels.csv, line 14: file name '/.*outside.png' is an absolute path; "
                                        r"file names are relative to the image folder"):
        index_folder(tmp_path / "data")


def test_byte_order_mark_and_non_utf8(tmp_path):
    made = make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel writes "CSV UTF-8"
    index = index_folder(tmp_path, filename_column="file")
    assert index.files == made["files"] and index.attribute_names == ["smile", "hat"]
    path.write_bytes(path.read_bytes()[3:].replace(b"img/000.jpg", "img/\xe9t\xe9.jpg".encode("latin-1")))
    with pytest.raises(DataError, match=r"cannot read .*labels.csv: it is not UTF-8 text \(byte 0xe9"):
        index_folder(tmp_path)


def test_label_file_without_header(tmp_path):
    make_folder(tmp_path)
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(path.read_text().splitlines()[1:]) + "\n")
    with pytest.raises(DataError, match=r"labels.csv, line 1 holds values \(img/000.jpg, 1, 1\), not column "
                                        r"names; the first line must be a header"):
        index_folder(tmp_path)


def test_attribute_with_one_value_is_refused(tmp_path):
    """A column no model can learn (one value in every row, or in every training row) is refused;
    a judge would otherwise report a perfect accuracy for it."""
    made = make_folder(tmp_path)
    path = tmp_path / "labels.csv"

    def write(smile, hat, split):
        path.write_text("file,smile,hat,split\n" + "".join(
            f"{f},{s},{h},{p}\n" for f, s, h, p in zip(made["files"], smile, hat, split)))

    hat = [int(v) for v in made["y"][:, 1]]
    write([0] * 12, hat, ["train"] * 8 + ["valid", "valid", "test", "test"])
    with pytest.raises(DataError, match=r"labels.csv, column smile: every row has the value 0; an attribute "
                                        r"needs rows of both values"):
        index_folder(tmp_path)
    assert index_folder(tmp_path, attributes=["hat"]).attribute_names == ["hat"]
    write([0] * 12, hat, ["test" if h else "train" for h in hat])  # every hat = 1 is a test row
    with pytest.raises(DataError, match=r"column hat: every training row has the value 0"):
        index_folder(tmp_path, attributes=["hat"])
