"""Devices and data parallelism on Lightning Fabric: which Fabric a TrainConfig asks for, and what
the training loop needs under DDP beyond it.

One process (``train.devices`` 1, ``train.num_nodes`` 1): Fabric on one device, the model is not
wrapped (see ``csvae.train``). Several: Fabric's DDP strategy. ``csvae fit --train.devices N``
launches the N processes of one machine itself (Fabric's subprocess launcher re-runs the command
with ``LOCAL_RANK`` set); across machines torchrun or SLURM's srun starts them (docs/performance.md).

Under DDP the alternating schedule has two optimisers over disjoint parameters of one module.
The encoders, decoder and prior (everything ``model.model_parameters()`` holds, the bulk of the
weights) are wrapped in ``DistributedDataParallel`` with the adversary's parameters ignored, so
the model loss's backward all-reduces exactly the parameters it reaches, overlapped with the
backward, and no ``find_unused_parameters`` is needed. The adversary (a small MLP, whose loss is a
second backward on the same forward, plus ``adversary_steps - 1`` steps outside any DDP forward)
has its gradients averaged by one all-reduce of a flat buffer before each of its steps
(``average_gradients``).
"""

from __future__ import annotations

import atexit
import os
from typing import Callable, Optional, TypeVar

import numpy as np
import torch
from lightning_fabric import Fabric
from torch import nn

from csvae.config import ConfigError, TrainConfig

T = TypeVar("T")
LAUNCHER_VARIABLES = ("WORLD_SIZE", "SLURM_NTASKS", "JSM_NAMESPACE_SIZE")
"""Set by torchrun, SLURM and LSF's jsrun: a process started by a launcher, or by Fabric's own."""


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _launched_externally() -> bool:
    """Whether a multi-node launcher (torchrun, SLURM, LSF, or Lightning's variables set by hand)
    started this process."""
    from lightning_fabric.plugins.environments import LSFEnvironment, SLURMEnvironment, TorchElasticEnvironment

    manual = all(name in os.environ for name in ("MASTER_ADDR", "NODE_RANK"))
    return (TorchElasticEnvironment.detect() or SLURMEnvironment.detect() or LSFEnvironment.detect()
            or manual)


def _check_launcher(cfg: TrainConfig) -> None:
    world = cfg.world_size
    if cfg.num_nodes > 1 and not _launched_externally():
        raise ConfigError(f"train.num_nodes is {cfg.num_nodes} but this process was not started by a multi-node "
                          f"launcher (no torchrun, SLURM or LSF environment, nor MASTER_ADDR and NODE_RANK); "
                          f"start `csvae fit` on every node with torchrun or srun (docs/performance.md)")
    launched = next((int(os.environ[v]) for v in LAUNCHER_VARIABLES if os.environ.get(v, "").isdigit()), None)
    if launched is not None and launched > 1 and world == 1:
        raise ConfigError(f"a launcher started {launched} processes, but train.devices x train.num_nodes is 1: "
                          f"each would train alone into the same run folder; pass --train.devices "
                          f"(processes per node) and --train.num_nodes so that their product is {launched}")


def _accelerator(cfg: TrainConfig) -> tuple[str, object]:
    """Fabric's (accelerator, devices) for ``cfg``, checked against what this machine has."""
    device = resolve_device(cfg.device)
    many = cfg.world_size > 1
    if device == "cpu":
        if isinstance(cfg.devices, list):
            raise ConfigError(f"train.devices {cfg.devices} lists GPU indices but train.device is {cfg.device!r}; "
                              f"give a count of CPU processes, or train.device cuda")
        cores = available_cores()
        if cfg.devices > cores:
            raise ConfigError(f"train.devices is {cfg.devices} CPU processes but this machine has {cores} "
                              f"CPU cores available")
        return "cpu", cfg.devices
    if not torch.cuda.is_available():
        raise ConfigError(f"train.device is {cfg.device!r} but no CUDA GPU is available (torch "
                          f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use train.device cpu")
    count = torch.cuda.device_count()
    if ":" in device:
        if many:
            raise ConfigError(f"train.device {cfg.device!r} names one GPU but train.devices is {cfg.devices!r}; "
                              f"use train.device cuda with train.devices [indices]")
        index = int(device.split(":")[1])
        if index >= count:
            raise ConfigError(f"train.device is {cfg.device!r} but there are {count} GPUs (cuda:0..cuda:{count - 1})")
        return "cuda", [index]
    wanted = cfg.devices if isinstance(cfg.devices, list) else list(range(cfg.devices))
    if max(wanted) >= count:
        raise ConfigError(f"train.devices is {cfg.devices!r} but this machine has {count} CUDA GPUs "
                          f"(indices 0..{count - 1})")
    return "cuda", wanted if isinstance(cfg.devices, list) else cfg.devices


def make_fabric(cfg: TrainConfig) -> Fabric:
    """The Fabric of ``cfg`` (not yet launched); ConfigError naming the setting when this machine
    or launcher cannot give it."""
    accelerator, devices = _accelerator(cfg)
    _check_launcher(cfg)
    options = {}
    if cfg.world_size > 1:
        options = {"strategy": "ddp", "num_nodes": cfg.num_nodes}
    elif accelerator == "cpu":
        devices = 1
    try:
        return Fabric(accelerator=accelerator, devices=devices, precision=cfg.precision, **options)
    except (ValueError, ImportError) as err:  # an unknown precision, or one that needs a missing package
        raise ConfigError(f"train.precision {cfg.precision!r} cannot be used on {accelerator}: {err}") from err


def is_parallel(fabric: Fabric) -> bool:
    return fabric.world_size > 1


def launch(fabric: Fabric) -> None:
    """Start the other processes of this node (or join a launcher's) and the process group; a
    no-op for one process or when already launched."""
    if is_parallel(fabric) and not torch.distributed.is_initialized():
        fabric.launch()
        atexit.register(destroy_process_group)


def destroy_process_group() -> None:
    """Tear the process group down while the interpreter is still whole (run at exit). Left to the
    interpreter's own teardown, gloo's worker threads can abort a finished run's process with
    SIGABRT ("terminate called without an active exception"; pytorch/pytorch#190489): seen once
    in our two-process CI test, after the run had trained and written everything."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def on_rank_zero(fabric: Fabric, action: Callable[[], T]) -> Optional[T]:
    """Run ``action`` on rank 0 only; an error it raises is raised on every rank (as the same type
    when it is a ConfigError or ValueError), so no rank waits for one that failed. Returns the
    action's result on rank 0, None elsewhere."""
    if not is_parallel(fabric):
        return action()
    result, failure = None, None
    if fabric.global_rank == 0:
        try:
            result = action()
        except Exception as err:  # sent to the other ranks, then raised here unchanged
            failure = err
    kind, message = fabric.broadcast((type(failure).__name__, str(failure)) if failure else (None, None))
    if failure is not None:
        raise failure
    if kind is not None:
        raise (ConfigError if kind == "ConfigError" else RuntimeError)(f"{message} (raised on rank 0)")
    return result


def rank_seed(seed: int, rank: int) -> int:
    """The torch seed of rank ``rank``: ``seed`` itself on rank 0 (so one process seeds as before),
    an independent stream on the others."""
    return seed if rank == 0 else int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def data_parallel(fabric: Fabric, model: nn.Module, adversary: list[nn.Parameter]) -> nn.Module:
    """``model`` wrapped in DDP through Fabric's strategy, the ``adversary`` parameters ignored
    (module doc); the adversary's weights are made equal to rank 0's here, as DDP does for the
    others. One process: ``model`` itself."""
    if not is_parallel(fabric):
        return model
    ignore_in_ddp(model, adversary)
    broadcast_parameters(adversary)
    return fabric.strategy.setup_module(model)


def ignore_in_ddp(model: nn.Module, params: list[nn.Parameter]) -> None:
    """Have a DistributedDataParallel made of ``model`` afterwards leave ``params`` alone: neither
    broadcast at its start nor all-reduced (torch's documented way until it has a public one)."""
    ignored = {id(p) for p in params}
    names = [name for name, p in model.named_parameters() if id(p) in ignored]
    torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, names)


def broadcast_parameters(params: list[nn.Parameter]) -> None:
    """Copy rank 0's values of ``params`` to every rank (one flat broadcast)."""
    if not params:
        return
    flat = torch._utils._flatten_dense_tensors([p.data for p in params])
    torch.distributed.broadcast(flat, src=0)
    for p, value in zip(params, torch._utils._unflatten_dense_tensors(flat, [p.data for p in params])):
        p.data.copy_(value)


def average_gradients(fabric: Fabric, params: list[nn.Parameter]) -> None:
    """Replace each gradient of ``params`` by its mean over the ranks (one flat all-reduce); a
    parameter without a gradient counts as a zero gradient. One process: nothing to do."""
    if not is_parallel(fabric) or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch._utils._flatten_dense_tensors(grads)
    torch.distributed.all_reduce(flat)
    flat /= fabric.world_size
    for p, value in zip(params, torch._utils._unflatten_dense_tensors(flat, grads)):
        if p.grad is None:
            p.grad = value.clone()
        else:
            p.grad.copy_(value)


def gather_rows(fabric: Fabric, values: torch.Tensor) -> torch.Tensor:
    """``values`` of every rank stacked on a new first dimension, (world, *values.shape), on the
    values' device; one process: ``values[None]``."""
    if not is_parallel(fabric):
        return values[None]
    local = values.to(fabric.device).contiguous()
    rows = [torch.empty_like(local) for _ in range(fabric.world_size)]
    torch.distributed.all_gather(rows, local)
    return torch.stack(rows).to(values.device)


LOST_PEER = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "Socket Timeout",
             "NCCL communicator was aborted")
"""What torch's collectives say when another training process went away."""


def lost_peer(err: BaseException) -> bool:
    """Whether ``err`` is a collective failing because another training process ended."""
    return isinstance(err, RuntimeError) and any(text in str(err) for text in LOST_PEER)
