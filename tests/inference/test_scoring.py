"""vae.inference.scoring: one input scored end to end, percentiles and words, q(z|x) on a 2-D plane."""

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae.data import images, pictures
from vae.inference import latent, scoring
from vae.store import catalog as store


@pytest.fixture(scope="module")
def model():
    return store.load("mnist-5k-2d")[0]  # the bundled 2-D MLP VAE on mnist-5k


def _digit_png(size: int = 200) -> bytes:
    """A black '0' on white, like a photo of a handwritten digit."""
    im = Image.new("L", (size, size), 255)
    ImageDraw.Draw(im).ellipse((size // 4, size // 6, 3 * size // 4, 5 * size // 6), outline=0, width=size // 14)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_score_an_upload(model):
    s = scoring.score(model, _digit_png(), (1, 28, 28), iw_samples=20)
    assert s.prepared.array.shape == (1, 28, 28) and s.prepared.inverted
    assert s.mu.shape == (2,) and (s.sigma > 0).all()
    assert s.reconstruction.shape == (1, 28, 28) and 0 <= s.reconstruction.min() <= s.reconstruction.max() <= 1
    assert np.isfinite([s.elbo, s.iw]).all() and s.elbo < 0 and s.iw < 0 and s.iw_samples == 20
    again = scoring.score(model, _digit_png(), (1, 28, 28), iw_samples=20)
    assert (again.elbo, again.iw) == (s.elbo, s.iw)  # seeded: the same picture scores the same


@pytest.mark.parametrize(
    "bad, words",
    [
        (b"", "empty"),
        (b"not an image", "not an image"),
        (_digit_png()[:200], "truncated"),
        (images.to_png(np.zeros((40, 40))), "blank"),
    ],
)
def test_bad_inputs_raise_image_error(model, bad, words):
    with pytest.raises(pictures.ImageError, match=words):
        scoring.score(model, bad, (1, 28, 28), iw_samples=2)


def test_percentile_and_verdict():
    ref = np.arange(1000.0)
    assert scoring.percentile(ref, 5.0) == 0.5
    assert scoring.percentile(ref, 1e9) == 100.0
    assert np.isnan(scoring.percentile([], 1.0))
    assert scoring.verdict(0.5, "test digits") == "unusual (below the 1st percentile of test digits)"
    assert scoring.verdict(3).startswith("on the low side")
    assert scoring.verdict(40).startswith("typical")


def test_on_plane_without_plane_is_the_first_two_dims():
    centre, cov = scoring.on_plane([1.0, -2.0], [0.5, 0.1])
    np.testing.assert_allclose(centre, [1, -2])
    np.testing.assert_allclose(cov, np.diag([0.25, 0.01]))


def test_on_plane_pca_matches_projected_samples():
    """The projection of N(mu, diag sigma^2) through the PCA plane, checked by Monte Carlo."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((500, 5)) @ rng.standard_normal((5, 5))
    plane = latent.project(z, "pca")
    mu, sigma = rng.standard_normal(5), rng.uniform(0.2, 1.0, 5)
    centre, cov = scoring.on_plane(mu, sigma, plane)
    samples = plane.transform(mu + sigma * rng.standard_normal((200_000, 5)))
    np.testing.assert_allclose(centre, plane.transform(mu)[0], atol=1e-5)
    np.testing.assert_allclose(cov, np.cov(samples.T), rtol=0.03, atol=1e-3)


def test_on_plane_refuses_nonlinear_projections():
    plane = latent.Projection("tsne", np.zeros((3, 2), np.float32), ("a", "b"))
    with pytest.raises(NotImplementedError):
        scoring.on_plane(np.zeros(4), np.ones(4), plane)


@pytest.mark.parametrize("k", [1, 2])
def test_ellipse_lies_at_k_sigma(k):
    centre, cov = np.array([1.0, 2.0]), np.array([[2.0, 0.8], [0.8, 0.5]])
    xs, ys = scoring.ellipse(centre, cov, k)
    d = np.stack([xs, ys], 1) - centre
    mahalanobis = np.sqrt(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d))
    np.testing.assert_allclose(mahalanobis, k, rtol=1e-9)
    assert (xs[0], ys[0]) == pytest.approx((xs[-1], ys[-1]))  # closed


def test_ellipse_of_a_diagonal_is_axis_aligned_like_latent_sigma_ellipse():
    xs, ys = scoring.ellipse([0.5, -1], np.diag([0.09, 0.04]), 2, n_points=4001)
    ex, ey = latent.sigma_ellipse([0.5, -1], [0.3, 0.2], 2, n_points=4001)
    for ours, theirs, half in ((xs, ex, 0.6), (ys, ey, 0.4)):  # 2 sigma either side
        assert np.ptp(ours) == pytest.approx(2 * half, rel=1e-5) == np.ptp(theirs)


def test_decode_data_url_round_trip_and_errors():
    png = _digit_png(28)
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert scoring.decode_data_url(url) == png
    for bad in (None, "", "hello", "data:text/plain;base64,aGk=", "data:image/png;base64,@@@"):
        with pytest.raises(pictures.ImageError):
            scoring.decode_data_url(bad)


def test_a_canvas_drawing_prepares():
    """What the canvas sends: white strokes on black, RGBA, as a data URL."""
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(im).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    prepared = pictures.prepare(scoring.decode_data_url(url), (1, 28, 28))
    assert not prepared.inverted and prepared.array.max() == 1.0


@pytest.mark.parametrize(
    "shape, factor",
    [((28, 28), 4), ((256, 200), 1), ((8, 250), 1), ((10, 20), 12), ((191, 18, 3), 2), ((20, 30, 4), 6)],
)
def test_thumbnail_enlarges_by_whole_factors_and_pads_to_a_square(shape, factor):
    picture = np.full(shape, 7, np.uint8)
    out = scoring.thumbnail(picture)
    side = max(shape[:2]) * factor
    assert out.shape == (side, side, *shape[2:])
    assert (out == 7).sum() == picture.size * factor**2  # the picture, whole; the rest is padding


def test_reconstruction_error_and_its_words():
    x = np.zeros((2, 1, 4, 4))
    recon = np.zeros((2, 1, 4, 4))
    recon[1, 0, :2] = 1.0  # half the pixels fully wrong
    np.testing.assert_allclose(scoring.reconstruction_error(x, recon), [0.0, 127.5])
    reference = np.arange(100, dtype=float)  # errors 0..99
    assert scoring.error_words(10.0, reference).startswith("Reconstructed well: off by 10.0 grey levels")
    assert "10% are reconstructed more closely" in scoring.error_words(10.0, reference)
    assert scoring.error_words(90.0, reference).startswith("Reconstructed worse than most test images")
    assert scoring.error_words(500.0, reference).startswith("Reconstructed badly")
