"""Encoder and decoder backbones shared by every model.

The contract: an encoder maps x of shape (B, *x_shape) to features (B, out_dim) and exposes
``out_dim``; a decoder maps a latent code (B, in_dim) to distribution parameters (B, *x_shape)
(means for a Gaussian likelihood, logits for a Bernoulli one). Models add their own Gaussian heads
and label inputs on top, so any backbone works with any model.
"""

from csvae.nets.conv import ConvDecoder, ConvEncoder
from csvae.nets.mlp import MLP, MLPDecoder, MLPEncoder

__all__ = ["MLP", "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder"]
