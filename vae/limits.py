"""Every limit on what a user can hand the app, in one place.

Each limit can be set by an environment variable named VAE_ plus its name, read when vae is first
imported (for example `VAE_UPLOAD_MB=200 streamlit run app.py`). Code reads them as `limits.NAME`
at call time, so a test can change one with monkeypatch.setattr(limits, NAME, value).
"""

from __future__ import annotations

import os


def _env(name: str, default: int) -> int:
    raw = os.environ.get(f"VAE_{name}")
    if raw is None or not raw.strip():
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"VAE_{name}={raw!r} is not a number") from None
    if value < 1:
        raise ValueError(f"VAE_{name} must be at least 1, got {raw!r}")
    return value


UPLOAD_MB = _env("UPLOAD_MB", 50)  # one file uploaded in the app (pictures, .zip, .npz, .npy)
IMAGE_PIXELS = _env("IMAGE_PIXELS", 40_000_000)  # one picture, read from its header before decoding
ZIP_FILES = _env("ZIP_FILES", 70_000)  # files in one .zip or folder of pictures (all of MNIST)
INPUT_BYTES = _env("INPUT_BYTES", 2**30)  # uncompressed bytes read from one folder, .zip or .npz
DATASET_BYTES = _env("DATASET_BYTES", 2 * 2**30)  # a dataset as float32 in memory (decoded pixels too)
EPOCHS = _env("EPOCHS", 1000)  # epochs of one training job started in the app
MODEL_BYTES = _env("MODEL_BYTES", 2**30)  # one model's weights file
MODEL_PARAMS = _env("MODEL_PARAMS", 200_000_000)  # parameters a model config may ask for
ONNX_NODES = _env("ONNX_NODES", 10_000)  # nodes of one imported ONNX graph (a VAE has tens)
ONNX_OPSET = _env("ONNX_OPSET", 23)  # the newest ONNX opset an import reads (its ops are checked one by one)
MAX_TRAINING_JOBS = _env("MAX_TRAINING_JOBS", 2)  # training jobs one server runs at once (a core each)
SAMPLES = _env("SAMPLES", 100_000)  # pictures one `python -m vae sample` decodes
LATENT = _env("LATENT", 512)  # latent dimensions of one model (an imported VanillaVAE has 128)

DESCRIPTIONS = {
    "UPLOAD_MB": "megabytes per uploaded file",
    "IMAGE_PIXELS": "pixels per picture (width x height, from the header)",
    "ZIP_FILES": "files per .zip or folder of pictures",
    "INPUT_BYTES": "uncompressed bytes per .zip, .npz or folder",
    "DATASET_BYTES": "bytes of a dataset in memory (float32)",
    "EPOCHS": "epochs per training job in the app",
    "MODEL_BYTES": "bytes of one model's weights file",
    "MODEL_PARAMS": "parameters of one model",
    "ONNX_NODES": "nodes of one imported ONNX graph",
    "ONNX_OPSET": "newest ONNX opset an import reads",
    "MAX_TRAINING_JOBS": "training jobs one server runs at once",
    "SAMPLES": "pictures one sample command decodes",
    "LATENT": "latent dimensions of one model",
}


def current() -> dict[str, int]:
    """Every limit's value now, by name."""
    return {name: globals()[name] for name in DESCRIPTIONS}
