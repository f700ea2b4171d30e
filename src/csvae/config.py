"""Typed configuration: model, data and training settings, YAML in and out, validated on creation.

Every ambiguous choice of the paper (see docs/models.md) is a field here with its documented
default. A config is checked when it is built, so a wrong value fails before any training starts,
with a message naming the field (``model.z_dim``) and what was expected.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

MODEL_NAMES = ("vae", "condvae", "condvae_info", "csvae", "ccvae")
CCVAE_DEFAULTS = {"ccvae_k": 100, "ccvae_unlabelled": "enumerate", "ccvae_kl": "sampled", "ccvae_detach": "weight",
                  "ccvae_prior_init": 2.0, "ccvae_prior_rate": 1.0}
"""The CCVAE-only fields and their defaults; another model refuses any other value."""


MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read."""


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names the field."""


def _finite(section: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{section}.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{section}.{name} must be a finite number, got {value!r}")


def _positive(section: str, name: str, value, allow_zero: bool = False) -> None:
    _finite(section, name, value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{section}.{name} must be {bound}, got {value!r}")


def _check_annotations(instance, section: str) -> None:
    """Check every field of a config section against its annotation, as YAML values are checked
    (an integer field refuses 1.5 however the section is built: YAML, CLI or Python keywords), and
    store an integer given for a float field as a float."""
    for f in dataclasses.fields(instance):
        if f.type != "Betas":
            setattr(instance, f.name, _coerce(f"{section}.{f.name}", getattr(instance, f.name), str(f.type)))


@dataclass
class Betas:
    """Loss weights (beta1..beta5 of the paper; defaults (20, 1, 0.2, 10, 1)).

    Every model uses ``recon`` and ``kl_z``, so the reconstruction/KL balance is the same for all
    of them. CSVAE adds ``kl_w``, ``entropy`` (the encoder's M2 weight) and ``adversary`` (N).
    CondVAE-info uses ``entropy`` as the weight of the encoder's adversarial term and
    ``adversary`` for its adversary's cross-entropy. With ``model.independence`` hsic or club,
    ``entropy`` weighs that penalty instead.
    """

    recon: float = 20.0  # beta1
    kl_w: float = 1.0  # beta2
    kl_z: float = 0.2  # beta3
    entropy: float = 10.0  # beta4
    adversary: float = 1.0  # beta5

    def __post_init__(self):
        _check_annotations(self, "model.betas")
        for f in dataclasses.fields(self):
            _positive("model.betas", f.name, getattr(self, f.name), allow_zero=True)


@dataclass
class ModelConfig:
    """What a model is: its latents, prior, likelihood, losses and networks."""

    name: Literal["vae", "condvae", "condvae_info", "csvae", "ccvae"] = "csvae"
    z_dim: int = 2
    """Size of z. For the baselines, ``build_model`` adds ``w_dim * n_subspaces`` to it by default
    (``match_latent_size``) so that all models have the same total latent size."""
    w_dim: Optional[int] = None
    """Size of each label's block of the characteristic code: CSVAE's subspace W_i (the paper: 2),
    CCVAE's z_c,i (the paper: 1; more is our generalisation). None: 1 for ccvae, else 2."""
    match_latent_size: bool = True
    label_kind: Literal["binary", "categorical"] = "binary"
    """binary: y in {0,1}^k, k independent attributes; categorical: y one-hot over C classes."""
    likelihood: Literal["gaussian", "bernoulli", "calibrated_gaussian", "laplace", "discretized_logistic"] = "gaussian"
    """Reconstruction term: Gaussian with fixed std ``gaussian_std``, Bernoulli (x in [0, 1]), the
    sigma-VAE's calibrated Gaussian (one shared std, see ``calibration``), Laplace with fixed scale
    ``laplace_scale`` (CCVAE's official choice), or a discretised logistic over the 256 levels of
    8-bit images with one shared scale (``csvae.models.likelihoods``)."""
    gaussian_std: float = 1.0
    laplace_scale: float = 1.0
    calibration: Literal["optimal", "learned"] = "optimal"
    """calibrated_gaussian: the shared std is the batch's optimum sqrt(MSE) (optimal) or a learned
    parameter (learned); discretized_logistic: its shared scale is the batch's moment match
    sqrt(3 MSE) / pi (optimal) or learned."""
    reduction: Literal["sum", "mean"] = "sum"
    """How reconstruction and KL terms reduce over the dimensions of one example (the batch is
    always averaged). The paper's beta1 = 20 assumes a sum."""
    betas: Betas = field(default_factory=Betas)
    # p(w_i | y_i): N(mean * 1, scale) for y_i = 0 and y_i = 1 (means are per coordinate).
    prior_mean_0: float = 0.0
    prior_scale_0: float = 0.1
    prior_mean_1: float = 3.0
    prior_scale_1: float = 1.0
    prior_scale_is: Literal["std", "variance"] = "std"
    prior_learned: bool = False
    """Ablation: learn the prior means and log-scales (initialised at the values above)."""
    w_encoder: Literal["shared", "per_subspace"] = "shared"
    """shared: one head emits all w dimensions from features of (x, y); per_subspace: one head per
    subspace W_i, seeing y_i only."""
    encoder_objective: Literal["entropy", "cross_entropy"] = "entropy"
    """What CSVAE's encoder does to the adversary: maximise its entropy (paper, M2) or its
    cross-entropy (as CondVAE-info does)."""
    independence: Literal["adversary", "hsic", "club"] = "adversary"
    """csvae and condvae_info: how the encoder removes y from z, weighted by ``betas.entropy``:
    the adversary (CSVAE: its entropy or cross-entropy, ``encoder_objective``; CondVAE-info: its
    cross-entropy), a kernel dependence penalty HSIC(z, y), or the CLUB upper bound on I(z; y)
    with the adversary as its variational q(y|z) (``csvae.models.independence``)."""
    independence_input: Literal["sample", "mean"] = "sample"
    """csvae and condvae_info: what the adversary and the penalty read of z: a posterior sample
    (the paper's E_q(z|x)) or the posterior mean (what a probe of z reads)."""
    ccvae_k: int = 100
    """CCVAE: samples of z_c ~ q(z_c|x) in the estimate log q(y|x) = logsumexp_k log q(y|z_c^k) - log K."""
    ccvae_unlabelled: Literal["enumerate", "sample", "score"] = "enumerate"
    """CCVAE, examples without labels: the expectation over y ~ q(y|z_c) computed exactly by
    enumerating each label's values (ours), or one sampled y without a score-function term (the
    official PyTorch code), or with one (the official Pyro code's Trace_ELBO)."""
    ccvae_kl: Literal["sampled", "analytic"] = "sampled"
    """CCVAE: log p(z|y) - log q(z|x) inside the weighted expectation at the sampled z (the
    official Pyro code; unbiased) or as -KL in closed form (the official PyTorch code)."""
    ccvae_detach: Literal["weight", "classifier"] = "weight"
    """CCVAE: z_c reaches q(y|z_c) detached inside the weight only (the official PyTorch code), or
    in every ELBO term (the official Pyro code; the encoder then learns y only from log q(y|x))."""
    ccvae_prior_init: float = 2.0
    """CCVAE: p(z_c,i | y_i) starts at mean +v for y_i = 1 and -v for y_i = 0 (official Pyro code:
    2; official PyTorch code: 0); its scales start at softplus(1) in both."""
    ccvae_prior_rate: float = 1.0
    """CCVAE: how many times faster than the networks the conditional prior's means and scales
    learn (1: both official versions). Adam moves each parameter by about lr per step, so with
    few steps a prior of 1 learns too slowly to follow the encoder (docs/models.md)."""
    swap_cycle: float = 0.0
    """CSVAE, our extension beyond the paper (0: off): weight of the swap cycle, which decodes each
    example with one subspace W_i of another example and asks the encoders to read back the codes
    that drew it (``csvae.models.swaps``; docs/models.md)."""
    w_independence: float = 0.0
    """CSVAE, our extension beyond the paper (0: off): weight of a discriminator's estimate of the
    total correlation between z and the subspaces W_i given y (``csvae.models.swaps``)."""
    backbone: Literal["mlp", "conv"] = "mlp"
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    """MLP backbones: widths of the hidden layers of encoders and decoder."""
    head_hidden: int = 64
    """Width of the hidden layer of each Gaussian head on [features, label]."""
    adversary_hidden: list[int] = field(default_factory=lambda: [64, 64])
    conv_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    conv_dense: int = 512
    conv_norm: Literal["batch", "group", "none"] = "batch"
    conv_kernel: int = 5
    """Side of every conv kernel (3-7; Larsen's and the paper's 5)."""
    conv_upsample: Literal["transpose", "resize", "subpixel"] = "transpose"
    """How the conv decoder doubles the side: transposed conv (Larsen's), nearest resize + conv, or
    sub-pixel conv (pixel shuffle); see ``csvae.nets.conv``."""
    conv_film: bool = False
    """The decoder's code also scales and shifts the features of every upsampling block (FiLM);
    off: the code enters through the dense layers alone (Larsen's); see ``csvae.nets.conv``."""

    def __post_init__(self):
        _check_annotations(self, "model")
        if isinstance(self.conv_kernel, bool) or self.conv_kernel not in range(3, 8):
            raise ConfigError(f"model.conv_kernel must be an integer in 3..7, got {self.conv_kernel!r}")
        if self.w_dim is None:
            self.w_dim = 1 if self.name == "ccvae" else 2
        self._check_ccvae()
        self._check_backbone()
        for name, default in (("independence", "adversary"), ("independence_input", "sample")):
            if getattr(self, name) != default and self.name not in ("csvae", "condvae_info"):
                raise ConfigError(f"model.{name} is a setting of model.name 'csvae' and 'condvae_info' (the models "
                                  f"that remove y from z), not of {self.name!r}; remove it")
        for name in ("z_dim", "w_dim", "gaussian_std", "laplace_scale", "head_hidden", "conv_dense"):
            _positive("model", name, getattr(self, name))
        for name in ("prior_scale_0", "prior_scale_1"):
            _positive("model", name, getattr(self, name))
        for name in ("swap_cycle", "w_independence"):
            _positive("model", name, getattr(self, name), allow_zero=True)
            if getattr(self, name) and self.name != "csvae":
                raise ConfigError(f"model.{name} is a CSVAE term; model.name is {self.name!r}")
        for name in ("prior_mean_0", "prior_mean_1"):
            _finite("model", name, getattr(self, name))
        for name in ("hidden", "adversary_hidden", "conv_channels"):
            for width in getattr(self, name):
                _positive("model", name, width)
        if not isinstance(self.betas, Betas):
            _check_keys(Betas, self.betas, "model.betas")
            self.betas = Betas(**self.betas)

    def _check_backbone(self) -> None:
        """A setting of the other backbone (``conv_*`` with the MLP, ``hidden`` with the conv nets)
        would be ignored silently: refused unless it is left at its default."""
        other = "conv" if self.backbone == "mlp" else "mlp"
        for f in dataclasses.fields(self):
            if not (f.name.startswith("conv_") if other == "conv" else f.name == "hidden"):
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if getattr(self, f.name) != default:
                raise ConfigError(f"model.{f.name} is a setting of model.backbone {other!r}, and model.backbone is "
                                  f"{self.backbone!r}: remove it (or set model.backbone: {other})")

    def _check_ccvae(self) -> None:
        if self.name != "ccvae":
            for name, default in CCVAE_DEFAULTS.items():
                if getattr(self, name) != default:
                    raise ConfigError(f"model.{name} is a setting of model.name 'ccvae', not of {self.name!r}; "
                                      f"remove it")
            return
        _finite("model", "ccvae_prior_init", self.ccvae_prior_init)
        _positive("model", "ccvae_prior_rate", self.ccvae_prior_rate)
        if isinstance(self.ccvae_k, bool) or not isinstance(self.ccvae_k, int) or self.ccvae_k < 1:
            raise ConfigError(f"model.ccvae_k (samples for log q(y|x)) must be an integer >= 1, got {self.ccvae_k!r}")
        if self.reduction != "sum":
            raise ConfigError("model.reduction must be 'sum' for ccvae: its weight q(y|z_c)/q(y|x) multiplies "
                              f"log-densities of whole examples, got {self.reduction!r}")


@dataclass
class DataConfig:
    """Where the data come from. Toy sets are generated; image sets are read from ``root``."""

    name: str = "swiss_roll"
    seed: int = 0
    """Seed of generated data and of seeded splits."""
    n_samples: int = 4000
    noise: float = 0.05
    test_fraction: float = 0.25
    standardize: bool = True
    """Standardise x with the training mean/std (stored in the model; vector data only)."""
    root: Optional[str] = None
    attributes: Optional[list[str]] = None
    image_size: int = 32
    cache: Optional[str] = None
    """Image sets: folder of the uint8 cache (None: a folder per settings under $CSVAE_CACHE_DIR,
    else $XDG_CACHE_HOME/csvae, else ~/.cache/csvae; see docs/data.md)."""
    crop: Optional[int] = None
    """Image sets: side of the centred square cut before resizing (None: the reader's default,
    148 for CelebA, the largest centred square for TFD and folders)."""
    balance: Literal["weight", "sample", "discard", "none"] = "weight"
    """How the terms that read labels are balanced when a label is rare (``csvae.data.balance``):
    weight (every image used, label terms weighted per label combination), sample (a class-balanced
    sampler), discard (subsample the training split), none."""
    holdout_fraction: float = 0.1
    """Image sets: fraction of rows moved to each of valid and test when the source has none."""
    strict: bool = False
    """Image sets: a listed image that is missing is an error (else it is dropped and counted)."""
    skip_bad: bool = False
    """Image sets: skip (and count) images that cannot be decoded instead of failing."""
    fold: int = 0
    """TFD: which of its 5 folds (0..4)."""
    csv: Optional[str] = None
    """folder: the label CSV, relative to root (None: labels.csv or the only .csv in root)."""
    filename_column: Optional[str] = None
    """folder: the CSV column of image file names (None: the first column)."""
    labelled_fraction: float = 1.0
    """Share of the training rows whose labels the model sees (in (0, 1]); the others, a seeded
    choice (``seed``), become unknown (NaN); each model's use of them is in docs/models.md."""
    workers: Optional[int] = None
    """Image sets: processes that decode the cache (None: every available core)."""

    def __post_init__(self):
        if self.balance is None or isinstance(self.balance, bool):  # written before data.balance named choices
            self.balance = legacy_balance(self.name, self.balance)
        _check_annotations(self, "data")
        _positive("data", "n_samples", self.n_samples)
        _positive("data", "noise", self.noise, allow_zero=True)
        _positive("data", "image_size", self.image_size)
        if self.crop is not None:
            _positive("data", "crop", self.crop)
        if self.workers is not None:
            _positive("data", "workers", self.workers)
        if not 0 <= self.holdout_fraction < 0.5:
            raise ConfigError(f"data.holdout_fraction must be in [0, 0.5), got {self.holdout_fraction!r}")
        if isinstance(self.fold, bool) or self.fold not in range(5):
            raise ConfigError(f"data.fold must be 0, 1, 2, 3 or 4, got {self.fold!r}")
        _finite("data", "labelled_fraction", self.labelled_fraction)
        if not 0 < self.labelled_fraction <= 1:
            raise ConfigError(f"data.labelled_fraction must be in (0, 1], got {self.labelled_fraction!r}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {self.test_fraction!r}")


LEGACY_BALANCED = ("celeba-glasses", "celeba-facialhair", "celeba-glasses-facialhair")
"""The readers whose training split was subsampled when data.balance was a boolean left empty."""


def legacy_balance(name: str, value: Optional[bool]) -> str:
    """The ``data.balance`` choice of a config written when it was a boolean (csvae 0.x): true
    subsampled the training split (discard); empty did so for the CelebA presets; false did not."""
    if value is None:
        value = name in LEGACY_BALANCED
    return "discard" if value else "none"


@dataclass
class TrainConfig:
    """How a model is trained by the one loop in ``csvae.train``."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    adversary_lr: float = 1e-3
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """How both learning rates move over the run's steps: constant, or cosine (from the set rate
    down to zero on the last step; Loshchilov & Hutter 2017, without restarts). A function of the
    step alone, so a resumed run continues on the same curve."""
    adversary_steps: int = 1
    """Adversary updates per model update (on the same detached z)."""
    seed: int = 0
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto."""
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    """Lightning Fabric precision. bf16-mixed runs the forward under bf16 autocast (also on a CPU
    with avx512_bf16 or AMX, where it is faster: docs/performance.md, "Figures behind the code");
    16-mixed is float16 with a loss scaler on CUDA (bf16 on a CPU)."""
    threads: Optional[int] = None
    """Torch intra-op threads while ``fit`` runs (the previous count is restored afterwards).
    None: one thread, for vector and image data alike. On a machine shared with other jobs more
    threads than free cores thrash; one thread never does, at some cost on an idle machine
    (docs/performance.md, "Figures behind the code"). Set it to the number of cores of a machine
    you have to yourself."""
    log_every: int = 50
    checkpoint_every: int = 500
    devices: Union[int, list[int]] = 1
    """Processes per node: a count, or (CUDA) a list of GPU indices. Above 1 (or with num_nodes
    above 1) training is data-parallel (DDP): ``batch_size`` stays the global batch, split evenly
    over the processes, and ``lr`` applies unchanged (docs/performance.md, "Several devices")."""
    num_nodes: int = 1
    """Machines; above 1 the job must be started by torchrun or SLURM's srun on every node."""
    strategy: Literal["auto", "ddp"] = "auto"
    """auto: DDP when more than one process trains, else one device; ddp: DDP (one process: the
    same as auto)."""
    compile: bool = False
    """Run the training forward through ``torch.compile`` (the first steps pay the compilation;
    worth it for long runs of the paper-size nets on a GPU). Off by default."""
    loader: Literal["auto", "device", "stream"] = "auto"
    """device: the training set lives on the device, batches are indexed there; stream: batches
    are gathered from host memory (or the memory-mapped cache) by a prefetching thread and copied
    to the device; auto: device when the set takes at most half of the device's free memory
    (host: of the available RAM), shared by the node's processes, else stream."""

    @property
    def world_size(self) -> int:
        """Processes training together: devices per node times nodes."""
        count = len(self.devices) if isinstance(self.devices, list) else self.devices
        return count * self.num_nodes

    def __post_init__(self):
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"train.threads must be a positive integer (or null: one thread), "
                              f"got {self.threads!r}")
        _check_annotations(self, "train")
        for name in ("epochs", "batch_size", "lr", "adversary_lr", "adversary_steps", "log_every",
                     "checkpoint_every"):
            _positive("train", name, getattr(self, name))
        _check_devices(self.devices)
        if isinstance(self.num_nodes, bool) or not isinstance(self.num_nodes, int) or self.num_nodes < 1:
            raise ConfigError(f"train.num_nodes must be a positive integer, got {self.num_nodes!r}")
        if self.batch_size % self.world_size:
            raise ConfigError(f"train.batch_size {self.batch_size} is the global batch and must divide evenly "
                              f"over the {self.world_size} processes (train.devices x train.num_nodes)")
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|auto|cuda(:\d+)?", self.device):
            raise ConfigError(f"train.device must be cpu, cuda, cuda:N or auto, got {self.device!r}")


def _check_devices(devices) -> None:
    """A positive count, or a non-empty list of distinct GPU indices."""
    if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 1:
        return
    if (isinstance(devices, list) and devices and len(set(devices)) == len(devices)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices)):
        return
    raise ConfigError(f"train.devices must be a positive count or a list of distinct GPU indices such as "
                      f"[0, 1], got {devices!r}")


@dataclass
class RunConfig:
    """One training run: a model, the data it learns from and how it is trained."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def _check_keys(cls, values: dict, where: str) -> None:
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]}; valid keys of {where}: {sorted(known)}")


def _coerce(where: str, value, annotation: str):
    """Check a YAML value against a field's annotation (as a string; postponed evaluation)."""
    ann = annotation[len("Optional["):-1] if annotation.startswith("Optional[") else annotation
    if value is None:
        if annotation.startswith("Optional"):
            return None
        raise ConfigError(f"{where} must not be empty")
    if ann in ("int",):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
    elif ann == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif ann == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif ann == "str":
        if not isinstance(value, str):
            hint = (" (YAML reads yes/no/on/off/true/false as booleans: quote the value, e.g. 'no')"
                    if isinstance(value, bool) else "")
            raise ConfigError(f"{where} must be a string, got {value!r}{hint}")
    elif ann.startswith("Literal["):
        choices = ast.literal_eval(f"({ann[len('Literal['):-1]},)")
        if value not in choices:
            raise ConfigError(f"{where} must be one of {list(choices)}, got {value!r}")
    elif ann.startswith("list["):
        item = ann[5:-1]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list of {item}, got {value!r}")
        value = [_coerce(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
    return value


def _section_from_dict(cls, values: dict, where: str):
    """A config section from a mapping; its ``__post_init__`` checks every value's type."""
    _check_keys(cls, values, where)
    return cls(**values)


def model_config(**options) -> ModelConfig:
    """A ModelConfig from keyword arguments, type-checked like YAML (unknown keys are errors)."""
    return _section_from_dict(ModelConfig, options, "model")


def config_from_dict(values: dict) -> RunConfig:
    """Build a validated RunConfig from a nested dict such as a parsed YAML file."""
    _check_keys(RunConfig, values, "config")
    return RunConfig(**{name: _section_from_dict(cls, values.get(name) or {}, name)
                        for name, cls in SECTIONS.items()})


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # the base class reports keys that cannot be keys
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1 reads 1e-3 (no dot, or an exponent without a sign) as a string; these forms are floats too
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                       re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
                                       list("-+0123456789."))


def yaml_value(text: str):
    """A value written in YAML (a ``--section.field`` override), read as config files are:
    ``1e-3`` is a number."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def load_config(path: str | os.PathLike) -> RunConfig:
    from csvae.safeio import read_bounded

    path = Path(path)
    try:
        text = read_bounded(path, MAX_CONFIG_BYTES, "config file").decode("utf-8-sig")
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
                          f"{err.start})") from err
    except ValueError as err:  # not a regular file, or too large
        raise ConfigError(str(err)) from None
    try:
        values = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if values is None:
        raise ConfigError(f"config file {path} is empty; give at least one section (model, data, train), "
                          f"e.g. copy one of configs/")
    try:
        return config_from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader never sees a half-written file and an old file survives a crash."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:16]}.tmp"
    # mode 0o666 less the umask, as open() gives a new file (tempfile.mkstemp would give 0o600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_config(config: RunConfig, path: str | os.PathLike) -> None:
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    atomic_write_bytes(path, text.encode())
