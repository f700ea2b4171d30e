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

The style ranges are wide enough for every style factor to be visible at 32 px: a judge trained
on real 32 px faces reads each at R² >= 0.79 (docs/synthetic_faces.md).

Every image also has nuisance factors shared by all classes: ``nuisance.skin_tone``,
``nuisance.face_width``, ``nuisance.offset_x``, ``nuisance.offset_y``,
``nuisance.background_hue``, ``nuisance.hair_tone``, ``nuisance.brightness`` and
``nuisance.light_direction``.

Every factor is a number in [0, 1] (drawn uniformly); a style factor is NaN exactly when its
attribute is absent. Each attribute is Bernoulli(0.5), independent of the others and of every
factor. See docs/synthetic_faces.md for how each factor maps to the drawing.

Rendering: each face is drawn with Pillow's ImageDraw at a supersampled resolution (at least
128 px, and at least 2x the requested size), box-reduced to the requested size, then lit (a
brightness gain times a left-right gradient) in numpy. All randomness comes from one
``numpy.random.default_rng(seed).random((n, 19))`` matrix, one row per image, so the same seed
gives identical bytes and the first m images of a call with n > m equal a call with m.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from csvae.data.dataset import Dataset

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
# Fixed angle tables for shapes drawn as polygons (Pillow's angles: clockwise from 3 o'clock).
_LOWER_HALF = (np.cos(np.radians(np.linspace(0, 180, 17))), np.sin(np.radians(np.linspace(0, 180, 17))))
# The open mouth: the lower half of a superellipse (|x|^4 + |y|^4 = 1 in its box), full depth
# across most of its width, so that its width shows even when it is shallow and vice versa.
_LOWER_SQUIRCLE = (np.sign(_LOWER_HALF[0]) * np.abs(_LOWER_HALF[0]) ** 0.5, np.abs(_LOWER_HALF[1]) ** 0.5)
_UPPER_HALF = (np.cos(np.radians(np.linspace(180, 360, 17))), np.sin(np.radians(np.linspace(180, 360, 17))))
_CORNER_ANGLES = np.radians((np.arange(4)[:, None] * 90.0 + np.linspace(0, 90, 5)[None, :]).ravel())
_CORNER_COS, _CORNER_SIN = np.cos(_CORNER_ANGLES), np.sin(_CORNER_ANGLES)
_CORNER_SX = np.repeat([1.0, -1.0, -1.0, 1.0], 5)  # which way each corner's centre sits
_CORNER_SY = np.repeat([1.0, 1.0, -1.0, -1.0], 5)

# Columns of the uniform matrix: the attribute draws, then every factor, in a fixed order that does
# not depend on which attributes are asked for (so a subset keeps the same faces).
_COLUMNS = (tuple(f"label.{a}" for a in ATTRIBUTES) + NUISANCE_FACTORS
            + tuple(name for a in ATTRIBUTES for name in STYLE_FACTORS[a]))
_COLUMN = {name: i for i, name in enumerate(_COLUMNS)}

# Colour ramps (RGB, 0..255), interpolated piecewise-linearly over a factor in [0, 1].
_SKIN = np.array([[242, 212, 188], [204, 154, 114], [140, 94, 66]], dtype=np.float64)
_HAIR = np.array([[30, 26, 24], [96, 62, 36], [186, 146, 84]], dtype=np.float64)
_BEARD = np.array([[20, 18, 18], [80, 48, 28], [164, 80, 34]], dtype=np.float64)
_FRAME = (14, 14, 20)
_LENS = (28, 34, 52)
_SCLERA = (246, 246, 242)
_PUPIL = (38, 30, 28)
_LIPS = (150, 62, 66)
_MOUTH = (104, 22, 34)
_TEETH = (246, 244, 236)
_LIP_LINE = (214, 108, 112)  # the open mouth's outline: its edge shows on a dark beard too


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
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"image size must be an integer within {MIN_SIZE}..{MAX_SIZE} px, got {size!r}")
    return int(size)


def factor_names(attributes: Sequence[str] = ATTRIBUTES) -> tuple[str, ...]:
    """Names of the factors generated for these attributes: the nuisances, then each attribute's
    style factors."""
    attributes = _check_attributes(attributes)
    return NUISANCE_FACTORS + tuple(name for a in attributes for name in STYLE_FACTORS[a])


def _ramp(colors: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(n,) values in [0, 1] -> (n, 3) colours along a piecewise-linear ramp."""
    pos = np.clip(t, 0.0, 1.0) * (len(colors) - 1)
    i = np.minimum(pos.astype(np.int64), len(colors) - 2)
    frac = (pos - i)[:, None]
    return colors[i] * (1 - frac) + colors[i + 1] * frac


def _rgb_list(colors: np.ndarray) -> list[tuple[int, int, int]]:
    return [tuple(c) for c in np.rint(colors).astype(np.int64).tolist()]


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
        out[start:stop] = _render_chunk(part, here, size, scale)
    return out


def _render_chunk(f: dict[str, np.ndarray], present: dict[str, np.ndarray], size: int,
                  scale: int) -> np.ndarray:
    """Render one chunk: geometry vectorised in numpy, then one Pillow drawing per face."""
    m = len(f["nuisance.skin_tone"])
    R = size * scale  # render side in pixels; geometry below is in units of the side, then * R

    # --- nuisances: geometry and colours
    cx = 0.5 + (f["nuisance.offset_x"] - 0.5) * 0.10
    cy = 0.50 + (f["nuisance.offset_y"] - 0.5) * 0.08
    a = 0.25 + 0.07 * f["nuisance.face_width"]  # face half-width
    b = 0.34  # face half-height
    skin = _ramp(_SKIN, f["nuisance.skin_tone"])
    hair = _ramp(_HAIR, f["nuisance.hair_tone"])
    bg = np.array([colorsys.hsv_to_rgb(h, 0.35, 0.85) for h in f["nuisance.background_hue"].tolist()]) * 255
    ex = 0.46 * a  # eye offset from the centre line
    ey = cy - 0.07
    my = cy + 0.16  # mouth line

    # --- styles
    # lenses: size sets the width, roundness the height and the corner radius (a flat sharp
    # rectangle -> a tall rounded lens), so each is its own visible axis at 32 px
    gw = 0.055 + 0.06 * f["glasses.size"]  # lens half-width
    gh = 0.045 + 0.06 * f["glasses.roundness"]  # lens half-height
    g_radius = f["glasses.roundness"] * np.minimum(gw, gh)
    tint_alpha = np.rint(255 * (0.05 + 0.9 * f["glasses.tint"])).astype(np.int64)
    # beard: the lower half of an ellipse, from a chin beard under the mouth (kind 0) to a full
    # beard from the nose down across the whole jaw (kind 1), ending 0.03 above (length 0) to 0.13
    # below the chin (length 1).
    kind = f["facial_hair.kind"]
    beard_centre = (my + 0.03) * (1 - kind) + (cy + 0.08) * kind
    beard_rx = 0.08 * (1 - kind) + 0.97 * a * kind
    beard_bottom = cy + b - 0.03 + 0.16 * f["facial_hair.length"]
    tash_w = 0.07 + 0.05 * f["facial_hair.length"]
    tash_h = 0.012 + 0.024 * f["facial_hair.length"]
    beard = _ramp(_BEARD, f["facial_hair.color"])
    mw = 0.05 + 0.15 * f["smile.width"]
    mh = 0.025 + 0.135 * f["smile.curvature"]

    # Curved shapes as polygons, flat [x0, y0, x1, y1, ...] in pixels (Pillow's chord() and
    # rounded_rectangle() mis-draw some float boxes). Only products and sums of per-image values
    # with fixed tables, so an image's polygons do not depend on the other images of its chunk.
    def arc(x0, y0, rx, ry, cos, sin):
        xy = np.stack([x0[:, None] + rx[:, None] * cos[None, :], y0[:, None] + ry[:, None] * sin[None, :]], axis=2)
        return (xy.reshape(m, -1) * R).tolist()

    fringe = arc(cx, cy - b + 0.155, 1.02 * a, np.full(m, 0.165), *_UPPER_HALF)
    beard_poly = arc(cx, beard_centre, beard_rx, beard_bottom - beard_centre, *_LOWER_HALF)
    mouth_poly = arc(cx, my, mw, mh, *_LOWER_SQUIRCLE)
    teeth_poly = arc(cx, my, 0.9 * mw, 0.5 * mh, *_LOWER_SQUIRCLE)
    # lenses: rectangles with corner radius g_radius, one per side
    lenses = []
    for side in (-1.0, 1.0):
        straight_x, straight_y = (gw - g_radius)[:, None], (gh - g_radius)[:, None]
        px = (cx + side * ex)[:, None] + straight_x * _CORNER_SX[None, :] + g_radius[:, None] * _CORNER_COS[None, :]
        py = ey[:, None] + straight_y * _CORNER_SY[None, :] + g_radius[:, None] * _CORNER_SIN[None, :]
        lenses.append((np.stack([px, py], axis=2).reshape(m, -1) * R).tolist())

    # Python lists: cheap scalar access in the drawing loop.
    L = lambda v: (np.asarray(v, dtype=np.float64) * R).tolist()  # noqa: E731
    cx_, cy_, a_, ex_, ey_, my_ = L(cx), L(cy), L(a), L(ex), L(ey), L(my)
    gw_, gh_ = L(gw), L(gh)
    tw_, th_ = L(tash_w), L(tash_h)
    b_ = b * R
    alpha_ = tint_alpha.tolist()
    skin_c, hair_c, bg_c, beard_c = _rgb_list(skin), _rgb_list(hair), _rgb_list(bg), _rgb_list(beard)
    shade_c = _rgb_list(skin * 0.86)
    nose_c = _rgb_list(skin * 0.74)
    has_g = present["glasses"].tolist()
    has_h = present["facial_hair"].tolist()
    has_s = present["smile"].tolist()
    frame_w = max(1, round(0.025 * R))
    brow_w = max(1, round(0.018 * R))
    line_w = max(1, round(0.012 * R))
    lip_w = max(1, round(0.02 * R))
    u = float(R)  # geometry constants below are fractions of the side

    pixels = np.empty((m, size, size, 3), dtype=np.uint8)
    for i in range(m):
        im = Image.new("RGB", (R, R), bg_c[i])
        d = ImageDraw.Draw(im, "RGBA")
        x, y, fa = cx_[i], cy_[i], a_[i]
        sk = skin_c[i]
        # neck, ears, hair behind the head, face
        d.rectangle((x - 0.12 * u, y + 0.2 * u, x + 0.12 * u, R - 1), fill=shade_c[i])
        d.ellipse((x - fa - 0.035 * u, ey_[i] - 0.04 * u, x - fa + 0.035 * u, ey_[i] + 0.08 * u), fill=shade_c[i])
        d.ellipse((x + fa - 0.035 * u, ey_[i] - 0.04 * u, x + fa + 0.035 * u, ey_[i] + 0.08 * u), fill=shade_c[i])
        d.ellipse((x - fa - 0.025 * u, y - b_ - 0.035 * u, x + fa + 0.025 * u, y + 0.05 * u), fill=hair_c[i])
        d.ellipse((x - fa, y - b_, x + fa, y + b_), fill=sk)
        d.polygon(fringe[i], fill=hair_c[i])
        # eyes and eyebrows
        for side in (-1.0, 1.0):
            e = x + side * ex_[i]
            d.ellipse((e - 0.045 * u, ey_[i] - 0.025 * u, e + 0.045 * u, ey_[i] + 0.025 * u), fill=_SCLERA)
            d.ellipse((e - 0.019 * u, ey_[i] - 0.019 * u, e + 0.019 * u, ey_[i] + 0.019 * u), fill=_PUPIL)
            d.line((e - 0.05 * u, ey_[i] - 0.065 * u, e + 0.05 * u, ey_[i] - 0.07 * u + side * 0.005 * u),
                   fill=hair_c[i], width=brow_w)
        # nose
        d.line((x, ey_[i] + 0.03 * u, x - 0.012 * u, y + 0.06 * u), fill=nose_c[i], width=line_w)
        d.ellipse((x - 0.03 * u, y + 0.055 * u, x + 0.03 * u, y + 0.08 * u), fill=nose_c[i])
        # facial hair: beard, then moustache
        if has_h[i]:
            d.polygon(beard_poly[i], fill=beard_c[i])
            d.ellipse((x - tw_[i], my_[i] - 0.03 * u - th_[i], x + tw_[i], my_[i] - 0.03 * u + th_[i]),
                      fill=beard_c[i])
        # mouth: an open smile with teeth, or closed lips
        if has_s[i]:
            d.polygon(mouth_poly[i], fill=_MOUTH, outline=_LIP_LINE, width=lip_w)
            d.polygon(teeth_poly[i], fill=_TEETH)
        else:
            d.ellipse((x - 0.07 * u, my_[i] - 0.012 * u, x + 0.07 * u, my_[i] + 0.012 * u), fill=_LIPS)
        # glasses: tinted lenses with a frame, a bridge and temples
        if has_g[i]:
            w, h = gw_[i], gh_[i]
            lens = _LENS + (alpha_[i],)
            bar = ey_[i] - 0.3 * h
            for k, side in enumerate((-1.0, 1.0)):
                d.polygon(lenses[k][i], fill=lens, outline=_FRAME, width=frame_w)
                d.line((x + side * (ex_[i] + w), bar, x + side * (fa - 0.01 * u), bar), fill=_FRAME, width=frame_w)
            d.line((x - ex_[i] + w, bar, x + ex_[i] - w, bar), fill=_FRAME, width=frame_w)
        if scale > 1:
            im = im.reduce(scale)
        pixels[i] = np.asarray(im)

    # lighting: a brightness gain times a left-right gradient
    gain = 0.75 + 0.45 * f["nuisance.brightness"]
    slope = (f["nuisance.light_direction"] - 0.5) * 0.5
    xs = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    light = (gain[:, None] * (1.0 + slope[:, None] * 2.0 * xs[None, :])).astype(np.float32)  # (m, W)
    lit = pixels.astype(np.float32) * light[:, None, :, None]
    np.rint(lit, out=lit)
    np.clip(lit, 0, 255, out=lit)
    return lit.astype(np.uint8).transpose(0, 3, 1, 2)


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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
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
    if isinstance(attribute, bool) or not isinstance(attribute, (int, np.integer)) or not 0 <= attribute < len(names):
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
