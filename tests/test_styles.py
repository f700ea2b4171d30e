"""Style scores against the ground truth of synthetic faces, with known-answer stub models."""

import dataclasses

import numpy as np
import pytest
import torch
from stub_model import StubModel

import csvae
from csvae.config import DataConfig
from csvae.data.synthetic_faces import NUISANCE_FACTORS, STYLE_FACTORS, load_synthetic_faces
from csvae.evaluate.judge import fit_judge
from csvae.evaluate.styles import factor_r2, reconstruction_r2, style_r2, style_report, transfer_score, transfer_truth

from conftest import TINY_JUDGE


@pytest.fixture(scope="module")
def faces():
    return load_synthetic_faces(DataConfig(name="synthetic_faces", n_samples=2000, image_size=32))


@pytest.fixture(scope="module")
def reader(faces):
    """A tiny judge that also reads the factors of these faces."""
    return fit_judge(faces, **TINY_JUDGE)


class TrueLatents:
    """z = the nuisance factors; W_i = the style factors of attribute i (zero-padded to 3, 0 where
    absent)."""

    w_dim = 3

    def __init__(self, faces):
        self.faces = faces
        self.row = {faces.x[i].tobytes(): i for i in range(len(faces.x))}

    def latents(self, x, y):
        rows = [self.row[image.tobytes()] for image in x]
        f = self.faces.factors
        z = np.stack([f[n][rows] for n in NUISANCE_FACTORS], 1)
        parts = []
        for attribute in self.faces.attribute_names:
            names = STYLE_FACTORS[attribute]
            block = np.zeros((len(rows), 3), np.float32)
            block[:, :len(names)] = np.nan_to_num(np.stack([f[n][rows] for n in names], 1))
            parts.append(block)
        return {"z": z, "w": np.concatenate(parts, 1)}


class RandomLatents(TrueLatents):
    def latents(self, x, y):
        rng = np.random.default_rng(len(x))
        return {"z": rng.normal(size=(len(x), 8)), "w": rng.normal(size=(len(x), 9))}


class Copier(StubModel):
    """transfer returns the truth (oracle=True) or image a unchanged; reconstructions are exact."""

    def __init__(self, faces, oracle):
        self.faces, self.oracle = faces, oracle
        self.row = {faces.x[i].tobytes(): i for i in range(len(faces.x))}

    def _rows(self, x):
        return np.array([self.row[image.tobytes()] for image in x.numpy()])

    def transfer(self, x, y, reference_x, reference_y, attributes):
        if not self.oracle:
            return x.float() / 255
        truth = transfer_truth(self.faces, self._rows(x), self._rows(reference_x), attributes[0])
        return torch.from_numpy(truth).float() / 255

    def reconstruct(self, x, y, batch_size=256):
        return x.astype(np.float32) / 255

    def manipulate(self, x, y, target_y, style=None, generator=None):
        return x.float() / 255


def test_true_latents_score_r2_near_one_and_random_ones_near_zero(faces):
    truth = style_r2(TrueLatents(faces), faces)
    for attribute, factors in truth["w_style"].items():
        assert set(factors) == set(STYLE_FACTORS[attribute])
        assert min(factors.values()) > 0.8, (attribute, factors)
        assert max(truth["z_style"][attribute].values()) < 0.2  # z holds no style here
    assert min(truth["z_nuisance"].values()) > 0.8
    assert max(truth["w_nuisance"].values()) < 0.2
    noise = style_r2(RandomLatents(faces), faces, regressor="linear")
    for table in [noise["z_nuisance"], noise["w_nuisance"], *noise["w_style"].values()]:
        assert max(table.values()) < 0.1


def test_mlp_probe_finds_a_factor_held_jointly_by_two_coordinates():
    """A factor that is the product of two coordinates of a wide code (the others vary more): no
    linear read-out exists and the 10-NN is misled by the other coordinates; the MLP reads it."""
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(2000, 10))
    codes[:, 2:] *= 3
    targets = np.stack([codes[:, 0] * codes[:, 1], rng.normal(size=2000)], 1)
    r2 = {kind: factor_r2(codes[:1500], targets[:1500], codes[1500:], targets[1500:], regressor=kind)
          for kind in ("linear", "knn", "mlp")}
    assert r2["linear"][0] < 0.05 and r2["knn"][0] < 0.7
    assert r2["mlp"][0] > 0.85
    assert max(r[1] for r in r2.values()) < 0.05  # pure noise is read by none


def test_factor_r2_known_answers():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(300, 2))
    targets = np.stack([2 * codes[:, 0] - codes[:, 1], rng.normal(size=300)], 1)
    r2 = factor_r2(codes[:200], targets[:200], codes[200:], targets[200:], regressor="linear")
    assert r2[0] == pytest.approx(1.0, abs=1e-3) and r2[1] < 0.05
    one = factor_r2(codes[:200], targets[:200, :1], codes[200:], targets[200:, :1], regressor="mlp")
    assert one.shape == (1,) and one[0] > 0.9
    with pytest.raises(ValueError, match="regressor must be one of"):
        factor_r2(codes, targets, codes, targets, regressor="forest")
    with pytest.raises(ValueError, match=">= 10 train"):
        factor_r2(codes[:5], targets[:5], codes, targets)


def test_transfer_truth_of_a_face_with_itself_is_the_face(faces):
    rows = faces.indices("test")[:20]
    for i in range(3):
        np.testing.assert_array_equal(transfer_truth(faces, rows, rows, i), faces.x[rows])


def test_transfer_truth_takes_label_and_style_from_b(faces):
    rows = faces.indices("test")
    a = rows[faces.y[rows, 0] == 0][:5]
    b = rows[faces.y[rows, 0] == 1][:5]
    truth = transfer_truth(faces, a, b, 0)  # glasses of b on a
    assert not np.array_equal(truth, faces.x[a])
    back = transfer_truth(faces, b, a, 0)  # no glasses on b
    assert not np.array_equal(back, faces.x[b])


def test_transfer_score_oracle_and_copy(faces):
    oracle = transfer_score(Copier(faces, oracle=True), faces, "glasses", n_pairs=40)
    assert oracle["mse"]["transfer"] == 0.0
    assert min(v for k, v in oracle["mse"].items() if k != "transfer") > 0.0
    assert oracle["add"]["n"] + oracle["restyle"]["n"] == 40
    copy = transfer_score(Copier(faces, oracle=False), faces, "glasses", n_pairs=40)
    assert copy["mse"]["transfer"] == copy["mse"]["input_a"] == copy["mse"]["recon_a"]
    assert copy["restyle"]["mse"]["transfer"] < copy["add"]["mse"]["transfer"]  # a lacks the glasses


class Constant(Copier):
    """Reconstructs every image as the same face."""

    def reconstruct(self, x, y, batch_size=256):
        return np.repeat(self.faces.x[:1].astype(np.float32) / 255, len(x), axis=0)


def test_reconstruction_r2_known_answers(faces, reader):
    exact = reconstruction_r2(Copier(faces, oracle=True), reader, faces)
    assert exact["reconstruction"] == exact["real"]  # a perfect autoencoder keeps all the judge can read
    assert set(exact["real"]) == set(faces.factors)
    assert exact["real"]["facial_hair.kind"] > 0.5
    constant = reconstruction_r2(Constant(faces, oracle=True), reader, faces)
    assert max(constant["reconstruction"].values()) <= 0.0  # one image for all: no factor survives


def test_transfer_style_r2_oracle_and_copy(faces, reader):
    oracle = transfer_score(Copier(faces, oracle=True), faces, "facial_hair", judge=reader, n_pairs=60)
    copy = transfer_score(Copier(faces, oracle=False), faces, "facial_hair", judge=reader, n_pairs=60)
    assert set(oracle["style_r2"]) == {"transfer", "recon_b", "label_only"}
    assert set(oracle["style_r2"]["transfer"]) == set(STYLE_FACTORS["facial_hair"])
    # the oracle's output carries b's beard: its kind is read as well as on real images
    assert oracle["style_r2"]["transfer"]["facial_hair.kind"] > 0.5
    assert copy["style_r2"]["transfer"]["facial_hair.kind"] < 0.2  # a's own beard, or none
    assert copy["style_r2"]["recon_b"] == oracle["style_r2"]["recon_b"]


def test_a_judge_of_other_data_is_refused(faces, reader):
    small = load_synthetic_faces(DataConfig(name="synthetic_faces", n_samples=200, image_size=32,
                                            attributes=["glasses", "smile"]))
    with pytest.raises(ValueError, match="cannot score these images"):
        reconstruction_r2(Copier(small, oracle=True), reader, small)


def test_real_model_end_to_end(faces):
    model = csvae.build_model("csvae", x_shape=(3, 32, 32), y_dim=3, z_dim=4, w_dim=2, conv_channels=[8, 8, 8],
                              conv_dense=16, head_hidden=8, adversary_hidden=[8], seed=0)
    report = style_report(model, faces, regressor="linear", n_pairs=8)
    assert set(report["r2"]) == {"z_nuisance", "z_style", "w_nuisance", "w_style"}
    assert set(report["transfer"]) == {"glasses", "facial_hair", "smile"}
    assert set(report["transfer"]["smile"]["mse"]) == {"transfer", "recon_a", "recon_b", "input_a", "label_only"}
    assert model.training
    vae = csvae.build_model("vae", x_shape=(3, 32, 32), y_dim=3, z_dim=4, conv_channels=[8, 8, 8], conv_dense=16,
                            head_hidden=8, seed=0)
    assert set(style_report(vae, faces, regressor="linear")) == {"r2"}
    with pytest.raises(ValueError, match="has no transfer"):
        transfer_score(vae, faces, "smile")


def test_errors_name_the_problem(faces):
    model = Copier(faces, oracle=False)
    with pytest.raises(ValueError, match="factors is None"):
        transfer_score(model, dataclasses.replace(faces, factors=None), "smile")
    with pytest.raises(ValueError, match="'beard' is not one of"):
        transfer_score(model, faces, "beard")
    no_glasses = dataclasses.replace(faces, y=faces.y * np.array([0, 1, 1], np.float32))
    with pytest.raises(ValueError, match="no image with 'glasses' present"):
        transfer_score(model, no_glasses, "glasses")
