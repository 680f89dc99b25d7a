"""AppTest of the Compare page: tiny models trained here, saved into the test's models folder."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from vae.data import datasets as data
from vae.inference import comparison
from vae.models.config import ModelConfig, TrainConfig
from vae.store import catalog as store
from vae.training.loop import fit

APP = str(Path(__file__).resolve().parents[2] / "app.py")
MNIST = {"name": "mnist-5k", "shape": [1, 28, 28]}


@pytest.fixture(scope="module")
def fitted():
    """1-D and 4-D MLP VAEs on 512 mnist-5k digits and a 2-D one on 8x8 digits, one epoch each."""
    x = torch.from_numpy(data.load_dataset("mnist-5k", "train").images[:512])
    digits = torch.from_numpy(data.load_dataset("digits", "train").images[:256])
    y = torch.from_numpy(data.load_dataset("mnist-5k", "train").labels[:512]).long()
    tc = TrainConfig(epochs=2, batch_size=128)
    return {
        "one-d": fit(ModelConfig(latent_dim=1, hidden=(32,)), tc, x),
        "four-d": fit(ModelConfig(latent_dim=4, hidden=(32,)), tc, x),
        "digits-2d": fit(ModelConfig(image_shape=(1, 8, 8), hidden=(16,)), tc, digits),
        "label-2d": fit(ModelConfig(hidden=(32,), conditional="label", num_classes=10), tc, x, train_labels=y),
        "completion-3d": fit(ModelConfig(latent_dim=3, hidden=(32, 16), conditional="completion"), tc, x),
    }


@pytest.fixture
def saved(fitted):
    for name, result in fitted.items():
        dataset = {"name": "digits", "shape": [1, 8, 8]} if name == "digits-2d" else MNIST
        store.save(result.model, name, dataset=dataset, history=result.history)
    return fitted


def _open(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def test_compare_three_models_on_the_same_test_images(saved):
    at = _open({"models": "default,four-d,one-d"})
    assert not at.error, [e.value for e in at.error]
    assert at.multiselect(key="cmp_models").value == ["default", "four-d", "one-d"]
    table = at.dataframe[0].value
    assert list(table["model"]) == ["default", "four-d", "one-d"]
    assert list(table["scores"]) == ["measured here"] * 3  # the default's card is on MNIST, not fetched here
    model, _ = store.load("four-d")
    want = comparison.evaluate_scores(model, data.load_dataset("mnist-5k", "test").images, False)
    assert table["Test ELBO"][1] == pytest.approx(want["elbo"], abs=0.01)  # measured on the same images
    assert table["Active units"][2].endswith("/1") and np.isfinite(table["log p(x) ≥ (IW)"]).all()
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) == 9  # scores, curves, 3 maps, 3 manifolds, reconstructions
    curves = _spec(at.get("plotly_chart")[1])
    assert {t["legendgroup"] for t in curves["data"]} == {"default", "four-d", "one-d"}
    maps = [_spec(c) for c in at.get("plotly_chart")[2:5]]
    assert [m["layout"]["xaxis"]["title"]["text"] for m in maps] == ["z1", "PC1", "z1"]
    recon = _spec(at.get("plotly_chart")[-1])
    png = base64.b64decode(recon["data"][0]["source"].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (10 * 28, 4 * 28)  # 10 images: originals + 3 models
    at.slider(key="cmp_count").set_value(6).run()
    at.button(key="cmp_reshuffle").click().run()
    assert not at.exception
    recon2 = _spec(at.get("plotly_chart")[-1])
    assert recon2["layout"]["xaxis"]["ticktext"] != recon["layout"]["xaxis"]["ticktext"][:6]
    assert len(recon2["layout"]["xaxis"]["ticktext"]) == 6


def test_models_of_different_image_shapes_are_explained(saved):
    at = _open({"models": "default,digits-2d"})
    assert not at.error
    assert "'default' takes 28x28 greyscale images" in at.warning[0].value
    assert "'digits-2d' takes 8x8 greyscale images" in at.warning[0].value
    assert list(at.dataframe[0].value["model"]) == ["default", "digits-2d"]
    assert not at.get("plotly_chart")  # nothing drawn from images a model cannot read


def test_compare_opens_on_the_two_bundled_models():
    at = _open()
    assert not at.error and at.multiselect(key="cmp_models").value == ["default", "mnist-5k-2d"]
    assert list(at.dataframe[0].value["scores"]) == ["measured here", "stored at training"]


def test_conditional_models_beside_a_plain_one(saved):
    at = _open({"models": "default,label-2d,completion-3d"})
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["bound on"]) == ["log p(x)", "log p(x|y)", "log p(rest | centre-column)"]
    assert any("bound different things" in w.value for w in at.warning)
    model, _ = store.load("label-2d")
    test = data.load_dataset("mnist-5k", "test")
    want = comparison.evaluate_scores(model, test.images, False, test.labels)
    assert table["Test ELBO"][1] == pytest.approx(want["elbo"], abs=0.01)  # scored with the true labels
    assert len(at.get("plotly_chart")) == 9
    before = _spec(at.get("plotly_chart")[6])  # the label model's manifold, under class 0
    at.selectbox(key="cmp_class").set_value(7).run()
    assert not at.exception
    assert _spec(at.get("plotly_chart")[6])["data"][0]["source"] != before["data"][0]["source"]
    at.number_input(key="cmp_item").set_value(3).run()
    assert not at.exception and any("visible part of test #3" in c.value for c in at.caption)
