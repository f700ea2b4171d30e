"""What the models with a code block per label share: CSVAE's subspaces W_i and CCVAE's
characteristic latents z_c,i.

A ``SubspaceModel`` has a label-free code z (B, z_dim) and a characteristic code w (B, k * w_dim)
whose block i, w[:, i*w_dim:(i+1)*w_dim], belongs to label column i; a prior p(w | y) that is a
diagonal Gaussian chosen block by block by y_i (``self.prior(y) -> Gaussian``); an encoder
``encode(x, y) -> Posterior(z, w)`` and a decoder ``decode(z, w)`` that never sees y. On that it
builds the interventions: ``manipulate`` (set the blocks of the changed labels to a point of
their prior or class), ``transfer`` (take blocks from a reference image), and the class means of
w used by the "class_mean" style.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

from csvae.models.base import ArrayLike, LatentModel, inference
from csvae.models.labels import check_known, check_target, class_means

Style = Union[str, torch.Tensor]
STYLES = ("sample", "class_mean", "prior_mean")


class SubspaceModel(LatentModel):
    """Base of CSVAE and CCVAE; subclasses call ``_init_subspaces`` and set ``self.prior``."""

    has_subspaces = True

    def _init_subspaces(self, n_subspaces: int, w_dim: int) -> None:
        self.n_subspaces, self.w_dim = n_subspaces, w_dim
        # Mean of mu_w over training examples with y_i = 1 / 0, (k, w_dim); set by finalize().
        self.register_buffer("w_means_1", torch.zeros(n_subspaces, w_dim))
        self.register_buffer("w_means_0", torch.zeros(n_subspaces, w_dim))

    def decode_posterior_mean(self, x, y):
        post = self.encode(x, y)
        return self.decode(post.z.mean, post.w.mean)

    def latents(self, x, y, batch_size: int = 1024):
        """Posterior means: "z" (N, z_dim) and "w" (N, k * w_dim), block i for label column i."""
        y = self.labels_for(x, y)
        codes = self.map_batches(lambda xb, yb: torch.cat([m.mean for m in self.encode(xb, yb)], -1), x, y,
                          batch_size=batch_size)
        return {"z": codes[:, :self.z_dim].numpy(), "w": codes[:, self.z_dim:].numpy()}

    @inference
    def encode_subspaces(self, x: torch.Tensor, y: torch.Tensor):
        """q(w|x, y) over the label subspaces (B, k * w_dim); models with a cheaper path than the
        whole ``encode`` override it."""
        return self.encode(x, y).w

    def finalize(self, x, y):
        """Class means of w over the training examples whose label is known (rows without NaN),
        weighted by their balance weights (``data.balance``)."""
        self.set_class_means(self.map_batches(lambda xb, yb: self.encode_subspaces(xb, yb).mean, x, y), y)

    def set_class_means(self, w: torch.Tensor, y) -> None:
        """w_means_1/0 from the posterior means w (N, k * w_dim) of the training rows and their
        labels y (N, k), over the rows whose label is known, balance-weighted."""
        y = torch.as_tensor(y)
        known = torch.isfinite(y).all(1)
        w = w.view(-1, self.n_subspaces, self.w_dim)
        mean_1, mean_0 = class_means(w[known], y[known], self.label_weights(y[known].to(self.w_means_1.device)))
        self.w_means_1.copy_(mean_1)
        self.w_means_0.copy_(mean_0)

    # ----- manipulation and transfer ------------------------------------------------------------
    def subspace_values(self, target_y: torch.Tensor, style: Style = "sample",
                        generator: torch.Generator | None = None) -> torch.Tensor:
        """A point p_i in every block for the labels target_y (B, k): (B, k * w_dim).

        style: "sample" from p(w_i | target y_i) (default), "class_mean" (mean of encoded w over
        training examples with that label), "prior_mean", or a tensor of points, (k * w_dim,) or
        (B, k * w_dim)."""
        target_y = target_y.float()
        if torch.is_tensor(style):
            return style.to(target_y).expand(len(target_y), self.n_subspaces * self.w_dim)
        if style == "class_mean":
            bit = target_y.unsqueeze(-1)
            return torch.lerp(self.w_means_0, self.w_means_1, bit).flatten(1)
        prior = self.prior(target_y)
        if style == "prior_mean":
            return prior.mean
        if style == "sample":
            noise = torch.randn(prior.mean.shape, generator=generator, device=prior.mean.device)
            return prior.mean + (0.5 * prior.logvar).exp() * noise
        raise ValueError(f"style must be one of {list(STYLES)} or a tensor of points, got {style!r}")

    @inference
    def manipulate(self, x: ArrayLike, y: ArrayLike, target_y: ArrayLike, style: Style = "sample",
                   generator: torch.Generator | None = None) -> ArrayLike:
        """G(x, p) = decoder mean(mu_z(x), p), in data units (B, *x_shape); numpy in, numpy out.

        Blocks whose label changes get p_i from ``style`` (for a one-hot label the blocks that
        switch off get their y = 0 value, as the paper's p_l = 0); the others keep mu_w(x)."""
        check_target(y, target_y)
        post = self.encode(x, y)
        new = self.subspace_values(target_y, style, generator)
        changed = (target_y != y).repeat_interleave(self.w_dim, dim=1)
        w = torch.where(changed, new, post.w.mean)
        return self.to_data(self.decode(post.z.mean, w))

    @inference
    def transfer(self, x: ArrayLike, y: ArrayLike, reference_x: ArrayLike, reference_y: ArrayLike,
                 attributes: Sequence[int]) -> ArrayLike:
        """x's z and x's w, except the blocks of ``attributes``, taken from reference_x; numpy in, numpy out.

        reference_x broadcasts against x (one reference for the batch, or one per row). Unknown
        (NaN) labels are refused where the model reads them."""
        if self.reads_labels:
            check_known(y, "y")
            check_known(reference_y, "reference_y")
        post = self.encode(x, y)
        ref = self.encode(reference_x, reference_y).w.mean.expand_as(post.w.mean)
        mask = torch.zeros(self.n_subspaces, dtype=torch.bool, device=ref.device)
        mask[list(attributes)] = True
        w = torch.where(mask.repeat_interleave(self.w_dim), ref, post.w.mean)
        return self.to_data(self.decode(post.z.mean, w))
