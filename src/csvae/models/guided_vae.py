"""Guided-VAE, supervised form (Ding, Xu, Xu, Parmar, Yang, Welling, Tu, CVPR 2020; official code
mlpc-ucsd/Guided-VAE).

A VAE whose latent z (B, d) gives each of the k labels one "excited" coordinate, z[:, i] for label
i, which a classifier reads the label from (excitation). The rest of z, z[:, k:], is "inhibited":
an adversary learns to predict y from it, and the encoder drives the adversary's prediction to
uninformative (probability 1/2 for each binary attribute, 1/k for each class of a one-hot label).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from csvae.config import ModelConfig
from csvae.models.ccvae_parts import BlockClassifier, label_probabilities
from csvae.models.independence import RemovesLabel
from csvae.models.labels import labelled_rows
from csvae.models.objective import Objective
from csvae.models.parts import label_cross_entropy
from csvae.models.vae import LabelCoordinatesVAE
from csvae.nets.mlp import MLP


def uniform_cross_entropy(logits: torch.Tensor, label_kind: str) -> torch.Tensor:
    """The cross-entropy of the prediction (logits (B, k)) against the uninformative one, (B,):
    sum_i BCE(sigmoid(logit_i), 1/2) (binary) or -sum_c (1/k) log softmax_c (one-hot); least, k log 2
    or log k, where the prediction is uniform."""
    if label_kind == "binary":
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 0.5), reduction="none").sum(-1)
    return -F.log_softmax(logits, dim=-1).mean(-1)


class Inhibited(nn.Module):
    """The adversary: an MLP that reads y from the inhibited part z[:, k:] of z (B, d) -> logits (B, k)."""

    def __init__(self, z_dim: int, y_dim: int, hidden: list[int]):
        super().__init__()
        self.start = y_dim
        self.net = MLP(z_dim - y_dim, hidden, y_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, self.start:])


class GuidedVAE(RemovesLabel, LabelCoordinatesVAE):
    """model = beta1 * recon + beta3 * KL(q(z|x) || N(0, I)) + guided_vae_excitation * -log q(y | z[:, :k])
    + beta4 * CE(r(z[:, k:]), uniform), r frozen; adversary = beta5 * -log r(y | z[:, k:]) on
    detached z; z sampled. recon, kl_z and the inhibition (which needs no label) cover every row;
    the excitation and the adversary the rows with a known label. The excited coordinates are the
    label coordinates of ``LabelCoordinatesVAE``: ``latents`` returns them as "w", and
    ``manipulate`` sets those of the changed labels to their class means."""

    adversary_term = "inhibition"
    predicts_labels = True

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        if self.z_dim <= y_dim:
            raise ValueError(f"guided_vae needs z larger than the labels (one excited coordinate per label and an "
                             f"inhibited rest): z has {self.z_dim} dimensions, the labels {y_dim} (raise model.z_dim)")
        self.excitation = BlockClassifier(y_dim, 1)
        self.adversary = Inhibited(self.z_dim, y_dim, config.adversary_hidden)

    def excited(self, z: torch.Tensor) -> torch.Tensor:
        """The excited coordinates z[:, :k] (B, k), coordinate i for label i."""
        return z[:, :self.y_dim]

    def _terms(self, x, y, reduction, density=False):
        kind = self.config.label_kind
        balance = self.label_weights(y)
        y, rows, weight = labelled_rows(y)
        q = self.encode(x).z
        z = q.sample()
        terms = self._elbo_terms(x, q, z, reduction, density)
        labelled = weight * balance[rows]
        terms["excitation"] = labelled * label_cross_entropy(self.excitation(self.excited(z[rows])), y[rows], kind)
        terms.update(self.removal_terms(z, y, balance))
        terms["adversary_ce"] = self.adversary_ce(z[rows], y[rows], labelled)
        return terms

    def encoder_adversary_term(self, logits, y):
        """The inhibition: the adversary's prediction against the uninformative one (no label read)."""
        return uniform_cross_entropy(logits, self.config.label_kind)

    def objective(self):
        b = self.config.betas
        return Objective(model={"recon": b.recon, "kl_z": b.kl_z, "excitation": self.config.guided_vae_excitation,
                                "inhibition": b.entropy},
                         adversary={"adversary_ce": b.adversary})

    def predict_labels(self, x, batch_size: int = 1024):
        """The excitation classifier at the posterior mean, q(y | mu(x)[:, :k]): p(y_i = 1) per
        attribute (binary) or the class probabilities (one-hot), (N, k); numpy in -> numpy out."""
        return self.map_like(lambda xb: label_probabilities(self.excitation(self.excited(self.encode(xb).z.mean)),
                                                            self.config.label_kind), x, batch_size=batch_size)
