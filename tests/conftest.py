"""Shared fixtures: a private models folder and data cache for every test, small seeded data."""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests use one torch thread, as the app does: tiny models train faster on one, and the tests
    share two cores with a browser and a server."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
        x[i, 0, r * 4 : r * 4 + 4, col * 4 : col * 4 + 4] = 0.8
    x += gen.uniform(0, 0.2, x.shape).astype(np.float32)
    return torch.from_numpy(x), labels
