"""Labels a careless caller gives: NaN labels outside training, no labels at all, a label with
one class present, and data without test examples."""

import numpy as np
import pytest
import torch

import csvae
from csvae.config import ConfigError, DataConfig, RunConfig, TrainConfig
from csvae.data.checks import DataError


def _xy():
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    return torch.from_numpy(x), torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("which", ["y", "reference_y"])
def test_transfer_refuses_unknown_labels_where_the_model_reads_them(which):
    """CSVAE.transfer with NaN reference labels returned an all-NaN image silently."""
    x, y = _xy()
    unknown = y.clone()
    unknown[1] = float("nan")
    labels = {"y": y, "reference_y": y, which: unknown}
    model = csvae.build_model("csvae", x_dim=3, y_dim=2, seed=0)
    row = 1 if which == "y" else 0  # the reference is row 1 alone
    with pytest.raises(ValueError, match=rf"^{which} has unknown \(NaN or infinite\) labels \(rows \[{row}\]\)"):
        model.transfer(x, labels["y"], x[1:2], labels["reference_y"][1:2], [0])
    ccvae = csvae.build_model("ccvae", x_dim=3, y_dim=2, seed=0)  # it does not read y here: defined
    assert torch.isfinite(ccvae.transfer(x, labels["y"], x[1:2], labels["reference_y"][1:2], [0])).all()


@pytest.mark.parametrize("name", ["vae", "csvae"])
def test_latents_without_labels_is_one_clear_line(name):
    """model.latents(x, None) failed with a numpy dtype error."""
    x, _ = _xy()
    model = csvae.build_model(name, x_dim=3, y_dim=2, seed=0)
    if model.reads_labels:
        with pytest.raises(ValueError, match=r"^y is None; this model reads the labels here: give y \(N, k\)"):
            model.latents(x.numpy(), None)
    else:  # the labels are not read: None is enough
        assert model.latents(x.numpy(), None)["z"].shape == (4, model.z_dim)


@pytest.mark.parametrize("label_kind, y, message", [
    ("binary", [[1.0, 0.0], [1.0, 1.0]] * 10, r"y, column 0: every known row has the value 1; an attribute needs "
                                               r"rows of both values to be learnt"),
    ("categorical", [[0.0, 1.0]] * 20, r"y: every known row is class 1; a label needs rows of at least two classes"),
])
def test_fit_refuses_a_label_with_one_class_present(label_kind, y, message):
    """The Python API trained on a label with one class present, which the readers refuse."""
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    model = csvae.build_model("vae", x_dim=3, y_dim=2, seed=0, label_kind=label_kind)
    with pytest.raises(DataError, match=message):
        csvae.fit(model, x, np.array(y, np.float32), epochs=1)


def test_fit_refuses_data_without_test_examples(tmp_path):
    """A 3-image folder trained (train 3, valid 0, test 0); evaluate then failed in torch.cat."""
    from csvae.runs import fit_run

    from fixtures_images import make_folder

    make_folder(tmp_path / "data", n=3)
    config = RunConfig(data=DataConfig(name="folder", root=str(tmp_path / "data"), image_size=16,
                                       cache=str(tmp_path / "cache"), attributes=["smile"]),
                       train=TrainConfig(epochs=1, batch_size=2))
    with pytest.raises(ConfigError, match=r"data 'folder' has no test examples \(train 3, valid 0, test 0\)"):
        fit_run(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
