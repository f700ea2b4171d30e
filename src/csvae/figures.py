"""Image-grid figures of trained models (matplotlib, written atomically as PNG).

- ``style_grid``: the paper's style figure: per input, decodings over a 2-D grid of W_j (its first
  two coordinates when w_dim > 2);
- ``manipulation_grid``: input, reconstruction and each model's G(x) side by side;
- ``transfer_grid``: content images (rows) x style images (columns), W_j taken from the style;
- ``latent_scatter``: each subspace W_i of a CSVAE, coloured by y_i.

Images are (N, C, H, W) uint8 or float in [0, 1]; 1-channel images are drawn grey.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from csvae.evaluate.manipulation import eval_mode, generate, model_device, reconstruct, unit_float  # noqa: E402
from csvae.plots import save_figure  # noqa: E402

PAD = 2


def tile(images: np.ndarray, pad: int = PAD) -> np.ndarray:
    """(R, K, C, H, W) images -> one (R*(H+pad)-pad, K*(W+pad)-pad, 3) uint8 picture, white gaps.
    NaN images (float) are drawn white."""
    images = np.asarray(images)
    if images.ndim != 5 or images.shape[2] not in (1, 3):
        raise ValueError(f"tile needs images of shape (rows, cols, 1 or 3, H, W), got {images.shape}")
    rows, cols, _, h, w = images.shape
    pixels = np.nan_to_num(unit_float(images), nan=1.0).clip(0.0, 1.0)
    pixels = np.broadcast_to(pixels, (rows, cols, 3, h, w))
    out = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), np.float32)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = pixels[r, c].transpose(1, 2, 0)
    return np.rint(out * 255).astype(np.uint8)


def save_image_grid(images: np.ndarray, path: str | os.PathLike, *, row_labels: Optional[Sequence[str]] = None,
                    col_labels: Optional[Sequence[str]] = None, title: str = "", cell_inches: float = 0.8) -> None:
    """Draw images (R, K, C, H, W) as one grid with optional row/column labels; write a PNG."""
    picture = tile(images)
    rows, cols, _, h, w = np.shape(images)
    fig, ax = plt.subplots(figsize=(max(2.0, cols * cell_inches + 1.0), max(1.5, rows * cell_inches + 0.8)))
    ax.imshow(picture, interpolation="nearest")
    ax.set_xticks([c * (w + PAD) + w / 2 for c in range(cols)] if col_labels else [])
    ax.set_yticks([r * (h + PAD) + h / 2 for r in range(rows)] if row_labels else [])
    if col_labels:
        ax.set_xticklabels(col_labels, fontsize=8)
        ax.xaxis.tick_top()
    if row_labels:
        ax.set_yticklabels(row_labels, fontsize=8)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, pad=16 if col_labels else 4)
    save_figure(fig, path)


def _tensors(model, *arrays):
    device = model_device(model)
    return [torch.as_tensor(np.asarray(a)).to(device) for a in arrays]


def decode_subspace_grid(model, x, y, attribute: int, points: np.ndarray) -> np.ndarray:
    """Decode each x (B, ...) with W_attribute set to each point (P, w_dim), z and the other
    subspaces at their posterior means: float32 (B, P, C, H, W) in data units."""
    points = np.asarray(points, dtype=np.float32)
    d = model.w_dim
    if points.ndim != 2 or points.shape[1] != d:
        raise ValueError(f"points must have shape (P, w_dim={d}), got {points.shape}")
    if not 0 <= attribute < model.n_subspaces:
        raise ValueError(f"attribute index {attribute} out of range 0..{model.n_subspaces - 1}")
    xt, yt, pt = _tensors(model, x, np.asarray(y, dtype=np.float32), points)
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


def style_grid(model, x, y, attribute: int, path: str | os.PathLike, *, steps: int = 5,
               extent: Optional[tuple[float, float]] = None, names: Optional[Sequence[str]] = None) -> None:
    """Per input (a row): the input, then decodings over a steps x steps grid of W_attribute
    spanning ``extent`` on both axes (default ``default_extent``); w_1 grows rightwards, w_2 upwards.
    For w_dim > 2 the grid covers the first two coordinates and the others stay at the prior mean
    of y = 1 (the prior is isotropic, so no plane is special before training)."""
    if model.w_dim < 2:
        raise ValueError(f"a style grid needs subspaces of at least 2 dimensions, the model has "
                         f"w_dim={model.w_dim}")
    lo, hi = extent or default_extent(model)
    values = np.linspace(lo, hi, steps, dtype=np.float32)
    w1, w2 = np.meshgrid(values, values[::-1])  # top row: largest w_2
    points = np.full((steps * steps, model.w_dim), model.config.prior_mean_1, dtype=np.float32)
    points[:, 0], points[:, 1] = w1.ravel(), w2.ravel()
    decoded = decode_subspace_grid(model, x, y, attribute, points)
    label = names[attribute] if names else f"attribute {attribute}"
    fig, axes = plt.subplots(len(x), 2, figsize=(1.2 + 0.5 * steps, 0.5 * steps * len(x) + 0.4),
                             gridspec_kw={"width_ratios": [1, steps]}, squeeze=False)
    for row, (left, right) in enumerate(axes):
        left.imshow(tile(unit_float(x[row:row + 1])[None]), interpolation="nearest")
        left.axis("off")
        right.imshow(tile(decoded[row].reshape(steps, steps, *decoded.shape[2:])), interpolation="nearest",
                     extent=(lo, hi, lo, hi))
        right.set_ylabel(f"W[{label}] 2", fontsize=7)
        right.tick_params(labelsize=6)
    axes[-1, 1].set_xlabel(f"W[{label}] 1", fontsize=7)
    axes[0, 0].set_title("input", fontsize=8)
    axes[0, 1].set_title(f"decoded over a grid of W[{label}]", fontsize=8)
    save_figure(fig, path)


def manipulation_grid(models: dict, x, y, target_y, path: str | os.PathLike, *, style="sample", seed: int = 0,
                      title: str = "") -> None:
    """Rows: inputs. Columns: input, reconstruction by the first model, G(x) of each model."""
    if not models:
        raise ValueError("manipulation_grid needs at least one model")
    first_name, first = next(iter(models.items()))
    columns = [unit_float(x), reconstruct(first, x, y)]
    columns += [generate(m, x, y, target_y, style=style, seed=seed) for m in models.values()]
    save_image_grid(np.stack(columns, 1), path, title=title,
                    col_labels=["input", f"recon\n({first_name})"] + [f"G\n{name}" for name in models])


def transfer_grid(model, content_x, content_y, style_x, style_y, attribute: int, path: str | os.PathLike, *,
                  title: str = "") -> None:
    """Top row: style images; left column: content images; cell (r, c): content r with W_attribute
    of style c (``model.transfer``)."""
    cx, cy, sx, sy = _tensors(model, content_x, np.asarray(content_y, np.float32), style_x,
                              np.asarray(style_y, np.float32))
    n_c, n_s = len(cx), len(sx)
    with eval_mode(model), torch.no_grad():
        cells = np.stack([model.transfer(cx, cy, sx[j:j + 1], sy[j:j + 1], [attribute]).float().cpu().numpy()
                          for j in range(n_s)], 1)
    blank = np.full((1, 1, *cells.shape[2:]), np.nan, np.float32)
    top = np.concatenate([blank, unit_float(style_x)[None]], 1)
    body = np.concatenate([unit_float(content_x)[:, None], cells], 1)
    save_image_grid(np.concatenate([top, body], 0), path, title=title,
                    row_labels=["style"] + [f"content {r + 1}" for r in range(n_c)],
                    col_labels=[""] + [f"style {c + 1}" for c in range(n_s)])


def latent_scatter(model, x, y, attribute_names: Sequence[str], path: str | os.PathLike, *,
                   max_points: int = 2000, seed: int = 0) -> None:
    """One panel per subspace W_i (its first two dimensions), points coloured by y_i."""
    y = np.asarray(y, dtype=np.float32)
    keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:max_points])
    w = model.latents(x[keep], y[keep])["w"]
    d = model.w_dim
    if d < 2:
        raise ValueError(f"latent_scatter needs subspaces of at least 2 dimensions, w_dim={d}")
    k = model.n_subspaces
    fig, axes = plt.subplots(1, k, figsize=(3.0 * k, 3.0), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes[0]):
        on = y[keep, i] == 1
        for mask, colour, label in ((~on, "tab:blue", "0"), (on, "tab:red", "1")):
            ax.scatter(w[mask, i * d], w[mask, i * d + 1], s=4, c=colour, alpha=0.6, label=f"y={label}")
        ax.set_title(f"W[{attribute_names[i]}]", fontsize=9)
        ax.set_xlabel("w1", fontsize=8)
        ax.set_ylabel("w2", fontsize=8)
        ax.legend(fontsize=7, markerscale=2)
    save_figure(fig, path)
