"""The declared checks of config values (csvae.constraints) and the model registry."""

import numpy as np
import pytest

from csvae.config import BASELINES, DATA_CONSTRAINTS, MODEL_NAMES, STYLE_MODELS, DataConfig, ModelConfig, TrainConfig
from csvae.constraints import ConfigError, Integer, Interval, OneOf, Positive, is_integer, is_number
from csvae.models import MODELS


def test_integers_and_numbers_are_never_bools():
    assert is_integer(3) and not is_integer(True) and not is_integer(3.0) and not is_integer(np.int64(3))
    assert is_integer(np.int64(3), numpy=True) and not is_integer(np.bool_(True), numpy=True)
    assert is_number(2.5) and is_number(2) and not is_number(False) and not is_number("2")


@pytest.mark.parametrize("rule, value, message", [
    (Interval("[", 0, 0.5, ")"), 0.5, r"^f must be in \[0, 0\.5\), got 0\.5$"),
    (Interval("(", 0, 1, "]", finite=True), float("nan"), r"^f must be a finite number, got nan$"),
    (Positive(), 0, r"^f must be positive, got 0$"),
    (Positive(allow_zero=True), -1.0, r"^f must be non-negative, got -1\.0$"),
    (Integer(lambda v: v >= 1, "a positive integer", note=" (what it counts)"), True,
     r"^f \(what it counts\) must be a positive integer, got True$"),
    (OneOf(("a", "b")), "c", r"^f must be one of \['a', 'b'\], got 'c'$"),
])
def test_each_rule_refuses_with_its_message(rule, value, message):
    with pytest.raises(ConfigError, match=message):
        rule.check("f", value)


def test_rules_accept_the_values_they_allow():
    Interval("[", 0, 0.5, ")").check("f", 0.0)
    Interval("(", 0, 1, "]").check("f", 1.0)
    Positive(allow_zero=True).check("f", 0)
    Integer(lambda v: v in range(5), "0..4").check("f", 4)


def test_the_tables_are_read_when_a_section_is_built():
    """An entry of a table is what refuses the value (and an unset optional field is not checked)."""
    assert DataConfig(crop=None).crop is None
    with pytest.raises(ConfigError, match=r"^data\.crop must be positive, got 0$"):
        DataConfig(crop=0)
    assert set(DATA_CONSTRAINTS) <= {f for f in DataConfig.__dataclass_fields__}
    with pytest.raises(ConfigError, match=r"^train\.device must be cpu, cuda, cuda:N or auto, got 'gpu'$"):
        TrainConfig(device="gpu")
    with pytest.raises(ConfigError, match=r"^train\.threads must be a positive integer \(or null: one thread\)"):
        TrainConfig(threads="2")


def test_one_registry_names_the_models():
    assert tuple(MODELS) == MODEL_NAMES and set(BASELINES) < set(MODEL_NAMES)
    assert MODELS["ccvae"].__name__ == "CCVAE" and MODELS["condvae_info"].__name__ == "CondVAEInfo"
    # the report reads no model: its list of the models that draw (and transfer) styles is this one
    assert {name for name, cls in MODELS.items() if hasattr(cls, "transfer")} == set(STYLE_MODELS)
    with pytest.raises(ConfigError, match=r"model\.name must be one of \['vae', 'condvae', 'condvae_info', "):
        ModelConfig(name="gan")
