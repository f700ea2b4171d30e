"""Checkpoint versions: version 2 is read, version 1 is migrated where it can be (the optimiser
layout: tests/test_threads.py) and refused where it cannot, any other version is refused; every
refusal names the file, the version found, the version read and what to do."""

import re

import pytest
import torch

import csvae
from csvae.checkpoint import VERSION, CheckpointError, load_checkpoint
from csvae.config import DataConfig

from run_helpers import untrained_run


@pytest.fixture
def final(tmp_path):
    """A finished run's model.pt (version 2, with its data card) and its state as read."""
    run = untrained_run(tmp_path / "run", "csvae", DataConfig(name="swiss_roll"), [3], 1)
    return run / "model.pt", load_checkpoint(run / "model.pt")


def rewrite(path, state: dict, version, drop=()) -> None:
    """``state`` written back to ``path`` as a checkpoint of ``version``, without the keys ``drop``."""
    torch.save({**{k: v for k, v in state.items() if k not in drop}, "version": version}, path)


def test_version_2_is_written_and_read(final):
    path, state = final
    assert VERSION == 2 and state["version"] == 2 and state["finished"] and "data_card" in state
    assert csvae.load(path).data_card.name == "swiss_roll"


def test_a_version_1_model_with_its_data_card_is_read(final):
    path, state = final
    rewrite(path, state, 1)
    assert load_checkpoint(path)["version"] == 2
    assert csvae.load(path).data_card.name == "swiss_roll"


def test_a_version_1_model_without_a_data_card_is_refused(final):
    path, state = final
    rewrite(path, state, 1, drop=("data_card",))
    message = (f"{path} is a finished model of checkpoint version 1 written before csvae stored data cards; this "
               f"csvae reads version 2: train the run again (csvae fit --config RUN/config.yaml --out RUN --overwrite)")
    with pytest.raises(CheckpointError, match=re.escape(message)):
        csvae.load(path.parent)


def test_a_version_2_model_without_a_data_card_is_refused(final):
    path, state = final
    rewrite(path, state, 2, drop=("data_card",))
    with pytest.raises(CheckpointError, match=r"lacks the entries \['data_card'\]"):
        load_checkpoint(path)


@pytest.mark.parametrize("version", [0, 3, "2", None])
def test_other_versions_are_refused(final, version):
    path, state = final
    rewrite(path, state, version)
    message = (f"{path} has checkpoint version {version!r}; this csvae reads version 2 (and migrates 1): read it "
               f"with the csvae that wrote it, or train the run again")
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_checkpoint(path)
