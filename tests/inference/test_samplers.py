"""vae.inference.samplers: each sampler fitted on a known mixture draws from it, and round-trips."""

import numpy as np
import pytest

from vae.inference import samplers

CENTRES = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0]])


def _mixture(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return CENTRES[rng.integers(0, 3, n)] + rng.normal(0, 0.3, (n, 2))


def _near_a_centre(z) -> float:
    """Share of samples within 1.0 of a mixture centre (the prior puts ~10% there)."""
    d = np.linalg.norm(z[:, None, :] - CENTRES[None], axis=2).min(1)
    return float(np.mean(d < 1.0))


@pytest.mark.parametrize("kind", ["gmm", "kde", "flow"])
def test_each_sampler_fitted_on_a_known_mixture_draws_from_it(kind):
    s = samplers.fit(kind, _mixture())
    z = s.sample(2000, seed=1)
    assert z.shape == (2000, 2) and z.dtype == np.float32
    assert _near_a_centre(z) > (0.9 if kind != "flow" else 0.75)
    assert _near_a_centre(samplers.fit("prior", _mixture()).sample(2000)) < 0.3
    back = samplers.from_arrays(s.to_arrays())
    np.testing.assert_allclose(back.sample(50, seed=2), s.sample(50, seed=2), rtol=1e-5, atol=1e-6)


def test_the_gmm_finds_three_components_by_bic():
    s = samplers.fit("gmm", _mixture())
    assert len(s.weights) == 3 and "3 full-covariance components" in s.describe()


def test_unknown_sampler_and_a_1d_flow_are_clear_errors():
    with pytest.raises(samplers.SamplerError, match="known: prior, gmm, kde, flow"):
        samplers.fit("vae", _mixture())
    with pytest.raises(samplers.SamplerError, match="at least 2 latent dimensions"):
        samplers.fit("flow", np.zeros((100, 1)))
