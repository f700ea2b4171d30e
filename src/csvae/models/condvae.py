"""CondVAE: q(z|x, y), p(x|z, y), p(z) = N(0, I). Attribute change by decoding with the new y."""

from __future__ import annotations

from typing import NamedTuple

import torch

from csvae.config import ModelConfig
from csvae.models.base import ArrayLike, LatentModel, Posterior, inference
from csvae.models.labels import check_target, labelled_rows
from csvae.models.objective import Objective
from csvae.models.parts import Gaussian, GaussianHead


class LabelledSample(NamedTuple):
    """A conditional model's encoding of the rows of a batch whose label is known."""

    y: torch.Tensor
    """Those rows' labels (B', k)."""
    q: Gaussian
    """q(z | x[, y]) over (B', d)."""
    z: torch.Tensor
    """A sample of q (B', d)."""
    terms: dict[str, torch.Tensor]
    """The ELBO terms recon and kl_z (B',), each times ``weight``."""
    weight: float
    """``labelled_rows``' weight: 0 for a batch without a known label, else 1."""


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

    def _encode_sample(self, x, y, reduction, density=False) -> LabelledSample:
        """Shared by the conditional models, on the rows of (x, y) whose label is known: the ELBO
        terms and what they were computed from (``LabelledSample``)."""
        y, rows, weight = labelled_rows(y)
        x, y = x[rows], y[rows]
        q = self.encode(x, y).z
        z = q.sample()
        terms = {"recon": weight * self.recon_nll(self.to_model(x), self.decode(z, y), reduction, density),
                 "kl_z": weight * self.kl_z(q, reduction)}
        return LabelledSample(y, q, z, terms, weight)

    def _terms(self, x, y, reduction, density=False):
        return self._encode_sample(x, y, reduction, density).terms

    def objective(self):
        b = self.config.betas
        return Objective(model={"recon": b.recon, "kl_z": b.kl_z})

    def decode_posterior_mean(self, x, y):
        return self.decode(self.encode(x, y).z.mean, y)

    @inference
    def manipulate(self, x: ArrayLike, y: ArrayLike, target_y: ArrayLike, **_) -> ArrayLike:
        """G(x) = decoder mean(mu(x[, y]), target_y), in data units (B, *x_shape); numpy in, numpy out."""
        check_target(y, target_y)
        return self.to_data(self.decode(self.encode(x, y).z.mean, target_y))
