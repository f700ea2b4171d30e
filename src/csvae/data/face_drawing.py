"""How a synthetic face is drawn: one class per part, each holding its constants and the ranges
its factors span (docs/synthetic_faces.md has the same ranges as tables).

Geometry is in fractions of the image side (origin top-left, y down); factors are numbers in
[0, 1]. Each part reads its factors for a chunk of faces at once in numpy, elementwise only (so a
face does not depend on the other faces of its chunk), then draws one face at a time with Pillow
at ``side`` = size * scale pixels. Back to front: background, neck and ears, hair behind the
head, face, fringe, eyes and eyebrows, nose, beard and moustache, mouth, glasses; the image is
then box-reduced and lit.

Curved shapes are polygons from fixed angle tables (Pillow's angles: clockwise from 3 o'clock):
Pillow's ``chord()`` and ``rounded_rectangle()`` mis-draw some float boxes.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

_LOWER_HALF = (np.cos(np.radians(np.linspace(0, 180, 17))), np.sin(np.radians(np.linspace(0, 180, 17))))
_UPPER_HALF = (np.cos(np.radians(np.linspace(180, 360, 17))), np.sin(np.radians(np.linspace(180, 360, 17))))
# The lower half of a superellipse (|x|^4 + |y|^4 = 1 in its box), full depth across most of its
# width, so that its width shows even when it is shallow and vice versa.
_LOWER_SQUIRCLE = (np.sign(_LOWER_HALF[0]) * np.abs(_LOWER_HALF[0]) ** 0.5, np.abs(_LOWER_HALF[1]) ** 0.5)
# A rounded rectangle: four quarter circles of 5 points, each moved out to its corner.
_CORNER_ANGLES = np.radians((np.arange(4)[:, None] * 90.0 + np.linspace(0, 90, 5)[None, :]).ravel())
_CORNER_COS, _CORNER_SIN = np.cos(_CORNER_ANGLES), np.sin(_CORNER_ANGLES)
_CORNER_SX = np.repeat([1.0, -1.0, -1.0, 1.0], 5)  # which way each corner's centre sits
_CORNER_SY = np.repeat([1.0, 1.0, -1.0, -1.0], 5)


def _ramp(colors: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(n,) values in [0, 1] -> (n, 3) colours along a piecewise-linear ramp."""
    pos = np.clip(t, 0.0, 1.0) * (len(colors) - 1)
    i = np.minimum(pos.astype(np.int64), len(colors) - 2)
    frac = (pos - i)[:, None]
    return colors[i] * (1 - frac) + colors[i + 1] * frac


def _rgb_list(colors: np.ndarray) -> list[tuple[int, int, int]]:
    """(n, 3) float colours -> n integer RGB tuples."""
    return [tuple(c) for c in np.rint(colors).astype(np.int64).tolist()]


def _pixels(v, side: int) -> list[float]:
    """Fractions of the side (n,) -> pixels, as a list (cheap scalar access in the drawing loop)."""
    return (np.asarray(v, dtype=np.float64) * side).tolist()


def _width(fraction: float, side: int) -> int:
    """A line width of ``fraction`` of the side, in whole pixels, at least 1."""
    return max(1, round(fraction * side))


def _curve(x0, y0, rx, ry, table, side: int) -> list[list[float]]:
    """Per face, the flat pixel list [x0, y0, x1, y1, ...] of the points (x0 + rx cos, y0 + ry sin)
    over a fixed angle table (cos, sin)."""
    cos, sin = table
    xy = np.stack([x0[:, None] + rx[:, None] * cos[None, :], y0[:, None] + ry[:, None] * sin[None, :]], axis=2)
    return (xy.reshape(len(x0), -1) * side).tolist()


class Background:
    """A plain background: ``nuisance.background_hue`` 0 -> 1 goes once round the hue circle at a
    fixed saturation and value."""

    SATURATION, VALUE = 0.35, 0.85

    def __init__(self, factors: dict[str, np.ndarray]):
        hues = factors["nuisance.background_hue"].tolist()
        self.colors = _rgb_list(np.array([colorsys.hsv_to_rgb(h, self.SATURATION, self.VALUE) for h in hues]) * 255)

    def canvas(self, i: int, side: int) -> Image.Image:
        """Face i's empty canvas."""
        return Image.new("RGB", (side, side), self.colors[i])


class Head:
    """The head, which places every other part: the face's oval, two ears and a neck.

    - ``nuisance.offset_x``: the face's centre x 0.45 -> 0.55; ``nuisance.offset_y``: y 0.46 -> 0.54;
    - ``nuisance.face_width``: its half-width 0.25 -> 0.32 (the half-height is fixed at 0.34); the
      eyes (0.46 half-widths from the middle) and the ears move with it;
    - ``nuisance.skin_tone``: light -> tan -> dark skin (``SKIN``); neck and ears a shade darker.

    The eyes' line is 0.07 above the centre, the mouth's 0.16 below it.
    """

    SKIN = np.array([[242, 212, 188], [204, 154, 114], [140, 94, 66]], dtype=np.float64)
    SHIFT_X, SHIFT_Y = 0.10, 0.08  # how far the centre moves over the offsets' range
    HALF_WIDTH, WIDTH_GROWTH = 0.25, 0.07
    HALF_HEIGHT = 0.34
    EYE_SPACING = 0.46  # eye offset from the centre line, in face half-widths
    EYE_RISE, MOUTH_DROP = 0.07, 0.16
    SHADE = 0.86  # neck and ears: the skin colour times this
    NECK_HALF_WIDTH, NECK_TOP = 0.12, 0.2  # the neck runs from NECK_TOP below the centre to the bottom edge
    EAR_HALF_WIDTH, EAR_ABOVE, EAR_BELOW = 0.035, 0.04, 0.08  # ears span the eye line -0.04 .. +0.08

    def __init__(self, factors: dict[str, np.ndarray], side: int):
        self.side = side
        self.cx = 0.5 + (factors["nuisance.offset_x"] - 0.5) * self.SHIFT_X
        self.cy = 0.50 + (factors["nuisance.offset_y"] - 0.5) * self.SHIFT_Y
        self.half_width = self.HALF_WIDTH + self.WIDTH_GROWTH * factors["nuisance.face_width"]
        self.eye_dx = self.EYE_SPACING * self.half_width
        self.eye_y = self.cy - self.EYE_RISE
        self.mouth_y = self.cy + self.MOUTH_DROP
        self.skin = _ramp(self.SKIN, factors["nuisance.skin_tone"])
        self.skin_colors, self.shade_colors = _rgb_list(self.skin), _rgb_list(self.skin * self.SHADE)
        # the same in pixels, for drawing
        self.x_px, self.y_px = _pixels(self.cx, side), _pixels(self.cy, side)
        self.half_width_px, self.half_height_px = _pixels(self.half_width, side), self.HALF_HEIGHT * side
        self.eye_dx_px, self.eye_y_px = _pixels(self.eye_dx, side), _pixels(self.eye_y, side)
        self.mouth_y_px = _pixels(self.mouth_y, side)

    def draw_neck_and_ears(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """Neck, then the left and the right ear."""
        u, x, ey, shade = float(self.side), self.x_px[i], self.eye_y_px[i], self.shade_colors[i]
        pen.rectangle((x - self.NECK_HALF_WIDTH * u, self.y_px[i] + self.NECK_TOP * u, x + self.NECK_HALF_WIDTH * u,
                       self.side - 1), fill=shade)
        for side in (-1.0, 1.0):
            e = x + side * self.half_width_px[i]
            pen.ellipse((e - self.EAR_HALF_WIDTH * u, ey - self.EAR_ABOVE * u, e + self.EAR_HALF_WIDTH * u,
                         ey + self.EAR_BELOW * u), fill=shade)

    def draw_face(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """The face's oval."""
        x, y, a, b = self.x_px[i], self.y_px[i], self.half_width_px[i], self.half_height_px
        pen.ellipse((x - a, y - b, x + a, y + b), fill=self.skin_colors[i])


class Hair:
    """Head hair: an oval behind the head and a fringe over the forehead (the upper half of an
    ellipse 1.02 face half-widths wide). ``nuisance.hair_tone``: dark -> brown -> blond (``HAIR``),
    also the eyebrows' colour."""

    HAIR = np.array([[30, 26, 24], [96, 62, 36], [186, 146, 84]], dtype=np.float64)
    BACK_MARGIN, BACK_TOP = 0.025, 0.035  # the oval behind the head: beyond the face's sides, above its top
    BACK_BOTTOM = 0.05  # ... down to this far below the face's centre
    FRINGE_DROP = 0.155  # the fringe's ellipse: its centre below the face's top,
    FRINGE_HEIGHT, FRINGE_WIDTH = 0.165, 1.02  # its half-height, its half-width in face half-widths

    def __init__(self, factors: dict[str, np.ndarray], head: Head):
        self.head = head
        self.colors = _rgb_list(_ramp(self.HAIR, factors["nuisance.hair_tone"]))
        self.fringe = _curve(head.cx, head.cy - head.HALF_HEIGHT + self.FRINGE_DROP,
                             self.FRINGE_WIDTH * head.half_width, np.full(len(head.cx), self.FRINGE_HEIGHT),
                             _UPPER_HALF, head.side)

    def draw_behind(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """The hair behind the head, from above it to below the centre."""
        h, u = self.head, float(self.head.side)
        x, y, a, b = h.x_px[i], h.y_px[i], h.half_width_px[i], h.half_height_px
        pen.ellipse((x - a - self.BACK_MARGIN * u, y - b - self.BACK_TOP * u, x + a + self.BACK_MARGIN * u,
                     y + self.BACK_BOTTOM * u), fill=self.colors[i])

    def draw_fringe(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """The fringe, over the face's top."""
        pen.polygon(self.fringe[i], fill=self.colors[i])


class Eyes:
    """Two eyes (white, dark pupil) under eyebrows in the hair's colour; no factor of their own
    (they sit where ``Head`` puts them). The left brow rises towards the middle, the right is flat."""

    SCLERA, PUPIL = (246, 246, 242), (38, 30, 28)
    EYE_HALF_WIDTH, EYE_HALF_HEIGHT, PUPIL_RADIUS = 0.045, 0.025, 0.019
    BROW_HALF_WIDTH, BROW_WIDTH = 0.05, 0.018
    BROW_START, BROW_END, BROW_TILT = 0.065, 0.07, 0.005  # above the eye line: left end, right end +- tilt

    def __init__(self, head: Head, hair: Hair):
        self.head, self.hair = head, hair
        self.brow_width = _width(self.BROW_WIDTH, head.side)

    def draw(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """Left eye and brow, then right."""
        h, u = self.head, float(self.head.side)
        ey = h.eye_y_px[i]
        for side in (-1.0, 1.0):
            e = h.x_px[i] + side * h.eye_dx_px[i]
            pen.ellipse((e - self.EYE_HALF_WIDTH * u, ey - self.EYE_HALF_HEIGHT * u, e + self.EYE_HALF_WIDTH * u,
                         ey + self.EYE_HALF_HEIGHT * u), fill=self.SCLERA)
            pen.ellipse((e - self.PUPIL_RADIUS * u, ey - self.PUPIL_RADIUS * u, e + self.PUPIL_RADIUS * u,
                         ey + self.PUPIL_RADIUS * u), fill=self.PUPIL)
            pen.line((e - self.BROW_HALF_WIDTH * u, ey - self.BROW_START * u, e + self.BROW_HALF_WIDTH * u,
                      ey - self.BROW_END * u + side * self.BROW_TILT * u), fill=self.hair.colors[i],
                     width=self.brow_width)


class Nose:
    """A nose: a line down from between the eyes and a round tip, in a darker shade of the skin;
    no factor of its own."""

    SHADE = 0.74
    BRIDGE_TOP, BRIDGE_BOTTOM, BRIDGE_LEAN, LINE_WIDTH = 0.03, 0.06, 0.012, 0.012  # top: below the eye line
    TIP_HALF_WIDTH, TIP_TOP, TIP_BOTTOM = 0.03, 0.055, 0.08  # bottom and tip: below the face's centre

    def __init__(self, head: Head):
        self.head = head
        self.colors = _rgb_list(head.skin * self.SHADE)
        self.line_width = _width(self.LINE_WIDTH, head.side)

    def draw(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """The bridge, then the tip."""
        h, u = self.head, float(self.head.side)
        x, y = h.x_px[i], h.y_px[i]
        pen.line((x, h.eye_y_px[i] + self.BRIDGE_TOP * u, x - self.BRIDGE_LEAN * u, y + self.BRIDGE_BOTTOM * u),
                 fill=self.colors[i], width=self.line_width)
        pen.ellipse((x - self.TIP_HALF_WIDTH * u, y + self.TIP_TOP * u, x + self.TIP_HALF_WIDTH * u,
                     y + self.TIP_BOTTOM * u), fill=self.colors[i])


class Beard:
    """Facial hair: a beard (the lower half of an ellipse) and a moustache above the mouth.

    - ``facial_hair.kind``: from a chin tuft under the mouth (half-width 0.08, top 0.03 below the
      mouth line) to a full beard across the jaw (0.97 face half-widths, top 0.08 below the face's
      centre); width and top interpolate between the two;
    - ``facial_hair.length``: the beard ends 0.03 above the chin -> 0.13 below it; the moustache's
      half-size grows from 0.07 x 0.012 to 0.12 x 0.036;
    - ``facial_hair.color``: black -> brown -> ginger (``BEARD``).
    """

    BEARD = np.array([[20, 18, 18], [80, 48, 28], [164, 80, 34]], dtype=np.float64)
    TUFT_TOP, TUFT_HALF_WIDTH = 0.03, 0.08  # kind 0: top below the mouth line; half-width
    FULL_TOP, FULL_WIDTH = 0.08, 0.97  # kind 1: top below the face's centre; face half-widths
    SHORTEST, LENGTH_GROWTH = 0.03, 0.16  # length 0: the bottom this far above the chin
    MOUSTACHE_RISE = 0.03  # its centre above the mouth line
    MOUSTACHE_HALF_WIDTH, MOUSTACHE_WIDTH_GROWTH = 0.07, 0.05
    MOUSTACHE_HALF_HEIGHT, MOUSTACHE_HEIGHT_GROWTH = 0.012, 0.024

    def __init__(self, factors: dict[str, np.ndarray], present: np.ndarray, head: Head):
        self.head, self.present = head, present.tolist()
        kind, length = factors["facial_hair.kind"], factors["facial_hair.length"]
        top = (head.mouth_y + self.TUFT_TOP) * (1 - kind) + (head.cy + self.FULL_TOP) * kind
        half_width = self.TUFT_HALF_WIDTH * (1 - kind) + self.FULL_WIDTH * head.half_width * kind
        bottom = head.cy + head.HALF_HEIGHT - self.SHORTEST + self.LENGTH_GROWTH * length
        self.beard = _curve(head.cx, top, half_width, bottom - top, _LOWER_HALF, head.side)
        self.moustache_w = _pixels(self.MOUSTACHE_HALF_WIDTH + self.MOUSTACHE_WIDTH_GROWTH * length, head.side)
        self.moustache_h = _pixels(self.MOUSTACHE_HALF_HEIGHT + self.MOUSTACHE_HEIGHT_GROWTH * length, head.side)
        self.colors = _rgb_list(_ramp(self.BEARD, factors["facial_hair.color"]))

    def draw(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """The beard, then the moustache (faces with facial hair only)."""
        if not self.present[i]:
            return
        h, u = self.head, float(self.head.side)
        x, my, w, t = h.x_px[i], h.mouth_y_px[i], self.moustache_w[i], self.moustache_h[i]
        pen.polygon(self.beard[i], fill=self.colors[i])
        pen.ellipse((x - w, my - self.MOUSTACHE_RISE * u - t, x + w, my - self.MOUSTACHE_RISE * u + t),
                    fill=self.colors[i])


class Mouth:
    """An open smile with teeth (``_LOWER_SQUIRCLE``, with a light lip outline that shows on a dark
    beard) where the face smiles, else closed lips of a fixed size.

    - ``smile.width``: the open mouth's half-width 0.05 -> 0.20;
    - ``smile.curvature``: its depth 0.025 -> 0.16; the teeth fill its upper half, 0.9 of its width.
    """

    OPEN, TEETH, LIP_LINE, LIPS = (104, 22, 34), (246, 244, 236), (214, 108, 112), (150, 62, 66)
    HALF_WIDTH, WIDTH_GROWTH, DEPTH, DEPTH_GROWTH = 0.05, 0.15, 0.025, 0.135
    TEETH_WIDTH, TEETH_DEPTH = 0.9, 0.5  # of the open mouth's
    LIP_LINE_WIDTH = 0.02
    CLOSED_HALF_WIDTH, CLOSED_HALF_HEIGHT = 0.07, 0.012

    def __init__(self, factors: dict[str, np.ndarray], present: np.ndarray, head: Head):
        self.head, self.present = head, present.tolist()
        width = self.HALF_WIDTH + self.WIDTH_GROWTH * factors["smile.width"]
        depth = self.DEPTH + self.DEPTH_GROWTH * factors["smile.curvature"]
        self.mouth = _curve(head.cx, head.mouth_y, width, depth, _LOWER_SQUIRCLE, head.side)
        self.teeth = _curve(head.cx, head.mouth_y, self.TEETH_WIDTH * width, self.TEETH_DEPTH * depth,
                            _LOWER_SQUIRCLE, head.side)
        self.lip_width = _width(self.LIP_LINE_WIDTH, head.side)

    def draw(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """The open mouth and its teeth, or the closed lips."""
        if self.present[i]:
            pen.polygon(self.mouth[i], fill=self.OPEN, outline=self.LIP_LINE, width=self.lip_width)
            pen.polygon(self.teeth[i], fill=self.TEETH)
            return
        u, x, my = float(self.head.side), self.head.x_px[i], self.head.mouth_y_px[i]
        pen.ellipse((x - self.CLOSED_HALF_WIDTH * u, my - self.CLOSED_HALF_HEIGHT * u, x + self.CLOSED_HALF_WIDTH * u,
                     my + self.CLOSED_HALF_HEIGHT * u), fill=self.LIPS)


class Glasses:
    """Two framed lenses on the eyes (rounded rectangles), a bridge between them and temples to the
    face's edges, in a fixed frame colour.

    - ``glasses.size``: the lens half-width 0.055 -> 0.115;
    - ``glasses.roundness``: from a flat sharp rectangle to a tall rounded lens: the half-height
      0.045 -> 0.105 and the corner radius 0 -> the smaller of the half-width and half-height;
    - ``glasses.tint``: the lens fill's opacity 0.05 (clear) -> 0.95 (sunglasses).
    """

    FRAME, LENS = (14, 14, 20), (28, 34, 52)
    FRAME_WIDTH = 0.025
    HALF_WIDTH, WIDTH_GROWTH, HALF_HEIGHT, HEIGHT_GROWTH = 0.055, 0.06, 0.045, 0.06
    CLEAR, TINT_GROWTH = 0.05, 0.9  # the lens's opacity
    BAR_RISE = 0.3  # bridge and temples above the eye line, in lens half-heights
    TEMPLE_INSET = 0.01  # the temples end this far inside the face's edge

    def __init__(self, factors: dict[str, np.ndarray], present: np.ndarray, head: Head):
        self.head, self.present = head, present.tolist()
        w = self.HALF_WIDTH + self.WIDTH_GROWTH * factors["glasses.size"]
        h = self.HALF_HEIGHT + self.HEIGHT_GROWTH * factors["glasses.roundness"]
        radius = factors["glasses.roundness"] * np.minimum(w, h)
        self.lenses = [self._lens(head.cx + side * head.eye_dx, head.eye_y, w, h, radius, head.side)
                       for side in (-1.0, 1.0)]
        self.alpha = np.rint(255 * (self.CLEAR + self.TINT_GROWTH * factors["glasses.tint"])).astype(np.int64).tolist()
        self.w, self.h = _pixels(w, head.side), _pixels(h, head.side)
        self.frame_width = _width(self.FRAME_WIDTH, head.side)

    @staticmethod
    def _lens(x0, y0, w, h, radius, side: int) -> list[list[float]]:
        """Per face, the pixel polygon of a rectangle of half-size (w, h) centred at (x0, y0) whose
        corners are quarter circles of ``radius``."""
        straight_x, straight_y = (w - radius)[:, None], (h - radius)[:, None]
        px = x0[:, None] + straight_x * _CORNER_SX[None, :] + radius[:, None] * _CORNER_COS[None, :]
        py = y0[:, None] + straight_y * _CORNER_SY[None, :] + radius[:, None] * _CORNER_SIN[None, :]
        return (np.stack([px, py], axis=2).reshape(len(x0), -1) * side).tolist()

    def draw(self, pen: ImageDraw.ImageDraw, i: int) -> None:
        """Each lens with its temple, then the bridge (faces with glasses only)."""
        if not self.present[i]:
            return
        head, u = self.head, float(self.head.side)
        x, ex, w = head.x_px[i], head.eye_dx_px[i], self.w[i]
        bar = head.eye_y_px[i] - self.BAR_RISE * self.h[i]
        for lens, side in zip(self.lenses, (-1.0, 1.0)):
            pen.polygon(lens[i], fill=self.LENS + (self.alpha[i],), outline=self.FRAME, width=self.frame_width)
            temple_end = x + side * (head.half_width_px[i] - self.TEMPLE_INSET * u)
            pen.line((x + side * (ex + w), bar, temple_end, bar), fill=self.FRAME, width=self.frame_width)
        pen.line((x - ex + w, bar, x + ex - w, bar), fill=self.FRAME, width=self.frame_width)


def light(pixels: np.ndarray, factors: dict[str, np.ndarray]) -> np.ndarray:
    """Light drawn faces (m, H, W, 3) uint8: a gain times a left-right gradient, rounded and clipped;
    returns (m, 3, H, W) uint8.

    - ``nuisance.brightness``: the gain 0.75 -> 1.2;
    - ``nuisance.light_direction``: the gradient from 1.25 at the left edge and 0.75 at the right
      (0), through flat (0.5), to the reverse (1).
    """
    gain = 0.75 + 0.45 * factors["nuisance.brightness"]
    slope = (factors["nuisance.light_direction"] - 0.5) * 0.5
    size = pixels.shape[2]
    xs = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    gradient = (gain[:, None] * (1.0 + slope[:, None] * 2.0 * xs[None, :])).astype(np.float32)  # (m, W)
    lit = pixels.astype(np.float32) * gradient[:, None, :, None]
    np.rint(lit, out=lit)
    np.clip(lit, 0, 255, out=lit)
    return lit.astype(np.uint8).transpose(0, 3, 1, 2)


def draw_faces(factors: dict[str, np.ndarray], present: dict[str, np.ndarray], size: int, scale: int) -> np.ndarray:
    """Draw a chunk of faces from their factors (name -> (m,) in [0, 1]) and which attributes each
    has (name -> (m,) bool) at ``size * scale`` px, reduce them to ``size`` and light them:
    uint8 (m, 3, size, size)."""
    side = size * scale
    background = Background(factors)
    head = Head(factors, side)
    hair = Hair(factors, head)
    layers = (head.draw_neck_and_ears, hair.draw_behind, head.draw_face, hair.draw_fringe,
              Eyes(head, hair).draw, Nose(head).draw, Beard(factors, present["facial_hair"], head).draw,
              Mouth(factors, present["smile"], head).draw, Glasses(factors, present["glasses"], head).draw)
    pixels = np.empty((len(head.cx), size, size, 3), dtype=np.uint8)
    for i in range(len(pixels)):
        image = background.canvas(i, side)
        pen = ImageDraw.Draw(image, "RGBA")
        for layer in layers:
            layer(pen, i)
        pixels[i] = np.asarray(image.reduce(scale))
    return light(pixels, factors)
