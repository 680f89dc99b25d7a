"""Training in a background thread, so a UI stays responsive while a model trains.

A Job runs vae.training.fit in a daemon thread, records progress as it goes, can be asked to stop
(fit then keeps the best weights), and saves the result into the model store itself when training
ends, so a finished model is never lost when the person who started it leaves the page.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

import torch

from . import objectives, store
from .config import ModelConfig, TrainConfig
from .training import FitResult, Progress, fit


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
            self.result = fit(self.model_config, self.train_config, train_images, val_images,
                              callback=self._on_progress)
            self.state, self.outcome, self.message = "saving", self.result.stopped, self.result.message
            if not self.result.history:
                self.state, self.error = "failed", "stopped before the first epoch finished: nothing to save"
                return
            metrics = {}
            if test_images is not None:
                metrics = objectives.evaluate(self.result.model, test_images, iw_samples=iw_samples)
            self.saved = store.save(self.result.model, self.name, self.models_dir, dataset=self.dataset,
                                    metrics=metrics, history=self.result.history,
                                    train_config=self.train_config.to_dict())
            self.state = "done"
        except Exception as e:  # shown in the UI; the thread must never die silently
            self.state, self.error = "failed", f"{type(e).__name__}: {e}"
            self.message = traceback.format_exc(limit=3)


def start(name: str, model_config: ModelConfig, train_config: TrainConfig, train_images: torch.Tensor,
          val_images: torch.Tensor | None = None, test_images: torch.Tensor | None = None, *,
          dataset: dict | None = None, models_dir: str | None = None, iw_samples: int = 100) -> Job:
    """Check the name and shapes now (so mistakes show at once), then train in a daemon thread."""
    store.check_name(name)
    if name == store.DEFAULT_MODEL:
        raise store.StoreError("'default' is the bundled model's name; choose another")
    if (store.models_dir(models_dir) / name).exists():
        raise store.StoreError(f"a model named {name!r} already exists; choose another name")
    if tuple(train_images.shape[1:]) != model_config.image_shape:
        raise ValueError(f"the images are {tuple(train_images.shape[1:])}, the model expects "
                         f"{model_config.image_shape}")
    job = Job(name, model_config, train_config, dataset or {}, models_dir)
    job._thread = threading.Thread(target=job._run, args=(train_images, val_images, test_images, iw_samples),
                                   name=f"train-{name}", daemon=True)
    job._thread.start()
    return job
