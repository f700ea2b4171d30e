"""Manipulations scored against the true counterfactual (synthetic faces).

The synthetic-face generator can draw any face with any labels and styles, so for a test face x the
image it *should* become is known: the same face (nuisances, other attributes and their styles)
with attribute i changed (``csvae.data.synthetic_faces.render_counterfactuals``).

- **Counterfactual distance**, per direction "<attribute>: s->t": the distance between G(x)
  (``model.manipulate`` with the evaluation's style, as in ``csvae.evaluate.manipulation``) and
  the true counterfactual of x, as RMS pixel distance (images in [0, 1]) and as Euclidean distance
  between judge features. For 1->0 the truth is unique: x without the attribute. For 0->1 the
  style of the added attribute is not determined by x, so every model is scored against the
  closest of a grid of styles (every combination of ``GRID_VALUES`` over the attribute's style
  factors: 27 glasses, 27 facial hair, 9 smiles), the minimum distance over the grid, taken
  separately for pixels and features. A model that draws any plausible style is then not
  penalised for not guessing the one the data set happened to draw; the grid's spacing (a third
  of each factor's range) is the resolution at which styles count as equal.
- **Transfer fidelity**, per attribute: pairs (a, b) with b showing the attribute; the truth is a's
  face with b's style (``csvae.evaluate.styles.transfer_truth``). CSVAE's ``transfer`` (a with
  W_i of b) is scored against it; a baseline cannot take a style from b, so its best effort is
  the label flip of a to b's label (``manipulate``), scored against the same truth; CSVAE's own
  label flip is given too.
- **Energy distance**, per direction (``csvae.evaluate.energy``): the distribution of a model's
  counterfactuals of x against the distribution of the true ones. The grid distance rewards a model
  that always adds one style on the grid (it scores 0); the energy distance does not.

Every mean comes with a seeded percentile-bootstrap 95 % interval over the inputs (or pairs).
References (means only): the distance of x itself ("input", what doing nothing costs; the same for
every model) and of the model's reconstruction of x ("reconstruction": a model that only
reconstructs) to the same truth.
"""

from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np

from csvae.data.dataset import Dataset
from csvae.data.synthetic_faces import STYLE_FACTORS, check_factors
from csvae.evaluate.energy import N_DRAWS, energy_distances
from csvae.evaluate.judge import Judge, dataset_name
from csvae.evaluate.manipulation import (
    bootstrap_summary,
    directions,
    generate,
    reconstruct,
    sampled_direction_rows,
)
from csvae.evaluate.styles import transfer_images, transfer_pairs, transfer_truth
from csvae.evaluate.truths import render
from csvae.runfiles import unit_float

GRID_VALUES = (1 / 6, 1 / 2, 5 / 6)
"""Values of each style factor in the grid of true styles: the centres of the thirds of [0, 1]."""
MAX_PER_DIRECTION = 200
N_PAIRS = 200
CHUNK_BYTES = 2 ** 26
"""Bound on the float32 candidate images held at once (faces are scored in chunks)."""


def style_grid(attribute: str, values: Sequence[float] = GRID_VALUES) -> dict[str, np.ndarray]:
    """Every combination of ``values`` over the style factors of a synthetic-face attribute:
    factor name -> (G,) with G = len(values) ** (number of style factors)."""
    if attribute not in STYLE_FACTORS:
        raise ValueError(f"attribute {attribute!r} is not a synthetic-face attribute {list(STYLE_FACTORS)}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not (np.isfinite(values) & (values >= 0) & (values <= 1)).all():
        raise ValueError(f"grid values must be a non-empty list of numbers in [0, 1], got {values.tolist()}")
    points = np.array(list(itertools.product(values, repeat=len(STYLE_FACTORS[attribute]))))
    return {name: points[:, j] for j, name in enumerate(STYLE_FACTORS[attribute])}


def grid_size(grid: dict[str, np.ndarray]) -> int:
    """The number of styles G in a grid from ``style_grid``."""
    return len(next(iter(grid.values())))


def true_counterfactuals(dataset: Dataset, rows: np.ndarray, attribute: int, target: int,
                         grid: Optional[dict[str, np.ndarray]] = None) -> np.ndarray:
    """The candidate truths of rows (n,) with ``attribute`` set to ``target``: uint8
    (G, n, C, H, W). Target 0: G = 1, the face without the attribute. Target 1: one image per
    point of ``grid`` (factor name -> (G,), see ``style_grid``), all rendered in one call."""
    if target == 0:
        return render(dataset, rows, attribute, 0)[None]
    if grid is None:
        raise ValueError("true_counterfactuals: target 1 needs a grid of styles (see style_grid)")
    size = grid_size(grid)
    images = render(dataset, np.tile(rows, size), attribute, 1,
                    style={name: np.repeat(v, len(rows)) for name, v in grid.items()})
    return images.reshape(size, len(rows), *images.shape[1:])


def nearest(outputs: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance of each output (n, D) to its closest candidate (G, n, D) (the candidates
    of row j are candidates[:, j]) and that candidate's index: ((n,), (n,) int)."""
    distances = np.sqrt(((candidates - outputs[None]) ** 2).sum(-1))  # (G, n)
    index = distances.argmin(0)
    return distances[index, np.arange(outputs.shape[0])], index


def distances_to_truth(judge: Judge, outputs: dict[str, np.ndarray], truths: np.ndarray) -> dict[str, dict]:
    """Distance of each output to the closest truth, in pixels and judge features.

    outputs: name -> images (n, C, H, W) uint8 or float in [0, 1]; truths (G, n, C, H, W).
    Returns name -> {"pixel": (n,) RMS pixel distance, "feature": (n,) Euclidean feature
    distance}, each the minimum over the G candidates (taken separately)."""
    g, n = truths.shape[:2]
    pixels = unit_float(truths).reshape(g, n, -1)
    features = judge.features(truths.reshape(g * n, *truths.shape[2:])).reshape(g, n, -1)
    scale = np.sqrt(pixels.shape[-1])
    out = {}
    for name, images in outputs.items():
        pixel, _ = nearest(unit_float(images).reshape(n, -1), pixels)
        feature, _ = nearest(judge.features(images), features)
        out[name] = {"pixel": pixel / scale, "feature": feature}
    return out


def _chunk(n_candidates: int, image_size: int) -> int:
    """Faces per chunk so that the float32 candidates stay within CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // (4 * n_candidates * image_size))


def counterfactual_distances(model, judge: Judge, dataset: Dataset, *, split: str = "test", style="sample",
                             seed: int = 0, n_boot: int = 1000, max_per_direction: Optional[int] = MAX_PER_DIRECTION,
                             grid_values: Sequence[float] = GRID_VALUES, batch_size: int = 256) -> dict[str, dict]:
    """G(x) against the true counterfactual, for every direction of the data set's binary attributes.

    Inputs: the split's faces with the source label (at most ``max_per_direction``, a seeded
    sample). Returns direction name -> {"attribute", "source", "target", "n", "candidates" (1, or
    the grid's size for 0->1), "pixel" and "feature": {"mean", "ci_low", "ci_high"} of G(x)'s
    distances (None without inputs), "reference": {"reconstruction", "input"} -> {"pixel",
    "feature"} mean distances of the reconstruction of x and of x itself}."""
    names = dataset.attribute_names
    rows_split = dataset.indices(split)
    out = {}
    for d in directions(names, "binary"):
        picked, target = sampled_direction_rows(d, dataset.y[rows_split], "binary", max_per_direction, seed)
        rows = rows_split[picked]
        grid = style_grid(names[d.attribute], grid_values) if d.target == 1 else None
        row = {"attribute": names[d.attribute], "source": d.source, "target": d.target, "n": int(len(rows)),
               "candidates": grid_size(grid) if grid else 1, "pixel": None, "feature": None,
               "reference": {}}
        out[d.name] = row
        if not len(rows):
            continue
        x, y = dataset.x[rows], dataset.y[rows]
        outputs = {"model": generate(model, x, y, target, style=style, seed=seed, batch_size=batch_size),
                   "reconstruction": reconstruct(model, x, y, batch_size), "input": x}
        step = _chunk(row["candidates"], int(np.prod(x.shape[1:])))
        parts = [distances_to_truth(judge, {k: v[s:s + step] for k, v in outputs.items()},
                                    true_counterfactuals(dataset, rows[s:s + step], d.attribute, d.target, grid))
                 for s in range(0, len(rows), step)]
        dist = {k: {m: np.concatenate([p[k][m] for p in parts]) for m in ("pixel", "feature")} for k in outputs}
        row["pixel"] = bootstrap_summary(dist["model"]["pixel"], n_boot, seed)
        row["feature"] = bootstrap_summary(dist["model"]["feature"], n_boot, seed)
        row["reference"] = {k: {m: float(dist[k][m].mean()) for m in ("pixel", "feature")}
                            for k in ("reconstruction", "input")}
    return out


def transfer_fidelity(model, judge: Judge, dataset: Dataset, attribute: str, *, n_pairs: int = N_PAIRS,
                      split: str = "test", style="sample", seed: int = 0, n_boot: int = 1000,
                      batch_size: int = 256) -> dict:
    """Transfer (a <- W_i of b) and the label flip of a against the rendered truth (a with b's style).

    Pairs as in ``styles.transfer_score`` (b with the attribute; a any face of the split).
    Returns {"n", "n_add" (pairs where a lacks the attribute), "pixel" and "feature": method ->
    {"mean", "ci_low", "ci_high"}} with methods "label_flip" (``manipulate`` of a to b's label with
    ``style``; for a that already has the attribute the label does not change) and, for a model
    with ``transfer``, "transfer"."""
    if attribute not in dataset.attribute_names:
        raise ValueError(f"attribute {attribute!r} is not one of {dataset.attribute_names}")
    i = dataset.attribute_names.index(attribute)
    a, b = transfer_pairs(dataset, i, n_pairs, split, seed)
    x, y = dataset.x, dataset.y
    target = y[a].copy()
    target[:, i] = y[b, i]
    outputs = {"label_flip": generate(model, x[a], y[a], target, style=style, seed=seed, batch_size=batch_size)}
    if hasattr(model, "transfer"):
        outputs["transfer"] = transfer_images(model, x[a], y[a], x[b], y[b], i, batch_size)
    dist = distances_to_truth(judge, outputs, transfer_truth(dataset, a, b, i)[None])
    return {"n": int(n_pairs), "n_add": int((y[a, i] == 0).sum()),
            **{m: {k: bootstrap_summary(v[m], n_boot, seed) for k, v in dist.items()} for m in ("pixel", "feature")}}


def counterfactual_report(model, judge: Judge, dataset: Dataset, *, split: str = "test", style="sample",
                          seed: int = 0, n_boot: int = 1000, max_per_direction: Optional[int] = MAX_PER_DIRECTION,
                          n_pairs: int = N_PAIRS, grid_values: Sequence[float] = GRID_VALUES,
                          n_draws: int = N_DRAWS) -> dict:
    """Counterfactual distances and energy distances of every direction and transfer fidelity of
    every attribute (JSON-ready): {"style", "split", "grid": {"values", "size": attribute -> G},
    "directions": counterfactual_distances(...), "energy": energy.energy_distances(...) with
    ``n_draws`` draws, "transfer": attribute -> transfer_fidelity(...)}.

    Needs synthetic faces (ground-truth factors, binary labels) and a judge of the same data."""
    check_factors(dataset)
    if dataset.label_kind != "binary":
        raise ValueError(f"counterfactuals need binary attributes, got label_kind {dataset.label_kind!r}")
    judge.check_compatible(dataset_name(dataset), tuple(dataset.x.shape[1:]), dataset.attribute_names)
    return {"style": style if isinstance(style, str) else "points", "split": split,
            "grid": {"values": [float(v) for v in grid_values],
                     "size": {a: grid_size(style_grid(a, grid_values)) for a in dataset.attribute_names}},
            "directions": counterfactual_distances(model, judge, dataset, split=split, style=style, seed=seed,
                                                   n_boot=n_boot, max_per_direction=max_per_direction,
                                                   grid_values=grid_values),
            "energy": energy_distances(model, judge, dataset, split=split, style=style, seed=seed, n_draws=n_draws,
                                       n_boot=n_boot, max_per_direction=max_per_direction),
            "transfer": {a: transfer_fidelity(model, judge, dataset, a, n_pairs=n_pairs, split=split, style=style,
                                              seed=seed, n_boot=n_boot)
                         for a in dataset.attribute_names}}
