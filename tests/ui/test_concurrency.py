"""Many users at once: 10 AppTest sessions in threads, on different models, pages, uploads, drawings
and z, while two training jobs run in the same server process's registry. No session raises, none
sees another's upload, drawing or z, and the shared cached models' weights are byte-identical
before and after. (tests/test_e2e_concurrency.py does the same with browser contexts on one
`streamlit run` server.)"""

import base64
import hashlib
import io
import threading
from pathlib import Path

import apptest_threads
import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from ui import resources
from vae.data import datasets as data
from vae.models.config import ModelConfig, TrainConfig
from vae.models.registry import build
from vae.store import catalog as store
from vae.training import jobs

APP = str(Path(__file__).resolve().parents[2] / "app.py")
DIGITS = "digits-2d"  # a second model: 8x8 scikit-learn digits


@pytest.fixture
def one_runtime():
    with apptest_threads.shared_runtime():
        yield


def _png(i: int) -> bytes:
    """A picture only session i uploads: a ring of its own size."""
    im = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(im).ellipse((10 + i, 10, 110 - i, 110), outline=0, width=10)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _digest(model) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def _open(page: str, model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    if model != store.DEFAULT_MODEL:
        at.sidebar.selectbox(key="_model_name").set_value(model).run()
    at.switch_page(page).run()
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _playground(i: int, model: str) -> None:
    """z of session i: -3 + 0.55 i (+ 0.05 per move), a value no other session ever sets."""
    at = _open("pages/playground.py", model)
    mine = [round(-3.0 + 0.55 * i + 0.05 * step, 2) for step in range(3)]
    for value in mine:
        next(w for w in at.slider if w.key.startswith(f"pg_{model}_0@")).set_value(value).run()
        _ok(at)
        z = at.session_state[f"pg_{model}_0"], at.session_state[f"pg_{model}_1"]
        # never another session's z (under load a move was once lost, z staying at its start, 0)
        assert z[0] in (*mine, 0.0) and z[1] == 0.0, (i, z)
    assert z[0] == mine[-1] and str(at.query_params["z"]).startswith(f"{mine[-1]:.2f},"), (i, at.query_params)


def _reconstruct(i: int, model: str) -> None:
    at = _open("pages/reconstruct.py", model)
    at.file_uploader(key="rc_files").set_value([(f"session-{i}.png", _png(i), "image/png")]).run()
    _ok(at)
    assert [h.value for h in at.subheader] == [f"session-{i}.png"]
    drawing = "data:image/png;base64," + base64.b64encode(_png(i + 20)).decode()
    at.session_state["rc_canvas"] = {"png": drawing}
    for _ in range(2):
        at.run()
        _ok(at)
        assert [h.value for h in at.subheader] == [f"session-{i}.png", "your drawing"], i
        assert at.session_state["rc_canvas"]["png"] == drawing


def _latent_map(i: int, model: str) -> None:
    at = _open("pages/latent_map.py", model)
    _ok(at)
    split = ["test", "train"][i % 2]
    at.radio(key="lm_split").set_value(split).run()
    for _ in range(2):
        at.run()
        _ok(at)
        assert at.radio(key="lm_split").value == split


def _train_page(i: int, model: str) -> None:
    at = _open("pages/train.py", model)
    options = at.selectbox(key="tr_source").options
    at.selectbox(key="tr_source").set_value(options[-1]).run()
    buf = io.BytesIO()
    np.savez(buf, x=np.full((40, 8, 8), i * 10, np.uint8))
    at.file_uploader(key="tr_upload").set_value((f"mine-{i}.npz", buf.getvalue(), "application/octet-stream")).run()
    for _ in range(2):
        at.run()
        _ok(at)
        assert at.file_uploader(key="tr_upload").value.name == f"mine-{i}.npz"
        table = at.dataframe[0].value
        assert {"busy-a", "busy-b"} <= set(table["model"])


SESSIONS = [
    (_playground, store.DEFAULT_MODEL),
    (_playground, DIGITS),
    (_playground, store.DEFAULT_MODEL),
    (_playground, DIGITS),
    (_reconstruct, store.DEFAULT_MODEL),
    (_reconstruct, DIGITS),
    (_reconstruct, store.DEFAULT_MODEL),
    (_latent_map, DIGITS),
    (_latent_map, store.DEFAULT_MODEL),
    (_train_page, DIGITS),
    (_train_page, store.DEFAULT_MODEL),
]


def test_ten_sessions_and_two_trainings_do_not_mix(blobs, one_runtime):
    directory = resources.models_dir()
    digits = data.load_dataset("digits", "train")
    store.save(
        build(ModelConfig(image_shape=(1, 8, 8), hidden=(32,)), seed=1),
        DIGITS,
        directory,
        dataset={"name": "digits", "shape": [1, 8, 8], "class_names": digits.class_names},
    )
    cached = {}
    for info in store.list_models(directory):
        model = resources.model(resources.ModelRef.of(info, directory))
        cached[info.name] = (model, _digest(model))
    registry = resources.training_jobs()
    x = blobs[0]
    busy = [
        jobs.start(
            name,
            ModelConfig(image_shape=(1, 8, 8), hidden=(32,)),
            TrainConfig(epochs=100_000),
            x[:200],
            x[200:],
            x[200:],
            iw_samples=2,
            registry=registry,
        )
        for name in ("busy-a", "busy-b")
    ]
    errors = []

    def session(i, run, model):
        try:
            run(i, model)
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(f"session {i} ({run.__name__}, {model}): {type(e).__name__}: {e}")

    try:
        threads = [threading.Thread(target=session, args=(i, run, model)) for i, (run, model) in enumerate(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert not errors, "\n".join(errors)
        assert all(j.running and j.history for j in busy), [(j.state, j.error) for j in busy]
        with pytest.raises(jobs.JobLimitError, match="VAE_MAX_TRAINING_JOBS=2"):
            jobs.start("third", busy[0].model_config, busy[0].train_config, x[:200], registry=registry)
    finally:
        for j in busy:
            j.stop()
    assert all(j.wait(60) and j.state == "done" and j.outcome == "cancelled" for j in busy)
    for name, (model, before) in cached.items():  # the shared models were never written
        assert _digest(model) == before, name
        assert _digest(store.load(name, directory)[0]) == before, name
    for name in ("busy-a", "busy-b"):
        del registry[name]
