"""What the models share: input scaling, backbones, and the public numpy/torch methods.

Conventions for every model:
- ``encode(x, y)``, ``losses(x, y)``, ``manipulate`` and ``reconstruct`` take x in *data units*:
  raw float vectors, or uint8 images (converted to [0, 1] on the model's device). Vector data are
  standardised inside the model with the training mean/std stored as buffers.
- ``decode(code)`` returns likelihood parameters in *model units*; ``to_data(params)`` maps them
  back to data units (undoing the standardisation; sigmoid for Bernoulli logits).
- y is (B, k) float in {0, 1}: k binary attributes or a one-hot row over k classes.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional, Union

import numpy as np
import torch
from torch import nn

from csvae.config import ModelConfig
from csvae.constraints import is_integer
from csvae.data.balance import example_weights
from csvae.models.labels import check_known
from csvae.models.likelihoods import bits_per_dim, make_likelihood
from csvae.models.objective import Objective, weighted_sum
from csvae.models.parts import Gaussian, kl_standard_normal, reduce_dims
from csvae.nets import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from csvae.nets.conv import autocast_dtype


def inference(method):
    """Run a model method without gradients and in eval mode (batch norm on running statistics),
    restoring the previous mode afterwards."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return method(self, *args, **kwargs)
        finally:
            self.train(was_training)

    return wrapper


ArrayLike = Union[np.ndarray, torch.Tensor]
"""What the public methods take: numpy arrays or tensors."""


def array_io(method):
    """Let a method written for tensors (``manipulate``, ``transfer``) take numpy arrays: numpy
    arguments become tensors on the model's device (floats as float32), the call runs without
    gradients in eval mode, and the result comes back as a numpy array. Tensor calls are unchanged."""

    def to_tensor(value, device):
        if not isinstance(value, np.ndarray):
            return value
        value = value.astype(np.float32) if value.dtype.kind == "f" else np.ascontiguousarray(value)
        return torch.from_numpy(value).to(device)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not any(isinstance(a, np.ndarray) for a in (*args, *kwargs.values())):
            return method(self, *args, **kwargs)
        device = self.x_shift.device
        args = [to_tensor(a, device) for a in args]
        kwargs = {k: to_tensor(v, device) for k, v in kwargs.items()}
        return inference(method)(self, *args, **kwargs).cpu().numpy()

    return wrapper


class Posterior(NamedTuple):
    """q(z | ...) and, for CSVAE, q(w | x, y); each a Gaussian over (B, d)."""

    z: Gaussian
    w: Optional[Gaussian] = None


class LatentModel(nn.Module):
    """Base class. A model implements encode/decode/manipulate and its objective: ``_terms``
    (named per-example terms) and ``objective`` (their weights, and the adversary's); ``losses``
    assembles them (docs/contributing.md, "Adding a model")."""

    has_subspaces = False
    """True for models with a code block per label (CSVAE's w, CCVAE's z_c; ``models.subspace``)."""
    reads_labels = True
    """Whether encoding or decoding reads y (VAE and CCVAE do not): NaN labels are then refused."""
    learns_from_unlabelled = True
    """True for a model whose losses accept rows of y that are all NaN (label unknown); every model
    here does (docs/models.md, "Partly labelled data"), ``fit`` refuses NaN labels for one that
    does not."""

    def __init_subclass__(cls, **kwargs):
        """Every model's own ``manipulate`` and ``transfer`` take numpy arrays too (``array_io``)."""
        super().__init_subclass__(**kwargs)
        for name in ("manipulate", "transfer"):
            if name in vars(cls):
                setattr(cls, name, array_io(vars(cls)[name]))

    def __init__(self, config: ModelConfig, x_shape: tuple[int, ...], y_dim: int):
        super().__init__()
        if y_dim < 1:
            raise ValueError(f"y_dim must be at least 1, got {y_dim}")
        if config.label_kind == "categorical" and y_dim < 2:
            raise ValueError(f"a categorical label needs at least 2 classes, got y_dim={y_dim}")
        self.config = config
        self.x_shape = tuple(int(s) for s in x_shape)
        self.y_dim = int(y_dim)
        self.data_card = None
        """The ``csvae.datacard.DataCard`` of the training data (set by ``fit`` and ``load``)."""
        self.register_buffer("x_shift", torch.zeros(self.x_shape))
        self.register_buffer("x_scale", torch.ones(self.x_shape))
        if self.is_image and config.likelihood != "bernoulli":
            # Gaussian means of images are centred on mid-grey, so an untrained decoder (output ~0)
            # starts at 0.5 as a Bernoulli one (logits ~0) does; a shift keeps densities unchanged.
            self.x_shift.fill_(0.5)
        self.likelihood = make_likelihood(config.likelihood, config.gaussian_std, config.calibration,
                                          config.laplace_scale)
        # Weights of the label combinations (``csvae.data.balance``), set by ``set_label_balance``
        # for ``data.balance: weight``; not saved: they matter to training only.
        self.register_buffer("balance_table", None, persistent=False)

    # ----- latent sizes and backbones -------------------------------------------------------
    @property
    def z_dim(self) -> int:
        """Size of z; the baselines get the CSVAE's w dims added when ``match_latent_size``."""
        c = self.config
        extra = c.w_dim * self.y_dim if (c.match_latent_size and not self.has_subspaces) else 0
        return c.z_dim + extra

    def make_encoder(self) -> nn.Module:
        c = self.config
        if c.backbone == "conv":
            return ConvEncoder(self.x_shape, c.conv_channels, c.conv_dense, c.conv_norm, c.conv_kernel)
        return MLPEncoder(self.x_shape, c.hidden)

    def make_decoder(self, in_dim: int) -> nn.Module:
        c = self.config
        if c.backbone == "conv":
            return ConvDecoder(in_dim, self.x_shape, c.conv_channels, c.conv_dense, c.conv_norm, c.conv_kernel,
                               c.conv_upsample, c.conv_film)
        return MLPDecoder(in_dim, self.x_shape, c.hidden)

    # ----- units ------------------------------------------------------------------------------
    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store the training mean/std of x (shape x_shape, or broadcastable to it)."""
        self.x_shift.copy_(torch.as_tensor(mean).expand(self.x_shape))
        self.x_scale.copy_(torch.as_tensor(std).clamp_min(1e-8).expand(self.x_shape))

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Data units (float, or uint8 images) -> model units (B, *x_shape)."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        return (x.float() - self.x_shift) / self.x_scale

    @property
    def is_image(self) -> bool:
        return len(self.x_shape) == 3

    def to_data(self, params: torch.Tensor) -> torch.Tensor:
        """Decoder parameters (model units) -> the likelihood's mean in data units (images: clipped
        to [0, 1], the range of their pixels)."""
        mean = self.likelihood.mean(params.float()) * self.x_scale + self.x_shift
        return mean.clamp(0.0, 1.0) if self.is_image else mean

    # ----- the objective (one protocol for every model) -----------------------------------------
    def recon_nll(self, x_model: torch.Tensor, params: torch.Tensor, reduction: str,
                  density: bool = False) -> torch.Tensor:
        """-log p(x | code) per example, (B,); density: a normalised density (``bits_per_dim``)."""
        nll = self.likelihood.density_nll if density else self.likelihood.nll
        return reduce_dims(nll(x_model, params.float()), reduction)

    def kl_z(self, q: Gaussian, reduction: str) -> torch.Tensor:
        return reduce_dims(kl_standard_normal(q), reduction)

    def _terms(self, x: torch.Tensor, y: torch.Tensor, reduction: str,
               density: bool = False) -> dict[str, torch.Tensor]:
        """The model's named per-example terms (B,): recon, kl_z, ...; density: score recon with
        a normalised density (``recon_nll``)."""
        raise NotImplementedError

    def objective(self) -> Objective:
        """The weight of each named term in the "model" objective and, for an adversarial model,
        in the "adversary" objective."""
        raise NotImplementedError

    def batch_terms(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named terms of a batch, scalars: the batch means of ``_terms``."""
        return {name: value.mean() for name, value in self._terms(x, y, self.config.reduction).items()}

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch terms and the objectives ``objective`` declares: "model" (minimised by
        encoders/decoder) and, for adversarial models, "adversary" (minimised by the adversary, on
        detached codes)."""
        terms = self.batch_terms(x, y)
        objective = self.objective()
        terms["model"] = weighted_sum(terms, objective.model)
        if objective.adversary:
            terms["adversary"] = weighted_sum(terms, objective.adversary)
        return terms

    @property
    def adversarial(self) -> bool:
        """Whether the model has an adversary objective (a second optimizer trains it)."""
        return bool(self.objective().adversary)

    def adversary_terms(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms of the adversary objective, per example, on fresh codes drawn without
        gradient (the encoder untouched); adversarial models only."""
        raise NotImplementedError

    def adversary_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The adversary objective on fresh codes (``adversary_terms``), for the extra adversary
        steps of ``train.adversary_steps``."""
        terms = {name: value.mean() for name, value in self.adversary_terms(x, y).items()}
        return weighted_sum(terms, self.objective().adversary)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.losses(x, y)

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, y: torch.Tensor, density: bool = False) -> torch.Tensor:
        """A one-sample estimate of the (conditional) ELBO per example, (B,), with unit weights
        and sums over dimensions, in model units (log p(y) is not included). density: score the
        reconstruction with a normalised density (differs from the training term for Bernoulli)."""
        terms = self._terms(x, y, "sum", density=density)
        return -(terms["recon"] + terms["kl_z"] + terms.get("kl_w", 0.0))

    def bits_per_dim(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """-ELBO in bits per dimension of 8-bit images, (B,), comparable across likelihoods."""
        if not self.is_image:
            raise ValueError("bits per dimension are defined for 8-bit images only")
        return bits_per_dim(self.elbo(x, y, density=True), math.prod(self.x_shape))

    def model_parameters(self) -> list[nn.Parameter]:
        """Parameters of encoders, decoder and (when learned) the prior."""
        adversary = set(map(id, self.adversary_parameters()))
        return [p for p in self.parameters() if id(p) not in adversary]

    def adversary_parameters(self) -> list[nn.Parameter]:
        return list(self.adversary.parameters()) if self.adversarial else []

    def training_only_keys(self) -> list[str]:
        """The state-dict keys that only the training objective reads: the adversaries' parameters
        (``adversary_parameters``: CSVAE's adversary and W-independence discriminator, CondVAE-info's
        adversary). Encoding, decoding, manipulation, transfer, label prediction and the ELBO do not
        depend on their values, so a shipped model leaves them out (``csvae.pretrained.export``) and
        ``csvae.api.load`` rebuilds them at their initial values."""
        adversary = set(map(id, self.adversary_parameters()))
        return [name for name, p in self.named_parameters() if id(p) in adversary]

    @property
    def predicts_labels(self) -> bool:
        """Whether the model has its own label classifier, ``predict_labels(x)`` (CCVAE's q(y|z_c),
        CSVAE's fitted label probe); ``csvae.apply.labels`` uses it to label new images."""
        return False

    def set_label_balance(self, table: Optional[torch.Tensor]) -> None:
        """Weigh the terms that read labels by ``table`` (C,), a weight per label combination
        (``csvae.data.balance.weight_table``); None: unweighted. Called by ``csvae.fit``."""
        self.balance_table = None if table is None else table.float().to(self.x_shift.device)

    def label_weights(self, y: torch.Tensor) -> torch.Tensor:
        """The balance weight of each row of y (B, k), (B,) float32 (1 for unknown rows, and for
        every row when no table is set)."""
        return example_weights(y, self.balance_table, self.config.label_kind)

    def set_progress(self, step: int, total: int) -> None:
        """See the training loop's step (0-based) of ``total`` before each step; a model whose
        objective follows a schedule (S²-VAE's annealed gamma) reads it. Called by ``csvae.train``."""

    def observe_labels(self, y: torch.Tensor) -> None:
        """See the training labels (N, k) before training (NaN: unknown); CCVAE takes p(y) from
        them. Called by ``csvae.fit``."""

    def finalize(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Compute statistics of the trained model on its training data (e.g. class means used by
        ``manipulate``). Called by ``csvae.fit`` at the end of training."""

    def set_inference_precision(self, precision: str) -> None:
        """Run the conv encoders and decoders in eval mode at ``precision`` ("32-true", or a
        ``train.precision`` such as "bf16-mixed": under autocast, the precision the model trained
        at); their outputs, and so every result of the model's methods, stay float32. Vector
        models have no conv nets and always run in float32."""
        autocast_dtype(precision, "cpu")  # refuses an unknown precision
        for module in self.modules():
            if isinstance(module, (ConvEncoder, ConvDecoder)):
                module.inference_precision = precision

    # ----- public numpy/torch API ----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Where the model's parameters and buffers are."""
        return self.x_shift.device

    def _batches(self, *arrays, batch_size: int = 1024):
        device = self.device
        tensors = [torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a) for a in arrays]
        n = len(tensors[0])
        for start in range(0, n, batch_size):
            yield [t[start:start + batch_size].to(device) for t in tensors]

    @inference
    def map_batches(self, fn, *arrays, batch_size: int = 1024) -> torch.Tensor:
        """Apply ``fn`` to batches of ``arrays`` (numpy arrays or tensors of N rows, moved to the
        model's device; floats as float32) without gradients in eval mode, and concatenate its
        results on the CPU."""
        return torch.cat([fn(*[b.float() if b.dtype != torch.uint8 else b for b in batch]).cpu()
                          for batch in self._batches(*arrays, batch_size=batch_size)])

    def map_like(self, fn, x, *arrays, batch_size: int = 1024) -> ArrayLike:
        """``map_batches`` of ``fn`` over (x, *arrays), returned as x came: a tensor for a tensor,
        numpy otherwise."""
        out = self.map_batches(fn, x, *arrays, batch_size=batch_size)
        return out if torch.is_tensor(x) else out.numpy()

    def labels_for(self, x, y):
        """The labels y (N, k) of inputs x as this model reads them: checked known where it reads
        them (``check_known``); where it does not, None stands for zeros."""
        if y is None and not self.reads_labels:
            return np.zeros((len(x), self.y_dim), np.float32)
        if self.reads_labels:
            check_known(y)
        return y

    def latents(self, x, y, batch_size: int = 1024) -> dict[str, np.ndarray]:
        """Posterior means: {"z": (N, z_dim)} and, for CSVAE, "w": (N, k * w_dim)."""
        y = self.labels_for(x, y)
        z = self.map_batches(lambda xb, yb: self.encode(xb, yb).z.mean, x, y, batch_size=batch_size)
        return {"z": z.numpy()}

    def reconstruct(self, x, y, batch_size: int = 1024):
        """Decoder mean from the posterior means, in data units; numpy in -> numpy out."""
        y = self.labels_for(x, y)
        return self.map_like(lambda xb, yb: self.to_data(self.decode_posterior_mean(xb, yb)), x, y,
                             batch_size=batch_size)

    def decode_posterior_mean(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @inference
    def sample(self, n: int, y: Optional[ArrayLike] = None, seed: Optional[int] = None) -> np.ndarray:
        """``n`` draws from the model's prior, decoded (the decoder mean, in data units): (n, *x_shape).

        y: the labels to draw for, (k,) for all n draws or (n, k); CSVAE and CCVAE draw z ~ N(0, I)
        and each w_i ~ p(w_i | y_i), CondVAE and CondVAE-info decode z ~ N(0, I) with y; the VAE's
        prior has no label (leave y out). seed: seeds the draws."""
        if not is_integer(n) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        device = self.x_shift.device
        generator = None if seed is None else torch.Generator(device=device).manual_seed(int(seed))
        z = torch.randn((n, self.z_dim), generator=generator, device=device)
        if not (self.reads_labels or self.has_subspaces):
            if y is not None:
                raise ValueError(f"{self.config.name}'s prior p(z) has no label: leave y out")
            return self.to_data(self.decode(z)).cpu().numpy()
        if y is None:
            raise ValueError(f"{self.config.name} draws for labels: give y, (k,) or (n, k) with k = {self.y_dim}")
        y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y).float().to(device)
        y = y.expand(n, -1) if y.dim() == 1 else y
        if tuple(y.shape) != (n, self.y_dim):
            raise ValueError(f"y must have shape ({self.y_dim},) or ({n}, {self.y_dim}), got {tuple(y.shape)}")
        check_known(y)
        code = self.subspace_values(y, "sample", generator) if self.has_subspaces else y
        return self.to_data(self.decode(z, code)).cpu().numpy()
