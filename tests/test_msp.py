"""MSP: the projection loss and the edit against direct computations with an orthonormal M and
known answers, unlabelled rows, the refusals, and a short fit on the swiss roll."""

import numpy as np
import pytest
import torch

import csvae
from csvae.config import ConfigError
from csvae.data.toy import make_toy
from csvae.models.msp import edit, label_fit, rest_label, rest_null_space

NAN = float("nan")


def tiny(y_dim=2, **options):
    return csvae.build_model("msp", x_dim=3, y_dim=y_dim, seed=0, hidden=[16], head_hidden=8, **options)


def orthonormal_rows(k, d, seed=0):
    """M (k, d) with orthonormal rows and N (d - k, d) completing it to an orthogonal U = [M; N]."""
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed)))
    return q.T[:k].contiguous(), q.T[k:].contiguous()


def captured_z(model):
    """The z that ``decode`` receives on each call (the sample in the loss, the code in an edit)."""
    seen, decode = [], model.decode
    model.decode = lambda z: seen.append(z.detach()) or decode(z)
    return seen


# ----- the projection loss ----------------------------------------------------------------------
def test_projection_loss_on_a_known_case():
    """M reads z's second coordinate: L1 = (2 - 1)^2; N z = (1, 3), ||N z||^2 = 10; the official
    L2 = ||(1, 2, 3) - (0, 1, 0)||^2 = 11."""
    M, z, t = torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0]])
    assert label_fit(z, M, t, "sum").item() == pytest.approx(1.0)
    assert rest_null_space(z, M, "sum").item() == pytest.approx(10.0)
    assert rest_label(z, M, t, "sum").item() == pytest.approx(11.0)
    assert rest_null_space(z, M, "mean").item() == pytest.approx(10.0 / 3)


def test_projection_loss_against_the_orthogonal_matrix_u():
    """With U = [M; N] orthogonal: L1 = ||M z - t||^2, the paper's L2 = ||N z||^2, and the official
    code's ||z - M^T t||^2 = L1 + ||N z||^2."""
    M, N = orthonormal_rows(2, 5)
    z, t = torch.randn(7, 5), torch.randn(7, 2)
    torch.testing.assert_close(label_fit(z, M, t, "sum"), ((z @ M.T - t) ** 2).sum(1))
    torch.testing.assert_close(rest_null_space(z, M, "sum"), ((z @ N.T) ** 2).sum(1))
    torch.testing.assert_close(rest_label(z, M, t, "sum"), label_fit(z, M, t, "sum") + rest_null_space(z, M, "sum"))


def test_null_space_term_needs_no_orthonormal_m():
    """||N z||^2 depends on M's row space only: a rescaled, mixed M gives the same value."""
    M, N = orthonormal_rows(2, 5, seed=1)
    z = torch.randn(6, 5)
    mixed = torch.tensor([[2.0, 1.0], [0.5, -3.0]]) @ M
    torch.testing.assert_close(rest_null_space(z, mixed, "sum"), ((z @ N.T) ** 2).sum(1))


def test_model_terms_are_the_projection_loss_of_the_sampled_z():
    """label_fit and rest are the functions above at the sampled z and the +-1 code of y; with
    unknown rows, label_fit covers the labelled rows and the paper's rest every row (the
    official rest, which reads y, the labelled rows)."""
    x = torch.randn(6, 3)
    y = torch.tensor([[1.0, 0.0], [NAN, NAN], [0.0, 1.0], [1.0, 1.0], [NAN, NAN], [0.0, 0.0]])
    known = [0, 2, 3, 5]
    t = 2 * y[known] - 1
    for rest in ("null_space", "label"):
        model = tiny(msp_rest=rest)
        seen = captured_z(model)
        terms = model._terms(x, y, "sum")
        z, M = seen[0], model.M.detach()
        torch.testing.assert_close(terms["label_fit"].detach(), ((z[known] @ M.T - t) ** 2).sum(1))
        direct = ((z - z @ M.T @ torch.linalg.pinv(M).T) ** 2).sum(1) if rest == "null_space" else (
            (z[known] - t @ M) ** 2).sum(1)
        torch.testing.assert_close(terms["rest"].detach(), direct)


def test_label_terms_take_the_balance_weights():
    model = tiny(y_dim=1)
    model.set_label_balance(torch.tensor([3.0, 0.5]))  # the weight of y = 0 and of y = 1
    x, y = torch.randn(4, 3), torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    seen = captured_z(model)
    terms = model._terms(x, y, "sum")
    z, M = seen[0], model.M.detach()
    balance = torch.tensor([0.5, 3.0, 0.5, 3.0])
    torch.testing.assert_close(terms["label_fit"].detach(), balance * label_fit(z, M, 2 * y - 1, "sum"))
    torch.testing.assert_close(terms["rest"].detach(), balance * rest_null_space(z, M, "sum"))


def test_projection_weight_defaults_to_the_official_ratio():
    """None: beta1 * D / (k + d) (x_dim 3, k 2, d 2 + 2), as the official numel(x) / (numel(y) + numel(z))."""
    assert tiny().projection_weight == pytest.approx(20.0 * 3 / (2 + 4))
    assert tiny(reduction="mean").projection_weight == pytest.approx(20.0)
    assert tiny(msp_weight=5.0).objective().model == {"recon": 20.0, "kl_z": 0.2, "label_fit": 5.0, "rest": 5.0}


# ----- the edit and the label read-out ---------------------------------------------------------
def test_edit_sets_the_label_code_of_the_changed_labels_and_keeps_the_rest():
    """Orthonormal M: z' = mu + M^T delta; M z' is +-1 on the changed label, unchanged on the
    other, and N z' = N mu."""
    model = tiny(y_dim=2)
    M, N = orthonormal_rows(2, model.z_dim)
    with torch.no_grad():
        model.M.copy_(M)
    x, y = torch.randn(8, 3), torch.tensor([[0.0, 1.0], [1.0, 0.0]]).repeat(4, 1)
    target = y.clone()
    target[:, 0] = 1 - target[:, 0]
    seen = captured_z(model)
    model.manipulate(x, y, target)
    mu, edited = model.encode(x).z.mean.detach(), seen[0]
    expected = mu + ((2 * target[:, :1] - 1) - mu @ M[:1].T) * M[:1]
    torch.testing.assert_close(edited, expected)
    torch.testing.assert_close(edited @ M[0], 2 * target[:, 0] - 1)
    torch.testing.assert_close(edited @ M[1], mu @ M[1])
    torch.testing.assert_close(edited @ N.T, mu @ N.T)


def test_edit_with_any_full_rank_m_moves_only_the_label_code():
    M = torch.randn(2, 5, generator=torch.Generator().manual_seed(3))
    z, delta = torch.randn(4, 5), torch.randn(4, 2)
    moved = edit(z, M, delta)
    torch.testing.assert_close(moved @ M.T, z @ M.T + delta)
    torch.testing.assert_close(rest_null_space(moved - z, M, "sum"), torch.zeros(4), atol=1e-5, rtol=0)


def test_predict_labels_reads_the_label_code():
    model = tiny(y_dim=2)
    x = torch.randn(5, 3)
    y_hat = model.label_part(model.encode(x).z.mean).detach()
    torch.testing.assert_close(model.predict_labels(x), (y_hat.clamp(-1, 1) + 1) / 2)
    categorical = tiny(y_dim=3, label_kind="categorical")
    p = categorical.predict_labels(x.numpy())
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)


def test_latents_are_the_posterior_mean_in_the_basis_u():
    """"w" is y_hat = M mu, "z" is s = N mu with [M; N] orthogonal when M's rows are orthonormal:
    together they keep mu's norm."""
    model = tiny(y_dim=2)
    M, _ = orthonormal_rows(2, model.z_dim, seed=2)
    with torch.no_grad():
        model.M.copy_(M)
    x = torch.randn(6, 3)
    latents = model.latents(x.numpy(), None)
    mu = model.encode(x).z.mean.detach()
    np.testing.assert_allclose(latents["w"], (mu @ M.T).numpy(), rtol=1e-5, atol=1e-6)
    assert latents["z"].shape == (6, model.z_dim - 2)
    norms = (latents["w"] ** 2).sum(1) + (latents["z"] ** 2).sum(1)
    np.testing.assert_allclose(norms, (mu ** 2).sum(1).numpy(), rtol=1e-5)


# ----- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, option", [("csvae", {"msp_rest": "label"}), ("vae", {"msp_weight": 1.0}),
                                          ("guided_vae", {"msp_weight": 2.0})])
def test_msp_settings_are_refused_by_other_models(name, option):
    field = next(iter(option))
    with pytest.raises(ConfigError, match=rf"model\.{field} is a setting of model\.name 'msp', not of '{name}'"):
        csvae.build_model(name, x_dim=3, y_dim=1, **option)


def test_bad_msp_settings_are_refused():
    with pytest.raises(ConfigError, match=r"model\.msp_weight must be non-negative"):
        tiny(msp_weight=-1.0)
    with pytest.raises(ConfigError, match=r"model\.msp_rest must be one of"):
        tiny(msp_rest="orthogonal")
    with pytest.raises(ValueError, match="msp needs z at least as large as the labels"):
        csvae.build_model("msp", x_dim=3, y_dim=3, z_dim=2, match_latent_size=False)


# ----- the swiss roll ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def roll_run(tmp_path_factory):
    data = make_toy("swiss_roll", n_samples=2000, seed=0)
    x, y = data.part("train")
    out = tmp_path_factory.mktemp("msp") / "run"
    model = csvae.build_model("msp", x_dim=3, y_dim=1, seed=0, hidden=[64, 64])
    return csvae.fit(model, x, y, epochs=12, batch_size=64, seed=0, out=out), data, out


def r_squared(x, x_hat):
    return 1.0 - ((x_hat - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()


@pytest.mark.slow
def test_swiss_roll_label_code_predicts_y_and_edits_flip_it(roll_run):
    model, data, _ = roll_run
    x, y = data.part("test")
    assert ((model.predict_labels(x) > 0.5) == (y > 0.5)).mean() >= 0.95
    assert r_squared(x, model.reconstruct(x, y)) >= 0.95
    moved = model.manipulate(x, y, 1 - y)
    assert ((model.predict_labels(moved) > 0.5) == (y < 0.5)).mean() >= 0.95


@pytest.mark.slow
def test_swiss_roll_without_the_projection_loss_m_reads_no_label(roll_run):
    """The contrast: the same model with w = 0 leaves M at its random start."""
    _, data, _ = roll_run
    x, y = data.part("train")
    model = csvae.build_model("msp", x_dim=3, y_dim=1, seed=0, hidden=[64, 64], msp_weight=0.0)
    model = csvae.fit(model, x, y, epochs=12, batch_size=64, seed=0)
    x_test, y_test = data.part("test")
    assert ((model.predict_labels(x_test) > 0.5) == (y_test > 0.5)).mean() < 0.8


@pytest.mark.slow
def test_swiss_roll_run_loads_back_identically(roll_run):
    model, data, out = roll_run
    loaded = csvae.load(out)
    x, y = data.part("test")
    torch.testing.assert_close(loaded.M, model.M)
    np.testing.assert_allclose(loaded.predict_labels(x), model.predict_labels(x), rtol=1e-6)
    np.testing.assert_allclose(loaded.manipulate(x, y, 1 - y), model.manipulate(x, y, 1 - y), rtol=1e-6)
