"""Every page on the bundled colour model (emoji-2d, a 2-D conv VAE with the discretized logistic)
and the emoji-mini pictures that ship with the app: nothing to fetch, no error, colour everywhere."""

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from vae.data.emoji import CATEGORIES

APP = str(Path(__file__).resolve().parents[2] / "app.py")
COLOUR = "emoji-2d"


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["model_name"] = COLOUR
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["model_name"] == COLOUR
    return at


def _charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_overview_gives_bits_per_dim_and_the_credit_follows_the_data():
    at = _open("app.py")
    assert any("bits per dimension" in c.value and "no dequantization" in c.value for c in at.caption)
    assert at.sidebar.selectbox(key="_dataset_for_emoji-2d").value.startswith("emoji-mini")
    card = " ".join(c.value for c in at.sidebar.caption)
    assert "bits/dim" in card and "emoji" in card


@pytest.mark.parametrize(
    "page",
    ["pages/latent_map.py", "pages/manifold.py", "pages/playground.py", "pages/interpolate.py", "pages/posterior.py"],
)
def test_each_page_opens_on_the_colour_model(page):
    at = _open(page)
    assert at.get("image") or at.get("plotly_chart") or at.get("bidi_component")


def test_the_latent_map_colours_points_by_category():
    at = _open("pages/latent_map.py")
    spec = next(s for s in _charts(at) if len(s["data"]) >= 9)
    names = [t.get("name") for t in spec["data"]]
    assert "Smileys & Emotion" in names and "Flags" in names


def test_reconstruct_takes_a_colour_picture_with_alpha():
    at = _open("pages/reconstruct.py")
    im = Image.new("RGBA", (120, 90), (0, 255, 0, 0))
    ImageDraw.Draw(im).ellipse([20, 10, 100, 80], fill=(250, 200, 0, 255))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    at.file_uploader(key="rc_files").set_value([("sun.png", buf.getvalue(), "image/png")]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    captions = [c for im in at.image for c in im.captions]
    assert "alpha composited over white" in captions and any(c.startswith("cropped to content") for c in captions)
    assert any("reconstruction" in c for c in captions)
    assert [m.label for m in at.metric][:2] == ["ELBO (nats)", "log p(x) ≥ (IW, K=100)"]


def test_compare_explains_colour_beside_grey():
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params["models"] = f"default,{COLOUR}"
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    text = at.warning[0].value
    assert "'default' takes 28x28 greyscale images" in text and f"'{COLOUR}' takes 32x32 colour images" in text


def test_train_offers_the_colour_data_and_recipe():
    at = _open("pages/train.py")
    assert "emoji-mini" in at.selectbox(key="tr_source").options
    assert "emoji-conv" in at.selectbox(key="tr_recipe").options


def test_a_selection_shows_originals_reconstructions_and_the_decoded_mean(monkeypatch):
    """The plotly selection is stubbed where the page reads it (AppTest cannot drag a box; AppTest
    serves the pictures as media URLs, so their colour is not read back here)."""
    import numpy as np

    from vae.inference import views

    monkeypatch.setattr(views, "selected_rows", lambda event, n_rows=None: np.arange(12))
    at = _open("pages/latent_map.py")
    assert at.subheader[0].value == "12 selected" and len(at.get("image")) == 3


def test_the_decoded_backdrop_is_drawn_in_colour_not_inverted():
    at = _open("pages/latent_map.py")
    at.radio(key="lm_under").set_value("decoded").run()
    assert not at.exception and not at.error
    import base64

    import numpy as np

    spec = next(s for s in _charts(at) if s["layout"].get("images"))
    source = spec["layout"]["images"][0]["source"]
    assert source.startswith("data:image/png")
    px = np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"), float)
    assert px.mean() > 150  # emoji on white stay light (inverted they were a dark negative)
    assert np.abs(px[..., 0] - px[..., 2]).max() > 60  # and in colour


def _canvas_data(at) -> dict:
    (canvas,) = [e for e in at.get("bidi_component") if e.proto.component_name == "vae_explorer.drawing_canvas"]
    return json.loads(canvas.proto.json)


def test_the_drawing_canvas_is_a_palette_on_white_for_the_colour_model():
    """Drawn as the emoji were made (on white, in colour), not white on black as for MNIST digits."""
    at = _open("pages/reconstruct.py")
    data = _canvas_data(at)
    assert data["paper"] == "#ffffff" and len(data["inks"]) == 9 and "#ffffff" not in data["inks"]
    assert any("as the emoji are" in c.value for c in at.caption)
    grey = AppTest.from_file(APP, default_timeout=240).run()
    grey.switch_page("pages/reconstruct.py").run()
    assert _canvas_data(grey)["paper"] == "#000000" and _canvas_data(grey)["inks"] == ["#ffffff"]


def test_a_colour_drawing_is_prepared_on_white_and_reconstructed():
    im = Image.new("RGB", (280, 280), (255, 255, 255))
    ImageDraw.Draw(im).ellipse((60, 60, 220, 220), outline=(214, 39, 40), width=18)  # a red ring, as the canvas draws
    buf = io.BytesIO()
    im.save(buf, "PNG")
    at = _open("pages/reconstruct.py")
    at.session_state["rc_canvas"] = {"png": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}
    at.run()
    assert not at.exception and not at.error
    assert [h.value for h in at.subheader] == ["your drawing"]
    steps = [c for im in at.image for c in im.captions]
    assert "opaque (no alpha)" in steps and any(s.startswith("cropped to content") for s in steps)
    assert any("centred on white" in s for s in steps) and any("reconstruction" in c for c in steps)


def test_interpolate_names_the_endpoints_by_category():
    at = _open("pages/interpolate.py")
    captions = [c for im in at.image for c in im.captions]
    assert any(c.startswith("#") and " · " in c and c.split(" · ")[1] in CATEGORIES for c in captions), captions
