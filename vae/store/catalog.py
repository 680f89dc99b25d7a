"""Models on disk: a folder per model holding model.safetensors (weights) and model.json (config,
dataset, metrics, training history, creation time, format version, version token), and, for a model
that can be trained further exactly where it stopped, training.safetensors (optimizer and random
state).

Every change is one atomic step from a reader's point of view (vae/store/storage.py does the folder
operations): a save writes a hidden temporary folder, fsyncs it, then publishes it under its name
in one step that also refuses a taken name (so of two racing savers exactly one wins), or, with
overwrite, exchanges it with the old folder in one step. Readers read a model's files through one
open folder, so they see one whole version or a StoreError, never a mix. What a killed writer left
is cleaned up the next time a process opens the folder (`recover`).

Nothing is ever unpickled: weights are read with safetensors, after their header was checked
against the config, metadata with json, and anything else is refused with a clear error.
Bundled models live in vae/bundled/NAME (written by `python -m vae train --bundled --name NAME`):
"default" (the model the app opens on) first, then the others by name. They are listed before the
user's models; their names are reserved, and they cannot be renamed or deleted.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from safetensors.torch import save_file

from vae import limits
from vae.models.config import ModelConfig
from vae.models.model import VAE
from vae.models.registry import build
from vae.store import storage
from vae.store.modelfiles import StoreError, check_weights, parse_meta, read_tensors, read_weights

FORMAT_VERSION = 1
WEIGHTS, META, TRAINING = "model.safetensors", "model.json", "training.safetensors"
DEFAULT_MODEL = "default"
BUNDLED_DIR = Path(__file__).parents[1] / "bundled"  # vae/bundled/
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HEAD = 2**16  # bytes of the weights file read when listing: enough for its header
_recovered: set[str] = set()  # folders this process has already cleaned up


@dataclass
class ModelInfo:
    name: str
    path: Path
    meta: dict = field(default_factory=dict)
    bundled: bool = False
    error: str | None = None  # set when the folder is not a loadable model

    @property
    def config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.meta["config"])

    @property
    def version(self) -> str:
        """Changes whenever the weights are rewritten: a cache key for anything derived."""
        if self.meta.get("version"):
            return self.meta["version"]
        st = (self.path / WEIGHTS).stat()  # a model saved before versions were recorded
        return f"{st.st_mtime_ns}-{st.st_size}"

    @property
    def dataset(self) -> str | None:
        return self.data.get("name")

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics") or {}

    @property
    def source(self) -> dict:
        """Where an imported model came from ({} for a model trained here)."""
        return self.meta.get("source") or {}

    @property
    def history(self) -> list[dict]:
        """One dict per training epoch ([] for an imported model)."""
        return self.meta.get("history") or []

    @property
    def binarized(self) -> bool:
        """Trained on binarized images (dynamic binarization): its pixels were 0 or 1, not grey levels."""
        return bool(self.training.get("binarize"))

    @property
    def data(self) -> dict:
        """What it was trained on: name, shape, class_names, and path for an upload ({} if unknown)."""
        return self.meta.get("dataset") or {}

    @property
    def training(self) -> dict:
        """Its TrainConfig as saved ({} for an imported model)."""
        return self.meta.get("train_config") or {}

    @property
    def created(self) -> str:
        return self.meta.get("created", "?")

    @property
    def resumable(self) -> bool:
        """Saved with the exact training state, so `train --resume` continues it exactly."""
        return bool(self.meta.get("resumable"))

    @property
    def recipe(self) -> str | None:
        """The reference system's recipe it was trained with, if any."""
        return (self.training.get("extra") or {}).get("recipe")


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The user's models folder: the argument, else $VAE_MODELS_DIR, else ./models."""
    return Path(path or os.environ.get("VAE_MODELS_DIR") or "models")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(
            f"model name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    return name


def bundled_names() -> list[str]:
    """The bundled models' names: "default" first, then the others alphabetically."""
    names = (
        sorted(p.name for p in BUNDLED_DIR.iterdir() if p.is_dir() and _NAME.match(p.name))
        if BUNDLED_DIR.is_dir()
        else []
    )
    return sorted(names, key=lambda n: n != DEFAULT_MODEL)


def check_not_bundled(name: str) -> str:
    """Refuse a bundled model's name for a user's model (save, rename, train)."""
    if check_name(name) in bundled_names() or name == DEFAULT_MODEL:
        raise StoreError(f"{name!r} is a bundled model's name; choose another")
    return name


def recover(directory: str | os.PathLike | None = None) -> list[str]:
    """Clean up what killed writers left in the models folder (temporary and trash folders; an
    overwrite cut between its renames gets its old version back). Runs once per process and folder
    by itself; returns what it did."""
    root = models_dir(directory)
    _recovered.add(str(root.resolve()))
    return storage.recover(root)


def _recover_once(root: Path) -> None:
    if str(root.resolve()) not in _recovered:
        recover(root)


def _read(folder: Path, names: tuple[str, ...], optional: tuple[str, ...] = (), head: dict | None = None) -> dict:
    """Files of one version of a model folder, or StoreError."""
    try:
        return storage.read_files(folder, names, optional=optional, head=head, max_bytes=limits.MODEL_BYTES)
    except FileNotFoundError:
        if not folder.is_dir() or not any(folder.iterdir()):  # an empty folder: a save's claim
            raise StoreError(f"no model named {folder.name!r} in {folder.parent}") from None
        raise StoreError(f"{folder.name}: a model folder needs {META} and {WEIGHTS}") from None
    except (ValueError, OSError) as e:
        raise StoreError(f"{folder.name}: cannot be read ({e})") from None


def _info(folder: Path, bundled: bool) -> ModelInfo:
    """The model in folder; .error says why it cannot be opened."""
    try:
        raw = _read(folder, (META, WEIGHTS), head={WEIGHTS: _HEAD})
        meta = parse_meta(raw[META], folder.name, META, FORMAT_VERSION)
        check_weights(raw[WEIGHTS], ModelConfig.from_dict(meta["config"]), f"{folder.name}: {WEIGHTS}")
        return ModelInfo(folder.name, folder, meta, bundled)
    except StoreError as e:
        return ModelInfo(folder.name, folder, {}, bundled, error=str(e))


def list_models(directory: str | os.PathLike | None = None) -> list[ModelInfo]:
    """The bundled models ("default" first), then the user's models, newest first. Broken folders
    are listed with .error set so a UI can say why they cannot be opened; a model deleted or renamed
    while the list is read is left out."""
    bundled = bundled_names()
    found = [_info(BUNDLED_DIR / name, True) for name in bundled]
    root = models_dir(directory)
    if root.is_dir():
        _recover_once(root)
        user = [
            _info(p, False)
            if p.name not in bundled + [DEFAULT_MODEL]
            else ModelInfo(p.name, p, {}, error="a bundled model has this name: rename the folder to open it")
            for p in sorted(root.iterdir())
            if not p.name.startswith(".") and p.is_dir()
        ]
        user = [m for m in user if m.error is None or "no model named" not in m.error]  # gone meanwhile
        found += sorted(user, key=lambda m: str(m.meta.get("created", "")), reverse=True)
    return found


def _folder(name: str, directory) -> tuple[Path, bool]:
    """(folder, bundled) of a model name."""
    if name in bundled_names():
        return BUNDLED_DIR / name, True
    return models_dir(directory) / check_name(name), False


def find(name: str, directory: str | os.PathLike | None = None) -> ModelInfo:
    folder, bundled = _folder(name, directory)
    if not folder.is_dir():
        raise StoreError(f"no model named {name!r} in {folder.parent}")
    return _info(folder, bundled)


def load(name: str, directory: str | os.PathLike | None = None) -> tuple[VAE, ModelInfo]:
    """Rebuild a model from its config alone and load its weights (never unpickled). The JSON and
    the weights come from one version of the folder, even while another process overwrites it."""
    folder, bundled = _folder(name, directory)
    raw = _read(folder, (META, WEIGHTS))
    meta = parse_meta(raw[META], name, META, FORMAT_VERSION)
    config = ModelConfig.from_dict(meta["config"])
    state = read_weights(raw[WEIGHTS], config, f"{name}: {WEIGHTS}")
    model = build(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise StoreError(f"{name}: the weights do not match the config ({e})") from None
    return model.eval(), ModelInfo(folder.name, folder, meta, bundled)


def save(
    model: VAE,
    name: str,
    directory: str | os.PathLike | None = None,
    *,
    dataset: dict | None = None,
    metrics: dict | None = None,
    history: list | None = None,
    train_config: dict | None = None,
    training_state: tuple[dict, dict] | None = None,
    overwrite: bool = False,
    source: dict | None = None,
    _root: Path | None = None,
) -> ModelInfo:
    """Write a model into a hidden temporary folder, fsync it, then put it in place in one step:
    published only if the name is free at that moment (StoreError otherwise), or, with overwrite,
    exchanged with the old version.

    training_state: (tensors, string metadata) from training.TrainingState.to_tensors(), kept in
    training.safetensors so the run can be resumed exactly (see load_training_state).
    source: where a model not trained here came from (vae.interop: file, SHA-256, layout)."""
    root = _root or models_dir(directory)
    if _root is None:
        check_not_bundled(name)
    root.mkdir(parents=True, exist_ok=True)
    _recover_once(root)
    final = root / name
    if final.exists() and not overwrite:
        raise StoreError(f"a model named {name!r} already exists in {root}")
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": storage.token(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": model.config.to_dict(),
        "train_config": train_config or {},
        "dataset": dataset or {},
        "metrics": metrics or {},
        "history": history or [],
        "resumable": training_state is not None,
    }
    if source:
        meta["source"] = source
    broken = [k for k, v in model.state_dict().items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if broken:
        raise StoreError(f"{name}: not saved, its weights hold NaN or infinite values ({', '.join(broken[:3])})")
    tmp = root / f"{storage.TMP}{name}-{meta['version']}"
    os.mkdir(tmp, 0o755)
    try:
        with storage.locked(tmp):  # recover() in another process leaves this folder alone
            _write(tmp, model, meta, training_state)
            _put_in_place(tmp, final, name, overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the old version after an exchange, or a failed save
    return ModelInfo(name, final, meta, _root is not None)


def _write(tmp: Path, model: VAE, meta: dict, training_state) -> None:
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / WEIGHTS), metadata={"format": "vae-explorer", "name": meta["name"]})
    if training_state is not None:
        tensors, metadata = training_state
        save_file(tensors, str(tmp / TRAINING), metadata={"format": "vae-explorer", **metadata})
    with open(tmp / META, "w", encoding="utf-8") as f:
        f.write(json.dumps(_finite(meta), indent=1, allow_nan=False))
    for path in tmp.iterdir():
        os.chmod(path, 0o644)
        storage.fsync_file(path)
    storage.fsync_dir(tmp)


def _finite(value):
    """JSON has no NaN or infinity: such numbers in metrics or history are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _put_in_place(tmp: Path, final: Path, name: str, overwrite: bool) -> None:
    for _ in range(3):  # each pass loses at most one race with a concurrent delete or save
        try:
            if overwrite and final.exists():
                storage.exchange(tmp, final)
            else:
                storage.publish(tmp, final)
            return
        except FileExistsError:
            if not overwrite:
                raise StoreError(f"a model named {name!r} already exists in {final.parent}") from None
        except FileNotFoundError:
            if not tmp.is_dir():
                raise
    raise StoreError(f"{name}: could not be saved: other processes kept changing it")


def load_training_state(
    name: str, directory: str | os.PathLike | None = None, *, version: str | None = None
) -> tuple[dict, dict[str, str]] | None:
    """(tensors, string metadata) of a model's saved training state, or None if it has none.
    version: the ModelInfo.version of weights loaded before; StoreError if the model changed since."""
    folder, bundled = _folder(name, directory)
    raw = _read(folder, (META, TRAINING), optional=(TRAINING,))
    if (
        version is not None
        and ModelInfo(name, folder, parse_meta(raw[META], name, META, FORMAT_VERSION), bundled).version != version
    ):
        raise StoreError(f"{name} was overwritten while it was being read; try again")
    if raw[TRAINING] is None:
        return None
    return read_tensors(raw[TRAINING], f"{name}: {TRAINING}")


def _user_model(name: str, directory) -> ModelInfo:
    info = find(name, directory)
    if info.bundled:
        raise StoreError(f"{name!r} is a bundled model: it cannot be renamed or deleted")
    return info


def rename(old: str, new: str, directory: str | os.PathLike | None = None) -> ModelInfo:
    """Give a model a new name, in one step that refuses a taken name."""
    info = _user_model(old, directory)
    check_not_bundled(new)
    target = info.path.parent / new
    try:
        storage.publish(info.path, target)
    except FileExistsError:
        raise StoreError(f"a model named {new!r} already exists") from None
    except FileNotFoundError:
        raise StoreError(f"no model named {old!r} in {info.path.parent}") from None
    if not info.error:  # the name recorded inside follows (a rewrite of model.json alone, atomic)
        storage.replace_file(target / META, json.dumps(dict(info.meta, name=new), indent=1))
    return _info(target, False)


def delete(name: str, directory: str | os.PathLike | None = None) -> None:
    """Remove a model: renamed away in one step, then deleted."""
    try:
        storage.remove(_user_model(name, directory).path)
    except FileNotFoundError:
        raise StoreError(f"no model named {name!r}") from None
