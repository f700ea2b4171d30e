"""Likelihoods: each NLL against torch.distributions or its closed form; the calibrated sigma's
optimum; bits per dimension against a hand computation."""

import math

import pytest
import torch
from torch import distributions as D

import csvae
from csvae.config import ConfigError
from csvae.models.likelihoods import (
    MIN_LOG_SIGMA,
    CalibratedGaussian,
    bits_per_dim,
    continuous_bernoulli_log_norm,
    make_likelihood,
)


def test_fixed_gaussian_nll_matches_normal_log_prob():
    x, mean = torch.randn(4, 6), torch.randn(4, 6)
    expected = -D.Normal(mean, 0.5).log_prob(x)
    torch.testing.assert_close(make_likelihood("gaussian", 0.5).nll(x, mean), expected)


def test_bernoulli_nll_matches_torch():
    x, logits = torch.randint(0, 2, (4, 6)).float(), torch.randn(4, 6)
    expected = -D.Bernoulli(logits=logits).log_prob(x)
    torch.testing.assert_close(make_likelihood("bernoulli").nll(x, logits), expected)


def test_bernoulli_density_is_the_continuous_bernoulli():
    x, logits = torch.rand(4, 6), torch.randn(4, 6) * 3
    logits[0, 0] = 1e-5  # the Taylor branch near lambda = 1/2
    expected = -D.ContinuousBernoulli(logits=logits).log_prob(x)
    torch.testing.assert_close(make_likelihood("bernoulli").density_nll(x, logits), expected, rtol=1e-4, atol=1e-4)


def test_continuous_bernoulli_normaliser_is_smooth_at_one_half():
    logits = torch.tensor([-1e-3 - 1e-6, -1e-3 + 1e-6, 0.0, 1e-3 - 1e-6, 1e-3 + 1e-6])
    values = continuous_bernoulli_log_norm(logits)
    torch.testing.assert_close(values, torch.full_like(values, math.log(2.0)), rtol=0, atol=1e-6)


def test_calibrated_optimal_sigma_is_the_root_mean_squared_error():
    torch.manual_seed(0)
    x, mean = torch.rand(8, 3, 4, 4), torch.rand(8, 3, 4, 4)
    lik = CalibratedGaussian("optimal").train()
    nll = lik.nll(x, mean)
    mse = ((x - mean) ** 2).mean()
    sigma = mse.sqrt()
    # closed form of the summed NLL at sigma^2 = MSE: D/2 (log(2 pi sigma^2) + 1), D = every element
    expected_sum = 0.5 * x.numel() * (math.log(2 * math.pi) + 2 * math.log(sigma) + 1)
    assert math.isclose(float(nll.sum()), expected_sum, rel_tol=1e-5)
    # and it is the minimum over sigma: any other sigma gives a larger NLL
    for other in (0.8 * sigma, 1.25 * sigma):
        assert float(-D.Normal(mean, other).log_prob(x).sum()) > float(nll.sum())


def test_calibrated_sigma_is_clipped_below():
    x = torch.rand(4, 3, 2, 2)
    log_sigma = CalibratedGaussian.optimal_log_sigma(x, x.clone())
    assert float(log_sigma) == MIN_LOG_SIGMA


def test_calibrated_optimal_keeps_a_running_sigma_for_eval():
    torch.manual_seed(0)
    x, mean = torch.rand(64, 12), torch.rand(64, 12)
    lik = CalibratedGaussian("optimal").train()
    for _ in range(300):
        lik.nll(x, mean)
    optimum = CalibratedGaussian.optimal_log_sigma(x, mean)
    torch.testing.assert_close(lik.log_sigma, optimum, rtol=0, atol=1e-4)
    lik.eval()
    torch.testing.assert_close(lik.nll(x, mean), -D.Normal(mean, optimum.exp()).log_prob(x), rtol=1e-5, atol=1e-5)


def test_calibrated_learned_sigma_gets_gradients():
    lik = CalibratedGaussian("learned")
    lik.nll(torch.rand(4, 5), torch.rand(4, 5)).sum().backward()
    assert lik.raw_log_sigma.grad is not None and lik.raw_log_sigma.grad.abs() > 0


def test_bits_per_dim_by_hand():
    # one image of D = 3 * 2 * 2 = 12 dims with ELBO -6 nats: 6 / (12 ln 2) + 8 bits per dim
    assert math.isclose(float(bits_per_dim(torch.tensor(-6.0), 12)), 6 / (12 * math.log(2)) + 8, rel_tol=1e-6)


def test_model_bits_per_dim_matches_its_terms():
    model = csvae.build_model("vae", x_shape=(3, 32, 32), y_dim=1, seed=0, z_dim=4, likelihood="gaussian",
                              gaussian_std=0.1, conv_channels=[8, 8, 8], conv_dense=16).eval()
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    y = torch.zeros(2, 1)
    torch.manual_seed(1)
    elbo = model.elbo(x, y, density=True)
    torch.manual_seed(1)
    bpd = model.bits_per_dim(x, y)
    torch.testing.assert_close(bpd, -elbo / (3 * 32 * 32 * math.log(2)) + 8)


def test_unknown_likelihood_and_calibration_are_refused():
    with pytest.raises(ConfigError, match="model.likelihood"):
        csvae.build_model("vae", x_dim=3, likelihood="poisson")
    with pytest.raises(ConfigError, match="model.calibration"):
        csvae.build_model("vae", x_dim=3, likelihood="calibrated_gaussian", calibration="best")


def logistic(loc, scale):
    """torch.distributions' logistic: sigmoid^-1 of a uniform, shifted and scaled."""
    return D.TransformedDistribution(D.Uniform(torch.zeros_like(loc), torch.ones_like(loc)),
                                     [D.transforms.SigmoidTransform().inv, D.transforms.AffineTransform(loc, scale)])


def test_discretized_logistic_matches_the_logistic_cdf_per_bin():
    lik = make_likelihood("discretized_logistic", calibration="learned")
    with torch.no_grad():
        lik.raw_log_sigma.fill_(math.log(0.05))
    levels = torch.tensor([0, 1, 77, 128, 254, 255], dtype=torch.float64)
    x = (levels / 255 - 0.5).float()
    loc = torch.tensor([-0.4, -0.5, 0.0, 0.1, 0.45, 0.2])
    cdf = logistic(loc.double(), torch.tensor(0.05, dtype=torch.float64)).cdf
    half = 0.5 / 255
    upper = torch.where(levels == 255, torch.ones(6, dtype=torch.float64), cdf(x.double() + half))
    lower = torch.where(levels == 0, torch.zeros(6, dtype=torch.float64), cdf(x.double() - half))
    torch.testing.assert_close(lik.nll(x, loc).double(), -torch.log(upper - lower), rtol=1e-4, atol=1e-5)


def test_discretized_logistic_is_normalised_over_the_levels_and_finite_in_the_tails():
    lik = make_likelihood("discretized_logistic", calibration="learned")
    with torch.no_grad():
        lik.raw_log_sigma.fill_(math.log(0.02))
    x = torch.arange(256).float() / 255 - 0.5
    for loc in (-0.3, 0.0, 0.49):
        mass = torch.exp(-lik.nll(x, torch.full_like(x, loc)).double()).sum()
        torch.testing.assert_close(mass, torch.tensor(1.0, dtype=torch.float64), rtol=1e-4, atol=1e-4)
    far = lik.nll(x, torch.full_like(x, 5.0))  # every level deep in the left tail of the logistic
    assert torch.isfinite(far).all() and far[0] > far[-1]
    # density over bins of width 1/256: bits per dimension of the pmf are -log2 P
    torch.testing.assert_close(lik.density_nll(x, x), lik.nll(x, x) - math.log(256))


def test_discretized_logistic_optimal_scale_matches_the_batch_variance():
    """Training: s = sqrt(3 MSE) / pi, the logistic whose variance s^2 pi^2 / 3 is the batch's MSE;
    eval: the running value."""
    x = torch.randint(0, 256, (4, 12)).float() / 255 - 0.5
    mean = x + 0.03 * torch.randn(4, 12)
    optimal = make_likelihood("discretized_logistic")
    learned = make_likelihood("discretized_logistic", calibration="learned")
    scale = math.sqrt(3 * ((x - mean) ** 2).mean().item()) / math.pi
    with torch.no_grad():
        learned.raw_log_sigma.fill_(math.log(scale))
    torch.testing.assert_close(optimal.nll(x, mean), learned.nll(x, mean))
    grid = torch.linspace(-60 * scale, 60 * scale, 200_001, dtype=torch.float64)
    density = logistic(torch.zeros((), dtype=torch.float64), torch.tensor(scale, dtype=torch.float64)).log_prob(grid)
    variance = torch.trapezoid(grid**2 * density.exp(), grid)  # the logistic's variance by quadrature
    torch.testing.assert_close(variance.float(), ((x - mean) ** 2).mean(), rtol=1e-4, atol=0.0)
    optimal.eval()
    torch.testing.assert_close(optimal.running_log_sigma, torch.tensor(math.log(scale)) * 0.05)
    with torch.no_grad():
        learned.raw_log_sigma.fill_(math.log(scale) * 0.05)
    torch.testing.assert_close(optimal.nll(x, mean), learned.nll(x, mean))


def test_discretized_logistic_is_refused_for_float_data():
    x = torch.rand(20, 3)
    with pytest.raises(ConfigError, match="model.likelihood"):
        csvae.fit(csvae.build_model("vae", x_dim=3, likelihood="discretized_logistic"), x,
                  torch.arange(20.0).remainder(2)[:, None], epochs=1)
