"""The models, all plain ``torch.nn.Module``s with one interface (see ``LatentModel``)."""

from csvae.config import MODEL_NAMES
from csvae.models.base import LatentModel, Posterior
from csvae.models.ccvae import CCVAE
from csvae.models.condvae import CondVAE
from csvae.models.condvae_info import CondVAEInfo
from csvae.models.csvae import CSVAE
from csvae.models.guided_vae import GuidedVAE
from csvae.models.msp import MSP
from csvae.models.objective import Objective
from csvae.models.s2vae import S2VAE
from csvae.models.vae import VAE

MODELS = dict(zip(MODEL_NAMES, (VAE, CondVAE, CondVAEInfo, CSVAE, CCVAE, MSP, GuidedVAE, S2VAE), strict=True))
"""Each of the registry's names (``csvae.config.MODEL_NAMES``) and its class."""
MODEL_TITLES = dict(zip(MODEL_NAMES, ("VAE", "CondVAE", "CondVAE-info", "CSVAE", "CCVAE", "MSP", "Guided-VAE",
                                      "S2-VAE"), strict=True))
"""How people write each model's name."""

__all__ = ["LatentModel", "Objective", "Posterior", "VAE", "CondVAE", "CondVAEInfo", "CSVAE", "CCVAE", "MSP",
           "GuidedVAE", "S2VAE", "MODELS", "MODEL_TITLES"]
