"""Training throughput: vae.training.fit against the pytorch/examples-style loop.

The reference loop is pytorch/examples vae/main.py's: a per-sample Dataset that turns a uint8 image
into a float tensor, a DataLoader (batch 128, shuffle), Adam 1e-3, the summed BCE + KL loss. Both
train the same 784-512-2 MLP VAE on the same mnist-5k training split for the same epochs, in the
same process; then both are scored on the test split (ELBO, IW K=100). FLOP rate: forward + backward
of the MLP counted as 3x the forward multiply-adds, divided by this machine's 1024^3 matmul rate
measured in the same run.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from vae import data, objectives
from vae.config import ModelConfig, TrainConfig
from vae.model import build
from vae.training import fit

from .common import matmul_gflops, record

EPOCHS = 10


class _Digits(Dataset):  # the reference's per-sample dataset: uint8 in memory, a tensor per item
    def __init__(self, images_uint8: np.ndarray):
        self.images = images_uint8

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]).float().div(255.0), 0


def _reference_loop(cfg: ModelConfig, x_uint8: np.ndarray, epochs: int, seed: int = 0):
    torch.manual_seed(seed)
    model = build(cfg, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(_Digits(x_uint8), batch_size=128, shuffle=True)
    t = time.perf_counter()
    for _ in range(epochs):
        for xb, _ in loader:
            mu, logvar = model.encode(xb)
            z = model.reparameterize(mu, logvar)
            bce = F.binary_cross_entropy_with_logits(model.decode_logits(z), xb, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (bce + kld) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t
    return model.eval(), len(x_uint8) * epochs / seconds


def flops_per_sample(cfg: ModelConfig) -> float:
    """Multiply-adds of the linear layers, x2 for FLOPs, x3 for forward + backward."""
    sizes = [int(np.prod(cfg.image_shape)), *cfg.hidden]
    enc = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sizes[-1] * 2 * cfg.latent_dim
    dec = sum(a * b for a, b in zip([cfg.latent_dim, *cfg.hidden[::-1]], [*cfg.hidden[::-1], sizes[0]]))
    return 2 * 3 * (enc + dec)


def main(epochs: int = EPOCHS) -> dict:
    train, test = data.load_splits("mnist-5k")
    x_test = torch.from_numpy(test.images)
    x_uint8 = np.round(train.images * 255).astype(np.uint8)
    x_train = torch.from_numpy(x_uint8).float().div(255.0)
    cfg = ModelConfig()
    peak = matmul_gflops()
    ref_model, ref_sps = _reference_loop(cfg, x_uint8, epochs)
    rows, scores = [], {}
    for batch in (128, 512):
        result = fit(cfg, TrainConfig(epochs=epochs, batch_size=batch, seed=0), x_train)
        scores[batch] = (result.samples_per_second, objectives.evaluate(result.model, x_test, iw_samples=100))
    ref_eval = objectives.evaluate(ref_model, x_test, iw_samples=100)
    fps = flops_per_sample(cfg)
    rows.append({"what": "reference loop (Dataset + DataLoader, batch 128)", "value": round(ref_sps),
                 "unit": "samples/s", "note": f"test ELBO {ref_eval['elbo']:.1f}, IW(100) "
                 f"{ref_eval['iw_log_likelihood']:.1f}; {ref_sps * fps / 1e9 / peak:.0%} of matmul rate"})
    for batch, (sps, ev) in scores.items():
        rows.append({"what": f"vae.training.fit, batch {batch}", "value": round(sps), "unit": "samples/s",
                     "note": f"{sps / ref_sps:.2f}x the reference; test ELBO {ev['elbo']:.1f}, IW(100) "
                     f"{ev['iw_log_likelihood']:.1f}; {sps * fps / 1e9:.0f} GFLOP/s = "
                     f"{sps * fps / 1e9 / peak:.0%} of matmul rate"})
    rows.append({"what": "dense matmul rate (1024^3 float32)", "value": round(peak), "unit": "GFLOP/s",
                 "note": "best of 3 x 30 products"})
    return record("training", rows, __doc__.strip().split("\n\n", 1)[1].replace("\n", " "),
                  epochs=epochs, model=cfg.describe(), flops_per_sample=fps)


if __name__ == "__main__":
    main()
