"""The public Python API: ``build_model``, ``fit``, ``load`` (re-exported as ``csvae.*``)."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from lightning_fabric import Fabric

from csvae.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from csvae.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    model_config,
)
from csvae.configfile import load_config, save_config
from csvae.constraints import is_positive_integer
from csvae.data.balance import discard_rows, example_weights, weight_table
from csvae.data.checks import DataError, check_learnable, check_xy
from csvae.datacard import ARRAYS, DataCard, card_of_arrays, read_card, write_card
from csvae.distributed import launch, on_rank_zero
from csvae.models import MODELS
from csvae.models.base import LatentModel
from csvae.provenance import write_versions
from csvae.rundir import RunDir
from csvae.safeio import FolderLock
from csvae.train import check_fabric, train, training_threads


def build_model(name: str, x_dim: Optional[int] = None, y_dim: int = 1, *, x_shape: Optional[Sequence[int]] = None,
                seed: Optional[int] = None, **options) -> LatentModel:
    """A fresh model: "vae" | "condvae" | "condvae_info" | "csvae" | "ccvae" | "s2vae".

    x_dim: size of vector data (or x_shape=(C, H, W) for images; the backbone is then "conv"
    unless given). y_dim: number of label columns k. options: any ModelConfig field, e.g.
    z_dim=2, w_dim=2, betas={"entropy": 10}. seed: seeds the weight initialisation."""
    if (x_dim is None) == (x_shape is None):
        raise ConfigError("give exactly one of x_dim (vector data) or x_shape (e.g. (3, 64, 64) for images)")
    shape = (int(x_dim),) if x_dim is not None else tuple(int(s) for s in x_shape)
    if any(s < 1 for s in shape):
        raise ConfigError(f"x_dim/x_shape must be positive, got {shape}")
    if len(shape) == 3:
        options.setdefault("backbone", "conv")
    config = model_config(name=name, **options)
    return model_from_config(config, shape, y_dim, seed)


def model_from_config(config: ModelConfig, x_shape: Sequence[int], y_dim: int,
                      seed: Optional[int] = None) -> LatentModel:
    if seed is not None:
        torch.manual_seed(seed)
    return MODELS[config.name](config, tuple(x_shape), y_dim)


def stored_config(path: Path) -> RunConfig:
    """The config a checkpoint or model.pt was written with (CheckpointError if unreadable)."""
    state = load_checkpoint(path)
    try:
        return config_from_dict(state["config"]) if state["config"] else RunConfig()
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"{path} holds a config this csvae cannot read: {err}") from err


def prepare_run_folder(out: str | os.PathLike, config: RunConfig, card: DataCard, resume: bool,
                       overwrite: bool) -> RunDir:
    """Make the run folder, refusing one that already holds a run (a config.yaml, a checkpoint or a
    model.pt) unless resuming (same config as config.yaml and as the checkpoint, same data as
    data.json) or overwriting. Writes the exact config to config.yaml, the data card to
    data.json and the versions (``csvae.provenance``) to versions.json. The folder's lock is taken
    first (a second writer is refused) and held by the returned RunDir until ``save_final``.
    Overwriting trains into a staging folder (``RunDir.staged``): nothing of the old run changes
    until ``save_final`` has a complete new model. Call it only once everything else has been
    checked."""
    run = RunDir(Path(out))
    if resume and overwrite:
        raise ConfigError("pass either --resume (resume=True) or --overwrite (overwrite=True), not both")
    if run.root.exists() and not run.root.is_dir():
        raise ConfigError(f"the run folder {run.root} is a file")
    lock = FolderLock(run.root, "run folder").acquire()
    held = [p for p in (run.config, run.checkpoint, run.final) if p.exists()]
    if held and not (resume or overwrite):
        state = "a finished run" if run.final.exists() else "an unfinished run"
        raise ConfigError(f"{run.root} already holds {state}; pass --resume (Python: resume=True) to "
                          f"continue it or --overwrite (overwrite=True) to replace it")
    stray = [p.name for p in (run.metrics, *run.evaluation_outputs()) if p.exists()]
    if stray and not held and not overwrite:
        raise ConfigError(f"{run.root} holds {', '.join(stray)} but no run (no config.yaml, checkpoint or "
                          f"model.pt); training would replace them: choose another folder, or pass --overwrite")
    if resume:  # the config must be that of config.yaml and the checkpoint (else of model.pt)
        records = [p for p in (run.config, run.checkpoint) if p.exists()] or [p for p in (run.final,) if p.exists()]
        for record in records:
            old = load_config(record) if record == run.config else stored_config(record)
            if old != config:
                raise ConfigError(f"{run.root} holds a run with another config ({record}); pass --overwrite "
                                  f"to replace it, or choose another output folder")
        if run.data_card.exists():
            try:
                old_card = read_card(run.data_card)
            except DataError as err:
                raise ConfigError(f"cannot resume {run.root}: {err}") from None
            if old_card.fingerprint != card.fingerprint:
                raise ConfigError(f"cannot resume {run.root}: its data changed since the run started (the "
                                  f"fingerprint in {run.data_card.name} differs); pass --overwrite to start again")
    run = run.staged(lock) if overwrite else RunDir(run.root, lock=lock)
    save_config(config, run.config)
    write_card(card, run.data_card)
    write_versions(run.versions)
    return run


def fit(model: LatentModel, x, y, *, out: Optional[str | os.PathLike] = None, standardize: Optional[bool] = None,
        resume: bool = False, overwrite: bool = False, data: Optional[DataConfig] = None,
        card: Optional[DataCard] = None, check_source: Optional[Callable[[], None]] = None,
        balance: Optional[str] = None, **train_options) -> LatentModel:
    """Train ``model`` on x (N, n) float or (N, C, H, W) uint8 and y (N, k) in {0, 1}.

    balance: how the terms that read labels are balanced ("weight", "sample", "discard" or
    "none"; ``csvae.data.balance``); default ``data.balance`` (itself "weight" by default).

    standardize: standardise x with its mean/std, stored in the model (default: yes for float
    vector data). out: a run folder for config.yaml, data.json, metrics.csv and checkpoints.
    data, card: the DataConfig x and y were read with and their ``DataCard`` (``fit_run`` passes
    both; default: data "arrays" and a card of the arrays, with label names y0, y1, ...). Other keyword
    arguments are TrainConfig fields, with its defaults (epochs, batch_size, seed, device, lr,
    adversary_steps, log_every, precision, threads, devices, loader, ...); torch's thread count is
    set to ``threads`` while fit runs and restored afterwards.
    x may be a memory map (``loader: stream`` reads it in place; ``check_source`` is then called
    at each epoch start, to refuse a cache that changed). With ``devices`` > 1 this process starts
    the others by re-running its own command (or joins those torchrun started), and only rank 0
    writes to ``out``. Returns the trained model on ``device``, with its class statistics set
    (``finalize``)."""
    who = f"model.name {model.config.name!r}"
    x, y = check_xy(x, y, model.config.label_kind, allow_unknown=model.learns_from_unlabelled, who=who)
    data = data or DataConfig(name=ARRAYS)
    if balance is not None:
        data = dataclasses.replace(data, balance=balance)
    if data.labelled_fraction < 1 and not model.learns_from_unlabelled:
        raise ConfigError(f"data.labelled_fraction is {data.labelled_fraction:g} but {who} cannot learn from "
                          f"unlabelled rows; use 1")
    if tuple(x.shape[1:]) != model.x_shape:
        raise ConfigError(f"x has examples of shape {tuple(x.shape[1:])} but the model expects {model.x_shape}")
    if y.shape[1] != model.y_dim:
        raise ConfigError(f"y has {y.shape[1]} columns but the model was built with y_dim={model.y_dim}")
    train_cfg = TrainConfig(**train_options)
    fabric = check_trainable(model, len(x), train_cfg)
    check_learnable(y, model.config.label_kind)
    if data.balance == "discard":  # image readers did it when indexing; then this keeps every row
        keep = discard_rows(y, data.seed, model.config.label_kind)
        x, y = x[keep], y[keep]
    if data.labelled_fraction < 1:
        y = hide_labels(y, data.labelled_fraction, data.seed)
    with warnings.catch_warnings():  # a read-only memory map stays read-only: training never writes x
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        x_t = torch.from_numpy(np.ascontiguousarray(x))
    if x_t.dtype != torch.uint8:
        x_t = x_t.float()
    y_t = torch.from_numpy(y)
    if standardize is None:
        standardize = x_t.dtype != torch.uint8 and x_t.dim() == 2
    if standardize:
        model.set_standardization(x_t.mean(0), x_t.std(0))
    check_likelihood_fits(model.config.likelihood, x_t, standardize)
    table = weight_table(y_t, model.config.label_kind) if data.balance in ("weight", "sample") else None
    model.set_label_balance(table if data.balance == "weight" else None)
    draw = example_weights(y_t, table, model.config.label_kind) if data.balance == "sample" else None
    model.observe_labels(y_t)
    run = None
    run_config = RunConfig(model=model.config, data=data, train=train_cfg)
    card = card or card_of_arrays(x, y, model.config.label_kind)
    launch(fabric)
    if out is not None:
        run = on_rank_zero(fabric, lambda: prepare_run_folder(out, run_config, card, resume, overwrite)) \
            or RunDir(Path(out))
    with training_threads(train_cfg):
        model = train(model, x_t, y_t, train_cfg, run, run_config, resume=resume, fabric=fabric,
                      check_source=check_source, draw=draw)
        model.finalize(x_t, y_t)
    model.set_label_balance(None)
    model.data_card = card
    if run is not None:
        on_rank_zero(fabric, lambda: save_final(model, run_config, run))
    return model


def hide_labels(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A copy of y (N, k) in which all but round(fraction * N) rows, a seeded choice among the
    known rows (at least one kept), are unknown (NaN)."""
    y = np.array(y, dtype=np.float32)
    known = np.flatnonzero(np.isfinite(y).all(1))
    keep = max(1, int(round(fraction * len(y))))
    hidden = np.random.default_rng(seed).permutation(known)[keep:]
    y[hidden] = np.nan
    return y


def check_likelihood_fits(likelihood: str, x: torch.Tensor, standardized: bool) -> None:
    """Refuse a Bernoulli likelihood for data that are not in [0, 1] in model units, and a
    discretised logistic for anything but 8-bit images."""
    if likelihood == "discretized_logistic" and x.dtype != torch.uint8:
        raise ConfigError(f"model.likelihood 'discretized_logistic' is defined for 8-bit images (uint8), got "
                          f"{x.dtype} data; use a gaussian likelihood")
    if likelihood != "bernoulli" or x.dtype == torch.uint8:
        return
    if standardized:
        raise ConfigError("model.likelihood 'bernoulli' needs x in [0, 1], but x is standardised (zero mean, unit "
                          "std); use a gaussian likelihood, or pass standardize=False for data already in [0, 1]")
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ConfigError(f"model.likelihood 'bernoulli' needs x in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                          f"use a gaussian likelihood or rescale x")


def check_trainable(model: LatentModel, n: int, cfg: TrainConfig) -> Fabric:
    """Refuse, before any file is touched, what would fail only once training runs: fewer than 2
    examples (per process), batches of 1 for a model with batch norm, a precision or devices
    Fabric refuses. Returns the Fabric to train with (not launched)."""
    world = cfg.world_size
    if n < 2 * world:
        raise ConfigError(f"x has {n} example{'s' if n != 1 else ''}; training needs at least 2"
                          + (f" per process ({world}: train.devices x train.num_nodes)" if world > 1 else ""))
    batch_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    local = min(cfg.batch_size, n) // world
    if batch_norm and local < 2:
        raise ConfigError(f"train.batch_size is {cfg.batch_size} with {n} examples"
                          + (f" over {world} processes" if world > 1 else "")
                          + ", but the model's batch norm needs batches of at least 2 (per process; or set "
                            "model.conv_norm: group)")
    return check_fabric(cfg)


def save_final(model: LatentModel, config: RunConfig, run: RunDir) -> None:
    """Write the finished model (weights, class statistics, config, data card) to RUN/model.pt, first removing
    the evaluation outputs of the model it replaces (they can be rebuilt); a staged run then replaces
    the old one (``RunDir.commit``)."""
    if run.final.exists():
        run.clear_evaluation()
    save_checkpoint({"config": config_to_dict(config), "x_shape": list(model.x_shape), "y_dim": model.y_dim,
                     "model": {k: v.cpu() for k, v in model.state_dict().items()}, "step": -1,
                     "finished": True, "data_card": model.data_card.to_dict()}, run.final)
    run.commit()


def load_weights(model: LatentModel, state: dict, path: Path) -> None:
    """``state["model"]`` into ``model``, every key matched. A shipped model (``csvae pretrained
    export``) lists in ``state["omitted"]`` the training-only parameters it left out
    (``LatentModel.training_only_keys``): exactly those may be missing, and keep the values the
    model was built with. A checkpoint that leaves out anything else is refused (CheckpointError)."""
    omitted = state.get("omitted") or []
    if not omitted:
        model.load_state_dict(state["model"])
        return
    allowed = set(model.training_only_keys())
    if not isinstance(omitted, list) or not set(omitted) <= allowed:
        raise CheckpointError(f"{path} leaves out weights that inference needs ({omitted!r}); only the "
                              f"training-only ones may be left out: {sorted(allowed)}")
    missing, unexpected = model.load_state_dict(state["model"], strict=False)
    if set(missing) != set(omitted) or unexpected:
        raise CheckpointError(f"{path} does not hold the weights of its model: missing {sorted(missing)} (it "
                              f"says it left out {sorted(omitted)}), unexpected {sorted(unexpected)}")


def load(path: str | os.PathLike, device: str = "cpu", sha256: Optional[str] = None) -> LatentModel:
    """A trained model from a run folder (its model.pt) or a checkpoint file, loaded without pickle.
    sha256: the checkpoint file's expected checksum, checked before it is read (``load_checkpoint``)."""
    path = Path(path)
    if path.is_dir():
        final = RunDir(path).final
        if not final.exists():
            raise CheckpointError(f"{path} holds no finished model ({final.name} is missing); the run did not "
                                  f"finish: resume it with `csvae fit --config {path / 'config.yaml'} --out {path} "
                                  f"--resume`")
        path = final
    state = load_checkpoint(path, sha256)
    shape, y_dim = state["x_shape"], state["y_dim"]
    if (not isinstance(shape, (list, tuple)) or not shape or not all(is_positive_integer(s) for s in shape)
            or not is_positive_integer(y_dim)):
        raise CheckpointError(f"{path} does not hold a model this csvae can rebuild: x_shape {shape!r} must be a "
                              f"list of positive integers and y_dim {y_dim!r} a positive integer")
    try:
        config = config_from_dict(state["config"]) if state["config"] else RunConfig()
        model = model_from_config(config.model, shape, y_dim)
        load_weights(model, state, path)
    except (ConfigError, RuntimeError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path} does not hold a model this csvae can rebuild: {err}") from err
    bad = next((name for name, p in model.named_parameters() if not torch.isfinite(p).all()), None)
    if bad is not None:
        raise CheckpointError(f"{path} holds NaN or infinite weights (first in {bad}); it cannot be used")
    model.run_config = config
    model.data_card = None
    if "data_card" in state:
        try:
            model.data_card = DataCard.from_dict(state["data_card"], f"the data card in {path}")
        except DataError as err:
            raise CheckpointError(str(err)) from None
    return model.to(device).eval()



def run_config_of(model: LatentModel) -> RunConfig:
    """The RunConfig a loaded model was trained with (default sections when unknown)."""
    return getattr(model, "run_config", None) or dataclasses.replace(RunConfig(), model=model.config)

