"""A hand-written experiment folder for the tests of the report and the results page: the files
``csvae reproduce`` writes, with no training, no model and no data set."""

import json

import numpy as np

from csvae.config import RunConfig, model_config
from csvae.configfile import save_config
from csvae.datacard import DataCard, write_card
from csvae.rundir import ExperimentDir
from csvae.runfiles import save_arrays

VECTOR = {"recon_r2": 0.99, "elbo": -3.0, "bits_per_dim": 1.5, "label_chance": 0.5,
          "z_label_accuracy_linear": 0.55, "w_label_accuracy": 0.99}


def _card(name, x_shape, names):
    return DataCard(name=name, attribute_names=names, label_kind="binary", x_shape=x_shape, crop=None,
                    split_sizes={"train": 80, "valid": 0, "test": 20}, fingerprint="f" * 64)


def _image_arrays(csvae_model: bool, shade: int) -> dict:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    arrays = {"labels": np.array([[0.0], [1.0]] * 10, np.float32), "latent_z": rng.normal(size=(20, 4)),
              "inputs": images, "input_labels": np.array([[0.0], [1.0], [0.0], [1.0]], np.float32),
              "reconstructions": images // 2, "manipulated_0": np.full_like(images, shade)}
    if csvae_model:
        arrays.update(latent_w=rng.normal(size=(20, 2)), style_extent=np.array([-1.0, 4.0], np.float32),
                      style_0=np.zeros((2, 3, 3, 3, 32, 32), np.uint8),
                      transfer_0=np.zeros((2, 2, 3, 32, 32), np.uint8), transfer_donors_0=np.array([1, 3]))
    return arrays


def make_experiment(root, name="demo", images="faces", leakage=None) -> ExperimentDir:
    """Experiment ``name`` in folder ``root``: a toy part (vae, csvae; metrics only) and an image
    part on data set ``images`` (vae, csvae; arrays and metrics) of seed 0, and one toy run of seed 1
    that was never evaluated. ``leakage``: each variant's z_label_accuracy_nonlinear."""
    exp = ExperimentDir(root)
    parts = [{"data": "swiss_roll", "variants": ["vae", "csvae"]}, {"data": images, "variants": ["vae", "csvae"]}]
    runs = [{"data": d, "variant": v, "seed": 0} for d in ("swiss_roll", images) for v in ("vae", "csvae")]
    exp.root.mkdir()
    exp.write_manifest(name, "a hand-written experiment", parts,
                       [*runs, {"data": "swiss_roll", "variant": "csvae", "seed": 1}])
    leakage = leakage or {"vae": 0.9, "csvae": 0.6}
    for r in runs:
        run = exp.run(r["data"], r["variant"], 0)
        run.root.mkdir(parents=True)
        image = r["data"] == images
        save_config(RunConfig(model=model_config(name=r["variant"])), run.config)
        write_card(_card(r["data"], [3, 32, 32] if image else [3], ["smile"]), run.data_card)
        metrics = {"model": r["variant"], "data": r["data"], "seed": 0, **VECTOR,
                   "z_label_accuracy_nonlinear": leakage[r["variant"]]}
        run.evaluation.write_text(json.dumps(metrics))
        if image:
            save_arrays(_image_arrays(r["variant"] == "csvae", 40 if r["variant"] == "vae" else 200), run.arrays)
    return exp
