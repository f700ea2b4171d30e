"""Every model trains on images through the same commands as the toy: synthetic faces and the
real CelebA subset (skipped with a reason when it is absent)."""

import json

import pytest

from csvae.cli import main

from fixtures_images import celeba_subset_dir

pytestmark = pytest.mark.slow  # every test here trains a model on images

MODELS = ["vae", "condvae", "condvae_info", "csvae"]
SHORT = ["--train.epochs", "1", "--model.conv_channels", "[8,16,32]", "--model.conv_dense", "32",
         "--model.head_hidden", "16", "--model.adversary_hidden", "[16]"]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch, request, tmp_path):
    monkeypatch.chdir(request.config.rootpath)
    monkeypatch.setenv("CSVAE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("model", MODELS)
def test_models_train_on_synthetic_faces(tmp_path, model):
    run = tmp_path / model
    args = ["fit", "--config", f"configs/synthetic_faces/{model}.yaml", "--out", str(run),
            "--data.n_samples", "400", *SHORT]
    assert main(args) == 0
    assert main(["evaluate", str(run)]) == 0
    assert (run / "reconstructions.png").stat().st_size > 0 and (run / "arrays.npz").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["per_attribute"]) == {"glasses", "facial_hair", "smile"}
    assert 0.0 < metrics["recon_mse"] < 0.25
    assert metrics["eval_precision"] == "bf16-mixed"  # the precision the preset trains at
    if model == "csvae":  # float32 on request: the same model, other rounding
        assert main(["evaluate", str(run), "--precision", "32-true"]) == 0
        exact = json.loads((run / "metrics.json").read_text())
        assert exact["eval_precision"] == "32-true"
        assert exact["recon_mse"] != metrics["recon_mse"]
        assert abs(exact["recon_mse"] - metrics["recon_mse"]) < 0.02 * metrics["recon_mse"]


subset = celeba_subset_dir()


@pytest.fixture(scope="module")
def celeba_dirs(tmp_path_factory):
    """One image cache and one judge folder for the CelebA runs (the attribute judge is trained once)."""
    return tmp_path_factory.mktemp("celeba-cache"), tmp_path_factory.mktemp("celeba-judges")


@pytest.mark.skipif(subset is None, reason="real CelebA subset not found: set CSVAE_CELEBA_SUBSET or put it "
                                           "at <repo>/../shared/data/celeba-subset")
@pytest.mark.parametrize("model", MODELS)
def test_models_train_on_the_real_celeba_subset(tmp_path, model, celeba_dirs, monkeypatch):
    monkeypatch.setenv("CSVAE_CACHE_DIR", str(celeba_dirs[0]))
    monkeypatch.setenv("CSVAE_JUDGE_DIR", str(celeba_dirs[1]))
    run = tmp_path / model
    args = ["fit", "--config", f"configs/celeba/{model}.yaml", "--out", str(run), "--data.root", str(subset),
            *SHORT]
    assert main(args) == 0
    assert main(["evaluate", str(run)]) == 0
    assert (run / "reconstructions.png").stat().st_size > 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert "Eyeglasses" in metrics["per_attribute"]
    attributes = metrics["attributes"]  # the attribute judge of all 40 CelebA attributes
    assert len(attributes["preserved_attributes"]) == 39 and "Eyeglasses" not in attributes["preserved_attributes"]
    assert all(0.0 <= row["mean"] <= 1.0 for row in attributes["preservation"].values() if row)
    assert attributes["realism"]["reconstruction"]["frechet"] > 0.0


@pytest.mark.parametrize("model", ["condvae_info", "csvae"])  # every model's categorical path: test_models.py
def test_models_train_on_a_tfd_file_with_a_categorical_label(tmp_path, model):
    from fixtures_images import make_tfd

    mat = tmp_path / "tfd.mat"
    make_tfd(mat, n=120)
    run = tmp_path / model
    args = ["fit", "--config", f"configs/tfd/{model}.yaml", "--out", str(run), "--data.root", str(mat), *SHORT]
    assert main(args) == 0
    assert main(["evaluate", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics["per_attribute"]) == ["class"]
    assert any(" -> " in d or "->" in d for d in metrics["manipulation"]["directions"])
