"""The true posterior p(z|x) of a 1- or 2-D latent, and log p(x) by adaptive quadrature.

log p(z|x) = log p(x|z) + log p(z) - log p(x), and log p(x) = log of the integral of p(x|z) p(z) dz.
Posteriors of trained models are narrow (sigma ~ 0.05-0.3) and can have several modes, so a fixed
grid is off by tenths of a nat. Here:
1. a coarse pass: the log joint at the centres of a fixed grid of cells over the prior (decoded once
   per model; for every image it is then a matrix product, because log p(x|z) is linear in x for a
   Bernoulli decoder and quadratic for a Gaussian one; a discretized logistic is summed cell by cell);
2. every cell within THRESHOLD nats of the best one (plus the encoder's cell, dilated by one cell)
   is kept; kept cells form one or more regions (modes), each refined on its own;
3. each kept cell is split into s^d sub-cells and the midpoint rule integrates them, for s = s0,
   2 s0, 3 s0, ...; the value is converged when two successive resolutions agree within `tol`
   (0.01 nats). The cells left out add their coarse estimate (they hold < e^-THRESHOLD of the mass).
The midpoint rule converges exponentially fast for a smooth, Gaussian-like integrand, so a few
points per posterior standard deviation already agree to 1e-6 nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage

from vae.models.objectives import discretized_logistic, log_likelihood, log_normal

COARSE = {1: (8.0, 0.02), 2: (6.0, 0.1)}  # latent size -> (grid half-width, cell size)
THRESHOLD = 20.0  # nats below the best coarse cell: cells further down are not refined
TOL = 0.01  # nats: two resolutions must agree this well
MIN_ACROSS = 12  # sub-cells across the narrowest side of a region at the first resolution
FACTORS = (1, 2, 3, 4, 6, 8, 12, 16)  # successive resolutions, times a region's first one
MAX_POINTS = 400_000  # decoded points per image before giving up ("not converged")
EDGE_SHARE = math.log(1e-4)  # the grid's outermost cells may hold at most this share of the mass
CHUNK = 8192  # points per decoder call


def check_latent(model) -> None:
    if model.latent_dim > 2:
        raise ValueError(
            f"exact log p(x) needs a latent size of 1 or 2 (this model has {model.latent_dim}); "
            "use the importance-weighted bound (--iw-samples) instead"
        )


def _dtype(model) -> torch.dtype:
    return next(model.parameters()).dtype


def log_joint_pairs(model, x: torch.Tensor, idx: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p(x_idx|z) + log p(z) for pairs: x (B, C, H, W), idx (P,) image of each point, z (P, d) -> (P,)."""
    out = []
    with torch.inference_mode():
        for s in range(0, len(z), CHUNK):
            zc = z[s : s + CHUNK]
            out.append(log_likelihood(model, x[idx[s : s + CHUNK]], model.decode_logits(zc)) + log_normal(zc))
    return torch.cat(out) if out else torch.zeros(0, dtype=x.dtype)


def log_joint(model, x: torch.Tensor, z) -> torch.Tensor:
    """One image x (C, H, W) or (1, C, H, W) and points z (G, d) -> log p(x|z) + log p(z), (G,)."""
    z = torch.as_tensor(np.asarray(z), dtype=_dtype(model)).reshape(-1, model.latent_dim)
    x = torch.as_tensor(x, dtype=_dtype(model)).reshape(1, *model.config.image_shape)
    return log_joint_pairs(model, x, torch.zeros(len(z), dtype=torch.long), z)


@dataclass
class CoarseGrid:
    """The coarse cells of one model: log p(x|z_g) + log p(z_g) = x . a_g + b_g - q |x|^2."""

    d: int
    extent: float
    cell: float
    n: int  # cells per dimension
    a: torch.Tensor  # (G, P)
    b: torch.Tensor  # (G,)
    q: float  # Gaussian decoders: 1 / (2 std^2); Bernoulli: 0
    log_scale: torch.Tensor | None = None  # a discretized logistic decoder: its log-scales (P,); `a` holds means

    def centre(self, index: np.ndarray) -> np.ndarray:
        """Integer cell indices (..., d) -> cell centres (..., d)."""
        return -self.extent + (index + 0.5) * self.cell

    def log_joint(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> (B, G) log joints at the cell centres."""
        flat = x.flatten(1).to(self.a.dtype)
        if self.log_scale is not None:  # the logistic's log P(x|z) is not linear in x: cell by cell
            scale = self.log_scale
            rows = [
                torch.cat(
                    [discretized_logistic(f, self.a[g : g + 512], scale).sum(1) for g in range(0, len(self.a), 512)]
                )
                for f in flat
            ]
            return torch.stack(rows) + self.b
        return flat @ self.a.T + self.b - self.q * flat.pow(2).sum(1, keepdim=True)


def coarse_grid(model) -> CoarseGrid:
    """Decode the coarse cell centres once (about 14,400 points for a 2-D latent)."""
    d = model.latent_dim
    check_latent(model)
    extent, cell = COARSE[d]
    n = int(round(2 * extent / cell))
    axes = [-extent + (np.arange(n) + 0.5) * cell] * d
    z = torch.as_tensor(np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d), dtype=_dtype(model))
    a, b = [], []
    with torch.inference_mode():
        for s in range(0, len(z), CHUNK):
            zc = z[s : s + CHUNK]
            logits = model.decode_logits(zc).flatten(1)  # (g, P)
            if model.config.likelihood == "bernoulli":
                a.append(logits)
                b.append(-torch.nn.functional.softplus(logits).sum(1) + log_normal(zc))
            elif model.config.likelihood == "logistic":  # not linear in x: the means are kept instead
                a.append(model.output_mean(logits))
                b.append(log_normal(zc))
            else:
                var = torch.exp(2 * model.log_std)
                mean = model.output_mean(logits)
                a.append(mean / var)
                b.append(
                    -mean.pow(2).sum(1) / (2 * var)
                    - mean.shape[1] * (0.5 * math.log(2 * math.pi) + model.log_std)
                    + log_normal(zc)
                )
    if model.config.likelihood == "logistic":
        return CoarseGrid(
            d,
            extent,
            cell,
            n,
            torch.cat(a),
            torch.cat(b),
            0.0,
            log_scale=model.log_std.detach().flatten().to(_dtype(model)),
        )
    q = 0.0 if model.config.likelihood == "bernoulli" else float(0.5 * torch.exp(-2 * model.log_std.detach()))
    return CoarseGrid(d, extent, cell, n, torch.cat(a), torch.cat(b), q)


@dataclass
class Marginal:
    """log p(x) of one image by quadrature, and how it was reached."""

    log_px: float
    converged: bool
    levels: list = field(default_factory=list)  # the value at each resolution tried
    regions: int = 0  # separate regions of posterior mass (modes)
    points: int = 0  # points decoded
    note: str = ""
    box: tuple = ()  # (lower (d,), upper (d,)): the region refined, which holds the posterior's mass


def _regions(values: np.ndarray, hint: tuple | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Coarse log joints (n,)*d -> (kept mask, region labels, number of regions)."""
    keep = values >= values.max() - THRESHOLD
    if hint is not None:
        keep[hint] = True
    full = np.ones((3,) * values.ndim, bool)
    keep = ndimage.binary_dilation(keep, structure=full)
    labels, k = ndimage.label(keep, structure=full)
    return keep, labels, k


def _subcells(grid: CoarseGrid, cells: np.ndarray, s: int) -> np.ndarray:
    """Cell indices (N, d) -> midpoints of their s^d sub-cells, (N * s^d, d)."""
    offs = (np.arange(s) + 0.5) / s * grid.cell
    sub = np.stack(np.meshgrid(*[offs] * grid.d, indexing="ij"), -1).reshape(-1, grid.d)  # (s^d, d)
    lower = -grid.extent + cells * grid.cell  # (N, d)
    return (lower[:, None, :] + sub[None]).reshape(-1, grid.d)


class _Image:
    """The refinement state of one image."""

    def __init__(self, grid: CoarseGrid, values: np.ndarray, hint):
        shaped = values.reshape((grid.n,) * grid.d)
        keep, labels, k = _regions(shaped, hint)
        self.regions = [np.argwhere(labels == r + 1) for r in range(k)]  # cell indices (N_r, d)
        self.s0 = [max(1, math.ceil(MIN_ACROSS / (np.ptp(c, 0).min() + 1))) for c in self.regions]
        rest = shaped[~keep]
        self.rest = (
            (float(torch.logsumexp(torch.as_tensor(rest, dtype=torch.float64), 0)) + grid.d * math.log(grid.cell))
            if rest.size
            else -math.inf
        )
        edge = np.zeros_like(keep)
        for axis in range(grid.d):
            edge[(slice(None),) * axis + (0,)] = edge[(slice(None),) * axis + (-1,)] = True
        # mass could lie beyond the grid only if its outermost cells hold a visible share of it
        lse = lambda v: float(torch.logsumexp(torch.as_tensor(v.ravel(), dtype=torch.float64), 0))  # noqa: E731
        self.edge = lse(shaped[edge]) - lse(shaped) > EDGE_SHARE
        cells = np.argwhere(keep)
        self.box = (-grid.extent + cells.min(0) * grid.cell, -grid.extent + (cells.max(0) + 1) * grid.cell)
        self.levels: list[float] = []
        self.points = 0
        self.done = False

    def points_at(self, grid: CoarseGrid, level: int) -> list[np.ndarray]:
        return [_subcells(grid, c, s * FACTORS[level]) for c, s in zip(self.regions, self.s0)]


def _hint_cell(grid: CoarseGrid, mu) -> tuple | None:
    if mu is None:
        return None
    j = np.floor((np.asarray(mu, np.float64) + grid.extent) / grid.cell).astype(int)
    return tuple(j) if ((j >= 0) & (j < grid.n)).all() else None


def log_marginal(
    model, x: torch.Tensor, grid: CoarseGrid | None = None, hints=None, tol: float = TOL
) -> list[Marginal]:
    """log p(x) of every image of x (B, C, H, W) by adaptive quadrature; hints: (B, d) points
    (e.g. the encoder's means) whose cells are always refined."""
    check_latent(model)
    grid = grid or coarse_grid(model)
    x = torch.as_tensor(x, dtype=_dtype(model))
    with torch.inference_mode():
        coarse = grid.log_joint(x).double().numpy()  # (B, G)
    states = [_Image(grid, coarse[i], _hint_cell(grid, None if hints is None else hints[i])) for i in range(len(x))]
    for level in range(len(FACTORS)):
        active = [i for i, st in enumerate(states) if not st.done]
        if not active:
            break
        pts = {i: states[i].points_at(grid, level) for i in active}
        idx = np.concatenate([np.full(sum(len(p) for p in pts[i]), i) for i in active])
        z = np.concatenate([p for i in active for p in pts[i]])
        values = log_joint_pairs(model, x, torch.as_tensor(idx), torch.as_tensor(z, dtype=x.dtype)).double()
        start = 0
        for i in active:
            st = states[i]
            terms = [st.rest]
            for p, s in zip(pts[i], st.s0):
                v = values[start : start + len(p)]
                start += len(p)
                terms.append(float(torch.logsumexp(v, 0)) + grid.d * math.log(grid.cell / (s * FACTORS[level])))
                st.points += len(p)
            st.levels.append(float(torch.logsumexp(torch.tensor(terms, dtype=torch.float64), 0)))
            agree = len(st.levels) > 1 and abs(st.levels[-1] - st.levels[-2]) < tol
            nxt = level + 1 < len(FACTORS) and st.points * (FACTORS[level + 1] / FACTORS[level]) ** grid.d < MAX_POINTS
            st.done = agree or not nxt
    return [_result(st) for st in states]


def _result(st: _Image) -> Marginal:
    converged = len(st.levels) > 1 and abs(st.levels[-1] - st.levels[-2]) < TOL and not st.edge
    note = (
        ""
        if converged
        else (
            "posterior mass reaches the edge of the grid"
            if st.edge
            else f"resolutions still differ by {abs(st.levels[-1] - st.levels[-2]):.3f} nats"
        )
    )
    return Marginal(st.levels[-1], converged, st.levels, len(st.regions), st.points, note, st.box)


def posterior_on_grid(model, x, log_px: float, axes: list[np.ndarray], base=None, dims=(0, 1)) -> np.ndarray:
    """log p(z|x) = log p(x, z) - log p(x) on the product grid of `axes` (one array per shown
    dimension), shape (len(axes[0]), ...). base: the other dimensions' values (a >2-D slice)."""
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
    z = np.tile(np.zeros(model.latent_dim) if base is None else np.asarray(base, np.float64), (len(mesh), 1))
    z[:, list(dims[: len(axes)])] = mesh
    return (log_joint(model, x, z).double().numpy() - log_px).reshape([len(a) for a in axes])
