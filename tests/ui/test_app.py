"""AppTest: the entry point, the shared sidebar, the Overview and Playground pages."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store


@pytest.fixture
def app():
    return AppTest.from_file("../../app.py", default_timeout=60).run()


def _image_urls(at):
    return [u for im in at.get("image") for u in im.value]


def test_app_opens_on_the_default_model(app):
    assert not app.exception
    picker = app.sidebar.selectbox(key="_model_name")
    assert picker.value == "default"
    assert app.title[0].value == "VAE Latent Explorer"
    labels = [m.label for m in app.metric]
    assert any("ELBO" in label for label in labels) and any("Active units" in label for label in labels)
    assert _image_urls(app), "the overview shows reconstructions"


def test_the_overview_says_what_each_number_means_and_which_images_are_which(app):
    captions = [c.value for c in app.caption]
    assert any("Higher (nearer 0) is better" in c for c in captions)  # the ELBO in words
    assert any("Published on binarized MNIST: about -135.7" in c and "This 2-D model: -128.8" in c for c in captions)
    assert any("posterior collapse" in c for c in captions) and any("inference gap" in c for c in captions)
    assert any("picked in the sidebar; the numbers above were measured on mnist's test split" in c for c in captions)
    labels = [m.label for m in app.metric]
    assert any(label.startswith("Mutual information I(x; z)") for label in labels)  # ELBO surgery
    assert any(label.startswith("Marginal KL") for label in labels)
    assert any("at most log N" in c for c in captions) and any("holes between the codes" in c for c in captions)
    curves = [c for c in app.get("plotly_chart") if '"Training curves"' in c.proto.spec]
    assert len(curves) == 1 and '"Reconstruction log p(x|z)"' not in curves[0].proto.spec  # no empty panels


def test_the_picker_offers_saved_models_and_switching_works(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path))
    store.save(
        build(ModelConfig(latent_dim=3, hidden=(32,)), seed=0), "three-d", tmp_path, dataset={"name": "mnist-5k"}
    )
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    picker = at.sidebar.selectbox(key="_model_name")
    assert picker.options == ["default", "emoji-2d", "mnist-5k-2d", "three-d"]
    picker.set_value("three-d").run()
    assert not at.exception
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    assert len(at.slider) == 3


def _param(at, key):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def test_a_shared_link_reopens_the_same_model_and_z(tmp_path, monkeypatch):
    """The URL carries the model (when not the default) and z: a new session opens the same view."""
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path))
    store.save(
        build(ModelConfig(latent_dim=3, hidden=(32,)), seed=0), "three-d", tmp_path, dataset={"name": "mnist-5k"}
    )
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert _param(at, "model") is None  # the default model keeps the URL clean
    at.sidebar.selectbox(key="_model_name").set_value("three-d").run()
    assert _param(at, "model") == "three-d"
    at.switch_page("pages/playground.py").run()
    at.slider[0].set_value(1.5).run()
    link = {k: _param(at, k) for k in ("model", "z")}
    assert link["model"] == "three-d" and "1.50" in link["z"]

    fresh = AppTest.from_file("../../app.py", default_timeout=60)
    fresh.query_params.update(link)
    fresh.run()
    fresh.switch_page("pages/playground.py").run()
    assert not fresh.exception and fresh.sidebar.selectbox(key="_model_name").value == "three-d"
    assert sorted(s.value for s in fresh.slider) == sorted(float(v) for v in link["z"].split(","))


def test_a_link_to_a_model_not_in_the_store_opens_the_default_with_a_note():
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.query_params["model"] = "gone"
    at.run()
    assert not at.exception and at.sidebar.selectbox(key="_model_name").value == "default"
    assert any("'gone' is not in the store" in t.value for t in at.toast)
    assert _param(at, "model") is None


def test_a_broken_model_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "model.json").write_text("{oops")
    (tmp_path / "junk" / "model.safetensors").write_bytes(b"not weights")
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    assert any("junk" in w.value for w in at.sidebar.warning)


def test_playground_slider_changes_the_decoded_image(app):
    app.switch_page("pages/playground.py").run()
    assert not app.exception
    assert len(app.slider) == 2
    before = _image_urls(app)
    app.slider[0].set_value(2.0).run()
    after = _image_urls(app)
    assert before != after  # the media URL is a hash of the image bytes
    z = app.query_params["z"]
    z = z[0] if isinstance(z, list) else z
    assert "2.00" in z.split(",")


def test_playground_reads_z_from_the_url():
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.query_params["z"] = "1.25,-0.5"
    at.run()
    at.switch_page("pages/playground.py").run()
    values = sorted(s.value for s in at.slider)
    assert values == [-0.5, 1.25]


def test_playground_rejects_a_bad_url_z():
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.query_params["z"] = "1,2,3"
    at.run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    assert any("dimensions" in w.value for w in at.warning)
    assert all(s.value == 0 for s in at.slider)


def test_playground_sample_button_moves_z(app):
    app.switch_page("pages/playground.py").run()
    app.button(key="pg_sample").click().run()
    z = np.array([s.value for s in app.slider])
    assert np.abs(z).sum() > 0
