"""Training in a background thread, so a UI stays responsive while a model trains.

A Job runs vae.training.fit in a daemon thread, records progress as it goes, can be asked to stop
(fit then keeps the best weights), and saves the result into the model store itself when training
ends, so a finished model is never lost when the person who started it leaves the page.

The helpers below the Job prepare a run the way a UI needs it: keep an upload on disk so the saved
model can reload its data, split off a seeded validation set, parse settings, and name the model.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from . import data, latent, limits, store
from .conditional import encode_given
from .config import ConfigError, ModelConfig, TrainConfig
from .model import VAE, build
from .training import FitResult, Progress, fit, test_metrics

VAL_FRACTION = 0.1  # of the train split, held out (seeded) for validation curves and best weights
PREVIEW = 1000  # validation images encoded for a live latent map
UPLOAD_TYPES = ("zip", "npz", "npy")
_registry_lock = threading.Lock()


@dataclass
class Job:
    name: str  # the model name it saves under
    model_config: ModelConfig
    train_config: TrainConfig
    dataset: dict  # stored with the model: {"name": ..., "shape": ..., ...}
    models_dir: str | None = None
    started: float = field(default_factory=time.time)
    history: list[dict] = field(default_factory=list)  # one dict per finished epoch
    step: int = 0
    total_steps: int = 1
    last_metrics: dict = field(default_factory=dict)
    snapshot: dict | None = None  # state_dict copy after the latest epoch, for live latent maps
    state: str = "starting"  # starting | running | saving | done | failed
    outcome: str = ""  # fit's stopped reason once done
    message: str = ""
    error: str | None = None
    saved: store.ModelInfo | None = None
    result: FitResult | None = field(default=None, repr=False)
    preview: torch.Tensor | None = field(default=None, repr=False)  # (<=PREVIEW, C, H, W) val images
    preview_labels: np.ndarray | None = field(default=None, repr=False)
    # (train, val, test) labels for a label- or prior-conditional model, else None
    labels: tuple | None = field(default=None, repr=False)
    _preview_mu: tuple[int, np.ndarray] | None = field(default=None, repr=False)  # (epochs, (N, D))
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "running", "saving")

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / max(1, self.total_steps))

    def stop(self) -> None:
        """Ask training to stop after the current step; the best weights so far are saved."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def summary(self) -> dict:
        """One row of a table of runs."""
        return {"model": self.name, "state": self.state,
                "epochs": f"{self.epochs_done}/{self.train_config.epochs}",
                "outcome": self.outcome or self.error or "", "data": self.dataset.get("name", ""),
                "started": time.strftime("%H:%M:%S", time.localtime(self.started))}

    def snapshot_model(self) -> VAE | None:
        """A fresh model holding the latest epoch's weights (None before the first epoch ends)."""
        state = self.snapshot
        if state is None:
            return None
        model = build(self.model_config)
        model.load_state_dict(state)
        return model.eval()

    def preview_latents(self) -> np.ndarray | None:
        """Posterior means (N, D) of the preview images under the latest snapshot, once per epoch."""
        n, cached = self.epochs_done, self._preview_mu
        if self.preview is None or self.snapshot is None:
            return None
        if cached is None or cached[0] != n:
            model = self.snapshot_model()
            if model.config.conditional in ("label", "completion"):  # encoded with their condition
                mu = encode_given(model, self.preview, self.preview_labels)[0].numpy()
            else:
                mu = latent.encode_dataset(model, self.preview)[0]
            cached = self._preview_mu = (n, mu)
        return cached[1]

    def _on_progress(self, p: Progress) -> bool:
        self.state, self.step, self.total_steps = "running", p.step, p.total_steps
        if p.event == "epoch":
            self.history = self.history + [p.metrics]  # replaced, never mutated: readers see whole lists
            self.snapshot = {k: v.detach().clone() for k, v in p.model.state_dict().items()}
        else:
            self.last_metrics = p.metrics
        return self._stop.is_set()

    def _run(self, train_images: torch.Tensor, val_images: torch.Tensor | None,
             test_images: torch.Tensor | None, iw_samples: int) -> None:
        try:
            train_y, val_y, test_y = (None if y is None else torch.as_tensor(y, dtype=torch.long)
                                      for y in (self.labels or (None, None, None)))
            self.result = fit(self.model_config, self.train_config, train_images, val_images,
                              callback=self._on_progress, train_labels=train_y, val_labels=val_y)
            self.state, self.outcome, self.message = "saving", self.result.stopped, self.result.message
            if not self.result.history:
                self.state, self.error = "failed", "stopped before the first epoch finished: nothing to save"
                return
            metrics = {} if test_images is None else test_metrics(self.result, test_images,
                                                                  self.train_config.binarize, iw_samples, test_y)
            self.saved = store.save(self.result.model, self.name, self.models_dir, dataset=self.dataset,
                                    metrics=metrics, history=self.result.history,
                                    train_config=self.train_config.to_dict(),
                                    training_state=self.result.state and self.result.state.to_tensors())
            self.state = "done"
        except Exception as e:  # shown in the UI; the thread must never die silently
            self.state, self.error = "failed", f"{type(e).__name__}: {e}"
            self.message = traceback.format_exc(limit=3)


def start(name: str, model_config: ModelConfig, train_config: TrainConfig, train_images: torch.Tensor,
          val_images: torch.Tensor | None = None, test_images: torch.Tensor | None = None, *,
          dataset: dict | None = None, models_dir: str | None = None, iw_samples: int = 100,
          preview_labels: np.ndarray | None = None, registry: dict[str, Job] | None = None,
          labels: tuple | None = None) -> Job:
    """Check the name and shapes now (so mistakes show at once), then train in a daemon thread.

    registry: jobs by name shared by several users (a server's sessions); a name whose job is still
    running is refused, and the new job is added to it. The first PREVIEW validation images (and
    preview_labels) are kept for live latent maps. labels: (train, val, test) label arrays, which
    label- and prior-conditional models train and are scored with.
    """
    if registry is None:
        return _start(name, model_config, train_config, train_images, val_images, test_images,
                      dataset, models_dir, iw_samples, preview_labels, labels)
    with _registry_lock:
        if name in registry and registry[name].running:
            raise store.StoreError(f"a model named {name!r} is being trained; choose another name")
        job = _start(name, model_config, train_config, train_images, val_images, test_images,
                     dataset, models_dir, iw_samples, preview_labels, labels)
        registry[name] = job
        return job


def _start(name, model_config, train_config, train_images, val_images, test_images, dataset, models_dir,
           iw_samples, preview_labels, labels=None) -> Job:
    store.check_not_bundled(name)
    if (store.models_dir(models_dir) / name).exists():
        raise store.StoreError(f"a model named {name!r} already exists; choose another name")
    if tuple(train_images.shape[1:]) != model_config.image_shape:
        raise ValueError(f"the images are {tuple(train_images.shape[1:])}, the model expects "
                         f"{model_config.image_shape}")
    if model_config.conditional in ("label", "prior") and (labels is None or labels[0] is None):
        raise ValueError(f"a {model_config.conditional}-conditional model needs labelled data")
    job = Job(name, model_config, train_config, dataset or {}, models_dir, labels=labels)
    if val_images is not None and len(val_images):
        job.preview = val_images[:PREVIEW]
        job.preview_labels = None if preview_labels is None else np.asarray(preview_labels)[:PREVIEW]
    job._thread = threading.Thread(target=job._run, args=(train_images, val_images, test_images, iw_samples),
                                   name=f"train-{name}", daemon=True)
    job._thread.start()
    return job


# --- preparing a run -------------------------------------------------------------------------------


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


def split_data(train: data.Dataset, test: data.Dataset, *, seed: int = 0, val_fraction: float = VAL_FRACTION,
               name: str | None = None, path: str | None = None) -> TrainingData:
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
    return TrainingData(x[train_idx], x[val_idx] if n_val else None, labels if n_val else None,
                        torch.from_numpy(test.images), dataset, train_labels, test.labels)


def save_upload(content: bytes, filename: str, directory: str | os.PathLike | None = None
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
        raise ConfigError(f"hidden sizes {text!r}: write whole numbers separated by commas, "
                          "e.g. 512, 256") from None
    if not sizes or min(sizes) < 1 or max(sizes) > 8192 or len(sizes) > 8:
        raise ConfigError(f"hidden sizes {text!r}: give 1-8 layers of 1-8192 units")
    return sizes


def model_config(image_shape, **settings) -> ModelConfig:
    """A ModelConfig for images of image_shape, with an error that says what the data is."""
    try:
        return ModelConfig(image_shape=tuple(image_shape), **settings)
    except ConfigError as e:
        if "image_shape" in str(e):
            raise ConfigError(f"this data has images of shape {tuple(image_shape)} (C, H, W); a model "
                              "takes 1 or 3 channels and 4-256 pixels a side") from None
        raise


def auto_name(dataset: str, latent_dim: int, when: float | None = None) -> str:
    """A fresh model name like 'mnist-5k-2d-142501' (dataset, latent size, time of day)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", PurePosixPath(dataset).stem).strip("-._")[:40] or "data"
    return f"{stem}-{latent_dim}d-{time.strftime('%H%M%S', time.localtime(when))}"
