"""Typed configuration: model, data and training settings, YAML in and out, validated on creation.

Every ambiguous choice of the paper (see docs/models.md) is a field here with its documented
default. A config is checked when it is built, so a wrong value fails before any training starts,
with a message naming the field (``model.z_dim``) and what was expected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from csvae.constraints import (
    NON_NEGATIVE,
    ConfigError,
    Each,
    Finite,
    Integer,
    Interval,
    Matches,
    OneOf,
    Positive,
    Rule,
    check_keys,
    check_section,
    field_default,
    is_integer,
)

MODEL_NAMES = ("vae", "condvae", "condvae_info", "csvae", "ccvae", "msp", "guided_vae", "s2vae")
"""The registry of model names, in the order of tables and experiments; ``csvae.models.MODELS``
maps each to its class."""
PEERS = ("msp", "guided_vae", "s2vae")
"""The peer models of issue 28, run beside the paper's five by ``csvae reproduce`` toy,
synthetic-faces, partly-labelled and celeba-peers (not the demo, nor celeba by default)."""
BASELINES = ("vae", "condvae", "condvae_info")
"""The paper's baselines, which the report compares with CSVAE."""
STYLE_MODELS = ("csvae", "ccvae")
"""The models with a code block per label: they draw an attribute's styles (``manipulate`` with
``style="sample"``) and transfer one (``transfer``). The others edit deterministically (one code,
or one coordinate, per label), so the report says they cannot draw styles."""
REMOVES_LABEL = ("csvae", "condvae_info")
"""The models whose encoder removes y from z (``model.independence``)."""
LABEL_COORDINATES = ("msp", "guided_vae", "s2vae")
"""The models with one latent coordinate for each label (``model.w_dim`` 1): MSP's label code M z,
Guided-VAE's excited coordinates, S²-VAE's label coordinates."""

@dataclass
class Betas:
    """Loss weights (beta1..beta5 of the paper; defaults (20, 1, 0.2, 10, 1)).

    Every model uses ``recon`` and ``kl_z``, so the reconstruction/KL balance is the same for all
    of them. CSVAE adds ``kl_w``, ``entropy`` (the encoder's M2 weight) and ``adversary`` (N).
    CondVAE-info uses ``entropy`` as the weight of the encoder's adversarial term and
    ``adversary`` for its adversary's cross-entropy, Guided-VAE for its inhibition and its
    adversary's cross-entropy. With ``model.independence`` hsic or club,
    ``entropy`` weighs that penalty instead.
    """

    recon: float = 20.0  # beta1
    kl_w: float = 1.0  # beta2
    kl_z: float = 0.2  # beta3
    entropy: float = 10.0  # beta4
    adversary: float = 1.0  # beta5

    def __post_init__(self):
        check_section(self, "model.betas", {f.name: NON_NEGATIVE for f in dataclasses.fields(self)})


@dataclass
class ModelConfig:
    """What a model is: its latents, prior, likelihood, losses and networks."""

    name: str = "csvae"
    """One of ``MODEL_NAMES``."""
    z_dim: int = 2
    """Size of z. For the baselines, ``build_model`` adds ``w_dim * n_subspaces`` to it by default
    (``match_latent_size``) so that all models have the same total latent size."""
    w_dim: Optional[int] = None
    """Size of each label's block of the characteristic code: CSVAE's subspace W_i (the paper: 2),
    CCVAE's z_c,i (the paper: 1; more is our generalisation), the label coordinate of MSP,
    Guided-VAE and S²-VAE (1, the only size they take). None: 1 for those and ccvae, else 2."""
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
    w_posterior: Literal["direct", "prior_offset"] = "direct"
    """CSVAE: what the W head gives. direct (the paper): the mean and log-variance of q(w|x,y);
    prior_offset (ours): their offsets from those of p(w|y), so that q starts at the prior and a
    step of the optimiser moves it as far wherever the prior lies. With direct, Adam moves the
    head's output by about lr a step, so a short fit cannot reach a prior mean far from 0
    (docs/models.md, "Where q(w|x,y) starts")."""
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
    s2vae_loss: Literal["xent", "l2"] = "xent"
    """S²-VAE: the supervised loss R_s tying latent coordinate i to label column i on the labelled
    rows (disentanglement_lib's): xent, the sigmoid cross-entropy of the coordinate read as a logit
    (a softmax over the class coordinates for a categorical label), or l2, (b * mu_i - y_i)^2 with a
    learned scale b (docs/models.md)."""
    s2vae_gamma: float = 4.0
    """S²-VAE: gamma_sup, the weight of R_s (averaged over the labelled rows of a batch)."""
    s2vae_anneal: Literal["linear", "fine_tune", "none"] = "linear"
    """S²-VAE: how gamma_sup is reached over the run (disentanglement_lib's annealers): linear from 0
    to gamma over the first ``s2vae_anneal_fraction`` of the steps, fine_tune (0, then gamma after
    that fraction) or none (gamma from the first step)."""
    s2vae_anneal_fraction: float = 0.1
    """S²-VAE: the share of the training steps over which ``s2vae_anneal`` reaches gamma_sup."""
    swap_cycle: float = 0.0
    """CSVAE, our extension beyond the paper (0: off): weight of the swap cycle, which decodes each
    example with one subspace W_i of another example and asks the encoders to read back the codes
    that drew it (``csvae.models.swaps``; docs/models.md)."""
    w_independence: float = 0.0
    """CSVAE, our extension beyond the paper (0: off): weight of a discriminator's estimate of the
    total correlation between z and the subspaces W_i given y (``csvae.models.swaps``)."""
    msp_weight: Optional[float] = None
    """MSP: the weight of its projection loss (both terms). None: the official code's
    betas.recon * D / (k + d) (D the input's size, k the labels', d z's) with ``reduction`` sum,
    betas.recon with mean."""
    msp_rest: Literal["null_space", "label"] = "null_space"
    """MSP, the term on the part of z outside the label subspace: the paper's ||s||^2 = ||N z||^2,
    N an orthonormal basis of the complement of M's row space (null_space; needs no label, so it
    covers unlabelled rows too), or the official code's ||z - M^T y||^2 (label)."""
    guided_vae_excitation: float = 10.0
    """Guided-VAE: the weight of the excitation term, each excited coordinate's classifier
    -log q(y_i | z_i) (the official code weighs it as the inhibition, betas.entropy's default)."""
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
        check_section(self, "model", MODEL_CONSTRAINTS)
        if self.w_dim is None:
            self.w_dim = 1 if self.name in ("ccvae", *LABEL_COORDINATES) else 2
        self._check_own_fields()
        self._check_ccvae()
        self._check_backbone()
        for f in dataclasses.fields(self):
            if (f.name in ("independence", "independence_input") and getattr(self, f.name) != field_default(f)
                    and self.name not in REMOVES_LABEL):
                raise ConfigError(f"model.{f.name} is a setting of model.name 'csvae' and 'condvae_info' (the models "
                                  f"that remove y from z), not of {self.name!r}; remove it")
        for name in ("swap_cycle", "w_independence", "w_posterior"):
            if getattr(self, name) not in (0.0, "direct") and self.name != "csvae":
                raise ConfigError(f"model.{name} is a CSVAE term; model.name is {self.name!r}")
        if not isinstance(self.betas, Betas):
            check_keys(Betas, self.betas, "model.betas")
            self.betas = Betas(**self.betas)

    def _check_backbone(self) -> None:
        """A setting of the other backbone (``conv_*`` with the MLP, ``hidden`` with the conv nets)
        would be ignored silently: refused unless it is left at its default."""
        other = "conv" if self.backbone == "mlp" else "mlp"
        for f in dataclasses.fields(self):
            if not (f.name.startswith("conv_") if other == "conv" else f.name == "hidden"):
                continue
            if getattr(self, f.name) != field_default(f):
                raise ConfigError(f"model.{f.name} is a setting of model.backbone {other!r}, and model.backbone is "
                                  f"{self.backbone!r}: remove it (or set model.backbone: {other})")

    def _check_own_fields(self) -> None:
        """The fields of one model (``model.ccvae_*``, ``model.msp_*``, ...; ``OWN_FIELDS``): checked
        against their model's table for that model (when set), left at their defaults by the others."""
        for owner, constraints in OWN_FIELDS.items():
            if self.name == owner:
                for name, rule in constraints.items():
                    if getattr(self, name) is not None:
                        rule.check(f"model.{name}", getattr(self, name))
                continue
            for f in dataclasses.fields(self):
                if f.name.startswith(f"{owner}_") and getattr(self, f.name) != field_default(f):
                    raise ConfigError(f"model.{f.name} is a setting of model.name {owner!r}, not of {self.name!r}; "
                                      f"remove it")
        if self.name in LABEL_COORDINATES and self.w_dim != 1:
            raise ConfigError(f"model.w_dim must be 1 for {self.name} (one latent coordinate for each label), "
                              f"got {self.w_dim}")

    def _check_ccvae(self) -> None:
        """Rules of ccvae between its fields and the shared ones."""
        if self.name != "ccvae":
            return
        if self.reduction != "sum":
            raise ConfigError("model.reduction must be 'sum' for ccvae: its weight q(y|z_c)/q(y|x) multiplies "
                              f"log-densities of whole examples, got {self.reduction!r}")


MODEL_CONSTRAINTS = {
    "name": OneOf(MODEL_NAMES),
    **dict.fromkeys(("z_dim", "w_dim", "gaussian_std", "laplace_scale", "head_hidden", "conv_dense",
                     "prior_scale_0", "prior_scale_1"), Positive()),
    **dict.fromkeys(("prior_mean_0", "prior_mean_1"), Finite()),
    **dict.fromkeys(("swap_cycle", "w_independence"), NON_NEGATIVE),
    **dict.fromkeys(("hidden", "adversary_hidden", "conv_channels"), Each(Positive())),
    "conv_kernel": Integer(lambda v: 3 <= v <= 7, "an integer in 3..7"),
}
"""The types and ranges of ``ModelConfig``'s fields beyond their annotations."""
CCVAE_CONSTRAINTS = {
    "ccvae_k": Integer(lambda v: v >= 1, "an integer >= 1", note=" (samples for log q(y|x))"),
    "ccvae_prior_init": Finite(),
    "ccvae_prior_rate": Positive(),
}
"""The ranges of the CCVAE fields, checked for ccvae (the other models keep their defaults)."""
S2VAE_CONSTRAINTS = {
    "s2vae_gamma": NON_NEGATIVE,
    "s2vae_anneal_fraction": Interval("(", 0, 1, "]", finite=True),
}
"""The ranges of the S²-VAE fields, checked for s2vae (the other models keep their defaults)."""
MSP_CONSTRAINTS = {"msp_weight": NON_NEGATIVE}
"""The ranges of the MSP fields, checked for msp (the other models keep their defaults)."""
GUIDED_VAE_CONSTRAINTS = {"guided_vae_excitation": NON_NEGATIVE}
"""The ranges of the Guided-VAE fields, checked for guided_vae (the other models keep their defaults)."""
OWN_FIELDS = {"ccvae": CCVAE_CONSTRAINTS, "msp": MSP_CONSTRAINTS, "guided_vae": GUIDED_VAE_CONSTRAINTS,
              "s2vae": S2VAE_CONSTRAINTS}
"""Each model with fields of its own (named ``model.<name>_*``) and the table of their ranges."""


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
        check_section(self, "data", DATA_CONSTRAINTS)


DATA_CONSTRAINTS = {
    **dict.fromkeys(("n_samples", "image_size", "crop", "workers"), Positive()),
    "noise": NON_NEGATIVE,
    "holdout_fraction": Interval("[", 0, 0.5, ")"),
    "fold": Integer(lambda v: 0 <= v <= 4, "0, 1, 2, 3 or 4"),
    "labelled_fraction": Interval("(", 0, 1, "]", finite=True),
    "test_fraction": Interval("(", 0, 1, ")"),
}
"""The types and ranges of ``DataConfig``'s fields beyond their annotations."""


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
        check_section(self, "train", TRAIN_CONSTRAINTS)
        if self.batch_size % self.world_size:
            raise ConfigError(f"train.batch_size {self.batch_size} is the global batch and must divide evenly "
                              f"over the {self.world_size} processes (train.devices x train.num_nodes)")


def _devices(devices) -> bool:
    """A positive count, or a non-empty list of distinct GPU indices."""
    if isinstance(devices, list):
        return bool(devices) and len(set(devices)) == len(devices) and all(is_integer(d) and d >= 0 for d in devices)
    return is_integer(devices) and devices >= 1


TRAIN_CONSTRAINTS = {
    "threads": Integer(lambda v: v >= 1, "a positive integer (or null: one thread)"),
    **dict.fromkeys(("epochs", "batch_size", "lr", "adversary_lr", "adversary_steps", "log_every",
                     "checkpoint_every"), Positive()),
    "devices": Rule(_devices, "a positive count or a list of distinct GPU indices such as [0, 1]"),
    "num_nodes": Integer(lambda v: v >= 1, "a positive integer"),
    "device": Matches(r"cpu|auto|cuda(:\d+)?", "cpu, cuda, cuda:N or auto"),
}
"""The types and ranges of ``TrainConfig``'s fields beyond their annotations."""


@dataclass
class RunConfig:
    """One training run: a model, the data it learns from and how it is trained."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def _section_from_dict(cls, values: dict, where: str):
    """A config section from a mapping; its ``__post_init__`` checks every value's type."""
    check_keys(cls, values, where)
    return cls(**values)


def model_config(**options) -> ModelConfig:
    """A ModelConfig from keyword arguments, type-checked like YAML (unknown keys are errors)."""
    return _section_from_dict(ModelConfig, options, "model")


def config_from_dict(values: dict) -> RunConfig:
    """Build a validated RunConfig from a nested dict such as a parsed YAML file."""
    check_keys(RunConfig, values, "config")
    return RunConfig(**{name: _section_from_dict(cls, values.get(name) or {}, name)
                        for name, cls in SECTIONS.items()})


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
