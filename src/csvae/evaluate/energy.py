"""Counterfactual *distributions* scored against the true ones: the energy distance (synthetic faces).

The grid distance of ``csvae.evaluate.counterfactual`` scores each added attribute against the
closest of a grid of styles. That forgives a model for not guessing the data set's style, but it
also rewards a model that always adds one style on the grid: on the synthetic faces' test split
(150 faces per attribute, 3-value grid) a model that always adds the middle style scores 0 in
pixels and features, a perfect sampler of the data's styles 0.019 / 0.025 / 0.016 RMS (glasses /
facial hair / smile). The styles are what CSVAE is for, so that distance cannot rank it.

The energy distance compares the distribution of a model's counterfactuals of x with the
distribution of the true ones (Székely and Rizzo 2013; as a proper scoring rule, Gneiting and
Raftery 2007). Per input x: K draws G_1..G_K of ``model.manipulate`` (the evaluation's style,
generator seeds seed..seed+K-1) and K true counterfactuals T_1..T_K (x re-rendered with the
attribute changed; an added attribute drawn in the style of a random face of the split that shows
it, i.e. from the data's own style distribution; a removed one has one truth)::

    D(x) = 2 mean_{k,l} |G_k - T_l| - mean_{k != l} |G_k - G_l| - mean_{k != l} |T_k - T_l|

an unbiased estimate of the energy distance: 0 in expectation when the model's counterfactuals
are distributed as the truth's (a perfect sampler), positive otherwise. A model that adds one
style, however central, pays for the spread it lacks; one that draws many styles pays for every
implausible one. For a removal the truth's spread is 0 and D = 2 x the mean distance minus the
model's own spread. Distances are RMS pixel distances (images in [0, 1]) and Euclidean distances
between judge features, as in ``counterfactual``; means come with seeded percentile-bootstrap 95 %
intervals over inputs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from csvae.constraints import is_integer
from csvae.data.dataset import Dataset
from csvae.data.synthetic_faces import STYLE_FACTORS
from csvae.evaluate.judge import Judge
from csvae.evaluate.manipulation import bootstrap_summary, directions, generate, sampled_direction_rows
from csvae.evaluate.truths import render
from csvae.runfiles import unit_float

N_DRAWS = 8
MAX_PER_DIRECTION = 200


def mean_pair_distance(a: np.ndarray, b: np.ndarray, same: bool) -> np.ndarray:
    """a (K, n, D), b (L, n, D) -> (n,): the mean Euclidean distance between a[k, j] and b[l, j] over
    all k, l; with ``same`` (a is b) over k != l only (the U-statistic)."""
    total = np.zeros(a.shape[1])
    for k in range(a.shape[0]):
        total += np.sqrt(((b - a[k][None]) ** 2).sum(-1)).sum(0)
    pairs = a.shape[0] * (a.shape[0] - 1) if same else a.shape[0] * b.shape[0]
    return total / pairs


def energy_distance(draws: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """Per-input energy distance of draws (K, n, D) from truths (L, n, D), K, L >= 2: (n,)."""
    if draws.shape[0] < 2 or truths.shape[0] < 2:
        raise ValueError(f"the energy distance needs at least 2 draws and 2 truths per input, got "
                         f"{draws.shape[0]} and {truths.shape[0]}")
    return (2 * mean_pair_distance(draws, truths, False) - mean_pair_distance(draws, draws, True)
            - mean_pair_distance(truths, truths, True))


def true_draws(dataset: Dataset, rows: np.ndarray, attribute: int, target: int, split: str, n_draws: int,
               rng: np.random.Generator) -> np.ndarray:
    """n_draws true counterfactuals of rows (n,): uint8 (n_draws, n, C, H, W). Target 1: each in the
    style of a random face of ``split`` that shows the attribute; target 0: the one truth, repeated."""
    if target == 0:
        return np.repeat(render(dataset, rows, attribute, 0)[None], n_draws, axis=0)
    split_rows = dataset.indices(split)
    donors = split_rows[dataset.y[split_rows, attribute] == 1]
    if len(donors) == 0:
        raise ValueError(f"the {split} split has no face with {dataset.attribute_names[attribute]!r} to draw a "
                         f"style from")
    factors = STYLE_FACTORS[dataset.attribute_names[attribute]]
    return np.stack([render(dataset, rows, attribute, 1,
                            style={f: np.asarray(dataset.factors[f])[picked] for f in factors})
                     for picked in rng.choice(donors, size=(n_draws, len(rows)))])


def energy_distances(model, judge: Judge, dataset: Dataset, *, split: str = "test", style="sample", seed: int = 0,
                     n_draws: int = N_DRAWS, n_boot: int = 1000,
                     max_per_direction: Optional[int] = MAX_PER_DIRECTION, batch_size: int = 256) -> dict[str, dict]:
    """The energy distance of every direction of the data set's binary attributes.

    Inputs as in ``counterfactual.counterfactual_distances`` (the split's faces with the source
    label, at most ``max_per_direction``, the same seeded sample). Returns direction name ->
    {"n", "draws", "pixel" and "feature": {"mean", "ci_low", "ci_high"} (None without inputs)}."""
    if not is_integer(n_draws, numpy=True) or n_draws < 2:
        raise ValueError(f"n_draws must be an integer >= 2, got {n_draws!r}")
    rows_split = dataset.indices(split)
    rng = np.random.default_rng(seed)
    out = {}
    for d in directions(dataset.attribute_names, "binary"):
        picked, target = sampled_direction_rows(d, dataset.y[rows_split], "binary", max_per_direction, seed)
        rows = rows_split[picked]
        row = {"n": int(len(rows)), "draws": int(n_draws), "pixel": None, "feature": None}
        out[d.name] = row
        if not len(rows):
            continue
        x, y = dataset.x[rows], dataset.y[rows]
        made = np.stack([generate(model, x, y, target, style=style, seed=seed + k, batch_size=batch_size)
                         for k in range(n_draws)])
        truth = true_draws(dataset, rows, d.attribute, d.target, split, n_draws, rng)
        pixels = [unit_float(images).reshape(n_draws, len(rows), -1) for images in (made, truth)]
        features = [judge.features(images.reshape(-1, *images.shape[2:])).reshape(n_draws, len(rows), -1)
                    for images in (made, truth)]
        row["pixel"] = bootstrap_summary(energy_distance(*pixels) / np.sqrt(pixels[0].shape[-1]), n_boot, seed)
        row["feature"] = bootstrap_summary(energy_distance(*features), n_boot, seed)
    return out
