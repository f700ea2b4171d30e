"""csvae.pretrained: a tiny trained run exported into a temporary registry, then loaded, checked,
refused when tampered with, applied to a photo, listed and served; cards complete."""

import dataclasses
import hashlib
import json
import shutil
import time

import numpy as np
import pytest
import torch
from PIL import Image

from csvae import pretrained
from csvae.api import load as load_run
from csvae.apply import manipulate_files, read_images_like_run
from csvae.apply.run import photo_crop
from csvae.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from csvae.cli import main
from csvae.data.checks import DataError
from csvae.datacard import DataCard
from csvae.explore import RunRefused, open_explorer
from csvae.pretrained.card import CardError, check_card, command_of, licence_note, training_time
from csvae.pretrained.check import compare, read_slice, slice_config
from csvae.pretrained.export import export_run, half_state
from csvae.pretrained.markdown import TABLE_END, TABLE_HEAD, TABLE_START
from csvae.pretrained.registry import ENV, PretrainedError, add_to_registry, read_registry
from csvae.rundir import ExperimentDir, RunDir

from explore_helpers import request, serving
from pretrained_helpers import tiny_registry

NAME = "tiny-faces-csvae"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shipped(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSVAE_CACHE_DIR", str(tmp / "cache"))
        return tiny_registry(request.config.rootpath, tmp, NAME)


@pytest.fixture(scope="module")
def run(shipped):
    return shipped[1]


@pytest.fixture(scope="module")
def registry(shipped):
    return shipped[0]


@pytest.fixture
def installed(registry, monkeypatch):
    """The temporary registry as the one csvae uses ($CSVAE_PRETRAINED_DIR)."""
    monkeypatch.setenv(ENV, str(registry))
    return registry


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 240 x 300 JPEG: a generated face, enlarged, on a taller canvas."""
    from csvae.data.synthetic_faces import generate_faces

    x, _, _ = generate_faces(1, seed=5, size=240)
    canvas = np.full((300, 240, 3), 180, dtype=np.uint8)
    canvas[30:270] = x[0].transpose(1, 2, 0)
    path = tmp_path_factory.mktemp("photo") / "me.jpg"
    Image.fromarray(canvas).save(path, quality=92)
    return path


def test_export_writes_weights_card_and_registry_line(registry):
    folder = registry / NAME
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "card.json", "card.md", "model.pt"]
    digest = hashlib.sha256((folder / "model.pt").read_bytes()).hexdigest()
    assert read_registry(registry)[NAME].sha256 == digest
    assert (registry / "registry.txt").read_text().splitlines()[-1] == f"{NAME} {digest}"
    card = pretrained.card(NAME, registry)
    assert card["weights"]["sha256"] == digest and card["weights"]["bytes"] == (folder / "model.pt").stat().st_size
    assert pretrained.names(registry) == [NAME]


def test_weights_are_half_precision_and_buffers_exact(run, registry):
    original, shipped = load_checkpoint(run / "model.pt")["model"], load_checkpoint(registry / NAME / "model.pt")
    parameters = {n for n, _ in load_run(run).named_parameters()}
    for key, value in shipped["model"].items():
        if key in parameters:
            assert value.dtype == torch.float16, key
        else:
            assert value.dtype == original[key].dtype and torch.equal(value, original[key]), key
    assert any(v.dtype == torch.int64 for v in shipped["model"].values())  # batch norm's counters kept


def test_half_state_refuses_a_weight_beyond_float16(tmp_path):
    state = {"config": {}, "x_shape": [2], "y_dim": 1, "step": -1, "model": {"w": torch.tensor([1e6])}}
    with pytest.raises(PretrainedError, match="the weight w does not fit float16"):
        half_state(state, {"w"}, tmp_path / "model.pt")


def test_the_training_only_adversaries_are_left_out_and_rebuilt(run, registry):
    shipped, trained = load_checkpoint(registry / NAME / "model.pt"), load_run(run)
    left_out = trained.training_only_keys()
    assert {key.split(".")[0] for key in left_out} == {"adversary", "discriminator"}
    assert shipped["omitted"] == sorted(left_out) and not set(left_out) & set(shipped["model"])
    model = pretrained.load(NAME, registry)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in trained.named_parameters()]
    arrays = np.load(registry / NAME / "arrays.npz")
    x, y = torch.as_tensor(arrays["inputs"][:4]), torch.as_tensor(arrays["input_labels"][:4])
    elbos = []
    for adversaries in ("rebuilt", "trained"):  # what inference computes does not read them
        if adversaries == "trained":
            model.load_state_dict({k: v for k, v in trained.state_dict().items() if k in left_out}, strict=False)
        torch.manual_seed(0)
        with torch.no_grad():
            elbos.append(model.elbo(x, y))
    assert torch.equal(*elbos)


@pytest.mark.parametrize("drop, message", [("decoder", "leaves out weights that inference needs"),
                                           ("both", "does not hold the weights of its model")])
def test_a_file_leaving_out_weights_inference_needs_is_refused(registry, tmp_path, drop, message):
    state = load_checkpoint(registry / NAME / "model.pt")
    decoder = next(k for k in state["model"] if k.startswith("decoder."))
    del state["model"][decoder]
    if drop == "decoder":
        state["omitted"] = [*state["omitted"], decoder]
    save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=message):
        load_run(tmp_path / "model.pt")


def test_load_gives_a_float32_cpu_model_fast_and_close_to_the_run(run, registry):
    start = time.perf_counter()
    model = pretrained.load(NAME, registry)
    seconds = time.perf_counter() - start
    assert seconds < 1.0, f"loading took {seconds:.2f} s"
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())
    assert not model.training and model.data_card.name == "synthetic_faces"
    x = np.load(registry / NAME / "arrays.npz")["inputs"][:4]
    y = np.load(registry / NAME / "arrays.npz")["input_labels"][:4]
    assert np.abs(model.reconstruct(x, y) - load_run(run).reconstruct(x, y)).max() < 0.05


def test_a_tampered_weight_file_is_refused_naming_it_before_it_is_read(registry, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(registry, copy)
    weights = copy / NAME / "model.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran on a mismatched file"))
    with pytest.raises(CheckpointError, match=f"{weights}.*sha256.*not loaded"):
        pretrained.load(NAME, copy)


def test_unknown_name_lists_the_names(registry):
    with pytest.raises(PretrainedError, match=f"unknown pretrained model 'nope'; the shipped models are: {NAME}"):
        pretrained.load("nope", registry)
    with pytest.raises(PretrainedError, match="lists no model"):
        pretrained.card("nope", registry / "empty")


def test_registry_lines_are_checked(tmp_path):
    (tmp_path / "registry.txt").write_text("# comment\nBad_Name 123\n")
    with pytest.raises(PretrainedError, match=r"registry.txt:2: expected 'NAME SHA256'"):
        pretrained.names(tmp_path)
    (tmp_path / "registry.txt").write_text("")
    add_to_registry("a", "0" * 64, tmp_path)
    add_to_registry("b", "1" * 64, tmp_path)
    add_to_registry("a", "2" * 64, tmp_path)  # a new export of a replaces its line
    assert (tmp_path / "registry.txt").read_text() == f"a {'2' * 64}\nb {'1' * 64}\n"


def test_card_is_complete_and_says_where_it_came_from(run, registry):
    card = check_card(json.loads((registry / NAME / "card.json").read_text()))
    versions = json.loads((run / "versions.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert card["data"]["name"] == "synthetic_faces" and card["data"]["attributes"] == ["glasses", "facial_hair",
                                                                                         "smile"]
    assert card["data"]["image_size"] == [3, 32, 32] and card["data"]["split"] == "test"
    assert card["training"]["commit"] == (versions["commit"] or card["training"]["commit"])
    assert card["training"]["config"]["model"]["conv_channels"] == [8, 16, 32]
    assert card["training"]["command"].startswith("csvae fit --config synthetic_faces/csvae")
    assert "steps" in card["training"]["time"] and card["training"]["hardware"]
    assert card["metrics"]["recon_r2"] == metrics["recon_r2"]
    assert card["metrics"]["manipulation"]["glasses: 0->1"]["accuracy"] == 0.5
    assert card["metrics"]["preservation"] is None  # no attribute judge on synthetic faces
    assert "a test model: one epoch on 300 faces" in card["limits"]
    assert "MIT" in card["licence"]
    assert set(card["check"]["metrics"]["edit_rms"]) == set(card["metrics"]["manipulation"])
    assert card["check"]["rows"] == 60  # the whole test split of 300 faces: under the 64 checked
    assert card["check"]["float32_metrics"]["recon_r2"] == pytest.approx(card["check"]["metrics"]["recon_r2"], abs=0.01)
    markdown = (registry / NAME / "card.md").read_text()
    for text in ("# tiny-faces-csvae", "glasses: 0->1", card["weights"]["sha256"], "## Licence", "## Known limits"):
        assert text in markdown
    del card["training"]["hardware"], card["limits"]
    with pytest.raises(CardError, match="lacks limits, training.hardware"):
        check_card(card, "card.json")


def test_licence_note_of_celeba_is_non_commercial():
    assert "non-commercial research only" in licence_note("celeba-glasses")
    assert "MIT" in licence_note("synthetic_faces")


def test_command_of_a_run_in_an_experiment_folder(tmp_path):
    experiment = ExperimentDir(tmp_path / "celeba")
    runs = [{"data": "celeba-glasses", "variant": "csvae", "seed": 0}]
    experiment.write_manifest("celeba", "", [{"data": "celeba-glasses", "variants": ["csvae"]}], runs)
    assert command_of(experiment.run("celeba-glasses", "csvae", 0)) == (
        "csvae reproduce celeba --out celeba  (this model: the run runs/celeba-glasses/csvae/seed0)")
    assert command_of(RunDir(tmp_path / "alone")).startswith("csvae fit --config config.yaml --out alone")


def test_training_time_from_metrics_csv(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,epoch,time,model\n10,0,100.0,1\n110,1,160.0,1\n")
    assert training_time(tmp_path / "metrics.csv").startswith("66 s for 110 steps")
    assert training_time(tmp_path / "none.csv").startswith("unknown")


def test_check_compare_flags_a_changed_model():
    stored = {"slice_labels": "ab", "recon_r2": 0.8, "edit_rms": {"a: 0->1": 0.1, "a: 1->0": None},
              "label_accuracy": {"a": 0.9}}
    same = {"rows": 4, "slice_labels": "ab", "recon_r2": 0.801, "edit_rms": {"a: 0->1": 0.102, "a: 1->0": None},
            "label_accuracy": {"a": 0.91}}
    assert compare(stored, same) == []
    problems = compare(stored, {**same, "recon_r2": 0.7, "edit_rms": {"a: 0->1": 0.2, "a: 1->0": None},
                                "label_accuracy": {"a": 0.8}})
    assert len(problems) == 3 and "recon_r2 0.7000" in problems[0] and "label accuracy of a" in problems[2]
    assert "not the one the card was measured on" in compare(stored, {**same, "slice_labels": "cd"})[0]


def test_the_check_slice_of_celeba_is_read_alone_as_training_reads_it(tmp_path, monkeypatch):
    from csvae.config import DataConfig
    from csvae.data import load_dataset

    from fixtures_images import make_celeba

    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))
    tree = make_celeba(tmp_path / "celeba", n=40, partition=[(0, 0, 1, 2)[i % 4] for i in range(40)])
    config = DataConfig(name="celeba-glasses", root=str(tree["root"]), image_size=16, balance="weight")
    part = read_slice(config, rows=5)
    assert not (tmp_path / "cache").exists()  # no cache built for the slice
    x, y = load_dataset(config).part("test")
    assert part.x.shape == (5, 3, 16, 16) and np.array_equal(part.x, x[:5]) and np.array_equal(part.y, y[:5])
    moved = dataclasses.replace(config, root=str(tmp_path / "gone" / "celeba-20k"))
    monkeypatch.setenv("CSVAE_CELEBA_20K", str(tree["root"]))
    assert slice_config(moved)[0].root == str(tree["root"])  # the shared copy
    monkeypatch.setenv("CSVAE_CELEBA_20K", str(tmp_path / "nowhere"))
    found, places = slice_config(moved)
    assert found is None and "CSVAE_CELEBA_20K" in places[-1]


def test_manipulate_a_photo_with_a_pretrained_model(installed, photo, tmp_path):
    out = manipulate_files(None, [photo], "glasses", 1, tmp_path / "edit.png", pretrained=NAME)
    with Image.open(out) as grid:
        assert grid.size == (3 * 32 + 2 * 2, 32)  # input, reconstruction, edit
    assert main(["manipulate", "--pretrained", NAME, "--images", str(photo), "--attribute", "glasses", "--to", "0",
                 "--out", str(tmp_path / "cli.png")]) == 0
    assert (tmp_path / "cli.png").is_file()
    assert main(["transfer", "--pretrained", NAME, "--content", str(photo), "--style", str(photo), "--attribute",
                 "smile", "--out", str(tmp_path / "transfer.png")]) == 0


@pytest.mark.parametrize("mode", ["I;16", "CMYK", "P", "RGBA", "LA", "1"])
def test_photos_of_every_mode_are_decoded(installed, photo, tmp_path, mode):
    with Image.open(photo) as image:
        if mode == "I;16":  # 16-bit greyscale over the whole range, as a scanner writes it
            values = np.asarray(image.convert("L")).astype("<u2") * 257
            converted = Image.frombytes("I;16", image.size, values.tobytes())
        else:
            converted = image.convert(mode)
    path = tmp_path / f"me-{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
    converted.save(path)
    x = read_images_like_run(pretrained.load(NAME), [path])
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.uint8 and x.std() > 5  # a face, not a flat image


def test_a_float_image_is_refused_naming_it(installed, tmp_path):
    path = tmp_path / "depth.tif"
    Image.fromarray(np.random.default_rng(0).random((64, 64)).astype(np.float32)).save(path)
    with pytest.raises(DataError, match="depth.tif cannot be decoded: its mode F"):
        read_images_like_run(pretrained.load(NAME), [path])


def test_celeba_crop_scales_with_the_photo():
    card = DataCard("celeba-glasses", ["Eyeglasses"], "binary", [3, 64, 64], 148, {"train": 1}, "0" * 64)
    assert photo_crop(card, 178, 218) == 148
    assert photo_crop(card, 356, 436) == 296  # twice the size: twice the crop
    assert photo_crop(card, 600, 400) == 400  # never beyond the shorter side
    faces = DataCard("synthetic_faces", ["glasses"], "binary", [3, 32, 32], None, {"train": 1}, "0" * 64)
    assert photo_crop(faces, 600, 400) is None


def test_cli_lists_and_shows_the_models(installed, capsys):
    assert main(["pretrained"]) == 0
    assert capsys.readouterr().out.strip() == f"{NAME}  CSVAE on synthetic_faces at 32 px: changes glasses, " \
                                              f"facial_hair, smile"
    assert main(["pretrained", "show", NAME]) == 0
    assert capsys.readouterr().out.startswith(f"# {NAME}")
    assert main(["pretrained", "table"]) == 0
    table = capsys.readouterr().out
    assert f"| {NAME} | CSVAE | synthetic_faces | 32 px | glasses, facial_hair, smile | glasses: 0->1 0.500, " in table
    assert "1 models, 0.3 MB in all" in table


def test_cli_table_rewrites_the_docs_table_between_its_markers(installed, tmp_path, capsys):
    docs = tmp_path / "pretrained.md"
    docs.write_text(f"intro\n{TABLE_START}\nold table\n{TABLE_END}\nrest\n")
    assert main(["pretrained", "table", "--docs", str(docs)]) == 0
    text = docs.read_text()
    assert text.startswith(f"intro\n{TABLE_START}\n{TABLE_HEAD}\n| {NAME} | CSVAE |")
    assert text.endswith(f"{TABLE_END}\nrest\n")
    assert "old table" not in text and f"wrote the table into {docs}" in capsys.readouterr().out
    docs.write_text("no markers\n")
    assert main(["pretrained", "table", "--docs", str(docs)]) == 1
    assert "must hold the lines" in capsys.readouterr().err and docs.read_text() == "no markers\n"


def test_cli_figure_draws_edits_and_a_transfer_from_shipped_models(installed, tmp_path, capsys):
    assert main(["pretrained", "figure", NAME, "--attribute", "smile", "--images", "2", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == 2
    for name in ("pretrained_edit.png", "pretrained_transfer.png"):
        with Image.open(tmp_path / name) as picture:
            assert picture.width > 100 and picture.height > 100
    assert main(["pretrained", "figure", NAME, "--images", "500", "--out", str(tmp_path)]) == 1
    assert "fewer than 500 of each class of glasses" in capsys.readouterr().err


def test_pretrained_with_a_run_folder_is_refused(installed, run, photo, tmp_path, capsys):
    assert main(["manipulate", str(run), "--pretrained", NAME, "--images", str(photo), "--attribute", "glasses",
                 "--to", "1", "--out", str(tmp_path / "x.png")]) == 1
    assert "give run folders or --pretrained names, not both" in capsys.readouterr().err
    assert main(["explore", str(run), "--pretrained", NAME]) == 1
    assert "not both" in capsys.readouterr().err
    with pytest.raises(RunRefused, match="not both"):
        open_explorer([run], pretrained=[NAME])
    assert not (tmp_path / "x.png").exists()


def test_export_refuses_to_replace_a_model_and_an_unevaluated_run(run, registry, tmp_path):
    with pytest.raises(PretrainedError, match="exists; pass --overwrite"):
        export_run(run, NAME, root=registry)
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    (bare / "metrics.json").unlink()
    with pytest.raises(CardError, match="metrics.json is missing: evaluate the run first"):
        export_run(bare, "other", root=registry)
    with pytest.raises(PretrainedError, match="--name 'Bad Name'"):
        export_run(run, "Bad Name", root=registry)


def test_explorer_serves_a_pretrained_model(installed):
    with serving([], pretrained=[NAME]) as server:
        status, state = request(server, "GET", "/api/state")
    assert status == 200
    assert state["runs"][0]["label"] == f"CSVAE on synthetic_faces ({NAME})"
    assert len([i for i in state["images"] if i["id"].startswith("test-")]) == 16  # shipped in arrays.npz
    assert len(state["runs"][0]["scatter"][0]) > 0  # the pads' codes too
