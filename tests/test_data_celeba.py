"""CelebA reader: layouts, attribute choice, splits, balancing, bad input, and the real subset."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from csvae.data.celeba import index_celeba, parse_attributes, read_celeba  # noqa: E402
from csvae.data.checks import DataError  # noqa: E402
from csvae.data.imageio import RESAMPLE, decode_image  # noqa: E402
from csvae.data.images import index_images  # noqa: E402

from fixtures_images import CELEBA_NAMES, assert_rows, celeba_subset_dir, facial_hair, make_celeba  # noqa: E402


@pytest.fixture
def tree(tmp_path):
    return make_celeba(tmp_path / "celeba", n=24)


def test_reads_standard_layout(tree):
    data = read_celeba(tree["root"], size=16, attributes=["Eyeglasses", "Smiling"], holdout_fraction=0)
    assert data.x.shape == (24, 3, 16, 16) and data.x.dtype == np.uint8
    assert data.y.dtype == np.float32 and data.split.dtype == np.int8
    values = tree["values"]
    expected = (values[:, [CELEBA_NAMES.index("Eyeglasses"), CELEBA_NAMES.index("Smiling")]] == 1)
    np.testing.assert_array_equal(data.y, expected.astype(np.float32))
    assert data.attribute_names == ["Eyeglasses", "Smiling"] and data.label_kind == "binary"
    assert_rows(data.x, range(24))
    assert data.info["missing_images"] == 0


@pytest.mark.parametrize("fmt,nested", [("csv", False), ("csv", True), ("txt", True)])
def test_layout_variants_agree(tmp_path, tree, fmt, nested):
    other = make_celeba(tmp_path / "other", n=24, fmt=fmt, nested=nested)
    a = index_celeba(tree["root"], ["Eyeglasses", "facial_hair"])
    b = index_celeba(other["root"], ["Eyeglasses", "facial_hair"])
    assert a.files == b.files
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.split, b.split)


def test_all_attributes_by_default_and_facial_hair_rule(tree):
    index = index_celeba(tree["root"], holdout_fraction=0)
    assert index.attribute_names == CELEBA_NAMES
    index = index_celeba(tree["root"], ["facial_hair"], holdout_fraction=0)
    np.testing.assert_array_equal(index.y[:, 0], facial_hair(tree["values"]))
    assert "No_Beard == -1" in index.info["attribute_rules"]["facial_hair"]


def test_missing_images_are_counted_or_strict_error(tmp_path):
    tree = make_celeba(tmp_path / "c", n=20, missing=(3, 7))
    data = read_celeba(tree["root"], size=8, attributes=["Eyeglasses"], holdout_fraction=0)
    assert len(data.y) == 18 and data.info["missing_images"] == 2
    assert_rows(data.x, [i for i in range(20) if i not in (3, 7)])
    with pytest.raises(DataError, match=r"2 images .* missing .*000004.jpg"):
        index_celeba(tree["root"], ["Eyeglasses"], strict=True)


def test_presets_balance_training_split(tmp_path):
    tree = make_celeba(tmp_path / "c", n=120)
    index = index_images("celeba-glasses", tree["root"])
    assert index.attribute_names == ["Eyeglasses"] and index.info["balanced"]
    train = index.y[index.split == 0, 0]
    assert train.sum() == (1 - train).sum() > 0
    before = index.info["before_balance"]["train"]
    assert train.sum() == min(before["Eyeglasses"], before["rows"] - before["Eyeglasses"])
    both = index_images("celeba-glasses-facialhair", tree["root"])
    assert both.attribute_names == ["Eyeglasses", "facial_hair"]
    codes = both.y[both.split == 0] @ np.array([1, 2])
    counts = np.bincount(codes.astype(int), minlength=4)
    assert (counts == counts[0]).all() and counts[0] > 0
    # valid and test keep their natural frequencies
    assert both.info["counts"]["valid"] == both.info["before_balance"]["valid"]
    # the same seed gives the same rows; another seed other rows
    assert index_images("celeba-glasses", tree["root"]).files == index.files
    assert index_images("celeba-glasses", tree["root"], seed=1).files != index.files
    assert not index_images("celeba", tree["root"], attributes=["Eyeglasses"]).info["balanced"]


def test_preset_attributes_cannot_be_changed(tree):
    with pytest.raises(DataError, match="fixes attributes"):
        index_images("celeba-glasses", tree["root"], attributes=["Smiling"])


def test_derived_splits_keep_identities_apart(tmp_path):
    tree = make_celeba(tmp_path / "c", n=60)
    index = index_celeba(tree["root"], ["Eyeglasses"], holdout_fraction=0.2)
    assert index.info["derived_splits"] == ["valid", "test"]
    identity = np.array([int(f[:6]) - 1 for f in index.files]) // 2
    for part in (1, 2):
        assert abs((index.split == part).sum() - 12) <= 1
        other = np.setdiff1d(np.arange(3), [part])
        assert not set(identity[index.split == part]) & set(identity[np.isin(index.split, other)])
    no_ids = make_celeba(tmp_path / "d", n=60, identity=False)
    index = index_celeba(no_ids["root"], ["Eyeglasses"], holdout_fraction=0.2)
    assert [(index.split == p).sum() for p in range(3)] == [36, 12, 12]


def test_existing_partitions_are_kept(tmp_path):
    partition = [i // 2 % 3 for i in range(30)]  # (i % 3 would put every Eyeglasses row in train)
    tree = make_celeba(tmp_path / "c", n=30, partition=partition)
    index = index_celeba(tree["root"], ["Eyeglasses"])
    np.testing.assert_array_equal(index.split, partition)
    assert index.info["derived_splits"] == []


def test_attribute_with_one_value_in_training_is_refused(tmp_path):
    tree = make_celeba(tmp_path / "c", n=30, partition=[i % 3 for i in range(30)])
    with pytest.raises(DataError, match=r"list_attr_celeba.txt\), attribute Eyeglasses: every training row has "
                                        r"the value 1; an attribute needs rows of both values"):
        index_celeba(tree["root"], ["Eyeglasses"])


def test_unknown_attribute_lists_valid_ones(tree):
    with pytest.raises(DataError, match=r"unknown attribute 'Glasses'.*Eyeglasses.*facial_hair"):
        index_celeba(tree["root"], ["Glasses"])


def _rewrite(path: Path, line: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n")


def test_count_line_disagreeing(tree):
    path = tree["root"] / "list_attr_celeba.txt"
    _rewrite(path, 1, "25")
    with pytest.raises(DataError, match=r"list_attr_celeba.txt, line 1: says 25 rows but the file has 24"):
        parse_attributes(path)


def test_row_with_wrong_number_of_values(tree):
    path = tree["root"] / "list_attr_celeba.txt"
    _rewrite(path, 5, "000003.jpg " + " ".join(["1"] * 39))
    with pytest.raises(DataError, match=r"line 5: expected a file name and 40 values, got 40 fields"):
        parse_attributes(path)


def test_value_other_than_plus_minus_one(tree):
    path = tree["root"] / "list_attr_celeba.txt"
    _rewrite(path, 4, "000002.jpg 0 " + " ".join(["1"] * 39))
    with pytest.raises(DataError, match=r"line 4: value '0' of 5_o_Clock_Shadow is not 1 or -1"):
        parse_attributes(path)


def test_duplicate_file_names(tree):
    path = tree["root"] / "list_attr_celeba.txt"
    _rewrite(path, 6, "000001.jpg " + " ".join(["1"] * 40))
    with pytest.raises(DataError, match=r"line 6: duplicate file name 000001.jpg \(first on line 3\)"):
        parse_attributes(path)


def test_csv_errors_name_line(tmp_path):
    tree = make_celeba(tmp_path / "c", n=10, fmt="csv")
    path = tree["root"] / "list_attr_celeba.csv"
    _rewrite(path, 3, "000002.jpg," + ",".join(["1"] * 39 + ["yes"]))
    with pytest.raises(DataError, match=r"list_attr_celeba.csv, line 3: value 'yes' of Young"):
        parse_attributes(path)


def test_partition_errors(tree):
    path = tree["root"] / "list_eval_partition.txt"
    _rewrite(path, 2, "000002.jpg 5")
    with pytest.raises(DataError, match=r"list_eval_partition.txt, line 2: partition '5'"):
        index_celeba(tree["root"], ["Eyeglasses"])
    _rewrite(path, 2, "")
    with pytest.raises(DataError, match=r"no partition for 1 images .* 000002.jpg"):
        index_celeba(tree["root"], ["Eyeglasses"])


def test_corrupt_image_named_or_skipped(tree):
    bad = tree["images"] / "000005.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(DataError, match=r"000005.jpg cannot be decoded"):
        read_celeba(tree["root"], size=8, attributes=["Eyeglasses"])
    data = read_celeba(tree["root"], size=8, attributes=["Eyeglasses"], skip_bad=True, holdout_fraction=0)
    assert len(data.y) == 23 and data.info["bad_images"] == 1
    assert data.info["bad_image_examples"] == ["000005.jpg"]
    assert_rows(data.x, [i for i in range(24) if i != 4])


def test_crop_larger_than_image_is_an_error(tree):
    with pytest.raises(DataError, match=r"000001.jpg cannot be decoded: image is 178x218, smaller"):
        read_celeba(tree["root"], size=8, attributes=["Eyeglasses"], crop=200)


def test_draft_decoding_matches_full_decoding(tree):
    path = tree["images"] / "000003.jpg"
    rng = np.random.default_rng(0)
    noisy = (rng.random((218, 178, 3)) * 255).astype(np.uint8)
    noisy[::8] = 0
    Image.fromarray(noisy).save(path, quality=95)
    for size in (16, 32, 64):
        fast = decode_image(path, size, crop=148).astype(float)
        with Image.open(path) as image:
            ref = image.convert("RGB").resize((size, size), RESAMPLE, box=(15, 35, 163, 183))
        ref = np.asarray(ref, dtype=float).transpose(2, 0, 1)
        assert np.abs(fast - ref).mean() < 6, size


subset = celeba_subset_dir()
needs_subset = pytest.mark.skipif(subset is None, reason="real CelebA subset not found: set "
                                  "CSVAE_CELEBA_SUBSET or put it at <repo>/../shared/data/celeba-subset")


@needs_subset
def test_real_subset_counts_match_its_readme():
    names = ["Eyeglasses", "Goatee", "Mustache", "No_Beard", "facial_hair", "Male", "Smiling"]
    index = index_celeba(subset, names, holdout_fraction=0)
    assert len(index) == 3419 and index.info["missing_images"] == 0
    assert index.info["identities"] == 2716
    counts = dict(zip(names, index.y.sum(axis=0).astype(int)))
    assert counts == {"Eyeglasses": 244, "Goatee": 202, "Mustache": 130, "No_Beard": 2853,
                      "facial_hair": 572, "Male": 1506, "Smiling": 1680}
    assert int((index.y[:, 0] * index.y[:, 4]).sum()) == 80
    assert (index.split == 0).all()


@needs_subset
def test_real_subset_presets_split_by_identity():
    index = index_images("celeba-glasses-facialhair", subset)
    assert index.info["derived_splits"] == ["valid", "test"]
    ids = dict(line.split() for line in (subset / "identity_CelebA.txt").read_text().splitlines())
    identity = np.array([ids[f] for f in index.files])
    sets = [set(identity[index.split == p]) for p in range(3)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    codes = (index.y[index.split == 0] @ np.array([1, 2])).astype(int)
    counts = np.bincount(codes, minlength=4)
    assert (counts == counts[0]).all() and counts[0] > 50
