"""The training process: what runs in the child that vae.training.jobs starts for each job.

Training gets a process (and so a core) of its own: the server's sessions and the job no longer
share one interpreter lock. The child runs vae.training.fit, reports progress to the server over a
pipe (steps a few times a second, every epoch with its weights for the live latent map), obeys a
"stop" sent back (fit then keeps the best weights), and saves the finished model into the store
itself, so it is kept even if nobody is watching.

A finished epoch is also checkpointed (every few seconds at most) into the job's hidden folder,
<models>/.jobs/NAME/checkpoint. If the server goes away (its end of the pipe closes, or SIGTERM),
the child stops after the step, checkpoints its last finished epoch and exits without touching the
store; the next server start turns that checkpoint into a model (vae.training.jobs.recover).
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import numpy as np
import torch

from vae.models.config import ModelConfig
from vae.models.model import VAE
from vae.models.registry import build
from vae.store import catalog as store
from vae.training.loop import Progress, fit, test_metrics

STEP_EVERY = 0.25  # seconds between step reports to the server
CHECKPOINT_EVERY = 2.0  # seconds at least between two epoch checkpoints (the last one is always kept)
CHECKPOINT = "checkpoint"  # a store-format model folder inside the job folder


class _Link:
    """The child's end of the pipe: sends reports, notices "stop" and a server that went away."""

    def __init__(self, conn):
        self.conn, self.stop, self.server_gone = conn, False, False

    def send(self, message: dict) -> None:
        if self.server_gone:
            return
        try:
            self.conn.send(message)
        except (BrokenPipeError, EOFError, ConnectionResetError, OSError):
            self.server_gone = True

    def poll(self) -> bool:
        """True when training should stop (asked to, or nobody is left to report to)."""
        try:
            while not self.server_gone and self.conn.poll():
                if self.conn.recv() == "stop":
                    self.stop = True
        except (EOFError, OSError):
            self.server_gone = True
        return self.stop or self.server_gone


class _Checkpoints:
    """The last finished epoch, written into the job folder as a store-format model."""

    def __init__(self, folder: Path, spec: dict):
        self.folder, self.spec, self.epoch, self.written, self.pending, self.last = folder, spec, 0, 0, None, 0.0

    def offer(self, p: Progress, force: bool = False) -> None:
        self.epoch = p.epoch
        self.pending = (p.model, list(self.spec["history"]), p.state)
        if force or time.monotonic() - self.last >= CHECKPOINT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.pending is None or self.written == self.epoch:
            return
        model, history, state = self.pending
        store.save(
            model,
            CHECKPOINT,
            self.folder,
            overwrite=True,
            history=history,
            dataset=self.spec["dataset"],
            train_config=self.spec["train_config"].to_dict(),
            training_state=state and state.to_tensors(),
        )
        self.written, self.last, self.pending = self.epoch, time.monotonic(), None


def run(spec: dict, conn) -> None:
    """The child's entry point. spec: name, model_config, train_config, dataset, models_dir, folder
    (the job's), iw_samples, and the images as numpy arrays (train, val, test; val/test may be None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; it ends us through the pipe
    link = _Link(conn)
    signal.signal(signal.SIGTERM, lambda *_: setattr(link, "server_gone", True))
    torch.set_num_threads(spec.get("threads", 1))
    folder = Path(spec["folder"])
    spec["history"] = []
    checkpoints = _Checkpoints(folder, spec)
    last_step = [0.0]

    def on_progress(p: Progress) -> bool:
        now = time.monotonic()
        if p.event == "epoch":
            spec["history"].append(p.metrics)
            weights = {k: v.detach().numpy().copy() for k, v in p.model.state_dict().items()}
            link.send(
                {
                    "event": "epoch",
                    "step": p.step,
                    "total_steps": p.total_steps,
                    "record": p.metrics,
                    "weights": weights,
                }
            )
            checkpoints.offer(p)
        elif now - last_step[0] >= STEP_EVERY:
            last_step[0] = now
            link.send({"event": "step", "step": p.step, "total_steps": p.total_steps, "metrics": dict(p.metrics)})
        return link.poll()

    try:
        tensors = {k: None if spec[k] is None else torch.from_numpy(spec[k]) for k in ("train", "val", "test")}
        train_y, val_y, test_y = (
            None if y is None else torch.as_tensor(y, dtype=torch.long)
            for y in (spec.get("labels") or (None, None, None))
        )
        link.send({"event": "running"})
        result = fit(
            spec["model_config"],
            spec["train_config"],
            tensors["train"],
            tensors["val"],
            callback=on_progress,
            train_labels=train_y,
            val_labels=val_y,
        )
        if link.server_gone:  # interrupted: leave the last finished epoch for the next server start
            checkpoints.flush()
            return
        link.send({"event": "saving", "outcome": result.stopped, "message": result.message})
        if not result.history:
            raise _Nothing(result.message or "stopped before the first epoch finished")
        metrics = (
            {}
            if tensors["test"] is None
            else test_metrics(result, tensors["test"], spec["train_config"].binarize, spec["iw_samples"], test_y)
        )
        store.save(
            result.model,
            spec["name"],
            spec["models_dir"],
            dataset=spec["dataset"],
            metrics=metrics,
            history=result.history,
            train_config=spec["train_config"].to_dict(),
            training_state=result.state and result.state.to_tensors(),
        )
        link.send({"event": "done", "outcome": result.stopped, "message": result.message})
    except _Nothing as e:
        link.send({"event": "failed", "error": f"{e}: nothing to save", "message": ""})
    except Exception as e:  # reported to the server; the process must never die silently
        import traceback

        link.send({"event": "failed", "error": f"{type(e).__name__}: {e}", "message": traceback.format_exc(limit=3)})
    if not link.server_gone:
        shutil.rmtree(folder, ignore_errors=True)


class _Nothing(Exception):
    """A run that ended before any epoch finished."""


def model_from(config: ModelConfig, weights: dict[str, np.ndarray]) -> VAE:
    """A model holding weights sent by the child (numpy arrays by parameter name)."""
    model = build(config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return model.eval()
