"""Every model kind by name, and `build`: the one place that knows them all.

model.py holds the plain VAE and the layers; conditional.py builds its three kinds on it. Neither
imports this module, so the two never import each other in a circle: whoever needs a model of a
config's kind (the store, training, the pages) builds it here.
"""

from __future__ import annotations

import torch

from vae.models.conditional import ClassPriorVAE, CompletionCVAE, LabelCVAE
from vae.models.config import ModelConfig
from vae.models.model import VAE

KINDS = {"none": VAE, "label": LabelCVAE, "completion": CompletionCVAE, "prior": ClassPriorVAE}


def model_class(config: ModelConfig) -> type[VAE]:
    return KINDS[config.conditional]


def build(config: ModelConfig, seed: int | None = None) -> VAE:
    """A fresh model of the config's kind (vae/models/conditional.py for conditional ones); with a
    seed, the same initial weights every time."""
    cls = model_class(config)
    if seed is None:
        return cls(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)
