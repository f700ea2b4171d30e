"""The batches of one training run, for one rank: indexed on the device, or streamed from host
memory (an in-memory array or the memory-mapped uint8 cache).

The batch rule, shared by both: step s is position p = s mod S of epoch e = s div S (S steps per
epoch = N div B, B the global batch); it takes positions [p*B, (p+1)*B) of the epoch's permutation
(``epoch_order``, a function of the seed and the epoch alone, so a resumed run sees the same
batches; with ``data.balance: sample``, N class-balanced draws with replacement), and rank r of W
takes the r-th of W equal slices of that, B/W examples. The W ranks together thus see at each step
exactly the batch one process would; each example comes at most once per epoch, and every one when B
divides N (otherwise the N mod B at the end of each epoch's permutation wait for another epoch, as
they do on one process: batch norm needs full batches).

Shapes: x (N, *example) (uint8 images (N, C, H, W) or float vectors (N, n)), y (N, k) float; a
batch is (B/W, *example) in x's dtype and (B/W, k), on the device, images ``channels_last``.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Callable, Iterator, Optional

import numpy as np
import torch

PREFETCH = 2
"""Batches the streaming thread prepares ahead of the one in use."""
DEVICE_SHARE = 0.5
"""``loader: auto`` keeps the training set on the device when it takes at most this share of the
device's free memory (host: available RAM, shared by the node's processes); the rest is left to
the model, its activations and the optimiser."""


def epoch_order(n: int, epoch: int, seed: int, draw: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The order of epoch ``epoch`` (N,) int64 on the CPU: a permutation, or with ``draw`` (N,)
    (``data.balance: sample``) N draws with replacement, example i with probability
    proportional to draw[i]."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    if draw is not None:
        return torch.multinomial(draw, n, replacement=True, generator=generator)
    return torch.randperm(n, generator=generator)


def shard(order: torch.Tensor, position: int, batch: int, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s (batch / world,) slice of the global batch at ``position`` of ``order``."""
    local = batch // world
    start = position * batch + rank * local
    return order[start:start + local]


def choose_loader(choice: str, nbytes: int, device: torch.device, processes_per_node: int) -> str:
    """"device" or "stream" for ``train.loader`` = ``choice`` and a training set of ``nbytes``."""
    if choice != "auto":
        return choice
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // processes_per_node
    return "device" if nbytes <= DEVICE_SHARE * free else "stream"


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


class _Batches:
    """What both loaders share: the sizes, this rank's place and the batch rule (``draw``: the
    sampling weights of ``epoch_order``, None for permutations)."""

    def __init__(self, n: int, batch: int, rank: int, world: int, seed: int, draw: Optional[torch.Tensor] = None):
        self.n, self.batch, self.rank, self.world, self.seed, self.draw = n, batch, rank, world, seed, draw
        self.steps_per_epoch = max(1, n // batch)

    def indices(self, start: int, total: int, device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
        """This rank's example indices (B/W,) of steps start..total-1 (each epoch's permutation is
        moved to ``device`` once)."""
        order = None
        for step in range(start, total):
            epoch, position = divmod(step, self.steps_per_epoch)
            if order is None or position == 0:
                order = epoch_order(self.n, epoch, self.seed, self.draw).to(device)
            yield shard(order, position, self.batch, self.rank, self.world)


class DeviceBatches(_Batches):
    """The whole training set on the device; a batch is an index into it (no host copy)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch: int, rank: int = 0,
                 world: int = 1, seed: int = 0, draw: Optional[torch.Tensor] = None):
        super().__init__(len(x), batch, rank, world, seed, draw)
        layout = torch.channels_last if x.dim() == 4 else torch.contiguous_format
        self.x, self.y = x.to(device, memory_format=layout), y.to(device)

    def batches(self, start: int, total: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in self.indices(start, total, self.x.device):
            yield self.x[index], self.y[index]  # indexing keeps channels_last (index_select would not)


class StreamBatches(_Batches):
    """Batches gathered from host arrays (a memmap is read in place) by a thread that keeps
    ``PREFETCH`` batches ready in reused host buffers (pinned for CUDA), copied to the device
    without blocking. ``check`` (e.g. that the cache file is unchanged) runs at each epoch start
    in the thread; what it raises is raised in the training loop."""

    def __init__(self, x: np.ndarray, y: np.ndarray, device: torch.device, batch: int, rank: int = 0,
                 world: int = 1, seed: int = 0, check: Optional[Callable[[], None]] = None,
                 draw: Optional[torch.Tensor] = None):
        super().__init__(len(x), batch, rank, world, seed, draw)
        self.x, self.y, self.device, self.check = x, y, device, check
        self.layout = torch.channels_last if x.ndim == 4 else torch.contiguous_format
        local, pin = batch // world, device.type == "cuda"
        slots = PREFETCH + 1
        self.host_x = [torch.empty((local, *x.shape[1:]), dtype=_torch_dtype(x.dtype), pin_memory=pin)
                       for _ in range(slots)]
        self.host_y = [torch.empty((local, *y.shape[1:]), dtype=torch.float32, pin_memory=pin)
                       for _ in range(slots)]
        self.copied: list[Optional[torch.cuda.Event]] = [None] * slots

    def _produce(self, start: int, total: int, free: queue.Queue, ready: queue.Queue) -> None:
        try:
            for step, index in zip(range(start, total), self.indices(start, total)):
                slot = free.get()
                if slot is None:
                    return
                if self.check is not None and (step == start or step % self.steps_per_epoch == 0):
                    self.check()
                if self.copied[slot] is not None:
                    self.copied[slot].synchronize()  # the last copy out of this buffer is done
                rows = index.numpy()
                np.take(self.x, rows, axis=0, out=self.host_x[slot].numpy())
                np.take(self.y, rows, axis=0, out=self.host_y[slot].numpy())
                ready.put(slot)
        except BaseException as err:  # handed to the training loop
            ready.put(err)

    def batches(self, start: int, total: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        free, ready = queue.Queue(), queue.Queue()
        for slot in range(len(self.host_x)):
            free.put(slot)
        thread = threading.Thread(target=self._produce, args=(start, total, free, ready), daemon=True,
                                  name="csvae-stream")
        thread.start()
        try:
            for _ in range(start, total):
                slot = ready.get()
                if isinstance(slot, BaseException):
                    raise slot
                xb = self.host_x[slot].to(self.device, memory_format=self.layout, non_blocking=True)
                yb = self.host_y[slot].to(self.device, non_blocking=True)
                if self.device.type == "cuda":
                    self.copied[slot] = torch.cuda.Event()
                    self.copied[slot].record()
                yield xb, yb
                free.put(slot)  # the step that used it is done (on CUDA: enqueued; see copied)
        finally:
            free.put(None)
            thread.join()
