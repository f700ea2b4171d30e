"""Checkpoint files: written atomically, read without pickle (``weights_only=True``).

A checkpoint is a dict of tensors and plain values:
``{"format": "csvae", "version": 1, "config": RunConfig as a dict, "x_shape": [...], "y_dim": k,
"model": state dict, "step": int, "total_steps": int, "finished": bool, ...training state}``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from csvae.config import atomic_write_bytes
from csvae.safeio import check_regular

FORMAT = "csvae"
VERSION = 1
REQUIRED = ("config", "x_shape", "y_dim", "model", "step")


class CheckpointError(ValueError):
    """A checkpoint cannot be read: missing, truncated, corrupt or not written by csvae."""


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and check a checkpoint written by ``save_checkpoint``; tensors land on the CPU."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        check_regular(path, "checkpoint")  # a FIFO would block torch.load
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... here
        raise CheckpointError(f"{path} is not a readable csvae checkpoint (truncated, corrupt, or it "
                              f"holds objects that need pickle): {type(err).__name__}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a csvae checkpoint (no 'format': 'csvae' entry)")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')!r}; this csvae reads {VERSION}")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"{path} lacks the entries {missing}")
    return state
