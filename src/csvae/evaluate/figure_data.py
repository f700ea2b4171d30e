"""What the figures of a run draw, computed once by ``evaluate`` and saved as RUN/arrays.npz.

The figures stage (``csvae.figures``) and the report draw from this file alone: no model, no
data set. Keys (N test examples, at most ``MAX_POINTS``; k labels; images uint8 (.., C, H, W)):

- ``labels`` (N, k) and ``latent_<name>`` (N, d) for each latent of ``model.latents`` ("z", "w", ...);
- images: ``inputs`` (n, C, H, W) the first n test images, ``input_labels`` (n, k),
  ``reconstructions`` (n, C, H, W);
- binary labels: ``manipulated_<i>`` (n, C, H, W), G(x) with attribute i flipped (one drawn style);
- models with label subspaces (CSVAE, CCVAE): ``transfer_<i>`` (m, s, C, H, W), content r with
  W_i of style image c, where ``transfer_donors_<i>`` (s,) are the indices in ``inputs`` of the
  donors (inputs with attribute i); CSVAE with 2-D or larger subspaces also ``style_<i>`` (m,
  steps, steps, C, H, W), the first m inputs decoded over a steps x steps grid of W_i (top row:
  largest second coordinate) with ``style_extent`` (2,) its range.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from csvae.config import atomic_write_bytes
from csvae.data.checks import DataError
from csvae.evaluate.manipulation import eval_mode, generate, model_device, reconstruct
from csvae.safeio import check_regular

MAX_POINTS = 2000
"""Test examples kept for the latent plots."""


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (data units) as uint8 (what a PNG holds anyway)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.rint(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def decode_subspace_grid(model, x, y, attribute: int, points: np.ndarray) -> np.ndarray:
    """Decode each x (B, ...) with W_attribute set to each point (P, w_dim), z and the other
    subspaces at their posterior means: float32 (B, P, C, H, W) in data units."""
    points = np.asarray(points, dtype=np.float32)
    d = model.w_dim
    if points.ndim != 2 or points.shape[1] != d:
        raise ValueError(f"points must have shape (P, w_dim={d}), got {points.shape}")
    if not 0 <= attribute < model.n_subspaces:
        raise ValueError(f"attribute index {attribute} out of range 0..{model.n_subspaces - 1}")
    device = model_device(model)
    xt, yt, pt = (torch.as_tensor(np.asarray(a)).to(device) for a in (x, np.asarray(y, np.float32), points))
    with eval_mode(model), torch.no_grad():
        post = model.encode(xt, yt)
        b, p = len(xt), len(pt)
        z = post.z.mean.repeat_interleave(p, 0)
        w = post.w.mean.repeat_interleave(p, 0).clone()
        w[:, attribute * d:(attribute + 1) * d] = pt.repeat(b, 1)
        out = model.to_data(model.decode(z, w)).float().cpu().numpy()
    return out.reshape(b, p, *out.shape[1:])


def default_extent(model) -> tuple[float, float]:
    """Grid range covering both prior components: [min mean - 2 s1, max mean + 2 s1]."""
    c = model.config
    spread = 2.0 * c.prior_scale_1
    return (min(c.prior_mean_0, c.prior_mean_1) - spread, max(c.prior_mean_0, c.prior_mean_1) + spread)


def style_grid_images(model, x, y, attribute: int, steps: int = 5,
                      extent: Optional[tuple[float, float]] = None) -> np.ndarray:
    """The paper's style figure as images: each x decoded over a steps x steps grid of
    W_attribute spanning ``extent`` on its first two coordinates (default ``default_extent``; the
    other coordinates at the prior mean of y = 1): float32 (B, steps, steps, C, H, W), w_1 growing
    rightwards, w_2 upwards."""
    if model.w_dim < 2:
        raise ValueError(f"a style grid needs subspaces of at least 2 dimensions, the model has w_dim={model.w_dim}")
    lo, hi = extent or default_extent(model)
    values = np.linspace(lo, hi, steps, dtype=np.float32)
    w1, w2 = np.meshgrid(values, values[::-1])  # top row: largest w_2
    points = np.full((steps * steps, model.w_dim), model.config.prior_mean_1, dtype=np.float32)
    points[:, 0], points[:, 1] = w1.ravel(), w2.ravel()
    decoded = decode_subspace_grid(model, x, y, attribute, points)
    return decoded.reshape(len(decoded), steps, steps, *decoded.shape[2:])


def transfer_cells(model, content_x, content_y, style_x, style_y, attribute: int) -> np.ndarray:
    """Content r decoded with W_attribute of style image c (``model.transfer``): float32
    (R, S, C, H, W)."""
    device = model_device(model)
    cx, cy, sx, sy = (torch.as_tensor(np.asarray(a)).to(device) for a in
                      (content_x, np.asarray(content_y, np.float32), style_x, np.asarray(style_y, np.float32)))
    with eval_mode(model), torch.no_grad():
        return np.stack([model.transfer(cx, cy, sx[j:j + 1], sy[j:j + 1], [attribute]).float().cpu().numpy()
                         for j in range(len(sx))], 1)


def figure_arrays(model, x_test: np.ndarray, y_test: np.ndarray, label_kind: str, *, seed: int = 0,
                  n_images: int = 8, n_styles: int = 4, steps: int = 5) -> dict[str, np.ndarray]:
    """Everything the figures of one run draw (keys: module doc), from its test split."""
    keep = np.sort(np.random.default_rng(0).permutation(len(x_test))[:MAX_POINTS])
    labels = np.asarray(y_test[keep], dtype=np.float32)
    out = {"labels": labels, **{f"latent_{k}": v for k, v in model.latents(x_test[keep], labels).items()}}
    if np.asarray(x_test).ndim != 4:
        return out
    x = np.asarray(x_test[:n_images])
    y = np.asarray(y_test[:n_images], dtype=np.float32)
    out.update(inputs=x, input_labels=y, reconstructions=to_uint8(reconstruct(model, x, y)))
    if label_kind != "binary":
        return out
    subspaces = getattr(model, "has_subspaces", False)
    style_grids = model.config.name == "csvae" and model.w_dim >= 2  # a grid over CSVAE's fixed prior's range
    if style_grids:
        out["style_extent"] = np.asarray(default_extent(model), dtype=np.float32)
    for i in range(y.shape[1]):
        target = y.copy()
        target[:, i] = 1 - target[:, i]
        out[f"manipulated_{i}"] = to_uint8(generate(model, x, y, target, style="sample", seed=seed))
        if not subspaces:
            continue
        m = min(n_styles, len(x))
        if style_grids:
            out[f"style_{i}"] = to_uint8(style_grid_images(model, x[:m], y[:m], i, steps))
        donors = np.flatnonzero(y[:, i] == 1)[:n_styles]
        if len(donors):
            out[f"transfer_{i}"] = to_uint8(transfer_cells(model, x[:m], y[:m], x[donors], y[donors], i))
            out[f"transfer_donors_{i}"] = donors
    return out


def save_arrays(arrays: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write ``arrays`` as one .npz file, atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a .npz file written by ``save_arrays`` (no pickle); DataError naming the file
    when it is missing or unreadable."""
    path = Path(path)
    try:
        check_regular(path, "arrays file")  # a FIFO would block np.load
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise DataError(f"{path} is missing: evaluate the run first (`csvae evaluate {path.parent}`)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"{path} is not a readable arrays file ({type(err).__name__}: {err}); evaluate the run "
                        f"again (`csvae evaluate {path.parent}`)") from None
