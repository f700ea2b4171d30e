"""The judge's file format: a plain dict of tensors and primitives, written atomically and read
with ``weights_only=True``."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import torch

from csvae.evaluate.judge.model import Judge
from csvae.evaluate.judge.net import JudgeNet, JudgeSettings
from csvae.fileio import atomic_write_bytes
from csvae.safeio import check_regular

FORMAT, VERSION = "csvae-judge", 1


def judge_state(judge: Judge) -> dict:
    """A plain dict of tensors and primitives (what ``save_judge`` writes)."""
    return {"format": FORMAT, "version": VERSION, "net": {k: v.cpu() for k, v in judge.net.state_dict().items()},
            "dataset_name": judge.dataset_name, "image_shape": list(judge.image_shape),
            "attribute_names": judge.attribute_names, "label_kind": judge.label_kind,
            "data_hash": judge.data_hash, "settings": {**dataclasses.asdict(judge.settings),
                                                      "channels": list(judge.settings.channels)},
            "test_accuracy": judge.test_accuracy, "test_accuracy_overall": judge.test_accuracy_overall,
            "test_balanced_accuracy": judge.test_balanced_accuracy,
            "factor_names": judge.factor_names, "test_factor_r2": judge.test_factor_r2}


def save_judge(judge: Judge, path: str | os.PathLike) -> None:
    """Write ``judge`` to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(judge_state(judge), buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_judge(path: str | os.PathLike, device: str = "cpu") -> Judge:
    """A judge written by ``save_judge``, loaded without pickle."""
    path = Path(path)
    try:
        check_regular(path, "judge file")  # a FIFO would block the read
        state = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"judge file {path} does not exist") from None
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... here
        raise ValueError(f"{path} is not a readable judge file: {type(err).__name__}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != VERSION:
        raise ValueError(f"{path} is not a csvae judge file of version {VERSION}")
    try:
        settings = JudgeSettings(**state["settings"])
        factor_names = state.get("factor_names", [])
        net = JudgeNet(state["image_shape"], len(state["attribute_names"]), settings.channels, settings.dense,
                       len(factor_names))
        net.load_state_dict(state["net"])
        return Judge(net.to(device), dataset_name=state["dataset_name"], image_shape=state["image_shape"],
                     attribute_names=state["attribute_names"], label_kind=state["label_kind"],
                     data_hash=state["data_hash"], settings=settings, test_accuracy=state["test_accuracy"],
                     test_accuracy_overall=state["test_accuracy_overall"],
                     test_balanced_accuracy=state.get("test_balanced_accuracy"), factor_names=factor_names,
                     test_factor_r2=state.get("test_factor_r2"))
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} is a damaged judge file: its weights and description disagree "
                         f"({type(err).__name__}: {err})") from err
