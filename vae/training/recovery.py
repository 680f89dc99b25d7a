"""Training jobs on disk, so a job cut short by a stopped server is not lost without a word.

Each running job has a hidden folder <models>/.jobs/NAME holding job.json (who runs it: the server's
and the training process's ids and start times, and its settings) and, once an epoch has finished,
checkpoint/ (the last finished epoch as a store-format model with its training state, written by
vae.training.worker). A job that ends normally removes its folder. A folder whose server is gone was left by
an interrupted job: recover_folder saves its checkpoint into the store under the job's name (so the
store never shows a half model, only whole finished epochs) and reports the job as interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from vae.store import catalog as store
from vae.training.worker import CHECKPOINT

JOBS = ".jobs"  # hidden: list_models skips folders whose name starts with a dot
RECORD = "job.json"
CHILD_EXIT_WAIT = 30.0  # seconds to let an orphaned training process checkpoint and exit


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks (Linux), to tell it from a later one with its id;
    'Z' for a zombie; None where /proc does not say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return "Z" if fields[0] in "ZX" else fields[19]


def _alive(pid: int | None, started: str | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive, but not ours if the start times differ
    now = _started(pid)
    return now != "Z" and (now is None or started is None or now == started)


def _write(folder: Path, record: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".job-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, folder / RECORD)


def _read(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("name"), str) else None


def claim(root: Path, job) -> Path:
    """Make the job's folder and record; a name another live server is training is refused."""
    folder = root / JOBS / job.name
    record = _read(folder)
    if record is not None and _alive(record.get("server_pid"), record.get("server_started")):
        where = "" if record.get("server_pid") == os.getpid() else " by another server"
        raise store.StoreError(f"a model named {job.name!r} is being trained{where}; choose another name")
    elif folder.exists():  # left by a stopped server: keep what it finished, then the name is taken
        recover_folder(folder, job, "an earlier server stopped while it trained")
        raise store.StoreError(f"a model named {job.name!r} already exists; choose another name")
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        folder,
        {
            "name": job.name,
            "server_pid": os.getpid(),
            "server_started": _started(os.getpid()),
            "started": job.started,
            "model_config": job.model_config.to_dict(),
            "train_config": job.train_config.to_dict(),
            "dataset": job.dataset,
        },
    )
    return folder


def note_pid(folder: Path, pid: int) -> None:
    record = _read(folder)
    if record is not None:
        _write(folder, {**record, "pid": pid, "pid_started": _started(pid)})


def release(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def stale(root: Path) -> list[tuple[Path, dict]]:
    """(folder, record) of every job whose server is gone, once its training process has exited."""
    found = []
    base = root / JOBS
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        record = _read(folder)
        if record is None:
            if folder.is_dir() and time.time() - folder.stat().st_mtime > 60:
                shutil.rmtree(folder, ignore_errors=True)  # a claim cut short: nothing in it to keep
            continue
        if _alive(record.get("server_pid"), record.get("server_started")):
            continue  # a live server's job (this one's, or another sharing the folder)
        deadline = time.monotonic() + CHILD_EXIT_WAIT
        while _alive(record.get("pid"), record.get("pid_started")) and time.monotonic() < deadline:
            time.sleep(0.1)  # an orphaned training process writing its last checkpoint
        found.append((folder, record))
    return found


def recover_folder(folder: Path, job, reason: str):
    """Save what an interrupted job finished (its checkpoint) under its name, report it on job
    (state "interrupted", or "done" if its model was saved after all) and remove its folder."""
    root = Path(job.models_dir)
    try:
        model, info = store.load(CHECKPOINT, folder)
        state = store.load_training_state(CHECKPOINT, folder)
    except store.StoreError:
        model = info = state = None
    job.state, job.outcome = "interrupted", "interrupted"
    if (root / job.name).is_dir():  # saved just before the end
        job.saved = store.find(job.name, root)
        job.state, job.outcome = "done", "completed"
        job.history = job.saved.history or job.history
        job.message = f"{reason}, after the model was saved"
    elif model is None:
        job.error = f"{reason} before its first epoch finished: nothing was saved"
    else:
        history = info.history
        n = len(history)
        tc = dict(info.training)
        tc["extra"] = {**(tc.get("extra") or {}), "interrupted": f"{reason} during epoch {n + 1}"}
        job.saved = store.save(
            model,
            job.name,
            root,
            dataset=info.data or None,
            history=history,
            train_config=tc,
            training_state=state,
        )
        job.history = history
        job.message = (
            f"{reason} during epoch {n + 1}; its last finished epoch ({n}) is saved as "
            f"{job.name} (`python -m vae train --resume {job.name}` goes on)"
        )
    release(folder)
    return job
