"""Training speed settings: train.threads, train.precision, channels_last images in the loop."""

import numpy as np
import pytest
import torch
from test_train import diverging

import csvae
from csvae.checkpoint import load_checkpoint
from csvae.config import ConfigError, TrainConfig, config_from_dict
from csvae.data.synthetic_faces import generate_faces
from csvae.data.toy import make_toy
from csvae.rundir import RunDir
from csvae.train import NonFiniteLossError, train, training_threads

CONV = dict(conv_channels=[8, 16, 32], conv_dense=32, head_hidden=16, adversary_hidden=[16])


def toy_xy(n=400):
    return make_toy("swiss_roll", n, seed=0).part("train")


def small(name="csvae"):
    return csvae.build_model(name, x_dim=3, y_dim=1, seed=0, hidden=[16], head_hidden=8, adversary_hidden=[8])


def faces(n=128):
    x, y, _ = generate_faces(n, seed=0, size=32)
    return x, y


def small_conv(name="csvae"):
    return csvae.build_model(name, x_shape=(3, 32, 32), y_dim=3, seed=0, **CONV)


@pytest.fixture
def three_threads():
    """Start from a thread count fit would not pick, so that restoring it is visible."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def record_threads(model):
    """Make ``model`` note torch's thread count at every loss evaluation."""
    seen = []
    original = model._terms

    def terms(x, y, reduction):
        seen.append(torch.get_num_threads())
        return original(x, y, reduction)

    model._terms = terms
    return seen


@pytest.mark.parametrize("value", [0, -1, 2.5, "2", True])
def test_bad_threads_are_refused_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"train\.threads must be a positive integer"):
        TrainConfig(threads=value)
    with pytest.raises(ConfigError, match=r"train\.threads"):
        csvae.fit(small(), *toy_xy(), epochs=1, threads=value)


@pytest.mark.parametrize("value", [0, -2, "two", 1.5])
def test_bad_threads_in_yaml_are_refused_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"train\.threads"):
        config_from_dict({"train": {"threads": value}})


def test_threads_from_yaml():
    assert config_from_dict({"train": {"threads": 2}}).train.threads == 2
    assert config_from_dict({"train": {"threads": None}}).train.threads is None


@pytest.mark.parametrize("value", ["bf16-true", "64-true", "32", "fast"])
def test_precisions_the_models_cannot_run_are_refused(value):
    with pytest.raises(ConfigError, match=r"train\.precision must be one of"):
        TrainConfig(precision=value)


@pytest.mark.parametrize("threads,expected", [(None, 1), (2, 2)])  # 2: a few steps only
def test_fit_trains_on_the_set_threads_and_restores_the_previous_count(three_threads, threads, expected):
    model = small()
    seen = record_threads(model)
    csvae.fit(model, *toy_xy(), epochs=1, threads=threads)
    assert seen and set(seen) == {expected}
    assert torch.get_num_threads() == three_threads


def test_threads_are_restored_when_training_fails(three_threads):
    with pytest.raises(NonFiniteLossError):
        csvae.fit(diverging(small()), *toy_xy(), epochs=1, log_every=1, threads=2)
    assert torch.get_num_threads() == three_threads


def test_bf16_mixed_trains_every_model_on_vector_data():
    """Fabric's module wrapper cast float inputs and labels to bf16, which broke CSVAE's prior;
    the loop runs the model under autocast with its inputs untouched."""
    x, y = toy_xy()
    for name in ("vae", "condvae", "condvae_info", "csvae"):
        model = csvae.fit(small(name), x, y, epochs=1, precision="bf16-mixed", log_every=1)
        assert np.isfinite(model.reconstruct(x, y)).all(), name


def test_channels_last_gives_the_loss_of_contiguous_layout():
    x, y = faces(32)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for layout in (torch.contiguous_format, torch.channels_last):
        model = small_conv().to(memory_format=layout)
        torch.manual_seed(1)  # the same reparameterisation noise
        losses.append(model.losses(x.contiguous(memory_format=layout), y))
    for name in losses[0]:
        torch.testing.assert_close(losses[1][name], losses[0][name], rtol=1e-4, atol=1e-4, msg=name)


def test_fit_runs_images_channels_last_and_returns_a_contiguous_model():
    model = small_conv()
    layouts = []
    original = model._terms

    def terms(x, y, reduction):
        conv = model.z_encoder.convs[0].weight
        layouts.append((x.is_contiguous(memory_format=torch.channels_last),
                        conv.is_contiguous(memory_format=torch.channels_last)))
        return original(x, y, reduction)

    model._terms = terms
    model = csvae.fit(model, *faces(), epochs=1)
    assert layouts and set(layouts) == {(True, True)}
    assert all(p.is_contiguous() for p in model.parameters())


def write_version(state: dict, path, version: int) -> None:
    """``state`` written as a checkpoint of ``version`` (``save_checkpoint`` writes the current one)."""
    torch.save({**state, "format": "csvae", "version": version}, path)


@pytest.mark.parametrize("version", [1, 2])
def test_a_version_1_optimizer_state_is_relaid_on_reading(tmp_path, version):
    """Fused Adam reads raw memory: a contiguous state (version 1, from before conv weights were
    trained channels_last) is re-laid as its channels_last parameter on reading, or the update
    lands on the wrong elements (the same state marked version 2 is taken as it is)."""
    torch.manual_seed(0)
    weight, grads = torch.randn(8, 3, 5, 5), [torch.randn(8, 3, 5, 5) for _ in range(3)]
    param = torch.nn.Parameter(weight.clone())
    opt = torch.optim.Adam([param], lr=0.1, fused=True)
    param.grad = grads[0].clone()
    opt.step()
    write_version({"config": {}, "x_shape": [3, 5, 5], "y_dim": 1, "model": {"w": param.detach()}, "step": 1,
                   "optimizers": [opt.state_dict()]}, tmp_path / "last.pt", version)
    state = load_checkpoint(tmp_path / "last.pt")
    resumed = torch.nn.Parameter(state["model"]["w"].contiguous(memory_format=torch.channels_last))
    opt = torch.optim.Adam([resumed], lr=0.1, fused=True)
    opt.load_state_dict(state["optimizers"][0])
    for g in grads[1:]:
        resumed.grad = g.contiguous(memory_format=torch.channels_last)
        opt.step()

    reference = torch.nn.Parameter(weight.clone())
    opt = torch.optim.Adam([reference], lr=0.1)
    for g in grads:
        reference.grad = g.clone()
        opt.step()
    same = torch.allclose(resumed.detach().contiguous(), reference.detach(), rtol=1e-5, atol=1e-6)
    assert same == (version == 1)


def test_resume_from_a_version_1_checkpoint_with_contiguous_optimizer_state(tmp_path):
    """A checkpoint of version 1 written before images went channels_last resumes to the
    uninterrupted run."""
    x, y = (torch.from_numpy(a) for a in faces())
    steps = len(x) // 32

    def config(epochs):
        return TrainConfig(epochs=epochs, batch_size=32, checkpoint_every=steps, log_every=steps)

    with training_threads(config(1)):
        straight = train(small_conv(), x, y, config(2))
        run = RunDir(tmp_path)
        train(small_conv(), x, y, config(1), run)
        state = load_checkpoint(run.checkpoint)
        state["model"] = {k: v.contiguous() for k, v in state["model"].items()}
        for opt_state in state["optimizers"]:
            for per_param in opt_state["state"].values():
                per_param.update({k: v.contiguous() for k, v in per_param.items()})
        write_version(state, run.checkpoint, 1)
        resumed = train(small_conv(), x, y, config(2), run, resume=True)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)
