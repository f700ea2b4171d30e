"""CCVAE: the maths of its objective against torch.distributions and direct computations, its
interventions, label inference, and short fits (swiss roll, tiny conv)."""

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

import csvae
from csvae.config import ConfigError
from csvae.data.toy import make_toy
from csvae.models.ccvae_parts import (
    BlockClassifier,
    ConditionalPrior,
    expected_label_terms,
    label_log_prior,
    log_q_labels,
    log_q_labels_given_x,
    sample_labels,
    select_blocks,
)
from csvae.models.likelihoods import make_likelihood
from csvae.models.parts import Gaussian, kl_gaussians, log_normal

UNIT = {"recon": 1.0, "kl_w": 1.0, "kl_z": 1.0}


def tiny(y_dim=1, **options):
    options.setdefault("hidden", [16])
    options.setdefault("head_hidden", 8)
    options.setdefault("z_dim", 2)
    return csvae.build_model("ccvae", x_dim=3, y_dim=y_dim, seed=0, **options)


def trained_prior(k=2, m=1, seed=0):
    """A conditional prior moved away from its initial values."""
    prior = ConditionalPrior(k, m, 2.0)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(torch.randn(p.shape, generator=g))
    return prior


# ----- the conditional prior and the classifier ---------------------------------------------------
def test_conditional_prior_picks_each_labels_gaussian():
    prior = trained_prior(k=3, m=2)
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    p = prior(y)
    p0, p1 = prior.by_value()
    for row in range(2):
        for i in range(3):
            chosen = p1 if y[row, i] == 1 else p0
            torch.testing.assert_close(p.mean[row, 2 * i:2 * i + 2], chosen.mean[i])
            torch.testing.assert_close(p.logvar[row, 2 * i:2 * i + 2], chosen.logvar[i])
    scale_1 = torch.nn.functional.softplus(prior.raw_scale_1)
    torch.testing.assert_close(p1.logvar.exp().sqrt(), scale_1)


def test_conditional_prior_kl_and_log_prob_match_torch_distributions():
    prior = trained_prior(k=2, m=1)
    y = torch.tensor([[1.0, 0.0]])
    p = prior(y)
    q = Gaussian(torch.tensor([[0.3, -1.2]]), torch.tensor([[-0.5, 0.4]]))
    dq = D.Normal(q.mean, (0.5 * q.logvar).exp())
    dp = D.Normal(p.mean, (0.5 * p.logvar).exp())
    torch.testing.assert_close(kl_gaussians(q, p.mean, p.logvar), D.kl_divergence(dq, dp))
    z = torch.tensor([[0.7, 2.0]])
    torch.testing.assert_close(log_normal(z, p.mean, p.logvar), dp.log_prob(z))


def test_prior_rate_keeps_the_prior_and_multiplies_its_adam_step():
    """ccvae_prior_rate r stores each value divided by r: the same prior at the start, and one Adam
    step moves its means and scales r times as far."""
    moves = {}
    for rate in (1.0, 10.0):
        prior = ConditionalPrior(2, 1, 2.0, rate)
        p0, p1 = prior.by_value()
        torch.testing.assert_close(p1.mean, torch.full((2, 1), 2.0))
        torch.testing.assert_close(p0.mean, torch.full((2, 1), -2.0))
        torch.testing.assert_close(p1.logvar, torch.full((2, 1), 2 * math.log(math.log1p(math.e))))
        opt = torch.optim.Adam(prior.parameters(), lr=1e-3)
        p = prior(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        (-log_normal(torch.full((2, 2), 9.0), p.mean, p.logvar).sum()).backward()
        opt.step()
        q0, q1 = prior.by_value()
        moves[rate] = torch.cat([q1.mean - p1.mean, q0.mean - p0.mean, q1.logvar - p1.logvar,
                                 q0.logvar - p0.logvar]).detach()
    assert (moves[1.0].abs() > 1e-4).all()
    torch.testing.assert_close(moves[10.0][:4], 10 * moves[1.0][:4], rtol=1e-3, atol=1e-6)
    assert (moves[10.0][4:].abs() > 5 * moves[1.0][4:].abs()).all()


def test_block_classifier_reads_only_its_own_block():
    clf = BlockClassifier(3, 2)
    with torch.no_grad():
        clf.weight.copy_(torch.randn(3, 2))
        clf.bias.copy_(torch.randn(3))
    z = torch.randn(5, 6)
    expected = torch.stack([z[:, 2 * i:2 * i + 2] @ clf.weight[i] + clf.bias[i] for i in range(3)], 1)
    torch.testing.assert_close(clf(z), expected)
    z2 = z.clone()
    z2[:, 2:4] += 5.0  # block 1 moves: only logit 1 changes
    changed = (clf(z2) - clf(z)).abs() > 1e-6
    assert changed[:, 1].all() and not changed[:, [0, 2]].any()


def test_label_log_likelihoods_match_torch_distributions():
    logits = torch.randn(6, 3)
    y = torch.randint(0, 2, (6, 3)).float()
    torch.testing.assert_close(log_q_labels(logits, y, "binary"), D.Bernoulli(logits=logits).log_prob(y).sum(-1))
    classes = torch.randint(0, 3, (6,))
    onehot = torch.eye(3)[classes]
    torch.testing.assert_close(log_q_labels(logits, onehot, "categorical"),
                               D.Categorical(logits=logits).log_prob(classes))
    probs = torch.tensor([0.2, 0.7, 0.5])
    torch.testing.assert_close(label_log_prior(y, probs, "binary"), D.Bernoulli(probs=probs).log_prob(y).sum(-1))
    probs_c = torch.tensor([0.2, 0.3, 0.5])
    torch.testing.assert_close(label_log_prior(onehot, probs_c, "categorical"),
                               D.Categorical(probs=probs_c).log_prob(classes))


def test_laplace_likelihood_matches_torch_distributions():
    x, mean = torch.rand(4, 5), torch.rand(4, 5)
    expected = -D.Laplace(mean, 0.3).log_prob(x)
    torch.testing.assert_close(make_likelihood("laplace", laplace_scale=0.3).nll(x, mean), expected)


# ----- log q(y|x) ---------------------------------------------------------------------------------
def test_log_q_y_given_x_is_the_k_sample_logsumexp():
    clf = BlockClassifier(2, 1)
    q = Gaussian(torch.randn(4, 2), torch.randn(4, 2) * 0.3)
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    torch.manual_seed(3)
    got = log_q_labels_given_x(clf, q, y, "binary", k=7)
    torch.manual_seed(3)
    z = q.mean + (0.5 * q.logvar).exp() * torch.randn(7, 4, 2)
    probs = torch.stack([D.Bernoulli(logits=clf(z[j])).log_prob(y).sum(-1).exp() for j in range(7)])
    torch.testing.assert_close(got, probs.mean(0).log())


def test_log_q_y_given_x_is_accurate_and_tends_to_log_q_y_given_mean():
    """Against 1-D quadrature of E_q[q(y|z_c)]; and as the posterior's variance shrinks it becomes
    log q(y | z_c = mean)."""
    clf = BlockClassifier(1, 1)
    mean, y = torch.tensor([[0.4]]), torch.tensor([[1.0]])
    grid = torch.linspace(-12, 12, 20001)
    q = Gaussian(mean, torch.tensor([[math.log(1.5 ** 2)]]))
    density = D.Normal(0.4, 1.5).log_prob(grid).exp()
    exact = torch.trapezoid(density * torch.sigmoid(clf(grid[:, None])[:, 0]), grid).log()
    torch.manual_seed(0)
    estimate = log_q_labels_given_x(clf, q, y, "binary", k=20000)
    assert abs(float(estimate.detach()) - float(exact.detach())) < 0.01
    at_mean = log_q_labels(clf(mean), y, "binary")
    gaps = []
    for logvar in (0.0, -4.0, -8.0, -12.0):
        q = Gaussian(mean, torch.tensor([[logvar]]))
        gaps.append(abs(float(log_q_labels_given_x(clf, q, y, "binary", k=100) - at_mean)))
    assert gaps[-1] < 1e-3 and gaps[-1] < gaps[0]


# ----- the objectives -----------------------------------------------------------------------------
def direct_supervised_objective(model, x, y, n=200_000):
    """The paper's L(x, y) for one example by Monte Carlo with torch.distributions, log q(y|x) by
    quadrature (a model with one label, w_dim 1 and z_dim 1)."""
    with torch.no_grad():
        post = model.encode(x[None])
        qz = D.Normal(post.z.mean[0], (0.5 * post.z.logvar[0]).exp())
        qc = D.Normal(post.w.mean[0], (0.5 * post.w.logvar[0]).exp())
        grid = torch.linspace(-15, 15, 30001)
        qy_given_c = lambda c: D.Bernoulli(logits=model.classifier(c[:, None])).log_prob(y).sum(-1)  # noqa: E731
        log_qyx = torch.trapezoid(qc.log_prob(grid[:, None]).exp()[:, 0] * qy_given_c(grid).exp(), grid).log()
        z, c = qz.sample((n,)), qc.sample((n,))
        prior = model.prior(y[None].expand(n, -1))
        log_px = -model.recon_nll(model.to_model(x[None]).expand(n, -1), model.decode(z, c), "sum")
        p_c = D.Normal(prior.mean, (0.5 * prior.logvar).exp())
        log_pz = D.Normal(0.0, 1.0).log_prob(z).sum(-1) + p_c.log_prob(c).sum(-1)
        log_q = qz.log_prob(z).sum(-1) + qc.log_prob(c).sum(-1)
        log_qyc = qy_given_c(c[:, 0])
        weight = (log_qyc - log_qyx).exp()
        log_py = D.Bernoulli(probs=model.label_prior).log_prob(y).sum()
        values = weight * (log_px + log_pz - log_q - log_qyc)
        return float(values.mean() + log_qyx + log_py), float(values.std() / math.sqrt(n))


def test_supervised_objective_matches_a_direct_monte_carlo_computation():
    model = tiny(z_dim=1, betas=UNIT, ccvae_k=256)
    with torch.no_grad():
        model.label_prior.fill_(0.3)
    x, y = torch.tensor([0.5, -1.0, 0.2]), torch.tensor([1.0])
    expected, stderr = direct_supervised_objective(model, x, y)
    torch.manual_seed(0)
    n = 20_000
    with torch.no_grad():
        got = -float(model.losses(x[None].expand(n, -1), y[None].expand(n, -1))["model"])
    assert abs(got - expected) < 4 * stderr + 0.01 * abs(expected), (got, expected, stderr)


def test_supervised_weight_is_q_y_given_zc_over_q_y_given_x():
    """weight_mean averages q(y|z_c)/q(y|x) over rows, so its expectation is 1 (up to the K-sample
    estimate of q(y|x)); the weight varies with the sampled z_c."""
    model = tiny(y_dim=2)
    torch.manual_seed(0)
    x = torch.randn(1, 3).expand(20_000, -1)
    y = torch.tensor([[1.0, 0.0]]).expand(20_000, -1)
    with torch.no_grad():
        terms = model.losses(x, y)
    assert abs(float(terms["weight_mean"]) - 1.0) < 0.02
    assert float(terms["weight_max"]) > 1.1


@pytest.mark.parametrize("kind", ["binary", "categorical"])
def test_enumerated_label_expectation_matches_brute_force_and_sampling(kind):
    g = torch.Generator().manual_seed(1)
    k = 3
    logits, r0, r1 = (torch.randn(4, k, generator=g) for _ in range(3))
    probs = torch.tensor([0.2, 0.3, 0.5]) if kind == "categorical" else torch.tensor([0.2, 0.6, 0.9])
    got = expected_label_terms(logits, r0, r1, probs, kind, ratio_weight=0.7)
    if kind == "binary":
        values = [torch.tensor(v, dtype=torch.float32) for v in np.ndindex(2, 2, 2)]
    else:
        values = list(torch.eye(k))
    brute = torch.zeros(4)
    for y in values:
        y = y.expand(4, k)
        log_q = log_q_labels(logits, y, kind)
        brute += log_q.exp() * (0.7 * select_blocks(r0, r1, y) + label_log_prior(y, probs, kind) - log_q)
    torch.testing.assert_close(got, brute)
    torch.manual_seed(0)
    n = 40_000
    y = sample_labels(logits.repeat(n, 1), kind)
    log_q = log_q_labels(logits.repeat(n, 1), y, kind)
    sampled = 0.7 * select_blocks(r0.repeat(n, 1), r1.repeat(n, 1), y) + label_log_prior(y, probs, kind) - log_q
    torch.testing.assert_close(sampled.view(n, 4).mean(0), got, atol=0.05, rtol=0.0)


@pytest.mark.parametrize("options", [{}, {"ccvae_kl": "analytic"}, {"ccvae_unlabelled": "sample"},
                                     {"ccvae_unlabelled": "score", "ccvae_detach": "classifier"},
                                     {"w_dim": 2}, {"label_kind": "categorical"}])
@pytest.mark.parametrize("labelled", ["all", "none", "mixed"])
def test_losses_and_gradients_are_finite_and_reach_prior_and_classifier(options, labelled):
    kind = options.get("label_kind", "binary")
    model = tiny(y_dim=3, **options)
    x = torch.randn(12, 3)
    y = torch.eye(3)[torch.arange(12) % 3] if kind == "categorical" else torch.randint(0, 2, (12, 3)).float()
    if labelled == "none":
        y[:] = float("nan")
    elif labelled == "mixed":
        y[::2] = float("nan")
    terms = model.losses(x, y)
    assert all(torch.isfinite(v) for v in terms.values())
    terms["model"].backward()
    for name, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    for part in (model.prior, model.classifier):
        reached = [p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()]
        if labelled == "none" and options.get("ccvae_unlabelled") in ("sample", "score"):
            assert any(reached)  # a sampled y reaches one of the two values of each label
        else:
            assert all(reached)
    assert float(terms["labelled"]) == {"all": 1.0, "none": 0.0, "mixed": 0.5}[labelled]


def test_unlabelled_rows_use_the_unsupervised_objective():
    """A NaN row's objective ignores whatever label it might have had, and depends on p(y)."""
    model = tiny(y_dim=2, betas=UNIT)
    x = torch.randn(4, 3)
    nan = torch.full((4, 2), float("nan"))
    torch.manual_seed(0)
    first = model.losses(x, nan)["model"]
    with torch.no_grad():
        model.label_prior.fill_(0.9)
    torch.manual_seed(0)
    assert not torch.isclose(model.losses(x, nan)["model"], first)


# ----- interventions ------------------------------------------------------------------------------
def test_manipulate_sets_changed_blocks_to_the_prior_and_keeps_the_rest():
    model = tiny(y_dim=2, w_dim=2)
    model.prior.load_state_dict(trained_prior(k=2, m=2).state_dict())
    model.eval()
    x = torch.randn(5, 3)
    y = torch.tensor([[0.0, 1.0]]).expand(5, -1)
    target = torch.tensor([[1.0, 1.0]]).expand(5, -1)
    with torch.no_grad():
        post = model.encode(x)
        w = post.w.mean.clone()
        w[:, :2] = model.prior.by_value()[1].mean[0]
        expected = model.to_data(model.decode(post.z.mean, w))
    torch.testing.assert_close(model.manipulate(x, y, target, style="prior_mean"), expected)
    g1, g2 = (torch.Generator().manual_seed(4) for _ in range(2))
    torch.testing.assert_close(model.manipulate(x, y, target, generator=g1),
                               model.manipulate(x, y, target, generator=g2))


def test_transfer_swaps_characteristic_blocks_between_two_images():
    model = tiny(y_dim=2)
    model.eval()
    xa, xb = torch.randn(1, 3), torch.randn(1, 3)
    y = torch.zeros(1, 2)
    with torch.no_grad():
        a, b = model.encode(xa), model.encode(xb)
        a_with_b = model.to_data(model.decode(a.z.mean, torch.cat([b.w.mean[:, :1], a.w.mean[:, 1:]], 1)))
        b_with_a = model.to_data(model.decode(b.z.mean, torch.cat([a.w.mean[:, :1], b.w.mean[:, 1:]], 1)))
    torch.testing.assert_close(model.transfer(xa, y, xb, y, [0]), a_with_b)
    torch.testing.assert_close(model.transfer(xb, y, xa, y, [0]), b_with_a)


def test_walk_limits_use_each_labels_own_prior():
    """The paper's range, per label (the official 1-D walks read the last label's range)."""
    model = tiny(y_dim=2)
    model.prior.load_state_dict(trained_prior(k=2, m=1).state_dict())
    p0, p1 = model.prior.by_value()
    for i in range(2):
        s = torch.sign(p1.mean[i] - p0.mean[i])
        low, high = model.walk_limits(i, mult=5.0)
        torch.testing.assert_close(low, (p0.mean[i] - 5 * s * (0.5 * p0.logvar[i]).exp()).detach())
        torch.testing.assert_close(high, (p1.mean[i] + 5 * s * (0.5 * p1.logvar[i]).exp()).detach())
    assert not torch.allclose(model.walk_limits(0)[0], model.walk_limits(1)[0])
    walk = model.latent_walk(torch.randn(2, 3), attribute=1, steps=4)
    assert walk.shape == (2, 4, 3) and not torch.allclose(walk[:, 0], walk[:, -1])


def test_conditional_generation_and_predict_labels_shapes():
    model = tiny(y_dim=3, label_kind="categorical")
    y = torch.eye(3)
    out = model.sample_conditional(y, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 3) and torch.isfinite(out).all()
    probs = model.predict_labels(np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32))
    assert isinstance(probs, np.ndarray) and probs.shape == (7, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


# ----- config -------------------------------------------------------------------------------------
def test_config_defaults_and_errors_name_the_field():
    assert tiny().config.w_dim == 1 and csvae.build_model("csvae", x_dim=3).config.w_dim == 2
    assert tiny().latents(np.zeros((2, 3), np.float32), np.zeros((2, 1), np.float32))["w"].shape == (2, 1)
    for options, field in [({"ccvae_k": 0}, "model.ccvae_k"),
                           ({"ccvae_unlabelled": "gumbel"}, "model.ccvae_unlabelled"),
                           ({"reduction": "mean"}, "model.reduction"), ({"ccvae_kl": "exact"}, "model.ccvae_kl"),
                           ({"ccvae_detach": "all"}, "model.ccvae_detach"),
                           ({"ccvae_prior_rate": 0.0}, "model.ccvae_prior_rate")]:
        with pytest.raises(ConfigError, match=field):
            tiny(**options)
    with pytest.raises(ConfigError, match="model.ccvae_k is a setting of model.name 'ccvae'"):
        csvae.build_model("csvae", x_dim=3, ccvae_k=10)
    with pytest.raises(ConfigError, match="model.ccvae_prior_rate is a setting of model.name 'ccvae'"):
        csvae.build_model("csvae", x_dim=3, ccvae_prior_rate=10.0)


@pytest.mark.parametrize("folder", ["toy", "synthetic_faces", "celeba", "tfd"])
def test_every_ccvae_preset_keeps_log_p_x_given_z_at_most_zero(folder):
    """The weight q(y|z_c)/q(y|x) multiplies log p(x|z), which must stay <= 0 (docs/models.md): even
    at x_hat = x, where it is largest, each preset's likelihood has density <= 1 per dimension
    (Laplace: scale >= 0.5)."""
    from csvae.config import load_config
    from csvae.reproduce import preset_path

    model = load_config(preset_path(folder, "ccvae")).model
    likelihood = make_likelihood(model.likelihood, model.gaussian_std, model.calibration, model.laplace_scale)
    x = torch.rand(4, 6)
    assert (likelihood.nll(x, x) >= 0).all()


# ----- fits ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def roll_run(tmp_path_factory):
    data = make_toy("swiss_roll", n_samples=2000, seed=0)
    model = csvae.build_model("ccvae", x_dim=3, y_dim=1, seed=0, z_dim=3, hidden=[64, 64], head_hidden=64)
    out = tmp_path_factory.mktemp("ccvae") / "run"
    x, y = data.part("train")
    return csvae.fit(model, x, y, epochs=12, batch_size=64, seed=0, out=out), data, out


def test_swiss_roll_fit_predicts_labels_and_manipulates(roll_run):
    model, data, _ = roll_run
    x, y = data.part("test")
    accuracy = ((model.predict_labels(x) > 0.5) == (y > 0.5)).mean()
    assert accuracy > 0.95
    assert np.isfinite(model.latents(x, y)["z"]).all()
    target = 1.0 - y
    for style in ("prior_mean", "sample"):
        moved = model.manipulate(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(target), style=style)
        assert ((model.predict_labels(moved) > 0.5).numpy() == (target > 0.5)).mean() > 0.9


def test_swiss_roll_run_loads_back_identically(roll_run):
    model, data, out = roll_run
    loaded = csvae.load(out)
    x, y = data.part("test")
    np.testing.assert_allclose(loaded.predict_labels(x), model.predict_labels(x), rtol=1e-6)
    torch.testing.assert_close(loaded.label_prior, model.label_prior)
    assert abs(float(model.label_prior) - float(data.part("train")[1].mean())) < 1e-6


def test_tiny_conv_fit_runs():
    g = np.random.default_rng(0)
    y = (g.random((32, 2)) > 0.5).astype(np.float32)
    x = (g.random((32, 3, 32, 32)) * 255).astype(np.uint8)
    x[:, 0] = (y[:, :1, None] * 200).astype(np.uint8)  # label 0 is the red channel
    model = csvae.build_model("ccvae", x_shape=(3, 32, 32), y_dim=2, seed=0, z_dim=4, conv_channels=[8, 16],
                              conv_dense=32, head_hidden=16, conv_kernel=3, likelihood="laplace")
    model = csvae.fit(model, x, y, epochs=2, batch_size=16)
    assert model.predict_labels(x).shape == (32, 2)
    moved = model.manipulate(torch.from_numpy(x[:4]), torch.from_numpy(y[:4]), torch.from_numpy(1 - y[:4]))
    assert moved.shape == (4, 3, 32, 32) and torch.isfinite(moved).all()


@pytest.mark.slow
def test_cli_fits_and_evaluates_the_toy_preset(tmp_path, monkeypatch, request):
    """`csvae fit` with model.name ccvae, then `csvae evaluate`: w_label_accuracy reads z_c."""
    import json

    from csvae.cli import main

    monkeypatch.chdir(request.config.rootpath)
    run = tmp_path / "run"
    assert main(["fit", "--config", "configs/toy/ccvae.yaml", "--data.n_samples", "600", "--train.epochs", "2",
                 "--model.hidden", "[16]", "--out", str(run)]) == 0
    assert csvae.load(run).config.w_dim == 1
    assert main(["evaluate", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["w_label_accuracy"] <= 1.0 and np.isfinite(metrics["elbo"])


# ----- partly labelled data -----------------------------------------------------------------------
def test_unknown_labels_are_checked_and_refused_where_they_cannot_be_used():
    from csvae.config import DataConfig
    from csvae.data.checks import DataError, check_xy

    x = np.zeros((4, 3), np.float32)
    y = np.array([[1.0], [np.nan], [0.0], [np.nan]], np.float32)
    _, kept = check_xy(x, y, allow_unknown=True)
    assert np.isnan(kept[[1, 3]]).all() and (kept[[0, 2]] == [[1.0], [0.0]]).all()
    with pytest.raises(DataError, match="row 1.*model.name 'csvae' cannot use them"):
        check_xy(x, y, who="model.name 'csvae'")
    with pytest.raises(DataError, match="nothing to learn"):
        check_xy(x, np.full((4, 1), np.nan), allow_unknown=True)
    with pytest.raises(DataError, match="row 0 is partly unknown"):
        check_xy(x, np.array([[1.0, np.nan]] * 4), allow_unknown=True)
    onehot = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    onehot[1] = np.nan
    assert np.isnan(check_xy(x, onehot, "categorical", allow_unknown=True)[1][1]).all()
    from csvae.models.vae import VAE

    class LabelledOnly(VAE):  # a model path that cannot use unknown labels (every model here can)
        learns_from_unlabelled = False

    model = LabelledOnly(csvae.build_model("vae", x_dim=3).config, (3,), 1)
    with pytest.raises(DataError, match="cannot use them"):
        csvae.fit(model, x, y, epochs=1)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="data.labelled_fraction"):
            DataConfig(labelled_fraction=bad)
    with pytest.raises(ConfigError, match="data.labelled_fraction is 0.5 but model.name 'vae' cannot learn"):
        csvae.fit(model, x, np.array([[0.0], [1.0]] * 2), epochs=1, data=DataConfig(labelled_fraction=0.5))


def test_hide_labels_keeps_a_seeded_share():
    from csvae.api import hide_labels

    y = np.ones((100, 2), np.float32)
    a, b = hide_labels(y, 0.2, seed=3), hide_labels(y, 0.2, seed=3)
    assert np.isfinite(a).all(1).sum() == 20 and np.array_equal(np.isnan(a), np.isnan(b))
    assert not np.array_equal(np.isnan(a), np.isnan(hide_labels(y, 0.2, seed=4)))
    assert np.isfinite(y).all()  # the input is not changed


def test_swiss_roll_with_five_percent_of_labels(tmp_path):
    from csvae.config import DataConfig

    data = make_toy("swiss_roll", n_samples=2000, seed=0)
    x, y = data.part("train")
    model = csvae.build_model("ccvae", x_dim=3, y_dim=1, seed=0, z_dim=3, hidden=[64, 64], head_hidden=64)
    model = csvae.fit(model, x, y, epochs=8, batch_size=64, data=DataConfig(labelled_fraction=0.05))
    xt, yt = data.part("test")
    assert ((model.predict_labels(xt) > 0.5) == (yt > 0.5)).mean() > 0.8
