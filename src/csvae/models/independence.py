"""Penalties on the dependence of z on y, the alternatives to the adversary's entropy (``model.independence``).

Shapes: z (B, d), y (B, k) in {0, 1} (k binary attributes or a one-hot row), logits (B, k).

- ``hsic``: the Hilbert-Schmidt independence criterion (Gretton et al. 2005), biased estimator
  tr(K H L H) / B^2 with a Gaussian kernel K on z (bandwidth: the median pairwise distance of the
  batch, held constant for the gradient) and the linear kernel L = y y^T on the labels (for a
  binary or one-hot label the same, after centring, as the delta kernel). Zero exactly when the
  batch's kernel features are uncorrelated; needs no second network.
- ``club``: the contrastive log-ratio upper bound on I(z; y) (Cheng et al. 2020), with the
  adversary q(y|z) as its variational conditional (trained, as the adversary always is, to
  maximise log q(y|z) on detached z): per example log q(y_b|z_b) - E_{y ~ p(y)} log q(y|z_b), with
  p(y) the batch's label frequencies (per attribute for binary labels, where log q(y|z) is a sum
  over attributes, so this is the exact expectation over the batch's marginal). Minimised over
  the encoder with q frozen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from csvae.models.labels import labelled_rows
from csvae.models.parts import call_frozen, label_cross_entropy

INDEPENDENCE = ("adversary", "hsic", "club")


def gaussian_kernel(z: torch.Tensor) -> torch.Tensor:
    """exp(-|z_a - z_b|^2 / (2 s^2)), (B, B), s^2 the median squared pairwise distance (detached)."""
    sq = torch.cdist(z, z).pow(2)
    off = sq.detach()[~torch.eye(len(z), dtype=torch.bool, device=z.device)]
    bandwidth = off.median().clamp_min(1e-6) if off.numel() else torch.ones((), device=z.device)
    return torch.exp(-sq / (2.0 * bandwidth))


def hsic(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Biased HSIC estimate tr(K H L H) / B^2 between z (B, d) and y (B, k), a scalar >= 0."""
    n = len(z)
    k = gaussian_kernel(z)
    y = y.to(k.dtype)
    yc = y - y.mean(0, keepdim=True)  # H L H = (H y)(H y)^T for the linear kernel
    return (yc * (k @ yc)).sum() / n**2


def club(logits: torch.Tensor, y: torch.Tensor, label_kind: str) -> torch.Tensor:
    """Per-example CLUB terms (B,): log q(y_b|z_b) - sum_y p(y) log q(y|z_b), p(y) the batch's
    label frequencies. Their mean is the CLUB estimate of I(z; y)."""
    y = y.to(logits.dtype)
    p = y.mean(0, keepdim=True)
    if label_kind == "binary":
        log_1, log_0 = F.logsigmoid(logits), F.logsigmoid(-logits)
        paired = (y * log_1 + (1 - y) * log_0).sum(-1)
        marginal = (p * log_1 + (1 - p) * log_0).sum(-1)
    else:
        log_q = F.log_softmax(logits, dim=-1)
        paired, marginal = (y * log_q).sum(-1), (p * log_q).sum(-1)
    return paired - marginal


class RemovesLabel:
    """Mixin of the models whose encoder removes y from z (CSVAE, CondVAE-info) with the help of
    an adversary q(y|z) (``self.adversary``): the removal term, added to the model objective with
    weight beta4 and chosen by ``model.independence``, and the adversary's own term. A subclass
    names its adversary-based removal term (``adversary_term``) and defines it
    (``encoder_adversary_term(logits, y)``, (B,))."""

    adversary_term: str
    """The removal term's name when ``model.independence`` is "adversary"."""

    @property
    def removal_key(self) -> str:
        """The name of the removal term in ``losses``: ``adversary_term`` (CSVAE's m2,
        CondVAE-info's encoder_ce), hsic or club."""
        method = self.config.independence
        return self.adversary_term if method == "adversary" else method

    def adversary_ce(self, z: torch.Tensor, y: torch.Tensor, labelled: torch.Tensor) -> torch.Tensor:
        """The adversary's term: -log q(y|z) per example on detached z (B, d), times ``labelled``
        (B,), each row's weight (``labelled_rows``' weight times its balance weight)."""
        return labelled * label_cross_entropy(self.adversary(z.detach()), y, self.config.label_kind)

    def adversary_terms(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"adversary_ce": (B',)} on the rows with a known label, from a fresh draw of z (or its
        posterior mean, ``model.independence_input``) without gradient."""
        balance = self.label_weights(y)
        y, rows, weight = labelled_rows(y)
        with torch.no_grad():
            q = self.encode(x[rows], y[rows]).z
            z = q.mean if self.config.independence_input == "mean" else q.sample()
        return {"adversary_ce": self.adversary_ce(z, y[rows], weight * balance[rows])}

    def removal_input(self, q, z: torch.Tensor) -> torch.Tensor:
        """What the adversary and the penalty read: the sample z (default) or the posterior mean
        of q (``model.independence_input``), (B, d)."""
        return q.mean if self.config.independence_input == "mean" else z

    def removal_terms(self, z: torch.Tensor, y: torch.Tensor, balance: torch.Tensor) -> dict[str, torch.Tensor]:
        """{removal_key: (B,)}; the adversary runs frozen (no gradient reaches its parameters).
        The per-example terms (the adversary's, CLUB's) are weighted by ``balance`` (B,), the
        balance weights of ``data.balance``; HSIC, a statistic of the whole batch, is not."""
        method = self.config.independence
        if method == "hsic":
            return {self.removal_key: hsic(z, y).expand(len(z))}
        logits = call_frozen(self.adversary, z)
        value = (club(logits, y, self.config.label_kind) if method == "club"
                 else self.encoder_adversary_term(logits, y))
        return {self.removal_key: balance * value}
