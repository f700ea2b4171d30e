"""End to end on the swiss roll: w predicts the label, z does not (nonlinear probe)."""

import pytest

import csvae
from csvae.data.toy import make_toy
from csvae.evaluate.vector import evaluate_model


@pytest.mark.slow
def test_csvae_puts_the_label_in_w_and_not_in_z():
    data = make_toy("swiss_roll", 3000, seed=0)
    x, y = data.part("train")
    model = csvae.fit(csvae.build_model("csvae", x_dim=3, y_dim=1, seed=0), x, y, epochs=40, seed=0)
    metrics = evaluate_model(model, data)
    assert metrics["w_label_accuracy"] >= 0.97
    assert metrics["recon_r2"] >= 0.95
    # z must not carry the label as well as w does: a strong nonlinear probe stays far below w
    assert metrics["z_label_accuracy_nonlinear"] <= metrics["w_label_accuracy"] - 0.15
    assert metrics["z_label_accuracy_linear"] <= metrics["label_chance"] + 0.1


def test_vae_baseline_leaks_the_label_into_z():
    """The contrast that makes the test above meaningful: a VAE's z predicts the label."""
    data = make_toy("swiss_roll", 3000, seed=0)
    x, y = data.part("train")
    model = csvae.fit(csvae.build_model("vae", x_dim=3, y_dim=1, seed=0), x, y, epochs=10, seed=0)
    assert evaluate_model(model, data)["z_label_accuracy_nonlinear"] >= 0.9
