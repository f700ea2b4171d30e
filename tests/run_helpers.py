"""Run folders for tests that need no training: an untrained model saved with a data card."""

from csvae.api import build_model, save_final
from csvae.config import RunConfig
from csvae.datacard import DataCard, source_crop
from csvae.rundir import RunDir


def untrained_run(out, model_name, data, x_shape, y_dim, names=None, card=None, **options):
    """A run folder holding an untrained model whose data card says it comes from ``data``
    (attribute ``names``, default y0, y1, ...; the crop of ``data``'s reader): no data are read.
    ``card``: the card to write instead (e.g. the true card of generated data)."""
    shape = {"x_shape": x_shape} if len(x_shape) == 3 else {"x_dim": x_shape[0]}
    small = dict(conv_channels=[4, 8], conv_dense=8, head_hidden=8, adversary_hidden=[8]) if len(x_shape) == 3 else {}
    model = build_model(model_name, y_dim=y_dim, seed=0, **shape, **{**small, **options})
    model.data_card = card or DataCard(
        name=data.name, attribute_names=list(names or [f"y{i}" for i in range(y_dim)]),
        label_kind=model.config.label_kind, x_shape=list(x_shape), crop=source_crop(data),
        split_sizes={"train": 1, "valid": 0, "test": 0}, fingerprint="0" * 64)
    out.mkdir(parents=True)
    save_final(model, RunConfig(model=model.config, data=data), RunDir(out))
    return out
