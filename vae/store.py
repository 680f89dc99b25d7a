"""Models on disk: a folder per model holding model.safetensors (weights) and model.json (config,
dataset, metrics, training history, creation time, format version), and, for a model that can be
trained further exactly where it stopped, training.safetensors (optimizer and random state).

Writes are atomic: a model is written into a hidden temporary folder and renamed into place, so a
crash never leaves a half-written model visible. Nothing is ever unpickled: weights are read with
safetensors, metadata with json, and anything else is refused with a clear error.
Bundled models live in vae/bundled/NAME (written by `python -m vae train --bundled --name NAME`):
"default" (the model the app opens on) first, then the others by name. They are listed before the
user's models; their names are reserved, and they cannot be renamed or deleted.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .config import ConfigError, ModelConfig
from .model import VAE

FORMAT_VERSION = 1
WEIGHTS, META, TRAINING = "model.safetensors", "model.json", "training.safetensors"
DEFAULT_MODEL = "default"
BUNDLED_DIR = Path(__file__).parent / "bundled"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StoreError(ValueError):
    """A model is missing, malformed, or a name is not allowed."""


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
        st = (self.path / WEIGHTS).stat()
        return f"{st.st_mtime_ns}-{st.st_size}"

    @property
    def dataset(self) -> str | None:
        return (self.meta.get("dataset") or {}).get("name")

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics") or {}


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The user's models folder: the argument, else $VAE_MODELS_DIR, else ./models."""
    return Path(path or os.environ.get("VAE_MODELS_DIR") or "models")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(f"model name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or "
                         "'-', starting with a letter or digit")
    return name


def bundled_names() -> list[str]:
    """The bundled models' names: "default" first, then the others alphabetically."""
    names = sorted(p.name for p in BUNDLED_DIR.iterdir() if p.is_dir() and _NAME.match(p.name)) \
        if BUNDLED_DIR.is_dir() else []
    return sorted(names, key=lambda n: n != DEFAULT_MODEL)


def check_not_bundled(name: str) -> str:
    """Refuse a bundled model's name for a user's model (save, rename, train)."""
    if check_name(name) in bundled_names() or name == DEFAULT_MODEL:
        raise StoreError(f"{name!r} is a bundled model's name; choose another")
    return name


def _read_meta(folder: Path) -> dict:
    meta_path, weights_path = folder / META, folder / WEIGHTS
    if not meta_path.is_file() or not weights_path.is_file():
        raise StoreError(f"{folder.name}: a model folder needs {META} and {WEIGHTS}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"{folder.name}: {META} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{folder.name}: unsupported model format (expected format_version "
                         f"{FORMAT_VERSION})")
    try:
        ModelConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ConfigError) as e:
        raise StoreError(f"{folder.name}: bad model config ({e})") from None
    return meta


def _info(folder: Path, bundled: bool) -> ModelInfo:
    try:
        return ModelInfo(folder.name, folder, _read_meta(folder), bundled)
    except StoreError as e:
        return ModelInfo(folder.name, folder, {}, bundled, error=str(e))


def list_models(directory: str | os.PathLike | None = None) -> list[ModelInfo]:
    """The bundled models ("default" first), then the user's models, newest first. Broken folders
    are listed with .error set so a UI can say why they cannot be opened."""
    bundled = bundled_names()
    found = [_info(BUNDLED_DIR / name, True) for name in bundled]
    root = models_dir(directory)
    if root.is_dir():
        user = [_info(p, False) if p.name not in bundled + [DEFAULT_MODEL] else
                ModelInfo(p.name, p, {}, error="a bundled model has this name: rename the folder to open it")
                for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        found += sorted(user, key=lambda m: m.meta.get("created", ""), reverse=True)
    return found


def find(name: str, directory: str | os.PathLike | None = None) -> ModelInfo:
    if name in bundled_names():
        return _info(BUNDLED_DIR / name, True)
    folder = models_dir(directory) / check_name(name)
    if not folder.is_dir():
        raise StoreError(f"no model named {name!r} in {models_dir(directory)}")
    return _info(folder, False)


def load(name: str, directory: str | os.PathLike | None = None) -> tuple[VAE, ModelInfo]:
    """Rebuild a model from its config alone and load its weights (never unpickled)."""
    info = find(name, directory)
    if info.error:
        raise StoreError(info.error)
    try:
        state = load_file(str(info.path / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as e:
        raise StoreError(f"{name}: {WEIGHTS} is not a valid safetensors file ({e})") from None
    model = VAE(info.config)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise StoreError(f"{name}: the weights do not match the config ({e})") from None
    return model.eval(), info


def save(model: VAE, name: str, directory: str | os.PathLike | None = None, *, dataset: dict | None = None,
         metrics: dict | None = None, history: list | None = None, train_config: dict | None = None,
         training_state: tuple[dict, dict] | None = None, overwrite: bool = False,
         _root: Path | None = None) -> ModelInfo:
    """Write a model atomically: into a hidden temporary folder, then renamed into place.

    training_state: (tensors, string metadata) from training.TrainingState.to_tensors(), kept in
    training.safetensors so the run can be resumed exactly (see load_training_state)."""
    root = _root or models_dir(directory)
    if _root is None:
        check_not_bundled(name)
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    if final.exists() and not overwrite:
        raise StoreError(f"a model named {name!r} already exists in {root}")
    meta = {"format_version": FORMAT_VERSION, "name": name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": model.config.to_dict(),
            "train_config": train_config or {}, "dataset": dataset or {}, "metrics": metrics or {},
            "history": history or [], "resumable": training_state is not None}
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    try:
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "vae-explorer", "name": name})
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if training_state is not None:
            tensors, metadata = training_state
            save_file(tensors, str(tmp / TRAINING), metadata={"format": "vae-explorer", **metadata})
        for path in tmp.iterdir():
            os.chmod(path, 0o644)  # mkdtemp makes 0700: a model is readable like any saved file
        os.chmod(tmp, 0o755)
        if final.exists():
            trash = root / f".trash-{name}-{time.time_ns()}"
            os.rename(final, trash)
            os.rename(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _info(final, _root is not None)


def load_training_state(name: str, directory: str | os.PathLike | None = None
                        ) -> tuple[dict, dict[str, str]] | None:
    """(tensors, string metadata) of a model's saved training state, or None if it has none."""
    info = find(name, directory)
    path = info.path / TRAINING
    if info.error or not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:  # one read for the tensors and the metadata
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise StoreError(f"{name}: {TRAINING} is not a valid safetensors file ({e})") from None


def _user_model(name: str, directory) -> ModelInfo:
    info = find(name, directory)
    if info.bundled:
        raise StoreError(f"{name!r} is a bundled model: it cannot be renamed or deleted")
    return info


def rename(old: str, new: str, directory: str | os.PathLike | None = None) -> ModelInfo:
    info = _user_model(old, directory)
    check_not_bundled(new)
    target = info.path.parent / new
    if target.exists():
        raise StoreError(f"a model named {new!r} already exists")
    os.rename(info.path, target)
    if not info.error:
        meta = dict(info.meta, name=new)
        tmp = target / f".{META}.tmp"
        tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp, target / META)
    return _info(target, False)


def delete(name: str, directory: str | os.PathLike | None = None) -> None:
    shutil.rmtree(_user_model(name, directory).path)
