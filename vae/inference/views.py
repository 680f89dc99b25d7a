"""Computations behind the Latent map and Manifold pages: which rows a map selection picked, the
window a 2-D map shows and the decoded manifold under it, and per-example scores to colour by.

Numpy in and out; torch only inside, under torch.inference_mode(); the model is never modified.
Scores are nats per example, summed over pixels (Kingma & Welling 2014): the reconstruction term
E_q[log p(x|z)] estimated with `samples` reparameterized draws, and the closed-form KL.
"""

from __future__ import annotations

import numpy as np
import torch

from vae.inference import latent
from vae.models import objectives

SELECTION_LIMIT = 32  # at most this many selected images are drawn


def selected_rows(event, n_rows: int | None = None) -> np.ndarray:
    """A st.plotly_chart selection event (or None) -> sorted unique global row ids, int64.
    Ids come from each point's customdata (a number, or a list whose first item is the id); points
    without one (a backdrop, a marker trace) and ids outside [0, n_rows) are skipped."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    ids = []
    for p in points:
        cd = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        try:
            i = int(cd)
        except (TypeError, ValueError):
            continue
        if i == cd and i >= 0 and (n_rows is None or i < n_rows):
            ids.append(i)
    return np.unique(np.asarray(ids, dtype=np.int64))


def capped(ids, limit: int = SELECTION_LIMIT) -> tuple[np.ndarray, bool]:
    """The first `limit` ids and whether any were left out."""
    ids = np.asarray(ids)
    return ids[:limit], len(ids) > limit


def square_window(coords, margin: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """The square (x0, x1), (y0, y1) around 2-D points (N, 2), widened by `margin` of its side on
    each edge, so every point is inside and a backdrop's cells stay square at equal aspect."""
    c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    lo, hi = c.min(0), c.max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * (1 + 2 * margin)
    return ((float(centre[0] - half), float(centre[0] + half)), (float(centre[1] - half), float(centre[1] + half)))


def decode_window(model, n: int, x_range, y_range, *, dims=(0, 1), base=None) -> latent.Grid:
    """An n x n grid of decoded images tiling the window [x0, x1] x [y0, y1] over two latent dims
    (the others held at base, default 0). Points sit at cell centres, so the tiled picture spans the
    window exactly: the backdrop for plots.latent_map(..., backdrop=...)."""
    (x0, x1), (y0, y1) = x_range, y_range
    t = (np.arange(n) + 0.5) / n  # (n,) cell centres in [0, 1]
    xs = (x0 + t * (x1 - x0)).astype(np.float32)
    ys = (y1 - t * (y1 - y0)).astype(np.float32)  # descending: row 0 is the top
    d = model.latent_dim
    gx, gy = np.meshgrid(xs, ys)  # (n, n)
    zs = np.tile(np.zeros(d, np.float32) if base is None else np.asarray(base, np.float32), (n * n, 1))
    zs[:, dims[0]], zs[:, dims[1]] = gx.ravel(), gy.ravel()
    images = latent.decode(model, zs)  # (n*n, C, H, W)
    return latent.Grid(images.reshape(n, n, *images.shape[1:]), xs, ys, zs, (f"z{dims[0] + 1}", f"z{dims[1] + 1}"))


def grid_picture(grid_images) -> np.ndarray:
    """A grid (rows, cols, C, H, W) in [0, 1] -> one float image (rows*H, cols*W) or (.., 3), no gaps."""
    g = np.asarray(grid_images)
    r, c, ch, h, w = g.shape
    a = g.transpose(0, 3, 1, 4, 2).reshape(r * h, c * w, ch)
    return a[..., 0] if ch == 1 else a


def point_scores(model, images, samples: int = 8, batch_size: int = 500, seed: int = 0) -> dict:
    """Per-example scores in nats: reconstruction E_q[log p(x|z)] (mean over `samples` draws),
    kl = KL(q(z|x) || p(z)) and elbo = reconstruction - kl; float32 (N,) each."""
    gen = torch.Generator().manual_seed(seed)
    rec, kl = [np.zeros(0, np.float32)], [np.zeros(0, np.float32)]
    with torch.inference_mode():
        for s in range(0, len(images), batch_size):
            x = torch.as_tensor(images[s : s + batch_size], dtype=torch.float32)  # (B, C, H, W)
            mu, logvar = model.encode(x)  # (B, D) each
            r = torch.stack(
                [
                    objectives.log_likelihood(model, x, model.decode_logits(model.reparameterize(mu, logvar, gen)))
                    for _ in range(samples)
                ]
            ).mean(0)  # (B,)
            rec.append(r.float().numpy())
            kl.append(objectives.kl_standard_normal(mu, logvar).sum(-1).float().numpy())
    rec_a, kl_a = np.concatenate(rec), np.concatenate(kl)
    return {"reconstruction": rec_a, "kl": kl_a, "elbo": rec_a - kl_a}


def backdrop_layer(picture: np.ndarray, window, invert: bool = False) -> dict:
    """A decoded picture under a map's points, as plots.latent_map's `backdrop` takes it: the
    picture (inverted when asked) and the window ((x0, x1), (y0, y1)) it covers."""
    (x0, x1), (y0, y1) = window
    return dict(image=1 - picture if invert else picture, x_range=(x0, x1), y_range=(y0, y1))
