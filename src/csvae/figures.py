"""The figures stage: image grids and latent plots drawn from files (matplotlib, atomic PNGs).

Nothing here runs a model: ``run_figures`` draws a run's figures from its arrays.npz (written by
``csvae evaluate``, see ``csvae.evaluate.figure_data``), data.json and config.yaml, and
``comparison_figures`` puts several runs' manipulations side by side. The grids:

- ``style_grid``: the paper's style figure: per input, decodings over a 2-D grid of W_j;
- ``comparison_grid``: input, reconstruction and each model's G(x) side by side;
- ``transfer_grid``: content images (rows) x style images (columns), W_j taken from the style;
- ``latent_scatter``: each subspace W_i of a CSVAE, coloured by y_i.

Images are (N, C, H, W) uint8 or float in [0, 1]; 1-channel images are drawn grey.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from csvae.configfile import load_config  # noqa: E402
from csvae.data.checks import DataError  # noqa: E402
from csvae.datacard import read_card  # noqa: E402
from csvae.plots import plot_latents, save_figure  # noqa: E402
from csvae.rundir import ExperimentDir, RunDir  # noqa: E402
from csvae.runfiles import load_arrays, unit_float  # noqa: E402

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


def style_grid(inputs: np.ndarray, decoded: np.ndarray, extent: Sequence[float], label: str,
               path: str | os.PathLike) -> None:
    """Per input (a row): the input (B, C, H, W), then its decodings over a steps x steps grid of
    W[label] (B, steps, steps, C, H, W) spanning ``extent`` on both axes; w_1 grows rightwards,
    w_2 upwards."""
    lo, hi = (float(v) for v in extent)
    steps = decoded.shape[1]
    fig, axes = plt.subplots(len(inputs), 2, figsize=(1.2 + 0.5 * steps, 0.5 * steps * len(inputs) + 0.4),
                             gridspec_kw={"width_ratios": [1, steps]}, squeeze=False)
    for row, (left, right) in enumerate(axes):
        left.imshow(tile(unit_float(inputs[row:row + 1])[None]), interpolation="nearest")
        left.axis("off")
        right.imshow(tile(decoded[row]), interpolation="nearest", extent=(lo, hi, lo, hi))
        right.set_ylabel(f"W[{label}] 2", fontsize=7)
        right.tick_params(labelsize=6)
    axes[-1, 1].set_xlabel(f"W[{label}] 1", fontsize=7)
    axes[0, 0].set_title("input", fontsize=8)
    axes[0, 1].set_title(f"decoded over a grid of W[{label}]", fontsize=8)
    save_figure(fig, path)


def comparison_grid(inputs: np.ndarray, reconstructions: np.ndarray, edits: dict[str, np.ndarray],
                    path: str | os.PathLike, *, recon_name: str = "", title: str = "") -> None:
    """Rows: inputs (N, C, H, W). Columns: input, reconstruction, then each model's G(x) (``edits``:
    name -> (N, C, H, W))."""
    if not edits:
        raise ValueError("comparison_grid needs at least one model's images")
    columns = [unit_float(inputs), unit_float(reconstructions), *(unit_float(e) for e in edits.values())]
    recon = f"recon\n({recon_name})" if recon_name else "recon"
    save_image_grid(np.stack(columns, 1), path, title=title,
                    col_labels=["input", recon] + [f"G\n{name}" for name in edits])


def transfer_grid(content: np.ndarray, styles: np.ndarray, cells: np.ndarray, path: str | os.PathLike, *,
                  title: str = "") -> None:
    """Top row: style images (S, C, H, W); left column: content images (R, C, H, W); cell (r, c)
    (``cells`` (R, S, C, H, W)): content r with W_attribute of style c."""
    blank = np.full((1, 1, *cells.shape[2:]), np.nan, np.float32)
    top = np.concatenate([blank, unit_float(styles)[None]], 1)
    body = np.concatenate([unit_float(content)[:, None], unit_float(cells)], 1)
    save_image_grid(np.concatenate([top, body], 0), path, title=title,
                    row_labels=["style"] + [f"content {r + 1}" for r in range(len(content))],
                    col_labels=[""] + [f"style {c + 1}" for c in range(len(styles))])


def latent_scatter(w: np.ndarray, y: np.ndarray, attribute_names: Sequence[str], w_dim: int,
                   path: str | os.PathLike) -> None:
    """One panel per subspace W_i of w (N, k * w_dim) (its first two dimensions), coloured by y_i."""
    if w_dim < 2:
        raise ValueError(f"latent_scatter needs subspaces of at least 2 dimensions, w_dim={w_dim}")
    k = w.shape[1] // w_dim
    fig, axes = plt.subplots(1, k, figsize=(3.0 * k, 3.0), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes[0]):
        on = y[:, i] == 1
        for mask, colour, label in ((~on, "tab:blue", "0"), (on, "tab:red", "1")):
            ax.scatter(w[mask, i * w_dim], w[mask, i * w_dim + 1], s=4, c=colour, alpha=0.6, label=f"y={label}")
        ax.set_title(f"W[{attribute_names[i]}]", fontsize=9)
        ax.set_xlabel("w1", fontsize=8)
        ax.set_ylabel("w2", fontsize=8)
        ax.legend(fontsize=7, markerscale=2)
    save_figure(fig, path)


def run_figures(run_dir: str | os.PathLike) -> list[Path]:
    """Draw a run's figures from its arrays.npz, data.json and config.yaml: latents.png,
    reconstructions.png (images) and, in RUN/figures, manipulate_<attribute>.png and (CSVAE)
    styles_<attribute>.png and transfer_<attribute>.png. Returns the files written."""
    run = RunDir(run_dir)
    arrays, card, config = load_arrays(run.arrays), read_card(run.data_card), load_config(run.config)
    latents = {k[len("latent_"):]: v for k, v in arrays.items() if k.startswith("latent_")}
    names = card.attribute_names
    plot_latents(latents, arrays["labels"], names, card.label_kind, run.latents_figure,
                 title=f"{config.model.name} on {card.name}", w_dim=config.model.w_dim)
    written = [run.latents_figure]
    if "inputs" not in arrays:
        return written
    save_image_grid(np.stack([arrays["inputs"], arrays["reconstructions"]]), run.reconstructions_figure,
                    row_labels=["input", "reconstruction"])
    written.append(run.reconstructions_figure)
    run.figures.mkdir(exist_ok=True)
    for i, attribute in enumerate(names):
        written += attribute_grids(arrays, i, attribute, config.model.name, run)
    return written


def attribute_grids(arrays: dict[str, np.ndarray], i: int, attribute: str, model_name: str,
                    run: RunDir) -> list[Path]:
    """The grids of attribute ``i`` that the arrays hold: manipulate_, styles_ and transfer_<name>.png."""
    inputs, written = arrays["inputs"], []
    if f"manipulated_{i}" in arrays:
        written.append(run.grid("manipulate", attribute))
        comparison_grid(inputs, arrays["reconstructions"], {model_name: arrays[f"manipulated_{i}"]}, written[-1],
                        title=f"flip {attribute}")
    if f"style_{i}" in arrays:
        written.append(run.grid("styles", attribute))
        decoded = arrays[f"style_{i}"]
        style_grid(inputs[:len(decoded)], decoded, arrays["style_extent"], attribute, written[-1])
    if f"transfer_{i}" in arrays:
        cells = arrays[f"transfer_{i}"]
        written.append(run.grid("transfer", attribute))
        transfer_grid(inputs[:len(cells)], inputs[arrays[f"transfer_donors_{i}"]], cells, written[-1],
                      title=f"transfer of {attribute}")
    return written


def comparison_figures(runs: dict[str, RunDir], exp: ExperimentDir, data: str) -> list[tuple[str, Path]]:
    """Per binary attribute, one grid of every run's G(x) on the same inputs (from each run's
    arrays.npz and data.json; runs whose files cannot be read, or whose inputs differ from the
    first run's, are left out), in the experiment's figures/ (``ExperimentDir.comparison_figure``
    of part ``data``). Returns (title, path) pairs."""
    readable = {}
    for name, run in runs.items():
        try:
            readable[name] = (load_arrays(run.arrays), read_card(run.data_card))
        except DataError:
            continue
    readable = {n: (a, c) for n, (a, c) in readable.items() if "inputs" in a}
    if not readable:
        return []
    first_name, (first, card) = next(iter(readable.items()))
    same = {n: a for n, (a, _) in readable.items() if np.array_equal(a["inputs"], first["inputs"])}
    out = []
    exp.figures.mkdir(parents=True, exist_ok=True)
    for i, attribute in enumerate(card.attribute_names):
        edits = {n: a[f"manipulated_{i}"] for n, a in same.items() if f"manipulated_{i}" in a}
        if not edits:
            continue
        path = exp.comparison_figure(data, attribute)
        comparison_grid(first["inputs"], first["reconstructions"], edits, path, recon_name=first_name,
                        title=f"flip {attribute}")
        out.append((comparison_title(attribute), path))
    return out


def comparison_title(attribute: str) -> str:
    """The caption of the grid comparing every variant's manipulation of ``attribute``."""
    return f"manipulation of {attribute} (columns: input, reconstruction, then each model)"


def grid_title(variant: str, path: Path) -> str:
    """The caption of a run's styles_<attribute>.png or transfer_<attribute>.png."""
    kind, attribute = path.stem.split("_", 1)
    return (f"{variant} style grid over W_{attribute}" if kind == "styles"
            else f"{variant} transfer of {attribute} (content × style)")
