"""Seed architectures on mnist-5k: test ELBO and importance-weighted log-likelihood (K=1000) after
30 epochs, 2-D latent, Bernoulli likelihood on grey-level pixels (not comparable with binarized
MNIST numbers), batch 128, Adam 1e-3, seed 0, trained on the 4000-image train split and scored on
the 1000-image test split.
"""

from __future__ import annotations

import time

import torch

from vae.data import datasets as data
from vae.models import objectives
from vae.models.config import ModelConfig, TrainConfig
from vae.store import catalog as store
from vae.training.loop import fit

from .common import record

SEEDS = {
    "784-256-2 MLP (tflearn, Su Jianlin's Keras example)": ModelConfig(hidden=(256,)),
    "Keras conv VAE (two stride-2 convs)": ModelConfig(arch="conv"),
    "784-1000-500-250-2 MLP (Doersch's tutorial)": ModelConfig(hidden=(1000, 500, 250)),
    "784-512-2 MLP (the bundled mnist-5k-2d model's shape)": ModelConfig(hidden=(512,)),
}


def main(epochs: int = 30) -> dict:
    train, test = data.load_splits("mnist-5k")
    x_train, x_test = torch.from_numpy(train.images), torch.from_numpy(test.images)
    rows = []
    for label, cfg in SEEDS.items():
        t = time.perf_counter()
        result = fit(cfg, TrainConfig(epochs=epochs, seed=0), x_train)
        seconds = time.perf_counter() - t
        ev = objectives.evaluate(result.model, x_test, iw_samples=1000)
        rows.append(
            {
                "what": label,
                "value": round(ev["iw_log_likelihood"], 1),
                "unit": "nats IW(1000)",
                "note": f"ELBO {ev['elbo']:.1f}, KL {ev['kl']:.1f}, {seconds:.0f} s to train",
            }
        )
    info = store.find("mnist-5k-2d")
    m = info.metrics
    rows.append(
        {
            "what": "the bundled mnist-5k-2d model (784-512-2, 50 epochs, best of validation)",
            "value": round(m["iw_log_likelihood"], 1),
            "unit": f"nats IW({m['iw_samples']})",
            "note": f"ELBO {m['elbo']:.1f}, KL {m['kl']:.1f}",
        }
    )
    return record("architectures", rows, __doc__.strip().replace("\n", " "), epochs=epochs)


if __name__ == "__main__":
    main()
