"""Decoding image files: every pixel mode Pillow opens gives the right 8-bit picture or a refusal
naming the file and mode; EXIF orientation; a minimum size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from csvae.data.checks import DataError
from csvae.data.imageio import MIN_SIDE, ORIENTATION, decode_image

COLOUR = (200, 100, 50)
GREY = 120
SIZE = (40, 30)


def _grey16(mode: str) -> Image.Image:
    dtype = {"I;16B": ">u2", "I;16N": "=u2"}.get(mode, "<u2")
    return Image.frombytes(mode, SIZE, np.full(SIZE[0] * SIZE[1], GREY * 257, dtype).tobytes())


def _palette(mode: str) -> Image.Image:
    image = Image.new(mode, SIZE, 0 if mode == "P" else (0, 255))
    image.putpalette(list(COLOUR) + [0] * 765)
    return image


def mode_image(mode: str) -> tuple[Image.Image, tuple[int, int, int] | None]:
    """A flat image in ``mode`` and the RGB colour it shows (None: the mode is refused)."""
    rgb = Image.new("RGB", SIZE, COLOUR)
    grey = (GREY,) * 3
    if mode.startswith("I;16"):
        return _grey16(mode), grey
    made = {
        "1": (Image.new("1", SIZE, 1), (255,) * 3),
        "L": (Image.new("L", SIZE, GREY), grey),
        "LA": (Image.new("LA", SIZE, (GREY, 128)), grey),
        "La": (Image.new("La", SIZE, (GREY, 255)), None),  # Pillow converts La to nothing
        "P": (_palette("P"), COLOUR),
        "PA": (_palette("PA"), COLOUR),
        "I": (Image.new("I", SIZE, GREY * 257), None),  # 32-bit: no defined range
        "F": (Image.new("F", SIZE, GREY / 255), None),  # float: 0..1 or 0..255?
    }
    if mode in made:
        return made[mode]
    if mode in ("RGB", "RGBA", "RGBX", "RGBa"):
        return Image.new(mode, SIZE, COLOUR + (255,) * (len(mode) - 3)), COLOUR
    return rgb.convert(mode), COLOUR  # CMYK, YCbCr, LAB, HSV


def _check(x: np.ndarray, colour, channels: int) -> None:
    expected = colour if channels == 3 else (Image.new("RGB", (1, 1), colour).convert("L").getpixel((0, 0)),)
    assert x.shape == (channels, 16, 16)
    np.testing.assert_allclose(x[:, 8, 8], expected, atol=2)


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("mode", Image.MODES)
def test_every_pillow_mode(tmp_path, monkeypatch, mode, channels):
    """Each mode Pillow has, as Image.open would return it: the right picture or a refusal naming
    the file and the mode (before, 16-bit grey came out white and F black, without a word)."""
    image, colour = mode_image(mode)
    assert image.mode == mode
    monkeypatch.setattr(Image, "open", lambda path: image)
    path = tmp_path / f"photo-{mode.replace(';', '')}.tif"
    path.write_bytes(b"")  # decode_image opens only regular files
    if colour is None:
        with pytest.raises(DataError, match=rf"image .*photo-.*\.tif cannot be decoded: its mode {mode} "):
            decode_image(path, 16, channels=channels)
    else:
        _check(decode_image(path, 16, channels=channels), colour, channels)


FILES = [("1", "png"), ("L", "png"), ("LA", "png"), ("P", "png"), ("RGB", "png"), ("RGBA", "png"),
         ("I;16", "png"), ("1", "tiff"), ("L", "tiff"), ("LA", "tiff"), ("P", "tiff"), ("PA", "tiff"),
         ("RGBA", "tiff"), ("CMYK", "tiff"), ("YCbCr", "tiff"), ("LAB", "tiff"), ("I;16", "tiff"),
         ("I;16B", "tiff"), ("I", "tiff"), ("F", "tiff"), ("CMYK", "jpeg"), ("L", "jpeg")]


@pytest.mark.parametrize("mode,fmt", FILES)
def test_modes_through_files(tmp_path, mode, fmt):
    image, colour = mode_image(mode)
    path = tmp_path / f"x.{fmt}"
    image.save(path)
    for channels in (3, 1):
        if colour is None:
            with pytest.raises(DataError, match=rf"x.{fmt} cannot be decoded: its mode {mode} \("):
                decode_image(path, 16, channels=channels)
        else:
            _check(decode_image(path, 16, channels=channels), colour, channels)


def test_sixteen_bit_pgm_opens_as_mode_i(tmp_path):
    """Pillow opens a 16-bit PGM (any maxval, scaled to 0..65535) in mode I: read as 16-bit."""
    path = tmp_path / "x.pgm"
    path.write_bytes(b"P5 40 30 4095\n" + np.full(1200, 4095 * GREY // 255, ">u2").tobytes())
    with Image.open(path) as image:
        assert image.mode == "I"
    _check(decode_image(path, 16), (GREY,) * 3, 3)


@pytest.mark.parametrize("orientation", sorted(ORIENTATION))
def test_exif_orientation_is_applied(tmp_path, orientation):
    upright = np.zeros((30, 40, 3), dtype=np.uint8)
    upright[:, :20] = (250, 0, 0)  # left red, right blue, top rows green: no symmetry
    upright[:, 20:] = (0, 0, 250)
    upright[:8] = (0, 250, 0)
    inverse = {Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
               Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90}
    transpose = ORIENTATION[orientation]
    raw = Image.fromarray(upright).transpose(inverse.get(transpose, transpose))
    exif = Image.Exif()
    exif[0x0112] = orientation
    raw.save(tmp_path / "raw.png", exif=exif)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    decoded, expected = decode_image(tmp_path / "raw.png", 16), decode_image(tmp_path / "upright.png", 16)
    # (resizing a rotated picture rounds between its two passes in the other order: edges differ a little)
    assert np.abs(decoded.astype(int) - expected.astype(int)).mean() < 1


@pytest.mark.parametrize("size", [(1, 1), (MIN_SIDE - 1, 200)])
def test_tiny_images_are_refused(tmp_path, size):
    path = tmp_path / "tiny.png"
    Image.new("RGB", size, COLOUR).save(path)
    with pytest.raises(DataError, match=rf"tiny.png cannot be decoded: image is {size[0]}x{size[1]}, so its "
                                        rf"square is .* smaller than the minimum of {MIN_SIDE}x{MIN_SIDE}"):
        decode_image(path, 16)
    Image.new("RGB", (MIN_SIDE, MIN_SIDE), COLOUR).save(path)
    _check(decode_image(path, 16), COLOUR, 3)
