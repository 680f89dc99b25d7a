"""Training throughput: vae.training.fit against the pytorch/examples-style loop.

The reference loop is pytorch/examples vae/main.py's: a per-sample Dataset that turns a uint8 image
into a float tensor the way torchvision's MNIST + ToTensor do (uint8 -> PIL image -> array -> float
/ 255), a DataLoader (batch 128, shuffle), Adam 1e-3, the summed BCE + KL loss. A leaner per-sample
Dataset (uint8 -> torch.from_numpy -> float / 255, no PIL) is timed too, to show what the PIL step
costs. Every loop trains the same 784-512-2 MLP VAE on the same mnist-5k training split (4000
images) for the same epochs, in the same process, and is scored on the test split (ELBO, IW K=100).
fit runs with the reference's settings (batch 128, lr 1e-3) and with bigger batches and a larger
learning rate, whose test ELBO says whether the speed is bought with quality. Each loop runs three
times, the loops interleaved round by round, and its median throughput is reported with the
range (this shared 2-core machine drifts by 10% between minutes); every repeat is seeded the same,
so the test scores are those of each loop's first run. FLOP rate: forward +
backward of the MLP counted as 3x the forward multiply-adds, divided by this machine's 1024^3
float32 matmul rate measured just before each run.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from vae.data import datasets as data
from vae.models import objectives
from vae.models.config import ModelConfig, TrainConfig
from vae.models.registry import build
from vae.training.loop import fit

from .common import matmul_gflops, record

EPOCHS = 10
ROUNDS = 3


class _Digits(Dataset):
    """Per-sample dataset: uint8 (N, 1, 28, 28) in memory, one tensor per item. pil=True does what
    torchvision's MNIST.__getitem__ + transforms.ToTensor do (PIL image, then array, then float)."""

    def __init__(self, images_uint8: np.ndarray, pil: bool):
        self.images, self.pil = images_uint8, pil

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if self.pil:
            img = Image.fromarray(self.images[i, 0], mode="L")
            return torch.from_numpy(np.array(img)).unsqueeze(0).float().div(255.0), 0
        return torch.from_numpy(self.images[i]).float().div(255.0), 0


def _reference_loop(cfg: ModelConfig, x_uint8: np.ndarray, epochs: int, pil: bool, seed: int = 0):
    torch.manual_seed(seed)
    model = build(cfg, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(_Digits(x_uint8, pil), batch_size=128, shuffle=True)
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


def _fit(cfg: ModelConfig, tc: TrainConfig, x: torch.Tensor):
    result = fit(cfg, tc, x)
    return result.model, result.samples_per_second


def main(epochs: int = EPOCHS) -> dict:
    train, test = data.load_splits("mnist-5k")
    x_test = torch.from_numpy(test.images)
    x_uint8 = np.round(train.images * 255).astype(np.uint8)
    x_train = torch.from_numpy(x_uint8).float().div(255.0)
    cfg = ModelConfig()
    fps = flops_per_sample(cfg)
    loops = [
        (
            "pytorch/examples loop (PIL per sample, DataLoader, batch 128)",
            lambda: _reference_loop(cfg, x_uint8, epochs, pil=True),
        ),
        (
            "leaner per-sample loop (no PIL, DataLoader, batch 128)",
            lambda: _reference_loop(cfg, x_uint8, epochs, pil=False),
        ),
    ]
    for batch, lr in ((128, 1e-3), (256, 2e-3), (512, 3e-3)):
        loops.append(
            (
                f"vae.training.fit, batch {batch}, lr {lr:g}",
                lambda batch=batch, lr=lr: _fit(
                    cfg, TrainConfig(epochs=epochs, batch_size=batch, lr=lr, seed=0), x_train
                ),
            )
        )
    speeds, shares, peaks, scores = {label: [] for label, _ in loops}, {label: [] for label, _ in loops}, [], {}
    for _ in range(ROUNDS):
        for label, run in loops:
            peaks.append(matmul_gflops())  # just before the run: the machine's speed drifts
            model, sps = run()
            speeds[label].append(sps)
            shares[label].append(sps * fps / 1e9 / peaks[-1])
            if label not in scores:
                scores[label] = objectives.evaluate(model, x_test, iw_samples=100)
    rows, ref_sps = [], None
    for label, _ in loops:
        sps, share, ev = float(np.median(speeds[label])), float(np.median(shares[label])), scores[label]
        ref_sps = ref_sps or sps
        versus = f"{sps / ref_sps:.2f}x the pytorch/examples loop; " if label.startswith("vae.") else ""
        rows.append(
            {
                "what": label,
                "value": round(sps),
                "unit": "samples/s",
                "note": f"median of {ROUNDS} (range {min(speeds[label]):.0f}-{max(speeds[label]):.0f}); "
                f"{versus}test ELBO {ev['elbo']:.1f}, IW(100) {ev['iw_log_likelihood']:.1f}; "
                f"{sps * fps / 1e9:.0f} GFLOP/s = {share:.0%} of the matmul rate measured just before "
                f"(median over runs; range {min(shares[label]):.0%}-{max(shares[label]):.0%})",
            }
        )
    peak = float(np.median(peaks))
    rows.append(
        {
            "what": "dense matmul rate (1024^3 float32)",
            "value": round(peak),
            "unit": "GFLOP/s",
            "note": f"median over the {len(peaks)} measurements taken before each run (range "
            f"{min(peaks):.0f}-{max(peaks):.0f}); each the best of 3 x 30 products",
        }
    )
    return record(
        "training",
        rows,
        __doc__.strip().split("\n\n", 1)[1].replace("\n", " "),
        epochs=epochs,
        model=cfg.describe(),
        flops_per_sample=fps,
    )


if __name__ == "__main__":
    main()
