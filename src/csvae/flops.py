"""Floating-point operations of a training step, counted by ``torch.utils.flop_counter``.

The counter adds up matrix products and convolutions (2 FLOPs per multiply-add), forward and
backward; element-wise work (norms, activations, the optimiser) is left out, as it is in the
peak figures of devices. Used by benchmarks/image_throughput.py and docs/performance.md.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_flops(work: Callable[[], object]) -> int:
    """FLOPs that ``work()`` runs (matrix products and convolutions, forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops()


def training_step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """FLOPs of one step of the alternating schedule on the batch (x, y): the forward of every loss
    term, the model loss's backward and the adversary loss's backward (one adversary step)."""
    def step():
        terms = model(x, y)
        terms["model"].backward()
        if "adversary" in terms:
            terms["adversary"].backward()
        model.zero_grad(set_to_none=True)

    return count_flops(step)
