"""Convolutional backbones for square images, in the style of Larsen et al. 2016.

Encoder: ``len(channels)`` blocks of [conv k x k stride 2 -> norm -> ReLU], each halving the
image side, then flatten -> dense -> norm -> ReLU. Its output (``out_dim == dense`` features) is
what the models put their Gaussian heads on.

Decoder (the mirror): dense -> norm -> ReLU -> dense to (channels[-1], s, s) -> norm -> ReLU,
then ``len(channels)`` blocks of [upsample x2 -> norm -> ReLU] with ``reversed(channels)`` output
channels, each doubling the side, and a final conv k x k to the image channels with no
activation (its output is a Gaussian mean or Bernoulli logits). ``s = size // 2**len(channels)``.
Upsampling (``upsample``): ``"transpose"`` (transposed conv k x k stride 2, Larsen's),
``"resize"`` (nearest-neighbour x2, then conv k x k: no checkerboard) or ``"subpixel"`` (conv
k x k to 4x the channels, then pixel shuffle). The kernel side k (``kernel``, 3-7; the paper's 5)
is shared by every conv; strided convs pad (k - 1) // 2, the others "same", so sides stay exact.

Sizes: the paper's (Larsen's) 64x64 network is ``channels=(64, 128, 256), dense=2048``; the
default here is a slimmer ``(32, 64, 128), dense=512``.

Norms: ``"batch"`` (BatchNorm), ``"group"`` (GroupNorm with ``gcd(width, 8)`` groups, i.e. 8
groups for every width divisible by 8; independent of batch size) or ``"none"`` (convs and
dense layers then carry biases; with a norm they do not, the norm's shift plays that role).

With ``film`` the code also modulates every upsampling block (FiLM, Perez et al. 2018; the
style injection of StyleGAN, Karras et al. 2019): after the block's norm its features h become
(1 + gamma) * h + beta, gamma and beta (one per channel) linear in the code and zero at
initialisation, so the code reaches every resolution directly and not only through the dense
layers at the smallest one.

Only standard conv / linear / norm / ReLU ops are used, so the modules run under bf16 autocast
and with ``channels_last`` inputs and weights (``module.to(memory_format=torch.channels_last)``).
``inference_precision`` ("32-true", the default, or a mixed precision of ``train.precision``) runs
the forward of a module in eval mode under autocast with a float32 result: the precision a
bf16-mixed run trained at, for evaluation (``LatentModel.set_inference_precision``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from csvae.constraints import is_integer

NORMS = ("batch", "group", "none")
UPSAMPLES = ("transpose", "resize", "subpixel")
KERNELS = range(3, 8)
MIN_SIZE, MAX_SIZE = 32, 128
STRIDE = 2
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")


def autocast_dtype(precision: str, device_type: str) -> Optional[torch.dtype]:
    """The autocast dtype of a Fabric precision on a device type (None: float32), as Fabric
    picks it: bf16-mixed -> bfloat16; 16-mixed -> float16 on CUDA, bfloat16 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "32-true":
        return None
    return torch.float16 if precision == "16-mixed" and device_type == "cuda" else torch.bfloat16


class _Backbone(nn.Module):
    """What both conv nets share: ``inference_precision`` for their forward in eval mode."""

    inference_precision = "32-true"

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        dtype = None if self.training else autocast_dtype(self.inference_precision, inputs.device.type)
        if dtype is None:
            return self._forward(inputs)
        with torch.autocast(inputs.device.type, dtype=dtype):
            return self._forward(inputs).float()


def _check(x_shape, channels: Sequence[int], dense: int, norm: str, who: str, kernel: int = 5) -> tuple[int, int]:
    """Validate the arguments; return (image channels, side of the smallest feature map)."""
    try:
        shape = tuple(int(v) for v in x_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: x_shape must be (channels, height, width), got {x_shape!r}") from None
    if len(shape) != 3:
        raise ValueError(f"{who}: x_shape must be (channels, height, width), got {x_shape!r}")
    image_channels, height, width = shape
    if image_channels not in (1, 3):
        raise ValueError(f"{who}: images must have 1 or 3 channels, got {image_channels} "
                         f"(x_shape={shape}; is it (C, H, W)?)")
    if height != width:
        raise ValueError(f"{who}: images must be square, got {height}x{width}")
    if norm not in NORMS:
        raise ValueError(f"{who}: unknown norm {norm!r}; valid norms: {list(NORMS)}")
    if isinstance(kernel, bool) or kernel not in KERNELS:
        raise ValueError(f"{who}: kernel must be an integer in {KERNELS.start}..{KERNELS.stop - 1}, got {kernel!r}")
    channels = list(channels)
    if not channels:
        raise ValueError(f"{who}: channels must list at least one conv width, got {channels}")
    for c in channels:
        if not is_integer(c) or c <= 0:
            raise ValueError(f"{who}: conv channels must be positive integers, got {channels}")
    if not is_integer(dense) or dense <= 0:
        raise ValueError(f"{who}: dense must be a positive integer, got {dense!r}")
    factor = 2 ** len(channels)
    if not MIN_SIZE <= height <= MAX_SIZE or height % factor:
        raise ValueError(f"{who}: image size {height} (data.image_size) not supported: it must be within "
                         f"{MIN_SIZE}..{MAX_SIZE} px and divisible by 2**len(channels) = {factor}, one halving "
                         f"per entry of model.conv_channels={channels}")
    return image_channels, height // factor


def _norm2d(norm: str, width: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(width)
    if norm == "group":
        return nn.GroupNorm(math.gcd(width, 8), width)
    return nn.Identity()


def _norm1d(norm: str, width: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm1d(width)
    if norm == "group":
        return nn.GroupNorm(math.gcd(width, 8), width)  # accepts (B, width) inputs
    return nn.Identity()


def _upsample(kind: str, width: int, out: int, kernel: int, bias: bool) -> list[nn.Module]:
    """Layers that double the side and map ``width`` to ``out`` channels (see the module docstring)."""
    pad = (kernel - 1) // 2
    if kind == "transpose":
        return [nn.ConvTranspose2d(width, out, kernel, STRIDE, pad, output_padding=kernel % 2, bias=bias)]
    if kind == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, out, kernel, 1, "same", bias=bias)]
    return [nn.Conv2d(width, 4 * out, kernel, 1, "same", bias=bias), nn.PixelShuffle(2)]


class ConvEncoder(_Backbone):
    """x float (B, C, H, W) -> features (B, out_dim), out_dim == dense (ReLU'd)."""

    def __init__(self, x_shape: tuple[int, int, int], channels: Sequence[int] = (32, 64, 128),
                 dense: int = 512, norm: str = "batch", kernel: int = 5):
        super().__init__()
        image_channels, side = _check(x_shape, channels, dense, norm, "ConvEncoder", kernel)
        self.x_shape = tuple(int(v) for v in x_shape)
        self.out_dim = dense
        bias = norm == "none"
        layers: list[nn.Module] = []
        width = image_channels
        for c in channels:
            layers += [nn.Conv2d(width, c, kernel, STRIDE, (kernel - 1) // 2, bias=bias), _norm2d(norm, c),
                       nn.ReLU(inplace=True)]
            width = c
        self.convs = nn.Sequential(*layers)
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(width * side * side, dense, bias=bias),
                                   _norm1d(norm, dense), nn.ReLU(inplace=True))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.x_shape:
            raise ValueError(f"ConvEncoder expects x of shape (B, {', '.join(map(str, self.x_shape))}), "
                             f"got {tuple(x.shape)}")
        return self.dense(self.convs(x))


class ConvDecoder(_Backbone):
    """latent code (B, in_dim) -> distribution parameters (B, C, H, W), no final activation."""

    def __init__(self, in_dim: int, x_shape: tuple[int, int, int], channels: Sequence[int] = (32, 64, 128),
                 dense: int = 512, norm: str = "batch", kernel: int = 5, upsample: str = "transpose",
                 film: bool = False):
        super().__init__()
        image_channels, side = _check(x_shape, channels, dense, norm, "ConvDecoder", kernel)
        if upsample not in UPSAMPLES:
            raise ValueError(f"ConvDecoder: unknown upsample {upsample!r}; valid: {list(UPSAMPLES)}")
        if not is_integer(in_dim) or in_dim <= 0:
            raise ValueError(f"ConvDecoder: in_dim must be a positive integer, got {in_dim!r}")
        self.in_dim = in_dim
        self.x_shape = tuple(int(v) for v in x_shape)
        channels = list(channels)
        self.start = (channels[-1], side, side)
        bias = norm == "none"
        self.dense = nn.Sequential(
            nn.Linear(in_dim, dense, bias=bias), _norm1d(norm, dense), nn.ReLU(inplace=True),
            nn.Linear(dense, channels[-1] * side * side, bias=bias))
        layers: list[nn.Module] = [_norm2d(norm, channels[-1]), nn.ReLU(inplace=True)]
        width, self.film_at = channels[-1], []
        for c in reversed(channels):
            layers += _upsample(upsample, width, c, kernel, bias)
            self.film_at.append(len(layers))  # FiLM follows this block's norm
            layers += [_norm2d(norm, c), nn.ReLU(inplace=True)]
            width = c
        layers.append(nn.Conv2d(width, image_channels, kernel, 1, "same"))
        self.convs = nn.Sequential(*layers)
        self.films = None
        if film:
            self.films = nn.ModuleList(nn.Linear(in_dim, 2 * c) for c in reversed(channels))
            for layer in self.films:  # start as the identity: (1 + 0) * h + 0
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def _forward(self, code: torch.Tensor) -> torch.Tensor:
        if code.dim() != 2 or code.shape[1] != self.in_dim:
            raise ValueError(f"ConvDecoder expects a code of shape (B, {self.in_dim}), got {tuple(code.shape)}")
        h = self.dense(code).view(code.shape[0], *self.start)
        if self.films is None:
            return self.convs(h)
        modulations = iter(self.films)
        for index, layer in enumerate(self.convs):
            h = layer(h)
            if index in self.film_at:
                scale, shift = next(modulations)(code).to(h.dtype)[:, :, None, None].chunk(2, dim=1)
                h = torch.addcmul(shift, h, 1 + scale)  # (1 + scale) * h + shift in one pass
        return h
