"""Shared fixtures: a private models folder and data cache for every test, small seeded data."""
import numpy as np
import pytest
import torch
from streamlit.runtime.pages_manager import PagesManager


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Tests never touch ./models; the data cache is shared across the session (parsing is slow)."""
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
    monkeypatch.setenv("VAE_DATA_DIR", str(_data_cache(tmp_path_factory)))


_CACHE = {}


def _data_cache(factory):
    if "dir" not in _CACHE:
        _CACHE["dir"] = factory.mktemp("data_cache")
    return _CACHE["dir"]


@pytest.fixture
def blobs():
    """256 tiny 1x8x8 images in [0,1]: four classes of bright blobs in different corners."""
    gen = np.random.default_rng(0)
    x = np.zeros((256, 1, 8, 8), np.float32)
    labels = np.arange(256) % 4
    for i, c in enumerate(labels):
        r, col = divmod(int(c), 2)
        x[i, 0, r * 4:r * 4 + 4, col * 4:col * 4 + 4] = 0.8
    x += gen.uniform(0, 0.2, x.shape).astype(np.float32)
    return torch.from_numpy(x), labels


@pytest.fixture(autouse=True)
def _navigation_as_on_the_server(monkeypatch):
    """Make AppTest run app.py on every rerun, as the real server does.

    The app uses st.navigation with its page scripts in pages/. A server sets
    PagesManager.uses_pages_directory to False at the first st.navigation call and keeps it; AppTest
    resets it before every run, finds pages/ and falls back to the old pages-directory mode, which
    runs the page script alone on reruns (no app.py, so no sidebar). Streamlit 1.67."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
