"""S²-VAE: the semi-supervised β-VAE of Locatello, Tschannen, Bauer, Rätsch, Schölkopf, Bachem,
"Disentangling Factors of Variation Using Few Labels" (ICLR 2020; disentanglement_lib's
``methods/semi_supervised``), written from its definition.

A VAE (``models.vae``: one encoder q(z|x), a decoder p(x|z), p(z) = N(0, I); y is read by the
loss alone) whose first k latent coordinates are tied to the k label columns by a supervised loss
R_s on the posterior means of the rows whose label is known:

    model = β1 · recon + β3 · KL(q(z|x) || N(0, I)) + γ(t) · R_s(μ(x)[:, :k], y)

recon and KL on every row, R_s on the labelled rows only (averaged over them, each weighted by its
balance weight); γ(t) is γ_sup (``s2vae_gamma``) times the annealing factor at the training
progress t (``s2vae_anneal``). Coordinate i belongs to label column i: an attribute of a binary
label, a class (its one-hot column) of a categorical one. ``latents`` returns the k label
coordinates as "w" (N, k) and the others as "z", as CCVAE names its z_c "w". There is no style
space and no ``transfer``: a label has one coordinate, which R_s fills with the label itself.
"""

from __future__ import annotations

import torch
from torch import nn

from csvae.config import ModelConfig
from csvae.constraints import ConfigError
from csvae.models.ccvae_parts import label_probabilities
from csvae.models.labels import labelled_rows
from csvae.models.objective import Objective
from csvae.models.parts import label_cross_entropy
from csvae.models.vae import LabelCoordinatesVAE


def supervised_loss(codes: torch.Tensor, y: torch.Tensor, loss: str, label_kind: str,
                    scale: torch.Tensor | None = None) -> torch.Tensor:
    """R_s per row, (B,): codes (B, k), the label coordinates of the posterior means; y (B, k),
    known labels in {0, 1}.

    xent: sum_i of the sigmoid cross-entropy of codes_i (a logit) against y_i (binary), or the
    softmax cross-entropy of the k class coordinates against the one-hot y (categorical);
    l2: sum_i (scale * codes_i - y_i)^2, with disentanglement_lib's learned scale b."""
    if loss == "xent":
        return label_cross_entropy(codes, y, label_kind)
    return ((scale * codes - y) ** 2).sum(-1)


def anneal_factor(schedule: str, progress: torch.Tensor, fraction: float) -> torch.Tensor:
    """The share of γ_sup reached at training progress ``progress`` (a 0-d tensor, step / total):
    linear min(1, t / fraction); fine_tune 0 before ``fraction`` of the run, 1 from it; none 1."""
    if schedule == "linear":
        return (progress / fraction).clamp(max=1.0)
    if schedule == "fine_tune":
        return (progress >= fraction).to(progress.dtype)
    return torch.ones_like(progress)


class S2VAE(LabelCoordinatesVAE):
    """Loss: β1 · recon + β3 · KL(q(z|x) || N(0, I)) on every row, + γ(t) · R_s(μ(x)[:, :k], y)
    over the labelled rows (``s2vae_loss``; docs/models.md). Refused when the k labels need more
    coordinates than the code has."""

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        if y_dim > self.z_dim:
            raise ConfigError(f"s2vae ties one latent coordinate to each of its {y_dim} label columns, more than "
                              f"its {self.z_dim} latent coordinates (model.z_dim {config.z_dim} with "
                              f"model.match_latent_size false): set model.z_dim to at least {y_dim}, or "
                              f"model.match_latent_size: true")
        # l2's learned scale b of the label coordinates (xent has none)
        self.label_scale = nn.Parameter(torch.ones(())) if config.s2vae_loss == "l2" else None
        # Training progress t = step / total (``set_progress``); 1 outside a training loop.
        self.register_buffer("progress", torch.ones(()))

    def set_progress(self, step: int, total: int) -> None:
        self.progress.fill_(step / max(total, 1))

    def _terms(self, x, y, reduction, density=False):
        """recon and kl_z on every row (B,), and "supervised", R_s times the balance weight on the
        labelled rows (B',) (0 in a batch with fewer than 2 of them: ``labelled_rows``)."""
        c = self.config
        q = self.encode(x).z
        terms = self._elbo_terms(x, q, q.sample(), reduction, density)
        y, rows, weight = labelled_rows(y)
        codes = q.mean[rows, :self.y_dim].float()
        loss = supervised_loss(codes, y[rows], c.s2vae_loss, c.label_kind, self.label_scale)
        terms["supervised"] = weight * self.label_weights(y[rows]) * loss
        return terms

    def objective(self):
        b, c = self.config.betas, self.config
        gamma = c.s2vae_gamma * anneal_factor(c.s2vae_anneal, self.progress, c.s2vae_anneal_fraction)
        return Objective(model={"recon": b.recon, "kl_z": b.kl_z, "supervised": gamma})

    predicts_labels = True

    def predict_labels(self, x, batch_size: int = 1024):
        """The labels read from the label coordinates of the posterior mean, (N, k): xent,
        sigmoid(μ_i) per attribute or the softmax over the class coordinates; l2, b·μ_i clipped to
        [0, 1] (for a categorical label, normalised over the classes). numpy in -> numpy out."""
        return self.map_like(lambda xb: self._label_scores(self.encode(xb).z.mean[:, :self.y_dim]), x,
                             batch_size=batch_size)

    def _label_scores(self, codes: torch.Tensor) -> torch.Tensor:
        kind = self.config.label_kind
        if self.config.s2vae_loss == "xent":
            return label_probabilities(codes, kind)
        p = (self.label_scale * codes).clamp(0.0, 1.0)
        return p / p.sum(-1, keepdim=True).clamp_min(1e-12) if kind == "categorical" else p
