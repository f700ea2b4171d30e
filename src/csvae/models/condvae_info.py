"""CondVAE-info: a CondVAE whose encoder q(z|x) does not see y and is trained against an
adversary r(z) that predicts y (Creswell et al. 2017, without the image GAN)."""

from __future__ import annotations

from csvae.config import ModelConfig
from csvae.models.condvae import CondVAE
from csvae.models.independence import RemovesLabel
from csvae.models.objective import Objective
from csvae.models.parts import label_cross_entropy
from csvae.nets.mlp import MLP


class CondVAEInfo(RemovesLabel, CondVAE):
    """model: beta1 * recon + beta3 * KL(q(z|x) || N(0,I)) - beta4 * CE(r(z), y), r frozen;
    adversary: beta5 * CE(r(z), y) on detached z. The encoder maximises the adversary's
    cross-entropy (a min-max game), unlike CSVAE's encoder, which maximises its entropy. With
    ``model.independence`` hsic or club, + beta4 * HSIC(z, y) or CLUB replaces the adversary's term."""

    encoder_sees_y = False
    adversary_term = "encoder_ce"

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__(config, x_shape, y_dim)
        self.adversary = MLP(self.z_dim, config.adversary_hidden, y_dim)

    def _terms(self, x, y, reduction, density=False):
        """CondVAE's terms, and r(z)'s terms weighted by the rows' balance weights (``data.balance``)."""
        sample = self._encode_sample(x, y, reduction, density)  # rows with a known label
        balance = self.label_weights(sample.y)
        seen = self.removal_input(sample.q, sample.z)
        terms = sample.terms
        terms.update({k: sample.weight * v for k, v in self.removal_terms(seen, sample.y, balance).items()})
        terms["adversary_ce"] = self.adversary_ce(seen, sample.y, sample.weight * balance)
        return terms

    def encoder_adversary_term(self, logits, y):
        """The adversary's cross-entropy, which the encoder maximises."""
        return label_cross_entropy(logits, y, self.config.label_kind)

    def objective(self):
        b = self.config.betas
        # the encoder maximises the adversary's cross-entropy, and minimises HSIC or CLUB
        removal = -b.entropy if self.config.independence == "adversary" else b.entropy
        return Objective(model={**super().objective().model, self.removal_key: removal},
                         adversary={"adversary_ce": b.adversary})
