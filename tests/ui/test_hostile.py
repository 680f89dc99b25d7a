"""Every case of the hostile-input corpus (tests/corpus.py), through the API and through the app.

API: each refused case raises its own exception type (ImageError, DataError, StoreError) with a
specific message, and nothing in it runs (the pickles' payload never fires). App: the same cases
uploaded to Reconstruct and Train, and planted in the models folder, end in those messages on the
page, never in a traceback, and the app keeps serving a good input afterwards.
"""

import re
from pathlib import Path

import corpus
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae import limits
from vae.data import datasets as data
from vae.data import pictures
from vae.store import catalog as store

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 90


@pytest.fixture(autouse=True)
def _nothing_runs():
    yield
    assert not corpus.MARKER.exists(), "a pickle payload ran"


def _apply(monkeypatch, case):
    for name, value in case.limits.items():
        monkeypatch.setattr(limits, name, value)


def _api(case, tmp_path):
    if case.path == "picture":
        return pictures.prepare(case.make())
    if case.path in ("zip", "array"):
        return data.load_user_data(case.make())
    case.make(tmp_path / "m")
    return store.load("m", tmp_path)


def test_the_corpus_is_large_enough():
    counts = {p: sum(c.path == p for c in corpus.CASES) for p in corpus.PATHS}
    assert len(corpus.CASES) >= 30 and min(counts.values()) >= 10, counts


@pytest.mark.parametrize("case", corpus.CASES, ids=lambda c: f"{c.path}: {c.name}")
def test_api_refuses_with_its_own_error_or_reads_correctly(case, tmp_path, monkeypatch):
    _apply(monkeypatch, case)
    if case.error is None:  # odd but valid: prepared like its plain equivalent
        got, want = pictures.prepare(case.make()).array, pictures.prepare(case.same_as()).array
        assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.9, case.message
        return
    with pytest.raises(case.error, match="(?i)" + case.message) as info:
        _api(case, tmp_path)
    assert type(info.value) is case.error
    if case.path == "model" and case.listed:  # listed, not hidden, not hanging; the reason in .error
        listed = {m.name: m for m in store.list_models(tmp_path)}
        assert re.search("(?i)" + case.message, listed["m"].error or ""), listed["m"].error


def test_reconstruct_page_shows_each_picture_error_and_keeps_serving(monkeypatch):
    monkeypatch.setattr(limits, "UPLOAD_MB", 1)  # the one case that needs it; the others are tiny
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/reconstruct.py").run()
    refused = [c for c in corpus.PICTURES if c.error]  # the accepted ones: in the API test above
    at.file_uploader(key="rc_files").set_value([(c.filename, c.make(), "image/png") for c in refused]).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    for case in refused:
        mine = [e for e in errors if e.startswith(f"**{case.filename}**: ")]
        assert len(mine) == 1 and re.search("(?i)" + case.message, mine[0]), (case.name, mine)
        assert "could not be processed" not in mine[0]  # a specific message, not the catch-all
    good = corpus.PICTURES[-1]  # the EXIF-rotated photo: a good picture still works afterwards
    at.file_uploader(key="rc_files").set_value([(good.filename, good.make(), "image/jpeg")]).run()
    assert not at.exception and not at.error and at.subheader[0].value == good.filename


def test_train_page_shows_each_dataset_error_and_keeps_serving(monkeypatch):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/train.py").run()
    options = at.selectbox(key="tr_source").options
    at.selectbox(key="tr_source").select_index(len(options) - 1).run()
    for case in corpus.ZIPS + corpus.ARRAYS:
        monkeypatch.setattr(limits, "INPUT_BYTES", case.limits.get("INPUT_BYTES", 2**30))
        monkeypatch.setattr(limits, "DATASET_BYTES", case.limits.get("DATASET_BYTES", 2 * 2**30))
        at.file_uploader(key="tr_upload").set_value((case.filename, case.make(), "application/octet-stream"))
        at.text_input(key="tr_name").input(f"h{abs(hash(case.name)) % 10**6}")
        at.button(key="tr_start").click().run()
        assert not at.exception, (case.name, [e.value for e in at.exception])
        assert len(at.error) == 1 and re.search("(?i)" + case.message, at.error[0].value), (case.name, at.error)
    assert at.title[0].value == "Train"


def test_sidebar_names_each_broken_model_and_the_app_keeps_serving(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path))
    folders = {f"hostile-{i}": case for i, case in enumerate(corpus.MODELS)}
    for name, case in folders.items():
        case.make(tmp_path / name)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.sidebar.warning]
    for name, case in folders.items():
        mine = [w for w in warnings if w.startswith(f"Model '{name}' cannot be opened: ")]
        assert len(mine) == case.listed and all(re.search("(?i)" + case.message, w) for w in mine), case.name
    late = [name for name, case in folders.items() if not case.listed]  # found broken only on loading
    assert at.selectbox(key="_model_name").options == store.bundled_names() + late
    assert at.title[0].value == "VAE Latent Explorer" and at.metric  # the default model serves
    for name in late:
        at.selectbox(key="_model_name").select(name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert re.search("(?i)" + folders[name].message, at.error[0].value), at.error
    at.selectbox(key="_model_name").select(store.DEFAULT_MODEL).run()
    assert not at.exception and not at.error and at.metric


def test_train_page_holds_epochs_to_the_limit(monkeypatch):
    from ui import resources

    monkeypatch.setattr(limits, "EPOCHS", 3)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/train.py").run()
    assert at.number_input(key="tr_epochs").max == 3
    at.session_state["tr_epochs"] = 500  # what a client sending its own value would ask for
    at.button(key="tr_start").click().run()
    assert not at.exception and not at.error
    job = resources.training_jobs()[at.session_state["tr_job"]]
    job.stop()
    assert job.train_config.epochs == 3 and job.wait(120)
