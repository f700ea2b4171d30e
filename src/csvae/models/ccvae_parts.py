"""The pieces of CCVAE's generative and inference model that CSVAE does not have, and the label
algebra of its objective (docs/models.md has the equations).

Shapes: B rows, k label columns, m = ``w_dim`` latent dimensions per label (the paper: 1), so
z_c is (B, k * m) with block i at [i*m:(i+1)*m]. y is (B, k): k binary labels, or one row of a
one-hot categorical label over k classes. For a one-hot label, block i is class i's
characteristic: p(z_c | y) puts block i at its "true" Gaussian for the example's class and every
other block at its "false" one, and q(y | z_c) is a softmax over the k block logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from csvae.models.parts import Gaussian, label_cross_entropy

MIN_SCALE = 1e-3
"""Lower bound of the conditional prior's scales (both official versions)."""
MIN_LABEL_PROB = 1e-6
"""p(y) is clipped into [MIN_LABEL_PROB, 1 - MIN_LABEL_PROB], so a label constant in the training
data keeps finite log-probabilities."""


class ConditionalPrior(nn.Module):
    """p(z_c | y) = prod_i N(z_c,i; loc_i^{y_i}, diag scale_i^{y_i}^2), all four learned, (k, m) each.

    Locations start at +init (y_i = 1) and -init (y_i = 0); scales are softplus(raw) >= MIN_SCALE
    with raw starting at 1 (as both official versions). The parameters hold each value divided by
    ``rate`` (loc_1 = rate * self.loc_1, ...): Adam's step on a parameter does not depend on its
    scale, so the prior moves ``rate`` times as fast as the networks (``model.ccvae_prior_rate``)."""

    def __init__(self, n_labels: int, dims: int, init: float, rate: float = 1.0):
        super().__init__()
        self.rate = float(rate)
        self.loc_1 = nn.Parameter(torch.full((n_labels, dims), float(init) / self.rate))
        self.loc_0 = nn.Parameter(torch.full((n_labels, dims), -float(init) / self.rate))
        self.raw_scale_1 = nn.Parameter(torch.full((n_labels, dims), 1.0 / self.rate))
        self.raw_scale_0 = nn.Parameter(torch.full((n_labels, dims), 1.0 / self.rate))

    def blocks(self, bit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """bit (..., k, 1) in {0, 1} -> (loc, logvar), each (..., k, m)."""
        bit = bit.to(self.loc_1.dtype)
        loc = self.rate * torch.lerp(self.loc_0, self.loc_1, bit)
        raw = self.rate * torch.lerp(self.raw_scale_0, self.raw_scale_1, bit)
        return loc, 2.0 * F.softplus(raw).clamp_min(MIN_SCALE).log()

    def forward(self, y: torch.Tensor) -> Gaussian:
        """y (B, k) in {0, 1} -> p(z_c | y) as a Gaussian over (B, k * m)."""
        loc, logvar = self.blocks(y.unsqueeze(-1))
        return Gaussian(loc.flatten(1), logvar.flatten(1))

    def by_value(self) -> tuple[Gaussian, Gaussian]:
        """(p(z_c,i | y_i = 0), p(z_c,i | y_i = 1)) for every i, each a Gaussian over (k, m)."""
        ones = torch.ones_like(self.loc_1[:, :1])
        return Gaussian(*self.blocks(0 * ones)), Gaussian(*self.blocks(ones))


class BlockClassifier(nn.Module):
    """q(y_i | z_c,i): label i reads only its own block, logit_i = a_i . z_c,i + b_i with a_i in R^m.

    m = 1 is the paper's "diagonal" classifier (a_i starts at 1, b_i at 0, as in the official code);
    m > 1 is our generalisation (a per-label linear classifier on its block)."""

    def __init__(self, n_labels: int, dims: int):
        super().__init__()
        self.dims = dims
        self.weight = nn.Parameter(torch.ones(n_labels, dims))
        self.bias = nn.Parameter(torch.zeros(n_labels))

    def forward(self, z_c: torch.Tensor) -> torch.Tensor:
        """z_c (..., k * m) -> logits (..., k)."""
        blocks = z_c.unflatten(-1, (-1, self.dims))
        return (blocks * self.weight).sum(-1) + self.bias


def log_q_labels(logits: torch.Tensor, y: torch.Tensor, label_kind: str) -> torch.Tensor:
    """log q(y | z_c), (...,): the product of Bernoullis (binary) or the softmax's class (one-hot).

    logits (..., k); y broadcasts against them."""
    return -label_cross_entropy(logits, y.expand_as(logits), label_kind)


def log_q_labels_given_x(classifier: nn.Module, q_c: Gaussian, y: torch.Tensor, label_kind: str,
                         k: int) -> torch.Tensor:
    """log q(y | x) = log E_q(z_c|x)[q(y | z_c)], estimated from k reparameterised samples in log
    space: logsumexp_j log q(y | z_c^j) - log k, (B,). q_c over (B, d), y (B, k)."""
    noise = torch.randn((k, *q_c.mean.shape), device=q_c.mean.device, dtype=q_c.mean.dtype)
    z_c = q_c.mean + torch.exp(0.5 * q_c.logvar) * noise  # (k, B, d)
    return torch.logsumexp(log_q_labels(classifier(z_c), y, label_kind), dim=0) - math.log(k)


def label_log_prior(y: torch.Tensor, probs: torch.Tensor, label_kind: str) -> torch.Tensor:
    """log p(y), (B,): independent Bernoullis with p(y_i = 1) = probs_i, or the categorical probs."""
    probs = probs.clamp(MIN_LABEL_PROB, 1.0 - MIN_LABEL_PROB)
    if label_kind == "categorical":
        return (y * probs.log()).sum(-1)
    return (y * probs.log() + (1.0 - y) * torch.log1p(-probs)).sum(-1)


def block_sum(values: torch.Tensor, dims: int) -> torch.Tensor:
    """(B, k * m) -> (B, k): the sum over each label's block."""
    return values.unflatten(-1, (-1, dims)).sum(-1)


def select_blocks(ratio_0: torch.Tensor, ratio_1: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """sum_i of ratio_1[:, i] where y_i = 1 and ratio_0[:, i] where y_i = 0, (B,); inputs (B, k)."""
    return (y * ratio_1 + (1.0 - y) * ratio_0).sum(-1)


def expected_label_terms(logits: torch.Tensor, ratio_0: torch.Tensor, ratio_1: torch.Tensor,
                         probs: torch.Tensor, label_kind: str, ratio_weight: float = 1.0) -> torch.Tensor:
    """E_q(y|z_c)[ratio_weight * r(y) + log p(y) - log q(y|z_c)] in closed form, (B,).

    r(y) = select_blocks(ratio_0, ratio_1, y) is the latent log-ratio of the labels y (block i
    adds ratio_1[:, i] or ratio_0[:, i]). It is a sum over labels, so for binary labels the
    expectation is a sum over labels of a two-term expectation; for a one-hot label it is a sum
    over the k classes. logits, ratio_0, ratio_1: (B, k)."""
    probs = probs.clamp(MIN_LABEL_PROB, 1.0 - MIN_LABEL_PROB)
    if label_kind == "categorical":
        log_q = F.log_softmax(logits, dim=-1)
        ratio = ratio_0.sum(-1, keepdim=True) + ratio_1 - ratio_0  # r(e_c) for every class c
        return (log_q.exp() * (ratio_weight * ratio + probs.log() - log_q)).sum(-1)
    log_q1, log_q0 = F.logsigmoid(logits), F.logsigmoid(-logits)
    term_1 = log_q1.exp() * (ratio_weight * ratio_1 + probs.log() - log_q1)
    term_0 = log_q0.exp() * (ratio_weight * ratio_0 + torch.log1p(-probs) - log_q0)
    return (term_1 + term_0).sum(-1)


def sample_labels(logits: torch.Tensor, label_kind: str) -> torch.Tensor:
    """y ~ q(y | z_c) without gradient, (B, k) floats in {0, 1} (one-hot for a categorical label)."""
    with torch.no_grad():
        if label_kind == "categorical":
            classes = torch.distributions.Categorical(logits=logits.float()).sample()
            return F.one_hot(classes, logits.shape[-1]).to(logits.dtype)
        return torch.bernoulli(torch.sigmoid(logits))


def label_probabilities(logits: torch.Tensor, label_kind: str) -> torch.Tensor:
    """q(y_i = 1 | z_c) per label (binary) or the class probabilities (categorical), (..., k)."""
    return torch.softmax(logits, -1) if label_kind == "categorical" else torch.sigmoid(logits)
