"""Run and experiment folders under a careless or hostile user: one writer per folder (a lock
naming its holder, never stale), a failed --overwrite that changes nothing, only bounded regular
files read, symlinks that stay inside their root."""

import os
import signal
import subprocess
import sys
import time

import pytest
from test_train import REPO, diverging, small, toy_xy

import csvae
from csvae.train import NonFiniteLossError

HOLD = ("import sys, time; from csvae.safeio import FolderLock; lock = FolderLock(sys.argv[1], sys.argv[2]).acquire(); "
        "print('held', flush=True); time.sleep(60)")


def hold_lock(folder, what="experiment folder"):
    """A process holding the lock of ``folder`` (it says so on stdout first)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), what], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_fit_into_a_run_folder_being_written_is_refused_naming_the_writer(tmp_path):
    """Two `fit --overwrite` on one --out both reported success: metrics.csv interleaved, one
    model lost. A fit while another process is fitting into the folder is refused."""
    from csvae.safeio import FolderError

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
    from csvae.safeio import LOCK_NAME, FolderError, FolderLock

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


def test_a_failed_overwrite_changes_nothing_of_the_old_run(tmp_path):
    """A failed --overwrite kept model.pt, but config.yaml became the new config, metrics.csv was
    emptied, the checkpoint deleted, and --resume with the old config was refused."""
    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run, log_every=2)
    before = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(NonFiniteLossError):
        csvae.fit(diverging(small("vae")), x, y, epochs=2, out=run, overwrite=True, log_every=5, lr=0.5)
    after = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()
             and ".overwrite" not in p.parts}
    assert after == before
    csvae.fit(small(), x, y, epochs=1, out=run, log_every=2, resume=True)  # the old config resumes
    csvae.fit(small("vae"), x, y, epochs=1, out=run, overwrite=True)
    assert csvae.load(run).config.name == "vae" and not (run / ".overwrite").exists()
    assert "name: vae" in (run / "config.yaml").read_text()


def finishes(call, seconds=10.0):
    """What ``call()`` raises, asserting it returns within ``seconds`` (a thread: a FIFO read
    that would block forever cannot hang the test run)."""
    import threading

    outcome = []

    def work():
        try:
            call()
            outcome.append(None)
        except Exception as err:  # the test looks at it
            outcome.append(err)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"{call} did not return within {seconds} s"
    return outcome[0]


def _special(path, kind):
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("name", ["data.json", "config.yaml", "model.pt", "arrays.npz"])
def test_a_special_file_in_a_run_folder_is_refused_naming_it(tmp_path, name, kind):
    """A data.json that is /dev/zero grew without bound (MemoryError in evaluate's figures); a FIFO
    hung the reader. Every run file is read only when it is a regular file, with a size bound."""
    from test_explore import image_run

    from csvae.configfile import load_config, save_config
    from csvae.datacard import read_card, write_card
    from csvae.runfiles import load_arrays

    run = image_run(tmp_path)
    model = csvae.load(run)
    write_card(model.data_card, run / "data.json")
    save_config(model.run_config, run / "config.yaml")
    read = {"data.json": read_card, "config.yaml": load_config, "model.pt": csvae.load, "arrays.npz": load_arrays}[name]
    assert finishes(lambda: read(run / name)) is None
    _special(run / name, kind)
    err = finishes(lambda: read(run / name))
    assert isinstance(err, ValueError) and f"{run / name} is not a regular file" in str(err)


def test_a_label_file_that_is_a_fifo_is_refused(tmp_path):
    from csvae.data.folder import index_folder

    from fixtures_images import make_folder

    make_folder(tmp_path)
    _special(tmp_path / "labels.csv", "fifo")
    err = finishes(lambda: index_folder(tmp_path))
    assert "labels.csv is not a regular file (it is a FIFO)" in str(err)


def test_an_image_symlinked_outside_the_folder_is_not_read(tmp_path):
    """The folder reader followed a symlink inside its root to a file outside."""
    from csvae.data.checks import DataError
    from csvae.data.folder import read_folder

    from fixtures_images import make_folder, write_image

    root = tmp_path / "data"
    made = make_folder(root)
    write_image(tmp_path / "secret.png", 3, (40, 40))
    (root / made["files"][1]).unlink()
    (root / made["files"][1]).symlink_to(tmp_path / "secret.png")
    with pytest.raises(DataError, match=r"secret.png, outside .*data; a symlink may not leave its folder"):
        read_folder(root, size=16)
    inside = root / "img" / "copy.png"
    write_image(inside, 3, (40, 40))
    (root / made["files"][1]).unlink()
    (root / made["files"][1]).symlink_to(inside)  # a link that stays inside is read
    assert len(read_folder(root, size=16).x) == 12


def test_a_users_own_file_in_figures_survives_a_new_model(tmp_path):
    """Replacing a model removed the whole figures/ folder, a user's files in it too."""
    x, y = toy_xy()
    run = tmp_path / "run"
    csvae.fit(small(), x, y, epochs=1, out=run)
    (run / "figures").mkdir()
    (run / "figures" / "styles_smile.png").write_bytes(b"old grid")
    (run / "figures" / "my notes.txt").write_text("mine")
    csvae.fit(small(), x, y, epochs=1, out=run, overwrite=True)
    assert sorted(p.name for p in (run / "figures").iterdir()) == ["my notes.txt"]


def test_explore_lists_no_image_that_leaves_its_folder(tmp_path):
    from csvae.apply.run import list_image_files

    from fixtures_images import write_image

    folder = tmp_path / "mine"
    write_image(folder / "a.png", 1, (20, 20))
    write_image(tmp_path / "secret.png", 2, (20, 20))
    (folder / "b.png").symlink_to(tmp_path / "secret.png")
    os.mkfifo(folder / "c.png")
    assert [p.name for p in list_image_files([folder])] == ["a.png"]
