"""Tests for vae.inference.views: selection -> rows, map windows and their decoded backdrop, per-point scores."""

import numpy as np
import pytest
import torch

from vae.inference import latent, views
from vae.models import objectives
from vae.models.config import ModelConfig
from vae.models.registry import build


@pytest.fixture(scope="module")
def model3():
    return build(ModelConfig(image_shape=(1, 8, 8), latent_dim=3, hidden=(16,)), seed=0)


@pytest.mark.parametrize(
    "event, expected",
    [
        (None, []),
        ({}, []),
        ({"selection": {"points": []}}, []),
        ({"selection": {"points": [{"customdata": 5}, {"customdata": [2]}, {"customdata": 5.0}]}}, [2, 5]),
        (
            {
                "selection": {
                    "points": [
                        {"x": 1.0, "y": 2.0},
                        {"customdata": None},
                        {"customdata": []},
                        {"customdata": "id"},
                        {"customdata": 2.5},
                        {"customdata": 7},
                    ]
                }
            },
            [7],
        ),
        ({"selection": {"points": [{"customdata": -1}, {"customdata": 10}, {"customdata": 9}]}}, [9]),
    ],
)
def test_selected_rows(event, expected):
    rows = views.selected_rows(event, n_rows=10)
    assert rows.dtype == np.int64 and rows.tolist() == expected


def test_selected_rows_without_bound_keeps_large_ids():
    assert views.selected_rows({"selection": {"points": [{"customdata": [4999]}]}}).tolist() == [4999]


def test_capped():
    ids, more = views.capped(np.arange(40))
    assert len(ids) == views.SELECTION_LIMIT and more
    ids, more = views.capped([3, 4], limit=2)
    assert ids.tolist() == [3, 4] and not more


def test_square_window_contains_points_and_is_square():
    pts = np.array([[0.0, -1.0], [4.0, 1.0], [2.0, 0.0]])
    (x0, x1), (y0, y1) = views.square_window(pts, margin=0.1)
    assert x1 - x0 == pytest.approx(y1 - y0) == pytest.approx(4.0 * 1.2)
    assert x0 < 0 and x1 > 4 and y0 < -1 and y1 > 1
    assert (x0 + x1) / 2 == pytest.approx(2.0) and (y0 + y1) / 2 == pytest.approx(0.0)
    (a0, a1), _ = views.square_window([[1.0, 1.0]])  # one point: a small non-empty window
    assert a1 > a0


def test_decode_window_cell_centres_and_held_dims(model3):
    base = np.array([0.0, 0.0, 0.7], np.float32)
    g = views.decode_window(model3, 4, (-2.0, 2.0), (0.0, 8.0), dims=(0, 1), base=base)
    assert g.images.shape == (4, 4, 1, 8, 8)
    np.testing.assert_allclose(g.xs, [-1.5, -0.5, 0.5, 1.5])
    np.testing.assert_allclose(g.ys, [7.0, 5.0, 3.0, 1.0])  # row 0 is the top
    np.testing.assert_allclose(g.zs[:, 2], 0.7)
    np.testing.assert_allclose(g.zs[1], [-0.5, 7.0, 0.7])  # row-major: zs[r * n + c]
    np.testing.assert_allclose(g.images[0, 1], latent.decode(model3, g.zs[1])[0], atol=1e-6)
    assert g.axis_names == ("z1", "z2")


def test_grid_picture_layout():
    g = np.zeros((2, 3, 1, 4, 5), np.float32)
    g[1, 2] = 1.0  # bottom-right cell
    pic = views.grid_picture(g)
    assert pic.shape == (8, 15)
    assert pic[4:, 10:].min() == 1.0 and pic[:4].max() == 0.0 and pic[4:, :10].max() == 0.0
    assert views.grid_picture(np.zeros((2, 2, 3, 4, 4))).shape == (8, 8, 3)


def test_point_scores_match_objectives(model3):
    x = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    s = views.point_scores(model3, x.numpy(), samples=200, batch_size=7)
    assert {k: v.shape for k, v in s.items()} == {"reconstruction": (20,), "kl": (20,), "elbo": (20,)}
    with torch.inference_mode():
        mu, logvar = model3.encode(x)
        kl = objectives.kl_standard_normal(mu, logvar).sum(-1).numpy()
        rec = objectives.log_likelihood(model3, x, model3.decode_logits(mu)).numpy()
    np.testing.assert_allclose(s["kl"], kl, rtol=1e-5)
    np.testing.assert_allclose(s["elbo"], s["reconstruction"] - s["kl"], rtol=1e-6)
    assert np.all(s["reconstruction"] < 0)  # a Bernoulli log-likelihood summed over 64 pixels
    np.testing.assert_allclose(s["reconstruction"], rec, rtol=0.05)  # sigma is small at init
    again = views.point_scores(model3, x.numpy(), samples=200, batch_size=7)
    np.testing.assert_array_equal(again["reconstruction"], s["reconstruction"])  # seeded
