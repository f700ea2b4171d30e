"""The one training loop, on Lightning Fabric, for every model.

Per step: a batch is indexed from tensors that live on the device (no DataLoader, no host copy);
the model step minimises ``losses["model"]`` over encoders and decoder (the adversary is frozen
inside the model's losses); adversarial models then take ``adversary_steps`` steps of their
adversary on ``losses["adversary"]``, computed on detached z. Losses are accumulated on the device
and read back only every ``log_every`` steps, where a NaN/inf term stops the run.

Speed (figures in docs/performance.md): images and conv weights are kept ``channels_last`` while
training; the model is called directly under ``fabric.autocast()`` rather than through Fabric's
module wrapper, which on one device only adds per-output hooks and, under
bf16-mixed, would round float inputs and labels to bf16; ``threads`` sets torch's intra-op threads.
On CUDA, cuDNN autotunes its convolutions (every batch has one shape); ``train.compile`` runs the
forward through ``torch.compile``.

Several processes (``train.devices`` / ``train.num_nodes``, see ``csvae.distributed``): each rank
trains on its slice of every global batch (``csvae.loader``), the model goes through DDP, the
adversary's gradients are averaged before its steps; loss windows are gathered from every rank, so
a NaN anywhere stops every rank with the same message; rank 0 alone writes metrics.csv and
checkpoints, which hold every rank's random state, so a resumed run continues as the killed one.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch
from lightning_fabric import Fabric

from csvae.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from csvae.config import RunConfig, TrainConfig, config_to_dict
from csvae.constraints import is_integer
from csvae.distributed import (
    average_gradients,
    data_parallel,
    gather_rows,
    is_parallel,
    launch,
    make_fabric,
    rank_seed,
)
from csvae.fileio import atomic_write_bytes
from csvae.loader import DeviceBatches, StreamBatches, choose_loader
from csvae.models.base import LatentModel
from csvae.rundir import RunDir
from csvae.safeio import read_bounded


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or inf; the message names the term and the step."""


def check_fabric(cfg: TrainConfig) -> Fabric:
    """The Fabric ``train`` would use (not launched); ConfigError now if ``cfg``'s devices or
    precision cannot train here."""
    return make_fabric(cfg)


class MetricsLog:
    """Keeps each step's loss terms on the device; every ``flush`` checks them for NaN/inf and
    writes their window means to metrics.csv (one host sync per window).

    ``gather`` maps this rank's window (steps, terms) to every rank's (ranks, steps, terms) (one
    process: adds a first dimension of 1); ``check`` and ``flush`` are then called by every rank
    at the same steps, all raise the same error, and the means are over ranks too."""

    def __init__(self, path: Optional[Path], start_step: int,
                 gather: Callable[[torch.Tensor], torch.Tensor] = lambda values: values[None]):
        self.path = path
        self.gather = gather
        self.names: list[str] = []
        self.window: list[torch.Tensor] = []
        self.first_step = start_step + 1
        self.last: dict[str, float] = {}
        if path is not None and path.exists():  # resuming: drop rows past the checkpoint
            lines = read_bounded(path, 1 << 30, "metrics.csv").decode().splitlines(keepends=True)
            if lines and not lines[-1].endswith("\n"):
                lines.pop()  # a row a kill cut short
            rows = [r for r in csv.DictReader(lines) if int(r["step"]) <= start_step]
            kept = io.StringIO(newline="")
            if rows:
                writer = csv.DictWriter(kept, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            atomic_write_bytes(path, kept.getvalue().encode())

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        if not self.names:
            self.names = list(terms)
        self.window.append(torch.stack([v.detach().float() for v in terms.values()]))

    def check(self) -> Optional[torch.Tensor]:
        """Raise NonFiniteLossError naming the first bad term, its step (and rank, when several
        train); return the window (ranks, steps, terms) on the host."""
        if not self.window:
            return None
        values = self.gather(torch.stack(self.window)).cpu()
        bad = ~torch.isfinite(values)
        if bad.any():
            rank, step, term = _first_bad(bad)
            where = f" on rank {rank}" if len(values) > 1 else ""
            raise NonFiniteLossError(f"loss term {self.names[term]!r} became non-finite (NaN or inf) at step "
                                     f"{self.first_step + step}{where}")
        return values

    def flush(self, step: int, epoch: int) -> None:
        values = self.check()
        if values is None:
            return
        self.last = dict(zip(self.names, values.mean((0, 1)).tolist()))
        if self.path is not None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            with self.path.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["step", "epoch", "time", *self.last])
                if new:
                    writer.writeheader()
                writer.writerow({"step": step, "epoch": epoch, "time": round(time.time(), 3), **self.last})
        self.window = []
        self.first_step = step + 1


def _first_bad(bad: torch.Tensor) -> tuple[int, int, int]:
    """(rank, step, term) of the earliest non-finite value of (ranks, steps, terms), the lowest
    rank first among those of one step."""
    step, rank, term = (int(i) for i in bad.transpose(0, 1).nonzero()[0])
    return rank, step, term


@contextmanager
def training_threads(cfg: TrainConfig) -> Iterator[None]:
    """Set torch's intra-op threads to ``cfg.threads`` (None: 1) inside the block; restore the
    previous count on leaving it, also on error."""
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or 1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning-rate multiplier of ``train.lr_schedule`` at step (0-based) of ``total``:
    constant 1; cosine 0.5 * (1 + cos(pi * step / total)), 1 at the first step, near 0 at the last."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total))
    raise ValueError(f"train.lr_schedule must be constant or cosine, got {schedule!r}")


def make_batches(x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, fabric: Fabric, batch: int,
                 check: Optional[Callable[[], None]] = None,
                 draw: Optional[torch.Tensor] = None) -> DeviceBatches | StreamBatches:
    """This rank's loader of (x, y) (``train.loader``; ``check`` guards a streamed cache; ``draw``
    (N,) the sampling weights of a class-balanced sampler)."""
    per_node = fabric.world_size // cfg.num_nodes if fabric.device.type == "cpu" else 1
    kind = choose_loader(cfg.loader, x.nelement() * x.element_size(), fabric.device, per_node)
    args = (fabric.device, batch, fabric.global_rank, fabric.world_size, cfg.seed)
    if kind == "device":
        return DeviceBatches(x, y, *args, draw=draw)
    return StreamBatches(x.numpy(), y.float().numpy(), *args, check=check, draw=draw)


def _load_state(path: Path, total: int, model: LatentModel, optimizers: list, fabric: Fabric) -> int:
    """Load the training state of checkpoint ``path`` into ``model``, ``optimizers`` and this
    rank's random generators; return its step."""
    state = load_checkpoint(path)
    try:
        start = state["step"]
        if not is_integer(start) or not 0 <= start <= total:
            raise ValueError(f"its step {start!r} is not a step of this run (0..{total})")
        if len(state["optimizers"]) != len(optimizers):
            raise ValueError(f"it holds {len(state['optimizers'])} optimiser states, this model has "
                             f"{len(optimizers)} optimisers")
        model.load_state_dict(state["model"])
        for opt, opt_state in zip(optimizers, state["optimizers"]):
            opt.load_state_dict(opt_state)
        rank, world = fabric.global_rank, fabric.world_size
        ranks = state.get("rng_cpu_ranks", state["rng_cpu"][None])
        if len(ranks) != world:
            raise ValueError(f"it was written by {len(ranks)} processes, this run has {world}")
        torch.set_rng_state(ranks[rank].clone())  # a view of a row would be read from its storage's start
        if "rng_cuda" in state and fabric.device.type == "cuda":
            torch.cuda.set_rng_state(state.get("rng_cuda_ranks", state["rng_cuda"][None])[rank].clone(),
                                    fabric.device)
    except KeyError as err:
        raise CheckpointError(f"{path} cannot be resumed: it lacks the training state "
                              f"{err.args[0]!r} (optimisers and random state)") from err
    except (ValueError, TypeError, RuntimeError, IndexError) as err:
        raise CheckpointError(f"{path} cannot be resumed: {err}") from err
    return start


def _random_state(fabric: Fabric) -> dict:
    """This rank's random generators, and with several ranks every rank's (collective)."""
    state = {"rng_cpu": torch.get_rng_state()}
    if fabric.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(fabric.device)
    if is_parallel(fabric):
        state.update({f"{key}_ranks": gather_rows(fabric, value) for key, value in list(state.items())})
    return state


def train(model: LatentModel, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig,
          run: Optional[RunDir] = None, run_config: Optional[RunConfig] = None,
          resume: bool = False, description: str = "fit", fabric: Optional[Fabric] = None,
          check_source: Optional[Callable[[], None]] = None, draw: Optional[torch.Tensor] = None) -> LatentModel:
    """Train ``model`` on (x, y) (CPU tensors: float vectors or uint8 images, possibly on a
    memory map; y (N, k) float).

    With ``run``, writes metrics.csv and checkpoints there (atomically; rank 0 only), and with
    ``resume`` continues from its last checkpoint. ``fabric``: the Fabric of ``cfg`` when the
    caller made (and launched) it. ``draw`` (N,): draw batches with replacement with these
    weights (``data.balance: sample``) instead of permuting. Returns the trained model (unwrapped, on the device)."""
    fabric = fabric or make_fabric(cfg)
    launch(fabric)
    rank, world = fabric.global_rank, fabric.world_size
    torch.manual_seed(rank_seed(cfg.seed, rank))
    layout = torch.channels_last if x.dim() == 4 else torch.contiguous_format
    model = model.to(fabric.device, memory_format=layout)
    n = len(x)
    batch = max(world, min(cfg.batch_size, n) // world * world)  # the global batch, split evenly
    loader = make_batches(x, y, cfg, fabric, batch, check_source, draw)
    total = cfg.epochs * loader.steps_per_epoch  # the last partial batch is dropped (batch norm needs > 1)

    optimizers = [torch.optim.Adam(model.model_parameters(), lr=cfg.lr, fused=True)]
    if model.adversarial:
        optimizers.append(torch.optim.Adam(model.adversary_parameters(), lr=cfg.adversary_lr, fused=True))
    base_lrs = [[group["lr"] for group in opt.param_groups] for opt in optimizers]
    start = 0
    if resume and run is not None and run.checkpoint.exists():
        start = _load_state(run.checkpoint, total, model, optimizers, fabric)
    net = data_parallel(fabric, model, model.adversary_parameters())
    opt_model, *rest = [fabric.setup_optimizers(opt) for opt in optimizers]
    opt_adversary = rest[0] if rest else None
    if cfg.compile:
        net = torch.compile(net)
    # A compiled forward can be backpropagated once, so both losses go into one backward: their
    # parameters and graphs are disjoint (the adversary is frozen in the model loss and sees a
    # detached z), so the gradients are those of the two backwards of the eager schedule.
    joint = cfg.compile and opt_adversary is not None
    parallel, adversary_params = is_parallel(fabric), model.adversary_parameters()

    log = MetricsLog(run.metrics if run and rank == 0 else None, start, lambda values: gather_rows(fabric, values))

    def step_adversary(loss: Optional[torch.Tensor]) -> None:
        """One adversary update: backpropagate ``loss`` (None: its gradients are there, from the
        joint backward), average the gradients over the processes, step."""
        if loss is not None:
            opt_adversary.zero_grad(set_to_none=True)
            fabric.backward(loss)
        if parallel:
            average_gradients(fabric, adversary_params)
        opt_adversary.step()

    def save(step: int) -> None:
        log.check()  # never overwrite the last good checkpoint with a diverged model
        state = {"config": config_to_dict(run_config) if run_config else {}, "x_shape": list(model.x_shape),
                 "y_dim": model.y_dim, "model": model.state_dict(), "step": step, "total_steps": total,
                 "optimizers": [o.state_dict() for o in optimizers], **_random_state(fabric), "finished": False}
        if rank == 0:
            save_checkpoint(state, run.checkpoint)

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=start, desc=description, disable=rank > 0 or not sys.stderr.isatty(),
               leave=False)
    model.train()
    batches = loader.batches(start, total)
    autotune = torch.backends.cudnn.benchmark
    # every batch has one shape (the last partial batch is dropped), so cuDNN's autotuned
    # convolution kernels, chosen on the first steps, serve the whole run
    torch.backends.cudnn.benchmark = autotune or fabric.device.type == "cuda"
    try:
        for step, (xb, yb) in zip(range(start, total), batches):
            epoch = step // loader.steps_per_epoch
            if cfg.lr_schedule != "constant":
                factor = lr_factor(cfg.lr_schedule, step, total)
                for opt, lrs in zip(optimizers, base_lrs):
                    for group, lr in zip(opt.param_groups, lrs):
                        group["lr"] = lr * factor
            model.set_progress(step, total)
            with fabric.autocast():
                terms = net(xb, yb)
            opt_model.zero_grad(set_to_none=True)
            if joint:
                opt_adversary.zero_grad(set_to_none=True)
            fabric.backward(terms["model"] + terms["adversary"] if joint else terms["model"])
            opt_model.step()
            if opt_adversary is not None:
                # the first step reads this batch's adversary objective (already backpropagated when joint)
                step_adversary(None if joint else terms["adversary"])
                for _ in range(cfg.adversary_steps - 1):  # the extra steps draw fresh codes of the batch
                    with fabric.autocast():
                        loss = model.adversary_loss(xb, yb)
                    step_adversary(loss)
            log.add(terms)
            done = step + 1
            if done % cfg.log_every == 0 or done == total:
                log.flush(done, epoch)
                bar.set_postfix({k: f"{v:.3g}" for k, v in log.last.items() if k in ("model", "adversary")})
            if run is not None and (done % cfg.checkpoint_every == 0 or done == total):
                save(done)
            bar.update(1)
    except NonFiniteLossError as err:
        where = f"; the last good checkpoint is {run.checkpoint}" if run and run.checkpoint.exists() else ""
        raise NonFiniteLossError(f"{err}{where}") from None
    finally:
        torch.backends.cudnn.benchmark = autotune
        batches.close()
        bar.close()
        model.to(memory_format=torch.contiguous_format)
    log.flush(total, cfg.epochs - 1)
    return model
