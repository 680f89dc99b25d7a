"""The bundled models: both load, decode and evaluate without full MNIST; their names are reserved;
`train --bundled` writes any bundled name; the app says when shown digits were seen in training."""

import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from bench.bundled import knn_accuracy
from vae.cli.main import main
from vae.data import datasets as data
from vae.data import downloads
from vae.inference import latent
from vae.models import objectives
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store

BUNDLED = {  # name -> what its card must say
    "default": {"dataset": "mnist", "arch": "mlp 784-512-512-2", "n": 10000, "binarized": True},
    "mnist-5k-2d": {"dataset": "mnist-5k", "arch": "mlp 784-512-2", "n": 1000, "binarized": False},
}


def test_the_bundled_models_are_listed_first_default_first(tmp_path):
    store.save(build(ModelConfig(hidden=(8,)), seed=0), "mine", tmp_path)
    assert [m.name for m in store.list_models(tmp_path)] == ["default", "emoji-2d", "mnist-5k-2d", "mine"]
    assert store.bundled_names() == ["default", "emoji-2d", "mnist-5k-2d"]


def test_the_bundled_colour_model_works_on_the_bundled_colour_pictures():
    """emoji-2d (the emoji-conv recipe) and emoji-mini ship together: nothing to fetch."""
    model, info = store.load("emoji-2d")
    assert info.bundled and not (info.path / store.TRAINING).exists()
    assert model.config.image_shape == (3, 32, 32) and model.config.likelihood == "logistic"
    assert info.dataset == "emoji" and info.meta["train_config"]["extra"]["recipe"] == "emoji-conv"
    m = info.metrics
    assert m["iw_samples"] == 100 and 0 < m["iw_log_likelihood_bits_per_dim"] < 8
    assert (info.path / store.WEIGHTS).stat().st_size < 5 * 2**20
    test = data.load_dataset("emoji-mini", "test")
    out = objectives.evaluate(model, torch.from_numpy(test.images[:300]), iw_samples=5)
    assert out["active_units"] == 2 and abs(out["elbo_bits_per_dim"] - m["elbo_bits_per_dim"]) < 0.6
    grid = latent.decode_grid(model, 4).images
    assert grid.shape == (4, 4, 3, 32, 32)
    assert np.abs(grid[:, :, 0] - grid[:, :, 2]).max() > 0.2  # colour: red and blue differ, not grey


@pytest.fixture(scope="module")
def mnist5k_test():
    return data.load_dataset("mnist-5k", "test")


@pytest.mark.parametrize("name", list(BUNDLED))
def test_a_bundled_model_loads_decodes_and_evaluates(name, mnist5k_test):
    model, info = store.load(name)
    card = BUNDLED[name]
    assert info.bundled and not info.error and not (info.path / store.TRAINING).exists()
    assert model.config.describe().startswith(card["arch"]) and info.dataset == card["dataset"]
    m = info.metrics  # the card: measured on the training dataset's own test split, K=1000
    assert (m["n"], m["split"], m["binarized"], m["iw_samples"]) == (card["n"], "test", card["binarized"], 1000)
    assert m["iw_log_likelihood"] >= m["elbo"]
    grid = latent.decode_grid(model, 5)
    assert grid.images.shape == (5, 5, 1, 28, 28) and 0 <= grid.images.min() <= grid.images.max() <= 1
    x = torch.from_numpy(mnist5k_test.images[:200])
    out = objectives.evaluate(model, objectives.binarized_test(x) if card["binarized"] else x, iw_samples=20)
    assert out["active_units"] == 2 and out["elbo"] <= out["iw_log_likelihood"] < 0


@pytest.mark.parametrize("name, accuracy", [("default", 0.8), ("mnist-5k-2d", 0.45)])  # measured: 0.837, 0.514
def test_latent_means_place_digits_among_their_class(name, accuracy):
    """5-NN accuracy of mnist-5k test digits' latent means against its training digits' (for the
    full-MNIST default both were seen in training; bench/bundled.py measures it on MNIST's test set)."""
    model, _ = store.load(name)
    train, test = data.load_splits("mnist-5k")
    assert knn_accuracy(model, train, test) >= accuracy


@pytest.mark.parametrize("name", list(BUNDLED))
def test_bundled_names_are_reserved(tmp_path, name):
    mine = build(ModelConfig(hidden=(8,)), seed=0)
    for refused in (
        lambda: store.save(mine, name, tmp_path),
        lambda: store.delete(name, tmp_path),
        lambda: store.rename(name, "other", tmp_path),
    ):
        with pytest.raises(store.StoreError, match="bundled"):
            refused()
    store.save(mine, "mine", tmp_path)
    with pytest.raises(store.StoreError, match="bundled"):
        store.rename("mine", name, tmp_path)
    assert store.find(name, tmp_path).bundled


def test_a_user_folder_with_a_bundled_name_is_listed_as_unopenable(tmp_path):
    store.save(build(ModelConfig(hidden=(8,)), seed=0), "x", tmp_path)
    (tmp_path / "x").rename(tmp_path / "mnist-5k-2d")  # made outside the store's API
    listed = [m for m in store.list_models(tmp_path) if m.name == "mnist-5k-2d"]
    assert [m.bundled for m in listed] == [True, False] and "rename the folder" in listed[1].error
    assert store.find("mnist-5k-2d", tmp_path).bundled


def test_train_bundled_writes_any_bundled_name_without_training_state(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(store, "BUNDLED_DIR", tmp_path / "bundled")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x=rng.random((64, 8, 8), np.float32), y=np.arange(64) % 4)
    argv = [
        "--models-dir",
        str(tmp_path / "models"),
        "train",
        "--dataset",
        str(tmp_path / "tiny.npz"),
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--eval-iw-samples",
        "2",
        "--quiet",
        "--bundled",
        "--name",
    ]
    for name in ("default", "extra-2d"):
        assert main([*argv, name]) == 0
        meta = json.loads((tmp_path / "bundled" / name / store.META).read_text())
        assert meta["name"] == name and meta["resumable"] is False
        assert not (tmp_path / "bundled" / name / store.TRAINING).exists()
    assert [(m.name, m.bundled) for m in store.list_models(tmp_path / "models")] == [
        ("default", True),
        ("extra-2d", True),
    ]
    assert main(["--models-dir", str(tmp_path / "models"), "delete", "extra-2d"]) == 2
    assert "bundled" in capsys.readouterr().err


def _sidebar(at):
    return at.sidebar.selectbox(key="_model_name"), at.sidebar.selectbox(key="_dataset_for_default")


def _notes(at):
    return " ".join(c.value for c in at.caption)


def test_the_app_says_mnist5k_digits_were_seen_by_the_default_model():
    """No full MNIST (the test data cache): the default model shows mnist-5k and says every digit
    was in its training data; the mnist-5k model shows its own held-out split without a note."""
    at = AppTest.from_file("../../app.py", default_timeout=90).run()
    assert not at.exception
    model, dataset = _sidebar(at)
    assert model.value == "default" and dataset.options == ["mnist-5k (seen in training)"]
    assert "Seen in training" in _notes(at) and "python -m vae data fetch mnist" in _notes(at)
    assert "10,000 test images of mnist, binarized" in _notes(at)
    model.set_value("mnist-5k-2d").run()
    assert not at.exception and "Seen in training" not in _notes(at)
    assert at.sidebar.selectbox(key="_dataset_for_mnist-5k-2d").value == "mnist-5k"
    assert "1,000 test images of mnist-5k, grey levels" in _notes(at)


def test_with_mnist_fetched_the_default_model_opens_on_its_test_split(tmp_path, monkeypatch):
    """A stand-in MNIST (mnist-5k's digits as IDX files) in the data cache: MNIST is offered first."""
    train, test = data.load_splits("mnist-5k")
    (tmp_path / "mnist").mkdir()
    for stem, x in (("train-images-idx3-ubyte", train.images), ("t10k-images-idx3-ubyte", test.images)):
        downloads.write_idx(tmp_path / "mnist" / stem, np.round(x[:, 0] * 255).astype(np.uint8))
    for stem, y in (("train-labels-idx1-ubyte", train.labels), ("t10k-labels-idx1-ubyte", test.labels)):
        downloads.write_idx(tmp_path / "mnist" / stem, y.astype(np.uint8))
    (tmp_path / data.MNIST5K_CACHE).symlink_to(data.default_data_dir() / data.MNIST5K_CACHE)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    at = AppTest.from_file("../../app.py", default_timeout=90).run()
    assert not at.exception
    _, dataset = _sidebar(at)
    assert dataset.options == ["mnist", "mnist-5k (seen in training)"] and dataset.value == "mnist"
    assert "Seen in training" not in _notes(at)
    dataset.set_value("mnist-5k (seen in training)").run()
    assert "pick mnist in the sidebar" in _notes(at)
