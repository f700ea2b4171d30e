"""The judge: trained on real synthetic faces, accurate, identified, cached, refusing foreign images."""

import dataclasses

import numpy as np
import pytest
import torch

from csvae.data.dataset import Dataset
from csvae.evaluate.judge import (
    as_unit_float,
    balanced_accuracy_by_attribute,
    data_hash,
    fit_judge,
    judge_settings,
    judge_state,
    load_judge,
    load_or_fit_judge,
    r2_by_column,
    save_judge,
)
from csvae.evaluate.judge import training as judge_module
from csvae.runfiles import accuracy_text

from conftest import TINY_JUDGE


def categorical(faces: Dataset) -> Dataset:
    """Four classes from two attributes: class = 2 * glasses + smile."""
    cls = (2 * faces.y[:, 0] + faces.y[:, 2]).astype(int)
    return dataclasses.replace(faces, y=np.eye(4, dtype=np.float32)[cls], label_kind="categorical",
                               attribute_names=["plain", "smile", "glasses", "both"], factors=None)


def test_judge_is_accurate_on_real_test_images(judge, faces):
    assert set(judge.test_accuracy) == {"glasses", "facial_hair", "smile"}
    for name, accuracy in judge.test_accuracy.items():
        assert accuracy >= 0.9, (name, accuracy)
    x_test, y_test = faces.part("test")
    assert judge.test_accuracy_overall == pytest.approx(float((judge.classify(x_test) == y_test).mean()))


def test_balanced_accuracy_has_known_answers(judge, faces, monkeypatch):
    x_test, y_test = faces.part("test")
    assert judge.test_balanced_accuracy == pytest.approx(balanced_accuracy_by_attribute(judge, x_test, y_test))
    # A judge that always says "present" is right on every positive and wrong on every negative:
    # balanced accuracy 0.5 whatever the class balance, while plain accuracy is the positive rate.
    monkeypatch.setattr(judge, "classify", lambda x, batch_size=512: np.ones((len(x), 3), np.float32))
    y = np.zeros((10, 3), np.float32)
    y[:9, 0] = 1  # 90% positives
    y[:1, 1] = 1  # 10% positives
    balanced = balanced_accuracy_by_attribute(judge, x_test[:10], y)
    assert balanced["glasses"] == pytest.approx(0.5) and balanced["facial_hair"] == pytest.approx(0.5)
    assert np.isnan(balanced["smile"])  # one class only: undefined
    text = accuracy_text({"glasses": 0.9, "smile": 1.0}, {"glasses": 0.5, "smile": 1.0})
    assert text == "glasses 0.900 (balanced 0.500), smile 1.000"


def test_identity_and_outputs(judge, faces):
    assert judge.dataset_name == "csvae.data.synthetic_faces"
    assert judge.image_shape == (3, 32, 32) and judge.label_kind == "binary"
    assert judge.attribute_names == ["glasses", "facial_hair", "smile"]
    assert len(judge.data_hash) == 64
    x = faces.x[:20]
    p = judge.predict(x)
    assert p.shape == (20, 3) and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(judge.predict(x.astype(np.float32) / 255), p, atol=1e-6)
    np.testing.assert_allclose(judge.predict(torch.from_numpy(x)), p, atol=1e-6)
    assert judge.features(x).shape == (20, 32)
    np.testing.assert_array_equal(judge.classify(x), (p > 0.5).astype(np.float32))


def test_judge_reads_the_ground_truth_factors_of_real_images(judge, faces):
    assert judge.factor_names == list(faces.factors)
    x_test = faces.part("test")[0]
    read = judge.read_factors(x_test)
    assert read.shape == (len(x_test), len(faces.factors))
    truth = np.stack([faces.factors[n] for n in judge.factor_names], 1)[faces.indices("test")]
    assert judge.test_factor_r2 == pytest.approx(r2_by_column(truth, read, judge.factor_names))
    # large, always-defined factors and a large style are read well even by the tiny test judge
    for name in ("nuisance.offset_x", "nuisance.background_hue", "facial_hair.kind"):
        assert judge.test_factor_r2[name] > 0.5, (name, judge.test_factor_r2[name])


def test_r2_by_column_has_known_answers():
    rng = np.random.default_rng(0)
    truth = rng.random((50, 3))
    truth[:10, 1] = np.nan  # undefined rows are skipped
    truth[:, 2] = 0.5  # constant truth: R^2 undefined
    exact = r2_by_column(truth, np.nan_to_num(truth), ["a", "b", "c"])
    assert exact["a"] == pytest.approx(1.0) and exact["b"] == pytest.approx(1.0) and np.isnan(exact["c"])
    means = np.tile(np.nanmean(truth, 0), (50, 1))
    assert r2_by_column(truth, means, ["a", "b", "c"])["b"] == pytest.approx(0.0, abs=1e-12)


def test_a_judge_without_factors_cannot_read_styles(faces):
    data = categorical(faces)  # no factors
    j = fit_judge(data, **{**TINY_JUDGE, "epochs": 1, "min_steps": 1, "factor_min_steps": 1})
    assert j.factor_names == [] and j.test_factor_r2 == {}
    with pytest.raises(ValueError, match="without ground-truth factors"):
        j.read_factors(data.x[:4])


@pytest.mark.slow
def test_categorical_judge_uses_a_softmax(faces):
    data = categorical(faces)
    j = fit_judge(data, **{**TINY_JUDGE, "epochs": 1})
    p = j.predict(data.x[:30])
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert set(j.test_accuracy) == {"plain", "smile", "glasses", "both"}
    assert j.test_accuracy_overall >= 0.5  # chance is 0.25
    labels = j.classify(data.x[:30])
    assert (labels.sum(1) == 1).all()


def test_save_and_load_round_trip(judge, faces, tmp_path):
    path = tmp_path / "judge.pt"
    save_judge(judge, path)
    assert [p.name for p in tmp_path.iterdir()] == ["judge.pt"]  # no temporary file left
    again = load_judge(path)
    np.testing.assert_array_equal(again.logits(faces.x[:16]), judge.logits(faces.x[:16]))
    np.testing.assert_array_equal(again.read_factors(faces.x[:16]), judge.read_factors(faces.x[:16]))
    for field in ("dataset_name", "image_shape", "attribute_names", "label_kind", "data_hash", "settings",
                  "test_accuracy", "test_accuracy_overall", "test_balanced_accuracy", "factor_names",
                  "test_factor_r2"):
        assert getattr(again, field) == getattr(judge, field), field


def test_load_refuses_bad_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_judge(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable judge file"):
        load_judge(tmp_path / "junk.pt")
    torch.save({"format": "csvae"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a csvae judge file"):
        load_judge(tmp_path / "other.pt")


def test_load_refuses_weights_that_disagree_with_the_description(judge, tmp_path):
    state = judge_state(judge)
    state["factor_names"] = state["factor_names"][:3]  # the stored read-out head has 16 outputs
    torch.save(state, tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match="damaged.pt is a damaged judge file"):
        load_judge(tmp_path / "damaged.pt")
    state = judge_state(judge)
    del state["dataset_name"]  # used to be a bare KeyError
    torch.save(state, tmp_path / "nameless.pt")
    with pytest.raises(ValueError, match="nameless.pt is a damaged judge file.*KeyError: 'dataset_name'"):
        load_judge(tmp_path / "nameless.pt")


@pytest.mark.slow
def test_load_or_fit_reuses_the_cached_judge(faces, tmp_path, monkeypatch):
    small = dataclasses.replace(faces, x=faces.x[:300], y=faces.y[:300], split=faces.split[:300])
    first = load_or_fit_judge(small, tmp_path, **{**TINY_JUDGE, "epochs": 1})
    assert len(list(tmp_path.glob("judge-*.pt"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the cached judge should have been reused")

    monkeypatch.setattr(judge_module, "_fit", no_training)
    again = load_or_fit_judge(small, tmp_path, **{**TINY_JUDGE, "epochs": 1})
    assert again.data_hash == first.data_hash
    np.testing.assert_array_equal(again.logits(small.x[:8]), first.logits(small.x[:8]))
    with pytest.raises(AssertionError, match="reused"):  # other settings: another hash, a new fit
        load_or_fit_judge(small, tmp_path, **{**TINY_JUDGE, "epochs": 1, "seed": 1})


def test_hash_depends_on_data_name_and_settings(faces):
    small = dataclasses.replace(faces, x=faces.x[:50].copy(), y=faces.y[:50], split=faces.split[:50])
    s = judge_settings(**TINY_JUDGE)
    base = data_hash(small, "faces", s)
    assert data_hash(small, "faces", s) == base
    assert data_hash(small, "other", s) != base
    assert data_hash(small, "faces", judge_settings(**{**TINY_JUDGE, "seed": 3})) != base
    changed = dataclasses.replace(small, x=small.x.copy())
    changed.x[0, 0, 0, 0] ^= 1
    assert data_hash(changed, "faces", s) != base


def test_check_compatible_names_the_mismatch(judge):
    names = ["glasses", "facial_hair", "smile"]
    judge.check_compatible("csvae.data.synthetic_faces", (3, 32, 32), names)
    with pytest.raises(ValueError, match="data set 'celeba'"):
        judge.check_compatible("celeba", (3, 32, 32), names)
    with pytest.raises(ValueError, match=r"image shape \(3, 64, 64\)"):
        judge.check_compatible("csvae.data.synthetic_faces", (3, 64, 64), names)
    with pytest.raises(ValueError, match="attributes"):
        judge.check_compatible("csvae.data.synthetic_faces", (3, 32, 32), ["smile", "glasses", "facial_hair"])


def test_inputs_are_checked(judge):
    with pytest.raises(ValueError, match=r"shape \(N, 3, 32, 32\)"):
        judge.predict(np.zeros((2, 3, 64, 64), np.uint8))
    with pytest.raises(ValueError, match="divide by 255"):
        judge.predict(np.full((2, 3, 32, 32), 200.0, np.float32))
    clipped = as_unit_float(np.full((1, 1, 2, 2), 1.2, np.float32), (1, 2, 2))
    assert float(clipped.max()) == 1.0


def test_settings_and_names_are_checked(faces):
    with pytest.raises(ValueError, match=r"unknown judge setting\(s\) \['epoch'\]"):
        judge_settings(epoch=3)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        judge_settings(epochs=0)
    for bad in (0.0, -1.0, float("nan"), "x", True):
        with pytest.raises(ValueError, match="factor_weight must be a positive number"):
            judge_settings(factor_weight=bad)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        judge_settings(lr="0.001")
    nameless = dataclasses.replace(faces, info={})
    with pytest.raises(ValueError, match="pass name="):
        fit_judge(nameless, **TINY_JUDGE)
    vectors = Dataset(x=np.zeros((10, 4), np.float32), y=np.zeros((10, 1), np.float32),
                      split=np.zeros(10, np.int8), attribute_names=["a"])
    with pytest.raises(ValueError, match="uint8 images"):
        fit_judge(vectors, name="toy")
