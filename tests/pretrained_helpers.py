"""A tiny trained synthetic-face run with a metrics.json, for the pretrained-model tests."""

import dataclasses
import json

from csvae.api import load
from csvae.configfile import load_config
from csvae.evaluate.vector import reconstruction_metrics
from csvae.rundir import RunDir
from csvae.runs import fit_run

TINY = dict(conv_channels=[8, 16, 32], conv_dense=32, head_hidden=16, adversary_hidden=[16])


def tiny_evaluated_run(root, out, model_name="csvae"):
    """Train the synthetic-faces preset's ``model_name`` with tiny nets for one epoch on 300 faces
    and write a metrics.json shaped as ``csvae evaluate`` writes it: recon R² measured, the judged
    numbers made up (no judge is trained here), so a card can be built from the folder."""
    config = load_config(root / "configs" / "synthetic_faces" / f"{model_name}.yaml")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **TINY),
                                 data=dataclasses.replace(config.data, n_samples=300),
                                 train=dataclasses.replace(config.train, epochs=1, log_every=1, checkpoint_every=1000))
    fit_run(config, out)
    model = load(out)
    from csvae.data import load_dataset

    x, y = load_dataset(config.data).part("test")
    names = model.data_card.attribute_names
    directions = {f"{n}: {s}->{1 - s}": {"attribute": n, "source": s, "target": 1 - s, "n": 10,
                                         "accuracy": 0.5 + i / 20, "ci_low": 0.4, "ci_high": 0.6, "preserved": {},
                                         "preserved_accuracy": 0.9, "recon_distance": 0.1}
                  for i, (n, s) in enumerate((n, s) for n in names for s in (0, 1))}
    metrics = {"model": model_name, "data": "synthetic_faces", **reconstruction_metrics(model, x, y),
               "bits_per_dim": 5.0, "manipulation": {"split": "test", "directions": directions, "mean_accuracy": 0.6,
                                                     "judge": {"test_accuracy": {n: 0.99 for n in names}}}}
    RunDir(out).evaluation.write_text(json.dumps(metrics))
    return out


def tiny_registry(root, tmp, name):
    """A registry folder in ``tmp`` shipping ``name``, exported from a tiny evaluated run; returns
    (registry folder, run folder)."""
    from csvae.pretrained.export import export_run

    run = tiny_evaluated_run(root, tmp / "run")
    export_run(run, name, root=tmp / "registry", command="csvae fit --config synthetic_faces/csvae --out runs/tiny",
               limits=["a test model: one epoch on 300 faces"])
    return tmp / "registry", run
