"""Our extensions of CSVAE beyond the paper (off by default): terms computed on codes swapped
between the examples of a batch, which ask the model to keep each subspace W_i apart from z and
from the other subspaces.

- **Swap cycle** (``model.swap_cycle``, weight λ): each example a gets the subspace W_i of a
  partner b (i drawn per example); the decoder draws x̃ = decoder mean(μ_z(a), μ_w(a) with W_i
  of b) and the encoders read x̃ back with a's labels except y_i of b. The term is the
  Mahalanobis distance of the read-back means from the codes that drew x̃, in units of those
  codes' posterior variances (−log q of the code, up to a constant): x̃ must still show a's z
  (so W_i may not move what z holds, such as the face's position), a's other subspaces, and b's
  W_i (so the decoder draws what W_i holds on any face). In the spirit of InfoGAN's
  λ E[log Q(c | G(z, c))] and MUNIT's latent reconstruction.
- **Independence** (``model.w_independence``, weight γ): the paper's prior says
  p(z, w | y) = p(z) Π_i p(w_i | y_i); a discriminator tells codes (z, w, y) of the batch from
  codes whose z and each w_i are shuffled (w_i only among examples with the same y_i), and the
  encoders minimise its logit, the density-ratio estimate of the total correlation (FactorVAE,
  Kim & Mnih 2018). It trains with the adversary, on detached codes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from csvae.models.parts import Gaussian, reduce_dims

MIN_VARIANCE = 1e-4
"""Floor of a code dimension's batch variance in the swap cycle (a dimension the batch does not vary)."""


def shuffle_within_labels(y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each label column i of y (B, k) in {0, 1}, a permutation of the rows (B,) that maps every
    row to a row with the same y_i: (k, B) indices, row j of column i takes the code of index[i, j]."""
    b, k = y.shape
    out = torch.empty(k, b, dtype=torch.long, device=y.device)
    for i in range(k):
        keys = [y[:, i].float() * 2 + torch.rand(b, generator=generator, device=y.device) for _ in range(2)]
        source, destination = torch.argsort(keys[0]), torch.argsort(keys[1])
        out[i, destination] = source  # equal label counts, so position j of both orders shares a label
    return out


def independence_pairs(z: torch.Tensor, w: torch.Tensor, y: torch.Tensor, w_dim: int,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator inputs (B, z_dim + k * w_dim + k): the batch's codes [z, w, y] and the same with
    z permuted over the batch and each w_i permuted among the rows with the same y_i (a sample of
    q(z) Π_i q(w_i | y_i) with the labels kept)."""
    index = shuffle_within_labels(y, generator)
    parts = w.view(len(w), -1, w_dim)
    shuffled_w = torch.stack([parts[index[i], i] for i in range(parts.shape[1])], 1).flatten(1)
    shuffled_z = z[torch.randperm(len(z), generator=generator, device=z.device)]
    y = y.to(z.dtype)
    return torch.cat([z, w, y], -1), torch.cat([shuffled_z, shuffled_w, y], -1)


def discriminator_loss(logits_joint: torch.Tensor, logits_shuffled: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the discriminator (joint codes -> 1, shuffled -> 0), per row (B,)."""
    return (F.binary_cross_entropy_with_logits(logits_joint, torch.ones_like(logits_joint), reduction="none")
            + F.binary_cross_entropy_with_logits(logits_shuffled, torch.zeros_like(logits_shuffled),
                                                 reduction="none")).sum(-1)


def swap_codes(w: Gaussian, y: torch.Tensor, w_dim: int,
               generator: torch.Generator | None = None) -> tuple[Gaussian, torch.Tensor]:
    """Each row a takes subspace i (drawn per row) of q(w) and label bit y_i from a partner b (a
    random permutation of the batch). w over (B, k * w_dim), y (B, k). Returns (q(w) with the
    mean and log-variance of W_i from b, y with y_i from b)."""
    b, k = y.shape
    partner = torch.randperm(b, generator=generator, device=y.device)
    chosen = torch.randint(k, (b,), generator=generator, device=y.device)
    bits = F.one_hot(chosen, k).bool()  # (B, k)
    mask = bits.repeat_interleave(w_dim, dim=1)
    swapped = Gaussian(torch.where(mask, w.mean[partner], w.mean), torch.where(mask, w.logvar[partner], w.logvar))
    return swapped, torch.where(bits, y[partner], y)


def relative_error(read: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """0.5 * (read - target)^2 / the batch variance of each target dimension, elementwise (B, d):
    an error as large as the spread of that code over the batch costs 0.5. The target and its
    variance are detached (the codes that drew the image); gradients reach ``read``."""
    target = target.detach()
    spread = target.var(0, keepdim=True).clamp_min(MIN_VARIANCE)
    return 0.5 * (read - target) ** 2 / spread


def cycle_term(read_z: torch.Tensor, read_w: torch.Tensor, z: torch.Tensor, w: torch.Tensor,
               reduction: str) -> torch.Tensor:
    """The swap cycle per example (B,): relative error of the means read back from x̃ against
    the codes z (B, z_dim) and swapped w (B, k * w_dim) that drew it."""
    return reduce_dims(torch.cat([relative_error(read_z, z), relative_error(read_w, w)], -1), reduction)
