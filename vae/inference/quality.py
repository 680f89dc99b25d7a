"""Sample quality, measured the way papers do: in the feature space of a small classifier trained on
the dataset, compare generated pictures with held-out real ones.

- precision and recall (Kynkaanniemi et al. 2019): k-NN radii (k = 3) around each real feature
  vector; precision = the share of samples inside some real radius (are they like the data?), recall
  = the same with the roles swapped (is all of the data covered?). Report both: the cheapest
  sampler that collapses onto a few modes wins on precision alone.
- the Frechet distance between Gaussians fitted to the two feature sets (FID's formula, in this
  classifier's space: comparable between samplers of one dataset, not with published FIDs).
- the classifier's mean confidence on the samples and how evenly they spread over the classes
  (the entropy of the predicted classes over log K: 1 = balanced).

The classifier (`Reader`): an MLP, pixels -> 256 -> 256 -> classes, trained reproducibly by
`train_reader` (seeded, full batch order fixed); its second hidden layer is the feature space.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import nn

HIDDEN = 256
K = 3  # Kynkaanniemi et al.'s k
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "readers"  # python -m vae data reader NAME --bundled
FAMILY = {"mnist": "mnist", "mnist-5k": "mnist", "emoji": "emoji", "emoji-mini": "emoji"}  # dataset -> reader
TRAIN_ON = {"mnist": "mnist-5k", "emoji": "emoji"}  # the split a bundled reader was trained on (reproducibly)


class Reader(nn.Module):
    def __init__(self, pixels: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(pixels, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
        self.head = nn.Linear(HIDDEN, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))

    @torch.inference_mode()
    def read(self, images) -> tuple[np.ndarray, np.ndarray]:
        """(features (N, HIDDEN), class probabilities (N, K)) of pictures (N, C, H, W) in [0, 1]."""
        x = torch.as_tensor(np.asarray(images, np.float32))
        feats = torch.cat([self.body(x[s : s + 1000].flatten(1)) for s in range(0, len(x), 1000)])
        return feats.numpy(), torch.softmax(self.head(feats), 1).numpy()


def train_reader(images, labels, *, epochs: int = 15, seed: int = 0) -> Reader:
    """The classifier, trained reproducibly (one thread, seeded order) on a dataset's training split."""
    x = torch.as_tensor(np.asarray(images, np.float32))
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        net = Reader(x[0].numel(), int(y.max()) + 1)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        g = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=g).split(128):
                loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval()


def precision_recall(real, fake, k: int = K) -> tuple[float, float]:
    """Kynkaanniemi et al. 2019 on feature vectors (N, F) and (M, F)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    return _covered(fake, real, k), _covered(real, fake, k)


def _covered(points, reference, k: int) -> float:
    """Share of `points` inside some reference point's radius (its distance to its k-th nearest other reference)."""
    d_ref = _distances(reference, reference)
    np.fill_diagonal(d_ref, np.inf)
    radii = np.sort(d_ref, axis=1)[:, k - 1]
    return float(np.mean((_distances(points, reference) <= radii[None]).any(1)))


def _distances(a, b) -> np.ndarray:
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0))


def frechet(real, fake) -> float:
    """||m1 - m2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to the two sets."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m1, m2 = real.mean(0), fake.mean(0)
    eps = 1e-6 * np.eye(real.shape[1])  # dead ReLU features make the covariances singular (pytorch-fid does this too)
    s1, s2 = np.cov(real, rowvar=False) + eps, np.cov(fake, rowvar=False) + eps
    root = linalg.sqrtm(s1 @ s2)
    root = root.real if np.iscomplexobj(root) else root
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def measure(reader: Reader, real_images, fake_images) -> dict:
    """Every figure of the module doc for generated pictures against held-out real ones."""
    real_f, _ = reader.read(real_images)
    fake_f, probs = reader.read(fake_images)
    precision, recall = precision_recall(real_f, fake_f)
    counts = np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)
    nonzero = counts[counts > 0]
    return {
        "precision": precision,
        "recall": recall,
        "frechet": frechet(real_f, fake_f),
        "confidence": float(probs.max(1).mean()),
        "class_balance": float(-(nonzero * np.log(nonzero)).sum() / math.log(probs.shape[1])),
        "samples": int(len(fake_images)),
        "real": int(len(real_images)),
    }


def save_reader(reader: Reader, path: str | Path, trained_on: str) -> Path:
    """The reader's weights as float16 safetensors (under 2 MB for 32x32 colour), written atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in reader.state_dict().items()}
    meta = {
        "trained_on": trained_on,
        "pixels": str(reader.body[0].in_features),
        "classes": str(reader.head.out_features),
    }
    part = path.with_name(f".{path.name}.part")
    save_file(tensors, str(part), metadata=meta)
    part.replace(path)
    return path


def load_reader(path: str | Path) -> Reader:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k).float() for k in f.keys()}
    reader = Reader(int(meta["pixels"]), int(meta["classes"]))
    reader.load_state_dict(state)
    return reader.eval()


def reader_for(dataset: str, cache_dir: Path, train=None) -> Reader:
    """The bundled reader of a dataset's family, else one trained on `train` (its labels) and cached."""
    family = FAMILY.get(dataset)
    if family and (BUNDLED / f"{family}.safetensors").is_file():
        return load_reader(BUNDLED / f"{family}.safetensors")
    path = Path(cache_dir) / f"reader-{dataset}.safetensors"
    if path.is_file():
        return load_reader(path)
    if train is None or train.labels is None:
        raise ValueError(f"no classifier for {dataset}: sample quality needs labelled training data")
    reader = train_reader(train.images, train.labels)
    save_reader(reader, path, dataset)
    return reader
