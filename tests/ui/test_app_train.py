"""The Train page through streamlit's AppTest: it opens, trains and saves a model the sidebar then
offers, and shows bad input (names, uploads) as errors, never as tracebacks."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import resources
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    return at


def _start(at: AppTest, name: str, epochs: int = 1) -> AppTest:
    at.number_input(key="tr_epochs").set_value(epochs)
    at.text_input(key="tr_name").input(name)
    return at.button(key="tr_start").click().run()


def test_page_opens():
    at = _train_page()
    assert at.title[0].value == "Train"
    assert "mnist-5k" in at.selectbox(key="tr_source").options[0]
    assert at.button(key="tr_start").disabled is False


def test_one_epoch_on_mnist_is_saved_and_offered_in_the_sidebar():
    at = _start(_train_page(), "app-mnist")
    assert not at.exception and not at.error
    job = resources.training_jobs()["app-mnist"]
    assert job.wait(120) and job.state == "done", job.error
    at.run()
    assert any("Saved as **app-mnist**" in s.value for s in at.success)
    at.button(key="tr_select").click().run()
    picker = at.sidebar.selectbox(key="_model_name")
    assert "app-mnist" in picker.options and picker.value == "app-mnist"
    home = AppTest.from_file(APP, default_timeout=60).run()  # another session sees it too
    assert "app-mnist" in home.selectbox(key="_model_name").options
    assert job.dataset["name"] == "mnist-5k" and len(job.history) == 1


@pytest.mark.parametrize("name, error", [("bad name!", "not allowed"), ("taken", "already exists")])
def test_bad_names_show_errors(name, error):
    store.save(build(ModelConfig(), seed=0), "taken")
    at = _start(_train_page(), name)
    assert not at.exception
    assert any(error in e.value for e in at.error), [e.value for e in at.error]


def _npz(x) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=x)
    return buf.getvalue()


@pytest.mark.parametrize(
    "filename, content, error",
    [
        ("broken.npz", b"PK\x03\x04 garbage", "could not read"),
        ("empty.zip", b"PK\x05\x06" + bytes(18), "empty"),
        ("rgba.npz", _npz(np.zeros((20, 8, 8, 4), np.uint8)), "shape (4, 8, 8)"),
    ],
)
def test_bad_uploads_show_errors(filename, content, error):
    at = _train_page()
    at.selectbox(key="tr_source").select_index(len(at.selectbox(key="tr_source").options) - 1).run()
    at.file_uploader(key="tr_upload").set_value((filename, content, "application/octet-stream"))
    at = _start(at, f"up-{filename.split('.')[0]}")
    assert not at.exception
    assert any(error in e.value for e in at.error), [e.value for e in at.error]


def test_an_uploaded_npz_trains_and_remembers_its_file():
    x = (np.random.default_rng(0).random((120, 8, 8)) * 255).astype(np.uint8)
    at = _train_page()
    at.selectbox(key="tr_source").select_index(len(at.selectbox(key="tr_source").options) - 1).run()
    at.file_uploader(key="tr_upload").set_value(("tiny.npz", _npz(x), "application/octet-stream"))
    at = _start(at, "app-upload")
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = resources.training_jobs()["app-upload"]
    assert job.wait(60) and job.state == "done", job.error
    _, info = store.load("app-upload")
    assert info.meta["dataset"]["name"] == "tiny.npz" and info.meta["dataset"]["path"].endswith(".npz")
    assert resources.dataset(info.meta["dataset"]["path"], "test").shape == (1, 8, 8)


def test_a_running_job_shows_progress_curves_and_map_and_stops_from_the_page():
    at = _start(_train_page(), "app-stop", epochs=200)
    job = resources.training_jobs()["app-stop"]
    try:
        deadline = time.time() + 60
        while not job.history and time.time() < deadline:
            time.sleep(0.05)
        at.run()
        assert not at.exception
        assert at.button(key="tr_start").disabled  # one run at a time per session
        assert len(at.get("plotly_chart")) == 2  # curves and the live latent map
        at.button(key="tr_stop").click().run()
    finally:
        job.stop()
    assert job.wait(120) and job.state == "done" and job.outcome == "cancelled", job.error
    at.run()
    assert any("Saved as **app-stop**" in s.value for s in at.success)
    assert at.dataframe[0].value["model"].tolist()[0] == "app-stop"
