"""csvae: label-specific latent subspaces in variational autoencoders (Klys et al. 2018) and the
baselines VAE, CondVAE, CondVAE-info and CCVAE, with one API::

    model = csvae.build_model("csvae", x_dim=3, y_dim=1)
    model = csvae.fit(model, x, y, epochs=30, batch_size=64, seed=0, out="runs/demo")
    model.latents(x, y)["w"]; model.reconstruct(x, y); model.sample(8, y=[1]); csvae.load("runs/demo")
"""

from csvae.api import build_model, fit, load
from csvae.models import CCVAE, CSVAE, VAE, CondVAE, CondVAEInfo
from csvae.version import __version__

__all__ = ["__version__", "build_model", "fit", "load", "VAE", "CondVAE", "CondVAEInfo", "CSVAE", "CCVAE"]
