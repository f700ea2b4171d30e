"""S²-VAE: its terms against torch.distributions and hand formulas, the annealing of γ_sup, the
label coordinates' manipulation, its refusals, and short fits (swiss roll, tiny conv)."""

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import distributions as D

import csvae
from csvae.config import ConfigError, DataConfig
from csvae.data.toy import make_toy
from csvae.models.s2vae import anneal_factor, supervised_loss

NAN = float("nan")


def tiny(y_dim=1, **options):
    options.setdefault("hidden", [16])
    options.setdefault("head_hidden", 8)
    return csvae.build_model("s2vae", x_dim=3, y_dim=y_dim, seed=0, **options)


def deterministic(model):
    """The model in eval mode with a posterior of variance e^-30: its sample is its mean."""
    encode = model.encode
    model.encode = lambda x, y=None: encode(x)._replace(z=encode(x).z._replace(
        logvar=torch.full((len(x), model.z_dim), -30.0)))
    return model.eval()


# ----- the terms ----------------------------------------------------------------------------------
@pytest.mark.parametrize("codes, y, kind, loss, expected", [
    ([[2.0, -1.0]], [[1.0, 0.0]], "binary", "xent", math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))),
    ([[1.0, 2.0, 3.0]], [[0.0, 0.0, 1.0]], "categorical", "xent",
     math.log(math.exp(1.0) + math.exp(2.0) + math.exp(3.0)) - 3.0),
    ([[0.5, 1.0]], [[1.0, 0.0]], "binary", "l2", (2.0 * 0.5 - 1.0) ** 2 + (2.0 * 1.0) ** 2),
    ([[0.5, 0.0, 0.25]], [[1.0, 0.0, 0.0]], "categorical", "l2", 0.0 + 0.0 + 0.5 ** 2),
])
def test_supervised_losses_have_their_hand_values(codes, y, kind, loss, expected):
    value = supervised_loss(torch.tensor(codes), torch.tensor(y), loss, kind, torch.tensor(2.0))
    assert value.shape == (1,) and value.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("loss", ["xent", "l2"])
def test_terms_match_a_direct_computation(loss):
    """recon and kl_z over every row against torch.distributions; supervised over the known rows
    only, from the label coordinates of the posterior means, times the balance weights."""
    model = deterministic(tiny(s2vae_loss=loss))
    table = torch.tensor([0.5, 3.0])  # balance weights of y = 0 and y = 1
    model.set_label_balance(table)
    x = torch.randn(6, 3)
    y = torch.tensor([[1.0], [NAN], [0.0], [1.0], [NAN], [0.0]])
    terms = model._terms(x, y, "sum")
    q = model.encode(x).z
    std = torch.exp(0.5 * q.logvar)
    kl = D.kl_divergence(D.Normal(q.mean, std), D.Normal(0.0, 1.0)).sum(-1)
    recon = -D.Normal(model.decode(q.mean), 1.0).log_prob(model.to_model(x)).sum(-1)
    torch.testing.assert_close(terms["kl_z"], kl)
    torch.testing.assert_close(terms["recon"], recon, rtol=1e-5, atol=1e-4)
    known = [0, 2, 3, 5]
    codes, labels = q.mean[known, 0], y[known, 0]
    if loss == "xent":
        r_s = -D.Bernoulli(logits=codes).log_prob(labels)
    else:
        r_s = (model.label_scale * codes - labels) ** 2
    torch.testing.assert_close(terms["supervised"], table[labels.long()] * r_s)


def test_unlabelled_rows_reach_recon_and_kl_but_not_the_supervised_term():
    model = deterministic(tiny(y_dim=2))
    x = torch.randn(6, 3, requires_grad=True)
    y = torch.tensor([[1.0, 0.0], [NAN, NAN], [0.0, 1.0], [NAN, NAN], [1.0, 1.0], [0.0, 0.0]])
    terms = model.losses(x, y)
    for term, reaches in (("recon", True), ("kl_z", True), ("supervised", False)):
        (grad,) = torch.autograd.grad(terms[term], x, retain_graph=True)
        assert bool(grad[[1, 3]].abs().sum() > 0) == reaches, term
    known = [0, 2, 4, 5]  # the supervised term is the labelled rows' own mean
    assert terms["supervised"].item() == pytest.approx(model.losses(x[known], y[known])["supervised"].item())
    unlabelled = model.losses(x, torch.full_like(y, NAN))
    assert unlabelled["supervised"] == 0 and torch.isfinite(unlabelled["model"])


# ----- γ_sup and its annealing -------------------------------------------------------------------
@pytest.mark.parametrize("schedule, expected", [
    ("linear", [0.0, 0.5, 1.0, 1.0]),
    ("fine_tune", [0.0, 0.0, 1.0, 1.0]),
    ("none", [1.0, 1.0, 1.0, 1.0]),
])
def test_anneal_schedules(schedule, expected):
    got = [anneal_factor(schedule, torch.tensor(t), 0.2).item() for t in (0.0, 0.1, 0.2, 0.7)]
    assert got == pytest.approx(expected)


def test_the_objective_weighs_the_supervised_term_by_the_annealed_gamma():
    model = tiny(s2vae_gamma=8.0, s2vae_anneal="linear", s2vae_anneal_fraction=0.5)
    assert float(model.objective().model["supervised"]) == 8.0  # outside a training loop: the whole γ
    model.set_progress(10, 100)
    assert float(model.objective().model["supervised"]) == pytest.approx(8.0 * 0.2)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8, 1)).float()
    terms = model.losses(x, y)
    expected = 20.0 * terms["recon"] + 0.2 * terms["kl_z"] + 1.6 * terms["supervised"]
    torch.testing.assert_close(terms["model"], expected)


def test_fit_sets_the_progress_of_every_step():
    data = make_toy("swiss_roll", n_samples=200, seed=0)
    model = tiny()
    seen = []
    model.set_progress = lambda step, total: seen.append((step, total))
    csvae.fit(model, *data.part("train"), epochs=2, batch_size=50)
    assert seen == [(step, 6) for step in range(6)]  # 150 rows: 3 steps an epoch


# ----- manipulation and labels --------------------------------------------------------------------
def test_label_values_are_the_class_means_of_each_coordinate():
    model = tiny(y_dim=2)
    model.z_means_1.copy_(torch.tensor([[2.0, 9.0, 9.0, 9.0], [9.0, -1.0, 9.0, 9.0]]))
    model.z_means_0.copy_(torch.tensor([[-3.0, 9.0, 9.0, 9.0], [9.0, 4.0, 9.0, 9.0]]))
    values = model.label_values(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    torch.testing.assert_close(values, torch.tensor([[2.0, 4.0], [-3.0, -1.0]]))


@pytest.mark.parametrize("kind", ["binary", "categorical"])
def test_manipulation_sets_the_changed_label_coordinates_only(kind):
    model = tiny(y_dim=3, label_kind=kind)
    x = torch.randn(12, 3)
    if kind == "binary":
        y = torch.randint(0, 2, (12, 3)).float()
        target = y.clone()
        target[:, 0] = 1 - target[:, 0]
    else:
        y = torch.eye(3)[torch.arange(12) % 3]
        target = torch.eye(3)[(torch.arange(12) + 1) % 3]
    model.finalize(x, y)
    captured = []
    model.decode = lambda z: captured.append(z) or torch.zeros(len(z), 3)
    model.manipulate(x, y, target)
    code, mean = captured[0], model.encode(x).z.mean
    changed = target != y
    torch.testing.assert_close(code[:, :3][changed], model.label_values(target)[changed])
    torch.testing.assert_close(code[:, :3][~changed], mean[:, :3][~changed])
    torch.testing.assert_close(code[:, 3:], mean[:, 3:])


def test_latents_split_the_label_coordinates_from_the_others():
    model = tiny(y_dim=2, z_dim=3)
    x = torch.randn(5, 3)
    lat = model.latents(x.numpy(), None)
    mean = model.encode(x).z.mean.detach().numpy()
    np.testing.assert_allclose(lat["w"], mean[:, :2], rtol=1e-6)
    np.testing.assert_allclose(lat["z"], mean[:, 2:], rtol=1e-6)


# ----- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, options, match", [
    ("s2vae", {"z_dim": 2, "match_latent_size": False},
     r"3 label columns, more than its 2 latent coordinates \(model.z_dim 2 with model.match_latent_size false\)"),
    ("s2vae", {"w_dim": 2}, r"model.w_dim must be 1 for s2vae"),
    ("csvae", {"s2vae_gamma": 10.0}, r"model.s2vae_gamma is a setting of model.name 's2vae', not of 'csvae'"),
    ("vae", {"s2vae_loss": "l2"}, r"model.s2vae_loss is a setting of model.name 's2vae', not of 'vae'"),
    ("s2vae", {"ccvae_k": 5}, r"model.ccvae_k is a setting of model.name 'ccvae', not of 's2vae'"),
    ("s2vae", {"s2vae_loss": "cov"}, r"model.s2vae_loss must be one of"),
    ("s2vae", {"s2vae_anneal_fraction": 0.0}, r"model.s2vae_anneal_fraction must be in \(0, 1\]"),
    ("s2vae", {"s2vae_gamma": -1.0}, r"model.s2vae_gamma must be non-negative"),
])
def test_refusals_name_the_field(name, options, match):
    with pytest.raises(ConfigError, match=match):
        csvae.build_model(name, x_dim=3, y_dim=3, **options)


def test_as_many_label_coordinates_as_latent_coordinates_is_allowed():
    assert tiny(y_dim=2, z_dim=2, match_latent_size=False).latents(np.zeros((1, 3)), None)["z"].shape == (1, 0)


# ----- fits ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def roll():
    return make_toy("swiss_roll", n_samples=2000, seed=0)


def fit_roll(roll, gamma, fraction=1.0, out=None):
    """An S²-VAE with γ_sup = ``gamma`` fitted on the swiss roll (12 epochs, about a second)."""
    model = csvae.build_model("s2vae", x_dim=3, y_dim=1, seed=0, z_dim=2, hidden=[64, 64], head_hidden=64,
                              s2vae_gamma=gamma)
    return csvae.fit(model, *roll.part("train"), epochs=12, batch_size=64, seed=0, out=out,
                     data=DataConfig(labelled_fraction=fraction))


def label_accuracy(model, x, y):
    """How often the label coordinate, read by ``predict_labels``, gives y."""
    return ((model.predict_labels(x) > 0.5) == (y > 0.5)).mean()


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [1.0, 0.2])
def test_swiss_roll_label_coordinate_predicts_y_and_the_others_do_not(roll, fraction, tmp_path):
    model = fit_roll(roll, 20.0, fraction, out=tmp_path / "run")  # the toy preset's γ_sup
    (x, y), (xt, yt) = roll.part("train"), roll.part("test")
    assert label_accuracy(model, xt, yt) >= 0.95  # measured 0.99 and 0.98
    lat, lat_test = model.latents(x, y), model.latents(xt, yt)
    others = LogisticRegression().fit(lat["z"], y[:, 0]).score(lat_test["z"], yt[:, 0])
    assert others < 0.75  # measured 0.50 and 0.51
    assert label_accuracy(model, model.manipulate(xt, yt, 1 - yt), 1 - yt) > 0.9
    np.testing.assert_allclose(csvae.load(tmp_path / "run").predict_labels(xt), model.predict_labels(xt), rtol=1e-6)


@pytest.mark.slow
def test_swiss_roll_contrast_without_supervision(roll):
    """γ_sup = 0, a β-VAE of the same shape: its first coordinate does not give y, the others do."""
    model = fit_roll(roll, 0.0)
    (x, y), (xt, yt) = roll.part("train"), roll.part("test")
    assert label_accuracy(model, xt, yt) < 0.75  # measured 0.61
    lat, lat_test = model.latents(x, y), model.latents(xt, yt)
    assert LogisticRegression().fit(lat["z"], y[:, 0]).score(lat_test["z"], yt[:, 0]) > 0.8  # measured 0.89


def test_tiny_conv_fit_with_half_the_labels_runs():
    g = np.random.default_rng(0)
    x = g.integers(0, 256, (32, 3, 32, 32), dtype=np.uint8)
    y = (g.random((32, 2)) > 0.5).astype(np.float32)
    model = csvae.build_model("s2vae", x_shape=(3, 32, 32), y_dim=2, seed=0, conv_channels=[4, 8], conv_dense=16,
                              head_hidden=8, z_dim=2)
    model = csvae.fit(model, x, y, epochs=2, batch_size=16, data=DataConfig(labelled_fraction=0.5))
    assert model.manipulate(x[:4], y[:4], 1 - y[:4]).shape == (4, 3, 32, 32)
    assert model.predict_labels(x[:4]).shape == (4, 2)
