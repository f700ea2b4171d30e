"""VAE: q(z|x), p(x|z), p(z) = N(0, I). Attribute change by class-mean shift of mu(x)."""

from __future__ import annotations

import torch

from csvae.config import ModelConfig
from csvae.models.base import ArrayLike, LatentModel, Posterior, inference
from csvae.models.labels import check_target, class_means, label_shift
from csvae.models.objective import Objective
from csvae.models.parts import Gaussian, GaussianHead


class PlainVAE(LatentModel):
    """q(z|x), p(x|z) and the ELBO's terms on every row, y unread: the part the VAE shares with
    MSP, which adds label terms on the same z."""

    reads_labels = False

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        self.encoder = self.make_encoder()
        self.z_head = GaussianHead(self.encoder.out_dim, self.z_dim, config.head_hidden)
        self.decoder = self.make_decoder(self.z_dim)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Posterior:
        return Posterior(self.z_head(self.encoder(self.to_model(x))))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def _terms(self, x, y, reduction, density=False):
        q = self.encode(x).z
        return self._elbo_terms(x, q, q.sample(), reduction, density)

    def _elbo_terms(self, x: torch.Tensor, q: Gaussian, z: torch.Tensor, reduction: str, density: bool = False):
        """recon (-log p(x|z) at z, a sample of q) and kl_z (KL(q || N(0, I))) of x, each (B,);
        q: the posterior q(z|x) over (B, z_dim)."""
        return {"recon": self.recon_nll(self.to_model(x), self.decode(z), reduction, density),
                "kl_z": self.kl_z(q, reduction)}

    def objective(self):
        b = self.config.betas
        return Objective(model={"recon": b.recon, "kl_z": b.kl_z})

    def decode_posterior_mean(self, x, y):
        return self.decode(self.encode(x).z.mean)


class VAE(PlainVAE):
    """Loss: beta1 * -log p(x|z) + beta3 * KL(q(z|x) || N(0, I)), on every row (y is not used);
    the class means of ``manipulate`` come from the rows whose label is known (weighted by their
    balance weights, ``data.balance``)."""

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        # Class means of mu(x) over the training data, (k, z_dim); set by finalize().
        self.register_buffer("z_means_1", torch.zeros(y_dim, self.z_dim))
        self.register_buffer("z_means_0", torch.zeros(y_dim, self.z_dim))

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


class LabelCoordinatesVAE(VAE):
    """A VAE whose first k latent coordinates belong to the k label columns (S²-VAE's label
    coordinates, Guided-VAE's excited ones; ``model.w_dim`` is 1): ``latents`` returns them as "w"
    and the others as "z", and ``manipulate`` sets those of the changed labels to their class means."""

    @property
    def w_dim(self) -> int:
        """Coordinates per label: 1 (``model.w_dim``, which must be 1 for these models)."""
        return self.config.w_dim

    def latents(self, x, y, batch_size: int = 1024):
        """Posterior means: "w" (N, k), the label coordinates, and "z" (N, z_dim - k), the others."""
        code = super().latents(x, y, batch_size)["z"]
        return {"z": code[:, self.y_dim:], "w": code[:, :self.y_dim]}

    def label_values(self, target_y: torch.Tensor) -> torch.Tensor:
        """The label coordinates that stand for the labels target_y (B, k): coordinate i takes the
        mean of mu_i(x) over the labelled training rows with y_i = target_i (balance-weighted;
        computed by ``finalize``), (B, k)."""
        return torch.lerp(self.z_means_0.diagonal(), self.z_means_1.diagonal(), target_y.float())

    @inference
    def manipulate(self, x: ArrayLike, y: ArrayLike, target_y: ArrayLike, **_) -> ArrayLike:
        """G(x) = decoder mean of mu(x) with the label coordinates of the changed labels set to
        ``label_values(target_y)``, the rest kept, in data units (B, *x_shape); numpy in, numpy out."""
        check_target(y, target_y)
        code = self.encode(x).z.mean
        k = self.y_dim
        labels = torch.where(target_y != y, self.label_values(target_y), code[:, :k])
        return self.to_data(self.decode(torch.cat([labels, code[:, k:]], 1)))
