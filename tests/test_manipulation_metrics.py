"""Manipulation metrics with known answers: identity and oracle manipulations, constant and random
outputs, a probe on random latents; exact answers with a fake judge, realistic ones with a real one."""

import numpy as np
import pytest
import torch
from stub_model import StubModel

import csvae
from csvae.data.synthetic_faces import factor_names, render_faces
from csvae.evaluate.manipulation import (
    bootstrap_interval,
    direction_rows,
    directions,
    diversity_scores,
    manipulation_report,
    manipulation_scores,
    mean_pairwise_distance,
)
from csvae.evaluate.probes import chance_rate, probe_accuracy


class Identity(StubModel):
    """G(x) = x (uint8 images scaled to [0, 1])."""

    def manipulate(self, x, y, target_y, style=None, generator=None):
        return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()

    def reconstruct(self, x, y, batch_size=256):
        return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


class Oracle(Identity):
    """G(x) = the same synthetic face rendered with the target labels (new styles at 0.5)."""

    def __init__(self, faces):
        self.faces = faces
        self.row = {faces.x[i].tobytes(): i for i in range(len(faces.x))}

    def manipulate(self, x, y, target_y, style=None, generator=None):
        rows = [self.row[image.tobytes()] for image in x.numpy()]
        factors = {n: np.nan_to_num(self.faces.factors[n][rows], nan=0.5) for n in factor_names()}
        return torch.from_numpy(render_faces(target_y.numpy(), factors, size=32)).float() / 255.0


class Constant(Identity):
    def manipulate(self, x, y, target_y, style=None, generator=None):
        return torch.full(x.shape, 0.25)


class Noise(Identity):
    """Uniform noise from the generator: pairs of outputs differ by RMS sqrt(1/6)."""

    def manipulate(self, x, y, target_y, style=None, generator=None):
        return torch.rand(x.shape, generator=generator)


class PixelJudge:
    """A fake categorical judge that reads the class from the first pixel (class / 10)."""

    attribute_names = ["a", "b", "c"]
    label_kind = "categorical"

    def classify(self, images):
        cls = np.rint(np.asarray(images)[:, 0, 0, 0] * 10).astype(int)
        return np.eye(3, dtype=np.float32)[cls]

    def features(self, images):
        return np.asarray(images).reshape(len(images), -1)


class WriteClass(Identity):
    """Writes the target class into the first pixel."""

    def manipulate(self, x, y, target_y, style=None, generator=None):
        out = x.float().clone()
        out[:, 0, 0, 0] = target_y.argmax(1).float() / 10
        return out


def class_images(n=30, seed=0):
    cls = np.random.default_rng(seed).integers(0, 3, n)
    x = np.zeros((n, 1, 4, 4), np.float32)
    x[:, 0, 0, 0] = cls / 10
    return x, np.eye(3, dtype=np.float32)[cls]


def test_directions_and_their_rows():
    assert [d.name for d in directions(["g", "h"], "binary")] == ["g: 0->1", "g: 1->0", "h: 0->1", "h: 1->0"]
    assert [d.name for d in directions(["a", "b", "c"], "categorical")] == ["a->b", "a->c", "b->a", "b->c",
                                                                            "c->a", "c->b"]
    y = np.array([[0, 1], [1, 1], [0, 0]], np.float32)
    rows, target = direction_rows(directions(["g", "h"], "binary")[0], y, "binary")
    np.testing.assert_array_equal(rows, [0, 2])
    np.testing.assert_array_equal(target, [[1, 1], [1, 0]])
    onehot = np.eye(3, dtype=np.float32)[[2, 0, 2]]
    rows, target = direction_rows(directions(["a", "b", "c"], "categorical")[4], onehot, "categorical")  # c->a
    np.testing.assert_array_equal(rows, [0, 2])
    np.testing.assert_array_equal(target, np.eye(3, dtype=np.float32)[[0, 0]])


def test_categorical_exact_answers_with_a_fake_judge():
    x, y = class_images()
    perfect = manipulation_scores(WriteClass(), PixelJudge(), x, y, n_boot=200)
    unchanged = manipulation_scores(Identity(), PixelJudge(), x, y, n_boot=200)
    for name, row in perfect.items():
        assert row["n"] == int((y.argmax(1) == ["a", "b", "c"].index(row["source"])).sum())
        assert row["accuracy"] == 1.0 and row["ci_low"] == row["ci_high"] == 1.0
        assert row["preserved"] == {} and row["preserved_accuracy"] is None
        assert row["recon_distance"] == pytest.approx(abs(["a", "b", "c"].index(row["target"])
                                                          - ["a", "b", "c"].index(row["source"])) / 10 / 4)
        assert unchanged[name]["accuracy"] == 0.0
    assert diversity_scores(WriteClass(), PixelJudge(), x, y, n_samples=3)["a->b"] == {
        "n": perfect["a->b"]["n"], "pixel": 0.0, "feature": 0.0, "feature_ci_low": 0.0, "feature_ci_high": 0.0}


def test_identity_scores_the_judges_error_rate(judge, faces):
    x, y = faces.part("test")
    scores = manipulation_scores(Identity(), judge, x, y, n_boot=200)
    judged = judge.classify(x)
    for d in directions(judge.attribute_names, "binary"):
        rows = np.flatnonzero(y[:, d.attribute] == d.source)
        row = scores[d.name]
        assert row["n"] == len(rows)
        assert row["accuracy"] == pytest.approx(float((judged[rows, d.attribute] == d.target).mean()))
        assert row["accuracy"] <= 0.1  # the judge's error rate on the source label
        assert row["preserved_accuracy"] >= 0.9
        assert row["recon_distance"] == 0.0


def test_oracle_scores_about_the_judges_accuracy(judge, faces):
    x, y = faces.part("test")
    scores = manipulation_scores(Oracle(faces), judge, x, y, n_boot=200, max_per_direction=150)
    for name, row in scores.items():
        assert row["n"] == 150
        assert row["accuracy"] >= 0.9, name
        assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]
        assert row["preserved_accuracy"] >= 0.9, name
        assert row["recon_distance"] > 0.0  # the attribute changed


def test_diversity_of_constant_and_random_outputs(judge, faces):
    x, y = faces.part("test")
    constant = diversity_scores(Constant(), judge, x, y, n_samples=3, max_per_direction=10)
    noise = diversity_scores(Noise(), judge, x, y, n_samples=3, max_per_direction=10)
    for name in constant:
        assert constant[name] == {"n": 10, "pixel": 0.0, "feature": 0.0, "feature_ci_low": 0.0,
                                  "feature_ci_high": 0.0}
        assert noise[name]["pixel"] == pytest.approx(np.sqrt(1 / 6), abs=0.01)
        assert 0.0 < noise[name]["feature_ci_low"] <= noise[name]["feature"] <= noise[name]["feature_ci_high"]


def test_baselines_are_deterministic_and_csvae_samples_styles(judge, faces):
    x, y = faces.part("test")
    options = dict(x_shape=(3, 32, 32), y_dim=3, z_dim=4, w_dim=2, conv_channels=[8, 8, 8], conv_dense=16,
                   head_hidden=8, adversary_hidden=[8], seed=0)
    vae, model = csvae.build_model("vae", **options), csvae.build_model("csvae", **options)
    assert diversity_scores(vae, judge, x, y, n_samples=2, max_per_direction=4)["smile: 0->1"]["pixel"] == 0.0
    sampled = diversity_scores(model, judge, x, y, n_samples=2, max_per_direction=4)
    assert sampled["smile: 0->1"]["pixel"] > 0.0 and sampled["smile: 0->1"]["feature"] > 0.0
    means = diversity_scores(model, judge, x, y, n_samples=2, max_per_direction=4, style="class_mean")
    assert means["smile: 0->1"]["pixel"] == 0.0
    report = manipulation_report(model, judge, faces, max_per_direction=8, n_samples=2, max_diversity=4, n_boot=50)
    assert set(report["directions"]) == set(report["diversity"]) and len(report["directions"]) == 6
    assert 0.0 <= report["mean_accuracy"] <= 1.0
    assert model.training  # the metrics restore the train/eval mode


def test_report_refuses_a_foreign_judge(judge, faces):
    with pytest.raises(ValueError, match="data set 'celeba'"):
        manipulation_report(Identity(), judge, faces, name="celeba")
    with pytest.raises(ValueError, match=r"y must have shape \(N, 3\)"):
        manipulation_scores(Identity(), judge, faces.x[:4], faces.y[:4, :2])


def test_bootstrap_interval():
    assert bootstrap_interval(np.ones(50)) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_interval([])))
    values = (np.random.default_rng(0).random(400) < 0.3).astype(float)
    low, high = bootstrap_interval(values, seed=1)
    assert low < values.mean() < high and (low, high) == bootstrap_interval(values, seed=1)
    assert high - low == pytest.approx(2 * 1.96 * np.sqrt(0.3 * 0.7 / 400), rel=0.25)
    small_low, small_high = bootstrap_interval(values[:50], seed=1)
    assert small_high - small_low > high - low


def test_mean_pairwise_distance():
    np.testing.assert_allclose(mean_pairwise_distance(np.array([[[0.0]], [[3.0]]])), [3.0])
    np.testing.assert_allclose(mean_pairwise_distance(np.array([[[0.0]], [[1.0]], [[3.0]]])), [2.0])
    with pytest.raises(ValueError, match="at least 2 samples"):
        mean_pairwise_distance(np.zeros((1, 4, 2)))


def test_probe_on_random_latents_scores_chance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    codes = rng.normal(size=(4000, 8))
    accuracy = probe_accuracy("linear", codes[:2000], y[:2000], codes[2000:], y[2000:])
    assert accuracy == pytest.approx(chance_rate(y[2000:]), abs=0.04)
    leaky = np.concatenate([codes, y[:, None]], 1)
    assert probe_accuracy("linear", leaky[:2000], y[:2000], leaky[2000:], y[2000:]) == 1.0
