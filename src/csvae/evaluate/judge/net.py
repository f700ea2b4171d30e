"""The judge's network, its settings, and the scaling of images it takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from csvae.constraints import is_integer, is_number
from csvae.nets.conv import ConvEncoder

FLOAT_LIMIT = 1.5  # float images above this look like 0..255 values


@dataclass(frozen=True)
class JudgeSettings:
    """How a judge is trained. Every field is part of the judge's hash."""

    epochs: int = 3
    min_steps: int = 300
    """At least this many optimiser steps whatever the data size (small sets get more epochs)."""
    factor_min_steps: int = 900
    """At least this many steps on data with ground-truth factors: the factor read-out is a
    regression that keeps shrinking towards the mean long after the labels are learned (synthetic
    faces, docs/synthetic_faces.md). Data without factors train ``min_steps``."""
    batch_size: int = 128
    lr: float = 1e-3
    channels: tuple[int, ...] = (16, 32, 64)
    dense: int = 64
    seed: int = 0
    factor_weight: float = 10.0
    """Weight of the factor read-out's mean squared error (factors in [0, 1]) beside the
    classification loss; used only on data with ground-truth factors."""

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        for name in ("epochs", "min_steps", "factor_min_steps", "batch_size", "dense"):
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"judge setting {name} must be a positive integer, got {value!r}")
        for name in ("lr", "factor_weight"):
            value = getattr(self, name)
            if not is_number(value) or not value > 0:
                raise ValueError(f"judge setting {name} must be a positive number, got {value!r}")


def judge_settings(**options) -> JudgeSettings:
    """JudgeSettings from keyword options, naming any unknown option."""
    known = {f.name for f in dataclasses.fields(JudgeSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown judge setting(s) {unknown}; valid settings: {sorted(known)}")
    return JudgeSettings(**options)


class JudgeNet(nn.Module):
    """x float (B, C, H, W) in [0, 1] -> logits (B, k); ``encoder`` gives the features (B, dense)
    and, with n_factors > 0, ``factor_head`` reads n_factors continuous factors from them."""

    def __init__(self, image_shape: Sequence[int], k: int, channels: Sequence[int], dense: int,
                 n_factors: int = 0):
        super().__init__()
        self.encoder = ConvEncoder(tuple(image_shape), list(channels), dense, "batch")
        self.head = nn.Linear(dense, k)
        self.factor_head = nn.Linear(dense, n_factors) if n_factors else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def read_factors(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor_head(self.encoder(x))


def as_unit_float(x, image_shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 (N, *image_shape) -> float / 255; float -> clipped to [0, 1]. numpy or torch in."""
    x = torch.as_tensor(x)
    if tuple(x.shape[1:]) != tuple(image_shape) or x.dim() != len(image_shape) + 1:
        raise ValueError(f"the judge takes images of shape (N, {', '.join(map(str, image_shape))}), "
                         f"got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    x = x.float()
    if len(x) and x.max() > FLOAT_LIMIT:
        raise ValueError(f"float images must be in [0, 1] (max here {float(x.max()):.3g}); pass uint8 "
                         f"images or divide by 255")
    return x.clamp(0.0, 1.0)
