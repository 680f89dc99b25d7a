"""Full MNIST, dynamically binarized, 2-D latent: the importance-weighted test log-likelihood
(K=1000, on the 10,000 test digits binarized once with a fixed seed) of a model the CLI trains.

Runs the exact CLI command below in a subprocess, times it (training only: the per-epoch seconds the
CLI records), and reads the metrics it saved. Marks: -135.7 nats for the published 2-D Gaussian VAE
(Davidson et al. 2018, Table 1); -132.5 for their hyperspherical VAE.
Needs full MNIST in the cache: `python -m vae data fetch mnist`. Takes about 15 minutes.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time

from vae.store import catalog as store

from .common import record

COMMAND = (
    "python -m vae train --dataset mnist --binarize --latent-dim 2 --hidden 512,512 "
    "--activation tanh --epochs 80 --batch-size 128 --lr 1e-3 --lr-decay 0.97 "
    "--train-iw-samples 5 --val-fraction 0 --eval-iw-samples 1000 --name mnist-2d --quiet"
)


def main(command: str = COMMAND) -> dict:
    with tempfile.TemporaryDirectory() as models:
        argv = [sys.executable, *shlex.split(command)[1:], "--overwrite"]
        t = time.perf_counter()
        subprocess.run(argv, check=True, env={**__import__("os").environ, "VAE_MODELS_DIR": models})
        wall = time.perf_counter() - t
        info = store.find("mnist-2d", models)
    history, m = info.meta["history"], info.metrics
    train_seconds = sum(h["seconds"] for h in history)
    rows = [
        {
            "what": "test log p(x) >= IW(1000)",
            "value": round(m["iw_log_likelihood"], 2),
            "unit": "nats",
            "note": f"ELBO {m['elbo']:.2f}, KL {m['kl']:.2f}, active units {m['active_units']}/2",
        },
        {
            "what": "training time",
            "value": round(train_seconds / 60, 1),
            "unit": "min",
            "note": f"{len(history)} epochs; {wall / 60:.1f} min with data loading and the K=1000 evaluation",
        },
    ]
    return record("mnist_ll", rows, __doc__.strip().replace("\n", " "), command=command)


if __name__ == "__main__":
    main(*sys.argv[1:2])
