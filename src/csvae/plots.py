"""Figures: latent projections coloured by label (matplotlib, written atomically as PNG)."""

from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from csvae.fileio import atomic_write_bytes  # noqa: E402


def save_figure(fig, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def latent_panels(latents: dict[str, np.ndarray], w_dim: int = 2) -> list[tuple[str, np.ndarray, str, np.ndarray]]:
    """The axis pairs to plot. With w (CSVAE): the paper's (z1,z2), (z2,w1), (w1,w2), (w2,z1) for
    the first subspace W_1 (its first two of ``w_dim`` dims; (z1,z2), (z2,w1), (w1,z1) when W_1 is
    1-D); without: consecutive pairs of z dimensions (z1,z2), (z3,z4), ..."""
    z = latents["z"]
    if "w" in latents and z.shape[1] >= 2:
        w = latents["w"]
        axes = {"z1": z[:, 0], "z2": z[:, 1], "w1": w[:, 0]}
        pairs = [("z1", "z2"), ("z2", "w1"), ("w1", "z1")]
        if w_dim >= 2:
            axes["w2"] = w[:, 1]
            pairs = [("z1", "z2"), ("z2", "w1"), ("w1", "w2"), ("w2", "z1")]
        return [(a, axes[a], b, axes[b]) for a, b in pairs]
    dims = z.shape[1]
    return [(f"z{i + 1}", z[:, i], f"z{i + 2}", z[:, i + 1]) for i in range(0, dims - 1, 2)][:4] or \
        [("z1", z[:, 0], "index", np.arange(len(z)))]


def plot_latents(latents: dict[str, np.ndarray], y: np.ndarray, names: list[str], label_kind: str,
                 path: str | os.PathLike, title: str = "", max_points: int = 2000, w_dim: int = 2) -> None:
    """Scatter the latent projections coloured by the first attribute (or the class)."""
    colour = y.argmax(1) if label_kind == "categorical" else y[:, 0]
    label = "class" if label_kind == "categorical" else names[0]
    keep = np.random.default_rng(0).permutation(len(colour))[:max_points]
    panels = latent_panels(latents, w_dim)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    for ax, (xa, xv, ya, yv) in zip(axes[0], panels):
        points = ax.scatter(xv[keep], yv[keep], c=colour[keep], s=4, cmap="coolwarm", alpha=0.7)
        ax.set_xlabel(xa)
        ax.set_ylabel(ya)
    fig.colorbar(points, ax=axes[0].tolist(), label=label, shrink=0.8)
    fig.suptitle(title)
    save_figure(fig, path)

