"""DCI, MIG and SAP on codes whose answer is known."""

import numpy as np
import pytest

from csvae.evaluate.disentanglement import dci, dci_scores, histogram_discretize, mig, sap

N = 600
DISCRETE = [True, True, False]


def factors(n, seed):
    """Two discrete factors (2 and 4 values) and a continuous one, independent."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 2, n), rng.integers(0, 4, n), rng.random(n)], 1).astype(np.float64)


@pytest.fixture(scope="module")
def data():
    return factors(N, 0), factors(N // 2, 1)


def scores(train_codes, test_codes, data):
    (f_train, f_test) = data
    out = dci(train_codes, f_train, test_codes, f_test, DISCRETE)
    out["mig"] = mig(train_codes, f_train, DISCRETE)
    out["sap"] = sap(train_codes, f_train, test_codes, f_test, DISCRETE)
    return out


def test_dci_scores_of_known_importance_matrices():
    assert dci_scores(np.eye(3)) == pytest.approx((1.0, 1.0))
    # every code uses every factor equally: neither disentangled nor complete
    assert dci_scores(np.ones((3, 3))) == pytest.approx((0.0, 0.0), abs=1e-6)
    # one code carries both factors: complete (each factor in one code) but not disentangled
    d, c = dci_scores(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert d == pytest.approx(0.0, abs=1e-6) and c == pytest.approx(1.0, abs=1e-6)


def test_one_factor_has_no_disentanglement_and_one_code_no_completeness():
    assert dci_scores(np.array([[0.7], [0.3]]))[0] is None
    assert dci_scores(np.array([[0.7, 0.3]]))[1] is None
    assert dci_scores(np.zeros((2, 0))) == (None, None)


def test_codes_equal_to_the_factors_score_perfectly(data):
    out = scores(data[0], data[1], data)
    assert out["disentanglement"] > 0.97 and out["completeness"] > 0.97
    assert out["informativeness"] == pytest.approx(1.0)
    assert out["informativeness_r2"] > 0.99
    assert out["mig"] > 0.95
    assert out["sap"] > 0.4  # the 4-valued factor is read at best 1/2 by a 1-D linear SVC (one-vs-rest)


def test_random_codes_score_near_zero(data):
    rng = np.random.default_rng(5)
    out = scores(rng.standard_normal((N, 3)), rng.standard_normal((N // 2, 3)), data)
    assert out["disentanglement"] < 0.2 and out["completeness"] < 0.2
    assert out["informativeness_r2"] < 0.05
    assert abs(out["mig"]) < 0.05 and abs(out["sap"]) < 0.05


def test_a_permuted_copy_keeps_dci_disentanglement(data):
    rng = np.random.default_rng(2)
    mix = data[0] + 0.3 * rng.standard_normal(data[0].shape)
    test = data[1] + 0.3 * rng.standard_normal(data[1].shape)
    order = [2, 0, 1]
    a = scores(mix, test, data)
    b = scores(mix[:, order], test[:, order], data)
    assert b["disentanglement"] == pytest.approx(a["disentanglement"], abs=0.02)
    assert b["completeness"] == pytest.approx(a["completeness"], abs=0.02)
    assert b["mig"] == pytest.approx(a["mig"], abs=1e-9)


def test_one_code_for_two_factors_is_complete_but_not_disentangled():
    rng = np.random.default_rng(3)
    f = np.stack([rng.integers(0, 2, N), rng.integers(0, 2, N)], 1).astype(np.float64)
    code = np.stack([f[:, 0] + 2 * f[:, 1], rng.standard_normal(N)], 1)  # code 0 encodes both
    out = dci(code, f, code, f, [True, True])
    assert out["informativeness"] == pytest.approx(1.0)
    assert out["completeness"] > 0.9 and out["disentanglement"] < 0.1


def test_undefined_factor_values_are_left_out():
    f, g = factors(N, 0), factors(N // 2, 1)
    f_nan, g_nan = f.copy(), g.copy()
    f_nan[::3, 2] = np.nan  # a style factor undefined on a third of the rows
    g_nan[::3, 2] = np.nan
    out = dci(f, f_nan, g, g_nan, DISCRETE)
    assert out["informativeness_r2"] > 0.99
    assert mig(f, f_nan, DISCRETE) > 0.95


def test_one_dimensional_codes_have_no_gap():
    f = factors(N, 0)
    assert mig(f[:, :1], f, DISCRETE) is None and sap(f[:, :1], f, f[:, :1], f, DISCRETE) is None


def test_histogram_discretize_matches_numpy_bins():
    values = np.array([[0.0], [0.49], [0.5], [1.0]])
    assert histogram_discretize(values, 2)[:, 0].tolist() == [1, 1, 2, 2]


def test_a_models_report_scores_each_part_against_labels_and_generating_factors():
    import csvae
    from csvae.data.toy import make_toy
    from csvae.evaluate.factor_scores import disentanglement_report

    data = make_toy("swiss_roll_k2", n_samples=400)
    model = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0)
    report = disentanglement_report(model, data, n_train=200, n_test=100)  # untrained: only the shape matters
    assert report["factors"] == ["label.height", "label.angle", "t", "height"]
    assert report["discrete"] == [True, True, False, False]
    assert set(report["parts"]) == {"z", "w.height", "w.angle", "w", "all"}
    assert report["n_train"] == 200 and report["n_test"] == 100
    whole = report["parts"]["all"]
    assert 0 <= whole["dci_disentanglement"] <= 1 and 0.4 <= whole["dci_informativeness"] <= 1
    assert np.asarray(whole["importance"]).shape == (6, 4)
