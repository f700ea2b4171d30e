"""Every model the package ships (``csvae.pretrained.names()``; $CSVAE_PRETRAINED_DIR names another
registry, to check models before shipping them): it
loads, its checksum matches, one manipulation runs on its shipped test inputs, its card is complete,
and its card's check metrics match a fresh measurement on the first rows of its test split
(``csvae.pretrained.check``: recon R² within 0.005, each direction's edit size within 5 %); and
docs/pretrained.md shows its card's numbers (``csvae pretrained table``).

Parametrized over the registry: with no model shipped there are zero test cases (pytest reports
none), never a test that passes without checking a model. The fresh measurement needs the model's
data: generated data (synthetic faces) are drawn again; CelebA is read from the card's data root,
else from ``$CSVAE_PRETRAINED_DATA/<folder name>`` or ``<clone>/../shared/data/<folder name>``, and
the case skips, saying where it looked, when they are nowhere.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from csvae import pretrained
from csvae.checkpoint import sha256_of
from csvae.data import load_dataset
from csvae.pretrained.check import compare, slice_metrics
from csvae.pretrained.markdown import table_row
from csvae.pretrained.registry import read_registry

SHIPPED = list(read_registry())
"""The registry's names: the package's, or $CSVAE_PRETRAINED_DIR's (check models before shipping them)."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def data_config(model):
    """The DataConfig that reads the model's data here, or None with the places looked at."""
    config = model.run_config.data
    if config.root is None or Path(config.root).exists():
        return config, []
    places = [Path(config.root)]
    name = Path(config.root).name
    if os.environ.get("CSVAE_PRETRAINED_DATA"):
        places.append(Path(os.environ["CSVAE_PRETRAINED_DATA"]) / name)
    places.append(Path(__file__).resolve().parents[1].parent / "shared" / "data" / name)
    for place in places[1:]:
        if place.exists():
            return dataclasses.replace(config, root=str(place), cache=None), places
    return None, places


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_matches_its_checksum_and_edits(name):
    entry = read_registry()[name]
    assert sha256_of(entry.weights.read_bytes()) == entry.sha256
    model = pretrained.load(name)
    card = pretrained.card(name)
    assert card["name"] == name and card["weights"]["sha256"] == entry.sha256
    assert card["model"] == model.config.name and card["data"]["attributes"] == model.data_card.attribute_names
    arrays = np.load(entry.arrays)
    x, y = arrays["inputs"][:4], arrays["input_labels"][:4]
    target = y.copy()
    target[:, 0] = 1 - target[:, 0]
    edited = model.manipulate(x, y, target)
    assert edited.shape == x.shape and np.isfinite(edited).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_docs_show_the_cards_numbers(name):
    docs = (Path(__file__).resolve().parents[1] / "docs" / "pretrained.md").read_text(encoding="utf-8")
    assert table_row(pretrained.card(name)) in docs, f"docs/pretrained.md lacks {name}'s row: csvae pretrained table"


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_card_metrics_match_a_fresh_evaluation(name):
    model = pretrained.load(name)
    config, places = data_config(model)
    if config is None:
        pytest.skip(f"{name}: its data are not here (looked in {', '.join(map(str, places))})")
    data = load_dataset(config)
    model.data_card.check_data(data, f"the check of {name}")
    problems = compare(pretrained.card(name)["check"]["metrics"], slice_metrics(model, data))
    assert not problems, f"{name} no longer computes what its card says: {'; '.join(problems)}"
