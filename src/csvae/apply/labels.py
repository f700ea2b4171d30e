"""Labels of images whose label is unknown: inferred by the model's own rule (``LABEL_RULE``)
or by a judge trained on the run's data."""

from __future__ import annotations

import itertools
from typing import Optional, Sequence

import numpy as np
import torch

from csvae.apply.run import PathLike, image_card, is_categorical
from csvae.models.base import LatentModel
from csvae.models.condvae import CondVAE
from csvae.models.csvae import CSVAE
from csvae.models.parts import kl_gaussians, kl_standard_normal, reduce_dims
from csvae.models.vae import VAE

MAX_ENUMERATED = 256
"""Binary labels: every combination of the free attributes is scored when there are at most this
many (k <= 8); beyond that, coordinate ascent from all zeros (``MAX_SWEEPS`` sweeps at most)."""
MAX_SWEEPS = 4

LABEL_RULE = """\
CSVAE, CondVAE, CondVAE-info: the label y (over all attributes) under which the model explains the
image best, i.e. the highest ELBO at the posterior means with unit weights:
-(recon NLL of decode(mu) + KL(q(w|x,y) || p(w|y)) [CSVAE] + KL(q(z|x[,y]) || N(0, I))), with a
uniform p(y); a CSVAE trained by this version reads them with its label probe instead
(``csvae.models.label_probe``: a balanced logistic regression from the W encoder's features, fitted
at the end of training; p > 0.5 per attribute, or the most probable class). CCVAE: its own
classifier q(y | z_c) at the posterior mean of z_c (``predict_labels``, read the same way); MSP its
label code M mu(x) (above 0 per attribute, or the largest), Guided-VAE its excitation classifier on
the excited coordinates of mu(x) (``predict_labels``, read the same way). VAE:
per attribute, the nearer of the training class means of mu_z (z_means_0/1; categorical: the
nearest class mean)."""




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
    categorical = is_categorical(model)
    if judge is not None:
        return _with_fixed(np.asarray(judge.classify(x), dtype=np.float32), fixed, categorical)
    was_training = model.training
    model.eval()
    try:
        if model.predicts_labels:  # a model with its own classifier (CCVAE, CSVAE's probe, MSP, Guided-VAE)
            p = np.asarray(model.predict_labels(np.ascontiguousarray(x)), dtype=np.float32)
            y = np.eye(model.y_dim, dtype=np.float32)[p.argmax(1)] if categorical else (p > 0.5).astype(np.float32)
            return _with_fixed(y, fixed, categorical)
        x_t = torch.as_tensor(np.ascontiguousarray(x)).to(model.x_shift.device)
        if isinstance(model, VAE):
            return _nearest_class_mean(model, x_t, fixed, categorical)
        return _best_by_elbo(model, x_t, fixed, categorical)
    finally:
        model.train(was_training)


def _with_fixed(y: np.ndarray, fixed: dict[int, int], categorical: bool) -> np.ndarray:
    """Labels y (N, k) with the known values ``fixed`` put in."""
    if categorical and fixed:
        y[:] = np.eye(y.shape[1], dtype=np.float32)[fixed[0]]
    elif not categorical:
        for j, v in fixed.items():
            y[:, j] = v
    return y


def load_run_judge(judge: Optional[PathLike], model: LatentModel, names: Sequence[str]):
    """The judge file ``judge`` (None: None), checked to fit the run's data."""
    if judge is None:
        return None
    from csvae.evaluate.judge import load_judge

    loaded = load_judge(judge)
    loaded.check_compatible(image_card(model).name, model.x_shape, names)
    return loaded
