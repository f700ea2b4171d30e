"""Decoder likelihoods p(x | code): the reconstruction term of every model, and bits per dimension.

Each likelihood maps the decoder's output ``params`` (B, *x_shape) to an elementwise negative
log-likelihood of x (same shape, model units) and to the mean of p(x | params):

- ``bernoulli``: params are logits; -log p is the binary cross-entropy. For grey values in
  (0, 1) this is not a normalised density; ``density_nll`` adds the continuous-Bernoulli
  normaliser (Loaiza-Ganem & Cunningham 2019) so that bits per dimension compare.
- ``gaussian``: params are means, the standard deviation is fixed (``model.gaussian_std``).
- ``laplace``: params are means, the scale b is fixed (``model.laplace_scale``): -log p = |x - mean| / b
  + log 2b, an L1 reconstruction (CCVAE's official code: b = 1 on pixels in [0, 1]).
- ``calibrated_gaussian``: the sigma-VAE (Rybkin, Daniilidis, Levine 2021): one standard deviation
  shared by every pixel, either set to its optimum for each training batch, sigma^2 = the batch's
  mean squared error (``calibration: optimal``), or learned as a parameter (``learned``). log sigma
  is clipped below at ``MIN_LOG_SIGMA``. In eval mode an ``optimal`` likelihood uses the
  running mean of the training batches' log sigma, so the ELBO of a trained model is a fixed
  density's.
- ``discretized_logistic``: 8-bit images only; each pixel level k/255 gets the mass of a logistic
  (location = params, one scale shared by every pixel, calibrated as the Gaussian's sigma: the
  batch's moment match s = sqrt(3 MSE) / pi, or learned) over its bin of half-width 1/510, the two
  end levels the tails (Salimans et al. 2017, PixelCNN++, without the mixture). A normalised
  distribution over the 256 levels.

Bits per dimension (``bits_per_dim``) read an ELBO of 8-bit images scaled to [0, 1] as a
density over 256 bins of width 1/256: -ELBO / (D ln 2) + 8.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)
MIN_LOG_SIGMA = -6.0
"""Lower bound of the calibrated log sigma (the sigma-VAE's value)."""
SIGMA_MOMENTUM = 0.05
"""Weight of each training batch in the running log sigma of ``calibration: optimal``."""
LIKELIHOODS = ("gaussian", "bernoulli", "calibrated_gaussian", "laplace", "discretized_logistic")
HALF_BIN = 0.5 / 255
"""Half the distance between two 8-bit levels in [0, 1] (model units of images: scale 1)."""
CALIBRATIONS = ("optimal", "learned")


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Elementwise -log N(x; mean, sigma^2), log_sigma broadcasting against x."""
    return 0.5 * ((x - mean) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * LOG_2PI


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """Elementwise log C(lambda) of the continuous Bernoulli with lambda = sigmoid(logits):
    C = 2 atanh(1 - 2 lambda) / (1 - 2 lambda), written as logits / tanh(logits / 2) (= 2 at 0)."""
    small = logits.abs() < 1e-3
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.log(safe / torch.tanh(safe / 2))
    taylor = math.log(2.0) + logits**2 / 12  # log(2 + l^2/6) to second order
    return torch.where(small, taylor, exact)


class Likelihood(nn.Module):
    """p(x | params). Subclasses implement ``nll`` and ``mean``."""

    def nll(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Elementwise -log p(x | params), the shape of x (the training objective's term)."""
        raise NotImplementedError

    def density_nll(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Elementwise -log of a normalised density of x (what bits per dimension read)."""
        return self.nll(x, params)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | params), model units."""
        return params


class Bernoulli(Likelihood):
    def nll(self, x, params):
        return F.binary_cross_entropy_with_logits(params, x, reduction="none")

    def density_nll(self, x, params):
        return self.nll(x, params) - continuous_bernoulli_log_norm(params)

    def mean(self, params):
        return torch.sigmoid(params)


class FixedGaussian(Likelihood):
    def __init__(self, std: float):
        super().__init__()
        self.log_sigma = math.log(std)

    def nll(self, x, params):
        return gaussian_nll(x, params, torch.tensor(self.log_sigma, device=x.device))


class Laplace(Likelihood):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = float(scale)

    def nll(self, x, params):
        return (x - params).abs() / self.scale + math.log(2.0 * self.scale)


class CalibratedGaussian(Likelihood):
    """The sigma-VAE's Gaussian with one shared sigma (see the module docstring)."""

    def __init__(self, calibration: str = "optimal"):
        super().__init__()
        if calibration not in CALIBRATIONS:
            raise ValueError(f"model.calibration must be one of {list(CALIBRATIONS)}, got {calibration!r}")
        self.calibration = calibration
        if calibration == "learned":
            self.raw_log_sigma = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("running_log_sigma", torch.zeros(()))

    @property
    def log_sigma(self) -> torch.Tensor:
        """The log sigma used outside training (a scalar tensor)."""
        if self.calibration == "learned":
            return self.raw_log_sigma.clamp_min(MIN_LOG_SIGMA)
        return self.running_log_sigma

    @staticmethod
    def optimal_log_sigma(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """log sigma* = 0.5 log(mean squared error over the batch and every dimension), at least
        MIN_LOG_SIGMA."""
        return (0.5 * torch.log(((x - mean) ** 2).mean().clamp_min(1e-12))).clamp_min(MIN_LOG_SIGMA)

    def current_log_sigma(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """The log sigma of this call: the batch's optimum while an ``optimal`` likelihood
        trains (also updating the running value), else ``log_sigma``."""
        if self.calibration == "optimal" and self.training:
            log_sigma = self.optimal_log_sigma(x, params)
            with torch.no_grad():
                self.running_log_sigma.lerp_(log_sigma.detach(), SIGMA_MOMENTUM)
            return log_sigma
        return self.log_sigma

    def nll(self, x, params):
        return gaussian_nll(x, params, self.current_log_sigma(x, params))


def log_bin_mass(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(high) - sigmoid(low)) elementwise for low < high, stable in both tails (the bin
    is reflected to the left of 0, where sigmoids are small and their difference keeps its bits)."""
    flip = (low + high) > 0
    low, high = torch.where(flip, -high, low), torch.where(flip, -low, high)
    log_high, log_low = F.logsigmoid(high), F.logsigmoid(low)
    return log_high + torch.log(-torch.expm1(log_low - log_high).clamp_max(-1e-30))


class DiscretizedLogistic(CalibratedGaussian):
    """A logistic over the 256 levels of 8-bit images with one shared scale (module docstring).

    The scale is calibrated as the Gaussian's sigma (``log_sigma`` here is the log of the
    logistic's scale s): ``optimal`` matches the batch's mean squared error to the logistic's
    variance s^2 pi^2 / 3, so s = sqrt(3 MSE) / pi; ``learned`` learns log s."""

    @staticmethod
    def optimal_log_sigma(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """log s = 0.5 log(3 MSE / pi^2), at least MIN_LOG_SIGMA (the moment match)."""
        mse = ((x - mean) ** 2).mean().clamp_min(1e-12)
        return (0.5 * torch.log(3.0 * mse / math.pi**2)).clamp_min(MIN_LOG_SIGMA)

    def nll(self, x, params):
        """x in model units of images: level/255 - 0.5, so -0.5 and 0.5 are the end levels."""
        inv = torch.exp(-self.current_log_sigma(x, params))
        low, high = (x - HALF_BIN - params) * inv, (x + HALF_BIN - params) * inv
        log_p = log_bin_mass(low, high)
        log_p = torch.where(x < -0.5 + HALF_BIN, F.logsigmoid(high), log_p)
        log_p = torch.where(x > 0.5 - HALF_BIN, F.logsigmoid(-low), log_p)
        return -log_p

    def density_nll(self, x, params):
        """As a density over 256 bins of width 1/256 (what ``bits_per_dim`` reads)."""
        return self.nll(x, params) - math.log(256.0)


def make_likelihood(name: str, gaussian_std: float = 1.0, calibration: str = "optimal",
                    laplace_scale: float = 1.0) -> Likelihood:
    """The likelihood called ``name`` (``model.likelihood``)."""
    if name == "bernoulli":
        return Bernoulli()
    if name == "gaussian":
        return FixedGaussian(gaussian_std)
    if name == "calibrated_gaussian":
        return CalibratedGaussian(calibration)
    if name == "laplace":
        return Laplace(laplace_scale)
    if name == "discretized_logistic":
        return DiscretizedLogistic(calibration)
    raise ValueError(f"model.likelihood must be one of {list(LIKELIHOODS)}, got {name!r}")


def bits_per_dim(elbo: torch.Tensor, n_dims: int) -> torch.Tensor:
    """ELBO (nats, per example) of 8-bit images in [0, 1] -> bits per dimension, a bound on the
    discrete data's: -elbo / (D ln 2) + log2(256)."""
    return -elbo / (n_dims * math.log(2.0)) + 8.0
