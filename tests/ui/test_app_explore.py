"""AppTest of the Latent map and Manifold pages on the bundled 2-D model and on tiny 1-D / 4-D models.

AppTest cannot set a plotly_chart selection (its state is read-only and AppTest has no plotly
element), so selection -> rows is tested as vae.inference.views.selected_rows in test_views.py, and the
selection display is driven by stubbing that function.
"""

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
from vae.models.config import ModelConfig, TrainConfig
from vae.store import catalog as store
from vae.training.loop import fit

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def tiny_models():
    """1-D and 4-D MLP VAEs fitted for one epoch on 512 mnist-5k images (a few seconds)."""
    x = torch.from_numpy(data.load_dataset("mnist-5k", "train").images[:512])
    return {
        d: fit(ModelConfig(latent_dim=d, hidden=(64,)), TrainConfig(epochs=1, batch_size=128), x).model for d in (1, 4)
    }


def _open(page: str, model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if model:
        at.sidebar.selectbox(key="_model_name").set_value(model).run()
    at.switch_page(page).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _save(model, name: str) -> None:
    store.save(model, name, dataset={"name": "mnist-5k", "shape": [1, 28, 28]})


def _figure(at: AppTest, i: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata"} (plotly 6+)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def _grid_pixels(at: AppTest) -> tuple[int, int]:
    """(width, height) of the manifold figure's image, decoded from its PNG data URI."""
    uri = _figure(at)["data"][0]["source"]
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size


def test_latent_map_opens_with_colour_choices():
    at = _open("pages/latent_map.py")
    assert at.title[0].value == "Latent map"
    colour = at.selectbox(key="lm_colour")
    assert colour.value == "label" and len(colour.options) == 4 and "KL (nats)" in colour.options
    spec = _figure(at)
    assert len(spec["data"]) == 10 and spec["layout"]["xaxis"]["title"]["text"] == "z1"  # one trace per digit
    assert all(len(_array(t["customdata"])) == len(_array(t["x"])) for t in spec["data"])
    colour.set_value("kl").run()
    _ok(at)
    trace = _figure(at)["data"][0]
    assert trace["marker"]["showscale"] and len(_array(trace["x"])) == 1000  # the test split, by value
    at.radio(key="lm_under").set_value("decoded").run()
    _ok(at)
    assert _figure(at)["layout"]["images"][0]["source"].startswith("data:image/png")
    at.radio(key="lm_split").set_value("train").run()
    _ok(at)
    assert len(_array(_figure(at)["data"][0]["x"])) == 4000


def test_manifold_grid_follows_n_and_range():
    at = _open("pages/manifold.py")
    assert _grid_pixels(at) == (20 * 28, 20 * 28)
    at.slider(key="mf_n").set_value(7).run()
    _ok(at)
    assert _grid_pixels(at) == (7 * 28, 7 * 28)
    ticks = _figure(at)["layout"]["xaxis"]["ticktext"]
    assert ticks[0] == "-1.5" and ticks[-1] == "1.5"  # Gaussian percentiles: ppf(1/14) = -1.47
    at.radio(key="mf_spacing").set_value("range").run()
    at.slider(key="mf_extent").set_value(2.0).run()
    _ok(at)
    assert _figure(at)["layout"]["xaxis"]["ticktext"] == ["-2", "-1.3", "-0.67", "0", "0.67", "1.3", "2"]
    assert at.get("download_button")


def test_four_d_model_offers_projections_and_dimension_pickers(tiny_models):
    _save(tiny_models[4], "tiny4")
    at = _open("pages/latent_map.py", "tiny4")
    method = at.radio(key="lm_method")
    assert method.value == "pca" and "t-SNE" in method.options
    assert method.options == ["PCA", "t-SNE", "UMAP"]
    assert _figure(at)["layout"]["xaxis"]["title"]["text"] == "PC1"
    assert at.radio(key="lm_under").options == ["nothing", "holes of q(z)"]  # no decoded tiles off the latent's plane
    at.radio(key="lm_under").set_value("holes").run()
    at.toggle(key="lm_prior").set_value(True).run()
    _ok(at)
    fig = _figure(at)
    holes, prior = fig["data"][0], fig["data"][-1]
    assert holes["type"] == "heatmap" and prior["name"] == "prior" and len(_array(prior["x"])) == 1000
    coords = np.c_[_array(fig["data"][1]["x"]), _array(fig["data"][1]["y"])]
    assert _array(holes["x"]).min() < coords[:, 0].min() and _array(holes["x"]).max() > coords[:, 0].max()
    assert any("slice through the codes' mean" in c.value for c in at.caption)
    method = at.radio(key="lm_method")
    method.set_value("umap").run(timeout=240)  # the first UMAP fit in a process compiles numba kernels (~25 s quiet)
    _ok(at)
    assert _figure(at)["layout"]["xaxis"]["title"]["text"] == "UMAP 1"

    at.switch_page("pages/manifold.py").run()
    _ok(at)
    dx, dy = at.selectbox(key="mf_dx_tiny4"), at.selectbox(key="mf_dy_tiny4")
    assert len(dx.options) == 4 and dx.value != dy.value
    assert _figure(at)["layout"]["xaxis"]["title"]["text"] == f"z{dx.value + 1}"
    at.radio(key="mf_held").set_value("item").run()
    at.number_input(key="mf_item_mnist-5k").set_value(3).run()
    _ok(at)
    at.radio(key="mf_plane").set_value("pca").run()
    _ok(at)
    assert _figure(at)["layout"]["xaxis"]["title"]["text"] == "PC1"
    at.radio(key="mf_plane").set_value("dims").run()
    at.selectbox(key="mf_dy_tiny4").set_value(at.selectbox(key="mf_dx_tiny4").value).run()
    assert "two different" in at.error[0].value and not at.exception


def test_one_d_model_shows_a_strip(tiny_models):
    _save(tiny_models[1], "tiny1")
    at = _open("pages/manifold.py", "tiny1")
    assert "1-D latent" in at.info[0].value
    assert _grid_pixels(at) == (20 * 28, 28)
    _open("pages/latent_map.py", "tiny1")


def test_selection_shows_images_and_decoded_mean(monkeypatch):
    """The plotly selection is stubbed at vae.inference.views.selected_rows (the page's only reader of it)."""
    from vae.inference import views

    monkeypatch.setattr(views, "selected_rows", lambda event, n_rows=None: np.arange(40))
    at = _open("pages/latent_map.py")
    assert at.subheader[0].value == "40 selected"
    assert any("first 32 of 40" in c.value for c in at.caption)
    assert len(at.get("image")) == 3  # originals, reconstructions, decoded mean beside the pixel average
    at.toggle(key="lm_pixels").set_value(True).run()
    at.radio(key="lm_pixel_method").set_value("pca").run()
    _ok(at)
    ringed = _figure(at, 1)["data"][-1]
    assert ringed["name"] == "selected" and len(_array(ringed["x"])) == 40
