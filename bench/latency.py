"""Decode latency and projection time with the bundled default model.

Decode: wall time of latent.decode for 1 z and for a 20x20 grid (decode_grid), median over 200 and
50 repeats after warm-up. Projections: PCA and t-SNE (scikit-learn, seed 0) and UMAP (umap-learn,
seed 0) of the 5000 mnist-5k latent means (train + test), one timed run each, uncached; UMAP twice,
since its first call in a process includes numba compiling its kernels (numba's on-disk cache
shortens that in later processes).
"""

from __future__ import annotations

import time

import numpy as np

from vae.data import datasets as data
from vae.inference import latent
from vae.store import catalog as store

from .common import percentiles, record


def _time(fn, repeats: int) -> dict:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return percentiles(samples)


def main() -> dict:
    model, _ = store.load(store.DEFAULT_MODEL)
    z = np.zeros(model.latent_dim, np.float32)
    one = _time(lambda: latent.decode(model, z), 200)
    grid = _time(lambda: latent.decode_grid(model, 20), 50)
    x = data.load_dataset("mnist-5k", "all").images
    mu, _ = latent.encode_dataset(model, x)
    rows = [
        {"what": "decode 1 z", "value": round(one["p50"], 3), "unit": "ms", "note": f"p95 {one['p95']:.3f} ms"},
        {
            "what": "decode a 20x20 grid",
            "value": round(grid["p50"], 2),
            "unit": "ms",
            "note": f"p95 {grid['p95']:.2f} ms",
        },
    ]
    names = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
    for method in ("pca", "tsne", "umap", "umap"):
        first = method == "umap" and not any(r["what"].startswith("UMAP") for r in rows)
        t = time.perf_counter()
        latent.project(mu, method, seed=0)
        note = "uncached; the app caches it on disk afterwards"
        if method == "umap":
            note = (
                "first call in the process: includes numba compiling UMAP's kernels"
                if first
                else "second call in the same process: kernels already compiled"
            )
        rows.append(
            {
                "what": f"{names[method]} of {len(mu)} latent points{' (first call)' if first else ''}",
                "value": round(time.perf_counter() - t, 2),
                "unit": "s",
                "note": note,
            }
        )
    return record("latency", rows, __doc__.strip().split("\n\n", 1)[1].replace("\n", " "))


if __name__ == "__main__":
    main()
