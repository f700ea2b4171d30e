"""data.balance: the weights of the label terms, the class-balanced sampler, discard, and refusals."""

import numpy as np
import pytest
import torch

import csvae
from csvae.config import ConfigError, DataConfig
from csvae.configfile import load_config
from csvae.data.balance import combinations, discard_rows, example_weights, weight_table
from csvae.data.checks import DataError
from csvae.loader import epoch_order
from csvae.models.parts import label_cross_entropy


def rare_labels(n_rare=100, ratio=10, seed=0):
    """y (N, 1) with one class ``ratio`` times rarer than the other, shuffled."""
    y = np.r_[np.ones(n_rare), np.zeros(n_rare * ratio)].astype(np.float32)[:, None]
    return y[np.random.default_rng(seed).permutation(len(y))]


def test_weights_follow_the_combinations_and_average_one():
    y = torch.tensor([[0, 0], [0, 0], [0, 0], [1, 0], [0, 1], [1, 1], [float("nan")] * 2])
    assert combinations(y, "binary").tolist() == [0, 0, 0, 1, 2, 3, -1]
    table = weight_table(y, "binary")
    # 6 known rows, 4 combinations present: N / (C n_c)
    torch.testing.assert_close(table, torch.tensor([6 / (4 * 3), 6 / 4, 6 / 4, 6 / 4]))
    weights = example_weights(y, table, "binary")
    assert weights[-1] == 1.0 and weights[:6].mean() == pytest.approx(1.0)
    onehot = torch.eye(3)[[0, 0, 1, 2]]
    torch.testing.assert_close(weight_table(onehot, "categorical"), torch.tensor([4 / 6, 4 / 3, 4 / 3]))
    assert (example_weights(y, None, "binary") == 1).all()


def test_weighted_label_loss_equals_the_balanced_subset_loss_in_expectation():
    """Known answer: one class 10x rarer. The weighted mean of a label term over every row equals
    the mean over a balanced subset (each class half), up to sampling error."""
    y = torch.from_numpy(rare_labels(n_rare=2000))
    g = torch.Generator().manual_seed(0)
    logits = torch.where(y > 0.5, 1.0, -0.5) + 0.3 * torch.randn(y.shape, generator=g)  # a fixed predictor
    loss = label_cross_entropy(logits, y, "binary")
    weighted = (example_weights(y, weight_table(y, "binary"), "binary") * loss).mean()
    balanced = 0.5 * loss[y[:, 0] == 1].mean() + 0.5 * loss[y[:, 0] == 0].mean()
    assert float(weighted) == pytest.approx(float(balanced), rel=1e-5)  # exact over the whole set
    subset = discard_rows(y.numpy(), seed=0)
    assert float(loss[subset].mean()) == pytest.approx(float(balanced), rel=0.05)  # one draw of discard
    natural = (10 * loss[y[:, 0] == 0].mean() + loss[y[:, 0] == 1].mean()) / 11  # unweighted: the majority dominates
    assert float(loss.mean()) == pytest.approx(float(natural), rel=1e-5)
    assert abs(float(loss.mean()) - float(balanced)) > 0.05


def test_sampler_draws_each_class_about_equally():
    y = torch.from_numpy(rare_labels(n_rare=300))
    draw = example_weights(y, weight_table(y, "binary"), "binary")
    order = torch.cat([epoch_order(len(y), epoch, seed=0, draw=draw) for epoch in range(5)])
    assert len(order) == 5 * len(y)
    share = float(y[order].mean())
    assert 0.47 < share < 0.53  # natural frequency: 1/11
    assert not torch.equal(epoch_order(len(y), 0, 0, draw), epoch_order(len(y), 1, 0, draw))
    torch.testing.assert_close(epoch_order(len(y), 2, 0, draw), epoch_order(len(y), 2, 0, draw))  # resumable


def test_discard_keeps_the_smallest_combination_and_unknown_rows():
    y = rare_labels(n_rare=20, ratio=5)
    y[:3] = np.nan
    keep = discard_rows(y, seed=1)
    kept = y[keep]
    known = kept[np.isfinite(kept[:, 0])]
    assert (known == 1).sum() == (known == 0).sum() == (y == 1).sum()
    assert np.isnan(kept).sum() == 3
    assert np.array_equal(keep, discard_rows(y, seed=1))


def test_one_class_attributes_are_refused_before_they_are_balanced():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    for balance in ("weight", "sample", "discard", "none"):
        with pytest.raises(DataError, match="y, column 0: every known row has the value 0"):
            csvae.fit(csvae.build_model("csvae", x_dim=3), x, np.zeros(20), epochs=1, balance=balance)


def test_a_balance_that_is_not_a_choice_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"data.balance must be one of \['weight', 'sample', 'discard', 'none'\]"):
        DataConfig(balance="equal")
    path = tmp_path / "c.yaml"
    path.write_text("data: {balance: oversample}\n")
    with pytest.raises(ConfigError, match="data.balance must be one of"):
        load_config(path)
    x = np.zeros((8, 3), np.float32)
    with pytest.raises(ConfigError, match="data.balance must be one of"):
        csvae.fit(csvae.build_model("vae", x_dim=3), x, np.r_[np.ones(4), np.zeros(4)], balance="yes", epochs=1)


def test_configs_written_when_balance_was_a_boolean_keep_their_meaning():
    assert DataConfig(name="celeba-glasses", balance=None).balance == "discard"
    assert DataConfig(name="celeba", balance=None).balance == "none"
    assert DataConfig(balance=True).balance == "discard" and DataConfig(balance=False).balance == "none"


def test_weights_reach_the_label_terms_of_every_model():
    """With a table that weighs one combination 0, the adversary's and classifier's terms change
    and the reconstruction does not (same random draws)."""
    x = torch.randn(16, 3)
    y = torch.tensor([[1.0], [0.0]] * 8)
    label_terms = {"csvae": ("kl_w", "adversary_ce", "m2"), "condvae_info": ("adversary_ce", "encoder_ce"),
                   "ccvae": ("model",)}
    for name, keys in label_terms.items():
        model = csvae.build_model(name, x_dim=3, seed=0)
        torch.manual_seed(1)
        plain = model.losses(x, y)
        model.set_label_balance(torch.tensor([2.0, 0.0]))  # only y = 0 rows count, twice
        torch.manual_seed(1)
        weighted = model.losses(x, y)
        for key in keys:
            assert not torch.allclose(plain[key], weighted[key]), (name, key)
        torch.testing.assert_close(plain["recon"], weighted["recon"])


def test_vae_class_means_are_weighted():
    from csvae.models.labels import class_means

    codes = torch.tensor([[0.0], [2.0], [10.0], [10.0]])
    y = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    mean_1, _ = class_means(codes, y, torch.tensor([1.0, 1.0, 3.0, 1.0]))
    assert mean_1[0, 0] == pytest.approx(10.0) and mean_1[1, 0] == pytest.approx((2.0 + 10.0) / 2)
    mean_1, _ = class_means(codes, y[:, 1:], torch.tensor([1.0, 3.0, 1.0, 1.0]))
    assert mean_1[0, 0] == pytest.approx((3 * 2.0 + 10.0) / 4)


@pytest.mark.slow
@pytest.mark.parametrize("balance", ["weight", "sample"])
def test_on_a_rare_label_balance_makes_w_predict_it(balance):
    """The swiss roll with y = 1 ten times rarer: CSVAE's W predicts y far above the majority rate
    with weights or the sampler, as with the balanced roll."""
    from csvae.data.toy import make_toy

    data = make_toy("swiss_roll", 6000, seed=0)
    x, y = data.part("train")
    rows = np.r_[np.flatnonzero(y[:, 0] == 0), np.flatnonzero(y[:, 0] == 1)[: int((y == 0).sum() / 10)]]
    x, y = x[rows], y[rows]
    model = csvae.fit(csvae.build_model("csvae", x_dim=3, seed=0), x, y, epochs=25, balance=balance)
    xt, yt = data.part("test")
    from csvae.apply.labels import infer_labels

    predicted = infer_labels(model, xt)
    recalls = [float((predicted[yt[:, 0] == c, 0] == c).mean()) for c in (0, 1)]
    assert min(recalls) > 0.9, recalls


def test_more_attributes_than_balance_can_group_are_refused_before_the_folder(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype(np.float32), (rng.random((40, 9)) > 0.5).astype(np.float32)
    for balance in ("weight", "sample", "discard"):
        with pytest.raises(DataError, match="at most 8 binary attributes, got 9; set data.balance: none"):
            csvae.fit(csvae.build_model("vae", x_dim=3, y_dim=9), x, y, epochs=1, balance=balance, out=tmp_path / "r")
        assert not (tmp_path / "r").exists()
