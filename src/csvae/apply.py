"""Apply a trained run to image files: attribute manipulation and (CSVAE) style transfer.

The functions behind ``csvae manipulate`` and ``csvae transfer`` (see docs/manipulation.md):

- :func:`manipulate_files` reads images exactly as the run's data were read, infers their current
  labels, changes one attribute (or the class) and writes a PNG grid, one row per input:
  input, reconstruction, then ``samples`` manipulations;
- :func:`transfer_files` (CSVAE only) writes one row: content, style, reconstruction of the
  content, and the content decoded with the style's subspace W_attribute.

Reading (:func:`read_images_like_run`): size and channels come from the model's ``x_shape``; the
crop from the run's data config (:func:`run_crop`): ``data.crop`` when set, else 148 for the
CelebA readers, else the largest centred square; then the Lanczos resize of ``csvae.data.imageio``.
Synthetic faces are rendered at their size without any crop, so their runs read user images with
the largest centred square.

Labels of user images are unknown; :func:`infer_labels` picks them (rule: module
``LABEL_RULE`` and docs/manipulation.md). ``current`` fixes the changed attribute (or class) and a
judge file, when given, classifies the images instead of the model.

Notes for the user (inferred labels, a target equal to the current label, identical samples of a
deterministic model) go to the ``csvae.apply`` logger; the ones that need attention are warnings,
which Python prints on stderr even when logging is not configured.
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from csvae.api import load, run_config_of
from csvae.config import DataConfig
from csvae.data.checks import DataError
from csvae.data.imageio import decode_image
from csvae.models.base import LatentModel
from csvae.models.condvae import CondVAE
from csvae.models.csvae import CSVAE, STYLES
from csvae.models.parts import kl_gaussians, kl_standard_normal, reduce_dims
from csvae.models.vae import VAE

log = logging.getLogger("csvae.apply")

PathLike = Union[str, os.PathLike]
Label = Union[int, str]

MAX_ENUMERATED = 256
"""Binary labels: every combination of the free attributes is scored when there are at most this
many (k <= 8); beyond that, coordinate ascent from all zeros (``MAX_SWEEPS`` sweeps at most)."""
MAX_SWEEPS = 4

LABEL_RULE = """\
CSVAE, CondVAE, CondVAE-info: the label y (over all attributes) under which the model explains the
image best, i.e. the highest ELBO at the posterior means with unit weights:
-(recon NLL of decode(mu) + KL(q(w|x,y) || p(w|y)) [CSVAE] + KL(q(z|x[,y]) || N(0, I))), with a
uniform p(y). VAE: per attribute, the nearer of the training class means of mu_z (z_means_0/1;
categorical: the nearest class mean)."""


# ----- what the run was trained on -------------------------------------------------------------
def _data_config(model: LatentModel) -> DataConfig:
    return run_config_of(model).data


def _check_image_run(model: LatentModel) -> DataConfig:
    cfg = _data_config(model)
    if len(model.x_shape) != 3:
        raise DataError(f"this run was trained on vector data ({cfg.name!r}, x_shape {model.x_shape}); "
                        f"manipulate and transfer work on image runs only")
    if cfg.name == "arrays":
        raise DataError("this run was trained from arrays in Python, so its attribute names and image crop "
                        "are unknown; use model.manipulate / model.transfer on arrays instead")
    channels, height, width = model.x_shape
    if height != width or channels not in (1, 3):
        raise DataError(f"the run's images have shape {model.x_shape}; expected (1 or 3, S, S)")
    return cfg


def run_crop(data: DataConfig) -> Optional[int]:
    """The side of the centred square the run's reader cut before resizing (None: the largest
    centred square): ``data.crop`` when set, else 148 for the CelebA readers, else None.
    Synthetic faces are generated at their size, never cropped: None."""
    from csvae.data import celeba
    from csvae.data.images import CELEBA_READERS

    if data.name == "synthetic_faces":
        return None
    if data.crop is not None:
        return int(data.crop)
    return celeba.DEFAULT_CROP if data.name in CELEBA_READERS else None


def attribute_names(model: LatentModel) -> list[str]:
    """The run's label names in label-column order (= CSVAE's subspace order): attribute names,
    or class names for a categorical label. Read from the config where it fixes them (synthetic
    faces, CelebA presets or listed attributes, TFD), else from the label files of the run's data
    (``folder``, ``celeba`` with every attribute; no image is decoded)."""
    cfg = _check_image_run(model)
    from csvae.data import celeba, tfd

    if cfg.name == "synthetic_faces":
        from csvae.data.synthetic_faces import ATTRIBUTES

        names = list(cfg.attributes) if cfg.attributes else list(ATTRIBUTES)
    elif cfg.name in celeba.PRESETS:
        names = list(celeba.PRESETS[cfg.name])
    elif cfg.name == "celeba" and cfg.attributes:
        names = list(cfg.attributes)
    elif cfg.name == "tfd":
        names = list(tfd.EXPRESSIONS)
    else:
        names = _names_from_data(cfg)
    if len(names) != model.y_dim:
        raise DataError(f"the run's data {cfg.name!r} has {len(names)} label columns ({', '.join(names)}) "
                        f"but the model has y_dim={model.y_dim}")
    return names


def _names_from_data(cfg: DataConfig) -> list[str]:
    """Label names read from the run's data: the label files of a file-based reader (parsed, no
    image decoded), else the data set itself."""
    from csvae.data.images import READERS, config_options, index_images

    try:
        if cfg.name in READERS:
            return list(index_images(cfg.name, cfg.root, **config_options(cfg)).attribute_names)
        from csvae.data import load_dataset

        return list(load_dataset(cfg).attribute_names)
    except (DataError, OSError) as err:
        raise DataError(f"the attribute names of this run are read from its data ({cfg.name} at "
                        f"{cfg.root}), which cannot be read: {err}") from err


def _label_kind(model: LatentModel) -> str:
    return model.config.label_kind


def attribute_index(model: LatentModel, name: str, names: Optional[Sequence[str]] = None) -> int:
    """Column of attribute ``name`` (exact, else a unique case-insensitive match); a DataError
    listing the valid names otherwise."""
    names = list(names) if names is not None else attribute_names(model)
    if name in names:
        return names.index(name)
    folded = [i for i, n in enumerate(names) if n.lower() == str(name).lower()]
    if len(folded) == 1:
        return folded[0]
    what = "class" if _label_kind(model) == "categorical" else "attribute"
    raise DataError(f"unknown {what} {name!r} for this run ({_data_config(model).name}); valid {what}s: "
                    f"{', '.join(names)}")


def parse_label(model: LatentModel, value: Label, names: Sequence[str], attribute: Optional[str],
                flag: str = "--to") -> int:
    """A label value from the user: 0 or 1 for a binary attribute; a class name or index for a
    categorical label. Returns 0/1, or the class index."""
    text = str(value).strip()
    if _label_kind(model) == "categorical":
        if text.lstrip("-").isdigit():
            index = int(text)
            if 0 <= index < len(names):
                return index
            raise DataError(f"{flag} {value!r}: a class index must be 0..{len(names) - 1}; classes: "
                            f"{', '.join(names)}")
        try:
            return attribute_index(model, text, names)
        except DataError:
            raise DataError(f"{flag} {value!r} is not a class of this run; classes: {', '.join(names)} "
                            f"(or their index 0..{len(names) - 1})") from None
    if isinstance(value, bool) or text not in ("0", "1"):
        raise DataError(f"{flag} must be 0 or 1 for the binary attribute {attribute}, got {value!r}")
    return int(text)


# ----- reading images ---------------------------------------------------------------------------
def read_images_like_run(model: LatentModel, paths: Sequence[PathLike]) -> np.ndarray:
    """Decode image files with the run's crop, size and channels: uint8 (N, C, S, S).

    Raises DataError naming the first file that is missing, unreadable or smaller than the crop."""
    cfg = _check_image_run(model)
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not paths:
        raise DataError("no images given")
    channels, size, _ = model.x_shape
    crop = run_crop(cfg)
    out = np.zeros((len(paths), channels, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        if path.is_dir():
            raise DataError(f"image {path} is a folder, not an image file")
        out[i] = decode_image(path, size, crop, channels)
    return out


# ----- labels -------------------------------------------------------------------------------------
@torch.no_grad()
def fit_scores(model: LatentModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ELBO at the posterior means with unit weights, (N,): how well label y explains x."""
    x_model = model.to_model(x)
    if isinstance(model, CSVAE):
        post = model.encode(x, y)
        params = model.decode(post.z.mean, post.w.mean)
        prior = model.prior(y)
        kl = (reduce_dims(kl_gaussians(post.w, prior.mean, prior.logvar), "sum")
              + reduce_dims(kl_standard_normal(post.z), "sum"))
    elif isinstance(model, CondVAE):
        q = model.encode(x, y).z
        params = model.decode(q.mean, y)
        kl = reduce_dims(kl_standard_normal(q), "sum")
    else:
        raise TypeError(f"no ELBO label rule for {type(model).__name__}")
    return -(model.recon_nll(x_model, params, "sum") + kl)


def _candidates(k: int, fixed: dict[int, int], categorical: bool) -> Optional[np.ndarray]:
    """Label rows to score exhaustively, (M, k); None when there are too many (binary)."""
    if categorical:
        classes = [fixed[0]] if fixed else range(k)
        return np.eye(k, dtype=np.float32)[list(classes)]
    free = [j for j in range(k) if j not in fixed]
    if 2 ** len(free) > MAX_ENUMERATED:
        return None
    rows = np.zeros((2 ** len(free), k), dtype=np.float32)
    for m, bits in enumerate(itertools.product((0, 1), repeat=len(free))):
        rows[m, free] = bits
        for j, v in fixed.items():
            rows[m, j] = v
    return rows


def _best_by_elbo(model: LatentModel, x: torch.Tensor, fixed: dict[int, int], categorical: bool) -> np.ndarray:
    n, k = len(x), model.y_dim

    def score(y: np.ndarray) -> np.ndarray:
        return fit_scores(model, x, torch.as_tensor(y, device=x.device)).cpu().numpy()

    rows = _candidates(k, fixed, categorical)
    if rows is not None:
        scores = np.stack([score(np.tile(r, (n, 1))) for r in rows], axis=1)
        return rows[scores.argmax(1)].copy()
    y = np.zeros((n, k), dtype=np.float32)  # coordinate ascent over the free binary attributes
    for j, v in fixed.items():
        y[:, j] = v
    for _ in range(MAX_SWEEPS):
        changed = False
        for j in (j for j in range(k) if j not in fixed):
            alt = y.copy()
            alt[:, j] = 1.0 - alt[:, j]
            better = score(alt) > score(y)
            if better.any():
                y[better] = alt[better]
                changed = True
        if not changed:
            break
    return y


def _nearest_class_mean(model: VAE, x: torch.Tensor, fixed: dict[int, int], categorical: bool) -> np.ndarray:
    with torch.no_grad():
        mu = model.encode(x).z.mean  # (n, d)
        d1 = torch.cdist(mu, model.z_means_1)  # (n, k)
        d0 = torch.cdist(mu, model.z_means_0)
    if categorical:
        y = np.eye(model.y_dim, dtype=np.float32)[d1.argmin(1).cpu().numpy()]
        if fixed:
            y[:] = np.eye(model.y_dim, dtype=np.float32)[fixed[0]]
        return y
    y = (d1 < d0).float().cpu().numpy()
    for j, v in fixed.items():
        y[:, j] = v
    return y


def infer_labels(model: LatentModel, x: np.ndarray, fixed: Optional[dict[int, int]] = None,
                 judge=None) -> np.ndarray:
    """Labels (N, k) float32 for uint8 images x (N, C, S, S) of unknown label.

    fixed: {column: 0/1} (binary) or {0: class index} (categorical) values taken as known.
    judge: a ``csvae.evaluate.judge.Judge`` trained on the run's data; it then labels the images.
    Otherwise the model's own rule (``LABEL_RULE``)."""
    fixed = dict(fixed or {})
    categorical = _label_kind(model) == "categorical"
    if judge is not None:
        y = np.asarray(judge.classify(x), dtype=np.float32)
        if categorical and fixed:
            y[:] = np.eye(model.y_dim, dtype=np.float32)[fixed[0]]
        elif not categorical:
            for j, v in fixed.items():
                y[:, j] = v
        return y
    was_training = model.training
    model.eval()
    try:
        x_t = torch.as_tensor(np.ascontiguousarray(x)).to(model.x_shift.device)
        if isinstance(model, VAE):
            return _nearest_class_mean(model, x_t, fixed, categorical)
        return _best_by_elbo(model, x_t, fixed, categorical)
    finally:
        model.train(was_training)


def _load_judge(judge: Optional[PathLike], model: LatentModel, names: Sequence[str]):
    if judge is None:
        return None
    from csvae.evaluate.judge import load_judge

    loaded = load_judge(judge)
    loaded.check_compatible(_data_config(model).name, model.x_shape, names)
    return loaded


def _describe(y_row: np.ndarray, names: Sequence[str], categorical: bool) -> str:
    if categorical:
        return names[int(y_row.argmax())]
    return ", ".join(f"{n}={int(v)}" for n, v in zip(names, y_row))


# ----- outputs -------------------------------------------------------------------------------------
def _to_uint8(images) -> np.ndarray:
    images = images.numpy() if torch.is_tensor(images) else np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


OUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""The suffixes of --out and the format each writes."""
MARK = "csvae grid"
"""Written into every grid (PNG text chunk "Software", JPEG comment): the only existing files an
output may replace are grids csvae wrote."""


def _written_by_csvae(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            comment = image.info.get("comment", b"")  # bytes in a JPEG, text in a PNG text chunk
            comment = comment.decode("latin-1") if isinstance(comment, bytes) else comment
            return MARK in (image.info.get("Software"), comment)
    except (OSError, UnidentifiedImageError):
        return False


def _check_out(out: PathLike, inputs: Sequence[Optional[PathLike]]) -> Path:
    """The grid's path: a .png, .jpg or .jpeg file that is none of ``inputs`` (image files, the run,
    the judge) and, if it exists, a grid csvae wrote; anything else is a DataError naming it."""
    out = Path(out)
    if out.is_dir():
        raise DataError(f"--out {out} is a folder; give the path of the PNG file to write")
    if out.suffix.lower() not in OUT_FORMATS:
        raise DataError(f"--out {out}: unknown image suffix {out.suffix!r}; the grid is written as PNG (.png) "
                        f"or JPEG (.jpg, .jpeg)")
    for source in (Path(s) for s in inputs if s is not None):
        if out.resolve() == source.resolve() or (out.exists() and source.exists() and out.samefile(source)):
            raise DataError(f"--out {out} is the input {source}; the grid would replace it, so choose another "
                            f"file name")
    if out.exists() and not _written_by_csvae(out):
        raise DataError(f"--out {out} exists and is not a grid csvae wrote; it is not replaced: choose another "
                        f"file name, or delete it first")
    return out


def _write_grid(rows: list[np.ndarray], out: Path, scale: int) -> Path:
    """Tile ``rows`` and write them to ``out`` atomically, in the format of its suffix, marked."""
    import io

    from PIL import Image, PngImagePlugin

    from csvae.config import atomic_write_bytes
    from csvae.figures import tile

    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise DataError(f"scale must be a positive integer, got {scale!r}")
    image = Image.fromarray(tile(np.stack([_to_uint8(r) for r in rows])))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    if OUT_FORMATS[out.suffix.lower()] == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Software", MARK)
        image.save(buffer, format="PNG", pnginfo=text)
    else:
        image.save(buffer, format="JPEG", quality=95, comment=MARK)
    atomic_write_bytes(out, buffer.getvalue())
    return out


def _model_tag(model: LatentModel) -> str:
    return model.config.name


def manipulate_files(run: PathLike, images: Sequence[PathLike], attribute: Optional[str], to: Label,
                     out: PathLike, *, style: str = "sample", samples: int = 1, seed: int = 0,
                     current: Optional[Label] = None, judge: Optional[PathLike] = None,
                     scale: int = 1) -> Path:
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
    scale: enlarge the grid this many times.
    A target equal to an image's current label is reported (warning naming the image and the
    attribute) and its row shows the unchanged reconstruction."""
    if style not in STYLES:
        raise DataError(f"--style must be one of {', '.join(STYLES)}, got {style!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise DataError(f"--samples must be a positive integer, got {samples!r}")
    out = _check_out(out, [*images, run, judge])
    model = load(run)
    names = attribute_names(model)
    categorical = _label_kind(model) == "categorical"
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
    y = infer_labels(model, x, fixed, _load_judge(judge, model, names))
    for path, row in zip(paths, y):
        source = "given" if current is not None else "inferred"
        log.info("%s: %s label %s", path, source, _describe(row, names, categorical))

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
    deterministic = not isinstance(model, CSVAE) or style != "sample"
    if samples > 1 and deterministic:
        log.warning("%s is deterministic (%s), so the %d manipulations of each image are identical",
                    _model_tag(model), "style " + style if isinstance(model, CSVAE) else "no sampled style",
                    samples)

    x_t, y_t, target_t = (torch.as_tensor(a) for a in (x, y, target_y))
    generator = torch.Generator().manual_seed(int(seed))
    recon = model.reconstruct(x_t, y_t)
    options = {"style": style, "generator": generator} if isinstance(model, CSVAE) else {}
    edits = [model.manipulate(x_t, y_t, target_t, **options) for _ in range(samples)]
    rows = [np.stack([x[i], _to_uint8(recon[i]), *(_to_uint8(e[i]) for e in edits)]) for i in range(len(x))]
    return _write_grid(rows, out, scale)


def transfer_files(run: PathLike, content: PathLike, style_image: PathLike, attribute: Optional[str],
                   out: PathLike, *, judge: Optional[PathLike] = None, scale: int = 1) -> Path:
    """``csvae transfer`` (CSVAE runs only): decode the content image's z and w with the subspace
    W_attribute taken from the style image; write one row to ``out`` (as ``manipulate_files``):
    content, style, reconstruction of the content, transfer result. Returns ``out``.

    attribute: an attribute name of the run; for a categorical label a class name (that class's
    subspace) or None (every subspace: the whole label). Labels of both images are inferred
    (``infer_labels``, or the ``judge`` file)."""
    out = _check_out(out, [content, style_image, run, judge])
    model = load(run)
    if not isinstance(model, CSVAE):
        raise DataError(f"transfer needs a CSVAE run: {run} holds a {_model_tag(model)} model, which has no "
                        f"attribute subspaces to swap; use `csvae manipulate` to change its attributes")
    names = attribute_names(model)
    categorical = _label_kind(model) == "categorical"
    if attribute is None:
        if not categorical:
            raise DataError(f"--attribute is required; this run's attributes: {', '.join(names)}")
        columns = list(range(model.y_dim))
    else:
        columns = [attribute_index(model, attribute, names)]
    x = read_images_like_run(model, [content, style_image])
    y = infer_labels(model, x, None, _load_judge(judge, model, names))
    for path, row, role in zip((content, style_image), y, ("content", "style")):
        log.info("%s (%s): inferred label %s", path, role, _describe(row, names, categorical))
    x_t, y_t = torch.as_tensor(x), torch.as_tensor(y)
    recon = model.reconstruct(x_t[:1], y_t[:1])
    result = model.transfer(x_t[:1], y_t[:1], x_t[1:], y_t[1:], columns)
    row = np.stack([x[0], x[1], _to_uint8(recon[0]), _to_uint8(result[0])])
    return _write_grid([row], out, scale)


__all__ = ["manipulate_files", "transfer_files", "read_images_like_run", "attribute_index", "attribute_names",
           "infer_labels", "run_crop", "parse_label", "fit_scores", "LABEL_RULE"]
