"""vae.inference.aggregate: ELBO surgery where q(z) and p(z) are known in closed form."""

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from vae.inference import aggregate


def test_log_normal_matches_scipy():
    rng = np.random.default_rng(0)
    z, mu, sigma = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.uniform(0.5, 2, (4, 3))
    want = np.array([[multivariate_normal(m, np.diag(s**2)).logpdf(x) for m, s in zip(mu, sigma)] for x in z])
    np.testing.assert_allclose(aggregate.log_normal(z, mu, sigma), want, rtol=1e-10)


def test_an_encoder_that_ignores_its_input_carries_no_information():
    """Every q(z|x_n) = N(m, s^2): q(z) is that Gaussian, I = 0, the marginal KL is its KL to N(0, I)."""
    m, s = np.array([1.0, -0.5]), np.array([0.5, 2.0])
    n = 4000
    out = aggregate.surgery(np.tile(m, (n, 1)), np.tile(s, (n, 1)), seed=1)
    closed = 0.5 * np.sum(m**2 + s**2 - 2 * np.log(s) - 1)
    assert out["average_kl"] == pytest.approx(closed, rel=1e-12)
    assert out["mutual_information"] == pytest.approx(0.0, abs=0.05)  # Monte Carlo noise only
    assert out["marginal_kl"] == pytest.approx(closed, abs=0.05)
    assert out["average_kl"] == pytest.approx(out["mutual_information"] + out["marginal_kl"], abs=1e-12)


def test_far_apart_narrow_codes_carry_log_n_nats():
    """Four codes far apart with tiny sigma: each z_n is told apart from the others, I = log 4."""
    mu = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 6.0], [0.0, -6.0]]).repeat(250, axis=0)
    mu += np.random.default_rng(2).normal(0, 1e-9, mu.shape)  # distinct points, the same four places
    out = aggregate.surgery(mu, np.full_like(mu, 0.01), seed=3)
    assert out["mutual_information"] == pytest.approx(math.log(4), abs=0.1)  # MC noise of E log q(z|x): ~0.03
    assert out["mutual_information"] <= out["log_n"]


def test_a_large_split_is_subsampled_and_says_so():
    rng = np.random.default_rng(4)
    out = aggregate.surgery(rng.normal(size=(3000, 2)), np.full((3000, 2), 0.3), n_max=1000)
    assert out["n"] == 1000 and out["of"] == 3000 and out["log_n"] == pytest.approx(math.log(1000))


def test_the_hole_map_and_share_where_q_is_known():
    """Codes that are the prior itself (every q(z|x) = N(mu_n, tiny), mu_n ~ N(0, I)) leave few holes
    inside 2 sigma; codes bunched at one point leave the rest of the prior empty."""
    rng = np.random.default_rng(5)
    spread = rng.standard_normal((4000, 2))
    xs, ys, values = aggregate.hole_map(spread, np.full_like(spread, 0.3), extent=2.0, n=11)
    assert values.shape == (11, 11) and np.all(np.abs(values[3:8, 3:8]) < 1.0)  # q ~ p near the middle
    assert aggregate.hole_share(spread, np.full_like(spread, 0.3)) < 0.1
    bunched = rng.normal(0, 0.05, (500, 2)) + 2.0
    assert aggregate.hole_share(bunched, np.full_like(bunched, 0.1)) > 0.95
    assert aggregate.log_ratio(np.array([[2.0, 2.0]]), bunched, np.full_like(bunched, 0.1))[0] > 3


def test_the_hole_map_on_a_plane_is_the_densities_on_that_slice():
    """Above 2-D the map lies on a plane z = mean + x c1 + y c2: its values are log q - log p at those
    D-dimensional points, and codes off the plane leave it a hole."""
    rng = np.random.default_rng(6)
    mu, sigma = rng.normal(0, 0.5, (300, 3)), np.full((300, 3), 0.4)
    mean, comps = np.array([0.2, -0.1, 0.0]), np.array([[1.0, 0, 0], [0, 0, 1.0]])
    xs, ys, values = aggregate.hole_map(mu, sigma, plane=(mean, comps), window=(-1, 2, -3, 3), n=5)
    assert xs[0] == -1 and xs[-1] == 2 and ys[0] == -3 and values.shape == (5, 5)
    z = mean + np.array([xs[3], ys[1]]) @ comps  # row 1 (ys[1]), column 3 (xs[3])
    assert values[1, 3] == pytest.approx(aggregate.log_ratio(z[None], mu, sigma)[0])
    far = aggregate.hole_map(mu, sigma, plane=(np.array([0, 3.0, 0]), comps), window=(-1, 1, -1, 1), n=3)[2]
    assert np.all(far < aggregate.HOLE)  # the slice at y = 3 misses the codes
