"""The README's opening pictures, made from shipped models (``csvae pretrained figure``): real test
photos of the models' data with an attribute added and removed by each model, and a style
transfer of that attribute by the first model that has attribute subspaces. Drawn by the figure
functions of ``csvae.figures`` (``comparison_grid``, ``transfer_grid``) on the first test images
of each class (``csvae.pretrained.check.read_slice``), so the pictures follow the models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from csvae import pretrained
from csvae.evaluate.figure_data import transfer_cells
from csvae.evaluate.manipulation import generate, reconstruct
from csvae.figures import comparison_grid, transfer_grid
from csvae.models import MODEL_TITLES
from csvae.models.subspace import SubspaceModel
from csvae.pretrained.check import read_slice, slice_config
from csvae.pretrained.registry import PretrainedError

FIGURE_ROWS = 1024
"""Test examples searched for photos of each class (CelebA: about 47 wear glasses in 1024)."""
EDIT, TRANSFER = "pretrained_edit.png", "pretrained_transfer.png"


def figure_photos(model, attribute: int, n: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test images without the attribute, then the first ``n`` with it, and their
    labels: (2n, C, S, S) uint8, (2n, k). PretrainedError when the data are not here or hold fewer."""
    config, places = slice_config(model.run_config.data)
    if config is None:
        raise PretrainedError(f"{name}: its data are not here (looked in {'; '.join(places)}); the figure draws its "
                              f"test photos")
    part = read_slice(config, FIGURE_ROWS)
    rows = [np.flatnonzero(part.y[:, attribute] == value)[:n] for value in (0, 1)]
    if min(map(len, rows)) < n:
        raise PretrainedError(f"{name}: the first {FIGURE_ROWS} test images hold fewer than {n} of each class of "
                              f"{part.attribute_names[attribute]}; ask for fewer (--images)")
    chosen = np.concatenate(rows)
    return part.x[chosen], part.y[chosen]


def column_labels(models: dict) -> dict[str, str]:
    """Name -> the column's label: the model's title (CSVAE, CCVAE, ...) when these differ, else the
    shipped names (the grid's columns are narrow)."""
    titles = {name: MODEL_TITLES.get(model.config.name, model.config.name) for name, model in models.items()}
    return titles if len(set(titles.values())) == len(titles) else {name: name for name in models}


def pretrained_figures(names: Sequence[str], out: str | os.PathLike, attribute: Optional[str] = None,
                       n: int = 4) -> list[Path]:
    """Write ``EDIT`` (rows: n test photos without ``attribute``, then n with it; columns: the photo,
    the first model's reconstruction and each model's edit flipping it) and, when one of the models
    has attribute subspaces, ``TRANSFER`` (the photos without it, each with the attribute's style of
    each photo with it) into the folder ``out``. All models must be of the same data; attribute:
    default the first model's first. Returns the files written."""
    models = {name: pretrained.load(name) for name in names}
    first = models[names[0]]
    attribute = attribute or first.data_card.attribute_names[0]
    for name, model in models.items():
        card = model.data_card
        if card.fingerprint != first.data_card.fingerprint or attribute not in card.attribute_names:
            raise PretrainedError(f"{name} is not of {names[0]}'s data with the attribute {attribute!r} "
                                  f"({card.name}: {', '.join(card.attribute_names)}); draw models of one data set")
    column = first.data_card.attribute_names.index(attribute)
    x, y = figure_photos(first, column, n, names[0])
    target = y.copy()
    target[:, column] = 1 - target[:, column]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = first.data_card.name
    labels = column_labels(models)
    edits = {labels[name]: generate(model, x, y, target) for name, model in models.items()}
    comparison_grid(x, reconstruct(first, x, y), edits, out / EDIT, recon_name=labels[names[0]],
                    title=f"{attribute} added (first {n} rows) and removed (last {n}) on {data} test photos")
    written = [out / EDIT]
    styled = next((name for name, model in models.items() if isinstance(model, SubspaceModel)), None)
    if styled is not None:
        cells = transfer_cells(models[styled], x[:n], y[:n], x[n:], y[n:], column)
        transfer_grid(x[:n], x[n:], cells, out / TRANSFER,
                      title=f"{styled}: each photo with the {attribute} of each style photo")
        written.append(out / TRANSFER)
    return written
