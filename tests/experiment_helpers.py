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


def manipulation_metrics(accuracy: float, diversity: float, half: float = 0.02) -> dict:
    """A run's "manipulation" metrics: one direction ("smile: 0->1") at ``accuracy`` and judge-feature
    ``diversity``, each with a 95% interval of half-width ``half``."""
    direction = {"accuracy": accuracy, "ci_low": accuracy - half, "ci_high": accuracy + half, "n": 10,
                 "preserved_accuracy": None, "recon_distance": 0.1}
    return {"judge": {"dataset": "faces", "test_accuracy": {"smile": 0.99}}, "style": "sample",
            "directions": {"smile: 0->1": direction}, "mean_accuracy": accuracy,
            "diversity": {"smile: 0->1": {"n": 10, "pixel": diversity / 10, "feature": diversity,
                                          "feature_ci_low": diversity - half, "feature_ci_high": diversity + half}}}


def make_experiment(root, name="demo", images="faces", leakage=None, variants=("vae", "csvae"),
                    manipulation=None) -> ExperimentDir:
    """Experiment ``name`` in folder ``root``: a toy part (metrics only) and an image part on data
    set ``images`` (arrays and metrics) of ``variants``, seed 0, and one toy run of seed 1 that was
    never evaluated. ``leakage``: each variant's z_label_accuracy_nonlinear; ``manipulation``: each
    variant's (accuracy, diversity) on the image part (``manipulation_metrics``; None: none)."""
    exp = ExperimentDir(root)
    parts = [{"data": d, "variants": list(variants)} for d in ("swiss_roll", images)]
    runs = [{"data": d, "variant": v, "seed": 0} for d in ("swiss_roll", images) for v in variants]
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
        if image and manipulation:
            metrics["manipulation"] = manipulation_metrics(*manipulation[r["variant"]])
        run.evaluation.write_text(json.dumps(metrics))
        if image:
            save_arrays(_image_arrays(r["variant"] == "csvae", 40 if r["variant"] == "vae" else 200), run.arrays)
    return exp
