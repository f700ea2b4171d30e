"""The csvae command: fit with overrides, evaluate, repeat a run from its config, reproduce."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from csvae.cli import main

TOY = ["--config", "configs/toy/csvae.yaml", "--data.n_samples", "600", "--train.epochs", "2",
       "--model.hidden", "[16]"]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


@pytest.mark.slow
def test_fit_evaluate_and_repeat_from_saved_config(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["fit", *TOY, "--out", str(run), "--model.betas.entropy=5"]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["betas"]["entropy"] == 5.0 and saved["data"]["n_samples"] == 600
    assert main(["evaluate", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("recon_mse", "recon_r2", "elbo", "label_chance", "z_label_accuracy_linear",
                "z_label_accuracy_nonlinear", "w_label_accuracy", "per_attribute", "disentanglement"):
        assert key in metrics
    assert metrics["disentanglement"]["factors"] == ["label.label", "t", "height"]
    assert metrics["eval_precision"] == "32-true"  # vector models have no conv nets
    assert "disentanglement against label.label, t, height:" in capsys.readouterr().out
    assert (run / "latents.png").stat().st_size > 0
    again = tmp_path / "again"
    assert main(["fit", "--config", str(run / "config.yaml"), "--out", str(again)]) == 0
    assert (again / "config.yaml").read_text() == (run / "config.yaml").read_text()


@pytest.mark.parametrize("override,message", [
    (["--model.zdim", "3"], "unknown config key 'model.zdim'"),
    (["--optim.lr", "3"], "unknown config section 'optim'"),
    (["--model.z_dim", "0"], "model.z_dim must be positive"),
    (["--train.epochs", "two"], "train.epochs must be an integer"),
    (["--model.betas.kl_w", "-1"], "model.betas.kl_w must be non-negative"),
    (["--train.lr", ".nan"], "train.lr must be a finite number, got nan"),
    (["--train.adversary_lr", ".inf"], "train.adversary_lr must be a finite number, got inf"),
    (["--model.prior_scale_0", ".nan"], "model.prior_scale_0 must be a finite number"),
    (["--model.prior_mean_1", ".nan"], "model.prior_mean_1 must be a finite number"),
    (["--model.betas.entropy", ".inf"], "model.betas.entropy must be a finite number"),
    (["--train.device", "gpu"], "train.device must be cpu, cuda, cuda:N or auto, got 'gpu'"),
    (["--train.precision", "bogus"],
     "train.precision must be one of ['32-true', 'bf16-mixed', '16-mixed'], got 'bogus'"),
])
def test_bad_overrides_name_the_field(tmp_path, capsys, override, message):
    assert main(["fit", *TOY, "--out", str(tmp_path / "run"), *override]) == 1
    assert message in capsys.readouterr().err


def test_unknown_key_in_config_file(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name: csvae\n  z_size: 2\n")
    assert main(["fit", "--config", str(path), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "unknown key model.z_size" in err


@pytest.mark.parametrize("content,message", [
    (b"", "is empty; give at least one section"),
    (b"# only a comment\n", "is empty; give at least one section"),
    (b"train:\n  epochs: 2 # \xe9t\xe9\n", "is not UTF-8 text (byte 0xe9"),
    (b"train:\n  epochs: 2\n  lr: 0.1\n  epochs: 3\n", "is not valid YAML: key 'epochs' is given twice"),
])
def test_empty_or_non_utf8_config_file(tmp_path, capsys, content, message):
    """An empty file used to train the default config; a Latin-1 file gave a bare codec error; of a
    key given twice, YAML kept the last."""
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    assert main(["fit", "--config", str(path), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert f"config file {path} {message}" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_overwrite_with_a_bad_setting_keeps_the_finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["fit", *TOY, "--out", str(run)]) == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for bad in (["--train.precision", "bogus"], ["--train.lr", ".nan"], ["--train.device", "tpu"]):
        assert main(["fit", *TOY, "--out", str(run), "--overwrite", "--train.epochs", "3", *bad]) == 1
        assert "Traceback" not in capsys.readouterr().err
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_nan_weights_are_refused_and_nan_metrics_are_valid_json(tmp_path, capsys, caplog, monkeypatch):
    """NaN weights used to evaluate to a metrics.json with bare NaN, which is not JSON."""
    from csvae.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    assert main(["fit", *TOY, "--out", str(run)]) == 0
    good = (run / "model.pt").read_bytes()
    state = {k: v for k, v in load_checkpoint(run / "model.pt").items() if k not in ("format", "version")}
    name = next(k for k in state["model"] if k.startswith("decoder") and k.endswith("weight"))
    state["model"][name].fill_(float("nan"))
    save_checkpoint(state, run / "model.pt")
    assert main(["evaluate", str(run)]) == 1
    assert f"model.pt holds NaN or infinite weights (first in {name})" in capsys.readouterr().err
    assert not (run / "metrics.json").exists()

    (run / "model.pt").write_bytes(good)  # a metric may still be NaN (e.g. degenerate data): null
    import csvae.runs

    original = csvae.runs.evaluate_model
    monkeypatch.setattr(csvae.runs, "evaluate_model", lambda *a, **k: {**original(*a, **k), "recon_r2": float("nan"),
                                                                       "per_attribute": [{"x": float("inf")}]})
    with caplog.at_level("WARNING", logger="csvae.runs"):
        assert main(["evaluate", str(run)]) == 0
    text = (run / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    metrics = json.loads(text)
    assert metrics["recon_r2"] is None and metrics["per_attribute"] == [{"x": None}]
    assert "metrics recon_r2, per_attribute[0].x are NaN or infinite (written as null)" in caplog.text


def test_wrong_type_in_config_file(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  batch_size: [64]\n")
    assert main(["fit", "--config", str(path), "--out", str(tmp_path / "run")]) == 1
    assert "train.batch_size must be an integer" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_toy_writes_report_and_skips_finished_runs(tmp_path):
    out = tmp_path / "toy"
    assert main(["reproduce", "toy", "--out", str(out), "--seeds", "1"]) == 0
    report = (out / "report.md").read_text()
    assert "## swiss_roll" in report and "| csvae |" in report and "Targets on the swiss roll" in report
    assert "<table>" in (out / "report.html").read_text()
    figure = "runs/swiss_roll/csvae/seed0/latents.png"
    assert f"![csvae latents.png]({figure})" in report and (out / figure).exists()
    model_file = out / "runs" / "swiss_roll" / "csvae" / "seed0" / "model.pt"
    stamp = model_file.stat().st_mtime_ns
    assert main(["reproduce", "toy", "--out", str(out), "--seeds", "1"]) == 0
    assert model_file.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("args,message", [
    (["reproduce", "nope"], "unknown experiment 'nope'; choose one of"),
    (["reproduce", "tfd-expressions"], "needs --data-root"),
    (["reproduce", "toy", "--seeds", "0"], "--seeds must be at least 1"),
    (["reproduce", "toy", "--jobs", "0"], "--jobs must be at least 1, got 0"),
])
def test_reproduce_refuses_bad_requests(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path / "out")]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_every_ablation_variant_trains_and_evaluates(tmp_path):
    """Each documented choice, flipped, gives a valid config that trains, evaluates and plots."""
    from dataclasses import replace

    from csvae.configfile import with_overrides
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan
    from csvae.reproduce.tasks import run_job

    jobs = [j for j in plan(EXPERIMENTS["ablations"], tmp_path, 1, None) if j.data_label == "swiss_roll"]
    assert len(jobs) == 12
    threads = torch.get_num_threads()  # run_job sets one thread per worker process
    try:
        for job in jobs:
            small = with_overrides(job.config, [("data.n_samples", 400), ("train.epochs", 2)])
            metrics = run_job(replace(job, config=small))
            assert 0.0 <= metrics["w_label_accuracy"] <= 1.0, job.variant
            assert (Path(job.out) / "latents.png").stat().st_size > 0, job.variant  # drawn where it was evaluated
    finally:
        torch.set_num_threads(threads)


def test_the_demo_runs_the_swiss_roll_the_faces_and_celeba_once(tmp_path, monkeypatch):
    from collections import Counter

    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan

    monkeypatch.setenv("CSVAE_CELEBA_20K", str(tmp_path / "celeba"))
    jobs = plan(EXPERIMENTS["demo"], tmp_path / "demo", None, None)
    runs = Counter(j.data_label for j in jobs)
    assert runs == {"swiss_roll": 5, "synthetic_faces": 5, "celeba-glasses": 5}  # `reproduce toy` has the rest
    celeba = [j.config for j in jobs if j.data_label == "celeba-glasses"]
    assert {(c.data.root, c.data.image_size, c.data.balance) for c in celeba} == {(str(tmp_path / "celeba"), 32,
                                                                                    "weight")}


def test_the_celeba_experiment_runs_five_models_on_four_tasks_at_64_px_on_every_photo(tmp_path, monkeypatch):
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan

    monkeypatch.setenv("CSVAE_CELEBA_20K", str(tmp_path / "celeba20k"))
    jobs = plan(EXPERIMENTS["celeba"], tmp_path / "celeba", None, None)
    assert sorted({j.data_label for j in jobs}) == ["celeba-facialhair", "celeba-glasses", "celeba-glasses-facialhair",
                                                     "celeba-smiling"]
    assert sorted({j.variant for j in jobs}) == ["ccvae", "condvae", "condvae_info", "csvae", "vae"]
    assert len(jobs) == 20 and {j.seed for j in jobs} == {0}
    for job in jobs:
        data = job.config.data
        assert (data.image_size, data.balance, data.root) == (64, "weight", str(tmp_path / "celeba20k"))
        assert job.config.train.precision == "bf16-mixed" and job.config.model.conv_channels == [32, 64, 128]
    assert len(plan(EXPERIMENTS["celeba"], tmp_path / "c3", 3, None)) == 60  # --seeds 3: the headline table


def test_the_peers_run_in_toy_synthetic_faces_partly_labelled_and_celeba_peers_only(tmp_path, monkeypatch):
    from collections import Counter

    from csvae.config import MODEL_NAMES, PEERS
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan

    monkeypatch.setenv("CSVAE_CELEBA_20K", str(tmp_path / "celeba20k"))
    for name, runs in (("toy", 4 * 8 * 5), ("synthetic-faces", 8 * 3), ("partly-labelled", 3 * 8),
                       ("celeba-peers", 4 * 8)):
        jobs = plan(EXPERIMENTS[name], tmp_path / name, None, None)
        assert len(jobs) == runs and {j.variant for j in jobs} == set(MODEL_NAMES), name
    for name in ("demo", "celeba", "celeba-glasses", "tfd-expressions"):  # the demo keeps its 12 minutes
        assert not {v.label for p in EXPERIMENTS[name].parts for v in p.variants} & set(PEERS), name
    jobs = plan(EXPERIMENTS["partly-labelled"], tmp_path / "partly", None, None)
    fractions = Counter((j.data_label, j.config.data.labelled_fraction, j.config.data.name) for j in jobs)
    assert fractions == {("partly_labelled_1", 1.0, "synthetic_faces"): 8,
                         ("partly_labelled_0.2", 0.2, "synthetic_faces"): 8,
                         ("partly_labelled_0.05", 0.05, "synthetic_faces"): 8}
    assert {Path(j.out).relative_to(tmp_path / "partly").parts[:2] for j in jobs} == {
        ("runs", "partly_labelled_1"), ("runs", "partly_labelled_0.2"), ("runs", "partly_labelled_0.05")}


class InlinePool:
    """A worker pool that runs each task at once, in order (as ``apply_async``'s callbacks expect)."""

    def apply_async(self, function, args, callback, error_callback):
        try:
            out = function(*args)
        except Exception as err:  # noqa: BLE001 - handed to the caller as a pool would
            error_callback(err)
        else:
            callback(out)


def test_the_pool_runs_the_largest_waiting_task_first_and_each_evaluation_after_its_fit(monkeypatch):
    import csvae.reproduce.scheduler as reproduce

    calls = []
    costs = {"a": (True, 100), "b": (True, 50), "small": (True, 10), "vector": (False, 500)}
    monkeypatch.setattr(reproduce, "expected_cost", costs.get)
    def judge(job):
        calls.append(("judge", job))

    monkeypatch.setattr(reproduce, "JUDGES", (judge,))
    monkeypatch.setattr(reproduce, "fit_job", lambda job: calls.append(("fit", job)) or job != "vector")
    monkeypatch.setattr(reproduce, "evaluate_job", lambda job: calls.append(("evaluate", job)) or {})
    finished = list(reproduce.run_in_pool(InlinePool(), 1, [(judge, "faces")], ["vector", "small", "b", "a"]))
    assert sorted(finished) == ["a", "b", "small", "vector"]
    # an evaluation costs a fifth of its fit: a's (20) goes before the small fit (10), b's (10) after
    # it; image work before vector work; the vector run was evaluated before (its fit says so)
    assert calls == [("judge", "faces"), ("fit", "a"), ("fit", "b"), ("evaluate", "a"), ("fit", "small"),
                     ("evaluate", "b"), ("evaluate", "small"), ("fit", "vector")]

    def broken(job):
        raise ValueError(f"fit of {job} failed")

    monkeypatch.setattr(reproduce, "fit_job", broken)
    with pytest.raises(ValueError, match="fit of a failed"):
        list(reproduce.run_in_pool(InlinePool(), 2, [], ["a"]))


def test_face_ablations_flip_from_the_papers_2d_subspaces(tmp_path):
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan

    jobs = {j.variant: j for j in plan(EXPERIMENTS["ablations"], tmp_path, 1, None)
            if j.data_label == "synthetic_faces"}
    assert jobs["paper defaults"].config.model.w_dim == 2
    assert jobs["dim w_i = 1"].config.model.w_dim == 1 and jobs["dim w_i = 4"].config.model.w_dim == 4
    assert jobs["paper defaults"].config.data.n_samples == 4000
    assert jobs["paper defaults"].config.model.betas.kl_w == 1.0  # the paper's beta2, not the face preset's 8
    assert jobs["beta2 = 8 (face preset)"].config.model.betas.kl_w == 8.0
    assert jobs["paper defaults"].config.model.w_independence == 0.0  # our extension, on in the preset
    assert not jobs["paper defaults"].config.model.conv_film
    assert jobs["W independence 10 (ours)"].config.model.w_independence == 10.0


@pytest.mark.slow
def test_judge_fit_trains_caches_and_reports(tmp_path, capsys):
    out = tmp_path / "judges"
    args = ["judge", "fit", "--data", "synthetic_faces", "--n-samples", "400", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "judge for synthetic_faces at 32px" in printed and "test accuracy glasses" in printed
    assert "it reads 16 ground-truth factors" in printed and "nuisance.offset_x" in printed
    (file,) = out.iterdir()
    stamp = file.stat().st_mtime_ns
    assert main(args) == 0  # the cached judge is reused
    assert file.stat().st_mtime_ns == stamp


def test_judge_fit_refuses_vector_data(tmp_path, capsys):
    assert main(["judge", "fit", "--data", "swiss_roll", "--out", str(tmp_path)]) == 1
    assert "is not an image data set" in capsys.readouterr().err


def test_the_independence_experiment_runs_its_best_variant_over_more_seeds(tmp_path):
    from collections import Counter

    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan

    jobs = plan(EXPERIMENTS["independence"], tmp_path, None, None)
    seeds = Counter(j.variant for j in jobs)
    assert seeds["dim z = 1, adversary x5"] == 5 and seeds["paper defaults"] == 3 and len(seeds) == 11
    configs = {j.variant: j.config for j in jobs}
    assert configs["CLUB, beta4 = 10"].model.independence == "club"
    assert configs["HSIC, beta4 = 100"].model.betas.entropy == 100.0
    assert configs["adversary x5"].train.adversary_steps == 5
    assert {j.variant for j in plan(EXPERIMENTS["independence"], tmp_path, 1, None)} == set(seeds)
    assert len(plan(EXPERIMENTS["independence"], tmp_path, 1, None)) == 11  # --seeds overrides every variant


def test_reproduce_trains_one_judge_per_image_data_set_on_one_thread(tmp_path, monkeypatch):
    from dataclasses import replace

    import csvae.reproduce.tasks as tasks
    from csvae.configfile import with_overrides
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.planning import plan
    from csvae.reproduce.tasks import fit_judge, prepare_shared_data

    jobs = [j for j in plan(EXPERIMENTS["demo"], tmp_path, 1, None)
            if j.data_label in ("synthetic_faces", "swiss_roll")]
    small = [replace(j, config=with_overrides(j.config, [("data.n_samples", 200)])) for j in jobs]
    judged = prepare_shared_data(small)
    assert [j.data_label for _, j in judged] == ["synthetic_faces"]
    partly = [replace(j, config=with_overrides(j.config, [("data.n_samples", 200)]))
              for j in plan(EXPERIMENTS["partly-labelled"], tmp_path / "partly", 1, None)]
    assert len([j for _, j in prepare_shared_data(partly)]) == 1  # hidden labels: the same judge
    seen = []
    monkeypatch.setattr(tasks, "load_or_fit_judge",
                        lambda data, where: seen.append((data.x.shape[1:], where, torch.get_num_threads())))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        fit_judge(judged[0][1])
    finally:
        torch.set_num_threads(threads)
    assert seen == [((3, 32, 32), judged[0][1].judges, 1)]


def test_a_demo_without_the_celeba_subset_says_so_on_screen_and_in_the_report_header(tmp_path, monkeypatch, capsys):
    import json

    import csvae.reproduce.planning as planning
    from csvae.reproduce.experiments import EXPERIMENTS
    from csvae.reproduce.folder import prepare_experiment_folder

    monkeypatch.setattr(planning, "shared_root", lambda folder: None)
    experiment = EXPERIMENTS["demo"]
    jobs = planning.plan(experiment, tmp_path / "demo", None, None)
    assert {j.data_label for j in jobs} == {"swiss_roll", "synthetic_faces"}
    prepare_experiment_folder(tmp_path / "demo", experiment, jobs)
    description = json.loads((tmp_path / "demo" / "experiment.json").read_text())["description"]
    assert "celeba-glasses not run here: its data was not found" in description
    assert "celeba-glasses not run here" in capsys.readouterr().err
