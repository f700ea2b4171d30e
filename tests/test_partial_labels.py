"""Partly labelled data for VAE, CondVAE, CondVAE-info and CSVAE: which terms see the rows whose
label is unknown (NaN), read from the gradients that reach those rows' x."""

import numpy as np
import pytest
import torch

import csvae
from csvae.config import DataConfig

MODELS = ("vae", "condvae", "condvae_info", "csvae")
UNKNOWN = [1, 3]


def batch():
    torch.manual_seed(0)
    x = torch.randn(6, 3, requires_grad=True)
    y = torch.tensor([[1.0, 0.0], [np.nan, np.nan], [0.0, 1.0], [np.nan, np.nan], [1.0, 1.0], [0.0, 0.0]])
    return x, y


def grad_on_unknown_rows(model, term: str, x, y) -> torch.Tensor:
    """|d term / d x| summed over the rows whose label is unknown."""
    terms = model.losses(x, y)
    (grad,) = torch.autograd.grad(terms[term], x, allow_unused=True)
    return torch.zeros(()) if grad is None else grad[UNKNOWN].abs().sum()


@pytest.mark.parametrize("name", MODELS)
def test_mixed_and_unlabelled_batches_give_finite_losses_and_gradients(name):
    model = csvae.build_model(name, x_dim=3, y_dim=2, seed=0)
    x, y = batch()
    for labels in (y, torch.full_like(y, np.nan)):
        terms = model.losses(x, labels)
        assert all(torch.isfinite(v) for v in terms.values()), terms
        terms["model"].backward()
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
        model.zero_grad()


@pytest.mark.parametrize("name, reaches", [("vae", True), ("condvae", False), ("condvae_info", False)])
def test_which_models_learn_from_the_unlabelled_rows(name, reaches):
    model = csvae.build_model(name, x_dim=3, y_dim=2, seed=0)
    x, y = batch()
    assert (grad_on_unknown_rows(model, "model", x, y) > 0) == reaches


def test_csvae_gives_unlabelled_rows_the_entropy_term_only():
    model = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0)
    x, y = batch()
    for term in ("recon", "kl_w", "kl_z", "adversary_ce"):
        assert grad_on_unknown_rows(model, term, x, y) == 0, term
    assert grad_on_unknown_rows(model, "m2", x, y) > 0
    for method in ("hsic", "club"):  # these need the label: labelled rows only
        other = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0, independence=method)
        assert grad_on_unknown_rows(other, method, x, y) == 0, method


def test_labelled_terms_average_over_the_labelled_rows():
    model = csvae.build_model("condvae", x_dim=3, y_dim=2, seed=0).eval()
    model.encode = lambda x, y, f=model.encode: f(x, y)._replace(z=f(x, y).z._replace(logvar=torch.full(
        (len(x), model.z_dim), -30.0)))  # a near-deterministic posterior: no sampling noise
    x, y = batch()
    known = [0, 2, 4, 5]
    mixed, alone = model.losses(x, y), model.losses(x[known], y[known])
    for term in ("recon", "kl_z", "model"):
        assert mixed[term].item() == pytest.approx(alone[term].item(), rel=1e-5), term


@pytest.mark.parametrize("name", MODELS)
def test_fit_with_a_labelled_fraction_trains_and_keeps_finite_class_statistics(name):
    from csvae.data.toy import make_toy

    data = make_toy("swiss_roll", n_samples=300)
    x, y = data.part("train")
    model = csvae.fit(csvae.build_model(name, x_dim=3, y_dim=1, seed=0, hidden=[8]), x, y, epochs=1,
                      data=DataConfig(labelled_fraction=0.05))
    assert all(torch.isfinite(b).all() for b in model.buffers())
    x_test, y_test = data.part("test")
    assert np.isfinite(model.reconstruct(x_test, y_test)).all()


@pytest.mark.parametrize("name", ["condvae", "csvae"])
def test_a_batch_with_one_labelled_row_never_reaches_batch_norm_alone(name):
    model = csvae.build_model(name, x_shape=(3, 32, 32), y_dim=1, seed=0, conv_channels=[4, 8], conv_dense=8,
                              z_dim=2)
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    y = torch.tensor([[1.0], [np.nan], [np.nan], [np.nan], [np.nan], [np.nan]])
    terms = model.losses(x, y)  # one labelled row: its terms get weight 0 instead of a batch of one
    assert terms["recon"] == 0 and torch.isfinite(terms["model"])
    terms["model"].backward()


def test_csvae_extensions_take_only_the_labelled_rows():
    """The swap cycle and the W-independence discriminator need labels: with unlabelled rows in the
    batch their terms stay finite, and the adversary's extra steps too."""
    model = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0, swap_cycle=1.0, w_independence=1.0)
    x = torch.randn(12, 3)
    y = torch.randint(0, 2, (12, 2)).float()
    y[::3] = float("nan")
    terms = model.losses(x, y)
    assert all(torch.isfinite(v).all() for v in terms.values())
    assert {"cycle", "tc", "discriminator_ce"} <= set(terms)
    assert torch.isfinite(model.adversary_loss(x, y))


@pytest.mark.parametrize("name", ["condvae", "condvae_info", "csvae"])
def test_unknown_labels_are_refused_where_a_trained_model_reads_them(name):
    """Outside training NaN labels are never read as 0: the models that encode or decode with y
    refuse them; VAE and CCVAE do not read y there and accept them."""
    model = csvae.build_model(name, x_dim=3, y_dim=2, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    y = np.array([[0, 1], [np.nan, np.nan], [1, 0], [1, 1]], dtype=np.float32)
    for call in (lambda: model.latents(x, y), lambda: model.reconstruct(x, y)):
        with pytest.raises(ValueError, match=r"y has unknown \(NaN or infinite\) labels \(rows \[1\]\)"):
            call()
    known = np.nan_to_num(y)
    with pytest.raises(ValueError, match="target_y has unknown"):
        model.manipulate(torch.from_numpy(x), torch.from_numpy(known), torch.from_numpy(y))
    for free in ("vae", "ccvae"):
        other = csvae.build_model(free, x_dim=3, y_dim=2, seed=0)
        assert np.isfinite(other.latents(x, y)["z"]).all() and np.isfinite(other.reconstruct(x, y)).all()
