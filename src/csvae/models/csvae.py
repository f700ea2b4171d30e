"""CSVAE (Klys, Snell, Zemel 2018): label information for attribute i lives in its own subspace W_i.

Generative model p(x | w, z) p(z) p(w | y) p(y); inference q(z | x) and q(w | x, y); an adversary
q_delta(y | z) whose entropy the encoder maximises, so that z carries no label information.
"""

from __future__ import annotations

import torch
from torch import nn

from csvae.config import ModelConfig
from csvae.models.base import Posterior
from csvae.models.independence import RemovesLabel
from csvae.models.label_probe import LabelProbe
from csvae.models.labels import labelled_rows
from csvae.models.objective import Objective
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
from csvae.models.swaps import cycle_term, discriminator_loss, independence_pairs, swap_codes
from csvae.nets.mlp import MLP

__all__ = ["CSVAE", "STYLES", "Style"]


class CSVAE(RemovesLabel, SubspaceModel):
    """Objectives (batch means; see docs/models.md):
    model = beta1 * recon + beta2 * KL(q(w|x,y) || p(w|y)) + beta3 * KL(q(z|x) || N(0,I)) + beta4 * M2,
    M2 = E[sum_y q(y|z) log q(y|z)] (the adversary's negative entropy, adversary frozen), or with
    ``model.independence`` HSIC(z, y) or CLUB in its place (``csvae.models.independence``);
    adversary = beta5 * -log q(y|z) on detached z.
    Our extensions (off by default, ``csvae.models.swaps``): + swap_cycle * cycle in the model
    objective; + w_independence * the discriminator's logit in the model objective and the
    discriminator's cross-entropy in the adversary's.
    """

    adversary_term = "m2"

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
        if c.w_independence > 0:
            self.discriminator = MLP(self.z_dim + y_dim * (c.w_dim + 1), c.adversary_hidden, 1)
        self.prior = SubspacePrior(y_dim, c.w_dim, c.prior_mean_0, c.prior_scale_0, c.prior_mean_1,
                                   c.prior_scale_1, c.prior_scale_is, c.prior_learned)
        self.label_probe = LabelProbe(features, y_dim, c.label_kind)

    @property
    def predicts_labels(self) -> bool:
        """Whether ``predict_labels`` can run: its probe was fitted (by ``finalize``)."""
        return bool(self.label_probe.fitted)

    def finalize(self, x, y):
        """The class means of w (``SubspaceModel.finalize``) and the label probe: a balanced
        logistic regression from the W encoder's features to y, on the rows whose label is known.
        The W encoder runs once over the training data for both."""
        def features_and_w(xb, yb):
            h = self.w_encoder(self.to_model(xb))
            return torch.cat([h, self.w_posterior(h, yb).mean], -1)

        out = self.map_batches(features_and_w, x, y)
        features, w = out[:, :self.w_encoder.out_dim], out[:, self.w_encoder.out_dim:]
        self.set_class_means(w, y)
        y = torch.as_tensor(y)
        known = torch.isfinite(y).all(1)
        labels = y[known].float()
        self.label_probe.fit(features[known], labels, self.label_weights(labels.to(self.device)))

    def predict_labels(self, x, batch_size: int = 1024):
        """p(y_i = 1) per attribute (binary) or class probabilities (one-hot) read by the label
        probe from the W encoder's features, (N, k); numpy in -> numpy out."""
        if not self.predicts_labels:
            raise ValueError("this CSVAE has no fitted label probe (saved before csvae fitted one); infer labels "
                             "with a judge (--judge) or train it again")
        return self.map_like(lambda xb: self.label_probe(self.w_encoder(self.to_model(xb))), x, batch_size=batch_size)

    # ----- inference and generation -------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor) -> Posterior:
        """q(z|x) over (B, z_dim) and q(w|x,y) over (B, k * w_dim), subspace i at [i*w_dim:(i+1)*w_dim]."""
        x_model = self.to_model(x)
        return Posterior(self.z_head(self.z_encoder(x_model)), self.encode_w(x_model, y))

    def encode_subspaces(self, x: torch.Tensor, y: torch.Tensor) -> Gaussian:
        """q(w|x,y) alone (B, k * w_dim) from x in data units: the z encoder is not run."""
        return self.encode_w(self.to_model(x), y)

    def encode_w(self, x_model: torch.Tensor, y: torch.Tensor) -> Gaussian:
        """q(w|x,y) over (B, k * w_dim) from x in model units."""
        return self.w_posterior(self.w_encoder(x_model), y)

    def w_posterior(self, h: torch.Tensor, y: torch.Tensor) -> Gaussian:
        """q(w|x,y) over (B, k * w_dim) from the W encoder's features h (B, d) of x and y (B, k)."""
        y = y.to(h.dtype)
        if self.config.w_encoder == "shared":
            q = self.w_heads[0](torch.cat([h, y], dim=-1))
        else:
            parts = [head(torch.cat([h, y[:, i:i + 1]], dim=-1)) for i, head in enumerate(self.w_heads)]
            q = Gaussian(torch.cat([p.mean for p in parts], -1), torch.cat([p.logvar for p in parts], -1))
        if self.config.w_posterior == "prior_offset":  # the head gives offsets from p(w|y)
            prior = self.prior(y)
            q = Gaussian(q.mean + prior.mean.to(q.mean.dtype), q.logvar + prior.logvar.to(q.logvar.dtype))
        return q

    def decode(self, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """[z, w] (B, z_dim + k * w_dim) -> likelihood parameters (B, *x_shape); y is never seen."""
        return self.decoder(torch.cat([z, w], dim=-1))

    def _terms(self, x, y, reduction, density=False):
        """Per-example terms. Rows whose label is unknown (NaN) enter only M2 with the paper's
        entropy objective, the one term that needs no label; every other term is over the rows with
        a known label (``labelled_rows``). The terms that read labels (kl_w, the removal term, the
        adversary's, and the extensions') weigh each row by its balance weight (``data.balance``);
        recon and kl_z do not."""
        balance = self.label_weights(y)
        y, rows, weight = labelled_rows(y)
        labelled = weight * balance[rows]
        x_model = self.to_model(x)
        x_l, y_l = x_model[rows], y[rows]
        q_z = self.z_head(self.z_encoder(x_model))
        z = q_z.sample()
        z_l, q_w = z[rows], self.encode_w(x_l, y_l)
        w = q_w.sample()
        prior = self.prior(y_l)
        seen = self.removal_input(q_z, z)  # what the adversary / penalty reads of z
        if self.config.independence == "adversary" and self.config.encoder_objective == "entropy":
            removal = self.removal_terms(seen, y, balance)
        else:
            removal = {k: weight * v for k, v in self.removal_terms(seen[rows], y_l, balance[rows]).items()}
        kl_z = self.kl_z(q_z, reduction)[rows]
        adversary_ce = self.adversary_ce(seen[rows], y_l, labelled)
        terms = {"recon": weight * self.recon_nll(x_l, self.decode(z_l, w), reduction, density),
                 "kl_w": labelled * reduce_dims(kl_gaussians(q_w, prior.mean, prior.logvar), reduction),
                 "kl_z": weight * kl_z, **removal, "adversary_ce": adversary_ce}
        if self.config.swap_cycle > 0:
            z_post = Gaussian(q_z.mean[rows], q_z.logvar[rows])
            terms["cycle"] = labelled * self.swap_cycle(Posterior(z_post, q_w), y_l, reduction)
        if self.config.w_independence > 0:
            joint, shuffled = independence_pairs(z_l, w, y_l, self.w_dim)
            terms["tc"] = labelled * call_frozen(self.discriminator, joint).squeeze(-1)
            terms["discriminator_ce"] = self.discriminator_ce(joint, shuffled, labelled)
        return terms

    def swap_cycle(self, post: Posterior, y: torch.Tensor, reduction: str) -> torch.Tensor:
        """Our extension (``csvae.models.swaps``), per example (B,): decode the posterior means
        with one subspace W_i swapped in from another example, read the image back with the
        swapped labels, and score the read-back means against the codes that drew it (each
        dimension relative to its spread over the batch)."""
        w, y_swapped = swap_codes(Gaussian(post.w.mean.detach(), post.w.logvar), y, self.w_dim)
        z = post.z.mean.detach()
        read = self.encode(self.to_data(self.decode(z, w.mean)), y_swapped)
        return cycle_term(read.z.mean, read.w.mean, z, w.mean, reduction)

    def encoder_adversary_term(self, logits, y):
        """M2: the adversary's negative entropy (paper), or its negative cross-entropy."""
        if self.config.encoder_objective == "entropy":
            return negative_entropy(logits, self.config.label_kind)
        return -label_cross_entropy(logits, y, self.config.label_kind)

    def objective(self):
        b, c = self.config.betas, self.config
        model = {"recon": b.recon, "kl_w": b.kl_w, "kl_z": b.kl_z, self.removal_key: b.entropy}
        adversary = {"adversary_ce": b.adversary}
        if c.swap_cycle > 0:
            model["cycle"] = c.swap_cycle
        if c.w_independence > 0:
            model["tc"] = c.w_independence
            adversary["discriminator_ce"] = 1.0
        return Objective(model, adversary)

    def discriminator_ce(self, joint: torch.Tensor, shuffled: torch.Tensor, labelled: torch.Tensor) -> torch.Tensor:
        """The discriminator's term on detached (z, w, y) pairs, joint and shuffled (B, .), times
        ``labelled`` (B,) (``csvae.models.swaps``)."""
        return labelled * discriminator_loss(self.discriminator(joint.detach()), self.discriminator(shuffled.detach()))

    def adversary_terms(self, x, y):
        """The adversary's term and, with ``model.w_independence``, the discriminator's, each on
        its own fresh draw of the codes."""
        terms = super().adversary_terms(x, y)
        if self.config.w_independence > 0:
            balance = self.label_weights(y)
            y, rows, weight = labelled_rows(y)
            with torch.no_grad():
                post = self.encode(x[rows], y[rows])
                joint, shuffled = independence_pairs(post.z.sample(), post.w.sample(), y[rows], self.w_dim)
            terms["discriminator_ce"] = self.discriminator_ce(joint, shuffled, weight * balance[rows])
        return terms

    def adversary_parameters(self):
        extra = list(self.discriminator.parameters()) if self.config.w_independence > 0 else []
        return list(self.adversary.parameters()) + extra
