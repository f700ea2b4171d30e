"""The data card (data.json, and its copy in model.pt): written by fit, read by apply, evaluate
and --resume; data that changed since training are refused."""

import json
import re

import numpy as np
import pytest

import csvae
from csvae.config import ConfigError, DataConfig
from csvae.data import load_dataset
from csvae.data.checks import DataError
from csvae.data.dataset import Dataset
from csvae.datacard import DataCard, card_of_arrays, card_of_dataset, read_card, source_crop, write_card


def _card(**changes) -> DataCard:
    values = dict(name="folder", attribute_names=["smile", "hat"], label_kind="binary", x_shape=[3, 32, 32],
                  crop=40, split_sizes={"train": 8, "valid": 2, "test": 2}, fingerprint="a" * 64, cache="/c")
    return DataCard(**{**values, **changes})


def test_a_card_survives_its_json_file(tmp_path):
    card = _card()
    write_card(card, tmp_path / "data.json")
    assert read_card(tmp_path / "data.json") == card


@pytest.mark.parametrize("field, value", [("label_kind", "ordinal"), ("x_shape", [3, 0, 32]), ("crop", -1),
                                          ("attribute_names", []), ("fingerprint", "abc"),
                                          ("split_sizes", {"train": 1})])
def test_a_malformed_card_names_its_file_and_field(tmp_path, field, value):
    values = _card().to_dict()
    values[field] = value
    (tmp_path / "data.json").write_text(json.dumps(values))
    with pytest.raises(DataError, match=rf"data.json: malformed {field} "):
        read_card(tmp_path / "data.json")


def test_a_missing_or_unreadable_card_is_named(tmp_path):
    with pytest.raises(DataError, match="data.json is missing"):
        read_card(tmp_path / "data.json")
    (tmp_path / "data.json").write_bytes(b"\xff{")
    with pytest.raises(DataError, match="data.json is not a JSON data card"):
        read_card(tmp_path / "data.json")
    (tmp_path / "data.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(DataError, match="lacks attribute_names, label_kind"):
        read_card(tmp_path / "data.json")


def test_the_fingerprint_changes_with_any_pixel_label_or_split():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 1, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 2, (10, 2)).astype(np.float32)
    split = np.zeros(10, dtype=np.int8)

    def fp(x=x, y=y, split=split):
        return Dataset(x=x, y=y, split=split, attribute_names=["a", "b"]).fingerprint()

    base = fp()
    assert fp(x=x.copy()) == base
    x2, y2, s2 = x.copy(), y.copy(), split.copy()
    x2[3, 0, 1, 1] ^= 1
    y2[7, 1] = 1 - y2[7, 1]
    s2[9] = 2
    assert len({base, fp(x=x2), fp(y=y2), fp(split=s2)}) == 4


def test_the_crop_on_the_card_is_the_readers():
    assert source_crop(DataConfig(name="celeba-glasses", root="/r")) == 148  # CelebA's default
    assert source_crop(DataConfig(name="celeba-glasses", root="/r", crop=120)) == 120
    assert source_crop(DataConfig(name="folder", root="/r")) is None  # the largest centred square
    assert source_crop(DataConfig(name="synthetic_faces")) is None  # generated, never cropped
    assert source_crop(DataConfig(name="swiss_roll")) is None


def test_fit_writes_the_card_and_model_pt_carries_it(tmp_path):
    config = DataConfig(name="swiss_roll", n_samples=200)
    data = load_dataset(config)
    card = card_of_dataset(data, config)
    assert card.split_sizes["train"] + card.split_sizes["test"] == 200 and card.x_shape == [3]
    x, y = data.part("train")
    model = csvae.build_model("vae", x_dim=3, y_dim=1, seed=0, z_dim=2)
    csvae.fit(model, x, y, epochs=1, out=tmp_path / "run", data=config, card=card)
    assert read_card(tmp_path / "run" / "data.json") == card
    assert csvae.load(tmp_path / "run").data_card == card


def test_arrays_get_a_card_of_their_own_and_resume_refuses_other_data(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype(np.float32), (rng.random((64, 1)) > 0.5).astype(np.float32)
    model = csvae.fit(csvae.build_model("vae", x_dim=3, y_dim=1, seed=0), x, y, epochs=1, out=tmp_path / "run")
    assert model.data_card == card_of_arrays(x, y, "binary")
    assert model.data_card.attribute_names == ["y0"] and model.data_card.name == "arrays"
    x[0, 0] += 1.0
    with pytest.raises(ConfigError, match="cannot resume .*its data changed since the run started"):
        csvae.fit(csvae.build_model("vae", x_dim=3, y_dim=1, seed=0), x, y, epochs=1, out=tmp_path / "run",
                  resume=True)


@pytest.mark.slow
def test_evaluate_refuses_data_that_changed_since_training(tmp_path, monkeypatch):
    from csvae.config import RunConfig, TrainConfig, model_config
    from csvae.runs import evaluate_run, fit_run

    from fixtures_images import make_folder

    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))
    make_folder(tmp_path / "data", n=12, split=True)
    model = model_config(name="vae", backbone="conv", conv_channels=[4, 8], conv_dense=8, z_dim=2)
    config = RunConfig(model=model, data=DataConfig(name="folder", root=str(tmp_path / "data")),
                       train=TrainConfig(epochs=1, batch_size=4))
    fit_run(config, tmp_path / "run")
    labels = tmp_path / "data" / "labels.csv"
    lines = labels.read_text().splitlines()
    first = lines[1].split(",")
    first[1] = "1" if first[1] == "0" else "0"  # one label flipped after training
    labels.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    with pytest.raises(DataError, match="differ from the data the model was trained on"):
        evaluate_run(tmp_path / "run", judges=tmp_path / "judges")


def test_a_card_says_its_version():
    card = _card()
    assert card.version == 2 and card.to_dict()["version"] == 2


def test_a_card_of_version_1_is_read_and_refuses_a_stale_toy_fingerprint(tmp_path):
    """A card without a version is of version 1: read as it stands. A toy run's card written before
    the toy sets carried their factors holds the fingerprint of x, y and split alone: refused, and
    the message says why."""
    from csvae.data.dataset import fingerprint

    config = DataConfig(name="swiss_roll", n_samples=200)
    data = load_dataset(config)
    values = card_of_dataset(data, config).to_dict()
    del values["version"]
    (tmp_path / "data.json").write_text(json.dumps(values))
    card = read_card(tmp_path / "data.json")
    assert card.version == 1
    card.check_data(data, "evaluate")  # the fingerprint of today's data: it matches
    (tmp_path / "data.json").write_text(json.dumps({**values, "fingerprint": fingerprint(data.x, data.y, data.split)}))
    with pytest.raises(DataError, match=r"evaluate: the data 'swiss_roll' read now differ .* \(or this card, of "
                                        r"version 1, holds a toy set's fingerprint from before its factors were "
                                        r"fingerprinted too\); retrain"):
        read_card(tmp_path / "data.json").check_data(data, "evaluate")


@pytest.mark.parametrize("version", [0, 3, "2", True])
def test_a_card_of_another_version_is_refused(tmp_path, version):
    (tmp_path / "data.json").write_text(json.dumps({**_card().to_dict(), "version": version}))
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'data.json'} has data card version {version!r}; this "
                                                  f"csvae reads version 2 (and 1): read the run with the csvae that "
                                                  f"wrote it, or train it again")):
        read_card(tmp_path / "data.json")
