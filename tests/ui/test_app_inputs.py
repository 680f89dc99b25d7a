"""AppTest of the input pages: Reconstruct (uploads, a drawing, bad files) and Interpolate (steps,
exports). AppTest drives st.file_uploader directly (Streamlit >= 1.4x). The canvas's JavaScript
cannot run here, so a drawing is fed through the component's Session State key, which is where the
browser's setStateValue("png", ...) lands too."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

TIMEOUT = 90  # the first run loads mnist-5k, encodes it and scores the test set (IW, K=100)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _digit() -> bytes:
    """A black '0' drawn on white, 200x200: nothing like MNIST until images.prepare is done."""
    im = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(im).ellipse((55, 30, 145, 170), outline=0, width=14)
    return _png(im)


@pytest.fixture
def media(monkeypatch):
    """Every file the app hands to the media manager (images, downloads): (bytes, mimetype, filename)."""
    saved = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        saved.append((path_or_data, mimetype, filename))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return saved


def _open(page: str, model: str | None = None) -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=TIMEOUT)
    if model:  # the sidebar's model picker reads this key
        at.session_state["model_name"] = model
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_reconstruct_opens_and_asks_for_input():
    at = _open("pages/reconstruct.py")
    assert at.title[0].value == "Reconstruct"
    assert "Upload a picture or draw one" in at.info[0].value
    assert at.file_uploader(key="rc_files").accept_multiple_files


def test_upload_shows_steps_reconstruction_map_and_scores_and_bad_files_show_errors():
    at = _open("pages/reconstruct.py")
    blank = _png(Image.new("L", (64, 64), 0))
    at.file_uploader(key="rc_files").set_value(
        [
            ("zero.png", _digit(), "image/png"),
            ("notes.png", b"hello, not a picture", "image/png"),
            ("empty.png", blank, "image/png"),
        ]
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    assert "notes.png" in errors[0] and "not an image" in errors[0]
    assert "empty.png" in errors[1] and "blank" in errors[1]
    assert [h.value for h in at.subheader] == ["zero.png"]  # the good file still works
    captions = [c for im in at.image for c in im.captions]
    assert any("reconstruction" in c for c in captions)
    assert any(c.startswith("centred by mass") for c in captions)  # the preparation steps
    map_spec = next(s for s in _charts(at) if any(t.get("name") == "zero.png" for t in s["data"]))
    names = {t.get("name"): t for t in map_spec["data"]}
    assert names["zero.png"]["marker"]["symbol"] == "star"
    assert {"1σ of q(z|x)", "2σ of q(z|x)"} <= set(names)
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["ELBO (nats)", "log p(x) ≥ (IW, K=100)"]
    verdict = (at.success or at.warning)[0].value
    assert "typical" in verdict or "unusual" in verdict or "low side" in verdict
    assert "not how well it reconstructs it" in verdict
    assert any(m.value.startswith("Reconstructed ") and "grey levels per pixel" in m.value for m in at.markdown)
    assert names["zero.png"]["marker"]["size"] > 20  # the star stands out over the faded test set
    assert all(
        t["marker"]["opacity"] < 0.5
        for t in map_spec["data"]
        if t.get("mode") == "markers" and t.get("name") != "zero.png"
    )
    assert any(a["text"] == "<b>zero.png</b>" for a in map_spec["layout"]["annotations"])


def test_a_file_that_is_not_a_picture_says_so_plainly_and_the_map_stays():
    at = _open("pages/reconstruct.py")
    at.file_uploader(key="rc_files").set_value([("weights.png", b"just some text\n" * 40, "image/png")])
    at.run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "weights.png" in error and "Error" not in error and "(" not in error  # no exception's name
    assert "map stays" in at.info[0].value
    assert any(
        c.get("layout", {}).get("title", {}).get("text", "").startswith("The test set's latent map")
        for c in _charts(at)
    )


def test_a_drawing_is_reconstructed():
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(im).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    at = _open("pages/reconstruct.py")
    assert at.session_state["rc_canvas"] == {"png": None}  # mounted; JS does not run in AppTest
    at.session_state["rc_canvas"] = {"png": "data:image/png;base64," + base64.b64encode(_png(im)).decode()}
    at.run()
    assert not at.exception and not at.error
    assert [h.value for h in at.subheader] == ["your drawing"]


def _values(v) -> np.ndarray:
    """A trace's x or y from a figure's JSON: a list, or plotly's typed array {dtype, bdata}."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, dtype=float)


def _downloads(media, filename):
    return [data for data, _, name in media if name == filename]


def test_interpolate_steps_and_exports(media):
    at = _open("pages/interpolate.py")
    assert at.title[0].value == "Interpolate"
    assert [b.label for b in at.get("download_button")] == ["Strip (PNG)", "Animation (GIF)"]
    for n in (10, 4):
        media.clear()
        at.slider(key="ip_steps").set_value(n).run()
        assert not at.exception
        assert at.image[-1].captions[0].startswith(f"{n} steps")
        strip = Image.open(io.BytesIO(_downloads(media, "interpolation.png")[-1]))
        assert strip.width / strip.height == pytest.approx((n * 30 + 2) / 32)  # n tiles of 28 + padding
        gif = Image.open(io.BytesIO(_downloads(media, "interpolation.gif")[-1]))
        assert gif.n_frames == 2 * n - 2  # ping-pong
        path = next(t for s in _charts(at) for t in s["data"] if t.get("name") == "path")
        assert len(_values(path["x"])) == len(path["text"]) == n


def test_interpolate_from_map_points_and_a_bad_upload():
    at = _open("pages/interpolate.py")
    at.radio(key="ip_src_A").set_value("Point on the map").run()
    at.number_input(key="ip_x_A").set_value(-2.0)
    at.number_input(key="ip_y_A").set_value(1.0).run()
    assert not at.exception
    path = next(t for s in _charts(at) for t in s["data"] if t.get("name") == "path")
    assert (_values(path["x"])[0], _values(path["y"])[0]) == pytest.approx((-2.0, 1.0), abs=1e-5)
    assert at.radio(key="ip_target").value == "A"
    at.radio(key="ip_src_B").set_value("Upload").run()
    assert "Upload a picture" in at.info[0].value
    at.file_uploader(key="ip_up_B").set_value(("broken.gif", b"GIF89a\x00", "image/gif")).run()
    assert not at.exception
    assert "broken.gif" in at.error[0].value


@pytest.fixture
def wide_model():
    """An untrained 5-D model on mnist-5k: enough to show the pages' PCA path (weights don't matter)."""
    from vae.models import registry
    from vae.models.config import ModelConfig
    from vae.store import catalog as store

    store.save(
        registry.build(ModelConfig(latent_dim=5, hidden=(32,)), seed=0),
        "wide5",
        dataset={"name": "mnist-5k", "shape": [1, 28, 28]},
    )
    return "wide5"


@pytest.mark.parametrize("page", ["pages/reconstruct.py", "pages/interpolate.py"])
def test_a_higher_dimensional_model_uses_the_pca_plane(wide_model, page):
    at = _open(page, wide_model)
    assert at.session_state["model_name"] == wide_model  # the 5-D model is the one shown
    if page == "pages/reconstruct.py":
        at.file_uploader(key="rc_files").set_value(("zero.png", _digit(), "image/png")).run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    spec = next(s for s in _charts(at) if s["layout"]["xaxis"]["title"]["text"] == "PC1")
    names = [t.get("name") for t in spec["data"]]
    assert ("2σ of q(z|x)" in names) if page == "pages/reconstruct.py" else ("path" in names)
    assert (
        any("principal components" in c.value or "PCA" in c.value for c in at.caption)
        or "PCA" in spec["layout"]["title"]["text"]
    )
