"""``csvae manipulate`` and ``csvae transfer``: a trained run applied to image files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from csvae.apply.labels import infer_labels, load_run_judge
from csvae.apply.output import check_out, to_uint8, write_grid
from csvae.apply.run import (
    Label,
    PathLike,
    attribute_index,
    attribute_names,
    is_categorical,
    open_model,
    parse_label,
    read_images_like_run,
)
from csvae.constraints import is_integer
from csvae.data.checks import DataError
from csvae.models.csvae import STYLES

log = logging.getLogger("csvae.apply")


def describe(y_row: np.ndarray, names: Sequence[str], categorical: bool) -> str:
    if categorical:
        return names[int(y_row.argmax())]
    return ", ".join(f"{n}={int(v)}" for n, v in zip(names, y_row))




def manipulate_files(run: Optional[PathLike], images: Sequence[PathLike], attribute: Optional[str], to: Label,
                     out: PathLike, *, style: str = "sample", samples: int = 1, seed: int = 0,
                     current: Optional[Label] = None, judge: Optional[PathLike] = None,
                     scale: int = 1, pretrained: Optional[str] = None) -> Path:
    """``csvae manipulate``: change ``attribute`` of each image to ``to`` with the run's model and
    write a grid to ``out`` (atomically; PNG or JPEG by its suffix; never over an input or a file
    csvae did not write), one row per image: input, reconstruction, then ``samples``
    manipulations. Returns ``out``.

    attribute: an attribute name of the run (binary labels); None for a categorical label.
    to: 0/1 (binary) or a class name/index (categorical). style: CSVAE's choice of the new
    subspace point ("sample" draws a new point per sample, "class_mean", "prior_mean"; the
    baselines are deterministic). seed: seeds the draws. current: the inputs' current value of
    the attribute (or their class), else inferred (``infer_labels``; other attributes are
    always inferred). judge: a judge file trained on the run's data, used to infer labels.
    scale: enlarge the grid this many times. pretrained: the name of a shipped model
    (``csvae.pretrained``) to use instead of a run folder (run None).
    A target equal to an image's current label is reported (warning naming the image and the
    attribute) and its row shows the unchanged reconstruction."""
    if style not in STYLES:
        raise DataError(f"--style must be one of {', '.join(STYLES)}, got {style!r}")
    if not is_integer(samples) or samples < 1:
        raise DataError(f"--samples must be a positive integer, got {samples!r}")
    out = check_out(out, [*images, run, judge])
    model = open_model(run, pretrained)
    names = attribute_names(model)
    categorical = is_categorical(model)
    if categorical:
        if attribute is not None:
            raise DataError(f"this run has one categorical label (classes: {', '.join(names)}); leave out "
                            f"--attribute and give the class with --to")
        column, what = None, "class"
    else:
        if attribute is None:
            raise DataError(f"--attribute is required; this run's attributes: {', '.join(names)}")
        column = attribute_index(model, attribute, names)
        what = names[column]
    target = parse_label(model, to, names, what, "--to")
    fixed = {}
    if current is not None:
        fixed = {0 if categorical else column: parse_label(model, current, names, what, "--current")}
    paths = [Path(p) for p in images]
    x = read_images_like_run(model, paths)
    y = infer_labels(model, x, fixed, load_run_judge(judge, model, names))
    for path, row in zip(paths, y):
        source = "given" if current is not None else "inferred"
        log.info("%s: %s label %s", path, source, describe(row, names, categorical))

    target_y = y.copy()
    if categorical:
        target_y[:] = np.eye(model.y_dim, dtype=np.float32)[target]
        same = y.argmax(1) == target
    else:
        target_y[:, column] = float(target)
        same = y[:, column] == target
    target_name = names[target] if categorical else str(target)
    for path in np.asarray(paths, dtype=object)[same]:
        log.warning("%s: its %s is already %s (%s), so there is nothing to change; its row shows the "
                    "reconstruction", path, "class" if categorical else f"attribute {what}", target_name,
                    "given by --current" if current is not None else "inferred")
    deterministic = not model.has_subspaces or style != "sample"
    if samples > 1 and deterministic:
        log.warning("%s is deterministic (%s), so the %d manipulations of each image are identical",
                    model.config.name, "style " + style if model.has_subspaces else "no sampled style",
                    samples)

    x_t, y_t, target_t = (torch.as_tensor(a) for a in (x, y, target_y))
    generator = torch.Generator().manual_seed(int(seed))
    recon = model.reconstruct(x_t, y_t)
    options = {"style": style, "generator": generator} if model.has_subspaces else {}
    edits = [model.manipulate(x_t, y_t, target_t, **options) for _ in range(samples)]
    rows = [np.stack([x[i], to_uint8(recon[i]), *(to_uint8(e[i]) for e in edits)]) for i in range(len(x))]
    return write_grid(rows, out, scale)


def transfer_files(run: Optional[PathLike], content: PathLike, style_image: PathLike, attribute: Optional[str],
                   out: PathLike, *, judge: Optional[PathLike] = None, scale: int = 1,
                   current: Optional[Label] = None, pretrained: Optional[str] = None) -> Path:
    """``csvae transfer`` (CSVAE runs only): decode the content image's z and w with the subspace
    W_attribute taken from the style image; write one row to ``out`` (as ``manipulate_files``):
    content, style, reconstruction of the content, transfer result. Returns ``out``.

    attribute: an attribute name of the run; for a categorical label a class name (that class's
    subspace) or None (every subspace: the whole label). Labels of both images are inferred
    (``infer_labels``, or the ``judge`` file), except the content image's value of ``attribute``
    (or its class) when ``current`` gives it. pretrained: a shipped model's name instead of ``run``."""
    out = check_out(out, [content, style_image, run, judge])
    model = open_model(run, pretrained)
    if not model.has_subspaces:
        raise DataError(f"transfer needs a CSVAE or CCVAE run: {run or pretrained} holds a {model.config.name} "
                        f"model, which has no attribute subspaces to swap; use `csvae manipulate` to change its "
                        f"attributes")
    names = attribute_names(model)
    categorical = is_categorical(model)
    if attribute is None:
        if not categorical:
            raise DataError(f"--attribute is required; this run's attributes: {', '.join(names)}")
        columns = list(range(model.y_dim))
    else:
        columns = [attribute_index(model, attribute, names)]
    fixed = {}
    if current is not None:
        what = "class" if attribute is None else names[columns[0]]
        fixed = {0 if categorical else columns[0]: parse_label(model, current, names, what, "--current")}
    x = read_images_like_run(model, [content, style_image])
    run_judge = load_run_judge(judge, model, names)
    y = np.concatenate([infer_labels(model, x[:1], fixed, run_judge), infer_labels(model, x[1:], None, run_judge)])
    for path, row, role in zip((content, style_image), y, ("content", "style")):
        log.info("%s (%s): label %s", path, role, describe(row, names, categorical))
    x_t, y_t = torch.as_tensor(x), torch.as_tensor(y)
    recon = model.reconstruct(x_t[:1], y_t[:1])
    result = model.transfer(x_t[:1], y_t[:1], x_t[1:], y_t[1:], columns)
    row = np.stack([x[0], x[1], to_uint8(recon[0]), to_uint8(result[0])])
    return write_grid([row], out, scale)


