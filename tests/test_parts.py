"""The maths of the building blocks, checked against torch.distributions and closed forms."""

import math

import pytest
import torch
from torch import distributions as D

from csvae.models.parts import (
    Gaussian,
    SubspacePrior,
    kl_gaussians,
    kl_standard_normal,
    label_cross_entropy,
    negative_entropy,
    reduce_dims,
)


def random_gaussian(b=5, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Gaussian(torch.randn(b, d, generator=g), torch.randn(b, d, generator=g))


def as_normal(mean, logvar):
    return D.Normal(mean, torch.exp(0.5 * logvar))


def test_kl_standard_normal_matches_torch():
    q = random_gaussian()
    expected = D.kl_divergence(as_normal(*q), D.Normal(0.0, 1.0))
    torch.testing.assert_close(kl_standard_normal(q), expected)


def test_kl_between_gaussians_matches_torch():
    q, p = random_gaussian(seed=1), random_gaussian(seed=2)
    expected = D.kl_divergence(as_normal(*q), as_normal(*p))
    torch.testing.assert_close(kl_gaussians(q, p.mean, p.logvar), expected)


def test_kl_is_zero_for_equal_distributions():
    q = random_gaussian()
    torch.testing.assert_close(kl_gaussians(q, q.mean, q.logvar), torch.zeros_like(q.mean))


def test_reduce_dims_sum_and_mean():
    values = torch.arange(24.0).view(2, 3, 4)
    torch.testing.assert_close(reduce_dims(values, "sum"), values.flatten(1).sum(1))
    torch.testing.assert_close(reduce_dims(values, "mean"), values.flatten(1).mean(1))


def test_prior_default_picks_tight_gaussian_for_label_zero():
    prior = SubspacePrior(2, 2, mean_0=0.0, scale_0=0.1, mean_1=3.0, scale_1=1.0, scale_is="std")
    p = prior(torch.tensor([[0.0, 1.0]]))
    torch.testing.assert_close(p.mean, torch.tensor([[0.0, 0.0, 3.0, 3.0]]))
    torch.testing.assert_close(p.logvar.exp().sqrt(), torch.tensor([[0.1, 0.1, 1.0, 1.0]]))


def test_prior_scale_read_as_variance():
    prior = SubspacePrior(1, 2, mean_0=0.0, scale_0=0.1, mean_1=3.0, scale_1=1.0, scale_is="variance")
    p = prior(torch.tensor([[0.0]]))
    torch.testing.assert_close(p.logvar.exp(), torch.full((1, 2), 0.1))


def test_learned_prior_has_parameters_at_the_initial_values():
    prior = SubspacePrior(1, 2, 0.0, 0.1, 3.0, 1.0, learned=True)
    assert len(list(prior.parameters())) == 2
    torch.testing.assert_close(prior(torch.tensor([[1.0]])).mean, torch.full((1, 2), 3.0))


def test_kl_to_prior_matches_torch_per_subspace():
    prior = SubspacePrior(2, 2, 0.0, 0.1, 3.0, 1.0)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    q = random_gaussian(2, 4)
    p = prior(y)
    expected = D.kl_divergence(as_normal(*q), as_normal(p.mean, p.logvar))
    torch.testing.assert_close(kl_gaussians(q, p.mean, p.logvar), expected)


def test_negative_entropy_binary_matches_bernoulli_entropy():
    logits = torch.randn(7, 3)
    expected = -D.Bernoulli(logits=logits).entropy().sum(-1)
    torch.testing.assert_close(negative_entropy(logits, "binary"), expected)


def test_negative_entropy_categorical_matches_softmax_entropy():
    logits = torch.randn(7, 4)
    expected = -D.Categorical(logits=logits).entropy()
    torch.testing.assert_close(negative_entropy(logits, "categorical"), expected)


def test_negative_entropy_is_minimal_at_uniform_prediction():
    assert negative_entropy(torch.zeros(1, 1), "binary").item() == pytest.approx(-math.log(2))
    assert negative_entropy(torch.zeros(1, 5), "categorical").item() == pytest.approx(-math.log(5))


@pytest.mark.parametrize("kind,width", [("binary", 1), ("categorical", 3)])
def test_minimising_negative_entropy_pushes_predictions_to_uniform(kind, width):
    """The gradient sign: a step down M2 makes a confident prediction less confident."""
    logits = torch.full((1, width), 0.0)
    logits[0, 0] = 2.0
    logits.requires_grad_(True)
    before = negative_entropy(logits, kind)
    before.sum().backward()
    after = negative_entropy(logits.detach() - 0.1 * logits.grad, kind)
    assert after.item() < before.item()
    assert logits.grad[0, 0] > 0  # the confident logit is pushed down


def test_label_cross_entropy_matches_torch():
    logits, y = torch.randn(5, 3), torch.randint(0, 2, (5, 3)).float()
    expected = -D.Bernoulli(logits=logits).log_prob(y).sum(-1)
    torch.testing.assert_close(label_cross_entropy(logits, y, "binary"), expected)
    one_hot = torch.eye(3)[torch.tensor([0, 2, 1, 1, 0])]
    expected = -D.Categorical(logits=logits).log_prob(one_hot.argmax(-1))
    torch.testing.assert_close(label_cross_entropy(logits, one_hot, "categorical"), expected)
