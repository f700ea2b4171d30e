"""The experiments of ``csvae reproduce`` as data: which parts (one data set each), which variants
(the eight models, the paper's five, or one model with one choice changed) and how many seeds."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from csvae.config import MODEL_NAMES, PEERS, ConfigError
from csvae.presets import presets_dir


@dataclass(frozen=True)
class Variant:
    """One configuration a part runs: its label in the report, the model preset it starts from
    and its config overrides (as (("model.w_dim", 4), ...))."""

    label: str
    model: str
    overrides: tuple = ()
    seeds: Optional[int] = None
    """Seeds of this variant (None: the part's)."""


MODEL_VARIANTS = tuple(Variant(m, m) for m in MODEL_NAMES)
"""The eight models: the paper's five and the three peers (``csvae.config.PEERS``)."""
PAPER_VARIANTS = tuple(v for v in MODEL_VARIANTS if v.model not in PEERS)
"""The paper's five models, without the peers: the demo (its 12-minute budget), the CelebA
experiments (``celeba-peers`` adds them) and TFD (no peer presets)."""


@dataclass(frozen=True)
class Part:
    """One data set of an experiment: its presets folder, variants and config overrides
    (overrides as (("model.w_dim", 4), ...))."""

    data: str
    presets: str
    variants: tuple[Variant, ...] = MODEL_VARIANTS
    overrides: tuple = ()
    needs_root: bool = False
    shared: Optional[str] = None
    """The folder of ../shared/data read when no --data-root is given (``shared_root``)."""
    seeds: Optional[int] = None
    """Seeds of this part (None: the experiment's)."""
    optional: bool = False
    """Run only where its data is found; elsewhere it is left out, and the report says so."""
    name: Optional[str] = None
    """Its name in the experiment folder and the report (None: ``data``), for parts that run one
    data set more than once (the labelled fractions of ``partly-labelled``)."""

    @property
    def label(self) -> str:
        """The part's name in the folder (runs/<label>/...) and the report."""
        return self.name or self.data


@dataclass(frozen=True)
class Experiment:
    name: str
    parts: tuple[Part, ...]
    seeds: int = 5
    description: str = ""


def ablation_variants() -> tuple:
    """CSVAE with each documented choice flipped on its own (see docs/models.md)."""
    flips = {
        "paper defaults": (),
        "tight prior on y=1": (("model.prior_mean_0", 3.0), ("model.prior_scale_0", 1.0),
                               ("model.prior_mean_1", 0.0), ("model.prior_scale_1", 0.1)),
        "0.1 read as variance": (("model.prior_scale_is", "variance"),),
        "learned prior": (("model.prior_learned", True),),
        "beta4 = 0": (("model.betas.entropy", 0.0),),
        "no adversary": (("model.betas.entropy", 0.0), ("model.betas.adversary", 0.0)),
        "cross-entropy encoder": (("model.encoder_objective", "cross_entropy"),),
        "dim w_i = 1": (("model.w_dim", 1),),
        "dim w_i = 4": (("model.w_dim", 4),),
        "mean reduction": (("model.reduction", "mean"),),
        "beta2 = 8 (face preset)": (("model.betas.kl_w", 8.0),),
        "W independence 10 (ours)": (("model.w_independence", 10.0),),
    }
    return tuple(Variant(label, "csvae", overrides) for label, overrides in flips.items())


def independence_variants() -> tuple:
    """CSVAE on the swiss roll with the ways of removing y from z (docs/models.md): the adversary's
    steps and capacity, HSIC, CLUB, the posterior mean as its input, and a 1-D z with each. The
    candidates for the swiss-roll target (chosen from one-seed trials) run over 5 seeds."""
    steps = ("train.adversary_steps", 5)
    flips = {
        "paper defaults": (),
        "adversary x5": (steps,),
        "adversary x5, 256x2": (steps, ("model.adversary_hidden", [256, 256])),
        "HSIC, beta4 = 100": (("model.independence", "hsic"), ("model.betas.entropy", 100.0)),
        "HSIC, beta4 = 1000": (("model.independence", "hsic"), ("model.betas.entropy", 1000.0)),
        "CLUB, beta4 = 10": (("model.independence", "club"),),
        "posterior mean, adversary x5": (("model.independence_input", "mean"), steps),
        "dim z = 1": (("model.z_dim", 1),),
    }
    candidates = {
        "dim z = 1, adversary x5": (("model.z_dim", 1), steps),
        "dim z = 1, HSIC, beta4 = 100": (("model.z_dim", 1), ("model.independence", "hsic"),
                                         ("model.betas.entropy", 100.0)),
        "dim z = 1, CLUB, beta4 = 10": (("model.z_dim", 1), ("model.independence", "club")),
    }
    return (*(Variant(label, "csvae", overrides) for label, overrides in flips.items()),
            *(Variant(label, "csvae", overrides, seeds=5) for label, overrides in candidates.items()))


TOY_PARTS = tuple(Part(name, "toy") for name in ("swiss_roll", "s_curve", "moons3d", "swiss_roll_k2"))
ABLATION_FACES = (("data.n_samples", 4000), ("train.epochs", 6), ("model.w_dim", 2), ("model.betas.kl_w", 1.0),
                  ("model.w_independence", 0.0), ("model.conv_film", False))
"""Synthetic faces for the ablations: smaller and shorter, and with the paper's model (2-D w_i,
β2 = 1, no W-independence term, Larsen's decoder) as the base that each choice is flipped from (the
synthetic-face preset uses 3-D, β2 = 8, W independence 10 and a FiLM decoder)."""
CELEBA_PARTS = tuple(Part(name, "celeba64", PAPER_VARIANTS, needs_root=True, shared="celeba-20k") for name in (
    "celeba-glasses", "celeba-facialhair", "celeba-glasses-facialhair", "celeba-smiling"))
"""The paper's three CelebA tasks and Smiling, 64 px CPU presets, on celeba-20k, with the paper's
five models (``celeba-peers``: all eight)."""
LABELLED_FRACTIONS = (1.0, 0.2, 0.05)
PARTLY_LABELLED_PARTS = tuple(Part("synthetic_faces", "synthetic_faces", overrides=(("data.labelled_fraction", f),),
                                   name=f"partly_labelled_{f:g}") for f in LABELLED_FRACTIONS)
"""Synthetic faces with the training labels of all but a share of the faces hidden
(``data.labelled_fraction``; docs/models.md, "Partly labelled data"), a part per share."""
EXPERIMENTS = {
    "toy": Experiment("toy", TOY_PARTS, 5, "the paper's toy experiment and three more toy sets, eight models"),
    "synthetic-faces": Experiment("synthetic-faces", (Part("synthetic_faces", "synthetic_faces"),), 3,
                                  "synthetic faces with ground-truth styles, eight models"),
    "celeba": Experiment("celeba", CELEBA_PARTS, 1,
                         "the paper's CelebA study at 64 px on every image of celeba-20k (three tasks, and Smiling)"),
    "celeba-peers": Experiment(
        "celeba-peers", tuple(dataclasses.replace(p, variants=MODEL_VARIANTS) for p in CELEBA_PARTS), 1,
        "the celeba study with the three peers (MSP, Guided-VAE, S²-VAE) beside the five models: about 8/5 of its "
        "CPU time (copy runs/ and judges/ of a finished celeba folder in first to reuse the five's runs)"),
    "partly-labelled": Experiment("partly-labelled", PARTLY_LABELLED_PARTS, 1,
                                  "the eight models on synthetic faces with all, 20% and 5% of the training labels "
                                  "(the rest hidden; one seed, --seeds 3 for the results table)"),
    "celeba-glasses": Experiment("celeba-glasses", (CELEBA_PARTS[0],), 3),
    "celeba-facialhair": Experiment("celeba-facialhair", (CELEBA_PARTS[1],), 3),
    "celeba-glasses-facialhair": Experiment("celeba-glasses-facialhair", (CELEBA_PARTS[2],), 3),
    "tfd-expressions": Experiment("tfd-expressions", (Part("tfd", "tfd", PAPER_VARIANTS, needs_root=True),), 3),
    "demo": Experiment("demo", (Part("swiss_roll", "toy", PAPER_VARIANTS),
                                Part("synthetic_faces", "synthetic_faces", PAPER_VARIANTS),
                                Part("celeba-glasses", "celeba", PAPER_VARIANTS, needs_root=True,
                                     shared="celeba-20k", optional=True)), 1,
                       "the README's main job: the swiss roll (one seed; `reproduce toy` runs five, and three "
                       "more toy sets), synthetic faces and real CelebA photos (celeba-20k at 32 px); the paper's five "
                       "models (the peers run in toy, synthetic-faces, partly-labelled and celeba-peers)"),
    "ablations": Experiment("ablations", (Part("swiss_roll", "toy", ablation_variants()),
                                          Part("synthetic_faces", "synthetic_faces", ablation_variants(),
                                               overrides=ABLATION_FACES)), 3,
                            "each of the authors' choices flipped on its own"),
    "independence": Experiment("independence", (Part("swiss_roll", "toy", independence_variants()),), 3,
                               "CSVAE's ways of removing y from z on the swiss roll (docs/ablations.md)"),
}


def preset_path(folder: str, model: str) -> Path:
    """configs/<folder>/<model>.yaml, shipped inside the package."""
    return presets_dir() / folder / f"{model}.yaml"


SHARED_DATA = {"celeba-subset": "CSVAE_CELEBA_SUBSET", "celeba-20k": "CSVAE_CELEBA_20K"}
"""The folders of ../shared/data the experiments read, and the variable that points elsewhere."""


def shared_root(folder: Optional[str]) -> Optional[Path]:
    """The data folder ``folder`` of ``SHARED_DATA``: its environment variable, else
    <repo>/../shared/data/<folder> when it is there (None otherwise, and for None)."""
    if folder is None:
        return None
    if os.environ.get(SHARED_DATA[folder]):
        return Path(os.environ[SHARED_DATA[folder]])
    candidate = Path(__file__).resolve().parents[4] / "shared" / "data" / folder
    return candidate if candidate.is_dir() else None


QUICK_OVERRIDES = (("train.epochs", 1), ("data.n_samples", 600))
QUICK_NOTE = ("QUICK SMOKE TEST (csvae reproduce --quick: small generated data, one epoch, one seed, no data from "
              "disk): it checks that every stage runs; its numbers mean nothing")


def quick_experiment(experiment: Experiment) -> Experiment:
    """``reproduce --quick``: the experiment's parts that need no data from disk, on small data for
    one epoch and one seed, its description marked as a smoke test."""
    parts = tuple(dataclasses.replace(p, overrides=(*p.overrides, *QUICK_OVERRIDES), seeds=1,
                                      variants=tuple(dataclasses.replace(v, seeds=None) for v in p.variants))
                  for p in experiment.parts if not p.needs_root)
    if not parts:
        raise ConfigError(f"experiment {experiment.name} reads its data from disk; --quick runs only the parts "
                          f"that generate theirs (try: csvae reproduce demo --quick)")
    return dataclasses.replace(experiment, parts=parts, seeds=1,
                               description=f"{QUICK_NOTE}. Data: {', '.join(p.data for p in parts)}")
