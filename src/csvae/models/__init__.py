"""The five models, all plain ``torch.nn.Module``s with one interface (see ``LatentModel``)."""

from csvae.models.base import LatentModel, Posterior
from csvae.models.ccvae import CCVAE
from csvae.models.condvae import CondVAE
from csvae.models.condvae_info import CondVAEInfo
from csvae.models.csvae import CSVAE
from csvae.models.vae import VAE

MODELS = {"vae": VAE, "condvae": CondVAE, "condvae_info": CondVAEInfo, "csvae": CSVAE, "ccvae": CCVAE}
MODEL_TITLES = {"vae": "VAE", "condvae": "CondVAE", "condvae_info": "CondVAE-info", "csvae": "CSVAE",
                "ccvae": "CCVAE"}
"""How people write each model's name."""

__all__ = ["LatentModel", "Posterior", "VAE", "CondVAE", "CondVAEInfo", "CSVAE", "CCVAE", "MODELS", "MODEL_TITLES"]
