"""Every model the package ships (``csvae.pretrained.names()``; $CSVAE_PRETRAINED_DIR names another
registry, to check models before shipping them): it loads, its checksum matches, one manipulation
runs on its shipped test inputs, its card is complete, and its card's check metrics match a fresh
measurement on the first 64 rows of its test split (``csvae.pretrained.check``: the same rows by
their labels' sha256, recon R² within 0.005, each direction's edit size within 5 %, each
attribute's inferred-label accuracy within 0.02); and docs/pretrained.md shows its card's numbers
(``csvae pretrained table``).

Parametrized over the registry: with no model shipped there are zero test cases (pytest reports
none), never a test that passes without checking a model. The fresh measurement needs the model's
data: generated data (synthetic faces) are drawn again; CelebA is read from the card's data root,
else from the shared copy (``$CSVAE_CELEBA_20K`` or <clone>/../shared/data/celeba-20k), only the
slice's images decoded (no cache built), and the case skips, saying where it looked, when they are
nowhere. About 1.5-3 s a model on a busy 2-core machine, so not marked slow: a change that breaks a
shipped model fails the fast suite.
"""

from pathlib import Path

import numpy as np
import pytest

from csvae import pretrained
from csvae.checkpoint import sha256_of
from csvae.pretrained.check import compare, read_slice, slice_config, slice_metrics
from csvae.pretrained.markdown import table_row
from csvae.pretrained.registry import read_registry

SHIPPED = list(read_registry())
"""The registry's names: the package's, or $CSVAE_PRETRAINED_DIR's (check models before shipping them)."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_card_metrics_match_a_fresh_evaluation(name):
    model = pretrained.load(name)
    config, places = slice_config(model.run_config.data)
    if config is None:
        pytest.skip(f"{name}: its data are not here (looked in {'; '.join(places)})")
    stored = pretrained.card(name)["check"]
    fresh = slice_metrics(model, read_slice(config, stored["rows"]))
    problems = compare(stored["metrics"], fresh)
    assert not problems, f"{name} no longer computes what its card says: {'; '.join(problems)}"
