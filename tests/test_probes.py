"""Probes on codes whose answer is known, on a balanced and an imbalanced test split."""

import numpy as np
import pytest

from csvae.evaluate.probes import chance_rate, probe_scores


def codes(n, informative, positive_rate, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(int)
    x = rng.standard_normal((n, 4))
    if informative:
        x[:, 0] += 4.0 * y
    return x, y


@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
def test_balanced_accuracy_is_chance_for_random_codes_on_an_imbalanced_split(kind):
    x_train, y_train = codes(2000, False, 0.5, 0)
    x_test, y_test = codes(2000, False, 0.1, 1)
    accuracy, balanced = probe_scores(kind, x_train, y_train, x_test, y_test)
    assert balanced == pytest.approx(0.5, abs=0.05)
    assert chance_rate(y_test) > 0.85  # the plain accuracy's chance is the majority rate, not 0.5
    assert accuracy < chance_rate(y_test)  # a probe fitted on balanced data falls below it


@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
def test_informative_codes_score_near_one(kind):
    x_train, y_train = codes(2000, True, 0.5, 0)
    x_test, y_test = codes(2000, True, 0.1, 1)
    accuracy, balanced = probe_scores(kind, x_train, y_train, x_test, y_test)
    assert balanced > 0.95 and accuracy > 0.95
