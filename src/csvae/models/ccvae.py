"""CCVAE (Joy, Schmon, Torr, Siddharth, Rainforth, "Capturing Label Characteristics in VAEs",
ICLR 2021): the characteristics of label i live in their own latent block z_c,i.

Generative model p(x | z_c, z) p(z) p(z_c | y) p(y) with a learned conditional prior p(z_c | y)
(``ConditionalPrior``) and p(z) = N(0, I) for the style part z; inference q(z_c, z | x) from one
encoder (it never sees y) and a classifier q(y | z_c) in which label i reads only z_c,i
(``BlockClassifier``). No adversary: z_c is made to carry y by the supervised objective

    L(x, y) = E_q(z|x)[ q(y|z_c) / q(y|x) * log( p(x|z) p(z|y) / (q(y|z_c) q(z|x)) ) ]
              + log q(y|x) + log p(y),

with q(y|x) = E_q(z_c|x)[q(y|z_c)] estimated from ``ccvae_k`` samples, and for an example without
labels the ELBO with y ~ q(y|z_c):

    L(x) = E_q(z|x) q(y|z_c)[ log( p(x|z) p(z|y) p(y) / (q(y|z_c) q(z|x)) ) ].

Latents in the common interface: "z" is the style part (B, z_dim), "w" is z_c (B, k * w_dim),
so CSVAE's evaluation of w_i reads z_c,i. docs/models.md has each term and the config choices.
"""

from __future__ import annotations

import torch

from csvae.config import ModelConfig
from csvae.models.base import Posterior, inference
from csvae.models.ccvae_parts import (
    BlockClassifier,
    ConditionalPrior,
    expected_label_terms,
    label_log_prior,
    label_probabilities,
    log_q_labels,
    log_q_labels_given_x,
    sample_labels,
    select_blocks,
)
from csvae.models.objective import Objective
from csvae.models.parts import Gaussian, GaussianHead, kl_gaussians, kl_standard_normal, log_normal
from csvae.models.subspace import SubspaceModel


class CCVAE(SubspaceModel):
    """model = -(sum over labelled rows of L(x, y) + sum over unlabelled rows of L(x)) / B, with
    log p(x|z) weighted by ``betas.recon``, the style part's log p(z) - log q(z|x) by ``betas.kl_z``
    and z_c's log p(z_c|y) - log q(z_c|x) by ``betas.kl_w`` (all 1: the paper's objective).
    Rows whose y holds NaN are unlabelled. With ``data.balance: weight`` the classifier term
    log q(y|x) of a labelled row is weighted by its balance weight, and p(y) is the weighted
    label frequency."""

    reads_labels = False
    learns_from_unlabelled = True

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        c = config
        self._init_subspaces(y_dim, c.w_dim)
        self.c_dim = y_dim * c.w_dim
        self.encoder = self.make_encoder()
        self.head = GaussianHead(self.encoder.out_dim, self.c_dim + self.z_dim, c.head_hidden)
        self.decoder = self.make_decoder(self.z_dim + self.c_dim)
        self.classifier = BlockClassifier(y_dim, c.w_dim)
        self.prior = ConditionalPrior(y_dim, c.w_dim, c.ccvae_prior_init, c.ccvae_prior_rate)
        # p(y): training label frequencies (set by observe_labels); uniform until then.
        start = 1.0 / y_dim if c.label_kind == "categorical" else 0.5
        self.register_buffer("label_prior", torch.full((y_dim,), start))

    # ----- inference and generation -------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Posterior:
        """q(z|x) over the style part (B, z_dim) and q(z_c|x) over (B, k * w_dim); y is not used."""
        q = self.head(self.encoder(self.to_model(x)))
        c = self.c_dim
        return Posterior(Gaussian(q.mean[:, c:], q.logvar[:, c:]), Gaussian(q.mean[:, :c], q.logvar[:, :c]))

    def decode(self, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """[z, z_c] (B, z_dim + k * w_dim) -> likelihood parameters (B, *x_shape)."""
        return self.decoder(torch.cat([z, w], dim=-1))

    def observe_labels(self, y: torch.Tensor) -> None:
        """p(y) := the label frequencies of the rows of y without NaN (the official code's prior),
        each row weighted by its balance weight (``set_label_balance``; uniform without one)."""
        y = torch.as_tensor(y, dtype=torch.float32)
        known = y[torch.isfinite(y).all(1)]
        if len(known):
            weights = self.label_weights(known.to(self.label_prior.device)).cpu()
            self.label_prior.copy_((weights[:, None] * known).sum(0) / weights.sum())

    # ----- objective ----------------------------------------------------------------------------
    def _latent_ratios(self, post: Posterior, z: torch.Tensor, z_c: torch.Tensor):
        """log p - log q of the style part, (B,), and of each z_c block for y_i = 0 and y_i = 1,
        ((B, k), (B, k)): at the sampled z (``ccvae_kl: sampled``) or as -KL (``analytic``)."""
        m = self.w_dim
        p0, p1 = self.prior.by_value()
        q_blocks = Gaussian(post.w.mean.unflatten(-1, (-1, m)), post.w.logvar.unflatten(-1, (-1, m)))
        if self.config.ccvae_kl == "analytic":
            style = -kl_standard_normal(post.z).sum(-1)
            ratios = [-kl_gaussians(q_blocks, p.mean, p.logvar).sum(-1) for p in (p0, p1)]
            return style, ratios[0], ratios[1]
        zero = torch.zeros((), device=z.device)
        style = (log_normal(z, zero, zero) - log_normal(z, post.z.mean, post.z.logvar)).sum(-1)
        blocks = z_c.unflatten(-1, (-1, m))
        log_q = log_normal(blocks, q_blocks.mean, q_blocks.logvar).sum(-1)
        ratios = [log_normal(blocks, p.mean, p.logvar).sum(-1) - log_q for p in (p0, p1)]
        return style, ratios[0], ratios[1]

    def _supervised(self, part: dict, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """L(x, y) per labelled row and its diagnostics; ``part`` holds the rows' shared terms."""
        b, kind = self.config.betas, self.config.label_kind
        z_c = part["z_c"]
        log_q_yz = log_q_labels(self.classifier(self._classifier_input(z_c)), y, kind)
        log_q_yz_weight = log_q_labels(self.classifier(z_c.detach()), y, kind)
        log_q_yx = log_q_labels_given_x(self.classifier, part["q_c"], y, kind, self.config.ccvae_k)
        weight = torch.exp(log_q_yz_weight - log_q_yx)
        inner = part["base"] + b.kl_w * select_blocks(part["ratio_0"], part["ratio_1"], y) - log_q_yz
        classifier = self.label_weights(y) * log_q_yx  # the classifier's term, balanced (data.balance)
        elbo = weight * inner + classifier + label_log_prior(y, self.label_prior, kind)
        return {"elbo": elbo, "log_q_yx": log_q_yx, "weight": weight}

    def _unsupervised(self, part: dict) -> torch.Tensor:
        """L(x) per unlabelled row, with the estimator of ``ccvae_unlabelled``."""
        b, kind = self.config.betas, self.config.label_kind
        logits = self.classifier(self._classifier_input(part["z_c"]))
        if self.config.ccvae_unlabelled == "enumerate":
            return part["base"] + expected_label_terms(logits, part["ratio_0"], part["ratio_1"], self.label_prior,
                                                       kind, b.kl_w)
        y = sample_labels(logits, kind)
        log_q = log_q_labels(logits, y, kind)
        elbo = (part["base"] + b.kl_w * select_blocks(part["ratio_0"], part["ratio_1"], y)
                + label_log_prior(y, self.label_prior, kind) - log_q)
        if self.config.ccvae_unlabelled == "score":  # REINFORCE term; leaves the value unchanged
            elbo = elbo + elbo.detach() * (log_q - log_q.detach())
        return elbo

    def _classifier_input(self, z_c: torch.Tensor) -> torch.Tensor:
        return z_c.detach() if self.config.ccvae_detach == "classifier" else z_c

    def objective(self):
        """The model minimises -elbo; the betas weigh the parts inside the estimator (``batch_terms``)."""
        return Objective(model={"elbo": -1.0})

    def batch_terms(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """"elbo" (sum over labelled rows of L(x, y) and over unlabelled rows of L(x), over B: a
        mean over different estimators, so not a mean of per-example ``_terms``), and diagnostics:
        "recon" (-log p(x|z)), "kl_z" and "kl_w" (closed-form KLs of z and, over labelled rows, of
        z_c against p(z_c|y)), "classifier" (-log q(y|x)), "weight_mean"/"weight_max"
        (q(y|z_c)/q(y|x)) and "labelled" (share of rows with labels). Terms over labelled rows are
        0 in a batch without any."""
        post = self.encode(x)
        post = Posterior(Gaussian(post.z.mean.float(), post.z.logvar.float()),
                         Gaussian(post.w.mean.float(), post.w.logvar.float()))
        z, z_c = post.z.sample(), post.w.sample()
        recon = self.recon_nll(self.to_model(x), self.decode(z, z_c), "sum")
        style, ratio_0, ratio_1 = self._latent_ratios(post, z, z_c)
        b = self.config.betas
        shared = {"base": -b.recon * recon + b.kl_z * style, "ratio_0": ratio_0, "ratio_1": ratio_1,
                  "z_c": z_c, "q_c": post.w}
        known = torch.isfinite(y).all(1)
        rows = known.nonzero().squeeze(1)
        sup = self._supervised(self._rows(shared, rows), y[rows].float())
        unsup = self._unsupervised(self._rows(shared, (~known).nonzero().squeeze(1)))
        prior = self.prior(y[rows].float())
        kl_w = kl_gaussians(self._rows(shared, rows)["q_c"], prior.mean, prior.logvar).sum(-1)
        zero = recon.new_zeros(())
        return {"elbo": (sup["elbo"].sum() + unsup.sum()) / len(x),
                "recon": recon.mean(),
                "kl_z": kl_standard_normal(post.z).sum(-1).mean(),
                "kl_w": kl_w.mean() if len(rows) else zero,
                "classifier": -sup["log_q_yx"].mean() if len(rows) else zero,
                "weight_mean": sup["weight"].detach().mean() if len(rows) else zero,
                "weight_max": sup["weight"].detach().max() if len(rows) else zero,
                "labelled": known.float().mean()}

    @staticmethod
    def _rows(shared: dict, rows: torch.Tensor) -> dict:
        return {k: (Gaussian(v.mean[rows], v.logvar[rows]) if isinstance(v, Gaussian) else v[rows])
                for k, v in shared.items()}

    def _terms(self, x, y, reduction, density=False):
        """Per-example terms of the conditional ELBO of log p(x | y) (for ``elbo``): recon, kl_z, kl_w."""
        post = self.encode(x)
        z, z_c = post.z.sample(), post.w.sample()
        prior = self.prior(y.float())
        return {"recon": self.recon_nll(self.to_model(x), self.decode(z, z_c), reduction, density),
                "kl_z": self.kl_z(post.z, reduction),
                "kl_w": kl_gaussians(post.w, prior.mean, prior.logvar).sum(-1)}

    # ----- labels and interventions -------------------------------------------------------------
    predicts_labels = True

    def predict_labels(self, x, batch_size: int = 1024):
        """q(y | mean of q(z_c|x)): p(y_i = 1) per label (binary) or class probabilities (one-hot),
        (N, k); numpy in -> numpy out."""
        kind = self.config.label_kind
        return self.map_like(lambda xb: label_probabilities(self.classifier(self.encode(xb).w.mean), kind), x,
                             batch_size=batch_size)

    @inference
    def sample_conditional(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Conditional generation: z_c ~ p(z_c | y), z ~ N(0, I), decoder mean in data units (B, *x_shape)."""
        y = y.float().to(self.label_prior.device)
        z_c = self.subspace_values(y, "sample", generator)
        z = torch.randn((len(y), self.z_dim), generator=generator, device=z_c.device)
        return self.to_data(self.decode(z, z_c))

    def walk_limits(self, attribute: int, mult: float = 8.0) -> tuple[torch.Tensor, torch.Tensor]:
        """The paper's latent-walk range of block ``attribute``, each end (w_dim,):
        [mu^0 - mult * s * sigma^0, mu^1 + mult * s * sigma^1] with s = sign(mu^1 - mu^0) per
        coordinate (the official code's 1-D walks read the last label's range; not here)."""
        p0, p1 = self.prior.by_value()
        sign = torch.sign(p1.mean[attribute] - p0.mean[attribute])
        low = p0.mean[attribute] - mult * sign * torch.exp(0.5 * p0.logvar[attribute])
        high = p1.mean[attribute] + mult * sign * torch.exp(0.5 * p1.logvar[attribute])
        return low.detach(), high.detach()

    @inference
    def latent_walk(self, x: torch.Tensor, attribute: int, steps: int = 10, mult: float = 8.0) -> torch.Tensor:
        """Decode x's posterior mean with block ``attribute`` moved along ``walk_limits``:
        (B, steps, *x_shape) in data units."""
        post = self.encode(x)
        low, high = self.walk_limits(attribute, mult)
        path = torch.lerp(low, high, torch.linspace(0, 1, steps, device=low.device).unsqueeze(1))  # (steps, m)
        w = post.w.mean.unsqueeze(1).repeat(1, steps, 1)
        m = self.w_dim
        w[:, :, attribute * m:(attribute + 1) * m] = path
        z = post.z.mean.unsqueeze(1).expand(-1, steps, -1)
        out = self.to_data(self.decode(z.flatten(0, 1), w.flatten(0, 1)))
        return out.unflatten(0, (len(x), steps))

