"""The aggregate posterior q(z) = (1/N) sum_n q(z|x_n): how much of the prior the encoder fills.

ELBO surgery (Hoffman & Johnson 2016): the average KL term splits exactly into
    E_n KL(q(z|x_n) || p(z)) = I(n; z) + KL(q(z) || p(z)),
the index-code mutual information (at most log N) and the marginal KL, how far the codes' mixture
is from the prior. Estimated as in rtqichen/beta-tcvae: one z_n ~ q(z|x_n) per data point (a
subsample of at most `n_max` points when the split is larger, said in the result), log q(z_n) by
log-sum-exp of log q(z_n|x_m) over those same points minus log N, marginal KL = mean(log q(z_n) -
log p(z_n)); the mutual information is the average KL (closed form) minus the marginal KL. The
pairwise term costs O(N^2 D): it runs in chunks.

Numpy in and out (codes as mu, sigma); nothing here imports streamlit.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

N_MAX = 10_000  # points in the estimate: 10^8 pairwise terms per latent dimension at most
CHUNK = 512  # z rows scored against every component at once


def log_normal(z, mu, sigma) -> np.ndarray:
    """log N(z; mu, diag sigma^2) for every pair: z (A, D), mu and sigma (B, D) -> (A, B)."""
    z, mu, sigma = (np.asarray(a, np.float64) for a in (z, mu, sigma))
    out = np.empty((len(z), len(mu)))
    log_norm = -0.5 * z.shape[1] * math.log(2 * math.pi) - np.log(sigma).sum(1)  # (B,)
    for s in range(0, len(z), CHUNK):
        diff = (z[s : s + CHUNK, None, :] - mu[None]) / sigma[None]  # (a, B, D)
        out[s : s + CHUNK] = log_norm[None] - 0.5 * np.einsum("abd,abd->ab", diff, diff)
    return out


def surgery(mu, sigma, *, n_max: int = N_MAX, seed: int = 0) -> dict:
    """ELBO surgery of a split's codes (mu, sigma (N, D)) -> nats per image: average_kl,
    mutual_information, marginal_kl; n (points used), of (points in the split), log_n (the mutual
    information's ceiling)."""
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    rng = np.random.default_rng(seed)
    total = len(mu)
    if total > n_max:
        keep = np.sort(rng.choice(total, n_max, replace=False))
        mu, sigma = mu[keep], sigma[keep]
    n = len(mu)
    average_kl = float(np.mean(0.5 * np.sum(mu**2 + sigma**2 - 2 * np.log(sigma) - 1, axis=1)))
    z = mu + sigma * rng.standard_normal(mu.shape)  # one z_n ~ q(z|x_n) each
    log_qz = logsumexp(log_normal(z, mu, sigma), axis=1) - math.log(n)  # (N,)
    log_pz = -0.5 * np.sum(z**2, axis=1) - 0.5 * mu.shape[1] * math.log(2 * math.pi)
    marginal_kl = float(np.mean(log_qz - log_pz))
    return {
        "average_kl": average_kl,
        "mutual_information": average_kl - marginal_kl,
        "marginal_kl": marginal_kl,
        "n": int(n),
        "of": int(total),
        "log_n": math.log(n),
    }


HOLE = math.log(0.1)  # log q(z)/p(z) below this: a hole (the codes' density under a tenth of the prior's)


def log_ratio(z, mu, sigma, *, n_max: int = 2000, seed: int = 0) -> np.ndarray:
    """log q(z) - log p(z) at points z (M, D), q the mixture of the codes' posteriors (a seeded
    subsample of n_max of them)."""
    mu, sigma, z = np.asarray(mu, np.float64), np.asarray(sigma, np.float64), np.asarray(z, np.float64)
    if len(mu) > n_max:
        keep = np.random.default_rng(seed).choice(len(mu), n_max, replace=False)
        mu, sigma = mu[keep], sigma[keep]
    log_qz = logsumexp(log_normal(z, mu, sigma), axis=1) - math.log(len(mu))
    log_pz = -0.5 * np.sum(z**2, axis=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
    return log_qz - log_pz


def hole_map(
    mu, sigma, extent: float = 4.0, n: int = 61, *, plane=None, window=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log q(z) - log p(z) on an n x n grid -> xs, ys, (n, n) values (row i at ys[i]). The grid covers
    `window` (x0, x1, y0, y1), by default [-extent, extent]^2, of a 2-D latent, or, above 2-D, of a
    `plane` (mean (D,), components (2, D)): z = mean + x c1 + y c2, e.g. the PCA plane through the
    codes' mean (vae.inference.latent.Projection), so the values are those of the D-dimensional
    densities on that slice."""
    x0, x1, y0, y1 = window if window is not None else (-extent, extent, -extent, extent)
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    if plane is not None:
        mean, components = (np.asarray(a, np.float64) for a in plane)
        grid = mean + grid @ components
    return xs, ys, log_ratio(grid, mu, sigma).reshape(n, n)


def hole_share(mu, sigma, *, n: int = 2000, seed: int = 0) -> float:
    """The share of prior samples z ~ N(0, I) that land in a hole (log q(z)/p(z) < HOLE)."""
    z = np.random.default_rng(seed).standard_normal((n, np.asarray(mu).shape[1]))
    return float(np.mean(log_ratio(z, mu, sigma, seed=seed) < HOLE))
