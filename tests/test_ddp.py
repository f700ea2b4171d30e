"""Two CPU processes (gloo) training through `csvae fit --train.devices 2`, end to end.

Each run is a real launch: Fabric's launcher re-runs the command for rank 1. A small driver
script (written per test) can inject a fault first: ``kill K`` has rank 0 kill the whole process
group right after writing the checkpoint of step K (as a preemption would), ``nan K`` makes the
loss term kl_z NaN at step K on rank 1 only.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import csvae
from csvae.rundir import RunDir

SRC = Path(csvae.__file__).parent.parent
DRIVER = '''
import os, signal, sys
import torch
import csvae.train
from csvae.cli import main
from csvae.models.csvae import CSVAE

fault, at = sys.argv[1], int(sys.argv[2])
rank = int(os.environ.get("LOCAL_RANK", "0"))
if fault == "kill" and rank == 0:
    write = csvae.train.save_checkpoint

    def write_then_die(state, path):
        write(state, path)
        if state["step"] == at:
            os.killpg(os.getpgid(0), signal.SIGKILL)

    csvae.train.save_checkpoint = write_then_die
if fault == "nan" and rank == 1:
    terms, calls = CSVAE._terms, []

    def poisoned(self, x, y, reduction):
        out = terms(self, x, y, reduction)
        calls.append(1)
        if len(calls) == at:
            out["kl_z"] = out["kl_z"] * float("nan")
        return out

    CSVAE._terms = poisoned
sys.exit(main(sys.argv[3:]))
'''
TOY = ["--data.n_samples", "400", "--model.hidden", "[16]", "--model.head_hidden", "16",
       "--model.adversary_hidden", "[16]", "--train.epochs", "3", "--train.batch_size", "32",
       "--train.log_every", "3", "--train.checkpoint_every", "9", "--train.devices", "2"]
"""300 training rows, 9 steps an epoch, 27 steps."""


def fit(tmp_path, out, *args, fault=("none", 0), config="configs/toy/csvae.yaml"):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    for name in ("LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK"):
        env.pop(name, None)
    root = Path(__file__).parent.parent
    command = [sys.executable, str(driver), fault[0], str(fault[1]), "fit", "--config", str(root / config),
               "--out", str(out), *args]
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, stdout + stderr


def weights(out):
    return torch.load(RunDir(out).final, weights_only=True)["model"]


def rows(out):
    return [line.split(",")[:2] + line.split(",")[3:] for line in RunDir(out).metrics.read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_train_only_rank_zero_writes_and_a_killed_run_resumes_as_if_never_stopped(tmp_path):
    rc, log = fit(tmp_path, tmp_path / "whole", *TOY)
    assert rc == 0, log
    assert "Traceback" not in log and "Exception ignored" not in log  # the process group's exit handler is clean
    assert log.count("trained csvae on swiss_roll") == 1  # printed by rank 0 alone
    run = RunDir(tmp_path / "whole")
    written = ["checkpoints", "config.yaml", "data.json", "metrics.csv", "model.pt", "versions.json"]
    assert sorted(p.name for p in run.root.iterdir()) == written
    assert [p.name for p in run.checkpoint.parent.iterdir()] == ["last.pt"]  # no temporary files left
    assert [r[0] for r in rows(run.root)[1:]] == [str(s) for s in range(3, 28, 3)]  # each window written once
    ranks = torch.load(run.checkpoint, weights_only=True)["rng_cpu_ranks"]
    assert ranks.shape[0] == 2 and not torch.equal(ranks[0], ranks[1])  # every rank's own random state
    assert all(torch.isfinite(p).all() for p in csvae.load(run.root).parameters())

    rc, log = fit(tmp_path, tmp_path / "cut", *TOY, fault=("kill", 18))
    assert rc == -signal.SIGKILL, log
    assert torch.load(RunDir(tmp_path / "cut").checkpoint, weights_only=True)["step"] == 18
    assert not RunDir(tmp_path / "cut").final.exists()
    rc, log = fit(tmp_path, tmp_path / "cut", *TOY, "--resume")
    assert rc == 0, log
    whole, cut = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
    assert rows(tmp_path / "whole") == rows(tmp_path / "cut")  # the metrics too, but for their times


@pytest.mark.slow
def test_two_processes_train_s2vae(tmp_path):
    """S²-VAE's annealed γ_sup reads the step that the loop sets on every rank."""
    rc, log = fit(tmp_path, tmp_path / "run", *TOY, config="configs/toy/s2vae.yaml")
    assert rc == 0, log
    assert log.count("trained s2vae on swiss_roll") == 1
    model = csvae.load(tmp_path / "run")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert float(model.progress) == pytest.approx(26 / 27)  # the last of the 27 steps


@pytest.mark.slow
def test_a_nan_on_rank_one_stops_both_ranks(tmp_path):
    rc, log = fit(tmp_path, tmp_path / "run", *TOY, fault=("nan", 14))
    assert rc != 0
    message = "loss term 'kl_z' became non-finite (NaN or inf) at step 14 on rank 1"
    assert log.count(message) == 2, log  # each rank stops with the same message
    state = torch.load(RunDir(tmp_path / "run").checkpoint, weights_only=True)
    assert state["step"] == 9  # the last good checkpoint stays
    assert "nan" not in RunDir(tmp_path / "run").metrics.read_text().lower()


@pytest.mark.slow
def test_two_processes_stream_tiny_images_from_the_cache(tmp_path):
    from csvae.data.images import prepare_data

    from fixtures_images import make_folder

    make_folder(tmp_path / "faces", n=40, split=True)
    cache = prepare_data("folder", tmp_path / "faces", 32, tmp_path / "cache", workers=1)
    images = ["--data.name", "folder", "--data.root", str(tmp_path / "faces"), "--data.image_size", "32",
              "--data.cache", str(cache), "--model.conv_channels", "[4,8]", "--model.conv_dense", "16",
              "--model.head_hidden", "8", "--model.adversary_hidden", "[8]", "--model.z_dim", "2",
              "--train.epochs", "2", "--train.batch_size", "4", "--train.devices", "2",
              "--train.loader", "stream", "--train.log_every", "1"]
    rc, log = fit(tmp_path, tmp_path / "run", *images, config="configs/synthetic_faces/csvae.yaml")
    assert rc == 0, log
    run = RunDir(tmp_path / "run")
    assert run.final.exists() and run.data_card.exists() and not list(tmp_path.glob("run/*.tmp"))
    train_rows = sum(1 for i in range(40) if i // 2 % 3 == 0)  # the fixture's split column
    assert len(rows(run.root)) - 1 == 2 * (train_rows // 4)  # one row a step, 2 epochs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["msp", "guided_vae"])
def test_the_peers_train_on_two_processes(tmp_path, name):
    """MSP's matrix M and Guided-VAE's excitation classifier are reached by the model loss on every
    rank (DDP has no find_unused_parameters), and Guided-VAE's adversary is averaged by hand."""
    rc, log = fit(tmp_path, tmp_path / "run", *TOY, config=f"configs/toy/{name}.yaml")
    assert rc == 0, log
    assert log.count(f"trained {name} on swiss_roll") == 1
    model = csvae.load(tmp_path / "run")
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_the_exit_handler_destroys_the_process_group_once(tmp_path):
    from csvae.distributed import destroy_process_group

    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    destroy_process_group()
    assert not torch.distributed.is_initialized()
    destroy_process_group()  # at exit after an explicit teardown: nothing to do
