"""Procedural face-like images with known binary attributes and known continuous style factors.

Each image is a cartoon face (hair, ears, neck, eyes, eyebrows, nose, mouth) on a plain
background, with three independent binary attributes:

- ``glasses``: two framed lenses with a bridge and temples; styles ``glasses.size`` (lens
  width), ``glasses.roundness`` (flat sharp rectangles -> tall rounded lenses: the lens height and
  its corner radius) and ``glasses.tint`` (clear -> dark sunglasses),
- ``facial_hair``: a moustache and a beard; styles ``facial_hair.kind`` (a chin tuft -> a full
  beard up the cheeks), ``facial_hair.length`` (where the beard ends, from above the chin to well
  below it, and the moustache's size) and ``facial_hair.color`` (black -> brown -> ginger),
- ``smile``: an open smile with teeth instead of a closed neutral mouth; styles
  ``smile.curvature`` (depth of the open mouth) and ``smile.width``.

The style ranges are meant to make every style factor visible at 32 px; docs/synthetic_faces.md
says how well a judge reads each.

Every image also has nuisance factors shared by all classes: ``nuisance.skin_tone``,
``nuisance.face_width``, ``nuisance.offset_x``, ``nuisance.offset_y``,
``nuisance.background_hue``, ``nuisance.hair_tone``, ``nuisance.brightness`` and
``nuisance.light_direction``.

Every factor is a number in [0, 1] (drawn uniformly); a style factor is NaN exactly when its
attribute is absent. Each attribute is Bernoulli(0.5), independent of the others and of every
factor. See docs/synthetic_faces.md for how each factor maps to the drawing.

Rendering (``csvae.data.face_drawing``, one class per part): each face is drawn with Pillow's
ImageDraw at a supersampled resolution (at least 128 px, and at least 2x the requested size),
box-reduced to the requested size, then lit (a brightness gain times a left-right gradient) in
numpy. All randomness comes from one ``numpy.random.default_rng(seed).random((n, 19))`` matrix,
one row per image, so the same seed gives identical bytes and the first m images of a call with
n > m equal a call with m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from csvae.constraints import is_integer
from csvae.data.dataset import Dataset
from csvae.data.face_drawing import draw_faces

ATTRIBUTES = ("glasses", "facial_hair", "smile")
STYLE_FACTORS = {
    "glasses": ("glasses.size", "glasses.roundness", "glasses.tint"),
    "facial_hair": ("facial_hair.kind", "facial_hair.length", "facial_hair.color"),
    "smile": ("smile.curvature", "smile.width"),
}
NUISANCE_FACTORS = ("nuisance.skin_tone", "nuisance.face_width", "nuisance.offset_x",
                    "nuisance.offset_y", "nuisance.background_hue", "nuisance.hair_tone",
                    "nuisance.brightness", "nuisance.light_direction")
ATTRIBUTE_PROBABILITY = 0.5
DATA_SEED = 0
"""Seed of ``load_synthetic_faces`` for a config without a ``seed`` field."""
SPLIT_STREAM = 1
"""``load_synthetic_faces`` splits with ``default_rng((seed, SPLIT_STREAM))``."""
VALID_FRACTION = 0.1
MIN_SIZE, MAX_SIZE = 16, 256
MIN_RENDER = 128
# Columns of the uniform matrix: the attribute draws, then every factor, in a fixed order that does
# not depend on which attributes are asked for (so a subset keeps the same faces).
_COLUMNS = (tuple(f"label.{a}" for a in ATTRIBUTES) + NUISANCE_FACTORS
            + tuple(name for a in ATTRIBUTES for name in STYLE_FACTORS[a]))
_COLUMN = {name: i for i, name in enumerate(_COLUMNS)}


def _check_attributes(attributes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(attributes, str):
        attributes = (attributes,)
    attributes = tuple(attributes)
    unknown = [a for a in attributes if a not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown synthetic-face attribute(s) {unknown}; valid attributes: {list(ATTRIBUTES)}")
    if not attributes:
        raise ValueError(f"at least one attribute is needed; valid attributes: {list(ATTRIBUTES)}")
    if len(set(attributes)) != len(attributes):
        raise ValueError(f"attributes listed twice: {list(attributes)}")
    return attributes


def _check_size(size) -> int:
    if not is_integer(size, numpy=True) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"image size must be an integer within {MIN_SIZE}..{MAX_SIZE} px, got {size!r}")
    return int(size)


def factor_names(attributes: Sequence[str] = ATTRIBUTES) -> tuple[str, ...]:
    """Names of the factors generated for these attributes: the nuisances, then each attribute's
    style factors."""
    attributes = _check_attributes(attributes)
    return NUISANCE_FACTORS + tuple(name for a in attributes for name in STYLE_FACTORS[a])


def _check_labels(labels, n: int | None, k: int, where: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != k or (n is not None and labels.shape[0] != n):
        want = f"({n if n is not None else 'n'}, {k})"
        raise ValueError(f"{where}: labels must have shape {want} (one column per attribute), got {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{where}: labels must be 0 or 1")
    return labels.astype(np.float32)


def render_faces(labels: np.ndarray, factors: dict[str, np.ndarray], size: int = 64,
                 attributes: Sequence[str] = ATTRIBUTES) -> np.ndarray:
    """Draw faces from given labels (n, k) and factors (name -> (n,) in [0, 1]).

    Deterministic: the same labels and factors give the same bytes. Style factors of absent
    attributes are ignored (they may be NaN); those of present attributes must be in [0, 1], as
    must every nuisance. ``factors`` must hold exactly ``factor_names(attributes)``.
    Returns uint8 images (n, 3, size, size).
    """
    attributes = _check_attributes(attributes)
    size = _check_size(size)
    labels = _check_labels(labels, None, len(attributes), "render_faces")
    n = labels.shape[0]
    if n == 0:
        raise ValueError("render_faces: no labels given (n = 0)")
    names = factor_names(attributes)
    if not isinstance(factors, dict):
        raise ValueError(f"render_faces: factors must be a dict name -> (n,) array, got {type(factors).__name__}")
    missing = [name for name in names if name not in factors]
    extra = [name for name in factors if name not in names]
    if missing or extra:
        raise ValueError(f"render_faces: factors for attributes {list(attributes)} must be exactly "
                         f"{list(names)}; missing {missing}, unexpected {extra}")
    present = {a: labels[:, j] == 1 for j, a in enumerate(attributes)}
    values: dict[str, np.ndarray] = {}
    for name in names:
        v = np.asarray(factors[name])
        if v.shape != (n,):
            raise ValueError(f"render_faces: factor {name!r} must have shape ({n},), got {v.shape}")
        # float32 first, so that generate_faces (which stores float32) and a re-render agree exactly.
        v = v.astype(np.float32).astype(np.float64)
        attribute = name.split(".")[0]
        used = present[attribute] if attribute in present else np.ones(n, dtype=bool)
        if not np.isfinite(v[used]).all() or (v[used] < 0).any() or (v[used] > 1).any():
            why = "present attributes" if attribute in present else "every image"
            raise ValueError(f"factor {name!r} must be in [0, 1] for {why}")
        values[name] = np.where(used, v, 0.5)
    for a in ATTRIBUTES:  # absent everywhere unless asked for
        present.setdefault(a, np.zeros(n, dtype=bool))
        for name in STYLE_FACTORS[a]:
            values.setdefault(name, np.full(n, 0.5))

    scale = max(2, math.ceil(MIN_RENDER / size))
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    chunk = 512
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        part = {name: v[start:stop] for name, v in values.items()}
        here = {a: p[start:stop] for a, p in present.items()}
        out[start:stop] = draw_faces(part, here, size, scale)
    return out


def generate_faces(n: int, seed: int = 0, size: int = 64, attributes: Sequence[str] = ATTRIBUTES,
                   labels: np.ndarray | None = None, factors: dict | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Draw n random faces.

    Returns (images uint8 (n, 3, size, size), labels float32 (n, k) in {0, 1} with one column per
    attribute in ``attributes``, factors name -> float32 (n,)); see ``factor_names``. Attributes not
    listed are absent from every image. ``labels`` (n, k) fixes the labels; ``factors`` (a dict
    with some of the factor names) fixes those factors (a style factor stays NaN where its
    attribute is absent). Everything not fixed is drawn from ``seed`` exactly as without the
    override, so one can change one thing and keep the rest.
    """
    attributes = _check_attributes(attributes)
    size = _check_size(size)
    if not is_integer(n, numpy=True) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    uniform = np.random.default_rng(seed).random((n, len(_COLUMNS)))
    if labels is None:
        labels = np.stack([uniform[:, _COLUMN[f"label.{a}"]] < ATTRIBUTE_PROBABILITY for a in attributes], axis=1)
    labels = _check_labels(labels, n, len(attributes), "generate_faces")
    names = factor_names(attributes)
    overrides = dict(factors or {})
    unknown = [name for name in overrides if name not in names]
    if unknown:
        raise ValueError(f"generate_faces: unknown factor(s) {unknown}; factors for attributes "
                         f"{list(attributes)}: {list(names)}")
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name in overrides:
            v = np.asarray(overrides[name], dtype=np.float64)
            if v.ndim == 0:
                v = np.full(n, float(v))
            if v.shape != (n,):
                raise ValueError(f"generate_faces: factor {name!r} must have shape ({n},) or be a scalar, "
                                 f"got {v.shape}")
        else:
            v = uniform[:, _COLUMN[name]]
        attribute = name.split(".")[0]
        if attribute in attributes:
            v = np.where(labels[:, attributes.index(attribute)] == 1, v, np.nan)
        out[name] = v.astype(np.float32)
    images = render_faces(labels, out, size=size, attributes=attributes)
    return images, labels, out


def load_synthetic_faces(cfg) -> Dataset:
    """A ``Dataset`` of synthetic faces from a ``csvae.config.DataConfig``.

    Uses ``cfg.n_samples`` faces of ``cfg.image_size`` px with ``cfg.attributes`` (None: all
    three), generated with ``cfg.seed`` (``DATA_SEED`` = 0 for a config without one). A permutation
    seeded by ``(seed, 1)`` puts ``round(test_fraction * n)`` faces in test,
    ``round(VALID_FRACTION * n)`` (10 %) in valid and the rest in train. ``Dataset.factors`` holds
    the ground-truth factors.
    """
    attributes = _check_attributes(ATTRIBUTES if cfg.attributes is None else cfg.attributes)
    seed = getattr(cfg, "seed", DATA_SEED)
    n = cfg.n_samples
    n_test = int(round(cfg.test_fraction * n))
    n_valid = int(round(VALID_FRACTION * n))
    if n - n_test - n_valid < 1:
        raise ValueError(f"data.n_samples = {n} is too small to split into train/valid/test "
                         f"(test_fraction {cfg.test_fraction}, valid fraction {VALID_FRACTION})")
    images, labels, factors = generate_faces(n, seed=seed, size=cfg.image_size, attributes=attributes)
    order = np.random.default_rng((seed, SPLIT_STREAM)).permutation(n)
    split = np.zeros(n, dtype=np.int8)
    split[order[:n_test]] = 2
    split[order[n_test:n_test + n_valid]] = 1
    info = {"generator": "csvae.data.synthetic_faces", "seed": seed, "image_size": cfg.image_size,
            "counts": {"train": int(n - n_test - n_valid), "valid": n_valid, "test": n_test}}
    return Dataset(x=images, y=labels, split=split, attribute_names=list(attributes),
                   label_kind="binary", factors=factors, info=info)


def check_factors(dataset: Dataset) -> None:
    """Refuse a data set without ground-truth factors, or whose attributes are not synthetic-face
    attributes (``ATTRIBUTES``): only those can be re-rendered."""
    if dataset.factors is None:
        raise ValueError("dataset.factors is None: this needs ground-truth factors (synthetic faces)")
    unknown = [a for a in dataset.attribute_names if a not in STYLE_FACTORS]
    if unknown:
        raise ValueError(f"attributes {unknown} are not synthetic-face attributes {list(STYLE_FACTORS)}")


def render_counterfactuals(dataset: Dataset, rows, attribute: int | str, target,
                           style: dict | None = None) -> np.ndarray:
    """The faces of ``rows`` re-rendered with one attribute set to ``target``: same nuisances, same
    other attributes and styles. uint8 (n, C, H, W), the data set's image size.

    rows: (n,) row indices of ``dataset``; attribute: its index in ``dataset.attribute_names`` or
    its name; target: 0 or 1, one for all rows or (n,). Where the target is 1 the attribute is drawn
    with ``style``: attribute style factor name -> value in [0, 1], a scalar or (n,) (e.g. a donor's
    factors, or a point of a grid); a factor not given keeps the row's own value, which exists only
    where the row has the attribute. A row rendered with its own label and style equals its image.
    """
    check_factors(dataset)
    names = dataset.attribute_names
    if isinstance(attribute, str):
        if attribute not in names:
            raise ValueError(f"render_counterfactuals: attribute {attribute!r} is not one of {names}")
        attribute = names.index(attribute)
    if not is_integer(attribute, numpy=True) or not 0 <= attribute < len(names):
        raise ValueError(f"render_counterfactuals: attribute must be a name in {names} or an index "
                         f"0..{len(names) - 1}, got {attribute!r}")
    rows = np.asarray(rows)
    if rows.ndim != 1 or len(rows) == 0 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"render_counterfactuals: rows must be a non-empty 1-D array of row indices, got "
                         f"shape {rows.shape} dtype {rows.dtype}")
    n = len(rows)
    target = np.asarray(target, dtype=np.float32)
    if target.ndim > 1 or (target.ndim == 1 and target.shape != (n,)) or not np.isin(target, (0, 1)).all():
        raise ValueError(f"render_counterfactuals: target must be 0 or 1, a scalar or ({n},), got {target!r}")
    on = np.broadcast_to(target, (n,)) == 1
    labels = np.asarray(dataset.y[rows], dtype=np.float32).copy()
    labels[:, attribute] = on
    own = STYLE_FACTORS[names[attribute]]
    style = dict(style or {})
    unknown = [k for k in style if k not in own]
    if unknown:
        raise ValueError(f"render_counterfactuals: style names {unknown} are not style factors of "
                         f"{names[attribute]!r}: {list(own)}")
    factors = {name: np.asarray(dataset.factors[name])[rows] for name in factor_names(names)}
    for name in own:
        if name in style:
            value = np.asarray(style[name], dtype=np.float64)
            if value.ndim > 1 or (value.ndim == 1 and value.shape != (n,)):
                raise ValueError(f"render_counterfactuals: style[{name!r}] must be a scalar or ({n},), "
                                 f"got shape {value.shape}")
            factors[name] = np.where(on, value, np.nan)
        elif not np.isfinite(factors[name][on]).all():
            raise ValueError(f"render_counterfactuals: some rows with target 1 lack {names[attribute]!r}, so "
                             f"they have no own {name!r}; give it in style")
    return render_faces(labels, factors, size=dataset.x.shape[-1], attributes=names)
