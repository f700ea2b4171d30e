"""The shared model interface, the alternation, and the manipulation functions on tiny models."""

import numpy as np
import pytest
import torch

import csvae
from csvae.config import ConfigError, DataConfig, ModelConfig, TrainConfig
from csvae.models.labels import class_means, label_shift
from csvae.models.objective import weighted_sum

NAMES = ["vae", "condvae", "condvae_info", "csvae", "msp", "guided_vae", "s2vae"]
ADVERSARIAL = ("condvae_info", "csvae", "guided_vae")


def tiny(name, y_dim=1, **options):
    options.setdefault("hidden", [16])
    options.setdefault("head_hidden", 8)
    options.setdefault("adversary_hidden", [8])
    return csvae.build_model(name, x_dim=3, y_dim=y_dim, seed=0, **options)


def batch(n=16, k=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g), torch.randint(0, 2, (n, k), generator=g).float()


@pytest.mark.parametrize("name", NAMES)
def test_interface(name):
    model = tiny(name, y_dim=2)
    x, y = batch(k=2)
    terms = model.losses(x, y)
    assert terms["model"].dim() == 0 and torch.isfinite(terms["model"])
    assert ("adversary" in terms) == (name in ADVERSARIAL)
    lat = model.latents(x.numpy(), y.numpy())
    assert isinstance(lat["z"], np.ndarray)
    if name == "csvae":
        assert lat["z"].shape == (16, 2) and lat["w"].shape == (16, 4)
    elif name in ("msp", "guided_vae", "s2vae"):  # one label coordinate per label beside z
        assert lat["z"].shape == (16, 2) and lat["w"].shape == (16, 2)
    else:  # same total latent size as the CSVAE: 2 + 2 * 2
        assert lat["z"].shape == (16, 6) and "w" not in lat
    assert model.reconstruct(x.numpy(), y.numpy()).shape == (16, 3)
    model.finalize(x, y)
    assert model.manipulate(x, y, 1 - y).shape == (16, 3)


@pytest.mark.parametrize("name", NAMES)
def test_categorical_label(name):
    model = tiny(name, y_dim=3, label_kind="categorical")
    x = torch.randn(12, 3)
    y = torch.eye(3)[torch.arange(12) % 3]
    assert torch.isfinite(model.losses(x, y)["model"])
    model.finalize(x, y)
    target = torch.eye(3)[(torch.arange(12) + 1) % 3]
    assert model.manipulate(x, y, target).shape == (12, 3)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_alternation_touches_only_its_own_parameters(name):
    """The model step leaves the adversary without gradient, the adversary step the rest."""
    model = tiny(name)
    x, y = batch()
    terms = model.losses(x, y)
    terms["model"].backward(retain_graph=True)
    assert all(p.grad is None for p in model.adversary_parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.model_parameters())
    model.zero_grad(set_to_none=True)
    terms["adversary"].backward()
    assert all(p.grad is None for p in model.model_parameters())
    assert all(p.grad is not None for p in model.adversary_parameters())


def test_model_and_adversary_parameters_partition_the_model():
    model = tiny("csvae")
    ids = [id(p) for p in model.model_parameters()] + [id(p) for p in model.adversary_parameters()]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert len(set(ids)) == len(ids)


def test_standardisation_is_stored_and_undone():
    model = tiny("vae")
    model.set_standardization(torch.tensor([10.0, 20.0, 30.0]), torch.tensor([2.0, 2.0, 2.0]))
    x = torch.tensor([[12.0, 18.0, 30.0]])
    torch.testing.assert_close(model.to_model(x), torch.tensor([[1.0, -1.0, 0.0]]))
    torch.testing.assert_close(model.to_data(model.to_model(x)), x)


def test_uint8_images_are_scaled_to_unit_interval():
    x = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    bernoulli = csvae.build_model("vae", x_shape=(1, 4, 4), backbone="mlp", hidden=[8], likelihood="bernoulli")
    torch.testing.assert_close(bernoulli.to_model(x), torch.ones(2, 1, 4, 4))
    # Gaussian means of images are centred on mid-grey: a zero decoder output means 0.5
    gaussian = csvae.build_model("vae", x_shape=(1, 4, 4), backbone="mlp", hidden=[8])
    torch.testing.assert_close(gaussian.to_model(x), torch.full((2, 1, 4, 4), 0.5))
    torch.testing.assert_close(gaussian.to_data(torch.zeros(2, 1, 4, 4)), torch.full((2, 1, 4, 4), 0.5))
    torch.testing.assert_close(gaussian.to_data(torch.full((2, 1, 4, 4), 9.0)), torch.ones(2, 1, 4, 4))  # clipped


def test_class_means_and_label_shift():
    codes = torch.tensor([[0.0, 0.0], [2.0, 2.0], [4.0, 0.0]])
    y = torch.tensor([[0.0], [1.0], [1.0]])
    mean_1, mean_0 = class_means(codes, y)
    torch.testing.assert_close(mean_1, torch.tensor([[3.0, 1.0]]))
    torch.testing.assert_close(mean_0, torch.tensor([[0.0, 0.0]]))
    shift = label_shift(y, 1 - y, mean_1, mean_0, "binary")
    torch.testing.assert_close(shift, torch.tensor([[3.0, 1.0], [-3.0, -1.0], [-3.0, -1.0]]))
    # categorical: the paper's m_target - m_source
    means = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    src, dst = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0]])
    torch.testing.assert_close(label_shift(src, dst, means, torch.zeros(3, 2), "categorical"),
                               torch.tensor([[4.0, 5.0]]))


def test_vae_manipulation_moves_codes_by_class_mean_difference():
    model = tiny("vae")
    x, y = batch(32)
    model.finalize(x, y)
    decoded = []
    model.decode = lambda z: decoded.append(z) or z[:, :3]  # capture the shifted code
    model.manipulate(x, y, 1 - y)
    expected = model.encode(x).z.mean + (1 - 2 * y) * (model.z_means_1 - model.z_means_0)
    torch.testing.assert_close(decoded[0], expected)


def test_condvae_manipulation_decodes_with_target_label():
    model = tiny("condvae")
    x, y = batch()
    target = 1 - y
    expected = model.to_data(model.decode(model.encode(x, y).z.mean, target))
    torch.testing.assert_close(model.manipulate(x, y, target), expected)


def test_csvae_manipulation_sets_changed_subspaces_only():
    model = tiny("csvae", y_dim=2)
    x, y = batch(k=2)
    target = y.clone()
    target[:, 0] = 1 - target[:, 0]  # change attribute 0 only
    captured = []
    model.decode = lambda z, w: captured.append((z, w)) or torch.zeros(len(z), 3)
    model.manipulate(x, y, target, style="prior_mean")
    z, w = captured[0]
    post = model.encode(x, y)
    torch.testing.assert_close(z, post.z.mean)
    torch.testing.assert_close(w[:, 2:], post.w.mean[:, 2:])  # attribute 1 kept
    torch.testing.assert_close(w[:, :2], 3.0 * target[:, :1].expand(-1, 2))  # prior mean 0 or 3


def test_csvae_style_options():
    model = tiny("csvae")
    x, y = batch(64)
    model.finalize(x, y)
    target = torch.ones(4, 1)
    torch.testing.assert_close(model.subspace_values(target, "prior_mean"), torch.full((4, 2), 3.0))
    torch.testing.assert_close(model.subspace_values(target, "class_mean"), model.w_means_1.expand(4, 2))
    point = torch.tensor([1.0, -1.0])
    torch.testing.assert_close(model.subspace_values(target, point), point.expand(4, 2))
    samples = model.subspace_values(torch.ones(4000, 1), "sample", torch.Generator().manual_seed(0))
    assert samples.mean().item() == pytest.approx(3.0, abs=0.05)
    assert samples.std().item() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="style must be one of"):
        model.subspace_values(target, "nearest")


def test_csvae_transfer_takes_reference_subspace():
    model = tiny("csvae", y_dim=2)
    x, y = batch(k=2)
    captured = []
    model.decode = lambda z, w: captured.append(w) or torch.zeros(len(z), 3)
    model.transfer(x, y, x[:1], y[:1], attributes=[1])
    w = captured[0]
    post, ref = model.encode(x, y), model.encode(x[:1], y[:1])
    torch.testing.assert_close(w[:, :2], post.w.mean[:, :2])
    torch.testing.assert_close(w[:, 2:], ref.w.mean[:, 2:].expand(16, 2))


def test_manipulate_rejects_wrong_target_shape():
    model = tiny("condvae")
    x, y = batch()
    with pytest.raises(ValueError, match="target_y must have the shape"):
        model.manipulate(x, y, torch.ones(3, 1))


@pytest.mark.parametrize("options,match", [
    ({"z_dim": 0}, "model.z_dim must be positive"),
    ({"betas": {"recon": -1.0}}, "model.betas.recon must be non-negative"),
    ({"zdim": 2}, "unknown key model.zdim"),
    ({"hidden": "wide"}, "model.hidden must be a list"),
    ({"likelihood": "poisson"}, "model.likelihood must be one of"),
])
def test_build_model_rejects_bad_options(options, match):
    with pytest.raises(ConfigError, match=match):
        csvae.build_model("csvae", x_dim=3, y_dim=1, **options)


@pytest.mark.parametrize("build,match", [
    (lambda: TrainConfig(adversary_steps=1.5), r"train\.adversary_steps must be an integer, got 1\.5"),
    (lambda: TrainConfig(epochs=True), r"train\.epochs must be an integer, got True"),
    (lambda: ModelConfig(conv_channels=[32, 64.0]), r"model\.conv_channels\[1\] must be an integer"),
    (lambda: ModelConfig(betas={"kl_w": "8"}), r"model\.betas\.kl_w must be a number"),
    (lambda: ModelConfig(betas={"klw": 8.0}), r"unknown key model\.betas\.klw"),
    (lambda: ModelConfig(betas=8.0), r"model\.betas must be a mapping, got float"),
    (lambda: csvae.config.config_from_dict({"model": {"betas": "x"}}), r"model\.betas must be a mapping, got str"),
    (lambda: DataConfig(image_size=32.0), r"data\.image_size must be an integer"),
    (lambda: DataConfig(attributes="Eyeglasses"), r"data\.attributes must be a list of str"),
])
def test_configs_built_in_python_check_types_as_yaml_does(build, match):
    """A section built from keywords (the Python API) refuses what a YAML file would refuse."""
    with pytest.raises(ConfigError, match=match):
        build()


def test_configs_store_an_integer_given_for_a_float_as_a_float():
    assert isinstance(TrainConfig(lr=1).lr, float) and isinstance(ModelConfig(betas={"kl_w": 8}).betas.kl_w, float)


def test_build_model_rejects_unknown_name_listing_every_model():
    with pytest.raises(ConfigError, match="model.name must be one of") as refused:
        csvae.build_model("gan", x_dim=3)
    assert all(repr(name) in str(refused.value) for name in csvae.config.MODEL_NAMES)


@pytest.mark.parametrize("w_encoder", ["shared", "per_subspace"])
def test_csvae_encodes_its_subspaces_alone_as_in_the_whole_posterior(w_encoder):
    """finalize reads w through encode_subspaces, which skips the z encoder: same numbers."""
    model = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0, w_encoder=w_encoder).eval()
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16, 2)).float()
    whole, alone = model.encode(x, y).w, model.encode_subspaces(x, y)
    torch.testing.assert_close(alone.mean, whole.mean)
    torch.testing.assert_close(alone.logvar, whole.logvar)


@pytest.mark.parametrize("w_encoder", ["shared", "per_subspace"])
def test_csvae_prior_offset_posterior_is_the_head_plus_the_prior(w_encoder):
    """w_posterior: prior_offset adds p(w|y)'s mean and log-variance to the direct head's output,
    so a head that outputs zeros gives q(w|x,y) = p(w|y) (and kl_w 0) wherever the prior lies."""
    direct = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0, w_encoder=w_encoder, prior_mean_1=5.0).eval()
    offset = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0, w_encoder=w_encoder, prior_mean_1=5.0,
                               w_posterior="prior_offset").eval()
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16, 2)).float()
    prior = offset.prior(y)
    q_direct, q_offset = direct.encode_subspaces(x, y), offset.encode_subspaces(x, y)
    torch.testing.assert_close(q_offset.mean, q_direct.mean + prior.mean)
    torch.testing.assert_close(q_offset.logvar, q_direct.logvar + prior.logvar)
    with torch.no_grad():
        for head in offset.w_heads:
            for p in head.parameters():
                p.zero_()
    q = offset.encode_subspaces(x, y)
    torch.testing.assert_close(q.mean, prior.mean)
    torch.testing.assert_close(q.logvar, prior.logvar)
    assert offset.losses(x, y)["kl_w"].item() == pytest.approx(0.0, abs=1e-5)


def test_prior_offset_is_refused_for_a_model_without_subspaces():
    with pytest.raises(ConfigError, match="model.w_posterior is a CSVAE"):
        ModelConfig(name="condvae", w_posterior="prior_offset")


@pytest.mark.parametrize("name", [*NAMES, "ccvae"])
def test_losses_are_the_declared_weighted_sums_of_the_terms(name):
    """The one protocol: "model" (and "adversary") is the sum of each declared term times its weight."""
    model = tiny(name, y_dim=2, betas={"recon": 2.0, "kl_z": 3.0, "entropy": 5.0, "adversary": 7.0})
    x, y = batch(k=2)
    terms = model.losses(x, y)
    objective = model.objective()
    for which, weights in (("model", objective.model), ("adversary", objective.adversary)):
        if weights:
            expected = sum(weight * terms[term] for term, weight in weights.items())
            torch.testing.assert_close(terms[which], expected)
    assert model.adversarial == ("adversary" in terms) == (name in ADVERSARIAL)
    assert objective.model.get("recon") == (2.0 if name != "ccvae" else None)
    if name == "condvae_info":  # its encoder maximises the adversary's cross-entropy
        assert objective.model["encoder_ce"] == -5.0 and objective.adversary == {"adversary_ce": 7.0}


def test_weighted_sum_adds_in_the_declared_order():
    terms = {"a": torch.tensor(1.0), "b": torch.tensor(2.0)}
    assert float(weighted_sum(terms, {"a": 3.0, "b": -1.0})) == 1.0
    assert float(weighted_sum(terms, {"b": 0.5})) == 1.0


def test_elbo_with_a_density_leaves_the_training_terms_unchanged():
    """The density is an argument of the terms, not a state of the model."""
    model = tiny("csvae", likelihood="bernoulli")
    x, y = torch.rand(16, 3), batch()[1]
    torch.manual_seed(0)
    plain = model._terms(x, y, "sum")
    torch.manual_seed(0)
    density = model._terms(x, y, "sum", density=True)
    assert not torch.equal(plain["recon"], density["recon"])
    torch.manual_seed(0)
    model.elbo(x, y, density=True)
    torch.manual_seed(0)
    torch.testing.assert_close(model._terms(x, y, "sum")["recon"], plain["recon"], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["msp", "guided_vae"])
def test_peers_train_on_the_conv_backbone_in_bf16(name):
    """A tiny conv fit under bf16 autocast (the image presets' precision), then the edits and labels."""
    g = np.random.default_rng(0)
    y = (g.random((32, 2)) > 0.5).astype(np.float32)
    x = (g.random((32, 3, 32, 32)) * 255).astype(np.uint8)
    model = csvae.build_model(name, x_shape=(3, 32, 32), y_dim=2, seed=0, z_dim=4, conv_channels=[8, 16],
                              conv_dense=32, head_hidden=16, conv_kernel=3, adversary_hidden=[8])
    model = csvae.fit(model, x, y, epochs=2, batch_size=16, precision="bf16-mixed")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert model.predict_labels(x).shape == (32, 2)
    moved = model.manipulate(torch.from_numpy(x[:4]), torch.from_numpy(y[:4]), torch.from_numpy(1 - y[:4]))
    assert moved.shape == (4, 3, 32, 32) and torch.isfinite(moved).all()
