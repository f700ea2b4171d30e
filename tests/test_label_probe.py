"""CSVAE's label probe: labels of new images read from the W encoder's features."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import csvae
from csvae.apply.labels import infer_labels
from csvae.data.toy import make_toy
from csvae.models.label_probe import LabelProbe


def test_the_probe_of_a_swiss_roll_csvae_reads_y_and_labels_new_points():
    data = make_toy("swiss_roll", 3000, seed=0)
    x, y = data.part("train")
    model = csvae.fit(csvae.build_model("csvae", x_dim=3, seed=0), x, y, epochs=10)
    xt, yt = data.part("test")
    assert model.predicts_labels
    p = model.predict_labels(xt)
    assert p.shape == yt.shape and ((p >= 0) & (p <= 1)).all()
    assert ((p > 0.5) == yt).mean() > 0.95
    assert np.array_equal(infer_labels(model, xt), (p > 0.5).astype(np.float32))


def test_a_model_saved_before_the_probe_loads_unfitted_and_falls_back_to_the_elbo_rule():
    model = csvae.build_model("csvae", x_dim=3, seed=0)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("label_probe.")}
    fresh = csvae.build_model("csvae", x_dim=3, seed=1)
    fresh.load_state_dict(state)  # strict: no missing-key error
    assert not fresh.predicts_labels
    with pytest.raises(ValueError, match="no fitted label probe"):
        fresh.predict_labels(np.zeros((2, 3), np.float32))
    labels = infer_labels(fresh, np.zeros((4, 3), np.float32))
    assert labels.shape == (4, 1) and set(np.unique(labels)) <= {0.0, 1.0}


def test_categorical_rows_match_sklearn_for_two_classes_and_absent_ones():
    rng = np.random.default_rng(0)
    h = torch.from_numpy(rng.normal(size=(200, 4)))
    classes = (h[:, 0] > 0).long()
    for k in (2, 3):  # k = 3: the third class never appears
        probe = LabelProbe(4, k, "categorical")
        probe.fit(h, torch.eye(k)[classes], torch.ones(200))
        reference = LogisticRegression(max_iter=1000, random_state=0).fit(h.numpy(), classes.numpy())
        got = probe(h.float())
        np.testing.assert_allclose(got[:, :2].numpy(), reference.predict_proba(h.numpy()), atol=1e-4)
        assert float(got[:, 2:].sum()) < 1e-6 if k == 3 else True
