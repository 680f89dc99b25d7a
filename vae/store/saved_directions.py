"""Directions saved with a model: one small JSON file, by name, written atomically.

A user model keeps them in its own folder (directions.json beside model.json), so they go where
the model goes (rename) and are gone with it (delete, or a retrain that replaces the folder: a new
latent space). A bundled model's folder is read-only, so its directions live in the user's store as
<models dir>/.bundled-directions/<name>.json. Each entry is a Direction's dict
(vae.inference.directions.Direction.to_dict): vector, method, source, quality; the vector must have
one finite number per latent dimension.

- list_directions(model): {name: entry}, {} when none are saved.
- save_direction(model, name, entry): refuses a taken name unless overwrite; one rewrite of the file
  under the folder's lock, so two writers never lose each other's entries.
- delete_direction(model, name): refuses an unknown name, naming the saved ones.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from vae.store import storage
from vae.store.catalog import StoreError, find, models_dir

FILE = "directions.json"
MAX_BYTES = 8 << 20  # a directions file holds vectors of a few hundred numbers each
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _path(model: str, directory) -> Path:
    info = find(model, directory)
    if info.bundled:
        folder = models_dir(directory) / ".bundled-directions"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{model}.json"
    return info.path / FILE


def _read(path: Path) -> dict:
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_BYTES:
        raise StoreError(f"{path} is over {MAX_BYTES >> 20} MB: not a directions file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"{path} is not readable JSON ({e.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} does not hold a mapping of names to directions")
    return data


def list_directions(model: str, directory: str | os.PathLike | None = None) -> dict[str, dict]:
    return _read(_path(model, directory))


def save_direction(
    model: str, name: str, entry: dict, directory: str | os.PathLike | None = None, *, overwrite: bool = False
) -> Path:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(f"direction name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-'")
    latent = find(model, directory).config.latent_dim
    vector = entry.get("vector")
    if not isinstance(vector, list) or len(vector) != latent or not all(math.isfinite(float(v)) for v in vector):
        raise StoreError(f"a direction of {model!r} is {latent} finite numbers")
    path = _path(model, directory)
    with storage.locked(path.parent):
        saved = _read(path)
        if name in saved and not overwrite:
            raise StoreError(f"{model!r} already has a direction named {name!r} (overwrite it, or pick another name)")
        saved[name] = entry
        storage.replace_file(path, json.dumps(saved, indent=1))
    return path


def delete_direction(model: str, name: str, directory: str | os.PathLike | None = None) -> None:
    path = _path(model, directory)
    with storage.locked(path.parent):
        saved = _read(path)
        if name not in saved:
            have = ", ".join(sorted(saved)) or "none"
            raise StoreError(f"{model!r} has no direction named {name!r} (saved: {have})")
        del saved[name]
        storage.replace_file(path, json.dumps(saved, indent=1))
