"""The judge: an attribute classifier trained on REAL images, used to score generated images.

A small conv net (``csvae.nets.ConvEncoder`` + a linear layer) trained on the train split of one
data set and scored on its test split. Binary attributes get one sigmoid each; a categorical label
one softmax. Images go in as uint8 (N, C, H, W) or float in [0, 1] and are scaled on the fly.

A judge knows what it was trained on (data-set name, image shape, attribute names, label kind and
a hash of the data and the settings) and refuses images of another data set
(``check_compatible``). Files hold a plain dict of tensors and primitives, written atomically and
read with ``weights_only=True``.

On data with ground-truth factors (``Dataset.factors``, synthetic faces) the judge also learns to
read every factor from a real image (a linear head on the same features, squared error on the
images where the factor is defined): ``read_factors`` then measures how much of a style survives
in a reconstruction or a transfer, and ``test_factor_r2`` says how well it reads real images.

Modules: ``net`` (network, settings, image scaling), ``model`` (the trained judge), ``storage``
(its file format), ``metrics`` (its scores), ``training`` (training and the cache).
"""

from csvae.evaluate.judge.metrics import (
    accuracy_by_attribute,
    balanced_accuracy_by_attribute,
    r2_by_column,
)
from csvae.evaluate.judge.model import Judge, dataset_name, factor_matrix, labels_from_logits
from csvae.evaluate.judge.net import FLOAT_LIMIT, JudgeNet, JudgeSettings, as_unit_float, judge_settings
from csvae.evaluate.judge.storage import FORMAT, VERSION, judge_state, load_judge, save_judge
from csvae.evaluate.judge.training import data_hash, fit_judge, load_or_fit_judge

__all__ = [
    "JudgeSettings", "judge_settings", "JudgeNet", "as_unit_float", "FLOAT_LIMIT", "Judge", "dataset_name",
    "factor_matrix", "labels_from_logits", "FORMAT", "VERSION", "judge_state", "save_judge", "load_judge",
    "r2_by_column", "accuracy_by_attribute", "balanced_accuracy_by_attribute", "data_hash",
    "fit_judge", "load_or_fit_judge",
]
