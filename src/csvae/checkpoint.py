"""Checkpoint files: written atomically, read without pickle (``weights_only=True``).

A checkpoint is a dict of tensors and plain values:
``{"format": "csvae", "version": 2, "config": RunConfig as a dict, "x_shape": [...], "y_dim": k,
"model": state dict, "step": int, "total_steps": int, "finished": bool, ...training state}``.
A finished model (model.pt, ``finished`` true) also holds its data card (``data_card``).
A shipped model (``csvae pretrained export``) may leave out the parameters only training reads and
lists their keys in ``omitted`` (``csvae.api.load_weights``).

Versions: 2 (this csvae): a finished model always holds its data card, and the optimiser states of
a training checkpoint have their parameters' memory layout (4-D conv weights channels_last).
Version 1 is read in one place, ``_from_version_1``; any other version is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Optional

import torch

from csvae.data.checks import DataError
from csvae.fileio import atomic_write_bytes
from csvae.safeio import check_regular

FORMAT = "csvae"
VERSION = 2
REQUIRED = ("config", "x_shape", "y_dim", "model", "step")


class CheckpointError(ValueError):
    """A checkpoint cannot be read: missing, truncated, corrupt or not written by csvae."""


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_checkpoint(path: str | os.PathLike, sha256: Optional[str] = None) -> dict:
    """Read and check a checkpoint written by ``save_checkpoint``; tensors land on the CPU.

    sha256: the file's expected checksum (hex); when given, the bytes read are hashed and a
    mismatch is refused (CheckpointError naming the file) before anything is unpickled."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        check_regular(path, "checkpoint")  # a FIFO would block the read
    except DataError as err:
        raise CheckpointError(str(err)) from None
    data = path.read_bytes()
    if sha256 is not None and sha256_of(data) != sha256.lower():
        raise CheckpointError(f"{path} has sha256 {sha256_of(data)} but {sha256} was expected: the file is damaged "
                              f"or was replaced, so it is not loaded")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... here
        raise CheckpointError(f"{path} is not a readable csvae checkpoint (truncated, corrupt, or it "
                              f"holds objects that need pickle): {type(err).__name__}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a csvae checkpoint (no 'format': 'csvae' entry)")
    if state.get("version") == 1:
        state = _from_version_1(state, path)
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')!r}; this csvae reads version "
                              f"{VERSION} (and migrates 1): read it with the csvae that wrote it, or train the run "
                              f"again")
    missing = [key for key in REQUIRED + (("data_card",) if state.get("finished") else ()) if key not in state]
    if missing:
        raise CheckpointError(f"{path} lacks the entries {missing}")
    return state


def _from_version_1(state: dict, path: Path) -> dict:
    """A version-1 checkpoint as version 2. A finished model written before models held their data
    card is refused (its labels' names and crop are unknown). Version 1 may hold a training
    checkpoint's optimiser states contiguous (from before conv weights were trained
    channels_last): each 4-D state is re-laid channels_last, the layout of its parameter now, since
    fused Adam walks raw memory and would update the wrong elements of a state in another layout."""
    if state.get("finished") and "data_card" not in state:
        raise CheckpointError(f"{path} is a finished model of checkpoint version 1 written before csvae stored "
                              f"data cards; this csvae reads version {VERSION}: train the run again (csvae fit "
                              f"--config RUN/config.yaml --out RUN --overwrite)")
    optimizers = state.get("optimizers")
    for opt_state in optimizers if isinstance(optimizers, list) else ():
        per_param = opt_state.get("state") if isinstance(opt_state, dict) else None
        for values in per_param.values() if isinstance(per_param, dict) else ():
            for key, value in values.items():
                if torch.is_tensor(value) and value.dim() == 4:
                    values[key] = value.contiguous(memory_format=torch.channels_last)
    return {**state, "version": VERSION}
