"""Training jobs: each in a process of its own, so a UI stays responsive while a model trains.

A Job runs vae.training.fit in a child process (vae.training.worker; multiprocessing's "forkserver" context
where the platform has it, else "spawn": never a fork of a threaded server). A reader thread here
turns the child's reports into the Job's fields (progress, history, the latest epoch's weights for
live latent maps); stop() asks the child to stop after the step (fit then keeps the best weights).
The child saves the result into the model store itself when training ends, so a finished model is
never lost when the person who started it leaves the page. A server runs at most max_jobs() jobs
at once. A job cut short by a stopped server is reported as interrupted on the next start, its last
finished epoch saved (vae.training.recovery).

What a run is given (the data split, an upload kept on disk, the form's settings) is
vae/training/intake.py.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vae import limits
from vae.inference import latent
from vae.models.conditional import encode_given
from vae.models.config import ModelConfig, TrainConfig
from vae.models.model import VAE
from vae.models.registry import build
from vae.store import catalog as store
from vae.training import recovery, worker

PREVIEW = 1000  # validation images encoded for a live latent map
MAX_JOBS_VARIABLE = "VAE_MAX_TRAINING_JOBS"  # limits.MAX_TRAINING_JOBS
_registry_lock = threading.Lock()


class JobLimitError(ValueError):
    """A server already runs as many training jobs as it may."""


def max_jobs() -> int:
    """Training jobs one server runs at once: limits.MAX_TRAINING_JOBS ($VAE_MAX_TRAINING_JOBS, 2)."""
    return limits.MAX_TRAINING_JOBS


# Modules the fork server imports once, so that each job starts with them loaded.
PRELOAD = ["vae.training.worker", "torch._dynamo"]  # torch._dynamo: the first optimizer imports it (seconds)
PROCESS_PREFIX = "vae-train-"


def _without_main(prepare):
    """multiprocessing re-runs the parent's __main__ in every spawned or forkserver child. In a
    Streamlit server that is whichever page script is running (Streamlit runs scripts as
    __main__), so a job would re-run the Train page; in a script without a __main__ guard it would
    start jobs again. A training process needs nothing from __main__: its preparation leaves it out."""

    def get_preparation_data(name):
        data = prepare(name)
        if str(name).startswith(PROCESS_PREFIX):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    get_preparation_data.wrapped = True
    return get_preparation_data


if not getattr(multiprocessing.spawn.get_preparation_data, "wrapped", False):
    multiprocessing.spawn.get_preparation_data = _without_main(multiprocessing.spawn.get_preparation_data)


def _context():
    """forkserver where it exists (a fresh single-threaded process forks each job, torch already
    imported), else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


_warming: list[threading.Thread] = []


def warm_up() -> None:
    """Start the fork server now, in the background (once), so the first job does not wait for it."""
    if not _warming and _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        _warming.append(threading.Thread(target=forkserver.ensure_running, name="forkserver-warm-up", daemon=True))
        _warming[0].start()


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
    snapshot: dict | None = None  # state_dict after the latest epoch, for live latent maps
    state: str = "starting"  # starting | running | saving | done | failed | interrupted
    outcome: str = ""  # fit's stopped reason once done
    message: str = ""
    error: str | None = None
    saved: store.ModelInfo | None = None
    preview: torch.Tensor | None = field(default=None, repr=False)  # (<=PREVIEW, C, H, W) val images
    preview_labels: np.ndarray | None = field(default=None, repr=False)
    pid: int | None = None  # the training process
    epoch_ended: list[float] = field(default_factory=list, repr=False)  # time.time() each epoch arrived
    # (train, val, test) labels for a label- or prior-conditional model, else None
    labels: tuple | None = field(default=None, repr=False)
    _preview_mu: tuple[int, np.ndarray] | None = field(default=None, repr=False)  # (epochs, (N, D))
    _conn: object = field(default=None, repr=False)  # our end of the pipe to the training process
    _process: object = field(default=None, repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)
    _send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "running", "saving")

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / max(1, self.total_steps))

    def stop(self) -> None:
        """Ask training to stop after the current step; the best weights so far are saved."""
        with self._send_lock:
            try:
                if self.running and self._conn is not None:
                    self._conn.send("stop")
            except OSError:
                pass  # the process has ended already

    def wait(self, timeout: float | None = None) -> bool:
        if self._reader is not None:
            self._reader.join(timeout)
        return not self.running

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def summary(self) -> dict:
        """One row of a table of runs."""
        return {
            "model": self.name,
            "state": self.state,
            "epochs": f"{self.epochs_done}/{self.train_config.epochs}",
            "outcome": self.outcome or self.error or "",
            "data": self.dataset.get("name", ""),
            "started": time.strftime("%H:%M:%S", time.localtime(self.started)),
        }

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
            if model.config.kind.encoder_condition:  # encoded with their condition
                mu = encode_given(model, self.preview, self.preview_labels)[0].numpy()
            else:
                mu = latent.encode_dataset(model, self.preview)[0]
            cached = self._preview_mu = (n, mu)
        return cached[1]

    def _on_message(self, m: dict) -> None:
        event = m["event"]
        if event in ("step", "epoch"):
            self.state, self.step, self.total_steps = "running", m["step"], m["total_steps"]
        if event == "running":
            self.state = "running"
        elif event == "step":
            self.last_metrics = m["metrics"]
        elif event == "epoch":
            self.snapshot = {k: torch.from_numpy(v) for k, v in m["weights"].items()}
            self.history = self.history + [m["record"]]  # replaced, never mutated: readers see whole lists
            self.epoch_ended = self.epoch_ended + [time.time()]
        elif event == "saving":
            self.state, self.outcome, self.message = "saving", m["outcome"], m["message"]
        elif event == "done":
            self.saved = store.find(self.name, self.models_dir)
            self.state, self.outcome, self.message = "done", m["outcome"], m["message"]
        elif event == "failed":
            self.state, self.error, self.message = "failed", m["error"], m["message"]

    def _read(self, folder: Path) -> None:
        """The reader thread: apply every report until the process ends."""
        try:
            while True:
                self._on_message(self._conn.recv())
        except (EOFError, OSError):
            pass
        except Exception as e:  # a report we cannot apply: say so rather than hang in "running"
            self.stop()
            self.state, self.error = "failed", f"{type(e).__name__}: {e}"
        self._process.join(30)
        if self.running:  # it ended without a word: killed (out of memory, say)
            code = self._process.exitcode
            recovery.recover_folder(folder, self, f"the training process ended unexpectedly (exit code {code})")
        with self._send_lock:
            self._conn.close()


def start(
    name: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_images: torch.Tensor,
    val_images: torch.Tensor | None = None,
    test_images: torch.Tensor | None = None,
    *,
    dataset: dict | None = None,
    models_dir: str | None = None,
    iw_samples: int = 100,
    preview_labels: np.ndarray | None = None,
    registry: dict[str, Job] | None = None,
    labels: tuple | None = None,
) -> Job:
    """Check the name and shapes now (so mistakes show at once), then train in a process of its own.

    registry: jobs by name shared by several users (a server's sessions); a name whose job is still
    running is refused, as is a job beyond max_jobs() running ones (JobLimitError), and the new job
    is added to it. The first PREVIEW validation images (and preview_labels) are kept for live
    latent maps. labels: (train, val, test) label arrays, which label- and prior-conditional models
    train and are scored with.
    """
    if registry is None:
        return _start(
            name,
            model_config,
            train_config,
            train_images,
            val_images,
            test_images,
            dataset,
            models_dir,
            iw_samples,
            preview_labels,
            labels,
        )
    with _registry_lock:
        if name in registry and registry[name].running:
            raise store.StoreError(f"a model named {name!r} is being trained; choose another name")
        running, cap = sum(j.running for j in registry.values()), max_jobs()
        if running >= cap:
            raise JobLimitError(
                f"this server already runs {running} training job{'s' * (running > 1)}, "
                f"its limit ({MAX_JOBS_VARIABLE}={cap}); wait for one to finish or stop one"
            )
        job = _start(
            name,
            model_config,
            train_config,
            train_images,
            val_images,
            test_images,
            dataset,
            models_dir,
            iw_samples,
            preview_labels,
            labels,
        )
        registry[name] = job
        return job


def _start(
    name,
    model_config,
    train_config,
    train_images,
    val_images,
    test_images,
    dataset,
    models_dir,
    iw_samples,
    preview_labels,
    labels=None,
) -> Job:
    store.check_not_bundled(name)
    root = store.models_dir(models_dir).absolute()
    if (root / name).exists():
        raise store.StoreError(f"a model named {name!r} already exists; choose another name")
    if tuple(train_images.shape[1:]) != model_config.image_shape:
        raise ValueError(
            f"the images are {tuple(train_images.shape[1:])}, the model expects {model_config.image_shape}"
        )
    if model_config.kind.by_class and (labels is None or labels[0] is None):
        raise ValueError(f"a {model_config.conditional}-conditional model needs labelled data")
    job = Job(name, model_config, train_config, dataset or {}, str(root), labels=labels)
    if val_images is not None and len(val_images):
        job.preview = val_images[:PREVIEW]
        job.preview_labels = None if preview_labels is None else np.asarray(preview_labels)[:PREVIEW]
    folder = recovery.claim(root, job)  # refuses a name another server is training
    arrays = {
        k: None if v is None else v.numpy()
        for k, v in (("train", train_images), ("val", val_images), ("test", test_images))
    }
    spec = {
        "name": name,
        "model_config": model_config,
        "train_config": train_config,
        "dataset": job.dataset,
        "models_dir": str(root),
        "folder": str(folder),
        "iw_samples": iw_samples,
        **arrays,
        "labels": None if labels is None else tuple(None if y is None else np.asarray(y) for y in labels),
    }
    ctx = _context()
    job._conn, child_end = ctx.Pipe()
    job._process = ctx.Process(target=worker.run, args=(spec, child_end), name=PROCESS_PREFIX + name, daemon=True)
    try:
        job._process.start()
    except BaseException:
        recovery.release(folder)
        raise
    finally:
        child_end.close()
    job.pid = job._process.pid
    recovery.note_pid(folder, job.pid)
    job._reader = threading.Thread(target=job._read, args=(folder,), name=PROCESS_PREFIX + name, daemon=True)
    job._reader.start()
    return job


def recover(models_dir: str | os.PathLike | None = None) -> dict[str, Job]:
    """Jobs that a stopped server left unfinished in this models folder, by name: each reported as
    interrupted, its last finished epoch saved into the store (a server calls this once at start)."""
    root = store.models_dir(models_dir).absolute()
    found = {}
    for folder, record in recovery.stale(root):
        try:
            job = Job(
                record["name"],
                ModelConfig.from_dict(record["model_config"]),
                TrainConfig.from_dict(record["train_config"]),
                record.get("dataset") or {},
                str(root),
                started=float(record.get("started") or time.time()),
            )
        except (KeyError, TypeError, ValueError):
            recovery.release(folder)  # a record from another version: nothing we can report
            continue
        found[job.name] = recovery.recover_folder(folder, job, "the server stopped while it trained")
    return found


# --- preparing a run -------------------------------------------------------------------------------
