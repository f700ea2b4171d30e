"""The training loop: determinism, resume after SIGKILL, NaN handling, checkpoints, run folders."""

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import csvae
from csvae.checkpoint import CheckpointError, load_checkpoint
from csvae.config import ConfigError
from csvae.data.toy import make_toy
from csvae.train import NonFiniteLossError

REPO = Path(__file__).resolve().parents[1]


def toy_xy(n=600):
    return make_toy("swiss_roll", n, seed=0).part("train")


def small(name="csvae"):
    return csvae.build_model(name, x_dim=3, y_dim=1, seed=0, hidden=[16], head_hidden=8, adversary_hidden=[8])


def diverging(model):
    """``model`` whose kl_z term is NaN from the first step: its training stops with NonFiniteLossError."""
    original = model._terms

    def poisoned(xb, yb, reduction):
        terms = original(xb, yb, reduction)
        terms["kl_z"] = terms["kl_z"] * float("nan")
        return terms

    model._terms = poisoned
    return model


def weights(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_training_is_deterministic_given_the_seed():
    x, y = toy_xy()
    first = weights(csvae.fit(small(), x, y, epochs=2, seed=3))
    second = weights(csvae.fit(small(), x, y, epochs=2, seed=3))
    assert_same_weights(first, second)


def test_fit_accepts_tensors_and_writes_run_files(tmp_path):
    x, y = toy_xy()
    model = csvae.fit(small("condvae_info"), torch.tensor(x), torch.tensor(y), epochs=1, out=tmp_path / "run",
                      log_every=3, checkpoint_every=4)
    for name in ("config.yaml", "metrics.csv", "model.pt", "checkpoints/last.pt"):
        assert (tmp_path / "run" / name).is_file(), name
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,time,recon") and len(rows) > 2
    loaded = csvae.load(tmp_path / "run")
    np.testing.assert_allclose(loaded.reconstruct(x, y), model.reconstruct(x, y), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.latents(x, y)["z"], model.latents(x, y)["z"], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    """Kill a CLI run with SIGKILL after its first checkpoint, resume it, compare the weights."""
    config = REPO / "configs" / "toy" / "csvae.yaml"
    args = ["--data.n_samples", "800", "--train.epochs", "60", "--train.checkpoint_every", "25",
            "--train.log_every", "25", "--model.hidden", "[16]"]
    cmd = [sys.executable, "-m", "csvae.cli", "fit", "--config", str(config)]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(killed)] + args)
    checkpoint = killed / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "model.pt").exists()
    step_at_kill = load_checkpoint(checkpoint)["step"]
    assert 0 < step_at_kill < 60 * 18
    subprocess.run(cmd + ["--out", str(killed), "--resume"] + args, check=True)
    straight = tmp_path / "straight"
    subprocess.run(cmd + ["--out", str(straight)] + args, check=True)
    assert_same_weights(load_checkpoint(killed / "model.pt")["model"], load_checkpoint(straight / "model.pt")["model"])
    steps = [int(line.split(",")[0]) for line in (killed / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)), "metrics rows after the checkpoint must not be duplicated"


def test_nan_loss_stops_with_step_and_term_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    x, y = toy_xy()
    model = small("vae")
    original = model._terms
    calls = {"n": 0}

    def poisoned(xb, yb, reduction):
        calls["n"] += 1
        terms = original(xb, yb, reduction)
        if calls["n"] >= 23:
            terms["kl_z"] = terms["kl_z"] * float("nan")
        return terms

    monkeypatch.setattr(model, "_terms", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"'kl_z' became non-finite .* at step 23.*last good checkpoint"):
        csvae.fit(model, x, y, epochs=5, out=tmp_path / "run", log_every=5, checkpoint_every=10)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 20
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_output_folder_with_a_run_is_refused_unless_resume_or_overwrite(tmp_path):
    x, y = toy_xy()
    csvae.fit(small(), x, y, epochs=1, out=tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a finished run"):
        csvae.fit(small(), x, y, epochs=1, out=tmp_path / "run")
    with pytest.raises(ConfigError, match="holds a run with another config"):
        csvae.fit(small(), x, y, epochs=2, out=tmp_path / "run", resume=True)
    csvae.fit(small(), x, y, epochs=2, out=tmp_path / "run", overwrite=True)
    assert "epochs: 2" in (tmp_path / "run" / "config.yaml").read_text()


@pytest.mark.parametrize("content,match", [
    (b"", "not a readable csvae checkpoint"),
    (b"PK\x03\x04 truncated zip", "not a readable csvae checkpoint"),
])
def test_corrupt_checkpoints_are_reported(tmp_path, content, match):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        csvae.load(path)


def test_truncated_checkpoint_is_reported(tmp_path):
    x, y = toy_xy()
    csvae.fit(small(), x, y, epochs=1, out=tmp_path / "run")
    data = (tmp_path / "run" / "model.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt is not a readable csvae checkpoint"):
        csvae.load(tmp_path / "cut.pt")


def test_foreign_checkpoints_are_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a csvae checkpoint"):
        csvae.load(tmp_path / "foreign.pt")
    # an arbitrary object needs pickle to load: weights_only refuses it
    torch.save({"format": "csvae", "obj": datetime.date(2018, 12, 1)}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="need pickle|not a readable"):
        csvae.load(tmp_path / "pickled.pt")


def test_load_of_unfinished_run_says_so(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match="holds no finished model"):
        csvae.load(tmp_path / "run")


@pytest.mark.parametrize("x,y,match", [
    (np.zeros((5, 3)), np.array([0, 1, 2, 0, 1]), "y must hold only 0 and 1; row 2"),
    (np.zeros((5, 3)), np.zeros((4, 1)), "x has 5 rows but y has 4"),
    (np.array([[0.0, 0, 0], [0, np.nan, 0], [np.inf, 0, 0]]), np.zeros(3), "first in row 1"),
])
def test_bad_arrays_are_rejected(x, y, match):
    with pytest.raises(ValueError, match=match):
        csvae.fit(small(), x, y, epochs=1)


def test_one_hot_rows_must_sum_to_one():
    model = csvae.build_model("csvae", x_dim=3, y_dim=3, label_kind="categorical")
    y = np.eye(3)[[0, 1, 2, 0]]
    y[2] = [1, 1, 0]
    with pytest.raises(ValueError, match="row 2 sums to 2"):
        csvae.fit(model, np.zeros((4, 3)), y, epochs=1)


def test_shape_mismatch_with_model_is_reported():
    with pytest.raises(ConfigError, match="model expects"):
        csvae.fit(small(), np.zeros((10, 4)), np.zeros(10), epochs=1)


def _snapshot(run):
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("options,match", [
    ({"precision": "bogus"}, r"train.precision must be one of .*, got 'bogus'"),
    ({"precision": "transformer-engine"}, r"train.precision must be one of .*, got 'transformer-engine'"),
    ({"lr": float("nan")}, r"train.lr must be a finite number, got nan"),
    ({"device": "tpu"}, r"train.device must be cpu, cuda, cuda:N or auto, got 'tpu'"),
    ({"device": "cuda:x"}, r"train.device must be cpu, cuda, cuda:N or auto"),
])
def test_overwrite_checks_everything_before_touching_the_folder(tmp_path, options, match):
    """--overwrite used to delete model.pt, the checkpoint and metrics.csv, then fail on a setting
    checked only when training started: the finished model was lost."""
    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run)
    (run / "metrics.json").write_text("{}")
    before = _snapshot(run)
    with pytest.raises(ConfigError, match=match):
        csvae.fit(small(), x, y, epochs=2, out=run, overwrite=True, **options)
    assert _snapshot(run) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_cuda_without_gpu_is_refused_before_the_folder(tmp_path):
    x, y = toy_xy()
    with pytest.raises(ConfigError, match=r"train.device is 'cuda:1' but no CUDA GPU is available"):
        csvae.fit(small(), x, y, epochs=1, out=tmp_path / "run", device="cuda:1")
    assert not (tmp_path / "run").exists()


def test_overwrite_keeps_the_old_model_until_a_new_one_replaces_it(tmp_path):
    x, y = toy_xy()
    run = tmp_path / "run"
    old = weights(csvae.fit(small(), x, y, epochs=1, out=run))
    for name in ("metrics.json", "latents.png", "reconstructions.png"):  # the old model's evaluation
        (run / name).write_text("old")
    with pytest.raises(NonFiniteLossError):
        csvae.fit(diverging(small("vae")), x, y, epochs=2, out=run, overwrite=True, log_every=5)
    assert_same_weights(weights(csvae.load(run)), old)  # the finished model survived the failed overwrite
    assert (run / "metrics.json").read_text() == "old"
    new = weights(csvae.fit(small(), x, y, epochs=2, seed=1, out=run, overwrite=True))
    assert_same_weights(weights(csvae.load(run)), new)
    for name in ("metrics.json", "latents.png", "reconstructions.png"):
        assert not (run / name).exists(), f"{name} of the old model stayed beside the new one"


def test_resume_compares_the_checkpoints_config(tmp_path):
    """With config.yaml deleted, --resume used to continue the checkpoint under another config."""
    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run)
    (run / "config.yaml").unlink()
    (run / "model.pt").unlink()
    with pytest.raises(ConfigError, match=r"holds a run with another config \(.*last.pt\)"):
        csvae.fit(small(), x, y, epochs=2, out=run, resume=True)
    with pytest.raises(ConfigError, match="already holds an unfinished run"):  # no config.yaml: still a run
        csvae.fit(small(), x, y, epochs=2, out=run)
    with pytest.raises(ConfigError, match="either --resume .* or --overwrite .*not both"):
        csvae.fit(small(), x, y, epochs=2, out=run, resume=True, overwrite=True)
    csvae.fit(small(), x, y, epochs=1, out=run, resume=True)  # the same config resumes
    assert (run / "model.pt").exists()
    (run / "config.yaml").unlink()
    (run / "checkpoints" / "last.pt").unlink()  # only model.pt is left to compare with
    with pytest.raises(ConfigError, match=r"holds a run with another config \(.*model.pt\)"):
        csvae.fit(small(), x, y, epochs=2, out=run, resume=True)


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("optimizers"), r"last.pt cannot be resumed: it lacks the training state 'optimizers'"),
    (lambda s: s.pop("rng_cpu"), r"last.pt cannot be resumed: it lacks the training state 'rng_cpu'"),
    (lambda s: s.update(step=10 ** 6), r"last.pt cannot be resumed: its step 1000000 is not a step of this run"),
    (lambda s: s.update(step="7"), r"last.pt cannot be resumed: its step '7' is not a step"),
    (lambda s: s.update(optimizers=[]), r"cannot be resumed: it holds 0 optimiser states, this model has 2"),
])
def test_checkpoints_that_cannot_be_resumed(tmp_path, change, match):
    from csvae.checkpoint import save_checkpoint

    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    state = {k: v for k, v in state.items() if k not in ("format", "version")}
    change(state)
    save_checkpoint(state, run / "checkpoints" / "last.pt")
    before = (run / "model.pt").read_bytes()
    with pytest.raises(CheckpointError, match=match):
        csvae.fit(small(), x, y, epochs=1, out=run, resume=True)
    assert (run / "model.pt").read_bytes() == before


def test_too_little_data_is_refused_before_the_folder(tmp_path):
    x, y = toy_xy()
    with pytest.raises(ConfigError, match="x has 1 example; training needs at least 2"):
        csvae.fit(small(), x[:1], y[:1], epochs=1, out=tmp_path / "one")
    images = np.zeros((4, 3, 32, 32), dtype=np.uint8)
    conv = csvae.build_model("vae", x_shape=(3, 32, 32), y_dim=1, conv_channels=[4, 8], conv_dense=8)
    with pytest.raises(ConfigError, match=r"train.batch_size is 1 with 4 examples, but the model's batch norm "
                                          r"needs batches of at least 2"):
        csvae.fit(conv, images, np.array([0, 1, 0, 1]), epochs=1, batch_size=1, out=tmp_path / "bn")
    assert not (tmp_path / "one").exists() and not (tmp_path / "bn").exists()


def test_complex_x_is_refused():
    with pytest.raises(ValueError, match="x must hold real numbers, got dtype complex128"):
        csvae.fit(small(), np.zeros((5, 3), dtype=complex), np.zeros(5), epochs=1)


@pytest.mark.parametrize("x_shape,y_dim", [(["a", "b"], 1), ([3], "2"), ([3], 1.5), ([-3], 1), ([], 1)])
def test_checkpoint_with_bad_shapes_is_refused(tmp_path, x_shape, y_dim):
    from csvae.checkpoint import save_checkpoint
    from csvae.config import RunConfig, config_to_dict

    model = small()
    save_checkpoint({"config": config_to_dict(RunConfig(model=model.config)), "x_shape": x_shape,
                     "y_dim": y_dim, "model": model.state_dict(), "step": -1}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt does not hold a model this csvae can rebuild: x_shape "):
        csvae.load(tmp_path / "bad.pt")


def test_atomic_writes_get_the_umasks_mode(tmp_path):
    from csvae.fileio import atomic_write_bytes

    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        old = os.umask(umask)
        try:
            atomic_write_bytes(tmp_path / f"f{umask:o}", b"x")
        finally:
            os.umask(old)
        assert (tmp_path / f"f{umask:o}").stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f2", "f22", "f77"]  # no temporary file left


def test_a_folder_with_run_files_but_no_run_is_refused(tmp_path):
    """Files named like a run's (a metrics.csv of the user's) used to be replaced by a fresh run."""
    x, y = toy_xy()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "metrics.csv").write_text("my,own\n1,2\n")
    with pytest.raises(ConfigError, match=r"mine holds metrics.csv but no run .*choose another folder"):
        csvae.fit(small(), x, y, epochs=1, out=tmp_path / "mine")
    assert (tmp_path / "mine" / "metrics.csv").read_text() == "my,own\n1,2\n"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["metrics.csv"]


def test_resume_drops_a_metrics_row_cut_short(tmp_path):
    """A kill during an append leaves half a row; resuming used to keep it as a row of its own."""
    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run, log_every=3)
    metrics = run / "metrics.csv"
    whole = metrics.read_text()
    metrics.write_text(whole + "3,0,17")  # half of a row, no line end
    csvae.fit(small(), x, y, epochs=1, out=run, log_every=3, resume=True)
    assert metrics.read_text() == whole


@pytest.mark.slow
def test_compiled_training_matches_eager_training():
    """train.compile: both losses of the alternating schedule come from one compiled forward (a
    second backward through it would fail); the compiled run draws its noise from inductor's own
    generator, so it matches the eager one closely, not exactly (measured max difference 0.018)."""
    x, y = toy_xy()
    eager = weights(csvae.fit(small(), x, y, epochs=3, seed=0))
    compiled = weights(csvae.fit(small(), x, y, epochs=3, seed=0, compile=True))
    assert all(torch.isfinite(v).all() for v in compiled.values() if v.is_floating_point())
    assert max((eager[k].float() - compiled[k].float()).abs().max().item() for k in eager) < 0.1


def test_lr_factor_schedules():
    from csvae.train import lr_factor

    assert [lr_factor("constant", s, 10) for s in (0, 5, 9)] == [1.0, 1.0, 1.0]
    assert lr_factor("cosine", 0, 10) == 1.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 9, 10) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.9)))
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_factor("linear", 0, 10)
    with pytest.raises(ConfigError, match="train.lr_schedule"):
        csvae.fit(small(), *toy_xy(), epochs=1, lr_schedule="step")


def test_cosine_schedule_sets_each_steps_rate_and_resumes_on_the_same_curve(tmp_path, monkeypatch):
    x, y = toy_xy()
    seen = []
    step = torch.optim.Adam.step

    def recording(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording)
    straight = weights(csvae.fit(small("vae"), x, y, epochs=2, lr=0.01, lr_schedule="cosine", seed=1))
    total = len(seen)
    assert seen == pytest.approx([0.01 * 0.5 * (1 + np.cos(np.pi * s / total)) for s in range(total)])

    model, calls = small("vae"), {"n": 0}
    original = model._terms

    def interrupted(xb, yb, reduction):
        calls["n"] += 1
        if calls["n"] > 12:
            raise KeyboardInterrupt
        return original(xb, yb, reduction)

    monkeypatch.setattr(model, "_terms", interrupted)
    with pytest.raises(KeyboardInterrupt):
        csvae.fit(model, x, y, epochs=2, lr=0.01, lr_schedule="cosine", seed=1, out=tmp_path / "run",
                  checkpoint_every=10)
    resumed = csvae.fit(small("vae"), x, y, epochs=2, lr=0.01, lr_schedule="cosine", seed=1, out=tmp_path / "run",
                        checkpoint_every=10, resume=True)
    assert_same_weights(weights(resumed), straight)
