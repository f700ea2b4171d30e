"""The alternatives to the adversary's entropy: HSIC against a direct computation, CLUB's bound on
data whose mutual information is known, and the models and configs that use them."""

import math

import numpy as np
import pytest
import torch

import csvae
from csvae.config import ConfigError, model_config
from csvae.models.independence import club, hsic


def direct_hsic(z: np.ndarray, y: np.ndarray) -> float:
    """Gretton et al.'s biased HSIC written term by term: (1/n^2) sum K_ij L_ij
    + (1/n^4) sum K_ij sum L_qr - (2/n^3) sum K_ij L_iq, Gaussian K (median bandwidth), L = y y^T."""
    n = len(z)
    sq = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    bandwidth = np.median(sq[~np.eye(n, dtype=bool)])
    k, l_ = np.exp(-sq / (2 * bandwidth)), y @ y.T
    total = 0.0
    for i in range(n):
        for j in range(n):
            total += k[i, j] * l_[i, j] / n**2 - 2 * k[i, j] * l_[i, :].sum() / n**3
    return total + k.sum() * l_.sum() / n**4


def test_hsic_matches_the_direct_computation():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((30, 2)), rng.integers(0, 2, (30, 2)).astype(np.float64)
    assert float(hsic(torch.tensor(z), torch.tensor(y))) == pytest.approx(direct_hsic(z, y), rel=1e-6)


def test_hsic_sees_dependence_that_no_correlation_shows():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (512, 1)).astype(np.float32)
    scale = 1.0 + 2.0 * y  # z's spread depends on y, its mean does not
    dependent = rng.standard_normal((512, 2)).astype(np.float32) * scale
    independent = rng.standard_normal((512, 2)).astype(np.float32) * 2.0
    assert abs(np.corrcoef(dependent[:, 0], y[:, 0])[0, 1]) < 0.1
    h_dep = float(hsic(torch.tensor(dependent), torch.tensor(y)))
    h_ind = float(hsic(torch.tensor(independent), torch.tensor(y)))
    assert h_dep > 5 * h_ind and h_ind >= 0


def bernoulli_pair(n, sigma, seed):
    """y ~ Bernoulli(1/2), z = y + N(0, sigma^2); the true log q(y=1|z) odds are (z - 1/2) / sigma^2."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (n, 1)).astype(np.float64)
    z = y + sigma * rng.standard_normal((n, 1))
    return torch.tensor(z), torch.tensor(y), torch.tensor((z - 0.5) / sigma**2)


def test_club_with_the_true_conditional_bounds_the_mutual_information():
    z, y, logits = bernoulli_pair(20000, 0.5, 0)
    log_q = -torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    mi = float(log_q.mean()) + math.log(2)  # I(z; y) = E[log q(y|z) - log p(y)], p(y) = 1/2
    bound = float(club(logits, y, "binary").mean())
    assert 0.2 < mi < bound  # dependent data: CLUB lies above the true information


def test_club_is_zero_for_a_conditional_that_ignores_z_and_near_zero_for_independent_data():
    z, y, _ = bernoulli_pair(4000, 0.5, 1)
    constant = torch.full_like(z, 0.7)
    assert float(club(constant, y, "binary").mean()) == pytest.approx(0.0, abs=1e-12)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    assert abs(float(club(3.0 * z, shuffled, "binary").mean())) < 0.05  # y independent of z


def test_club_of_a_one_hot_label_uses_the_class_frequencies():
    y = torch.eye(3)[[0, 0, 1, 2]]
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]])).expand(4, 3)
    # paired: mean log q(y_b) = (2 log .5 + 2 log .25) / 4; marginal per row: .5 log .5 + .5 log .25
    assert float(club(logits, y, "categorical").mean()) == pytest.approx(0.0, abs=1e-7)
    assert club(logits, y, "categorical")[0] == pytest.approx(math.log(0.5) - 0.5 * math.log(0.125), abs=1e-6)


@pytest.mark.parametrize("name", ["csvae", "condvae_info"])
@pytest.mark.parametrize("method", ["hsic", "club"])
def test_the_removal_term_trains_the_encoder_and_never_the_adversary(name, method):
    model = csvae.build_model(name, x_dim=3, y_dim=2, seed=0, independence=method)
    x, y = torch.randn(32, 3), torch.randint(0, 2, (32, 2)).float()
    terms = model.losses(x, y)
    assert torch.isfinite(terms["model"]) and method in terms
    b = model.config.betas
    rest = terms["model"] - b.entropy * terms[method]
    terms[method].backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in model.adversary.parameters())
    encoder = model.z_encoder if name == "csvae" else model.encoder
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())
    assert "m2" not in terms and "encoder_ce" not in terms and torch.isfinite(rest)


def test_independence_is_refused_on_a_model_without_a_label_free_z():
    with pytest.raises(ConfigError, match="model.independence is a setting of model.name 'csvae' and "
                                          "'condvae_info'.*not of 'vae'"):
        model_config(name="vae", independence="hsic")
    with pytest.raises(ConfigError, match=r"model.independence must be one of \['adversary', 'hsic', 'club'\]"):
        model_config(name="csvae", independence="mine")
