"""Run and experiment folders under a careless or hostile user: one writer per folder (a lock
naming its holder, never stale), a failed --overwrite that changes nothing, only bounded regular
files read, symlinks that stay inside their root."""

import os
import signal
import subprocess
import sys
import time

import pytest
from test_train import REPO, small, toy_xy

import csvae
from csvae.safeio import LOCK_NAME, FolderError, FolderLock
from csvae.train import NonFiniteLossError

HOLD = ("import sys, time; from csvae.safeio import FolderLock; lock = FolderLock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(60)")


def hold_lock(folder):
    """A process holding the lock of ``folder`` (it says so on stdout first)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_fit_into_a_run_folder_being_written_is_refused_naming_the_writer(tmp_path):
    """Two `fit --overwrite` on one --out both reported success: metrics.csv interleaved, one
    model lost. A fit while another process is fitting into the folder is refused."""
    run = tmp_path / "run"
    config = tmp_path / "slow.yaml"
    config.write_text("model: {name: vae, hidden: [16]}\ndata: {n_samples: 4000}\ntrain: {epochs: 200}\n")
    writer = subprocess.Popen([sys.executable, "-m", "csvae.cli", "fit", "--config", str(config), "--out", str(run)],
                              env={**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 60
        while not (run / "config.yaml").exists() and time.time() < deadline:
            time.sleep(0.1)
        x, y = toy_xy()
        busy = rf"run folder .*run is in use by another csvae process \(PID {writer.pid} "
        with pytest.raises(FolderError, match=busy):
            csvae.fit(small(), x, y, epochs=1, out=run, overwrite=True)
        assert writer.poll() is None
    finally:
        writer.kill()
        writer.wait()


def test_the_lock_of_a_killed_process_is_not_stale(tmp_path):
    folder = tmp_path / "exp"
    holder = hold_lock(folder)
    with pytest.raises(FolderError, match=f"PID {holder.pid} on "):
        FolderLock(folder, "experiment folder").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (folder / LOCK_NAME).exists()  # what a killed holder leaves behind ...
    with FolderLock(folder):  # ... is taken over
        pass
    assert not (folder / LOCK_NAME).exists()


def test_a_failed_overwrite_changes_nothing_of_the_old_run(tmp_path, monkeypatch):
    """A failed --overwrite kept model.pt, but config.yaml became the new config, metrics.csv was
    emptied, the checkpoint deleted, and --resume with the old config was refused."""
    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run, log_every=2)
    before = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    model = small("vae")
    original = model._terms

    def poisoned(xb, yb, reduction):
        terms = original(xb, yb, reduction)
        terms["kl_z"] = terms["kl_z"] * float("nan")
        return terms

    monkeypatch.setattr(model, "_terms", poisoned)
    with pytest.raises(NonFiniteLossError):
        csvae.fit(model, x, y, epochs=2, out=run, overwrite=True, log_every=5, lr=0.5)
    after = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()
             and ".overwrite" not in p.parts}
    assert after == before
    csvae.fit(small(), x, y, epochs=1, out=run, log_every=2, resume=True)  # the old config resumes
    csvae.fit(small("vae"), x, y, epochs=1, out=run, overwrite=True)
    assert csvae.load(run).config.name == "vae" and not (run / ".overwrite").exists()
    assert "name: vae" in (run / "config.yaml").read_text()
