"""The protocol of a model's objective: named terms, their weights, and the one place that adds them.

A model declares ``objective()`` (an ``Objective``) and ``LatentModel.losses`` assembles the
"model" and "adversary" objectives from the batch terms with ``weighted_sum``
(docs/contributing.md, "Adding a model")."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import torch


@dataclasses.dataclass(frozen=True)
class Objective:
    """What a model minimises, declared once (``LatentModel.objective``): each objective is the
    weighted sum of named batch terms, added in the order given."""

    model: Mapping[str, float | torch.Tensor]
    """term name -> weight in the "model" objective (encoders, decoder, learned priors); a 0-d
    tensor for a weight that follows the training progress (S²-VAE's annealed gamma)."""
    adversary: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """term name -> weight in the "adversary" objective; empty for a model without adversary."""


def weighted_sum(terms: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """sum of weight * terms[name] over ``weights``, added left to right in their order."""
    (first, weight), *rest = weights.items()
    total = weight * terms[first]
    for name, weight in rest:
        total = total + weight * terms[name]
    return total
