"""The report is built from an experiment folder's files alone: written here by hand, with no
training, no model and no data set; the layout, the manifest's checks and reproduce's refusals."""

import json

import pytest
from experiment_helpers import make_experiment

from csvae.cli import main
from csvae.config import ConfigError, RunConfig, model_config
from csvae.configfile import save_config
from csvae.report import build_report
from csvae.rundir import ExperimentDir, ManifestError


@pytest.fixture
def experiment(tmp_path):
    """A toy part (vae, csvae; metrics only) and an image part (vae, csvae; arrays and metrics) of
    seed 0, and one toy run of seed 1 that was never evaluated (``make_experiment``)."""
    return make_experiment(tmp_path / "exp")


def test_the_report_is_built_from_files_alone(experiment, monkeypatch):
    import csvae.api
    import csvae.data

    def forbidden(*args, **kwargs):
        raise AssertionError("the report must not load a model or a data set")

    monkeypatch.setattr(csvae.api, "load", forbidden)
    monkeypatch.setattr(csvae.data, "load_dataset", forbidden)
    text = build_report(experiment.root).read_text()
    summary = text[text.index("## Summary"):text.index("## swiss_roll")]
    assert "| swiss_roll | z is (more) label-free in CSVAE | **Supported** | nonlinear leakage above chance: " \
           "CSVAE 0.100, VAE 0.400 |" in summary
    assert "Not evaluated yet, so not in any table: runs/swiss_roll/csvae/seed1." in summary
    assert text.index("## swiss_roll") < text.index("## faces")  # the manifest's order
    for figure in ("runs/faces/csvae/seed0/latents.png", "runs/faces/vae/seed0/reconstructions.png",
                   "figures/faces_manipulate_smile.png", "runs/faces/csvae/seed0/figures/styles_smile.png",
                   "runs/faces/csvae/seed0/figures/transfer_smile.png"):
        assert f"]({figure})" in text and (experiment.root / figure).stat().st_size > 0, figure
    assert "[csvae, seed 0](runs/faces/csvae/seed0/config.yaml)" in text
    assert "<table>" in experiment.report_html.read_text()


def test_a_report_is_rebuilt_after_its_figures_are_deleted(experiment, capsys):
    assert main(["report", str(experiment.root)]) == 0
    figure = experiment.root / "figures" / "faces_manipulate_smile.png"
    first = experiment.report.read_text()
    figure.unlink()
    (experiment.root / "runs/faces/csvae/seed0/latents.png").unlink()
    assert main(["report", str(experiment.root)]) == 0
    assert figure.exists() and (experiment.root / "runs/faces/csvae/seed0/latents.png").exists()
    assert experiment.report.read_text() == first
    assert "report.md" in capsys.readouterr().out


def test_without_redrawing_the_report_draws_only_missing_figures(experiment):
    build_report(experiment.root)
    kept = experiment.root / "runs/faces/vae/seed0/latents.png"
    gone = experiment.root / "runs/faces/csvae/seed0/latents.png"
    kept.write_bytes(b"drawn by a worker")  # stands for a figure drawn when the run was evaluated
    gone.unlink()
    text = build_report(experiment.root, redraw_figures=False).read_text()
    assert kept.read_bytes() == b"drawn by a worker"
    assert gone.stat().st_size > 0 and "](runs/faces/csvae/seed0/latents.png)" in text
    build_report(experiment.root)  # csvae report: every figure drawn again
    assert kept.read_bytes() != b"drawn by a worker"


def test_the_comparison_grid_takes_each_runs_own_manipulation(experiment):
    from PIL import Image

    build_report(experiment.root)
    with Image.open(experiment.root / "figures" / "faces_manipulate_smile.png") as image:
        assert image.size[0] > 200  # input, recon, G vae, G csvae


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("runs"), "is malformed"),
    (lambda m: m.update(format="other"), "is not a csvae experiment manifest"),
    (lambda m: m.update(version=99), "has version 99"),
    (lambda m: m["runs"].append({"data": "..", "variant": "x", "seed": 0}), "does not name a folder inside"),
    (lambda m: m["runs"].append({"data": "d", "variant": "../../x", "seed": 0}), None),
])
def test_a_bad_manifest_is_named(experiment, change, message, capsys):
    manifest = json.loads(experiment.manifest.read_text())
    change(manifest)
    experiment.manifest.write_text(json.dumps(manifest))
    if message is None:  # a variant label is made a folder name: "/" cannot climb out
        assert experiment.run("d", "../../x", 0).root.parent.parent == experiment.root / "runs" / "d"
        return
    with pytest.raises(ManifestError, match=message):
        build_report(experiment.root)
    assert main(["report", str(experiment.root)]) == 1
    assert "experiment.json" in capsys.readouterr().err


def test_report_of_a_folder_without_manifest_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "experiment.json is missing" in capsys.readouterr().err


def test_reproduce_never_replaces_a_users_own_report(tmp_path, capsys):
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.folder import prepare_experiment_folder
    from csvae.reproduce.planning import plan

    (tmp_path / "report.md").write_text("my notes")
    with pytest.raises(ConfigError, match="holds a report.md or report.html that no `csvae reproduce` wrote"):
        prepare_experiment_folder(tmp_path, EXPERIMENTS["toy"], plan(EXPERIMENTS["toy"], tmp_path, 1, None))
    assert (tmp_path / "report.md").read_text() == "my notes"
    other = tmp_path / "other"
    prepare_experiment_folder(other, EXPERIMENTS["toy"], plan(EXPERIMENTS["toy"], other, 1, None))
    assert ExperimentDir(other).read_manifest()["name"] == "toy"
    with pytest.raises(ConfigError, match="holds the experiment 'toy'"):
        prepare_experiment_folder(other, EXPERIMENTS["demo"], plan(EXPERIMENTS["demo"], other, 1, None))


def test_a_damaged_run_costs_its_figures_not_the_report(experiment):
    arrays = experiment.run("faces", "csvae", 0).arrays
    arrays.write_bytes(b"not a zip")
    text = build_report(experiment.root).read_text()
    assert "(the figures of csvae cannot be drawn:" in text and "arrays.npz is not a readable arrays file" in text
    assert "figures/faces_manipulate_smile.png" in text  # the other run's grid is still drawn


def test_each_part_shows_a_disentanglement_table(experiment):
    scores = {"dci_disentanglement": 0.8, "dci_completeness": 0.7, "mig": 0.25, "sap": None}
    for variant, parts in (("vae", {"z": scores, "all": scores}), ("csvae", {"z": scores, "w.smile": scores})):
        run = experiment.run("swiss_roll", variant, 0)
        metrics = json.loads(run.evaluation.read_text())
        parts = {**parts, "all": {**scores, "dci_informativeness": 0.95, "dci_informativeness_r2": 0.5}}
        metrics["disentanglement"] = {"factors": ["label.smile", "t"], "discrete": [True, False], "n_train": 100,
                                      "n_test": 50, "seconds": 1.0, "parts": parts}
        run.evaluation.write_text(json.dumps(metrics))
    text = build_report(experiment.root).read_text()
    section = text[text.index("## swiss_roll"):text.index("## faces")]
    assert "against the factors label.smile, t; 100 train / 50 test codes" in section
    assert "| csvae | w.smile | 0.800 | 0.700 | – | – | 0.250 | – |" in section
    assert "| vae | all | 0.800 | 0.700 | 0.950 | 0.500 | 0.250 | – |" in section
    assert "Disentanglement" not in text[text.index("## faces"):]  # no run there has the scores


def _part(manipulation, diversity, leak, chance=0.5):
    return {0: {"label_chance": chance, "z_label_accuracy_nonlinear": chance + leak,
                "z_label_balanced_accuracy_nonlinear": 0.5 + leak,
                "manipulation": {"mean_accuracy": manipulation, "diversity": {"a: 0->1": {"feature": diversity}}}}}


def test_the_report_says_whether_csvae_or_ccvae_does_better():
    from csvae.report import claims

    runs = {"csvae": _part(0.99, 0.5, 0.05), "ccvae": _part(0.80, 0.2, 0.30), "vae": _part(0.7, 0.0, 0.4)}
    by_text = {c.text: c for c in claims(runs, image=True)}
    assert by_text["CSVAE manipulates more accurately than CCVAE"].supported
    assert "CSVAE 0.990, CCVAE 0.800" in by_text["CSVAE manipulates more accurately than CCVAE"].evidence
    assert by_text["CSVAE's z is freer of the label than CCVAE's style part"].supported
    assert by_text["CSVAE draws more diverse attribute styles than CCVAE"].supported
    runs["ccvae"] = _part(0.995, 0.9, 0.01)
    by_text = {c.text: c for c in claims(runs, image=True)}
    assert not any(by_text[t].supported for t in by_text if "CCVAE" in t)
    imbalanced = {v: _part(0.9, 0.1, leak, chance=0.9) for v, leak in (("csvae", 0.02), ("ccvae", 0.2))}
    freer = "CSVAE's z is freer of the label than CCVAE's style part"
    leak = {c.text: c for c in claims(imbalanced, image=False)}[freer]
    assert leak.supported and "balanced accuracy of the nonlinear probe" in leak.evidence


def test_the_report_names_our_extensions_where_a_run_uses_them(experiment):
    run = experiment.run("faces", "csvae", 0)
    save_config(RunConfig(model=model_config(name="csvae", w_independence=10.0)), run.config)
    text = build_report(experiment.root).read_text()
    assert ("csvae here is the paper's model plus our W-independence term (`model.w_independence` 10)"
            in text)
    assert text.count("paper's model plus our") == 1  # the toy csvae and the baselines use none


def test_an_unreadable_config_is_named_and_costs_only_its_own_line(experiment):
    experiment.run("faces", "csvae", 0).config.write_text("model: [unclosed")
    text = build_report(experiment.root).read_text()
    assert "(the config of csvae, seed 0 cannot be read:" in text and "is not valid YAML" in text
    assert "(the figures of csvae cannot be drawn:" in text
    assert "figures/faces_manipulate_smile.png" in text  # the rest of the report is still there


def _set_metric(experiment, data, variant, **values):
    run = experiment.run(data, variant, 0)
    metrics = json.loads(run.evaluation.read_text())
    run.evaluation.write_text(json.dumps({**metrics, **values}))
    return run


def test_a_null_metric_is_a_dash_and_its_claim_cannot_be_judged(experiment):
    """evaluate writes a NaN or infinite metric as null; the report used to fail on it with a
    TypeError, and a NaN judged a claim "Not supported"."""
    _set_metric(experiment, "swiss_roll", "csvae", recon_r2=None, z_label_accuracy_nonlinear=None)
    text = build_report(experiment.root).read_text()
    assert "| csvae | – |" in text and "evaluate writes a NaN or infinite metric as null" in text
    assert "**Cannot be judged** | cannot be judged: the nonlinear leakage of csvae is null" in text


@pytest.mark.parametrize("value, shown", [("high", "'high'"), ([1], "[1]"), ({}, "{}"), (True, "True")])
def test_a_metric_of_the_wrong_type_costs_only_its_run(experiment, value, shown):
    """A string, list, {} or boolean where a number belongs used to traceback (booleans showed as
    1.000); the run is left out, naming the file and the key, and the others are reported."""
    run = _set_metric(experiment, "swiss_roll", "csvae", elbo=value)
    text = build_report(experiment.root).read_text()
    assert f"- {run.evaluation}: elbo must be a number or null, got {shown}" in text
    assert "| vae | 0.990 |" in text and "| csvae | 0.990 |" in text  # the faces csvae run is still there


def test_a_nested_value_of_the_wrong_type_is_named_by_its_key(experiment):
    _set_metric(experiment, "swiss_roll", "csvae", disentanglement={
        "factors": ["label.smile"], "discrete": [True], "n_train": 1, "n_test": 1,
        "parts": {"z": {"mig": "x", "sap": 0.1}}})
    run = _set_metric(experiment, "swiss_roll", "vae", elbo=None)
    metrics = json.loads(run.evaluation.read_text())
    del metrics["label_chance"]
    run.evaluation.write_text(json.dumps(metrics))
    text = build_report(experiment.root).read_text()
    assert "csvae/seed0/metrics.json: disentanglement.parts.z.mig must be a number or null, got 'x'" in text
    assert "| vae | 0.990 | – |" in text  # a missing key and a null: dashes, the run stays


@pytest.mark.parametrize("damage", ["fifo", "zero", "deep", "nan"])
def test_a_metrics_file_that_is_not_a_bounded_json_file_is_named(experiment, damage):
    """A FIFO named metrics.json hung the report, /dev/zero grew without bound, 100,000 nested
    lists overflowed the recursion; each costs only its run now."""
    import os

    path = experiment.run("swiss_roll", "csvae", 0).evaluation
    path.unlink()
    if damage == "fifo":
        os.mkfifo(path)
    elif damage == "zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_text("[" * 100_000 + "]" * 100_000 if damage == "deep" else '{"elbo": NaN}')
    reason = {"fifo": "is not a regular file (it is a FIFO)", "zero": "leads to /dev/zero, outside",
              "deep": "nests 100000 levels deep", "nan": "it holds NaN, which JSON does not have"}[damage]
    text = build_report(experiment.root).read_text()
    assert str(path) in text and reason in text


def test_a_run_folder_that_leads_outside_the_experiment_is_not_followed(experiment, tmp_path):
    """report followed a run folder symlinked outside the experiment folder and drew latents.png there."""
    import shutil

    run = experiment.run("faces", "vae", 0)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run.root, elsewhere)
    run.root.symlink_to(elsewhere, target_is_directory=True)
    text = build_report(experiment.root).read_text()
    assert "a symlink may not leave its folder" in text
    assert not (elsewhere / "latents.png").exists()


def test_experiment_json_whose_parts_and_runs_disagree_is_refused(experiment):
    """Runs of no part were silently left out of every table."""
    manifest = json.loads(experiment.manifest.read_text())
    manifest["parts"] = manifest["parts"][:1]
    experiment.manifest.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"experiment.json: its parts and runs disagree: run .*'faces'"):
        build_report(experiment.root)


def test_report_never_replaces_a_users_own_report_md(experiment):
    """report.md was replaced by `csvae report` and `csvae reproduce` though it was the user's own."""
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.folder import prepare_experiment_folder
    from csvae.reproduce.planning import plan

    experiment.report.write_text("# csvae reproduction: demo\n\nan older csvae's report, without a stamp\n")
    experiment.report_html.write_text("<!doctype html><html><head><meta charset='utf-8'><title>csvae: demo</title>")
    build_report(experiment.root)  # an older csvae's report is replaced
    build_report(experiment.root)  # and its own
    experiment.report.write_text(experiment.report.read_text() + "my notes\n")
    with pytest.raises(ConfigError, match="report.md is not a report csvae wrote, or it was edited since"):
        build_report(experiment.root)
    assert experiment.report.read_text().endswith("my notes\n")
    toy = ExperimentDir(experiment.root.parent / "toy")
    prepare_experiment_folder(toy.root, EXPERIMENTS["toy"], plan(EXPERIMENTS["toy"], toy.root, 1, None))
    toy.report_html.write_text("<p>mine</p>")
    with pytest.raises(ConfigError, match="report.html is not a report csvae wrote"):
        prepare_experiment_folder(toy.root, EXPERIMENTS["toy"], plan(EXPERIMENTS["toy"], toy.root, 1, None))
    assert toy.report_html.read_text() == "<p>mine</p>"


def test_report_html_links_only_safe_schemes_under_a_csp(experiment):
    """A javascript: link in experiment.json's description became a live link on a page without CSP."""
    manifest = json.loads(experiment.manifest.read_text())
    manifest["description"] = ("[click](javascript:alert(1)) [tab](java\tscript:alert(2)) "
                               "[paper](https://arxiv.org/abs/1812.06190) ![x](data:image/svg+xml,<svg>)")
    experiment.manifest.write_text(json.dumps(manifest))
    page = build_report(experiment.root).with_name("report.html").read_text()
    assert 'href="javascript' not in page and 'href="java\tscript' not in page and "<img alt=\"x\"" not in page
    assert '<a href="https://arxiv.org/abs/1812.06190">paper</a>' in page
    assert "http-equiv='Content-Security-Policy' content=\"default-src 'none';" in page


def test_a_metrics_file_that_leads_outside_the_experiment_is_not_read(experiment, tmp_path):
    run = experiment.run("swiss_roll", "csvae", 0)
    outside = tmp_path / "metrics.json"
    outside.write_text(run.evaluation.read_text())
    run.evaluation.unlink()
    run.evaluation.symlink_to(outside)
    text = build_report(experiment.root).read_text()
    assert f"the file {run.evaluation} leads to {outside}" in text


def test_report_refuses_an_experiment_folder_another_process_writes(experiment, capsys):
    """`csvae report` (or a second reproduce) beside a running reproduce: one writer per folder."""
    from test_folders import hold_lock

    holder = hold_lock(experiment.root)
    try:
        assert main(["report", str(experiment.root)]) == 1
    finally:
        holder.kill()
        holder.wait()
    assert f"the experiment folder {experiment.root} is in use by another csvae process (PID {holder.pid} " \
           in capsys.readouterr().err
    assert not experiment.report.exists()
