"""A folder written by pythae's `model.save(dir)`: model_config.json (the settings), model.pt (a dict
{"model_state_dict": ...}, read with torch.load(weights_only=True)) and environment.json; with custom
networks also encoder.pkl / decoder.pkl, which are pickled classes and are never read here (unpickling
runs code). The networks are recognised from the state dict's names and shapes instead: pythae's
default MLP networks and its MNIST benchmark conv networks (vae/interop/known_layouts.py); custom
ones need a layout map.

    rec = recognise_folder("my_vae/final_model")     # then importer.save_imported(rec, name)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vae.interop import importer, known_layouts, layouts, weights
from vae.store.modelfiles import StoreError

CONFIG_BYTES = 1 << 20  # a model_config.json is a few hundred bytes
GAUSSIAN_ENCODERS = ("VAE", "BetaVAE", "IWAE", "VAE_LinNF", "VAE_IAF", "DisentangledBetaVAE", "BetaTCVAE", "MSSSIM_VAE")


def is_pythae_folder(path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "model_config.json").is_file()


def read_config(path: Path) -> dict:
    """model_config.json, its fields the import needs checked: input_dim, latent_dim, the model's name."""
    file = path / "model_config.json"
    if file.stat().st_size > CONFIG_BYTES:
        raise StoreError(f"{file}: {file.stat().st_size:,} bytes is not a pythae model_config.json")
    try:
        cfg = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise StoreError(f"{file}: not JSON, so not a pythae model_config.json") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("name"), str) or not cfg["name"].endswith("Config"):
        raise StoreError(f'{file}: not a pythae model_config.json (no "name": "...Config")')
    dims, latent = cfg.get("input_dim"), cfg.get("latent_dim")
    if not (isinstance(dims, list) and 1 <= len(dims) <= 3 and all(isinstance(d, int) and d > 0 for d in dims)):
        raise StoreError(f"{file}: input_dim must be a list of 1 to 3 sizes, got {dims!r}"[:200])
    if not isinstance(latent, int) or isinstance(latent, bool) or latent < 1:
        raise StoreError(f"{file}: latent_dim must be a whole number, got {latent!r}"[:200])
    return cfg


def _image_shape(dims: list) -> tuple[int, int, int]:
    if len(dims) == 3:
        return tuple(dims)
    if len(dims) == 2:
        return (1, *dims)
    side = math.isqrt(dims[0])
    if side * side != dims[0]:
        raise StoreError(f"input_dim {dims} is a flat vector of {dims[0]} values, not a square picture")
    return (1, side, side)


def recognise_folder(path, *, layout: str = "auto", layout_map: str | None = None) -> importer.Recognised:
    """A pythae folder -> the same Recognised as a state dict's import (StoreError on anything else)."""
    path = Path(path)
    if not is_pythae_folder(path):
        raise StoreError(f"{path}: not a folder written by pythae's model.save (no model_config.json in it)")
    cfg = read_config(path)
    model_name = cfg["name"][: -len("Config")]
    if model_name not in GAUSSIAN_ENCODERS:
        raise StoreError(
            f"{path}: a pythae {model_name}; the explorer reads VAEs with a Gaussian encoder "
            f"({', '.join(GAUSSIAN_ENCODERS)})"
        )
    if not (path / "model.pt").is_file():
        raise StoreError(f"{path}: model_config.json but no model.pt: the weights are missing")
    data = weights.read_bytes(path / "model.pt")
    tensors, _ = weights.read_state_dict("model.pt", data)
    if layout == "auto" and layout_map is None:
        layout = known_layouts.guess(tensors) or "auto"
        if layout not in ("pythae-mlp", "pythae-conv-mnist"):
            pickled = [n for n in ("encoder.pkl", "decoder.pkl") if (path / n).exists()]
            raise StoreError(
                f"{path}: custom networks ({' and '.join(pickled) or 'not the default ones'}): their classes are "
                "pickled, and unpickling runs code, so they are not read. The weights in model.pt are; name "
                "their layers with a layout map (--layout MAP.json, see vae/interop/layouts.py); the tensors "
                f"start {', '.join(sorted(layouts.prefixes(tensors))[:6])}"
            )
    loss = cfg.get("reconstruction_loss", "mse")
    rec = importer.recognise(
        f"{path.name}/model.pt",
        data,
        layout=layout,
        layout_map=layout_map,
        image_shape=_image_shape(cfg["input_dim"]),
        likelihood="bernoulli" if loss == "bce" else "gaussian",
        latent_dim=cfg["latent_dim"],
        output="sigmoid",
    )
    rec.facts[:0] = [
        f"a pythae {model_name} folder: input_dim {cfg['input_dim']}, latent_dim {cfg['latent_dim']}, "
        f"reconstruction_loss {loss!r} (model_config.json)"
    ]
    rec.extra["pythae"] = {"model": model_name, "reconstruction_loss": loss}
    return rec
