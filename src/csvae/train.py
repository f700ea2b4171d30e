"""The one training loop, on Lightning Fabric, for every model.

Per step: a batch is indexed from tensors that live on the device (no DataLoader, no host copy);
the model step minimises ``losses["model"]`` over encoders and decoder (the adversary is frozen
inside the model's losses); adversarial models then take ``adversary_steps`` steps of their
adversary on ``losses["adversary"]``, computed on detached z. Losses are accumulated on the device
and read back only every ``log_every`` steps, where a NaN/inf term stops the run.

Speed (figures in docs/performance.md): images and conv weights are kept ``channels_last`` while
training; the model is called directly under ``fabric.autocast()`` rather than through Fabric's
module wrapper, which on one device only adds per-output hooks (~9% of a toy step) and, under
bf16-mixed, would round float inputs and labels to bf16; ``threads`` sets torch's intra-op threads.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import torch
from lightning_fabric import Fabric

from csvae.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from csvae.config import ConfigError, RunConfig, TrainConfig, atomic_write_bytes, config_to_dict
from csvae.models.base import LatentModel
from csvae.rundir import RunDir


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or inf; the message names the term and the step."""


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _fabric(cfg: TrainConfig) -> Fabric:
    device = resolve_device(cfg.device)
    accelerator, devices = "cpu", 1
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device is {cfg.device!r} but no CUDA GPU is available")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"train.device is {cfg.device!r} but there are {torch.cuda.device_count()} GPUs")
        accelerator, devices = "cuda", [index]
    try:
        return Fabric(accelerator=accelerator, devices=devices, precision=cfg.precision)
    except (ValueError, ImportError) as err:  # an unknown precision, or one that needs a missing package
        raise ConfigError(f"train.precision {cfg.precision!r} cannot be used on {device}: {err}") from err


def check_fabric(cfg: TrainConfig) -> None:
    """Raise ConfigError now if ``cfg``'s device or precision cannot train (as ``train`` would)."""
    _fabric(cfg)


class MetricsLog:
    """Keeps each step's loss terms on the device; every ``flush`` checks them for NaN/inf and
    writes their window means to metrics.csv (one host sync per window)."""

    def __init__(self, path: Optional[Path], start_step: int):
        self.path = path
        self.names: list[str] = []
        self.window: list[torch.Tensor] = []
        self.first_step = start_step + 1
        self.last: dict[str, float] = {}
        if path is not None and path.exists():  # resuming: drop rows past the checkpoint
            lines = path.read_text().splitlines(keepends=True)
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
        """Raise NonFiniteLossError naming the first bad term and its step; return the window
        (steps, terms) on the host."""
        if not self.window:
            return None
        values = torch.stack(self.window).cpu()
        bad = ~torch.isfinite(values)
        if bad.any():
            step, term = (int(i) for i in bad.nonzero()[0])
            raise NonFiniteLossError(f"loss term {self.names[term]!r} became non-finite (NaN or inf) at step "
                                     f"{self.first_step + step}")
        return values

    def flush(self, step: int, epoch: int) -> None:
        values = self.check()
        if values is None:
            return
        self.last = dict(zip(self.names, values.mean(0).tolist()))
        if self.path is not None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            with self.path.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["step", "epoch", "time", *self.last])
                if new:
                    writer.writeheader()
                writer.writerow({"step": step, "epoch": epoch, "time": round(time.time(), 3), **self.last})
        self.window = []
        self.first_step = step + 1


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


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor its parameter's strides. Fused Adam walks raw memory:
    a state loaded in another layout (a checkpoint written before the weights were made
    channels_last) would silently update the wrong elements."""
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                state[key] = torch.empty_like(param).copy_(value)


def _batch_order(n: int, epoch: int, seed: int, device: torch.device) -> torch.Tensor:
    """The permutation of epoch ``epoch``: a function of (seed, epoch) alone, so resumed runs see
    the same batches."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).to(device)


def train(model: LatentModel, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig,
          run: Optional[RunDir] = None, run_config: Optional[RunConfig] = None,
          resume: bool = False, description: str = "fit") -> LatentModel:
    """Train ``model`` on (x, y) (CPU tensors: float vectors or uint8 images; y (N, k) float).

    With ``run``, writes metrics.csv and checkpoints there (atomically), and with ``resume``
    continues from its last checkpoint. Returns the trained model (unwrapped, on the device)."""
    fabric = _fabric(cfg)
    torch.manual_seed(cfg.seed)
    layout = torch.channels_last if x.dim() == 4 else torch.contiguous_format
    model = model.to(fabric.device, memory_format=layout)
    x, y = x.to(fabric.device, memory_format=layout), y.to(fabric.device)
    n = len(x)
    batch = min(cfg.batch_size, n)
    steps_per_epoch = max(1, n // batch)  # the last partial batch is dropped (batch norm needs > 1)
    total = cfg.epochs * steps_per_epoch

    optimizers = [torch.optim.Adam(model.model_parameters(), lr=cfg.lr, fused=True)]
    if model.adversarial:
        optimizers.append(torch.optim.Adam(model.adversary_parameters(), lr=cfg.adversary_lr, fused=True))
    start = 0
    if resume and run is not None and run.checkpoint.exists():
        state = load_checkpoint(run.checkpoint)
        try:
            start = state["step"]
            if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= total:
                raise ValueError(f"its step {start!r} is not a step of this run (0..{total})")
            if len(state["optimizers"]) != len(optimizers):
                raise ValueError(f"it holds {len(state['optimizers'])} optimiser states, this model has "
                                 f"{len(optimizers)} optimisers")
            model.load_state_dict(state["model"])
            for opt, opt_state in zip(optimizers, state["optimizers"]):
                opt.load_state_dict(opt_state)
                _match_layouts(opt)
            torch.set_rng_state(state["rng_cpu"])
            if "rng_cuda" in state and fabric.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng_cuda"], fabric.device)
        except KeyError as err:
            raise CheckpointError(f"{run.checkpoint} cannot be resumed: it lacks the training state "
                                  f"{err.args[0]!r} (optimisers and random state)") from err
        except (ValueError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"{run.checkpoint} cannot be resumed: {err}") from err
    opt_model, *rest = [fabric.setup_optimizers(opt) for opt in optimizers]
    opt_adversary = rest[0] if rest else None

    log = MetricsLog(run.metrics if run else None, start)

    def save(step: int) -> None:
        log.check()  # never overwrite the last good checkpoint with a diverged model
        state = {"config": config_to_dict(run_config) if run_config else {}, "x_shape": list(model.x_shape),
                 "y_dim": model.y_dim, "model": model.state_dict(), "step": step, "total_steps": total,
                 "optimizers": [o.state_dict() for o in optimizers], "rng_cpu": torch.get_rng_state(),
                 "finished": False}
        if fabric.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(fabric.device)
        save_checkpoint(state, run.checkpoint)

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=start, desc=description, disable=not sys.stderr.isatty(), leave=False)
    model.train()
    order = None
    try:
        for step in range(start, total):
            epoch, position = divmod(step, steps_per_epoch)
            if order is None or position == 0:
                order = _batch_order(n, epoch, cfg.seed, fabric.device)
            index = order[position * batch:(position + 1) * batch]
            xb, yb = x[index], y[index]  # indexing keeps channels_last (index_select would not)
            with fabric.autocast():
                terms = model(xb, yb)
            opt_model.zero_grad(set_to_none=True)
            fabric.backward(terms["model"])
            opt_model.step()
            if opt_adversary is not None:
                for extra in range(cfg.adversary_steps):
                    if extra == 0:
                        loss = terms["adversary"]
                    else:
                        with fabric.autocast():
                            loss = model.adversary_loss(xb, yb)
                    opt_adversary.zero_grad(set_to_none=True)
                    fabric.backward(loss)
                    opt_adversary.step()
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
        bar.close()
        model.to(memory_format=torch.contiguous_format)
    log.flush(total, cfg.epochs - 1)
    return model

