"""Everything the True posterior page shows for one image, computed in one call (UI-free).

For a latent of 1 or 2 the posterior is exact (vae.inference.posterior) and log p(x) is the quadrature value.
Above 2 the plane is a slice through q's mean along two chosen dimensions (the others held at
their q-mean values), and log p(x) is a large-K importance-weighted estimate, which the view says.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from vae.inference import gaps, posterior
from vae.models import objectives

IW_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
KL_SAMPLES = 2000  # Monte Carlo draws beside the closed-form KL
SHOWN_SAMPLES = 5  # reparameterized samples drawn on the plane
PLANE_POINTS = 60  # heat-map resolution per side
WORKERS = 2  # threads for the independent parts of one view


@dataclass
class PosteriorView:
    d: int
    dims: tuple[int, ...]  # the latent dimensions on the plane
    exact: bool  # log p(x) by quadrature (else an IW estimate)
    log_px: float
    log_px_label: str
    converged: bool
    note: str
    mu: np.ndarray  # (d,) the encoder's q
    sigma: np.ndarray
    mu_star: np.ndarray  # (d,) q*
    sigma_star: np.ndarray
    reconstruction: float  # E_q[log p(x|z)]
    kl_prior: float  # KL(q || p(z)), closed form
    kl_mc: np.ndarray  # (KL_SAMPLES,) running Monte Carlo estimate of the same
    elbo_q: float
    elbo_qstar: float
    kl_grid: float | None  # KL(q || p(z|x)) integrated on a grid (latent 1 or 2)
    iw_ks: np.ndarray
    iw: np.ndarray  # IW(K) for each K, nested draws of one run
    axes: list  # one or two arrays: the plane's coordinates
    log_post: np.ndarray  # log p(z|x) on the plane (a slice's log p(x, z) - log p(x) above 2-D)
    eps: np.ndarray  # (SHOWN_SAMPLES, d) and their z = mu + sigma * eps
    z: np.ndarray

    @property
    def kl_posterior(self) -> float:
        return self.log_px - self.elbo_q

    @property
    def approximation_gap(self) -> float:
        return self.log_px - self.elbo_qstar

    @property
    def amortization_gap(self) -> float:
        return self.elbo_qstar - self.elbo_q


def _window(view_boxes: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[float, float]]:
    lo = np.min([b[0] for b in view_boxes], 0)
    hi = np.max([b[1] for b in view_boxes], 0)
    pad = 0.08 * (hi - lo) + 1e-3
    return list(zip(lo - pad, hi + pad))


def _log_weights(model, x, k: int, gen: torch.Generator) -> torch.Tensor:
    with torch.inference_mode():
        return objectives.log_weights(model, x, k, gen)[:, 0].double()  # (K,)


def _plane(pool: ThreadPoolExecutor, model, x, log_px: float, axes: list, base, dims) -> np.ndarray:
    """posterior_on_grid, its first axis split between the pool's threads."""
    parts = np.array_split(axes[0], WORKERS)
    jobs = [
        pool.submit(posterior.posterior_on_grid, model, x, log_px, [part, *axes[1:]], base, dims)
        for part in parts
        if len(part)
    ]
    return np.concatenate([j.result() for j in jobs], 0)


def describe(
    model, image, dims: tuple[int, int] = (0, 1), grid: posterior.CoarseGrid | None = None, seed: int = 0
) -> PosteriorView:
    """image (C, H, W) in [0, 1] -> PosteriorView. grid: the model's coarse grid (latent 1 or 2),
    computed here if not given (cache it: it decodes ~14,000 points).

    The independent parts (the IW curve, the quadrature for log p(x), the search for q*, the KL on
    a grid) run on WORKERS threads at once: each decodes thousands of points with one torch thread,
    and torch releases the GIL while it computes. The result is the same as computed in sequence."""
    dtype = next(model.parameters()).dtype
    x = torch.as_tensor(np.asarray(image), dtype=dtype).reshape(1, *model.config.image_shape)
    d = model.latent_dim
    dims = tuple(range(d)) if d <= 2 else tuple(dims)
    gen = torch.Generator().manual_seed(seed)
    exact = d <= 2
    if exact and grid is None:
        grid = posterior.coarse_grid(model)
    with torch.inference_mode():
        mu_enc, logvar_enc = (t[0].double().numpy() for t in model.encode(x))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        # longest first: the q* search, the IW curve, then the quadrature and the KL grid
        fit = pool.submit(gaps.gaps, model, x, log_px=[math.nan], grid=grid)  # log p(x) is not needed by the fit
        weights = pool.submit(_log_weights, model, x, max(IW_KS), gen)
        marg = pool.submit(posterior.log_marginal, model, x, grid, hints=mu_enc[None]) if exact else None
        kl = pool.submit(gaps.kl_grid_terms, model, x, mu_enc, logvar_enc) if exact else None
        log_w = weights.result()
        iw = np.array([float(torch.logsumexp(log_w[:k], 0)) - math.log(k) for k in IW_KS])
        if exact:
            m = marg.result()[0]
            log_px, converged, note, boxes = m.log_px, m.converged, m.note, [m.box]
        else:
            log_px, converged, boxes = float(iw[-1]), True, []
            note = f"log p(x) is estimated by the importance-weighted bound with K={IW_KS[-1]}"
        g = fit.result()
        mu, sigma = g.mu[0].astype(np.float64), np.exp(0.5 * g.logvar[0].astype(np.float64))
        mu_s, sigma_s = g.mu_star[0].astype(np.float64), np.exp(0.5 * g.logvar_star[0].astype(np.float64))
        sel = list(dims)
        boxes += [(m_[sel] - 2.5 * s_[sel], m_[sel] + 2.5 * s_[sel]) for m_, s_ in ((mu, sigma), (mu_s, sigma_s))]
        axes = [np.linspace(lo, hi, PLANE_POINTS) for lo, hi in _window(boxes)]
        log_post = _plane(pool, model, x, log_px, axes, mu, dims)
        kl_grid = None
        if exact:
            joint, mass = kl.result()
            kl_grid = joint + log_px * mass
    kl_prior = float(objectives.kl_standard_normal(torch.as_tensor(mu), torch.as_tensor(2 * np.log(sigma))).sum())
    eps_kl = torch.randn(KL_SAMPLES, d, generator=gen, dtype=torch.float64)
    zk = torch.as_tensor(mu) + torch.as_tensor(sigma) * eps_kl
    log_q = objectives.log_normal(zk, torch.as_tensor(mu), torch.as_tensor(2 * np.log(sigma)))
    terms = log_q - objectives.log_normal(zk)  # log q(z) - log p(z), z ~ q
    kl_mc = (terms.cumsum(0) / torch.arange(1, KL_SAMPLES + 1)).numpy()
    eps = torch.randn(SHOWN_SAMPLES, d, generator=gen, dtype=torch.float64).numpy()
    return PosteriorView(
        d,
        dims,
        exact,
        log_px,
        "exact (quadrature)" if exact else f"IW estimate, K={IW_KS[-1]}",
        bool(converged),
        note,
        mu,
        sigma,
        mu_s,
        sigma_s,
        float(g.elbo_q[0]) + kl_prior,
        kl_prior,
        kl_mc,
        float(g.elbo_q[0]),
        float(g.elbo_qstar[0]),
        kl_grid,
        np.array(IW_KS),
        iw,
        axes,
        log_post,
        eps,
        mu + sigma * eps,
    )
