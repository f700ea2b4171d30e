"""CondVAE: q(z|x, y), p(x|z, y), p(z) = N(0, I). Attribute change by decoding with the new y."""

from __future__ import annotations

import torch

from csvae.config import ModelConfig
from csvae.models.base import ArrayLike, LatentModel, Posterior, check_target, inference, labelled_rows
from csvae.models.parts import GaussianHead


class CondVAE(LatentModel):
    """Loss: beta1 * -log p(x|z,y) + beta3 * KL(q(z|x,y) || N(0, I)), on the rows whose label is
    known (encoder and decoder both need y; rows without one add nothing)."""

    encoder_sees_y = True

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        self.encoder = self.make_encoder()
        head_in = self.encoder.out_dim + (y_dim if self.encoder_sees_y else 0)
        self.z_head = GaussianHead(head_in, self.z_dim, config.head_hidden)
        self.decoder = self.make_decoder(self.z_dim + y_dim)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> Posterior:
        h = self.encoder(self.to_model(x))
        if self.encoder_sees_y:
            h = torch.cat([h, y.to(h.dtype)], dim=-1)
        return Posterior(self.z_head(h))

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, y.to(z.dtype)], dim=-1))

    def _encode_sample(self, x, y, reduction):
        """Shared by the conditional models, on the rows of (x, y) whose label is known: those
        rows' y (B', k), q(z|x[, y]) and a sample of z (B', d) and the ELBO terms (each times the weight of
        ``labelled_rows``: 0 for a batch without a known label)."""
        y, rows, weight = labelled_rows(y)
        x, y = x[rows], y[rows]
        q = self.encode(x, y).z
        z = q.sample()
        terms = {"recon": weight * self.recon_nll(self.to_model(x), self.decode(z, y), reduction),
                 "kl_z": weight * self.kl_z(q, reduction)}
        return y, q, z, terms, weight

    def _terms(self, x, y, reduction):
        return self._encode_sample(x, y, reduction)[3]

    def weighted_loss(self, terms):
        b = self.config.betas
        return b.recon * terms["recon"] + b.kl_z * terms["kl_z"]

    def decode_posterior_mean(self, x, y):
        return self.decode(self.encode(x, y).z.mean, y)

    @inference
    def manipulate(self, x: ArrayLike, y: ArrayLike, target_y: ArrayLike, **_) -> ArrayLike:
        """G(x) = decoder mean(mu(x[, y]), target_y), in data units (B, *x_shape); numpy in, numpy out."""
        check_target(y, target_y)
        return self.to_data(self.decode(self.encode(x, y).z.mean, target_y))
