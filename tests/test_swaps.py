"""Our CSVAE extensions (csvae.models.swaps): the swap cycle and the independence discriminator."""

import pytest
import torch

import csvae
from csvae.config import ConfigError, model_config
from csvae.models.objective import weighted_sum
from csvae.models.parts import Gaussian
from csvae.models.swaps import (
    MIN_VARIANCE,
    cycle_term,
    discriminator_loss,
    independence_pairs,
    relative_error,
    shuffle_within_labels,
    swap_codes,
)


def labels(n=40, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, k), generator=g).float()


def test_shuffle_within_labels_is_a_permutation_that_keeps_each_label():
    y = labels()
    index = shuffle_within_labels(y, torch.Generator().manual_seed(1))
    for i in range(y.shape[1]):
        assert sorted(index[i].tolist()) == list(range(len(y)))
        assert torch.equal(y[index[i], i], y[:, i])
    assert not torch.equal(index[0], torch.arange(len(y)))  # it does shuffle (40 rows: no chance of identity)


def test_independence_pairs_keep_the_joint_and_shuffle_each_block_within_its_label():
    y = labels(n=30, k=2)
    z, w = torch.randn(30, 4), torch.randn(30, 2 * 3)
    joint, shuffled = independence_pairs(z, w, y, 3, torch.Generator().manual_seed(0))
    assert torch.equal(joint, torch.cat([z, w, y], -1))
    assert torch.equal(shuffled[:, -2:], y)
    assert sorted(map(tuple, shuffled[:, :4].tolist())) == sorted(map(tuple, z.tolist()))
    for i in range(2):
        block = shuffled[:, 4 + 3 * i:4 + 3 * (i + 1)]
        for label in (0, 1):
            rows = y[:, i] == label
            assert sorted(map(tuple, block[rows].tolist())) == sorted(map(tuple, w[rows, 3 * i:3 * (i + 1)].tolist()))


def test_swap_codes_takes_one_subspace_and_its_label_bit_from_one_partner():
    y = labels(n=25, k=3)
    w = Gaussian(torch.randn(25, 6), torch.randn(25, 6))
    swapped, y_swapped = swap_codes(w, y, 2, torch.Generator().manual_seed(3))
    changed = (swapped.mean != w.mean).view(25, 3, 2).any(-1)
    assert (changed.sum(1) <= 1).all()  # at most one subspace per row (equal when the partner differs)
    for row in range(25):
        for i in range(3):
            block = slice(2 * i, 2 * i + 2)
            if changed[row, i]:
                partner = [r for r in range(25) if torch.equal(w.mean[r, block], swapped.mean[row, block])]
                assert len(partner) == 1
                assert y_swapped[row, i] == y[partner[0], i]
                assert torch.equal(swapped.logvar[row, block], w.logvar[partner[0], block])
            else:
                assert torch.equal(swapped.logvar[row, block], w.logvar[row, block])
        others = [j for j in range(3) if not changed[row, j]]
        assert torch.equal(y_swapped[row, others], y[row, others])


def test_relative_error_divides_by_the_batch_variance_of_each_target_dimension():
    target = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    read = torch.tensor([[1.0, 1.0], [2.0, 1.5], [4.0, 1.0]])
    expected = torch.tensor([[0.5 * 1 / 4.0, 0.0], [0.0, 0.5 * 0.25 / MIN_VARIANCE], [0.0, 0.0]])
    torch.testing.assert_close(relative_error(read, target), expected)
    assert torch.equal(cycle_term(target, target, target, target, "sum"), torch.zeros(3))
    torch.testing.assert_close(cycle_term(read, target, target, target, "sum"), expected.sum(1))


def test_discriminator_loss_is_the_binary_cross_entropy():
    joint, shuffled = torch.randn(6, 1), torch.randn(6, 1)
    expected = -(torch.log(torch.sigmoid(joint)) + torch.log(1 - torch.sigmoid(shuffled))).squeeze(-1)
    torch.testing.assert_close(discriminator_loss(joint, shuffled), expected)


@pytest.mark.parametrize("field", ["swap_cycle", "w_independence"])
def test_options_are_checked(field):
    with pytest.raises(ConfigError, match=f"model.{field}"):
        model_config(**{field: -1.0})
    with pytest.raises(ConfigError, match=f"model.{field}"):
        model_config(name="vae", **{field: 1.0})


def tiny(**options):
    return csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0, hidden=[16], head_hidden=8, adversary_hidden=[8],
                             **options)


def test_defaults_add_no_term_and_no_parameter():
    plain, extended = tiny(), tiny(swap_cycle=1.0, w_independence=1.0)
    x, y = torch.randn(16, 3), labels(16, 2)
    assert not {"cycle", "tc", "discriminator_ce"} & set(plain.losses(x, y))
    assert {"cycle", "tc", "discriminator_ce"} <= set(extended.losses(x, y))
    assert set(extended.state_dict()) - set(plain.state_dict()) == {
        k for k in extended.state_dict() if k.startswith("discriminator.")}


def test_extended_alternation_touches_only_its_own_parameters():
    model = tiny(swap_cycle=1.0, w_independence=1.0)
    ids = [id(p) for p in model.model_parameters()] + [id(p) for p in model.adversary_parameters()]
    assert sorted(ids) == sorted(id(p) for p in model.parameters()) and len(set(ids)) == len(ids)
    x, y = torch.randn(16, 3), labels(16, 2)
    terms = model.losses(x, y)
    terms["model"].backward(retain_graph=True)
    assert all(p.grad is None for p in model.adversary_parameters())
    model.zero_grad(set_to_none=True)
    terms["adversary"].backward()
    assert all(p.grad is None for p in model.model_parameters())
    assert all(p.grad is not None for p in model.discriminator.parameters())
    assert torch.isfinite(model.adversary_loss(x, y))


def test_cycle_gradient_reaches_the_decoder_and_the_weight_counts():
    model = tiny(swap_cycle=1.0)
    x, y = torch.randn(16, 3), labels(16, 2)
    torch.manual_seed(0)
    terms = model.losses(x, y)
    cycle = terms["cycle"]
    cycle.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())
    torch.manual_seed(0)
    plain = model.losses(x, y)
    torch.testing.assert_close(terms["model"], plain["model"])
    model.config.swap_cycle = 3.0
    torch.manual_seed(0)
    tripled = model.losses(x, y)["model"]
    torch.testing.assert_close(tripled - terms["model"], 2.0 * cycle.detach())


def test_independence_term_is_the_frozen_discriminators_mean_logit():
    model = tiny(w_independence=2.0)
    x, y = torch.randn(16, 3), labels(16, 2)
    torch.manual_seed(0)
    terms = model.losses(x, y)
    torch.manual_seed(0)
    post = model.encode(x, y)
    z, w = post.z.sample(), post.w.sample()
    with torch.no_grad():
        logit = model.discriminator(torch.cat([z, w, y], -1)).mean()
    torch.testing.assert_close(terms["tc"], logit)
    weighted = terms["model"] - model.config.w_independence * terms["tc"]
    model.config.w_independence = 0.0
    torch.testing.assert_close(weighted_sum(terms, model.objective().model), weighted)
