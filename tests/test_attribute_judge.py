"""Preservation and realism on known answers (csvae.evaluate.attribute_judge, csvae.evaluate.realism)."""

import numpy as np
import pytest

from csvae.config import DataConfig
from csvae.evaluate.attribute_judge import attribute_data, other_columns, preservation, realism
from csvae.evaluate.realism import frechet_distance, kernel_distance


class BlockJudge:
    """A stand-in judge: attribute a of an image is whether its a-th block of pixels is bright on
    average, so random images have independent fair-coin attributes."""

    def __init__(self, k: int = 40):
        self.k = k

    def classify(self, x):
        x = np.asarray(x, dtype=np.float32)
        return (x.reshape(len(x), self.k, -1).mean(-1) > 0.5).astype(np.float32)

    def features(self, x):
        return np.asarray(x, dtype=np.float32).reshape(len(x), self.k, -1).mean(-1)


def test_preservation_of_the_identity_is_one_and_of_an_unrelated_image_is_chance():
    rng = np.random.default_rng(0)
    x = (rng.random((400, 3, 8, 40)) > 0.5).astype(np.float32) * rng.random((400, 1, 1, 40)).astype(np.float32) * 2
    judge = BlockJudge()
    columns = list(range(40))
    assert preservation(judge, x, x.copy(), columns).tolist() == [1.0] * 400
    read = judge.classify(x)
    p = read.mean(0)
    chance = float((p ** 2 + (1 - p) ** 2).mean())  # two independent faces agree on an attribute
    unrelated = preservation(judge, x, x[rng.permutation(400)], columns).mean()
    assert abs(unrelated - chance) < 0.03 and chance < 0.7
    with pytest.raises(ValueError, match="at least one attribute"):
        preservation(judge, x, x, [])


def test_other_columns_leave_out_the_task_and_what_defines_it():
    names = ["Eyeglasses", "Goatee", "Mustache", "No_Beard", "Smiling", "Male"]
    assert other_columns(names, ["Eyeglasses"]) == [1, 2, 3, 4, 5]
    assert other_columns(names, ["Eyeglasses", "facial_hair"]) == [4, 5]


def test_frechet_distance_of_shifted_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 4))
    b = rng.normal(size=(20000, 4))
    assert frechet_distance(a, b) < 0.01  # two samples of one distribution
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    assert frechet_distance(a, b + shift) == pytest.approx(float(shift @ shift), abs=0.03)
    # N(0, I) against N(0, 4 I): d (1 - 2)^2
    assert frechet_distance(a, 2.0 * b) == pytest.approx(4.0, abs=0.1)


def test_kernel_distance_is_about_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(1500, 8)), rng.normal(size=(1500, 8))
    same = kernel_distance(a, b)
    near, far = kernel_distance(a, b + 0.5), kernel_distance(a, b + 1.0)
    assert abs(same) < 0.01 < near < far
    assert kernel_distance(a, b, subsets=5, subset_size=500, seed=2) == kernel_distance(a, b, 5, 500, seed=2)


def test_distances_refuse_what_they_cannot_measure():
    with pytest.raises(ValueError, match=r"\(N, d\) and \(M, d\)"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3)))
    assert realism(np.zeros((1, 40)), np.zeros((1, 40)))["frechet"] is None


def test_the_attribute_judge_reads_every_attribute_of_celeba_trees_only():
    cfg = attribute_data(DataConfig(name="celeba-glasses", root="/data/celeba", image_size=64, balance="discard",
                                    labelled_fraction=0.2))
    assert (cfg.name, cfg.attributes, cfg.balance, cfg.labelled_fraction, cfg.image_size) == \
        ("celeba", None, "none", 1.0, 64)
    assert attribute_data(DataConfig(name="synthetic_faces")) is None
    assert attribute_data(DataConfig(name="folder", root="/x")) is None


def test_reproduce_trains_one_attribute_judge_per_celeba_tree(tmp_path, monkeypatch):
    """A CelebA experiment's judges: one task judge per data set and one attribute judge per tree
    (every attribute, every row), trained with its settings."""
    import dataclasses

    import csvae.evaluate.attribute_judge as attribute_judge
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan
    from csvae.reproduce.tasks import fit_attribute_judge, fit_judge, prepare_shared_data

    from fixtures_images import make_celeba

    make_celeba(tmp_path / "tree", n=40, partition=[0] * 30 + [1] * 5 + [2] * 5)
    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))
    jobs = plan(EXPERIMENTS["celeba"], tmp_path / "exp", 1, str(tmp_path / "tree"))
    small = [dataclasses.replace(j, config=dataclasses.replace(
        j.config, data=dataclasses.replace(j.config.data, image_size=8))) for j in jobs
        if j.data_label in ("celeba-glasses", "celeba-smiling")]
    judged = prepare_shared_data(small)
    assert [(f, j.data_label) for f, j in judged] == [(fit_judge, "celeba-glasses"),
                                                      (fit_attribute_judge, "celeba-glasses"),
                                                      (fit_judge, "celeba-smiling")]
    seen = []
    monkeypatch.setattr(attribute_judge, "load_or_fit_judge",
                        lambda data, where, name, **settings: seen.append((len(data.attribute_names), name, settings)))
    fit_attribute_judge(judged[1][1])
    assert seen == [(40, attribute_judge.NAME, attribute_judge.SETTINGS)]
