"""AppTest of the direction controls on the pages, on the default model and the colour emoji-2d:
each control runs without an exception and shows what it makes."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from vae.store import saved_directions

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(page: str, model: str = "default") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["model_name"] = model
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _chart(at: AppTest, key: str) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if key in c.proto.id]
    return json.loads(chart.proto.spec)


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_manifold_traversals_by_kl_and_along_a_direction(model):
    at = _open("pages/manifold.py", model)
    rows = _chart(at, "mf_traversals")["layout"]["yaxis"]["ticktext"]
    assert len(rows) == 2 and all(r.startswith("z") for r in rows)  # both dimensions active, KL order
    at.selectbox(key="mf_t_dir_source").set_value("classes").run()
    at.selectbox(key="mf_t_dir_to").set_value(3).run()
    _ok(at)
    rows = _chart(at, "mf_traversals")["layout"]["yaxis"]["ticktext"]
    target = at.selectbox(key="mf_t_dir_to")
    assert len(rows) == 3 and rows[0].startswith("→ ") and rows[0].endswith(target.format_func(target.value))
    assert any("held-out AUC" in c.value for c in at.caption)


def test_a_saved_direction_is_offered_and_a_property_can_be_made():
    saved_directions.save_direction("default", "up", {"vector": [0.0, 1.0], "method": "axis", "source": "z2"})
    at = _open("pages/manifold.py")
    source = at.selectbox(key="mf_t_dir_source")
    assert "saved with the model" in source.options
    source.set_value("saved").run()
    assert at.selectbox(key="mf_t_dir_saved").value == "up"
    assert _chart(at, "mf_traversals")["layout"]["yaxis"]["ticktext"][0] == "→ up"
    at.selectbox(key="mf_t_dir_source").set_value("property").run()
    _ok(at)
    assert any("R²" in c.value for c in at.caption)


def _png(draw) -> bytes:
    im = Image.new("RGB", (200, 200), (255, 255, 255))
    draw(ImageDraw.Draw(im))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_reconstruct_edits_an_upload_along_a_direction(model):
    at = _open("pages/reconstruct.py", model)
    at.file_uploader(key="rc_files").set_value(
        [("ring.png", _png(lambda d: d.ellipse((50, 30, 150, 170), outline=(200, 30, 30), width=14)), "image/png")]
    ).run()
    _ok(at)
    at.selectbox(key="rc_dir_source").set_value("principal").run()
    _ok(at)
    assert any(m.value.startswith("**ring.png along PC1**") for m in at.markdown)
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Strip (PNG)"]
    assert button.proto.label == "Strip (PNG)"


def test_pages_work_without_a_direction():
    at = _open("pages/manifold.py")
    assert at.selectbox(key="mf_t_dir_source").value == "none"
    assert np.all([not r.startswith("→") for r in _chart(at, "mf_traversals")["layout"]["yaxis"]["ticktext"]])


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_interpolate_analogy_mode_draws_the_j_diagram_with_exact_corners(model):
    at = _open("pages/interpolate.py", model)
    at.button_group(key="ip_mode").set_value("analogy").run()
    _ok(at)
    at.slider(key="an_n").set_value(4).run()
    _ok(at)
    spec = _chart(at, "an_grid")
    assert spec["layout"]["title"]["text"].startswith("J-diagram")
    assert any(c == "D = C + (B − A)" for im in at.image for c in im.captions)
    assert [b.proto.label for b in at.get("download_button")] == ["Grid (PNG)"]
    at.button_group(key="ip_mode").set_value("path").run()  # back to the path: its own strip again
    _ok(at)
    assert [b.proto.label for b in at.get("download_button")] == ["Strip (PNG)", "Animation (GIF)"]


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_latent_map_custom_axes_along_a_direction_with_rulers(model):
    at = _open("pages/latent_map.py", model)
    at.toggle(key="lm_custom").set_value(True).run()
    _ok(at)
    at.selectbox(key="lm_x_source").set_value("property").run()
    _ok(at)
    spec = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][0]
    assert spec["layout"]["xaxis"]["title"]["text"] == "along brightness"
    assert spec["layout"]["yaxis"]["title"]["text"] == "first PC of the rest"
    rulers = [c for im in at.image for c in im.captions if "through the mean code" in c]
    assert len(rulers) == 2 and rulers[0].startswith("along brightness")


def test_a_selection_against_the_rest_is_a_direction_that_can_be_saved(monkeypatch):
    from vae.inference import views

    monkeypatch.setattr(views, "selected_rows", lambda event, n_rows=None: np.arange(100, 200))  # the 1s
    at = _open("pages/latent_map.py")
    (exp,) = [e for e in at.expander if e.label.startswith("A direction: the rest → these 100")]
    assert "AUC" in exp.label
    at.text_input(key="lm_dir_name").input("ones").run()
    at.button(key="lm_dir_save").click().run()
    _ok(at)
    assert "Saved as **ones**" in at.success[0].value
    saved = saved_directions.list_directions("default")
    assert list(saved) == ["ones"] and len(saved["ones"]["vector"]) == 2


def _pad_meta(at: AppTest) -> dict:
    from vae.store import bundle

    (pad,) = [e for e in at.get("bidi_component") if e.proto.component_name == "vae_explorer.latent_pad"]
    return bundle.unpack(pad.proto.bytes)[1]


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_the_playground_sends_the_chosen_direction_to_the_pad_and_keeps_it_in_the_url(model):
    at = _open("pages/playground.py", model)
    assert _pad_meta(at)["direction"] is None
    at.selectbox(key="pg_dir_source").set_value("principal").run()
    _ok(at)
    meta = _pad_meta(at)
    assert meta["direction"]["name"] == "PC1" and len(meta["direction"]["vector"]) == 2
    assert at.query_params["dir"] == ["principal:0"] or at.query_params["dir"] == "principal:0"
    assert any("The slider under the image moves z along PC1" in c.value for c in at.caption)
    shared = AppTest.from_file(APP, default_timeout=240)  # a shared link opens on the same direction
    shared.query_params.update({"model": model, "dir": "principal:1"})
    shared.run()
    shared.switch_page("pages/playground.py").run()
    assert shared.selectbox(key="pg_dir_source").value == "principal"
    assert _pad_meta(shared)["direction"]["name"] == "PC2"


def test_emoji_skin_tone_is_a_direction_between_two_values_of_a_column():
    """The colour showcase: skin none -> dark on emoji-2d, balanced over the category, with its pairs."""
    at = _open("pages/manifold.py", "emoji-2d")
    at.selectbox(key="mf_t_dir_source").set_value("groups").run()
    at.selectbox(key="mf_t_dir_column").set_value("skin").run()
    at.selectbox(key="mf_t_dir_gfrom").set_value("none").run()
    at.selectbox(key="mf_t_dir_gto").set_value("dark").run()
    _ok(at)
    rows = _chart(at, "mf_traversals")["layout"]["yaxis"]["ticktext"]
    assert rows[0] == "→ skin none → dark"
    assert any("held-out AUC" in c.value and "pair consistency" in c.value for c in at.caption)


def test_a_kept_selection_and_a_second_one_make_a_direction_between_them(monkeypatch):
    from vae.inference import views

    picked = {"rows": np.arange(100, 200)}
    monkeypatch.setattr(views, "selected_rows", lambda event, n_rows=None: picked["rows"])
    at = _open("pages/latent_map.py")
    at.button(key="lm_keep").click().run()
    picked["rows"] = np.arange(700, 750)
    at.run()
    _ok(at)
    assert [e.label for e in at.expander if e.label.startswith("A direction: the 100 kept → these 50")]


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_the_latent_map_shows_the_holes_of_the_aggregate_posterior(model):
    at = _open("pages/latent_map.py", model)
    at.radio(key="lm_under").set_value("holes").run()
    _ok(at)
    spec = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][0]
    assert spec["data"][0]["type"] == "heatmap" and spec["data"][0]["name"] == "holes"  # under the points
    assert any("of samples z ~ N(0, I) land there" in c.value for c in at.caption)
    at.toggle(key="lm_prior").set_value(True).run()
    _ok(at)
    spec = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][0]
    assert spec["data"][-1]["name"] == "prior" and spec["data"][0]["name"] == "holes"


def test_sample_z_draws_from_a_sampler_fitted_to_the_codes():
    at = _open("pages/playground.py")
    sampler = at.selectbox(key="pg_sampler")
    assert sampler.options == ["the prior N(0, I)", "a mixture fitted to the codes", "a kernel density of the codes",
                               "a flow fitted to the codes"]  # fmt: skip
    sampler.set_value("gmm").run()
    at.button(key="pg_sample").click().run()
    _ok(at)
    assert _pad_meta(at)["z"] != [0.0, 0.0]


@pytest.mark.parametrize("model", ["default", "emoji-2d"])
def test_manifold_shows_two_samplers_side_by_side_with_their_quality(model):
    at = _open("pages/manifold.py", model)
    assert not at.get("image")  # nothing drawn until asked: the fits take seconds
    at.toggle(key="mf_samples").set_value(True).run()
    _ok(at)
    assert len(at.get("image")) == 2  # one grid per sampler
    assert at.selectbox(key="mf_sampler_a").value == "prior" and at.selectbox(key="mf_sampler_b").value == "gmm"
    figures = [m.value for m in at.markdown if m.value.startswith("**Fréchet")]
    assert len(figures) == 2 and figures[0] != figures[1]  # measured for each sampler, not copied
    frechet = [float(f.split("**")[1].split()[1]) for f in figures]
    assert all(0 < f < 200 for f in frechet)
    assert any("Gaussian mixture of" in c.value for c in at.caption)  # the fitted sampler says what it is
    at.selectbox(key="mf_sampler_b").set_value("kde").run()
    _ok(at)
    assert any("kernel density on" in c.value for c in at.caption)
