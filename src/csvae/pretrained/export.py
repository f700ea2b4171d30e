"""``csvae pretrained export RUN --name NAME``: a finished, evaluated run folder made into a shipped
model. Writes NAME/ in the registry's folder (``registry.models_dir``) with

- ``model.pt``: the run's model.pt with every floating-point parameter in float16 (buffers, such
  as the standardisation, class means and counts, kept exactly as trained), refused if a weight
  does not fit float16, and without the parameters only training reads (the adversaries:
  ``LatentModel.training_only_keys``, listed in its ``omitted``; ``load`` rebuilds them);
- ``arrays.npz``: what the explorer shows without the data: 16 test inputs holding both classes
  of every attribute and the codes of 300 training images for the pads;
- ``card.json`` and ``card.md`` (``csvae.pretrained.card``), with the slice metrics of
  ``csvae.pretrained.check`` measured on the half-precision weights (and the float32 ones), on the
  slice read alone as the test reads it (refused unless it equals the data set's first rows);

then writes the line ``NAME SHA256`` into registry.txt. The folder is written beside and renamed
into place; an existing NAME/ is replaced only with ``overwrite``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from csvae.api import load
from csvae.checkpoint import load_checkpoint, save_checkpoint, sha256_of
from csvae.data import load_dataset
from csvae.fileio import atomic_write_bytes
from csvae.pretrained.card import CardError, card_of_run
from csvae.pretrained.check import ROWS, TOLERANCE, Slice, read_slice, slice_metrics
from csvae.pretrained.markdown import card_markdown
from csvae.pretrained.registry import NAME, PretrainedError, add_to_registry, models_dir
from csvae.rundir import RunDir
from csvae.runfiles import save_arrays
from csvae.runs import run_data

KEPT = ("config", "x_shape", "y_dim", "model", "step", "finished", "data_card")
"""The entries of model.pt a shipped model keeps."""
SCATTER = 300
"""Codes kept for the explorer's pads."""


def half_state(state: dict, parameters: Sequence[str], source: Path, omit: Sequence[str] = ()) -> dict:
    """``state`` (a finished model.pt) with its floating-point parameters (names ``parameters``) in
    float16, less the training-only ones ``omit`` (``LatentModel.training_only_keys``; listed in
    the state's ``omitted`` for ``csvae.api.load``); PretrainedError naming the tensor when one is
    not finite in float16."""
    weights = {}
    for key, value in state["model"].items():
        if key in omit:
            continue
        if key in parameters and value.is_floating_point():
            value = value.to(torch.float16)
            if not torch.isfinite(value).all():
                raise PretrainedError(f"{source}: the weight {key} does not fit float16 (largest magnitude "
                                      f"{float(state['model'][key].abs().max()):.3g}); it cannot be shipped at half "
                                      f"precision")
        weights[key] = value
    return {**{k: state[k] for k in KEPT if k in state}, "model": weights,
            **({"omitted": sorted(omit)} if omit else {})}


def explorer_arrays(model, data) -> dict:
    """What the explorer reads from arrays.npz: ``inputs`` (16, C, S, S) uint8 test images covering
    both classes of every attribute and their ``input_labels`` (16, k); ``labels`` (n, k) of up to
    ``SCATTER`` training images (a seeded choice) and their codes ``latent_<name>`` (n, d) under
    ``model`` (the pads' scatter)."""
    from csvae.explore.gallery import TEST_EXAMPLES, covering_rows

    x, y = data.part("test")
    rows = covering_rows(np.asarray(y), TEST_EXAMPLES["image"])
    out = {"inputs": np.asarray(x[rows]), "input_labels": np.asarray(y[rows], np.float32)}
    x, y = data.part("train")
    keep = np.sort(np.random.default_rng(0).permutation(len(y))[:SCATTER])
    labels = np.asarray(y[keep], np.float32)
    latents = model.latents(np.asarray(x[keep]), labels)
    return {**out, "labels": labels, **{f"latent_{name}": value for name, value in latents.items()}}


def checked_slice(config, data) -> Slice:
    """The check's slice (``read_slice``), refused unless it is the first rows of the test split of
    ``data``, the data set as training read it (the test reads the slice alone)."""
    part = read_slice(config)
    x, y = data.part("test")
    if not (np.array_equal(part.x, x[:ROWS]) and np.array_equal(part.y, np.asarray(y[:ROWS], np.float32))):
        raise PretrainedError(f"the first {ROWS} test examples of {config.name} read alone differ from the data "
                              f"set's; the check could not read its slice")
    return part


def export_run(run_dir: str | os.PathLike, name: str, *, root: Optional[str | os.PathLike] = None,
               data_root: Optional[str | os.PathLike] = None, command: Optional[str] = None,
               hardware: Optional[str] = None, limits: Sequence[str] = (), overwrite: bool = False) -> Path:
    """Ship the finished, evaluated image run ``run_dir`` as ``name`` into the registry folder
    ``root`` (default ``models_dir()``); returns the model's folder. data_root: where the run's
    data are now (as ``csvae evaluate --data-root``). command, hardware, limits: what the card says
    beyond the run folder (the command that trained it, the machine, known limits)."""
    run = RunDir(Path(run_dir))
    if not NAME.match(name):
        raise PretrainedError(f"--name {name!r}: use lower-case letters, digits and '-' (at most 64)")
    if not run.final.is_file():
        raise PretrainedError(f"{run.root} holds no finished model ({run.final.name} is missing)")
    if not run.evaluation.is_file():
        raise CardError(f"{run.evaluation} is missing: evaluate the run first (csvae evaluate {run.root})")
    folder = models_dir(root) / name
    if folder.exists() and not overwrite:
        raise PretrainedError(f"{folder} exists; pass --overwrite to replace the shipped model {name!r}")
    source = load(run.root)
    if not source.data_card.is_image:
        raise PretrainedError(f"{run.root} is a vector run; shipped models are image models")
    state = half_state(load_checkpoint(run.final), {n for n, _ in source.named_parameters()}, run.final,
                       source.training_only_keys())
    config = run_data(source.run_config, run.root, data_root)
    data = load_dataset(config)
    source.data_card.check_data(data, f"export {run.root}")
    part = checked_slice(config, data)
    staging = folder.parent / f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    staging.mkdir(parents=True)
    try:
        save_checkpoint(state, staging / "model.pt")
        weights = (staging / "model.pt").read_bytes()
        sha256 = sha256_of(weights)
        half = load(staging / "model.pt", sha256=sha256)
        check = {"split": "test", "rows": len(part.y), "tolerance": dict(TOLERANCE),
                 "metrics": slice_metrics(half, part), "float32_metrics": slice_metrics(source, part)}
        card = card_of_run(run.root, name, check, {"file": "model.pt", "sha256": sha256, "bytes": len(weights),
                                                   "dtype": "float16 parameters; buffers as trained",
                                                   "omitted": state.get("omitted", [])},
                           command=command, hardware=hardware, limits=limits)
        save_arrays(explorer_arrays(half, data), staging / "arrays.npz")
        atomic_write_bytes(staging / "card.json", (json.dumps(card, indent=1) + "\n").encode())
        atomic_write_bytes(staging / "card.md", card_markdown(card).encode())
        _replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    add_to_registry(name, sha256, root)
    return folder


def _replace(staging: Path, folder: Path) -> None:
    """Put the complete ``staging`` folder at ``folder``, the old one removed only after."""
    old = folder.parent / f".{folder.name}.old.{uuid.uuid4().hex[:12]}"
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
