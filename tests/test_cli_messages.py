"""One line naming the field or file, never a traceback: the CLI's answers to what a careless user
types, and to a pipe or a training process that goes away."""

import random
import sys

import numpy as np
import pytest

from csvae.cli import apply_overrides, main
from csvae.config import ConfigError, RunConfig
from csvae.configfile import load_config


@pytest.mark.parametrize("raw", ["1e-3", "1E-3", "1e-03", "+1e-3", ".1e-2", "1.0e-3"])
def test_a_learning_rate_in_exponent_form_is_a_number(tmp_path, raw):
    """--train.lr 1e-3 was refused ("must be a number, got '1e-3'") while 1.0e-3 worked."""
    assert apply_overrides(RunConfig(), ["--train.lr", raw]).train.lr == pytest.approx(0.001)
    (tmp_path / "c.yaml").write_text(f"train: {{lr: {raw}}}\n")
    assert load_config(tmp_path / "c.yaml").train.lr == pytest.approx(0.001)


def test_yaml_words_read_as_booleans_get_a_hint():
    """--data.root no said only "must be a string, got False"."""
    with pytest.raises(ConfigError, match=r"data.root must be a string, got False \(YAML reads yes/no/on/off"):
        apply_overrides(RunConfig(), ["--data.root", "no"])


def test_a_misspelt_toy_set_is_named(capsys):
    """--data.name swiss_rol listed only the image data sets, not the toy set meant."""
    assert main(["fit", "--out", "unused", "--data.name", "swiss_rol"]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'swiss_roll'?" in err and "Toy data sets: swiss_roll" in err


def test_a_relative_data_root_that_is_missing_names_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--out", "run", "--data.name", "folder", "--data.root", "faces"]) == 1
    assert (f"data root 'faces' does not exist: it is relative, so it is read from the working directory {tmp_path}"
            in capsys.readouterr().err)


def test_judge_fit_onto_a_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """judge fit --out onto a file gave "[Errno 17] File exists" after 5 s of work."""
    import csvae.data

    def no_data(config):
        raise AssertionError("the data were read before --out was checked")

    monkeypatch.setattr(csvae.data, "load_dataset", no_data)
    (tmp_path / "file").write_text("x")
    assert main(["judge", "fit", "--data", "synthetic_faces", "--out", str(tmp_path / "file")]) == 1
    assert capsys.readouterr().err == f"csvae judge: error: --out {tmp_path / 'file'} is a file; the judge cache is " \
                                      f"a folder\n"


def test_a_closed_pipe_is_not_an_error(monkeypatch, capsys):
    """`csvae evaluate | head` printed "Broken pipe" as an error."""
    import csvae.runs

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(csvae.runs, "evaluate_run",
                        lambda run, precision=None, data_root=None: {f"m{i}": 0.5 for i in range(50)})
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["evaluate", "run"]) == 0
    assert capsys.readouterr().err == ""


def test_a_training_process_that_went_away_says_to_resume(monkeypatch, capsys):
    """The survivor ended with gloo's "Connection reset by peer" and no hint to resume."""
    import csvae.runs

    def reset(*args, **kwargs):
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Read error [127.0.0.1]:29500: "
                           "Connection reset by peer")

    monkeypatch.setattr(csvae.runs, "fit_run", reset)
    assert main(["fit", "--config", "toy/csvae", "--out", "runs/a"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another training process ended" in err
    assert "`csvae fit --config runs/a/config.yaml --out runs/a --resume`" in err


def test_a_damaged_arrays_file_is_named(tmp_path):
    """A damaged arrays.npz gave a zlib traceback naming no file."""
    from csvae.data.checks import DataError
    from csvae.runfiles import load_arrays, save_arrays

    path = tmp_path / "arrays.npz"
    save_arrays({"a": np.random.default_rng(0).random((300, 100)), "b": np.arange(10)}, path)
    data = path.read_bytes()
    for seed in range(40):
        rng, damaged = random.Random(seed), bytearray(data)
        for _ in range(5):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path.write_bytes(bytes(damaged))
        try:
            load_arrays(path)
        except DataError as err:
            assert str(err).startswith(f"{path} is not a readable arrays file")
