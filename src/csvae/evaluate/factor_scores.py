"""DCI, MIG and SAP of a trained model's codes against the data's known factors.

Factors: every label column (``label.<name>``, discrete; a categorical label is one factor, the
class index) and the data set's ``factors`` (synthetic faces: nuisances and style factors; toy
sets: their generating variables), continuous unless they take at most ``MAX_CLASSES`` values.
Codes: posterior means; ``z``, each ``w.<name>`` (W_i; CCVAE's z_c,i) and all of w for subspace
models, and ``all`` (the whole code [z, w]; for a baseline z alone).

DCI fits one tree model per factor on the whole code only (refitting per part would multiply the
cost by k + 2): the D and C of a part are read from the whole code's importance matrix restricted
to its dimensions (``dci_scores`` of those rows); informativeness is the whole code's. MIG and SAP
are computed on each part as given. Subsamples of ``n_train`` / ``n_test`` rows (seeded) keep the
cost at seconds (docs/evaluation.md has the measured times).
"""

from __future__ import annotations

import time

import numpy as np

from csvae.data.dataset import Dataset
from csvae.evaluate.disentanglement import dci, dci_scores, mig, sap
from csvae.models.base import LatentModel

MAX_CLASSES = 20
N_TRAIN, N_TEST = 1000, 1000


def factor_table(data: Dataset) -> tuple[list[str], np.ndarray, list[bool]]:
    """(names, values (N, F) float64 with NaN where undefined, discrete flags)."""
    if data.label_kind == "categorical":
        labels = {"label.class": data.y.argmax(1).astype(np.float64)}
    else:
        labels = {f"label.{n}": data.y[:, i].astype(np.float64) for i, n in enumerate(data.attribute_names)}
    columns = {**labels, **{n: np.asarray(v, dtype=np.float64) for n, v in (data.factors or {}).items()}}
    names = list(columns)
    values = np.stack([columns[n] for n in names], 1)
    discrete = [n in labels or len(np.unique(v[~np.isnan(v)])) <= MAX_CLASSES for n, v in columns.items()]
    return names, values, discrete


def part_columns(model: LatentModel, latents: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """Column indices into the whole code [z, w] of each part: z, w.<name> per block, w, all."""
    z_dim = latents["z"].shape[1]
    parts = {"z": np.arange(z_dim)}
    if "w" in latents:
        d = model.config.w_dim
        if model.config.label_kind == "binary":
            for i, name in enumerate(names):
                parts[f"w.{name}"] = z_dim + np.arange(i * d, (i + 1) * d)
        parts["w"] = z_dim + np.arange(latents["w"].shape[1])
    parts["all"] = np.arange(z_dim + (latents["w"].shape[1] if "w" in latents else 0))
    return parts


def _sample(data: Dataset, split: str, n: int, seed: int) -> np.ndarray:
    rows = data.indices(split)
    if len(rows) > n:
        rows = np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))
    return rows


def disentanglement_report(model: LatentModel, data: Dataset, seed: int = 0, n_train: int = N_TRAIN,
                           n_test: int = N_TEST) -> dict:
    """JSON-ready {"factors", "discrete", "n_train", "n_test", "seconds", "parts": {part: {
    "dci_disentanglement", "dci_completeness", "mig", "sap", and for "all" also
    "dci_informativeness", "dci_informativeness_r2"}}} (None where undefined)."""
    start = time.perf_counter()
    names, values, discrete = factor_table(data)
    train, test = _sample(data, "train", n_train, seed), _sample(data, "test", n_test, seed + 1)

    def codes(rows):
        lat = model.latents(data.x[rows], data.y[rows])
        return lat, np.concatenate([lat["z"], lat["w"]], 1) if "w" in lat else lat["z"]

    lat, train_codes = codes(train)
    test_codes = codes(test)[1]
    f_train, f_test = values[train], values[test]
    whole = dci(train_codes, f_train, test_codes, f_test, discrete, seed)
    importance = np.asarray(whole["importance"])
    out = {}
    for part, columns in part_columns(model, lat, data.attribute_names).items():
        d, c = dci_scores(importance[columns])
        row = {"dci_disentanglement": d, "dci_completeness": c,
               "mig": mig(train_codes[:, columns], f_train, discrete),
               "sap": sap(train_codes[:, columns], f_train, test_codes[:, columns], f_test, discrete)}
        if part == "all":
            row.update(dci_informativeness=whole["informativeness"],
                       dci_informativeness_r2=whole["informativeness_r2"], importance=whole["importance"])
        out[part] = row
    return {"factors": names, "discrete": discrete, "n_train": int(len(train)), "n_test": int(len(test)),
            "seconds": round(time.perf_counter() - start, 2), "parts": out}
