"""Recipes from the command line (python -m vae recipes, train --recipe) and on the Train page."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import resources
from vae.cli.main import main
from vae.data import datasets as data
from vae.store import catalog as store
from vae.training import recipes

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def tiny_npz(tmp_path):
    """120 8x8 images of three classes, as a user's .npz."""
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = rng.uniform(0, 0.2, (120, 8, 8)).astype(np.float32)
    for c in range(3):
        x[y == c, :, c * 2 : c * 2 + 3] += 0.7
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.clip(x, 0, 1), y=y)
    return path


def test_recipes_lists_each_with_source_and_differences(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in ("doersch-vae", "doersch-cvae", "tflearn", "su-vae", "su-cvae", "emoji-conv"):
        assert f"\n{name}\n" in f"\n{out}"
    assert out.count("source: https://github.com/") == 5 and out.count("differs from the original:") == 6
    assert "trains on emoji" in out  # the colour recipe has a dataset of its own
    assert "mnist-5k" in out.splitlines()[0]  # no full MNIST in the test's data folder


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_a_tiny_recipe_run_is_saved_evaluated_and_resumed(name, tiny_npz, tmp_path, capsys):
    models = str(tmp_path / "models")
    common = ["--dataset", str(tiny_npz), "--eval-iw-samples", "3", "--quiet"]
    assert main(["--models-dir", models, "train", "--recipe", name, "--name", "r", "--epochs", "1", *common]) == 0
    model, info = store.load("r", models)
    r = recipes.get(name)
    for key, value in r.model.items():
        assert getattr(model.config, key) == value
    tc = info.meta["train_config"]
    assert tc["extra"]["recipe"] == name and tc["optimizer"] == r.train["optimizer"]
    assert tc["batch_size"] == r.train["batch_size"] and tc["epochs"] == 1  # --epochs overrides
    if model.config.conditional == "prior":
        assert model.config.num_classes == 3
    capsys.readouterr()
    assert main(["--models-dir", models, "evaluate", "r", "--iw-samples", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["iw_samples"] == 4 and out["iw_log_likelihood"] >= out["elbo"] - 1.0
    assert out.get("conditional", "none") == model.config.conditional
    assert main(["--models-dir", models, "train", "--resume", "r", "--epochs", "1", "--quiet"]) == 0
    assert len(store.find("r", models).meta["history"]) == 2


def test_options_given_override_the_recipe(tiny_npz, tmp_path):
    models = str(tmp_path / "models")
    assert (
        main(
            [
                "--models-dir",
                models,
                "train",
                "--recipe",
                "tflearn",
                "--name",
                "t",
                "--epochs",
                "1",
                "--latent-dim",
                "3",
                "--lr",
                "0.002",
                "--conditional",
                "label",
                "--dataset",
                str(tiny_npz),
                "--eval-iw-samples",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    model, info = store.load("t", models)
    assert model.config.latent_dim == 3 and model.config.hidden == (256,)
    assert model.config.conditional == "label" and model.config.num_classes == 3
    assert info.meta["train_config"]["lr"] == 0.002 and info.meta["train_config"]["optimizer"] == "rmsprop"


def test_recipes_train_on_full_mnist_when_fetched(monkeypatch):
    assert recipes.dataset() == "mnist-5k"
    monkeypatch.setattr(data, "is_available", lambda name, data_dir=None: True)
    assert recipes.dataset() == "mnist"


def test_bad_recipe_and_conditional_requests_are_clear(tiny_npz, tmp_path, capsys):
    models = str(tmp_path / "models")
    with pytest.raises(SystemExit):
        main(["train", "--recipe", "nope", "--name", "x"])
    unlabelled = tmp_path / "u.npy"
    np.save(unlabelled, np.random.default_rng(0).uniform(0, 1, (40, 8, 8)).astype(np.float32))
    assert (
        main(
            [
                "--models-dir",
                models,
                "train",
                "--conditional",
                "prior",
                "--name",
                "x",
                "--dataset",
                str(unlabelled),
                "--epochs",
                "1",
                "--quiet",
            ]
        )
        == 2
    )
    assert "labelled data" in capsys.readouterr().err


def test_train_page_recipe_picker_fills_editable_settings():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="tr_recipe").set_value("doersch-cvae").run()
    assert not at.exception
    assert at.text_input(key="tr_hidden").value == "1000, 500, 250" and at.number_input(key="tr_latent").value == 30
    assert at.selectbox(key="tr_kind").value == "completion" and at.checkbox(key="tr_bincond").value
    assert at.radio(key="tr_optimizer").value == "adam" and at.number_input(key="tr_wd").value == 5e-4
    assert any("github.com/cdoersch/vae_tutorial" in c.value for c in at.caption)
    at.selectbox(key="tr_recipe").set_value("su-cvae").run()
    assert at.text_input(key="tr_hidden").value == "256" and at.selectbox(key="tr_kind").value == "prior"
    at.number_input(key="tr_epochs").set_value(1)  # still editable
    at.text_input(key="tr_name").input("su-cvae-app")
    at.button(key="tr_start").click().run()
    assert not at.exception and not at.error
    job = resources.training_jobs()["su-cvae-app"]
    assert job.wait(300) and job.state == "done", job.error
    model, info = store.load("su-cvae-app")
    assert model.config.conditional == "prior" and model.config.num_classes == 10
    assert info.meta["train_config"]["extra"]["recipe"] == "su-cvae" and info.metrics["conditional"] == "prior"
