"""Building blocks shared by the models: Gaussian heads, reparameterisation, closed-form KLs,
the CSVAE prior p(w|y) and the adversary's entropy and cross-entropy.

Shapes: B is the batch, d a latent size, k the number of label columns. Every per-example term is
reduced over its dimensions by ``reduce_dims`` ("sum", the paper's choice, or "mean") and returns
(B,); models average over the batch.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from csvae.nets.mlp import MLP


class Gaussian(NamedTuple):
    """A diagonal Gaussian: mean and log-variance, both (B, d)."""

    mean: torch.Tensor
    logvar: torch.Tensor

    def sample(self) -> torch.Tensor:
        """Reparameterised sample mean + std * eps, (B, d)."""
        return self.mean + torch.exp(0.5 * self.logvar) * torch.randn_like(self.mean)


class GaussianHead(nn.Module):
    """[features, condition] (B, in_dim) -> Gaussian with d dims, through one hidden layer."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int):
        super().__init__()
        self.net = MLP(in_dim, [hidden], 2 * out_dim)

    def forward(self, h: torch.Tensor) -> Gaussian:
        mean, logvar = self.net(h).chunk(2, dim=-1)
        return Gaussian(mean, logvar.clamp(-12.0, 8.0))


def reduce_dims(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """(B, ...) -> (B,): sum or mean over every dimension but the first."""
    flat = values.flatten(1)
    return flat.sum(1) if reduction == "sum" else flat.mean(1)


def kl_gaussians(q: Gaussian, p_mean: torch.Tensor, p_logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(q.mean, exp q.logvar) || N(p_mean, exp p_logvar)), (B, d).

    p_mean and p_logvar broadcast against q's (B, d)."""
    return 0.5 * (p_logvar - q.logvar + (q.logvar.exp() + (q.mean - p_mean) ** 2) / p_logvar.exp() - 1.0)


def log_normal(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp logvar), all three broadcasting."""
    return -0.5 * ((x - mean) ** 2 * torch.exp(-logvar) + logvar + math.log(2 * math.pi))


def kl_standard_normal(q: Gaussian) -> torch.Tensor:
    """Elementwise KL(q || N(0, I)), (B, d)."""
    return 0.5 * (q.logvar.exp() + q.mean**2 - 1.0 - q.logvar)


class SubspacePrior(nn.Module):
    """p(w | y) = prod_i p(w_i | y_i), each a diagonal Gaussian chosen by the label bit y_i.

    For y_i = 0: N(mean_0 * 1, scale_0), for y_i = 1: N(mean_1 * 1, scale_1), with the scale read
    as a standard deviation or a variance (``scale_is``). The paper's default puts the tight
    N(0, 0.1^2 I) on y_i = 0 and N(3 * 1, I) on y_i = 1. With ``learned`` the means and
    log-variances are parameters initialised at these values (an ablation).
    """

    def __init__(self, n_subspaces: int, w_dim: int, mean_0: float, scale_0: float, mean_1: float,
                 scale_1: float, scale_is: str = "std", learned: bool = False):
        super().__init__()
        self.n_subspaces, self.w_dim = n_subspaces, w_dim

        def logvar(scale: float) -> float:
            return math.log(scale**2) if scale_is == "std" else math.log(scale)

        means = torch.tensor([mean_0, mean_1]).view(2, 1, 1).expand(2, n_subspaces, w_dim).clone()
        logvars = torch.tensor([logvar(scale_0), logvar(scale_1)]).view(2, 1, 1)
        logvars = logvars.expand(2, n_subspaces, w_dim).clone()
        if learned:
            self.means, self.logvars = nn.Parameter(means), nn.Parameter(logvars)
        else:
            self.register_buffer("means", means)
            self.register_buffer("logvars", logvars)

    def forward(self, y: torch.Tensor) -> Gaussian:
        """y (B, k) in {0, 1} -> p(w | y) as a Gaussian over (B, k * w_dim)."""
        bit = y.unsqueeze(-1).to(self.means.dtype)  # (B, k, 1); y may arrive in bf16 under autocast
        mean = torch.lerp(self.means[0], self.means[1], bit)
        logvar = torch.lerp(self.logvars[0], self.logvars[1], bit)
        return Gaussian(mean.flatten(1), logvar.flatten(1))


def negative_entropy(logits: torch.Tensor, label_kind: str) -> torch.Tensor:
    """sum_y q(y|z) log q(y|z), (B,): the paper's M2 integrand (always <= 0).

    binary: the sum over the k attributes of each Bernoulli's negative entropy; categorical: the
    negative entropy of the softmax over the k classes."""
    if label_kind == "binary":
        log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
        return (log_p.exp() * log_p + log_not_p.exp() * log_not_p).sum(-1)
    log_p = F.log_softmax(logits, dim=-1)
    return (log_p.exp() * log_p).sum(-1)


def label_cross_entropy(logits: torch.Tensor, y: torch.Tensor, label_kind: str) -> torch.Tensor:
    """-log q(y|z), (B,): summed over the k attributes (binary) or over the one-hot classes."""
    if label_kind == "binary":
        return F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)
    return -(y * F.log_softmax(logits, dim=-1)).sum(-1)


def call_frozen(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Run ``module`` with its parameters detached: gradients reach ``inputs`` but never the
    module's own parameters (the model step of the alternating schedule)."""
    params = {name: p.detach() for name, p in module.named_parameters()}
    return torch.func.functional_call(module, params, (inputs,))
