"""Styles against ground truth on synthetic faces (``csvae.data.synthetic_faces``).

- ``style_r2``: how well each attribute's true style factors are predicted from W_i (only the
  examples where the attribute is present), and the nuisance factors from z; for contrast also the
  styles from z and the nuisances from w. A regressor is fitted on train latents (posterior means)
  and scored by R^2 on test latents, per factor.
- ``transfer_score``: W_i is taken from image b and given to image a (``model.transfer``); the
  truth is rendered by ``render_faces`` with a's nuisances and other attributes, and b's label and
  style factors for attribute i. Pixel MSE against the truth is compared with baselines; with a
  judge that reads factors (``csvae.evaluate.judge``), also the R^2 of the style read from each
  output against b's true style.
- ``reconstruction_r2``: the judge's reading of every factor from the model's reconstructions
  against the truth, beside its reading of the real images: how visibly each style is drawn. The
  judge learned on sharp real images, so it can under-read a style a blurry decoder draws faintly;
  it is a reading of the pictures, not a bound on what W_i holds.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from csvae.data.dataset import Dataset
from csvae.data.synthetic_faces import NUISANCE_FACTORS, STYLE_FACTORS, check_factors
from csvae.evaluate.judge import Judge, dataset_name, r2_by_column
from csvae.evaluate.manipulation import generate, reconstruct
from csvae.evaluate.truths import render
from csvae.runfiles import unit_float

REGRESSORS = ("knn", "linear", "mlp")
MAX_TRAIN = 5000


def make_regressor(kind: str):
    """"knn": 10-nearest-neighbour mean on standardised codes; "linear": ridge regression; "mlp":
    two hidden layers of 128 on standardised codes (Adam, early stopping on a tenth of the training
    rows, seed 0). The MLP finds a factor held jointly by a few coordinates of a wide code, which
    the 10-NN misses when the code's other coordinates vary more (e.g. a style read from [z, W_i])."""
    if kind == "knn":
        return make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=10))
    if kind == "linear":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    if kind == "mlp":
        return make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(128, 128), max_iter=500,
                                                            early_stopping=True, random_state=0))
    raise ValueError(f"regressor must be one of {list(REGRESSORS)}, got {kind!r}")


def factor_r2(train_codes: np.ndarray, train_targets: np.ndarray, test_codes: np.ndarray,
              test_targets: np.ndarray, regressor: str = "knn") -> np.ndarray:
    """R^2 on test of a regressor fitted on train: codes (N, d), targets (N, F) -> (F,)."""
    if len(train_codes) < 10 or len(test_codes) < 2:
        raise ValueError(f"factor_r2 needs >= 10 train and >= 2 test examples, got {len(train_codes)} "
                         f"and {len(test_codes)}")
    one_column = train_targets.ndim == 2 and train_targets.shape[1] == 1  # sklearn's MLP wants (N,)
    fitted = make_regressor(regressor).fit(train_codes, train_targets[:, 0] if one_column else train_targets)
    return np.atleast_1d(r2_score(test_targets, fitted.predict(test_codes), multioutput="raw_values"))


def _table(names, values) -> dict[str, float]:
    return {name: float(v) for name, v in zip(names, values)}


def style_r2(model, dataset: Dataset, *, regressor: str = "knn", max_train: int = MAX_TRAIN,
             seed: int = 0) -> dict:
    """R^2 per factor (test split) of factors predicted from posterior means.

    Returns {"z_nuisance": factor -> R^2, "z_style": attribute -> factor -> R^2} and, for a model
    with subspaces (latents with "w"), "w_style" (from W_i) and "w_nuisance" (from all of w).
    Style rows use only the examples where the attribute is present."""
    check_factors(dataset)
    train, test = dataset.indices("train"), dataset.indices("test")
    if len(train) > max_train:
        train = np.sort(np.random.default_rng(seed).choice(train, max_train, replace=False))
    codes = {}
    for part, rows in (("train", train), ("test", test)):
        codes[part] = model.latents(dataset.x[rows], dataset.y[rows])
    truth = dataset.factors
    nuisance = np.stack([truth[n] for n in NUISANCE_FACTORS], 1)
    sources = ["z"] + (["w"] if "w" in codes["train"] else [])
    out = {}
    for source in sources:
        r2 = factor_r2(codes["train"][source], nuisance[train], codes["test"][source], nuisance[test], regressor)
        out[f"{source}_nuisance"] = _table(NUISANCE_FACTORS, r2)
        out[f"{source}_style"] = {}
        for i, attribute in enumerate(dataset.attribute_names):
            names = STYLE_FACTORS[attribute]
            on_train, on_test = dataset.y[train, i] == 1, dataset.y[test, i] == 1
            target = np.stack([truth[n] for n in names], 1)
            code_train, code_test = codes["train"][source], codes["test"][source]
            if source == "w":
                d = model.w_dim
                code_train, code_test = code_train[:, i * d:(i + 1) * d], code_test[:, i * d:(i + 1) * d]
            r2 = factor_r2(code_train[on_train], target[train][on_train], code_test[on_test],
                           target[test][on_test], regressor)
            out[f"{source}_style"][attribute] = _table(names, r2)
    return out


def transfer_truth(dataset: Dataset, a: np.ndarray, b: np.ndarray, attribute: int) -> np.ndarray:
    """The true images for pairs (a, b) of row indices (n,): a's face with b's label and style
    factors for ``attribute``, rendered with ``render_counterfactuals``; uint8 (n, C, H, W)."""
    check_factors(dataset)
    own = STYLE_FACTORS[dataset.attribute_names[attribute]]
    return render(dataset, a, attribute, dataset.y[b, attribute],
                  style={n: np.asarray(dataset.factors[n])[b] for n in own})


def transfer_pairs(dataset: Dataset, attribute: int, n_pairs: int, split: str = "test",
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded pairs of row indices (a, b), each (n_pairs,): b among the split's images with
    ``attribute`` present (the donor of the style), a among all of the split's images."""
    name = dataset.attribute_names[attribute]
    rows = dataset.indices(split)
    donors = rows[dataset.y[rows, attribute] == 1]
    if len(donors) == 0:
        raise ValueError(f"the {split} split has no image with {name!r} present to take a style from")
    rng = np.random.default_rng(seed)
    return rng.choice(rows, n_pairs), rng.choice(donors, n_pairs)


def _true_factors(dataset: Dataset, names, rows: np.ndarray) -> np.ndarray:
    return np.stack([np.asarray(dataset.factors[n], dtype=np.float32)[rows] for n in names], 1)


def _read(judge: Judge, images: np.ndarray, names) -> np.ndarray:
    """The judge's reading (N, len(names)) of the factors ``names`` from images."""
    columns = [judge.factor_names.index(n) for n in names]
    return judge.read_factors(images)[:, columns]


def _check_reader(judge: Judge, dataset: Dataset) -> None:
    judge.check_compatible(dataset_name(dataset), tuple(dataset.x.shape[1:]), dataset.attribute_names)
    missing = [n for n in dataset.factors if n not in judge.factor_names]
    if missing:
        raise ValueError(f"the judge cannot read the factors {missing} (it reads {judge.factor_names})")


def reconstruction_r2(model, judge: Judge, dataset: Dataset, *, split: str = "test",
                      batch_size: int = 256) -> dict:
    """R^2 per factor of the judge's reading against the truth, on the split's real images and on
    the model's reconstructions of them: {"real": factor -> R^2, "reconstruction": factor -> R^2}.
    Style factors count only where their attribute is present (elsewhere they are undefined)."""
    check_factors(dataset)
    _check_reader(judge, dataset)
    names = list(dataset.factors)
    rows = dataset.indices(split)
    truth = _true_factors(dataset, names, rows)
    x, y = dataset.x[rows], dataset.y[rows]
    return {"real": r2_by_column(truth, _read(judge, x, names), names),
            "reconstruction": r2_by_column(truth, _read(judge, reconstruct(model, x, y, batch_size), names), names)}


def transfer_score(model, dataset: Dataset, attribute: str, *, judge: Optional[Judge] = None, n_pairs: int = 256,
                   split: str = "test", seed: int = 0, batch_size: int = 256) -> dict:
    """Pixel MSE against the truth of W_i transferred from b to a, and of baselines.

    Pairs: b drawn among the split's images with ``attribute`` present, a among all of its
    images (seeded). Methods: "transfer" (model.transfer), "recon_a", "recon_b" (reconstructions),
    "input_a" (a itself) and "label_only" (model.manipulate to the true label with
    style="class_mean": the attribute without b's particular style).
    Returns {"n", "mse": method -> mean, "add": {...}, "restyle": {...}}, where "add" holds the
    pairs with the attribute absent in a and "restyle" those with it present (each {"n", "mse"}).
    With a ``judge`` that reads factors, "style_r2": method -> factor -> R^2 of the style read from
    the output against b's true style, for "transfer", "recon_b" and "label_only" (an output that
    carries b's style scores near the judge's own reading of real images; one style for all near
    or below 0)."""
    if not hasattr(model, "transfer"):
        raise ValueError(f"{type(model).__name__} has no transfer(); style transfer needs a CSVAE")
    check_factors(dataset)
    if attribute not in dataset.attribute_names:
        raise ValueError(f"attribute {attribute!r} is not one of {dataset.attribute_names}")
    i = dataset.attribute_names.index(attribute)
    a, b = transfer_pairs(dataset, i, n_pairs, split, seed)
    truth = unit_float(transfer_truth(dataset, a, b, i))
    x, y = dataset.x, dataset.y
    target = y[a].copy()
    target[:, i] = y[b, i]
    outputs = {"transfer": transfer_images(model, x[a], y[a], x[b], y[b], i, batch_size),
               "recon_a": reconstruct(model, x[a], y[a], batch_size),
               "recon_b": reconstruct(model, x[b], y[b], batch_size),
               "input_a": unit_float(x[a]),
               "label_only": generate(model, x[a], y[a], target, style="class_mean", batch_size=batch_size)}
    errors = {k: ((v.reshape(n_pairs, -1) - truth.reshape(n_pairs, -1)) ** 2).mean(1) for k, v in outputs.items()}
    out = {"n": n_pairs, "mse": {k: float(e.mean()) for k, e in errors.items()}}
    for group, mask in (("add", y[a, i] == 0), ("restyle", y[a, i] == 1)):
        out[group] = {"n": int(mask.sum()),
                      "mse": {k: float(e[mask].mean()) if mask.any() else None for k, e in errors.items()}}
    if judge is not None:
        _check_reader(judge, dataset)
        names = STYLE_FACTORS[attribute]
        style_b = _true_factors(dataset, names, b)
        out["style_r2"] = {k: r2_by_column(style_b, _read(judge, outputs[k], names), names)
                           for k in ("transfer", "recon_b", "label_only")}
    return out


def transfer_images(model, xa, ya, xb, yb, attribute: int, batch_size: int = 256) -> np.ndarray:
    """model.transfer batch-wise (``map_batches``): each a (xa, ya) with W_attribute of its b (xb,
    yb); images (n, C, H, W), labels (n, k). Returns float32 (n, C, H, W) in data units."""
    out = model.map_batches(lambda a, y_a, b, y_b: model.transfer(a, y_a, b, y_b, [attribute]), xa,
                            np.asarray(ya, dtype=np.float32), xb, np.asarray(yb, dtype=np.float32),
                            batch_size=batch_size)
    return out.float().numpy()


def style_report(model, dataset: Dataset, *, judge: Optional[Judge] = None, regressor: str = "knn",
                 n_pairs: int = 256, seed: int = 0, attributes: Optional[list[str]] = None) -> dict:
    """style_r2, with a judge that reads factors reconstruction_r2 ("reader"), and for models with
    transfer() transfer_score of every attribute (JSON-ready)."""
    out = {"r2": style_r2(model, dataset, regressor=regressor, seed=seed)}
    reader = judge if judge is not None and judge.factor_names else None
    if reader is not None:
        out["reader"] = reconstruction_r2(model, reader, dataset)
    if hasattr(model, "transfer"):
        out["transfer"] = {a: transfer_score(model, dataset, a, judge=reader, n_pairs=n_pairs, seed=seed)
                           for a in (attributes or dataset.attribute_names)}
    return out
