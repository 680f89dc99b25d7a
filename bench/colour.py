"""The colour recipe on emoji: train `emoji-conv` (32x32, 2-D latent, discretized logistic) from the
command line as a user would, timed from start to saved model, then its held-out numbers in nats and
bits per dimension, and a picture of samples and reconstructions (docs/screenshots/emoji_samples.png).
Needs the emoji dataset (`python -m vae data fetch emoji`, or VAE_DATA_DIR pointing at a cache)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .common import record

ROOT = Path(__file__).resolve().parent.parent
SHOT = ROOT / "docs" / "screenshots" / "emoji_samples.png"


def main(models: Path | None = None, seconds: float | None = None) -> dict:
    """Train and measure; or, given the models folder of a run of the same command and its wall
    time, measure that run's model."""
    from vae.data import datasets, images
    from vae.inference import latent
    from vae.store import catalog as store

    ran = models is not None
    models = models or Path(tempfile.mkdtemp(prefix="vae-bench-colour-"))
    cmd = [
        sys.executable,
        "-m",
        "vae",
        "train",
        "--recipe",
        "emoji-conv",
        "--name",
        "emoji-2d",
        "--models-dir",
        str(models),
        "--quiet",
    ]  # K=100: K=1000 took over 20 min for this decoder
    if not ran:
        start = time.perf_counter()
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ})
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            raise RuntimeError(run.stderr[-2000:])
    model, info = store.load("emoji-2d", models)
    m, history = info.metrics, info.meta["history"]
    train_s = sum(h.get("seconds", 0) for h in history)
    test = datasets.load_dataset("emoji", "test")
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(test), 12, replace=False))
    mu, _ = latent.encode_dataset(model, test.images[idx])
    with torch.no_grad():
        samples = latent.decode(model, torch.randn(12, 2, generator=torch.Generator().manual_seed(0)).numpy())
    grid = images.tile(np.concatenate([test.images[idx], latent.decode(model, mu), samples]), ncols=12, pad=1)
    SHOT.write_bytes(images.to_png(grid, scale=3))
    dims = 3 * 32 * 32
    rows = [
        {
            "what": "emoji-conv recipe: command start -> saved model",
            "value": round(seconds / 60, 1),
            "unit": "min",
            "note": f"60 epochs of 6,012 - 10% training emoji; epochs alone {train_s / 60:.1f} min; target < 15 min",
        },
        {
            "what": "held-out emoji: log p(x) >= (IW, K=100)",
            "value": round(m["iw_log_likelihood_bits_per_dim"], 3),
            "unit": "bits/dim",
            "note": f"{m['iw_log_likelihood']:.1f} nats per 3x32x32 image, {m['n']} held-out "
            f"drawings; {m['bits_per_dim_note']}",
        },
        {
            "what": "held-out emoji: ELBO",
            "value": round(m["elbo_bits_per_dim"], 3),
            "unit": "bits/dim",
            "note": f"{m['elbo']:.1f} nats (reconstruction {m['reconstruction']:.1f}, KL {m['kl']:.2f}); "
            f"active units {m['active_units']}/2",
        },
        {
            "what": "for scale: a uniform distribution over 256 levels",
            "value": 8.0,
            "unit": "bits/dim",
            "note": f"= {dims * math.log(256):.0f} nats per image",
        },
    ]
    return record(
        "colour",
        rows,
        "The emoji-conv recipe trained by `python -m vae train --recipe emoji-conv` "
        "(its evaluation at K=100) in a subprocess (2 torch threads), timed from the command's start to "
        "the saved model, its evaluation included. The held-out split is by emoji (both vendors' "
        "drawings and skin tones of an emoji, and emoji with identical drawings, on one side). "
        f"Samples and reconstructions: {SHOT.relative_to(ROOT)} (rows: 12 held-out emoji, their "
        "reconstructions from the posterior mean, 12 samples z ~ N(0, I))."
        + (
            " This record measured the model of a run of that command timed with the shell's `time` "
            "(its wall time given here), not a run started by the benchmark."
            if ran
            else ""
        ),
        command=" ".join(cmd[1:]),
    )


if __name__ == "__main__":
    main()
