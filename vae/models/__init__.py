"""The model: its config, the VAE and its layers, the conditional kinds, the objectives.

config.py (ModelConfig, TrainConfig), model.py (the VAE, MLP and conv encoders/decoders),
conditional.py (label, completion and class-prior CVAEs), registry.py (every kind by name, build),
objectives.py and conditional_objectives.py (ELBO, importance-weighted bound, metrics).
Imports only vae.limits and vae.data.
"""

from vae.models.config import ConfigError, ModelConfig, TrainConfig
from vae.models.model import VAE
from vae.models.registry import build

__all__ = ["ConfigError", "ModelConfig", "TrainConfig", "VAE", "build"]
