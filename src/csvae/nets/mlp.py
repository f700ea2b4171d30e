"""Multi-layer perceptron backbones for vector data (the toy experiments)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Sequential):
    """Linear layers with ReLU between them: in_dim -> hidden... -> out_dim (no final activation)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int):
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        super().__init__(*layers)


class MLPEncoder(nn.Module):
    """x (B, *x_shape) -> features (B, hidden[-1]), ReLU after every layer."""

    def __init__(self, x_shape: Sequence[int], hidden: Sequence[int]):
        super().__init__()
        if not hidden:
            raise ValueError("MLPEncoder needs at least one hidden layer")
        self.out_dim = hidden[-1]
        self.net = nn.Sequential(nn.Flatten(), MLP(math.prod(x_shape), hidden[:-1], hidden[-1]), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """latent code (B, in_dim) -> distribution parameters (B, *x_shape)."""

    def __init__(self, in_dim: int, x_shape: Sequence[int], hidden: Sequence[int]):
        super().__init__()
        self.x_shape = tuple(x_shape)
        self.net = MLP(in_dim, list(reversed(hidden)), math.prod(x_shape))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code).view(-1, *self.x_shape)
