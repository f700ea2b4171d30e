"""One run as the explorer sees it: the model, what its controls are, and the model work behind
every control (encode once, decode a latent point, sample or reset a style).

A ``RunView`` is opened at start for each RUN given to ``csvae explore``; a folder that is not a
finished run, holds a model this csvae cannot read, or was trained from arrays in Python is
refused with ``RunRefused`` naming the folder. Everything here is plain Python on numpy/torch: the web layer
(``csvae.explore.server``) and the tests call the same methods.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from csvae.api import load
from csvae.apply.run import image_card
from csvae.checkpoint import CheckpointError
from csvae.data.checks import DataError
from csvae.datacard import ARRAYS
from csvae.evaluate.figure_data import default_extent, to_uint8
from csvae.models import MODEL_TITLES
from csvae.rundir import RunDir
from csvae.runfiles import load_arrays

SCATTER_POINTS = 300
"""Training codes drawn behind each W_i pad (from the run's arrays.npz)."""
PAD_MARGIN = 0.1
"""Room around the training codes on a pad, as a share of their range."""
CCVAE_SLIDER_SIGMAS = 4.0
"""CCVAE slider range: mu^0 - 4 sigma^0 .. mu^1 + 4 sigma^1 of the conditional prior (revae-demo's +-4 sigma)."""


class RunRefused(ValueError):
    """A RUN folder the explorer cannot show; the message names the folder and why."""


@dataclass
class Code:
    """An input's encoding: x in data units (1, ...), the labels it was encoded with, and the
    posterior means z (z_dim,) and, for subspace models, w (k * w_dim,)."""

    x: torch.Tensor
    y: np.ndarray
    z: np.ndarray
    w: Optional[np.ndarray]


class RunView:
    """A finished run opened for exploring. ``lock`` serialises the model's work across requests."""

    def __init__(self, path, sha256: Optional[str] = None):
        """path: a run folder, or a shipped model's folder (``csvae.pretrained``) whose model.pt
        must have the checksum ``sha256``."""
        self.run = RunDir(Path(path))
        root = self.run.root
        if not root.is_dir():
            raise RunRefused(f"{root} is not a run folder (no such folder)")
        if not self.run.final.exists():
            raise RunRefused(f"{root} is not a finished run: it has no {self.run.final.name} (train it with "
                             f"`csvae fit`, or finish it with --resume)")
        try:
            self.model = load(root, sha256=sha256)
        except CheckpointError as err:
            raise RunRefused(f"{root} cannot be explored: {err}") from None
        card = self.model.data_card
        if card.name == ARRAYS:
            raise RunRefused(f"{root} was trained from arrays in Python, so its data and image crop are unknown; "
                             f"the explorer needs a run trained with `csvae fit`")
        if card.is_image:
            try:
                image_card(self.model)
            except DataError as err:
                raise RunRefused(f"{root} is not an image run the explorer can show: {err}") from None
        self.card = card
        self.names = list(card.attribute_names)
        self.kind = "image" if card.is_image else "vector"
        self.lock = threading.Lock()
        self.arrays = self._arrays()

    def _arrays(self) -> dict:
        if not self.run.arrays.exists():
            return {}
        try:
            return load_arrays(self.run.arrays)
        except DataError:
            return {}

    # ----- what the page shows ------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self.model.config.name

    @property
    def label(self) -> str:
        """The heading: the model and its data, then the run folder's name ("CSVAE on celeba-glasses (seed0)")."""
        return f"{MODEL_TITLES.get(self.model_name, self.model_name)} on {self.card.name} ({self.run.root.name})"

    @property
    def control(self) -> str:
        """"pad" (CSVAE: a 2-D pad per W_i), "sliders" (CCVAE: one per characteristic dimension;
        CSVAE with 1-D subspaces) or "labels" (the baselines: label toggles only)."""
        if not self.model.has_subspaces:
            return "labels"
        return "sliders" if self.model_name == "ccvae" or self.model.w_dim < 2 else "pad"

    def describe(self) -> dict:
        """The run's controls for the page (JSON-ready)."""
        out = {"label": self.label, "model": self.model_name, "data": self.card.name,
               "run_dir": str(self.run.root.resolve()), "kind": self.kind, "attributes": self.names,
               "label_kind": self.card.label_kind, "control": self.control,
               "x_shape": list(self.model.x_shape)}
        if self.model.has_subspaces:
            out["w_dim"] = self.model.w_dim
            out["class_means"] = {"0": self.model.w_means_0.tolist(), "1": self.model.w_means_1.tolist()}
        if self.control == "pad":
            out["extent"], out["scatter"] = self._pad_ranges()
        if self.control == "sliders" and self.model_name == "ccvae":
            out["ranges"] = [self._slider_range(i) for i in range(len(self.names))]
        elif self.control == "sliders":  # CSVAE with 1-D W_i: the pad's range on one axis
            out["ranges"] = [[extent] for extent in self._pad_ranges()[0]]
        return out

    def _pad_ranges(self) -> tuple[list, list]:
        """Per attribute: the pad's [low, high] and up to ``SCATTER_POINTS`` training codes
        [[w...], label]. With codes (``csvae evaluate``'s arrays.npz) the range spans their 1st..99th
        percentiles and both class means, with a margin, so the data fill the pad; without, the
        prior's range."""
        w, labels = self.arrays.get("latent_w"), self.arrays.get("labels")
        d = self.model.w_dim
        extents, scatter = [], []
        rng = np.random.default_rng(0)
        means = np.concatenate([self.model.w_means_0.cpu().numpy(), self.model.w_means_1.cpu().numpy()], 1)
        for i in range(len(self.names)):
            low, high = default_extent(self.model)
            points = []
            if w is not None and labels is not None and w.shape[1] == d * len(self.names):
                block = w[:, i * d:(i + 1) * d]
                low = min(float(np.percentile(block, 1)), float(means[i].min()))
                high = max(float(np.percentile(block, 99)), float(means[i].max()))
                margin = PAD_MARGIN * max(high - low, 1e-3)
                low, high = low - margin, high + margin
                keep = rng.permutation(len(block))[:SCATTER_POINTS]
                points = [[np.round(block[j], 3).tolist(), int(labels[j, i] > 0.5)] for j in keep]
            extents.append([round(low, 3), round(high, 3)])
            scatter.append(points)
        return extents, scatter

    def _slider_range(self, attribute: int) -> list:
        low, high = self.model.walk_limits(attribute, CCVAE_SLIDER_SIGMAS)
        return [[round(float(min(a, b)), 3), round(float(max(a, b)), 3)] for a, b in zip(low, high)]

    # ----- model work ---------------------------------------------------------------------------
    def encode(self, x: np.ndarray, y: np.ndarray) -> Code:
        """Encode one input (x: uint8 (C, S, S) image or float vector) under labels y (k,)."""
        device = self.model.x_shift.device
        xt = torch.as_tensor(np.array(x)[None]).to(device)
        if xt.dtype != torch.uint8:
            xt = xt.float()
        yt = torch.as_tensor(np.asarray(y, np.float32)[None]).to(device)
        with torch.no_grad():
            post = self.model.eval().encode(xt, yt)
        w = post.w.mean[0].cpu().numpy() if post.w is not None else None
        return Code(xt, np.asarray(y, np.float32), post.z.mean[0].cpu().numpy(), w)

    def edit(self, code: Code, target: np.ndarray, w: Optional[np.ndarray]) -> np.ndarray:
        """The edited input in data units: subspace models decode (z, w) with the given w (k * w_dim,);
        the baselines change the labels to ``target`` (k,) with their ``manipulate``."""
        model = self.model
        with torch.no_grad():
            if model.has_subspaces:
                device = model.x_shift.device
                z = torch.as_tensor(code.z[None], device=device)
                wt = torch.as_tensor(np.asarray(w, np.float32)[None], device=device)
                out = model.to_data(model.decode(z, wt))
            else:
                y = torch.as_tensor(code.y[None], device=code.x.device)
                out = model.manipulate(code.x, y, torch.as_tensor(np.asarray(target, np.float32)[None],
                                                                   device=code.x.device))
        out = out[0].float().cpu().numpy()
        return to_uint8(out) if self.kind == "image" else out

    def reconstruct(self, code: Code) -> np.ndarray:
        if self.model.has_subspaces:
            return self.edit(code, code.y, code.w)
        return self.edit(code, code.y, None)

    def points(self, target: np.ndarray, how: str, seed: int) -> np.ndarray:
        """A point in every subspace for labels ``target`` (k,): "class_mean", "prior_mean" or
        "sample" (seeded) from p(w | target); (k * w_dim,)."""
        if not self.model.has_subspaces:
            raise ValueError(f"{self.model_name} has no label subspaces")
        generator = torch.Generator().manual_seed(int(seed))
        y = torch.as_tensor(np.asarray(target, np.float32)[None], device=self.model.x_shift.device)
        with torch.no_grad():
            values = self.model.subspace_values(y, how, generator if how == "sample" else None)
        return values[0].cpu().numpy()
