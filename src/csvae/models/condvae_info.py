"""CondVAE-info: a CondVAE whose encoder q(z|x) does not see y and is trained against an
adversary r(z) that predicts y (Creswell et al. 2017, without the image GAN)."""

from __future__ import annotations

from csvae.config import ModelConfig
from csvae.models.condvae import CondVAE
from csvae.models.parts import call_frozen, label_cross_entropy
from csvae.nets.mlp import MLP


class CondVAEInfo(CondVAE):
    """model: beta1 * recon + beta3 * KL(q(z|x) || N(0,I)) - beta4 * CE(r(z), y), r frozen;
    adversary: beta5 * CE(r(z), y) on detached z. The encoder maximises the adversary's
    cross-entropy (a min-max game), unlike CSVAE's encoder, which maximises its entropy."""

    adversarial = True
    encoder_sees_y = False

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        self.adversary = MLP(self.z_dim, config.adversary_hidden, y_dim)

    def _terms(self, x, y, reduction):
        z, terms = self._encode_sample(x, y, reduction)
        kind = self.config.label_kind
        terms["encoder_ce"] = label_cross_entropy(call_frozen(self.adversary, z), y, kind)
        terms["adversary_ce"] = label_cross_entropy(self.adversary(z.detach()), y, kind)
        return terms

    def weighted_loss(self, terms):
        return super().weighted_loss(terms) - self.config.betas.entropy * terms["encoder_ce"]
