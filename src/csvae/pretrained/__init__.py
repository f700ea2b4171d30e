"""Shipped pretrained models with their cards (docs/pretrained.md).

- ``names()``: the shipped models' names, in the registry's order;
- ``load(name)``: the model, float32 on the CPU, after its weight file's sha256 matched the
  registry (a mismatch is refused, naming the file; nothing is unpickled before);
- ``card(name)``: its model card as a dict (card.json: data, command, commit, metrics, limits,
  licence).

The registry is ``registry.txt`` in the package's ``models/`` folder (``$CSVAE_PRETRAINED_DIR`` or
``root=`` another: ``csvae.pretrained.registry``); ``csvae pretrained export`` (``export.py``)
makes a shipped model from a finished, evaluated run folder. Modules: ``registry`` (names, files,
checksums), ``card`` (the card from a run folder; its fields checked), ``markdown`` (card.md and
the docs' table), ``check`` (the slice metrics that keep a card true), ``export``.
"""

from __future__ import annotations

import json
import os
from typing import Optional

from csvae.pretrained.card import check_card
from csvae.pretrained.registry import PretrainedError, read_registry, shipped

PathLike = str | os.PathLike


def names(root: Optional[PathLike] = None) -> list[str]:
    """The names of the shipped models ([] when none is shipped)."""
    return list(read_registry(root))


def load(name: str, root: Optional[PathLike] = None):
    """The shipped model ``name`` (a ``csvae.models.base.LatentModel`` in eval mode, float32, on
    the CPU, with its config and data card), loaded with ``weights_only=True`` once the sha256 of
    its weight file matched the registry's."""
    from csvae.api import load as load_model

    entry = shipped(name, root)
    if not entry.weights.is_file():
        raise PretrainedError(f"{entry.weights} is missing: the registry lists {name!r} but its weights are not "
                              f"installed")
    return load_model(entry.weights, sha256=entry.sha256)


def card(name: str, root: Optional[PathLike] = None) -> dict:
    """The model card of ``name`` (card.json) as a dict, checked to have every field."""
    entry = shipped(name, root)
    try:
        values = json.loads(entry.card_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PretrainedError(f"{entry.card_json} cannot be read: {err}") from None
    return check_card(values, str(entry.card_json))


__all__ = ["names", "load", "card", "PretrainedError"]
