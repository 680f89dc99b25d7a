"""vae.inference.strip: decoded interpolation strips, their PNG and ping-pong GIF."""

import io

import numpy as np
import pytest
from PIL import Image

from vae.inference import strip
from vae.store import catalog as store


@pytest.fixture(scope="module")
def model():
    return store.load("mnist-5k-2d")[0]


@pytest.mark.parametrize("n, expected", [(1, 1), (2, 2), (3, 4), (10, 18)])
def test_ping_pong_goes_there_and_back(n, expected):
    out = strip.ping_pong(range(n))
    assert len(out) == expected
    if n >= 3:
        assert out[:n] == list(range(n)) and out[n:] == list(range(n - 2, 0, -1))


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolate_decodes_every_step(model, method):
    s = strip.interpolate(model, [-2, 0], [2, 1], 7, method)
    assert s.zs.shape == (7, 2) and s.frames.shape == (7, 1, 28, 28)
    np.testing.assert_allclose(s.zs[[0, -1]], [[-2, 0], [2, 1]])


def test_png_and_gif_exports(model):
    n = 6
    s = strip.interpolate(model, [-2, -2], [2, 2], n)
    png = Image.open(io.BytesIO(s.png(scale=2)))
    assert png.size == (2 * (n * (28 + strip.PAD) + strip.PAD), 2 * (28 + 2 * strip.PAD))
    gif = Image.open(io.BytesIO(s.gif(scale=3)))
    assert gif.format == "GIF" and gif.n_frames == 2 * n - 2 and gif.size == (84, 84)
    assert gif.info.get("loop") == 0
