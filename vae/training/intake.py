"""What a training run is given, the way a UI needs it: keep an upload on disk so the saved model
can reload its data, split off a seeded validation set, parse the form's settings, and name the model.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from vae import limits
from vae.data import datasets as data
from vae.models.config import ConfigError, ModelConfig

VAL_FRACTION = 0.1  # of the train split, held out (seeded) for validation curves and best weights
UPLOAD_TYPES = ("zip", "npz", "npy")


@dataclass
class TrainingData:
    """Tensors for start(): train minus a seeded validation share, the val labels, the test split."""

    train: torch.Tensor  # (N, C, H, W)
    val: torch.Tensor | None
    val_labels: np.ndarray | None
    test: torch.Tensor
    dataset: dict  # stored with the model so the explorer can reload its data
    train_labels: np.ndarray | None = None  # (N,) for label- and prior-conditional models
    test_labels: np.ndarray | None = None


def split_data(
    train: data.Dataset,
    test: data.Dataset,
    *,
    seed: int = 0,
    val_fraction: float = VAL_FRACTION,
    name: str | None = None,
    path: str | None = None,
) -> TrainingData:
    """Hold out val_fraction of the train split (seeded), as `python -m vae train` does."""
    x = torch.from_numpy(train.images)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(len(x) * val_fraction)) if len(x) > 1 else 0
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    labels = None if train.labels is None else train.labels[val_idx.numpy()]
    dataset = {"name": name or train.name, "shape": list(train.shape), "class_names": train.class_names}
    if path:
        dataset["path"] = str(path)
    train_labels = None if train.labels is None else train.labels[train_idx.numpy()]
    return TrainingData(
        x[train_idx],
        x[val_idx] if n_val else None,
        labels if n_val else None,
        torch.from_numpy(test.images),
        dataset,
        train_labels,
        test.labels,
    )


def save_upload(
    content: bytes, filename: str, directory: str | os.PathLike | None = None
) -> tuple[Path, data.Dataset, data.Dataset]:
    """Keep uploaded data as <data dir>/uploads/<sha256[:12]>.<ext> (so a model trained on it can
    reload it by path) and read its (train, test) splits. Unreadable data is not kept (DataError)."""
    ext = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    if ext not in UPLOAD_TYPES:
        raise data.DataError(f"{filename!r}: upload a .zip of images, an .npz or an .npy file")
    if len(content) > limits.UPLOAD_MB * 2**20:
        raise data.DataError(f"{filename!r} is over the upload limit of {limits.UPLOAD_MB} MB (VAE_UPLOAD_MB)")
    folder = Path(directory or data.default_data_dir()) / "uploads"
    path = folder / f"{hashlib.sha256(content).hexdigest()[:12]}.{ext}"
    fresh = not path.is_file()
    if fresh:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=f".{ext}")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    try:
        train, test = data.load_splits(path)
    except (ValueError, OSError):
        if fresh:
            path.unlink(missing_ok=True)
        raise
    return path, train, test


def parse_hidden(text: str) -> tuple[int, ...]:
    """'512, 256' -> (512, 256): MLP hidden sizes, encoder order."""
    try:
        sizes = tuple(int(t) for t in re.split(r"[\s,;x]+", text.strip()) if t)
    except ValueError:
        raise ConfigError(f"hidden sizes {text!r}: write whole numbers separated by commas, e.g. 512, 256") from None
    if not sizes or min(sizes) < 1 or max(sizes) > 8192 or len(sizes) > 8:
        raise ConfigError(f"hidden sizes {text!r}: give 1-8 layers of 1-8192 units")
    return sizes


def model_config(image_shape, **settings) -> ModelConfig:
    """A ModelConfig for images of image_shape, with an error that says what the data is."""
    try:
        return ModelConfig(image_shape=tuple(image_shape), **settings)
    except ConfigError as e:
        if "image_shape" in str(e):
            raise ConfigError(
                f"this data has images of shape {tuple(image_shape)} (C, H, W); a model "
                "takes 1 or 3 channels and 4-256 pixels a side"
            ) from None
        raise


def auto_name(dataset: str, latent_dim: int, when: float | None = None) -> str:
    """A fresh model name like 'mnist-5k-2d-142501' (dataset, latent size, time of day)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", PurePosixPath(dataset).stem).strip("-._")[:40] or "data"
    return f"{stem}-{latent_dim}d-{time.strftime('%H%M%S', time.localtime(when))}"
