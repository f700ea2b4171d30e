"""Where a trained synthetic-face CSVAE keeps styles and nuisances, and what its decoder reads.

Prints, for a run folder of a CSVAE trained on synthetic faces and a judge of the same data
(a ``judges/judge-*.pt`` file that reads factors):
1. style R² (test faces with the attribute) from W_i, from the other subspaces, from z and from
   [z, W_i], with a 10-NN and a ridge regressor fitted on the training faces;
2. nuisance R² from W_i among faces with and without the attribute, and from z;
3. the mean and standard deviation of the encoded W_i (posterior means) per label, beside the
   prior;
4. the decoder's response to swaps between pairs (a, b) of test faces with the attribute: the
   judge's reading of the style of decode(z_a, w_a with W_i of b), decode(z_a, w_b),
   decode(z_b, w_a) and of both reconstructions, as R² against a's and b's true style, and the
   correlation of its reading of the horizontal offset with a's and b's;
5. what a transfer loses, on 1,024 pairs drawn as the report's transfer score draws them (a any
   test face, b one with the attribute): the judge's R² of b's style read from the transfer and from b's own
   reconstruction, on all pairs and on those where a lacks the attribute (a's own style cannot
   leak there); and a linear fit of the transfer's reading on b's true style (slope, R²) and on
   b's style plus a's nuisances minus b's (R², the nuisances with a coefficient above 0.05): a
   style drawn in the donor's frame moves with the content face's position or colours.
docs/history.md ("Where the styles go", "Where a transfer loses the style") quotes its output. Usage:
    python benchmarks/style_diagnosis.py RUN_DIR JUDGE.pt
"""

import argparse
import json

import numpy as np
import torch
from sklearn.linear_model import LinearRegression

from csvae.api import load
from csvae.data import load_dataset
from csvae.data.synthetic_faces import NUISANCE_FACTORS, STYLE_FACTORS
from csvae.evaluate.judge import load_judge, r2_by_column
from csvae.evaluate.manipulation import reconstruct
from csvae.evaluate.styles import REGRESSORS, factor_r2, transfer_images, transfer_pairs

N_PAIRS = 300


def short(names, values):
    return {n.split(".")[-1]: round(float(v), 2) for n, v in zip(names, values)}


def where_styles_live(codes, data, i, attribute, d):
    """Style R² of attribute i from W_i, the other W_j, z and [z, W_i] (knn, linear and mlp)."""
    tr, te = data.indices("train"), data.indices("test")
    on_tr, on_te = data.y[tr, i] == 1, data.y[te, i] == 1
    truth = np.stack([data.factors[n] for n in STYLE_FACTORS[attribute]], 1)
    k = data.y.shape[1]

    def block(c, j):
        return c["w"][:, j * d:(j + 1) * d]

    sources = {"W_i": lambda c: block(c, i),
               "W_other": lambda c: np.concatenate([block(c, j) for j in range(k) if j != i], 1),
               "z": lambda c: c["z"],
               "z+W_i": lambda c: np.concatenate([c["z"], block(c, i)], 1)}
    out = {}
    for name, pick in sources.items():
        for reg in REGRESSORS:
            r2 = factor_r2(pick(codes["train"])[on_tr], truth[tr][on_tr], pick(codes["test"])[on_te],
                           truth[te][on_te], reg)
            out[f"{name}/{reg}"] = short(STYLE_FACTORS[attribute], r2)
    return out


def decoder_swaps(model, judge, data, i, attribute, d):
    """Judge readings of swapped decodings for N_PAIRS pairs of test faces with the attribute."""
    pos = data.indices("test")[data.y[data.indices("test"), i] == 1]
    rng = np.random.default_rng(0)
    a, b = rng.choice(pos, N_PAIRS), rng.choice(pos, N_PAIRS)
    with torch.no_grad():
        pa = model.encode(torch.as_tensor(data.x[a]), torch.as_tensor(data.y[a]).float())
        pb = model.encode(torch.as_tensor(data.x[b]), torch.as_tensor(data.y[b]).float())
        mask = torch.zeros(pa.w.mean.shape[1], dtype=torch.bool)
        mask[i * d:(i + 1) * d] = True
        codes = {"recon a": (pa.z.mean, pa.w.mean), "a z, b W_i": (pa.z.mean, torch.where(mask, pb.w.mean, pa.w.mean)),
                 "a z, b w": (pa.z.mean, pb.w.mean), "b z, a w": (pb.z.mean, pa.w.mean),
                 "recon b": (pb.z.mean, pb.w.mean)}
        images = {k: model.to_data(model.decode(*v)).numpy() for k, v in codes.items()}
    names = STYLE_FACTORS[attribute]
    columns = [judge.factor_names.index(n) for n in names]
    offset = judge.factor_names.index("nuisance.offset_x")
    out = {}
    for key, im in images.items():
        read = judge.read_factors(im)
        row = {}
        for who, rows in (("a", a), ("b", b)):
            style = np.stack([data.factors[n][rows] for n in names], 1)
            r2 = r2_by_column(style, read[:, columns], names)
            row[f"style R2 vs {who}"] = round(float(np.mean(list(r2.values()))), 2)
            corr = np.corrcoef(read[:, offset], data.factors["nuisance.offset_x"][rows])[0, 1]
            row[f"offset corr {who}"] = round(float(corr), 2)
        out[key] = row
    return out


def transfer_losses(model, judge, data, i, attribute, n_pairs=1024):
    """Section 5 of the module doc for attribute i, per style factor."""
    a, b = transfer_pairs(data, i, n_pairs)
    names = STYLE_FACTORS[attribute]
    columns = [judge.factor_names.index(n) for n in names]
    transfer = judge.read_factors(transfer_images(model, data.x[a], data.y[a], data.x[b], data.y[b], i))[:, columns]
    donor = judge.read_factors(reconstruct(model, data.x[b], data.y[b]))[:, columns]
    style = np.stack([data.factors[n][b] for n in names], 1)
    moved = np.stack([data.factors[n][a] - data.factors[n][b] for n in NUISANCE_FACTORS], 1)
    lacks = data.y[a, i] == 0
    judged = {"transfer R2": r2_by_column(style, transfer, names),
              "transfer R2, a lacks it": r2_by_column(style[lacks], transfer[lacks], names),
              "donor recon R2": r2_by_column(style, donor, names)}
    out = {}
    for k, name in enumerate(names):
        alone = LinearRegression().fit(style[:, k:k + 1], transfer[:, k])
        both = np.concatenate([style[:, k:k + 1], moved], 1)
        fit = LinearRegression().fit(both, transfer[:, k])
        out[name.split(".")[-1]] = {
            **{key: round(float(r2[name]), 2) for key, r2 in judged.items()},
            "slope on b": round(float(alone.coef_[0]), 2),
            "fit R2 b": round(float(alone.score(style[:, k:k + 1], transfer[:, k])), 2),
            "fit R2 b + a-b nuisances": round(float(fit.score(both, transfer[:, k])), 2),
            "nuisance coefficients": {n.split(".")[-1]: round(float(c), 2)
                                      for n, c in zip(NUISANCE_FACTORS, fit.coef_[1:]) if abs(c) > 0.05}}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("judge")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, judge = load(args.run), load_judge(args.judge)
    data = load_dataset(model.run_config.data)
    d = model.w_dim
    tr, te = data.indices("train"), data.indices("test")
    codes = {"train": model.latents(data.x[tr], data.y[tr]), "test": model.latents(data.x[te], data.y[te])}
    nuisance = np.stack([data.factors[n] for n in NUISANCE_FACTORS], 1)
    report = {"nuisance from z": short(NUISANCE_FACTORS, factor_r2(codes["train"]["z"], nuisance[tr],
                                                                   codes["test"]["z"], nuisance[te]))}
    for i, attribute in enumerate(data.attribute_names):
        report[f"{attribute}: style"] = where_styles_live(codes, data, i, attribute, d)
        for label in (1, 0):
            m_tr, m_te = data.y[tr, i] == label, data.y[te, i] == label
            w_tr, w_te = codes["train"]["w"][:, i * d:(i + 1) * d], codes["test"]["w"][:, i * d:(i + 1) * d]
            report[f"{attribute}: nuisance from W_i, y={label}"] = short(
                NUISANCE_FACTORS, factor_r2(w_tr[m_tr], nuisance[tr][m_tr], w_te[m_te], nuisance[te][m_te]))
            report[f"{attribute}: encoded W_i, y={label}"] = {
                "mean": [round(float(v), 2) for v in w_te[m_te].mean(0)],
                "std": [round(float(v), 2) for v in w_te[m_te].std(0)]}
        report[f"{attribute}: decoder swaps"] = decoder_swaps(model, judge, data, i, attribute, d)
        report[f"{attribute}: what a transfer loses"] = transfer_losses(model, judge, data, i, attribute)
    for key, value in report.items():
        print(key, json.dumps(value))


if __name__ == "__main__":
    main()
