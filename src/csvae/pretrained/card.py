"""A shipped model's card: what it is, what it was trained on and how, how well it does on its
test split, its limits and licence. Built from a finished, evaluated run folder (``card_of_run``),
kept as JSON (``card.json``, read by ``csvae.pretrained.card``) and as Markdown (``card.md``,
``csvae.pretrained.markdown``). ``check_card`` refuses a card with a field missing."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Optional, Sequence

from csvae.data.checks import DataError
from csvae.models import MODEL_TITLES
from csvae.rundir import RunDir
from csvae.runs import read_versions

FORMAT, VERSION = "csvae-model-card", 1
REQUIRED = {
    "": ("format", "version", "name", "model", "summary", "data", "training", "metrics", "check", "weights",
         "limits", "licence"),
    "data": ("name", "split", "split_sizes", "attributes", "label_kind", "image_size", "crop", "fingerprint"),
    "training": ("command", "config", "commit", "versions", "time", "hardware"),
    "metrics": ("split", "recon_r2", "manipulation", "mean_accuracy", "preservation", "realism"),
    "check": ("split", "rows", "metrics", "float32_metrics", "tolerance"),
    "weights": ("file", "sha256", "bytes", "dtype"),
}
"""The fields every card has (section -> keys; "" is the top level). A value may be None only where
the card says why (``unknown``-style text) or the metric does not exist for the data."""
UNKNOWN = "unknown"

NONCOMMERCIAL = (
    "CelebA is available for non-commercial research purposes only (the CelebA agreement). These weights were "
    "learnt from CelebA images, so use them, and anything made with them, for non-commercial research only; "
    "csvae's MIT licence covers the code, not these weights. arrays.npz beside them holds a few CelebA test images "
    "under the same terms. The faces are of celebrities: do not use edits to mislead about a real person.")
GENERATED = ("Trained on faces that csvae draws itself (no third-party images or people): the weights, like csvae, "
             "are under the MIT licence.")
OTHER = ("The licence of the data it was trained on applies to these weights; check it before you use them. "
         "csvae's MIT licence covers the code, not what was learnt from the data.")


class CardError(DataError):
    """A card that is incomplete or a run folder that cannot give one; the message names the file."""


def licence_note(data_name: str) -> str:
    if data_name.startswith("celeba"):
        return NONCOMMERCIAL
    return GENERATED if data_name == "synthetic_faces" else OTHER


def training_time(metrics_csv: Path) -> str:
    """Training's wall-clock time from metrics.csv's timestamps: first to last logged row, scaled by
    steps to the whole run (the first window is not timed); a resumed run's pauses count too."""
    try:
        with metrics_csv.open(encoding="utf-8", newline="") as handle:
            rows = [(int(r["step"]), float(r["time"])) for r in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError, TypeError):
        return f"{UNKNOWN} ({metrics_csv.name} is missing or has no step and time columns)"
    if len(rows) < 2 or rows[-1][0] <= rows[0][0]:
        return f"{UNKNOWN} ({metrics_csv.name} has fewer than two logged steps)"
    (s0, t0), (s1, t1) = rows[0], rows[-1]
    seconds = (t1 - t0) * s1 / (s1 - s0)
    took = f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
    return (f"{took} for {s1} steps (wall clock from {metrics_csv.name}'s timestamps, scaled from "
            f"steps {s0}..{s1} to the whole run)")


def command_of(run: RunDir) -> str:
    """The command that trained ``run``: ``csvae reproduce NAME`` when it lies in an experiment
    folder (EXP/runs/DATA/VARIANT/seedN, named by EXP/experiment.json), else the ``csvae fit`` that
    repeats it from its config.yaml (what first trained it is not recorded)."""
    from csvae.rundir import ExperimentDir, ManifestError

    parents = run.root.resolve().parents
    if len(parents) > 3 and ExperimentDir(parents[3]).manifest.is_file():
        experiment = ExperimentDir(parents[3])
        try:
            name = experiment.read_manifest()["name"]
        except ManifestError:
            name = None
        if name:
            return (f"csvae reproduce {name} --out {experiment.root.name}  (this model: the run "
                    f"{run.root.resolve().relative_to(experiment.root)})")
    return f"csvae fit --config config.yaml --out {run.root.name}  (config.yaml: the config below, which repeats it)"


def hardware_text(versions: Optional[dict], config: dict, given: Optional[str]) -> str:
    """The hardware: ``given``, else versions.json's ``hardware`` (recorded by fit since this
    csvae), else unknown, with the device and precision the config asked for."""
    train = config.get("train", {})
    asked = f"train.device {train.get('device')}, train.devices {train.get('devices')}, " \
            f"precision {train.get('precision')}"
    if given:
        return f"{given} ({asked})"
    recorded = (versions or {}).get("hardware")
    if recorded:
        return f"{recorded} ({asked})"
    return f"{UNKNOWN}: versions.json records no hardware ({asked})"


def test_metrics(metrics: dict) -> dict:
    """The card's test metrics from a run's metrics.json: recon R², bits per dim, manipulation
    per direction (judge accuracy with its 95 % interval, and the label judge's preservation of the
    other attributes), the attribute judge's preservation and realism (CelebA), and on synthetic
    faces the ground-truth style scores when present."""
    man = metrics.get("manipulation") or {}
    directions = {name: {key: row.get(key) for key in ("n", "accuracy", "ci_low", "ci_high", "preserved_accuracy")}
                  for name, row in (man.get("directions") or {}).items()}
    attributes = metrics.get("attributes") or {}
    preservation = attributes.get("preservation")
    return {"split": man.get("split", "test"), "recon_r2": metrics.get("recon_r2"),
            "bits_per_dim": metrics.get("bits_per_dim"), "manipulation": directions,
            "mean_accuracy": man.get("mean_accuracy"),
            "judge": man.get("judge", {}).get("test_accuracy"),
            "preservation": None if preservation is None else {
                name: None if row is None else row.get("mean") for name, row in preservation.items()},
            "preserved_attributes": attributes.get("preserved_attributes"),
            "mean_preservation": attributes.get("mean_preservation"),
            "realism": attributes.get("realism"),
            "w_label_accuracy": metrics.get("w_label_accuracy")}


def limits_of(card_data: dict, model: str, extra: Sequence[str]) -> list[str]:
    """Known limits: what every shipped model shares, then the exporter's own (``extra``)."""
    size = card_data["image_size"]
    crop = card_data["crop"]
    out = [f"It sees {size[1]}x{size[2]} px images: a photo is cut to the centred square "
           f"{'of ' + str(crop) + ' px ' if crop else ''}and resized, so the face must fill and be centred in it as in "
           f"{card_data['name']}'s images (aligned, frontal); other framings give poor reconstructions and edits.",
           f"It knows only the attributes {', '.join(card_data['attributes'])}; everything else about a face is "
           f"carried by its code z and may change a little in an edit (see the preservation numbers).",
           "Manipulation accuracies are a classifier's (the judge's) opinion of the edits, on the test split of the "
           "same data; on photos unlike the training data they will be lower.",
           "Labels of a new photo are inferred by the model (docs/manipulation.md); pass --current when you know them."]
    if model in ("vae", "condvae", "condvae_info"):
        out.append("It has no attribute subspace: an edit is deterministic (VAE: a shift between the class means of "
                   "z; CondVAE, CondVAE-info: decoding with the new label), so it shows one style of the attribute "
                   "and cannot transfer one (docs/models.md).")
    return out + list(extra)


def card_of_run(run_dir: str | os.PathLike, name: str, check: dict, weights: dict, *,
                command: Optional[str] = None, hardware: Optional[str] = None,
                limits: Sequence[str] = ()) -> dict:
    """The card of the finished, evaluated run in ``run_dir`` shipped as ``name``; ``check`` the
    slice metrics (``csvae.pretrained.check``), ``weights`` {"file", "sha256", "bytes", "dtype"}.
    CardError naming the file when the run has no metrics.json (evaluate it first) or data card."""
    import yaml

    run = RunDir(Path(run_dir))
    for path, how in ((run.evaluation, "csvae evaluate"), (run.config, "csvae fit"), (run.data_card, "csvae fit")):
        if not path.is_file():
            raise CardError(f"{path} is missing: a shipped model needs a finished, evaluated run ({how} writes it)")
    metrics = json.loads(run.evaluation.read_text(encoding="utf-8"))
    config = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    data = json.loads(run.data_card.read_text(encoding="utf-8"))
    versions = read_versions(run.versions)
    card_data = {"name": data["name"], "split": "test", "split_sizes": data["split_sizes"],
                 "attributes": data["attribute_names"], "label_kind": data["label_kind"],
                 "image_size": data["x_shape"], "crop": data.get("crop"), "fingerprint": data["fingerprint"],
                 "root": config.get("data", {}).get("root")}
    model = config["model"]["name"]
    what = ", ".join(card_data["attributes"])
    return {
        "format": FORMAT, "version": VERSION, "name": name, "model": model,
        "summary": f"{MODEL_TITLES.get(model, model)} on {card_data['name']} at {data['x_shape'][1]} px: changes "
                   f"{what}",
        "data": card_data,
        "training": {"command": command or command_of(run),
                     "config": config,
                     "commit": (versions or {}).get("commit") or f"{UNKNOWN} (versions.json records none)",
                     "versions": versions or f"{UNKNOWN} (the run has no versions.json)",
                     "time": training_time(run.metrics), "hardware": hardware_text(versions, config, hardware)},
        "metrics": test_metrics(metrics),
        "check": check, "weights": weights,
        "limits": limits_of(card_data, model, limits), "licence": licence_note(card_data["name"]),
    }


def check_card(card: dict, source: str = "the card") -> dict:
    """``card`` when every field of ``REQUIRED`` is there (a CardError naming ``source`` and the
    missing fields otherwise)."""
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CardError(f"{source} is not a csvae model card (no 'format': {FORMAT!r})")
    missing = []
    for section, keys in REQUIRED.items():
        node = card if not section else card.get(section)
        if not isinstance(node, dict):
            missing.append(section)
            continue
        missing += [f"{section}.{k}" if section else k for k in keys if k not in node]
    if missing:
        raise CardError(f"{source} lacks {', '.join(missing)}")
    return card
