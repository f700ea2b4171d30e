"""VAE: q(z|x), p(x|z), p(z) = N(0, I). Attribute change by class-mean shift of mu(x)."""

from __future__ import annotations

import torch

from csvae.config import ModelConfig
from csvae.models.base import ArrayLike, LatentModel, Posterior, inference
from csvae.models.labels import check_target, class_means, label_shift
from csvae.models.objective import Objective
from csvae.models.parts import Gaussian, GaussianHead


class VAE(LatentModel):
    """Loss: beta1 * -log p(x|z) + beta3 * KL(q(z|x) || N(0, I)), on every row (y is not used);
    the class means of ``manipulate`` come from the rows whose label is known (weighted by their
    balance weights, ``data.balance``)."""

    reads_labels = False

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        self.encoder = self.make_encoder()
        self.z_head = GaussianHead(self.encoder.out_dim, self.z_dim, config.head_hidden)
        self.decoder = self.make_decoder(self.z_dim)
        # Class means of mu(x) over the training data, (k, z_dim); set by finalize().
        self.register_buffer("z_means_1", torch.zeros(y_dim, self.z_dim))
        self.register_buffer("z_means_0", torch.zeros(y_dim, self.z_dim))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Posterior:
        return Posterior(self.z_head(self.encoder(self.to_model(x))))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def _terms(self, x, y, reduction, density=False):
        return self._elbo_terms(x, self.encode(x).z, reduction, density)

    def _elbo_terms(self, x: torch.Tensor, q: Gaussian, reduction: str, density: bool = False):
        """recon (-log p(x|z) at a sample of q) and kl_z (KL(q || N(0, I))) of x, each (B,);
        q: the posterior q(z|x) over (B, z_dim)."""
        return {"recon": self.recon_nll(self.to_model(x), self.decode(q.sample()), reduction, density),
                "kl_z": self.kl_z(q, reduction)}

    def objective(self):
        b = self.config.betas
        return Objective(model={"recon": b.recon, "kl_z": b.kl_z})

    def decode_posterior_mean(self, x, y):
        return self.decode(self.encode(x).z.mean)

    @inference
    def finalize(self, x, y):
        z = self.map_batches(lambda xb, yb: self.encode(xb).z.mean, x, y)
        y = torch.as_tensor(y)
        known = torch.isfinite(y).all(1)
        weights = self.label_weights(y[known].to(self.z_means_1.device))
        mean_1, mean_0 = class_means(z[known].to(self.z_means_1.device), y[known], weights)
        self.z_means_1.copy_(mean_1)
        self.z_means_0.copy_(mean_0)

    @inference
    def manipulate(self, x: ArrayLike, y: ArrayLike, target_y: ArrayLike, **_) -> ArrayLike:
        """G(x) = decoder mean(mu(x) - m_source + m_target), in data units (B, *x_shape); numpy in, numpy out."""
        check_target(y, target_y)
        shift = label_shift(y.float(), target_y.float(), self.z_means_1, self.z_means_0, self.config.label_kind)
        return self.to_data(self.decode(self.encode(x).z.mean + shift))
