"""Convolutional backbones: shapes, norms, gradients, memory formats, autocast, errors."""

import pytest
import torch

from csvae.nets.conv import ConvDecoder, ConvEncoder

SMALL = dict(channels=(4, 8), dense=16)


@pytest.mark.parametrize("size", [32, 48, 64, 128])
@pytest.mark.parametrize("image_channels", [1, 3])
@pytest.mark.parametrize("norm", ["batch", "group", "none"])
def test_shapes(size, image_channels, norm):
    torch.manual_seed(0)
    shape = (image_channels, size, size)
    enc = ConvEncoder(shape, norm=norm, **SMALL)
    dec = ConvDecoder(5, shape, norm=norm, **SMALL)
    x = torch.rand(3, *shape)
    h = enc(x)
    assert enc.out_dim == 16
    assert h.shape == (3, 16)
    assert (h >= 0).all()  # ReLU'd features
    out = dec(torch.randn(3, 5))
    assert out.shape == (3, *shape)
    assert out.dtype == torch.float32


def test_default_and_paper_sizes():
    enc = ConvEncoder((3, 64, 64))
    dec = ConvDecoder(10, (3, 64, 64))
    assert enc.out_dim == 512
    assert enc(torch.rand(2, 3, 64, 64)).shape == (2, 512)
    assert dec(torch.randn(2, 10)).shape == (2, 3, 64, 64)
    # Larsen et al. / the paper: 64-128-256 channels, 2048 dense units (just build it).
    paper = ConvEncoder((3, 64, 64), channels=(64, 128, 256), dense=2048)
    assert paper.out_dim == 2048
    # 48x48 greyscale (TFD) with the default three blocks: 48 / 8 = 6.
    assert ConvDecoder(4, (1, 48, 48))(torch.randn(2, 4)).shape == (2, 1, 48, 48)


@pytest.mark.parametrize("norm", ["batch", "group", "none"])
def test_gradients_reach_every_parameter(norm):
    torch.manual_seed(0)
    shape = (3, 32, 32)
    enc = ConvEncoder(shape, norm=norm, **SMALL)
    dec = ConvDecoder(16, shape, norm=norm, **SMALL)
    x = torch.rand(4, *shape, requires_grad=True)
    loss = ((dec(enc(x)) - x) ** 2).mean()
    loss.backward()
    for name, p in list(enc.named_parameters()) + list(dec.named_parameters()):
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_single_example_in_eval_mode():
    enc = ConvEncoder((3, 32, 32), **SMALL).eval()
    dec = ConvDecoder(2, (3, 32, 32), **SMALL).eval()
    assert dec(torch.randn(1, 2)).shape == (1, 3, 32, 32)
    assert enc(torch.rand(1, 3, 32, 32)).shape == (1, 16)


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_channels_last_matches_contiguous(norm):
    torch.manual_seed(0)
    shape = (3, 32, 32)
    enc = ConvEncoder(shape, norm=norm, **SMALL).eval()
    dec = ConvDecoder(16, shape, norm=norm, **SMALL).eval()
    x = torch.rand(4, *shape)
    ref = dec(enc(x))
    enc_cl = enc.to(memory_format=torch.channels_last)
    dec_cl = dec.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    out = dec_cl(enc_cl(x_cl))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    out.sum().backward()
    assert x_cl.grad is not None


@pytest.mark.parametrize("norm", ["batch", "group", "none"])
def test_bf16_autocast(norm):
    torch.manual_seed(0)
    shape = (3, 32, 32)
    enc = ConvEncoder(shape, norm=norm, **SMALL)
    dec = ConvDecoder(16, shape, norm=norm, **SMALL)
    x = torch.rand(4, *shape)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = dec(enc(x))
        loss = ((out.float() - x) ** 2).mean()
    assert out.shape == (4, *shape)
    assert torch.isfinite(out.float()).all()
    loss.backward()
    for name, p in list(enc.named_parameters()) + list(dec.named_parameters()):
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name


def test_inference_precision_runs_eval_forwards_under_autocast_with_float32_results():
    torch.manual_seed(0)
    shape = (3, 32, 32)
    enc, dec = ConvEncoder(shape, **SMALL).eval(), ConvDecoder(16, shape, film=True, **SMALL).eval()
    with torch.no_grad():
        for layer in dec.films:  # FiLM away from its identity start
            layer.weight.normal_(0, 0.1)
    x = torch.rand(8, *shape)
    exact = dec(enc(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reference = dec(enc(x)).float()  # what the nets give under a training step's autocast
    enc.inference_precision = dec.inference_precision = "bf16-mixed"
    low = dec(enc(x))
    assert low.dtype == torch.float32 and enc(x).dtype == torch.float32
    torch.testing.assert_close(low, reference, rtol=0, atol=0)
    assert 0 < (low - exact).abs().max() < 0.05  # bf16 rounding, not another network
    enc.train(), dec.train()  # training keeps whatever precision the loop sets around it
    torch.manual_seed(1)
    trained = dec(enc(x))
    enc.inference_precision = dec.inference_precision = "32-true"
    torch.manual_seed(1)
    torch.testing.assert_close(trained, dec(enc(x)), rtol=0, atol=0)


def test_a_models_inference_precision_reaches_its_conv_nets_only():
    from csvae.api import model_from_config
    from csvae.config import ModelConfig

    config = ModelConfig(name="csvae", backbone="conv", conv_channels=[4, 8], conv_dense=16, z_dim=2, w_dim=1,
                         head_hidden=8, adversary_hidden=[8])
    model = model_from_config(config, (3, 32, 32), 2, seed=0)
    model.set_inference_precision("bf16-mixed")
    nets = [m for m in model.modules() if isinstance(m, (ConvEncoder, ConvDecoder))]
    assert len(nets) >= 3 and {m.inference_precision for m in nets} == {"bf16-mixed"}
    x, y = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8), torch.tensor([[0.0, 1.0]] * 5)
    assert model.latents(x.numpy(), y.numpy())["w"].dtype == "float32"
    assert model.reconstruct(x, y).dtype == torch.float32
    with pytest.raises(ValueError, match="precision must be one of"):
        model.set_inference_precision("bf16")


@pytest.mark.parametrize("kwargs, message", [
    (dict(x_shape=(3, 50, 50)), "divisible by 2\\*\\*len\\(channels\\) = 8"),
    (dict(x_shape=(3, 16, 16), channels=(8, 16)), "within 32..128"),
    (dict(x_shape=(3, 256, 256)), "within 32..128"),
    (dict(x_shape=(3, 36, 36), channels=(8, 16, 32)), "divisible"),
    (dict(x_shape=(2, 32, 32)), "1 or 3 channels"),
    (dict(x_shape=(32, 32, 3)), "1 or 3 channels"),
    (dict(x_shape=(3, 32, 64)), "square"),
    (dict(x_shape=(32, 32)), "x_shape must be"),
    (dict(x_shape=(3, 32, 32), norm="layer"), "unknown norm 'layer'; valid norms"),
    (dict(x_shape=(3, 32, 32), channels=()), "at least one"),
    (dict(x_shape=(3, 32, 32), channels=(8, 0)), "positive integers"),
    (dict(x_shape=(3, 32, 32), dense=0), "dense must be"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvEncoder(**kwargs)
    with pytest.raises(ValueError, match=message):
        ConvDecoder(4, **kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="in_dim"):
        ConvDecoder(0, (3, 32, 32))
    enc = ConvEncoder((3, 32, 32), **SMALL)
    with pytest.raises(ValueError, match=r"expects x of shape \(B, 3, 32, 32\)"):
        enc(torch.rand(2, 1, 32, 32))
    dec = ConvDecoder(4, (3, 32, 32), **SMALL)
    with pytest.raises(ValueError, match=r"code of shape \(B, 4\)"):
        dec(torch.rand(2, 5))


@pytest.mark.parametrize("kernel", [3, 4, 5, 7])
@pytest.mark.parametrize("upsample", ["transpose", "resize", "subpixel"])
def test_kernels_and_upsampling_keep_exact_sides(kernel, upsample):
    shape = (3, 32, 32)
    enc = ConvEncoder(shape, kernel=kernel, **SMALL)
    dec = ConvDecoder(5, shape, kernel=kernel, upsample=upsample, **SMALL)
    assert enc(torch.rand(2, *shape)).shape == (2, 16)
    out = dec(torch.randn(2, 5))
    assert out.shape == (2, *shape)
    out.sum().backward()
    assert all(p.grad is not None for p in dec.parameters())


def test_bad_kernel_and_upsampling_are_refused():
    with pytest.raises(ValueError, match="kernel must be an integer in 3..7"):
        ConvEncoder((3, 32, 32), kernel=2, **SMALL)
    with pytest.raises(ValueError, match="unknown upsample 'bilinear'"):
        ConvDecoder(5, (3, 32, 32), upsample="bilinear", **SMALL)


def test_config_names_the_network_settings():
    import csvae
    from csvae.config import ConfigError

    with pytest.raises(ConfigError, match="model.conv_kernel"):
        csvae.build_model("vae", x_shape=(3, 32, 32), conv_kernel=9)
    with pytest.raises(ConfigError, match="model.conv_upsample"):
        csvae.build_model("vae", x_shape=(3, 32, 32), conv_upsample="unpool")
    with pytest.raises(ValueError, match="data.image_size.*model.conv_channels"):
        csvae.build_model("vae", x_shape=(3, 36, 36), conv_channels=[8, 8, 8])


@pytest.mark.parametrize("upsample", ["transpose", "resize", "subpixel"])
def test_film_starts_as_the_plain_decoder_and_then_modulates_each_block(upsample):
    shape = (3, 32, 32)
    plain = ConvDecoder(5, shape, upsample=upsample, **SMALL)
    film = ConvDecoder(5, shape, upsample=upsample, film=True, **SMALL)
    assert len(film.films) == len(SMALL["channels"])
    film.load_state_dict(plain.state_dict(), strict=False)  # the shared weights; FiLM stays zero
    code = torch.randn(3, 5)
    torch.testing.assert_close(film(code), plain(code))
    out = film(code)
    out.square().mean().backward()
    for layer in film.films:  # the modulation of every block is trained
        assert layer.weight.grad.abs().sum() > 0
    with torch.no_grad():
        film.films[-1].weight.normal_()
    changed = film(code)
    assert not torch.allclose(changed, plain(code))


def test_film_is_a_model_setting():
    import csvae
    from csvae.config import ConfigError

    model = csvae.build_model("csvae", x_shape=(3, 32, 32), y_dim=2, conv_film=True, conv_channels=[4, 8],
                              conv_dense=16)
    assert model.decoder.films is not None
    assert csvae.build_model("vae", x_shape=(3, 32, 32), conv_channels=[4, 8], conv_dense=16).decoder.films is None
    with pytest.raises(ConfigError, match="model.conv_film must be true or false"):
        csvae.build_model("vae", x_shape=(3, 32, 32), conv_film="yes")


def test_a_setting_of_the_other_backbone_is_refused_not_ignored():
    from csvae.config import ConfigError, ModelConfig

    with pytest.raises(ConfigError, match="model.conv_film is a setting of model.backbone 'conv', and model.backbone "
                                          "is 'mlp'"):
        ModelConfig(name="csvae", conv_film=True)
    with pytest.raises(ConfigError, match="model.conv_channels is a setting of model.backbone 'conv'"):
        ModelConfig(name="vae", backbone="mlp", conv_channels=[8, 16])
    with pytest.raises(ConfigError, match="model.hidden is a setting of model.backbone 'mlp', and model.backbone is "
                                          "'conv'"):
        ModelConfig(name="vae", backbone="conv", hidden=[32])
    with pytest.raises(ConfigError, match="model.backbone must be one of"):
        ModelConfig(name="vae", backbone="transformer")
    # each backbone's own settings, and the other's at their defaults, are fine
    assert ModelConfig(name="vae", backbone="conv", conv_film=True, hidden=[64, 64]).conv_film
    assert ModelConfig(name="vae", hidden=[32], conv_kernel=5).hidden == [32]
