"""A newcomer's first commands (issue 26): presets by name from any folder, run folders that work
from any folder, the numpy API, help texts, versions recorded, small-data warnings, reproduce --quick."""

import dataclasses
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import csvae
from csvae.cli import main, parser
from csvae.config import ConfigError, DataConfig, RunConfig
from csvae.configfile import load_config
from csvae.data import load_dataset
from csvae.presets import preset_names, preset_path, resolve_root
from csvae.runs import fit_run, run_data

from fixtures_images import make_folder
from run_helpers import untrained_run


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = ["--train.epochs", "1", "--data.n_samples", "200", "--train.log_every", "1000"]


def test_a_preset_by_name_trains_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", "toy/vae", "--out", "run", *TINY]) == 0
    assert load_config(tmp_path / "run" / "config.yaml").model.name == "vae"
    assert main(["fit", "--config", "toy/condvae.yaml", "--out", "run2", *TINY]) == 0


def test_an_unknown_preset_lists_the_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", "toy/nope", "--out", "run"]) == 1
    err = capsys.readouterr().err
    assert "no config file or preset named 'toy/nope'" in err and "celeba/csvae" in err and "toy/csvae" in err
    assert not (tmp_path / "run").exists()


def test_presets_are_listed_with_their_first_comment(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == preset_names()
    assert "toy/csvae" in preset_names() and "celeba/csvae" in preset_names()
    assert any(line.startswith("toy/csvae") and "swiss roll" in line for line in out)


def test_fit_without_config_says_which_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--out", "run", *TINY]) == 0
    assert "no --config given, so it trains the preset toy/csvae" in capsys.readouterr().err
    assert load_config(tmp_path / "run" / "config.yaml").model == load_config(preset_path("toy/csvae")).model


def test_a_presets_relative_root_is_found_in_the_working_folder_then_the_clone(tmp_path, monkeypatch):
    clone, work = tmp_path / "clone", tmp_path / "work"
    (clone / "data").mkdir(parents=True)
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr("csvae.presets.clone_root", lambda: clone)
    assert resolve_root("data") == str((clone / "data").resolve())
    (work / "data").mkdir()
    assert resolve_root("data") == str((work / "data").resolve())
    assert resolve_root("elsewhere") == str((work / "elsewhere").resolve())


def test_the_celeba_preset_reads_its_data_from_any_folder(tmp_path, monkeypatch):
    from csvae.presets import load_named_config

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celeba-20k"
    monkeypatch.chdir(tmp_path)
    config, source = load_named_config("celeba/csvae")
    assert source == "preset celeba/csvae"
    if shared.is_dir():  # the clone's ../shared/data/celeba-20k
        assert config.data.root == str(shared.resolve())


def _folder_run(tmp_path, monkeypatch):
    """A CondVAE run on a folder of images, trained from tmp_path with the relative root "data"."""
    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "data", n=12)
    config = RunConfig(model=dataclasses.replace(
        load_config(preset_path("synthetic_faces/condvae")).model, conv_channels=[4, 8], conv_dense=8,
        head_hidden=8), data=DataConfig(name="folder", root="data", holdout_fraction=0.2),
        train=dataclasses.replace(RunConfig().train, epochs=1, batch_size=4, log_every=1000))
    fit_run(config, tmp_path / "run")
    return tmp_path / "run"


def test_a_run_folder_records_absolute_roots_and_a_moved_one_says_where_it_looked(tmp_path, monkeypatch, capsys):
    run = _folder_run(tmp_path, monkeypatch)
    stored = load_config(run / "config.yaml")
    assert stored.data.root == str((tmp_path / "data").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # any working folder reads the same data
    assert run_data(stored, run).root == stored.data.root
    shutil.move(tmp_path / "data", tmp_path / "moved")
    assert main(["evaluate", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"trained on the data at {stored.data.root}" in err and "--data-root DIR" in err
    card = csvae.load(run).data_card
    moved = run_data(stored, run, tmp_path / "moved")
    card.check_data(load_dataset(moved), "test")  # the same images, found where they are now


def test_manipulate_and_transfer_take_numpy_and_sample_draws_from_the_prior():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)).astype(np.float64), (rng.random((6, 1)) < 0.5).astype(np.float64)
    for name in ("vae", "condvae", "csvae", "ccvae"):
        model = csvae.build_model(name, x_dim=3, y_dim=1, seed=0)
        out = model.manipulate(x, y, 1 - y)
        assert isinstance(out, np.ndarray) and out.shape == (6, 3)
        assert torch.is_tensor(model.manipulate(torch.as_tensor(x).float(), torch.as_tensor(y).float(),
                                                torch.as_tensor(1 - y).float()))
        labels = None if name == "vae" else [1]
        draws = model.sample(4, labels, seed=1)
        assert draws.shape == (4, 3) and np.allclose(draws, model.sample(4, labels, seed=1))
        assert not np.allclose(draws, model.sample(4, labels, seed=2))
    assert csvae.build_model("csvae", x_dim=3, y_dim=1).transfer(x, y, x[:1], y[:1], [0]).shape == (6, 3)
    with pytest.raises(ValueError, match="has no label"):
        csvae.build_model("vae", x_dim=3, y_dim=1).sample(2, [1])
    with pytest.raises(ValueError, match="give y"):
        csvae.build_model("condvae", x_dim=3, y_dim=1).sample(2)
    with pytest.raises(ValueError, match=r"shape \(1,\) or \(2, 1\)"):
        csvae.build_model("csvae", x_dim=3, y_dim=1).sample(2, np.ones((3, 1)))


def test_the_five_models_are_exported():
    assert {"VAE", "CondVAE", "CondVAEInfo", "CSVAE", "CCVAE"} <= set(csvae.__all__)
    assert isinstance(csvae.build_model("ccvae", x_dim=3, y_dim=1), csvae.CCVAE)


def _actions(top):
    """(command, action) for every option and argument of every sub-command."""
    for action in top._actions:
        if isinstance(action, type(top._subparsers._group_actions[0])):
            for name, sub in action.choices.items():
                yield from ((f"{name} {c}".strip(), a) for c, a in _actions_of(sub))


def _actions_of(command):
    for action in command._actions:
        if action.dest == "help":
            continue
        if action.choices and isinstance(action.choices, dict):  # nested sub-commands (judge fit)
            for name, sub in action.choices.items():
                yield from ((f"{name} {c}".strip(), a) for c, a in _actions_of(sub))
        else:
            yield "", action


def test_every_option_has_help_without_rst_backticks():
    top = parser()
    found = list(_actions(top))
    assert len(found) > 60
    missing = [f"{command}: {action.option_strings or action.dest}" for command, action in found if not action.help]
    assert missing == []
    texts = [top.format_help()] + [a.help for _, a in found]
    texts += [sub.format_help() for sub in top._subparsers._group_actions[0].choices.values()]
    assert not [t for t in texts if "`" in t]


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"csvae {csvae.__version__}"


def test_runs_record_their_versions(tmp_path):
    model = csvae.build_model("vae", x_dim=3, y_dim=1)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    csvae.fit(model, x, (x[:, :1] > 0).astype(np.float32), epochs=1, out=tmp_path / "run")
    recorded = json.loads((tmp_path / "run" / "versions.json").read_text())
    assert recorded["csvae"] == csvae.__version__ and recorded["torch"] == torch.__version__
    assert recorded["python"] == ".".join(map(str, sys.version_info[:3]))
    assert f"({os.cpu_count()} cores)" in recorded["hardware"]
    git = shutil.which("git")
    if recorded["commit"] is not None and git:
        head = subprocess.run([git, "-C", str(csvae.provenance.clone_root()), "rev-parse", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        assert recorded["commit"].split("+")[0] == head


def test_the_report_names_the_versions():
    from csvae.report.document import versions_lines

    trained = {"csvae": "0.1.0", "torch": "2.3", "python": "3.11.7", "commit": "a" * 40 + "+changes"}
    results = {"swiss_roll": {"vae": {0: {"versions": {"trained": trained}}, 1: {}}}}
    assert versions_lines(results) == ["Trained with csvae 0.1.0, torch 2.3, Python 3.11.7, commit "
                                       "aaaaaaaaaaaa+changes.", ""]
    assert versions_lines({"swiss_roll": {"vae": {0: {}}}}) == []


def test_a_small_test_split_is_warned_about(tmp_path, caplog):
    from csvae.runs import MIN_TEST_EXAMPLES, test_size_warnings

    with caplog.at_level(logging.WARNING, logger="csvae.runs"):
        warned = test_size_warnings(6, tmp_path)
    assert len(warned) == 1 and "6 examples" in warned[0] and "6 examples" in caplog.text
    assert test_size_warnings(MIN_TEST_EXAMPLES, tmp_path) == []


def test_evaluate_writes_versions_and_warnings_and_shows_progress_at_a_terminal(tmp_path, monkeypatch, capsys):
    from csvae.runs import evaluate_run

    config = RunConfig(data=DataConfig(n_samples=200, test_fraction=0.02),
                       train=dataclasses.replace(RunConfig().train, epochs=1, log_every=1000))
    fit_run(config, tmp_path / "run")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    metrics = evaluate_run(tmp_path / "run", figures=False)
    assert "evaluate run" in capsys.readouterr().err  # the stage bar, with its ETA
    assert metrics["versions"]["trained"]["csvae"] == csvae.__version__
    assert metrics["versions"]["evaluated"]["torch"] == torch.__version__
    assert "4 examples" in metrics["warnings"][0]


def test_missing_images_are_reported_on_screen(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))
    make_folder(tmp_path / "data", n=12, missing=(3, 5))
    with caplog.at_level(logging.WARNING, logger="csvae.data"):
        data = load_dataset(DataConfig(name="folder", root=str(tmp_path / "data")))
    assert len(data.x) == 10
    assert re.search(r"2 of the 12 images listed in .*labels.csv are missing .*\(first: img/003.png, "
                     r"img/005.png\)", caplog.text)


def test_manipulate_takes_a_folder_and_transfer_takes_current(tmp_path, capsys):
    from PIL import Image

    run = untrained_run(tmp_path / "run", "csvae", DataConfig(name="synthetic_faces"), (3, 32, 32), 1,
                        names=["glasses"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 60 * i, np.uint8)).save(photos / f"{i}.png")
    (photos / "notes.txt").write_text("not an image")
    grid = tmp_path / "grid.png"
    assert main(["manipulate", str(run), "--images", str(photos), "--attribute", "glasses", "--to", "1",
                 "--current", "0", "--out", str(grid)]) == 0
    assert Image.open(grid).size[1] > 2 * Image.open(photos / "0.png").size[1]  # three rows
    out = tmp_path / "transfer.png"
    assert main(["transfer", str(run), "--content", str(photos / "0.png"), "--style", str(photos / "1.png"),
                 "--attribute", "glasses", "--current", "0", "--out", str(out)]) == 0
    assert main(["transfer", str(run), "--content", str(photos / "0.png"), "--style", str(photos / "1.png"),
                 "--attribute", "glasses", "--current", "2", "--out", str(out)]) == 1
    assert "--current must be 0 or 1" in capsys.readouterr().err


def test_quick_reproduction_is_small_and_marked():
    from csvae.reproduce.experiments import EXPERIMENTS, QUICK_NOTE, quick_experiment

    quick = quick_experiment(EXPERIMENTS["demo"])
    assert [p.data for p in quick.parts] == ["swiss_roll", "synthetic_faces"]
    assert all(("train.epochs", 1) in p.overrides and p.seeds == 1 for p in quick.parts)
    assert quick.description.startswith(QUICK_NOTE)
    with pytest.raises(ConfigError, match="--quick runs only the parts"):
        quick_experiment(EXPERIMENTS["celeba-glasses"])


@pytest.mark.slow
def test_reproduce_quick_runs_every_stage_and_says_so(tmp_path):
    assert main(["reproduce", "demo", "--quick", "--jobs", "1", "--out", str(tmp_path / "q")]) == 0
    report = (tmp_path / "q" / "report.md").read_text()
    assert report.splitlines()[2].startswith("QUICK SMOKE TEST") and "Trained with csvae" in report


def test_the_readme_is_short_and_its_test_command_is_what_ci_runs(request):
    root = request.config.rootpath
    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    assert "bash scripts/setup.sh && .venv/bin/csvae reproduce demo --out runs/demo" in lines
    assert "bash scripts/setup.sh && .venv/bin/python -m pytest" in lines
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert "bash scripts/setup.sh" in ci and ".venv/bin/python -m pytest" in ci
    assert len(readme) <= 8000
    assert not re.search(r"\d+(\.\d+)? ?(ms|min|s)\b|\d+ (fast |slow )?tests", readme)  # no timings, no test counts

