"""CSVAE (Klys, Snell, Zemel 2018): label information for attribute i lives in its own subspace W_i.

Generative model p(x | w, z) p(z) p(w | y) p(y); inference q(z | x) and q(w | x, y); an adversary
q_delta(y | z) whose entropy the encoder maximises, so that z carries no label information.
"""

from __future__ import annotations

import torch
from torch import nn

from csvae.config import ModelConfig
from csvae.models.base import Posterior
from csvae.models.parts import (
    Gaussian,
    GaussianHead,
    SubspacePrior,
    call_frozen,
    kl_gaussians,
    label_cross_entropy,
    negative_entropy,
    reduce_dims,
)
from csvae.models.subspace import STYLES, Style, SubspaceModel
from csvae.nets.mlp import MLP

__all__ = ["CSVAE", "STYLES", "Style"]


class CSVAE(SubspaceModel):
    """Objectives (batch means; see docs/models.md):
    model = beta1 * recon + beta2 * KL(q(w|x,y) || p(w|y)) + beta3 * KL(q(z|x) || N(0,I)) + beta4 * M2,
    M2 = E[sum_y q(y|z) log q(y|z)] (the adversary's negative entropy, adversary frozen);
    adversary = beta5 * -log q(y|z) on detached z.
    """

    adversarial = True

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        c = config
        self._init_subspaces(y_dim, c.w_dim)
        self.z_encoder = self.make_encoder()
        self.z_head = GaussianHead(self.z_encoder.out_dim, self.z_dim, c.head_hidden)
        self.w_encoder = self.make_encoder()
        features = self.w_encoder.out_dim
        if c.w_encoder == "shared":
            self.w_heads = nn.ModuleList([GaussianHead(features + y_dim, y_dim * c.w_dim, c.head_hidden)])
        else:
            self.w_heads = nn.ModuleList([GaussianHead(features + 1, c.w_dim, c.head_hidden) for _ in range(y_dim)])
        self.decoder = self.make_decoder(self.z_dim + y_dim * c.w_dim)
        self.adversary = MLP(self.z_dim, c.adversary_hidden, y_dim)
        self.prior = SubspacePrior(y_dim, c.w_dim, c.prior_mean_0, c.prior_scale_0, c.prior_mean_1,
                                   c.prior_scale_1, c.prior_scale_is, c.prior_learned)

    # ----- inference and generation -------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor) -> Posterior:
        """q(z|x) over (B, z_dim) and q(w|x,y) over (B, k * w_dim), subspace i at [i*w_dim:(i+1)*w_dim]."""
        x_model = self.to_model(x)
        return Posterior(self.z_head(self.z_encoder(x_model)), self._encode_w(x_model, y))

    def encode_subspaces(self, x: torch.Tensor, y: torch.Tensor) -> Gaussian:
        """q(w|x,y) alone (B, k * w_dim): the z encoder is not run."""
        return self._encode_w(self.to_model(x), y)

    def _encode_w(self, x_model: torch.Tensor, y: torch.Tensor) -> Gaussian:
        h = self.w_encoder(x_model)
        y = y.to(h.dtype)
        if self.config.w_encoder == "shared":
            return self.w_heads[0](torch.cat([h, y], dim=-1))
        parts = [head(torch.cat([h, y[:, i:i + 1]], dim=-1)) for i, head in enumerate(self.w_heads)]
        return Gaussian(torch.cat([p.mean for p in parts], -1), torch.cat([p.logvar for p in parts], -1))

    def decode(self, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """[z, w] (B, z_dim + k * w_dim) -> likelihood parameters (B, *x_shape); y is never seen."""
        return self.decoder(torch.cat([z, w], dim=-1))

    def _terms(self, x, y, reduction):
        post = self.encode(x, y)
        z, w = post.z.sample(), post.w.sample()
        prior = self.prior(y)
        kind = self.config.label_kind
        logits = call_frozen(self.adversary, z)
        if self.config.encoder_objective == "entropy":
            m2 = negative_entropy(logits, kind)
        else:
            m2 = -label_cross_entropy(logits, y, kind)
        return {"recon": self.recon_nll(self.to_model(x), self.decode(z, w), reduction),
                "kl_w": reduce_dims(kl_gaussians(post.w, prior.mean, prior.logvar), reduction),
                "kl_z": self.kl_z(post.z, reduction),
                "m2": m2,
                "adversary_ce": label_cross_entropy(self.adversary(z.detach()), y, kind)}

    def weighted_loss(self, terms):
        b = self.config.betas
        return (b.recon * terms["recon"] + b.kl_w * terms["kl_w"] + b.kl_z * terms["kl_z"]
                + b.entropy * terms["m2"])
