"""AppTest of the True posterior page: a test image (exact numbers that add up), an upload, a 1-D
model, and a >2-D model shown as a labelled slice with an importance-weighted log p(x)."""

import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from ui import picture_inputs
from vae.data import datasets as data
from vae.models.config import ModelConfig, TrainConfig
from vae.store import catalog as store
from vae.training.loop import fit

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/posterior.py"


def _open(model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    if model:
        at.sidebar.selectbox(key="_model_name").set_value(model).run()
    at.switch_page(PAGE).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metrics(at: AppTest) -> dict[str, float]:
    return {m.label: float(m.value) for m in at.metric}


def _titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_a_test_image_shows_exact_numbers_that_add_up_and_every_chart():
    at = _open()
    m = _metrics(at)
    log_px, elbo_q, elbo_s = m["log p(x) (exact)"], m["ELBO(q)"], m["ELBO(q*)"]
    assert elbo_q <= elbo_s <= log_px
    assert m["Amortization gap"] >= 0 and m["Approximation gap"] >= 0
    assert abs(m["Amortization gap"] + m["Approximation gap"] - m["KL(q || p(z|x))"]) < 2e-3
    titles = _titles(at)
    assert len(titles) == 4 and titles[0] == "True posterior p(z|x)"
    caption = next(c.value for c in at.caption if "two ways" in c.value)
    assert "on a grid" in caption
    at.number_input(key="tp_index").set_value(7).run()
    _ok(at)
    assert _metrics(at)["log p(x) (exact)"] != log_px


def test_an_upload_is_prepared_and_shown():
    at = _open()
    at.radio(key="tp_source").set_value("An upload or a drawing").run()
    assert any("Upload a picture" in i.value for i in at.info)
    im = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(im).ellipse((55, 30, 145, 170), outline=0, width=14)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    zero = ("zero.png", buf.getvalue(), "image/png")
    at.file_uploader(key="tp_files").set_value(zero).run()
    _ok(at)
    first = _metrics(at)["log p(x) (exact)"]
    at.file_uploader(key="tp_files").set_value([zero, ("bad.png", b"not a picture", "image/png")]).run()
    assert at.radio(key="tp_pick").value == "bad.png"  # the newest upload is shown
    assert at.error and "bad.png" in at.error[0].value and not at.exception
    at.radio(key="tp_pick").set_value("zero.png").run()
    _ok(at)
    assert _metrics(at)["log p(x) (exact)"] == first and not at.error


def test_pictures_of_the_same_name_stay_apart():
    assert picture_inputs.unique_names(["a.png", "b.png", "a.png", "a.png"]) == [
        "a.png",
        "b.png",
        "a.png (2)",
        "a.png (3)",
    ]


@pytest.fixture(scope="module")
def small_models():
    x = torch.from_numpy(data.load_dataset("mnist-5k", "train").images[:256])
    return {
        d: fit(ModelConfig(latent_dim=d, hidden=(32,)), TrainConfig(epochs=1, batch_size=128), x).model for d in (1, 4)
    }


def test_a_latent_above_two_is_a_labelled_slice_with_an_iw_estimate(small_models):
    store.save(small_models[4], "four-d", dataset={"name": "mnist-5k", "shape": [1, 28, 28]})
    at = _open("four-d")
    assert any("2-D slice" in i.value and "importance-weighted estimate" in i.value for i in at.info)
    assert "log p(x) (IW estimate)" in _metrics(at)
    assert _titles(at)[0].startswith("Slice through q's mean along")
    first = at.selectbox(key="tp_dim1").value
    second = next(k for k in at.selectbox(key="tp_dim1").options if k != f"z{first + 1}")
    at.selectbox(key="tp_dim1").set_value(int(second[1:]) - 1).run()
    _ok(at)
    assert f"along {second}" in _titles(at)[0]


def test_a_one_dimensional_latent_is_drawn_as_densities(small_models):
    store.save(small_models[1], "one-d", dataset={"name": "mnist-5k", "shape": [1, 28, 28]})
    at = _open("one-d")
    assert "log p(x) (exact)" in _metrics(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"]} >= {"p(z|x)", "q(z|x)", "q*", "prior"}
