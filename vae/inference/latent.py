"""Latent-space operations: encode a dataset, decode grids, interpolate, traverse, 2-D projections.

Numpy in and out at the boundary; torch only inside, under torch.inference_mode(). The model is
never modified (no .eval(), no in-place changes): a cached model is shared by every user.
Manifold grids follow Kingma & Welling 2014, Fig. 4: z at Gaussian percentiles of the prior.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import norm

ACTIVE_KL = 0.01  # nats; a dimension with less average KL than this carries no information
PRIOR_REACH = 4.0  # prior standard deviations a pad or slider spans at least: +-4 holds all but 6e-5 of N(0, 1)
MAX_REACH = 16.0  # ... and at most, whatever an encoder does


def fit_reach(mu, prior: float = PRIOR_REACH) -> float:
    """How far a pad or a slider reaches: the prior's +-4, or further when the encoded means (N, D)
    do (emoji-2d's reach 7): the furthest one plus 5%, up to the next half unit, at most MAX_REACH."""
    furthest = float(np.abs(np.asarray(mu, dtype=np.float64)).max(initial=0.0)) * 1.05
    return float(min(MAX_REACH, max(prior, np.ceil(furthest * 2) / 2)))


def format_z(z, decimals: int = 2) -> str:
    """z as the pad and the URL show it: '[2.53, -0.10]', not float32 noise like 2.5299999713897705."""
    return "[" + ", ".join(f"{float(v):.{decimals}f}" for v in np.ravel(z)) + "]"


def encode_dataset(model, images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """images (N, C, H, W) in [0, 1], numpy or torch -> mu, sigma: float32 (N, D) each."""
    device = next(model.parameters()).device
    mus, sigmas = [np.zeros((0, model.latent_dim), np.float32)], [np.zeros((0, model.latent_dim), np.float32)]
    with torch.inference_mode():
        for s in range(0, len(images), batch_size):
            x = torch.as_tensor(images[s : s + batch_size], dtype=torch.float32, device=device)
            mu, logvar = model.encode(x)  # (B, D) each
            mus.append(mu.float().cpu().numpy())
            sigmas.append(torch.exp(0.5 * logvar).float().cpu().numpy())
    return np.concatenate(mus), np.concatenate(sigmas)


def decode(model, z, batch_size: int = 4096) -> np.ndarray:
    """z (N, D) or (D,) -> image means float32 (N, C, H, W) in [0, 1]."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))  # (N, D)
    device = next(model.parameters()).device
    out = [np.zeros((0, *model.config.image_shape), np.float32)]
    with torch.inference_mode():
        for s in range(0, len(z), batch_size):
            x = model.decode(torch.as_tensor(z[s : s + batch_size], device=device))  # (B, C, H, W)
            out.append(x.float().cpu().numpy())
    return np.concatenate(out)


def gaussian_percentiles(n: int, eps: float | None = None) -> np.ndarray:
    """norm.ppf(linspace(eps, 1 - eps, n)), ascending, finite and symmetric about 0.
    Default eps = 1/(2n): the midpoints of n equal-probability bins of N(0, 1), so every cell of a
    grid covers the same prior mass (n=20 spans +-1.96). linspace(0, 1) would give +-inf."""
    eps = 0.5 / n if eps is None else eps
    if not 0 < eps <= 0.5:
        raise ValueError(f"eps must be in (0, 0.5], got {eps}")
    return norm.ppf(np.linspace(eps, 1 - eps, n)).astype(np.float32)


def linear_range(n: int, extent: float) -> np.ndarray:
    return np.linspace(-extent, extent, n, dtype=np.float32)


@dataclass
class Projection:
    """A 2-D view of latent points. PCA and identity are linear: z ~ mean + coords @ components."""

    method: str
    coords: np.ndarray  # (N, 2) float32, one row per input row
    axis_names: tuple[str, str]
    explained_variance: np.ndarray | None = None  # (2,) variance along each PC (PCA only)
    explained_variance_ratio: np.ndarray | None = None  # (2,) fraction of total variance
    mean: np.ndarray | None = None  # (D,) linear methods only
    components: np.ndarray | None = None  # (2, D) linear methods only; zero rows pad D == 1
    reference: np.ndarray | None = None  # (M, D) the latent points behind reference_coords
    reference_coords: np.ndarray | None = None  # (M, 2) for k-NN placement
    reducer: object | None = None  # a fitted umap.UMAP (not cached to disk)

    @property
    def has_inverse(self) -> bool:
        return self.components is not None

    def transform(self, z) -> np.ndarray:
        """z (N, D) or (D,) -> (N, 2). PCA/identity exactly, UMAP via its own transform."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if self.components is not None:
            return ((z - self.mean) @ self.components.T).astype(np.float32)
        if self.reducer is not None:
            return np.asarray(self.reducer.transform(z), dtype=np.float32)
        raise NotImplementedError(f"{self.method} has no transform for new points; use place()")

    def inverse(self, points) -> np.ndarray:
        """points (N, 2) on the plane -> z (N, D), so a point on the map can be decoded."""
        if self.components is None:
            raise NotImplementedError(f"{self.method} has no inverse: only PCA and identity do")
        return (self.mean + np.atleast_2d(points) @ self.components).astype(np.float32)

    def place(self, z, k: int = 10) -> np.ndarray:
        """Put new latent points on the map: transform() where it exists, else the mean of the 2-D
        coords of their k nearest reference points in latent space, weighted by 1/distance."""
        if self.components is not None or self.reducer is not None:
            return self.transform(z)
        idx, dist = nearest_neighbours(self.reference, z, k)  # (M, k) each
        w = 1.0 / np.maximum(dist, 1e-9)
        w /= w.sum(1, keepdims=True)
        return np.einsum("mk,mkj->mj", w, self.reference_coords[idx]).astype(np.float32)


def _linear(method, z, mean, components, names, var=None, ratio=None) -> Projection:
    p = Projection(
        method, np.zeros((0, 2), np.float32), names, var, ratio, mean.astype(np.float32), components.astype(np.float32)
    )
    p.coords = p.transform(z)
    return p


def _pca(z: np.ndarray, fit: np.ndarray, seed: int) -> Projection:
    from sklearn.decomposition import PCA

    k = min(2, z.shape[1], len(fit))
    pca = PCA(n_components=k, random_state=seed).fit(fit)
    comps, var, ratio = np.zeros((2, z.shape[1])), np.zeros(2), np.zeros(2)  # zero rows pad D == 1
    comps[:k], var[:k], ratio[:k] = pca.components_, pca.explained_variance_, pca.explained_variance_ratio_
    return _linear("pca", z, pca.mean_, comps, ("PC1", "PC2"), var.astype(np.float32), ratio.astype(np.float32))


def _tsne(fit: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    if len(fit) < 5:
        raise ValueError("t-SNE needs at least 5 points")
    perplexity = float(min(30.0, max(2.0, (len(fit) - 1) / 3)))  # must stay below N
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(fit)


def available_projections() -> list[str]:
    """Projection methods that work in this environment (UMAP only if umap-learn is installed; it
    is found, not imported: importing it loads numba, about a second)."""
    methods = ["pca", "tsne", "identity"]
    if importlib.util.find_spec("umap") is not None:
        methods.insert(2, "umap")
    return methods


def project(z, method: str = "pca", *, seed: int = 0, max_points: int | None = None) -> Projection:
    """z (N, D) -> Projection with coords for every row. With max_points, the method is fitted on a
    seeded random subset and the other rows are placed (transform, or k-NN for t-SNE)."""
    z = np.asarray(z, dtype=np.float32)
    fit_idx = np.arange(len(z))
    if max_points is not None and len(z) > max_points:
        fit_idx = np.sort(np.random.default_rng(seed).choice(len(z), max_points, replace=False))
    fit = z[fit_idx]
    if method == "identity":  # the first two dims as they are; D == 1 gets a zero second column
        d = z.shape[1]
        return _linear("identity", z, np.zeros(d), np.eye(2, d), ("z1", "z2") if d > 1 else ("z1", ""))
    if method == "pca":
        return _pca(z, fit, seed)
    empty = np.zeros((0, 2), np.float32)
    if method == "tsne":
        p = Projection(
            "tsne", empty, ("t-SNE 1", "t-SNE 2"), reference=fit, reference_coords=_tsne(fit, seed).astype(np.float32)
        )
    elif method == "umap":
        try:
            import umap
        except ImportError as e:
            raise RuntimeError(f"UMAP needs the umap-learn package, which does not import here ({e})") from None
        # random_state makes it reproducible (and single-threaded, which it would say in a warning)
        reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit(fit)
        p = Projection(
            "umap",
            empty,
            ("UMAP 1", "UMAP 2"),
            reference=fit,
            reference_coords=reducer.embedding_.astype(np.float32),
            reducer=reducer,
        )
    else:
        raise ValueError(f"unknown projection {method!r}; choose from {available_projections()}")
    p.coords = p.reference_coords if len(fit) == len(z) else p.place(z)
    p.coords[fit_idx] = p.reference_coords  # fitted rows keep their own coords exactly
    return p


_ARRAYS = (
    "coords",
    "explained_variance",
    "explained_variance_ratio",
    "mean",
    "components",
    "reference",
    "reference_coords",
)


def _load(path: Path, fingerprint: str) -> Projection | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) != fingerprint:
                return None  # made from other latents under the same key
            arrays = {n: (f[n] if f[n].size else None) for n in _ARRAYS}
            names = tuple(str(a) for a in f["axis_names"])
            return Projection(str(f["method"]), axis_names=names, **arrays)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # missing or damaged: recompute
        return None


def _save(path: Path, p: Projection, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    arrays = {n: np.zeros(0) if getattr(p, n) is None else getattr(p, n) for n in _ARRAYS}
    with open(tmp, "wb") as fh:
        np.savez(fh, method=p.method, axis_names=np.array(p.axis_names), fingerprint=fingerprint, **arrays)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def cached_project(z, method: str, key: str, cache_dir, **kw) -> Projection:
    """project(z, method, **kw), stored as .npz (no pickle) in cache_dir under a filename-safe key
    (use model name + version). A file made from other z (fingerprint mismatch) is recomputed.
    A UMAP loaded from disk has no reducer, so it places new points by k-NN."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    parts = [key, method, *(f"{k}{v}" for k, v in sorted(kw.items()))]
    path = Path(cache_dir) / (re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts)) + ".npz")
    fingerprint = hashlib.sha1(z.tobytes()).hexdigest() + str(z.shape)
    p = _load(path, fingerprint)
    if p is None:
        p = project(z, method, **kw)
        _save(path, p, fingerprint)
    return p


def nearest_neighbours(reference, query, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of reference (N, D) to each query (M, D) or (D,), Euclidean in latent
    space -> indices (M, k) int, distances (M, k), nearest first."""
    from sklearn.neighbors import NearestNeighbors

    reference = np.asarray(reference, dtype=np.float32)
    query = np.atleast_2d(np.asarray(query, dtype=np.float32))
    nn = NearestNeighbors(n_neighbors=min(k, len(reference))).fit(reference)
    dist, idx = nn.kneighbors(query)
    return idx, dist


def interpolate(z0, z1, steps: int, method: str = "linear") -> np.ndarray:
    """(steps, D) from z0 to z1, both endpoints included exactly. "spherical" is slerp
    (Shoemake 1985; White 2016 for generative models); near-parallel or zero vectors fall back to
    linear, where slerp is ill-defined."""
    if steps < 2:
        raise ValueError("steps must be >= 2")
    z0, z1 = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
    out = (1 - t) * z0 + t * z1
    if method == "spherical":
        n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
        if n0 > 1e-8 and n1 > 1e-8:
            omega = np.arccos(np.clip(z0 @ z1 / (n0 * n1), -1.0, 1.0))
            if np.sin(omega) > 1e-6:
                out = (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)
    elif method != "linear":
        raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
    out[0], out[-1] = z0, z1
    return out.astype(np.float32)


def traverse(base, dim: int, values) -> np.ndarray:
    """Copies of base (D,) with dimension dim set to each value -> (len(values), D)."""
    out = np.tile(np.asarray(base, dtype=np.float32), (len(values), 1))
    out[:, dim] = values
    return out


@dataclass
class Grid:
    images: np.ndarray  # (n, n, C, H, W); images[r, c] is at (xs[c], ys[r])
    xs: np.ndarray  # (n,) ascending, left to right
    ys: np.ndarray  # (n,) descending: row 0 is the top, as in a plot
    zs: np.ndarray  # (n*n, D) row-major: zs[r * n + c]
    axis_names: tuple[str, str] = ("z1", "z2")  # what xs and ys measure, for plot axes


def traversals(model, base, rows: dict, values) -> dict:
    """One decoded row per direction, as in the beta-VAE papers: {name: vector} -> {name: (n, C, H, W)},
    the base code moved to each value along the vector's unit direction (so every row spans the same
    distance, in prior standard deviations)."""
    base = np.asarray(base, np.float32)
    out = {}
    for name, vector in rows.items():
        v = np.asarray(vector, np.float32)
        unit = v / (np.linalg.norm(v) or 1.0)
        out[name] = decode(model, base + np.asarray(values, np.float32)[:, None] * unit)
    return out


def decode_grid(
    model,
    n: int,
    *,
    dims=(0, 1),
    base=None,
    spacing: str = "percentile",
    extent: float = 3.0,
    plane: Projection | None = None,
) -> Grid:
    """Decode an n x n grid over two latent dims (others held at base, default 0) or, with a
    PCA/identity plane, over its 2-D coordinates mapped back by plane.inverse. Plane axes are scaled
    by their standard deviation, so "extent" and percentiles mean the same as in prior units."""
    if spacing not in ("percentile", "range"):
        raise ValueError(f"spacing must be 'percentile' or 'range', got {spacing!r}")
    values = gaussian_percentiles(n) if spacing == "percentile" else linear_range(n, extent)
    d = model.latent_dim
    if plane is None:
        if d < 2 or dims[0] == dims[1] or max(dims) >= d:
            raise ValueError(f"dims must be two different dimensions below {d}; for 1-D use traverse")
        scale, names = np.ones(2, np.float32), (f"z{dims[0] + 1}", f"z{dims[1] + 1}")
    else:
        names = plane.axis_names
        var = plane.explained_variance
        scale = np.sqrt(var) if var is not None else np.ones(2, np.float32)
    xs, ys = values * scale[0], values[::-1] * scale[1]
    gx, gy = np.meshgrid(xs, ys)  # (n, n): row r has y = ys[r]
    points = np.stack([gx.ravel(), gy.ravel()], 1)  # (n*n, 2)
    if plane is None:
        zs = np.tile(np.zeros(d, np.float32) if base is None else np.asarray(base, np.float32), (n * n, 1))
        zs[:, dims[0]], zs[:, dims[1]] = points[:, 0], points[:, 1]
    else:
        zs = plane.inverse(points)
        if base is not None:  # keep base's offset off the plane
            zs = zs + (base - plane.inverse(plane.transform(base)))
    images = decode(model, zs)
    return Grid(images.reshape(n, n, *images.shape[1:]), xs, ys, zs.astype(np.float32), names)


def sigma_ellipse(mu2, sigma2, n_sigma: float, n_points: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The closed n_sigma contour of N(mu2, diag sigma2^2) in 2-D -> xs, ys (n_points,) each."""
    t = np.linspace(0.0, 2 * np.pi, n_points)
    mu2, sigma2 = np.asarray(mu2, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    return mu2[0] + n_sigma * sigma2[0] * np.cos(t), mu2[1] + n_sigma * sigma2[1] * np.sin(t)


def order_by_kl(kl_per_dim, threshold: float = ACTIVE_KL) -> tuple[np.ndarray, np.ndarray]:
    """Dimension indices by decreasing average KL (ties keep index order), and a boolean (D,) mask
    in the original dimension order: True where KL > threshold nats (the dimension is used)."""
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    return np.argsort(-kl, kind="stable"), kl > threshold
