"""csvae explore without a browser: refusals at start, the JSON API, limits, coalescing, the
server under concurrent and vanishing clients. Runs are untrained (no training here)."""

import io
import json
import logging
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from csvae.cli import main
from csvae.config import DataConfig
from csvae.data import load_dataset
from csvae.data.checks import DataError
from csvae.datacard import card_of_dataset
from csvae.explore import RunRefused, open_explorer, serve
from csvae.rundir import ExperimentDir, RunDir
from csvae.runfiles import save_arrays

from explore_helpers import request, serving
from run_helpers import untrained_run

FACES = DataConfig(name="synthetic_faces", n_samples=200, image_size=32)
NAMES = ["glasses", "facial_hair", "smile"]


def image_run(tmp_path, model="csvae", **options):
    """An untrained 32 px run whose arrays.npz holds 4 test inputs (so no data are read)."""
    run = untrained_run(tmp_path / model, model, FACES, (3, 32, 32), 3, names=NAMES, **options)
    rng = np.random.default_rng(0)
    save_arrays({"inputs": rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8),
                 "input_labels": np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 1, 1]], np.float32),
                 "labels": rng.integers(0, 2, (50, 3)).astype(np.float32),
                 "latent_w": rng.normal(size=(50, 3 * options.get("w_dim", 2))).astype(np.float32)},
                RunDir(run).arrays)
    return run


def png(size=(20, 24), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def server(tmp_path):
    with serving([image_run(tmp_path, w_dim=3), image_run(tmp_path, "vae")]) as server:
        yield server


def edit_body(server, **changes):
    state = request(server, "GET", "/api/state")[1]
    body = {"run": 0, "image": state["images"][0]["id"], "target": [0, 0, 0], "w": [0.5] * 9, "seq": 1, "client": "t"}
    return {**body, **changes}


def test_state_describes_each_run(server):
    status, state = request(server, "GET", "/api/state")
    assert status == 200
    csvae, vae = state["runs"]
    assert csvae["control"] == "pad" and csvae["w_dim"] == 3 and csvae["attributes"] == NAMES
    assert len(csvae["extent"]) == 3 and csvae["extent"][0][0] < csvae["extent"][0][1]
    assert len(csvae["scatter"][0]) == 50 and len(csvae["scatter"][0][0][0]) == 3
    assert vae["control"] == "labels" and "extent" not in vae
    assert [image["id"] for image in state["images"]] == ["test-0", "test-1", "test-2", "test-3"]  # shared data


def test_select_and_edit(server):
    status, out = request(server, "POST", "/api/select", {"image": "test-1"})
    assert status == 200 and len(out["runs"]) == 2
    assert out["runs"][0]["y"] == [1.0, 0.0, 0.0]  # a test input keeps its known labels
    assert len(out["runs"][0]["w"]) == 9 and out["runs"][1]["w"] is None
    assert out["runs"][0]["input"].startswith("data:image/png;base64,")
    body = edit_body(server, image="test-1", w=out["runs"][0]["w"])
    status, edit = request(server, "POST", "/api/edit", body)
    assert status == 200 and edit["edit"] == out["runs"][0]["recon"]  # w unchanged: the reconstruction
    status, moved = request(server, "POST", "/api/edit", {**body, "w": [3.0] * 9, "seq": 2})
    assert moved["edit"] != edit["edit"]
    status, vae = request(server, "POST", "/api/edit", {**body, "run": 1, "target": [0, 1, 0], "seq": 3})
    assert status == 200 and vae["edit"].startswith("data:image/png")


def test_points_sample_and_class_means(server):
    body = {"run": 0, "target": [1, 0, 0]}
    _, mean = request(server, "POST", "/api/points", {**body, "how": "class_mean"})
    _, a = request(server, "POST", "/api/points", {**body, "how": "sample", "seed": 1})
    _, b = request(server, "POST", "/api/points", {**body, "how": "sample", "seed": 1})
    _, c = request(server, "POST", "/api/points", {**body, "how": "sample", "seed": 2})
    assert len(mean["w"]) == 9 and a == b and a != c
    assert request(server, "POST", "/api/points", {"run": 1, "target": [1, 0, 0], "how": "sample"})[0] == 400


@pytest.mark.parametrize("change, message", [
    ({"run": 7}, "run must be an index 0..1"), ({"target": [0, 2, 0]}, "target must be a list of 3 0/1 values"),
    ({"w": [0.0] * 5}, "w must be a list of 9 finite numbers"), ({"seq": "x"}, "seq must be an integer")])
def test_bad_edits_get_a_400_naming_the_field(server, change, message):
    status, out = request(server, "POST", "/api/edit", edit_body(server, **change))
    assert status == 400 and out["error"] == message


def test_no_path_reaches_the_file_system(server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    for path in ("/../../etc/passwd", "/static/../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                 f"/static/{secret}", "/static/explore.py", "/api/thumbnail?id=../../etc/passwd",
                 f"/api/thumbnail?id={secret}", "/api/nothing", "//etc/passwd"):
        status, out = request(server, "GET", path)
        assert status == 404, path
        assert b"root:" not in json.dumps(out).encode() and b"secret" not in json.dumps(out).encode()
    status, out = request(server, "POST", "/api/select", {"image": "../../etc/passwd"})
    assert status == 404 and "no such image" in out["error"]
    assert request(server, "GET", "/api/thumbnail?id=test-2")[0] == 200


def test_requests_from_other_pages_are_refused(server):
    status, out = request(server, "GET", "/api/state", headers={"Host": "attacker.example:80"})
    assert status == 403 and "attacker.example" in out["error"]  # DNS rebinding
    assert request(server, "GET", "/", headers={"Host": "localhost"})[0] == 200
    status, out = request(server, "POST", "/api/select", b'{"image": "test-0"}', {"Content-Type": "text/plain"})
    assert status == 415  # a cross-origin form post cannot reach the API without a preflight
    status, out = request(server, "POST", "/api/upload", png(), {"Content-Type": "image/png"})
    assert status == 400 and out["error"] == "an upload needs an X-Filename header"


def test_csvae_with_one_dimensional_subspaces_gets_sliders(tmp_path):
    state = open_explorer([image_run(tmp_path, w_dim=1)]).state()["runs"][0]
    assert state["control"] == "sliders" and len(state["ranges"]) == 3 and len(state["ranges"][0]) == 1


def test_uploads_are_decoded_in_memory_and_limited(tmp_path):
    with serving([image_run(tmp_path)], max_upload_mb=0.01) as server:
        before = sorted(p.name for p in tmp_path.rglob("*"))
        status, out = request(server, "POST", "/api/upload", png(), {"X-Filename": "face.png"})
        assert status == 200 and out["id"].startswith("upload-") and out["name"] == "face.png (upload)"
        _, selected = request(server, "POST", "/api/select", {"image": out["id"]})
        pixels = np.asarray(Image.open(io.BytesIO(request(server, "GET", f"/api/thumbnail?id={out['id']}")[1])))
        assert pixels.shape == (32, 32, 3) and (pixels[..., 0] > 150).all()  # the red square, at the run's size
        status, bad = request(server, "POST", "/api/upload", b"hello, not an image", {"X-Filename": "notes.txt"})
        assert status == 400 and bad["error"].startswith("notes.txt is not an image this run can read")
        big = png((400, 400), (1, 2, 3)) + bytes(20_000)
        status, refused = request(server, "POST", "/api/upload", big, {"X-Filename": "big.png"})
        assert status == 413 and refused["error"] == "big.png (upload) is 21387 bytes; it is limited to 10485 bytes"
        assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_image_files_are_listed_once_and_read_like_the_run(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "b.png").write_bytes(png((40, 60), (10, 200, 10)))
    (folder / "a.png").write_bytes(png((50, 50)))
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("not listed")
    with serving([image_run(tmp_path)], images=[folder]) as server:
        _, state = request(server, "GET", "/api/state")
        files = [image for image in state["images"] if image["id"].startswith("file-")]
        assert [image["name"] for image in files] == ["a.png", "b.png", "broken.png"]  # by name, images only
        pixels = np.asarray(Image.open(io.BytesIO(request(server, "GET", "/api/thumbnail?id=file-1")[1])))
        assert pixels.shape == (32, 32, 3) and (pixels[..., 1] > 150).all()  # b.png: green, centred square
        status, out = request(server, "POST", "/api/select", {"image": "file-2"})
        assert status == 400 and "broken.png cannot be decoded" in out["error"]
        (folder / "c.png").write_bytes(png())  # added after the start: never offered
        assert request(server, "POST", "/api/select", {"image": "file-3"})[0] == 404
    with pytest.raises(DataError, match="--images .*nothing does not exist"):
        open_explorer([image_run(tmp_path / "x")], images=[tmp_path / "nothing"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="the folder holds no image files"):
        open_explorer([image_run(tmp_path / "y")], images=[empty])


def test_coalescing_answers_older_moves_superseded(tmp_path):
    explorer = open_explorer([image_run(tmp_path)])
    body = {"run": 0, "image": "test-0", "target": [0, 0, 0], "w": [0.0] * 6, "client": "c"}
    explorer.select({"image": "test-0"})  # encoded once, before the model is busy
    explorer.views[0].lock.acquire()  # the model is busy: moves 1..5 arrive meanwhile
    answers = {}
    threads = [threading.Thread(target=lambda s=s: answers.setdefault(s, explorer.edit({**body, "seq": s})))
               for s in range(1, 6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while explorer._latest.get(("c", 0), 0) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    explorer.views[0].lock.release()
    for thread in threads:
        thread.join()
    assert answers[5].get("edit") and not answers[5].get("superseded")
    assert all(answers[s]["superseded"] for s in range(1, 5)) and explorer.decodes == 1


def test_twenty_clients_and_one_that_vanishes(server):
    host, port = server.server_address[:2]
    vanishing = socket.create_connection((host, port))
    vanishing.sendall(b"POST /api/edit HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"run\": 0")
    vanishing.close()  # mid-body
    body = edit_body(server)
    results = []

    def client(n):
        results.append(request(server, "POST", "/api/edit", {**body, "client": f"c{n}", "seq": n})[0])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20
    assert request(server, "GET", "/api/state")[0] == 200


def test_refused_runs_are_named(tmp_path):
    with pytest.raises(RunRefused, match=f"{tmp_path / 'none'} is not a run folder"):
        open_explorer([tmp_path / "none"])
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text("model: {}\n")
    with pytest.raises(RunRefused, match=f"{unfinished} is not a finished run: it has no model.pt"):
        open_explorer([unfinished])
    arrays = untrained_run(tmp_path / "arrays", "csvae", DataConfig(name="arrays"), (3, 32, 32), 1)
    with pytest.raises(RunRefused, match=f"{arrays} was trained from arrays"):
        open_explorer([arrays])
    assert main(["explore", str(unfinished)]) == 1


def test_cli_refusal_message(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "none")]) == 1
    assert f"csvae explore: error: {tmp_path / 'none'} is not a run folder" in capsys.readouterr().err


def test_another_host_warns_that_there_is_no_login(tmp_path, caplog, monkeypatch):
    run = image_run(tmp_path)
    monkeypatch.setattr("csvae.explore.ExploreServer.serve_forever", lambda self: None)
    with caplog.at_level(logging.WARNING, "csvae.explore"):
        serve([run], host="127.0.0.2")
    assert "no login" in caplog.text
    caplog.clear()
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    with caplog.at_level(logging.WARNING, "csvae.explore"):
        serve([run], open_browser=True)
    assert "no login" not in caplog.text
    assert len(opened) == 1 and opened[0].startswith("http://127.0.0.1:")


def test_ccvae_gets_sliders_and_a_judge_from_its_experiment(tmp_path):
    from csvae.evaluate.judge import fit_judge, save_judge

    experiment = ExperimentDir(tmp_path / "exp")
    run = untrained_run(experiment.run("faces", "ccvae", 0).root, "ccvae", FACES, (3, 32, 32), 3, names=NAMES)
    experiment.write_manifest("t", "", [], [])
    experiment.judges.mkdir()
    (experiment.judges / "judge-bad.pt").write_bytes(b"not a judge")
    explorer = open_explorer([run])
    assert explorer.state()["runs"][0]["judge"] is None  # none fits: none shown
    judge = fit_judge(load_dataset(FACES), name="synthetic_faces", epochs=1, min_steps=1,
                      factor_min_steps=1, channels=(4, 4), dense=4)
    save_judge(judge, experiment.judges / "judge-abc.pt")
    explorer = open_explorer([run])
    state = explorer.state()["runs"][0]
    assert state["control"] == "sliders" and state["judge"] == NAMES
    assert all(low < high for low, high in state["ranges"][0])
    assert explorer.gallery.entries == {}  # the card's data changed (zero fingerprint): no test inputs
    upload = explorer.upload(png(), "face.png")["id"]
    probs = explorer.select({"image": upload})["runs"][0]["probs"]
    assert len(probs) == 3 and all(0 <= p <= 1 for p in probs)


def test_vector_runs_offer_the_test_set_and_decode_points(tmp_path):
    config = DataConfig(name="swiss_roll", n_samples=300)
    card = card_of_dataset(load_dataset(config), config)
    run = untrained_run(tmp_path / "toy", "csvae", config, (3,), 1, card=card, w_dim=2)
    explorer = open_explorer([run])
    state = explorer.state()["runs"][0]
    assert state["kind"] == "vector" and len(state["points"]["panels"]) == 4
    assert len(state["points"]["x"]) == len(state["points"]["ids"]) > 0
    first = state["points"]["ids"][0]
    selected = explorer.select({"image": first})["runs"][0]
    out = explorer.edit({"run": 0, "image": first, "target": [1], "w": [2.0, -2.0], "seq": 1, "client": "v"})
    assert len(out["edit"]) == 3 and out["edit"] != selected["recon"]
    with pytest.raises(RunRefused, match="vector run"):
        open_explorer([run], images=[tmp_path])
