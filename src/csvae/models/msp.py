"""MSP: Matrix Subspace Projection (Li, Lin, Li, Wang, Guerin, ICML 2020; official code lissomx/MSP).

A VAE whose latent z (B, d) carries a learned matrix M (k, d) that reads the labels off z:
y_hat = M z. With U = [M; N] orthogonal (N an orthonormal basis of the complement of M's row
space), z splits into the label part y_hat and the rest s = N z. The projection loss asks
y_hat = y and a small ||s||; an attribute is edited by moving y_hat to its target while s stays.

Labels are coded +-1 inside the model, as in the official code: t = 2y - 1 (a one-hot row gives +1
for its class and -1 for the others). The official code's PatchGAN discriminator is not
implemented (docs/models.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from csvae.config import ModelConfig
from csvae.models.base import ArrayLike, inference
from csvae.models.labels import check_target, labelled_rows
from csvae.models.objective import Objective
from csvae.models.parts import reduce_dims
from csvae.models.vae import PlainVAE


def signed(y: torch.Tensor) -> torch.Tensor:
    """Labels in {0, 1} (B, k) -> the +-1 code the projection loss reads (B, k)."""
    return 2.0 * y - 1.0


def label_subspace_part(z: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """The orthogonal projection of z (B, d) onto the row space of M (k, d): M^+ M z, (B, d)."""
    return (z @ M.T) @ torch.linalg.pinv(M).T


def complement(M: torch.Tensor) -> torch.Tensor:
    """N (d - k, d): an orthonormal basis of the complement of the row space of M (k, d), so that
    U = [M; N] is orthogonal when M's rows are orthonormal (the complete QR of M^T)."""
    return torch.linalg.qr(M.T, mode="complete").Q[:, M.shape[0]:].T


def label_fit(z: torch.Tensor, M: torch.Tensor, t: torch.Tensor, reduction: str) -> torch.Tensor:
    """The paper's L1 = ||M z - t||^2 per example (B,): z (B, d), M (k, d), t (B, k) coded +-1."""
    return reduce_dims((z @ M.T - t) ** 2, reduction)


def rest_null_space(z: torch.Tensor, M: torch.Tensor, reduction: str) -> torch.Tensor:
    """The paper's L2 = ||s||^2 = ||N z||^2 per example (B,): the squared norm of z's part outside
    M's row space, z - M^+ M z (exact for any full-rank M; N is never formed)."""
    return reduce_dims((z - label_subspace_part(z, M)) ** 2, reduction)


def rest_label(z: torch.Tensor, M: torch.Tensor, t: torch.Tensor, reduction: str) -> torch.Tensor:
    """The official code's L2 = ||z - M^T t||^2 per example (B,). With orthonormal rows of M it is
    ||M z - t||^2 + ||N z||^2 (z = M^T M z + N^T N z)."""
    return reduce_dims((z - t @ M) ** 2, reduction)


def edit(z: torch.Tensor, M: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """z (B, d) moved by M^+ delta: M z changes by delta (B, k) and N z does not; with orthonormal
    rows of M, M^+ = M^T, the paper's z' = U^T [y'; s]."""
    return z + delta @ torch.linalg.pinv(M).T


class MSP(PlainVAE):
    """model = beta1 * recon + beta3 * KL(q(z|x) || N(0, I)) + w * (||M z - t||^2 + L2), z sampled,
    L2 the paper's ||N z||^2 or the official ||z - M^T t||^2 (``model.msp_rest``), w
    ``model.msp_weight``. recon and kl_z cover every row; ||M z - t||^2 the rows with a known label,
    and L2 too when it reads t (label), every row when it does not (null_space)."""

    predicts_labels = True

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        if self.z_dim < y_dim:
            raise ValueError(f"msp needs z at least as large as the labels: z has {self.z_dim} dimensions, "
                             f"the labels {y_dim} (raise model.z_dim)")
        self.M = nn.Parameter(torch.empty(y_dim, self.z_dim))
        nn.init.xavier_normal_(self.M)

    @property
    def projection_weight(self) -> float:
        """w, the weight of both terms of the projection loss (``model.msp_weight``)."""
        c = self.config
        if c.msp_weight is not None:
            return c.msp_weight
        ratio = math.prod(self.x_shape) / (self.y_dim + self.z_dim) if c.reduction == "sum" else 1.0
        return c.betas.recon * ratio

    def _terms(self, x, y, reduction, density=False):
        balance = self.label_weights(y)
        y, rows, weight = labelled_rows(y)
        q = self.encode(x).z
        z = q.sample()
        terms = self._elbo_terms(x, q, z, reduction, density)
        t, labelled = signed(y[rows]), weight * balance[rows]
        with torch.autocast(z.device.type, enabled=False):  # in float32: torch.linalg.pinv has no bf16
            z = z.float()
            terms["label_fit"] = labelled * label_fit(z[rows], self.M, t, reduction)
            if self.config.msp_rest == "null_space":
                terms["rest"] = balance * rest_null_space(z, self.M, reduction)
            else:
                terms["rest"] = labelled * rest_label(z[rows], self.M, t, reduction)
        return terms

    def objective(self):
        b, w = self.config.betas, self.projection_weight
        return Objective(model={"recon": b.recon, "kl_z": b.kl_z, "label_fit": w, "rest": w})

    def label_part(self, z: torch.Tensor) -> torch.Tensor:
        """y_hat = M z (B, k), the label code (about +1 where y_i = 1, -1 where 0)."""
        return z @ self.M.T

    @property
    def w_dim(self) -> int:
        """Label-code coordinates per label: 1 (``model.w_dim``, which must be 1 for msp)."""
        return self.config.w_dim

    def latents(self, x, y, batch_size: int = 1024):
        """Posterior means in the basis U = [M; N]: "w" (N, k), y_hat = M mu, and "z" (N, d - k),
        s = N mu, with N the orthonormal basis of the complement of M's row space (``complement``)."""
        code = torch.from_numpy(super().latents(x, y, batch_size)["z"])
        M = self.M.detach().cpu()
        return {"z": (code @ complement(M).T).numpy(), "w": (code @ M.T).numpy()}

    def predict_labels(self, x, batch_size: int = 1024):
        """From y_hat = M mu(x): (clamp(y_hat, -1, 1) + 1) / 2 per attribute (binary), or the softmax
        of y_hat (one-hot); scores that threshold at 0.5 / argmax, not calibrated probabilities.
        (N, k); numpy in -> numpy out."""
        def read(xb):
            y_hat = self.label_part(self.encode(xb).z.mean)
            if self.config.label_kind == "binary":
                return (y_hat.clamp(-1.0, 1.0) + 1.0) / 2.0
            return y_hat.softmax(-1)

        return self.map_like(read, x, batch_size=batch_size)

    @inference
    def manipulate(self, x: ArrayLike, y: ArrayLike, target_y: ArrayLike, **_) -> ArrayLike:
        """G(x) = decoder mean(z'), z' = mu(x) + M^+ delta, delta_i = t'_i - (M mu(x))_i for the changed
        labels (t' the target coded +-1) and 0 for the others: M z' takes the target's code on the
        changed labels and keeps the rest. Data units (B, *x_shape); numpy in, numpy out."""
        check_target(y, target_y)
        z = self.encode(x).z.mean
        delta = torch.where(target_y != y, signed(target_y.float()) - self.label_part(z), 0.0)
        return self.to_data(self.decode(edit(z, self.M, delta)))
