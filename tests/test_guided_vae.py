"""Guided-VAE: the excitation and inhibition terms against direct computations, the adversary's
input, unlabelled rows, the manipulation's known answer, the refusals, and a short fit on the
swiss roll."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

import csvae
from csvae.config import ConfigError
from csvae.data.toy import make_toy
from csvae.models.guided_vae import uniform_cross_entropy

NAN = float("nan")


def tiny(y_dim=2, **options):
    return csvae.build_model("guided_vae", x_dim=3, y_dim=y_dim, seed=0, hidden=[16], head_hidden=8,
                             adversary_hidden=[8], **options)


def captured_z(model):
    """The z that ``decode`` receives on each call (the sample in the loss, the code in an edit)."""
    seen, decode = [], model.decode
    model.decode = lambda z: seen.append(z.detach()) or decode(z)
    return seen


def test_uniform_cross_entropy_is_least_at_the_uninformative_prediction():
    logits = torch.tensor([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    binary = uniform_cross_entropy(logits, "binary")
    p = torch.sigmoid(logits)
    torch.testing.assert_close(binary, -(0.5 * p.log() + 0.5 * (1 - p).log()).sum(1))
    assert binary[0].item() == pytest.approx(3 * math.log(2)) and binary[1] > binary[0]
    categorical = uniform_cross_entropy(logits, "categorical")
    torch.testing.assert_close(categorical, -F.log_softmax(logits, -1).sum(1) / 3)
    assert categorical[0].item() == pytest.approx(math.log(3)) and categorical[1] > categorical[0]


@pytest.mark.parametrize("kind", ["binary", "categorical"])
def test_terms_against_a_direct_computation(kind):
    """excitation: -log q(y | z[:, :k]) with logit_i = a_i z_i + b_i, on the labelled rows;
    inhibition: the adversary's prediction from z[:, k:] against the uniform one, on every row;
    adversary_ce: -log r(y | z[:, k:]), on the labelled rows."""
    k = 2 if kind == "binary" else 3
    model = tiny(y_dim=k, label_kind=kind)
    with torch.no_grad():
        model.excitation.weight.copy_(torch.tensor([[1.5], [-0.5], [2.0]])[:k])
        model.excitation.bias.copy_(torch.tensor([0.3, -0.2, 0.1])[:k])
    x = torch.randn(6, 3)
    y = (torch.tensor([[1.0, 0.0], [NAN, NAN], [0.0, 1.0], [1.0, 1.0], [NAN, NAN], [0.0, 0.0]]) if k == 2 else
         torch.tensor([[1.0, 0, 0], [NAN] * 3, [0, 1.0, 0], [0, 0, 1.0], [NAN] * 3, [1.0, 0, 0]]))
    known = [0, 2, 3, 5]
    seen = captured_z(model)
    terms = {name: value.detach() for name, value in model._terms(x, y, "sum").items()}
    z = seen[0]
    logits = z[known, :k] * torch.tensor([1.5, -0.5, 2.0])[:k] + torch.tensor([0.3, -0.2, 0.1])[:k]
    adversary = model.adversary.net(z[:, k:]).detach()
    if kind == "binary":
        excitation = F.binary_cross_entropy_with_logits(logits, y[known], reduction="none").sum(1)
        adversary_ce = F.binary_cross_entropy_with_logits(adversary[known], y[known], reduction="none").sum(1)
        q = torch.sigmoid(adversary)
        inhibition = -(0.5 * q.log() + 0.5 * (1 - q).log()).sum(1)
    else:
        excitation = F.cross_entropy(logits, y[known].argmax(1), reduction="none")
        adversary_ce = F.cross_entropy(adversary[known], y[known].argmax(1), reduction="none")
        inhibition = -F.log_softmax(adversary, -1).mean(1)
    torch.testing.assert_close(terms["excitation"], excitation)
    torch.testing.assert_close(terms["inhibition"], inhibition)
    torch.testing.assert_close(terms["adversary_ce"], adversary_ce)


def test_the_adversary_reads_the_inhibited_part_only():
    model = tiny(y_dim=2)
    z = torch.randn(5, model.z_dim)
    moved = z.clone()
    moved[:, :2] += 10.0  # the excited coordinates
    torch.testing.assert_close(model.adversary(moved), model.adversary(z))
    moved[:, 2] += 1.0
    assert not torch.allclose(model.adversary(moved), model.adversary(z))


def test_objective_weights_and_refused_settings():
    model = tiny(guided_vae_excitation=3.0, betas={"entropy": 4.0, "adversary": 2.0})
    objective = model.objective()
    assert objective.model == {"recon": 20.0, "kl_z": 0.2, "excitation": 3.0, "inhibition": 4.0}
    assert objective.adversary == {"adversary_ce": 2.0}
    with pytest.raises(ConfigError, match=r"model\.guided_vae_excitation is a setting of model\.name 'guided_vae', "
                                          r"not of 'csvae'"):
        csvae.build_model("csvae", x_dim=3, y_dim=1, guided_vae_excitation=1.0)
    with pytest.raises(ConfigError, match=r"model\.independence is a setting of model\.name 'csvae' and "
                                          r"'condvae_info'"):
        tiny(independence="hsic")
    with pytest.raises(ConfigError, match=r"model\.guided_vae_excitation must be non-negative"):
        tiny(guided_vae_excitation=-1.0)
    with pytest.raises(ValueError, match="guided_vae needs z larger than the labels"):
        csvae.build_model("guided_vae", x_dim=3, y_dim=2, z_dim=2, match_latent_size=False)


def test_unlabelled_rows_reach_reconstruction_and_inhibition_only():
    model = tiny(y_dim=2)
    x = torch.randn(6, 3, requires_grad=True)
    y = torch.tensor([[1.0, 0.0], [NAN, NAN], [0.0, 1.0], [NAN, NAN], [1.0, 1.0], [0.0, 0.0]])
    terms = model.losses(x, y)
    for name, reaches in (("recon", True), ("kl_z", True), ("inhibition", True), ("excitation", False)):
        (grad,) = torch.autograd.grad(terms[name], x, retain_graph=True)
        assert (grad[[1, 3]].abs().sum() > 0) == reaches, name
    assert torch.isfinite(model.adversary_loss(x, y))


def test_manipulation_sets_the_changed_excited_coordinate_to_its_class_mean():
    model = tiny(y_dim=2)
    with torch.no_grad():
        model.z_means_1.copy_(torch.arange(8.0).view(2, 4))  # coordinate i of attribute i: 0 and 5
        model.z_means_0.copy_(-torch.arange(8.0).view(2, 4))  # -0 and -5
    x, y = torch.randn(4, 3), torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    target = y.clone()
    target[:, 1] = 1 - target[:, 1]  # change attribute 1 only
    seen = captured_z(model)
    model.manipulate(x, y, target)
    mu, edited = model.encode(x).z.mean.detach(), seen[0]
    torch.testing.assert_close(edited[:, 1], torch.where(target[:, 1] == 1, 5.0, -5.0))
    torch.testing.assert_close(edited[:, [0, 2, 3]], mu[:, [0, 2, 3]])


def test_predict_labels_reads_the_excitation_classifier():
    model = tiny(y_dim=2)
    x = torch.randn(5, 3)
    mu = model.encode(x).z.mean.detach()
    expected = torch.sigmoid(mu[:, :2] * model.excitation.weight[:, 0] + model.excitation.bias).detach()
    torch.testing.assert_close(model.predict_labels(x), expected)


# ----- the swiss roll ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def roll_run(tmp_path_factory):
    data = make_toy("swiss_roll", n_samples=2000, seed=0)
    out = tmp_path_factory.mktemp("guided_vae") / "run"
    x, y = data.part("train")
    model = csvae.build_model("guided_vae", x_dim=3, y_dim=1, seed=0, hidden=[64, 64])
    return csvae.fit(model, x, y, epochs=12, batch_size=64, seed=0, out=out), data, out


def linear_probe(codes: tuple[np.ndarray, np.ndarray], data) -> float:
    """Test accuracy of a logistic regression reading y from codes (train, test)."""
    return LogisticRegression().fit(codes[0], data.part("train")[1][:, 0]).score(codes[1], data.part("test")[1][:, 0])


@pytest.mark.slow
def test_swiss_roll_excited_coordinate_predicts_y_and_edits_flip_it(roll_run):
    model, data, _ = roll_run
    x, y = data.part("test")
    assert ((model.predict_labels(x) > 0.5) == (y > 0.5)).mean() >= 0.95
    assert 1.0 - ((model.reconstruct(x, y) - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum() >= 0.95
    moved = model.manipulate(x, y, 1 - y)
    assert ((model.predict_labels(moved) > 0.5) == (y < 0.5)).mean() >= 0.95


@pytest.mark.slow
def test_swiss_roll_label_sits_in_the_excited_coordinate_alone(roll_run):
    """The rest of z (latents' "z") reads y near chance; the contrast, a VAE of the same size and
    nets, spreads y over its code: its coordinates but the first read it well."""
    model, data, _ = roll_run
    parts = [data.part("train"), data.part("test")]
    assert linear_probe(tuple(model.latents(x, y)["z"] for x, y in parts), data) < 0.65
    vae = csvae.fit(csvae.build_model("vae", x_dim=3, y_dim=1, seed=0, hidden=[64, 64], z_dim=3, w_dim=1),
                    *parts[0], epochs=12, batch_size=64, seed=0)
    assert linear_probe(tuple(vae.latents(x, y)["z"][:, 1:] for x, y in parts), data) > 0.9


@pytest.mark.slow
def test_swiss_roll_run_loads_back_identically(roll_run):
    model, data, out = roll_run
    loaded = csvae.load(out)
    x, y = data.part("test")
    np.testing.assert_allclose(loaded.predict_labels(x), model.predict_labels(x), rtol=1e-6)
    np.testing.assert_allclose(loaded.manipulate(x, y, 1 - y), model.manipulate(x, y, 1 - y), rtol=1e-6)
    torch.testing.assert_close(loaded.z_means_1, model.z_means_1)
