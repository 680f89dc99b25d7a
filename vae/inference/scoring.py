"""Score one input picture: prepare it, encode it, reconstruct it, and say how typical it is.

`score` runs the whole chain for one upload or drawing: pictures.prepare (MNIST-style input, steps
kept), the posterior q(z|x) = N(mu, diag sigma^2), the reconstruction decoded from mu, the ELBO and
the importance-weighted bound on log p(x) (Burda et al. 2016) in nats, summed over pixels. The
test set's scores are the reference: `percentile` and `verdict` turn a score into a plain
out-of-distribution signal. `on_plane` puts q(z|x) on a 2-D map: a linear projection P (PCA or
identity) of a Gaussian is the Gaussian N(P mu, P diag(sigma^2) P^T), so its ellipses are exact.

Nothing here imports streamlit.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np
import torch

from vae.data import images, pictures
from vae.inference import latent
from vae.models import objectives

IW_SAMPLES = 100  # importance samples for log p(x); the test reference must use the same K
UNUSUAL_PERCENTILE = 1.0  # below this percentile of the test set an input is called unusual
LOW_PERCENTILE = 5.0  # below this: "on the low side"
MAX_DATA_URL = 20_000_000  # characters; a 280x280 canvas PNG is a few tens of kB
_DATA_URL = re.compile(r"^data:image/[a-z.+-]+;base64,", re.IGNORECASE)


@dataclass
class Scored:
    prepared: pictures.Prepared
    mu: np.ndarray  # (D,) posterior mean
    sigma: np.ndarray  # (D,) posterior standard deviation
    reconstruction: np.ndarray  # (C, H, W) decoder mean at z = mu, in [0, 1]
    elbo: float  # nats, one reparameterized sample
    iw: float  # nats, importance-weighted bound with iw_samples samples
    iw_samples: int

    @property
    def error(self) -> float:
        """How far the reconstruction is from the input: reconstruction_error of the one pair."""
        return float(reconstruction_error(self.prepared.array[None], self.reconstruction[None])[0])


def reconstruction_error(x, reconstruction) -> np.ndarray:
    """(N, C, H, W) inputs and reconstructions in [0, 1] -> (N,) mean absolute pixel difference in
    grey levels of 255: a plain 'does it look the same' number, unlike log p(x), which says how
    likely the model finds the input."""
    diff = np.abs(np.asarray(x, np.float64) - np.asarray(reconstruction, np.float64))
    return diff.reshape(len(diff), -1).mean(1) * 255


def encode(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One prepared image (C, H, W) -> mu, sigma (D,) each."""
    mu, sigma = latent.encode_dataset(model, np.asarray(x, np.float32)[None])
    return mu[0], sigma[0]


def score(model, picture, shape, *, iw_samples: int = IW_SAMPLES, seed: int = 0) -> Scored:
    """Any picture pictures.prepare accepts -> Scored. Raises pictures.ImageError for bad input."""
    prepared = pictures.prepare(picture, tuple(shape))
    mu, sigma = encode(model, prepared.array)
    x = prepared.tensor()  # (1, C, H, W)
    gen = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        elbo = float(objectives.elbo(model, x, gen).elbo[0])
        iw = float(objectives.iw_bound(model, x, iw_samples, gen)[0])
    return Scored(prepared, mu, sigma, latent.decode(model, mu)[0], elbo, iw, iw_samples)


def percentile(reference, value: float) -> float:
    """Percent of the reference values (e.g. the test set's log-likelihoods) below value."""
    reference = np.asarray(reference, dtype=np.float64)
    return float((reference < value).mean() * 100) if len(reference) else float("nan")


def verdict(pct: float, what: str = "test images") -> str:
    """A percentile of log-likelihood -> words: typical, on the low side, or unusual."""
    if pct < UNUSUAL_PERCENTILE:
        return f"unusual (below the 1st percentile of {what})"
    if pct < LOW_PERCENTILE:
        return f"on the low side (below the 5th percentile of {what})"
    return f"typical ({pct:.0f}% of {what} score lower)"


def error_words(error: float, reference) -> str:
    """A reconstruction error against the test set's (reconstruction_error of each) -> one sentence."""
    worse = percentile(reference, error)
    how = "well" if worse < 75 else "worse than most test images" if worse < 99 else "badly"
    return (
        f"Reconstructed {how}: off by {error:.1f} grey levels per pixel on average "
        f"(test images: median {np.median(reference):.1f}; {worse:.0f}% are reconstructed more closely)."
    )


def on_plane(mu, sigma, plane: latent.Projection | None = None) -> tuple[np.ndarray, np.ndarray]:
    """q(z|x) = N(mu, diag sigma^2) on a 2-D map -> centre (2,), covariance (2, 2).
    plane None: the first two latent dimensions as they are (a 2-D model). A linear plane (PCA,
    identity) projects exactly; others raise NotImplementedError (no covariance to project)."""
    mu, sigma = np.asarray(mu, np.float64).ravel(), np.asarray(sigma, np.float64).ravel()
    if plane is None:
        return mu[:2], np.diag(sigma[:2] ** 2)
    if plane.components is None:
        raise NotImplementedError(f"{plane.method} is not linear: q(z|x) has no ellipse on it")
    p = np.asarray(plane.components, np.float64)  # (2, D)
    return p @ (mu - plane.mean), (p * sigma**2) @ p.T


def ellipse(centre, cov, n_sigma: float, n_points: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The closed n_sigma contour of N(centre, cov) in 2-D, any orientation -> xs, ys (n_points,)."""
    vals, vecs = np.linalg.eigh(np.asarray(cov, np.float64))  # cov = V diag(vals) V^T
    t = np.linspace(0.0, 2 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, n_points)
    pts = np.asarray(centre, np.float64)[:, None] + n_sigma * vecs @ (np.sqrt(np.maximum(vals, 0))[:, None] * circle)
    return pts[0], pts[1]


def thumbnail(picture, min_side: int = 112, pad_value: int = 128) -> np.ndarray:
    """A step image (uint8 (h, w[, C])) for a row of equal tiles: enlarged by a whole factor
    (nearest neighbour, so small pictures stay sharp) until its shorter side reaches min_side or
    its longer side 4 * min_side, then centred on a square of mid-grey so a thin crop does not
    become a very tall tile."""
    picture = np.asarray(picture)
    short, long = max(1, min(picture.shape[:2])), max(picture.shape[:2])
    factor = max(1, min(-(-min_side // short), 4 * min_side // long))
    picture = images.upscale(picture, factor)
    h, w = picture.shape[:2]
    side = max(h, w)
    out = np.full((side, side, *picture.shape[2:]), pad_value, dtype=picture.dtype)
    if picture.ndim == 3 and picture.shape[2] == 4:
        out[..., 3] = 255  # the padding is opaque
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = picture
    return out


def decode_data_url(url: str) -> bytes:
    """A data:image/...;base64 URL (what a canvas's toDataURL gives) -> the image file's bytes."""
    if not isinstance(url, str) or not _DATA_URL.match(url):
        raise pictures.ImageError("the drawing is not a base64 image data URL")
    if len(url) > MAX_DATA_URL:
        raise pictures.ImageError("the drawing is too large")
    try:
        return base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError) as e:
        raise pictures.ImageError(f"the drawing's data is corrupt: {e}") from e
