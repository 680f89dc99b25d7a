"""Resuming a run exactly: the state a training run leaves at the end of each finished epoch, how it
travels through a safetensors file (tensors plus JSON metadata, nothing pickled), and how a new run
is put back where the old one stood.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch

from vae.models.config import TrainConfig


@dataclass
class TrainingState:
    """Where a run stood at the end of its last finished epoch: that epoch's weights (not necessarily
    the best ones, which the model keeps), Adam's state, the learning-rate schedule, the sampler's
    random state, the step count (the KL warm-up goes on from it) and the early-stopping record."""

    weights: dict[str, torch.Tensor]
    optimizer: dict  # torch.optim.Adam.state_dict()
    scheduler: dict  # ExponentialLR.state_dict()
    generator: torch.Tensor  # torch.Generator.get_state()
    step: int
    best_score: float
    best_epoch: int | None
    stale: int

    def to_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """Tensors and string metadata for a safetensors file (nothing pickled)."""
        tensors = {f"weights.{k}": v for k, v in self.weights.items()}
        for i, slots in self.optimizer["state"].items():
            tensors.update({f"optimizer.{i}.{k}": torch.as_tensor(v) for k, v in slots.items()})
        tensors["generator"] = self.generator
        meta = {
            "param_groups": self.optimizer["param_groups"],
            "scheduler": self.scheduler,
            "step": self.step,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "stale": self.stale,
        }
        return {k: v.detach().contiguous() for k, v in tensors.items()}, {"state": json.dumps(meta)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> TrainingState:
        try:
            meta = json.loads(metadata["state"])
            state: dict[int, dict] = {}
            for key, value in tensors.items():
                if key.startswith("optimizer."):
                    _, i, slot = key.split(".", 2)
                    state.setdefault(int(i), {})[slot] = value
            return cls(
                {k[8:]: v for k, v in tensors.items() if k.startswith("weights.")},
                {"state": state, "param_groups": meta["param_groups"]},
                meta["scheduler"],
                tensors["generator"],
                int(meta["step"]),
                float(meta["best_score"]),
                meta["best_epoch"],
                int(meta["stale"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a training state ({type(e).__name__}: {e})") from None


def restore(model, opt, sched, gen, state: TrainingState, tc: TrainConfig):
    """Put a run back where state left it, then apply this run's learning-rate settings; returns the
    scheduler to use."""
    try:
        model.load_state_dict(state.weights)
        opt.load_state_dict(state.optimizer)
        sched.load_state_dict(state.scheduler)
        gen.set_state(state.generator)
    except (RuntimeError, ValueError, KeyError) as e:
        raise ValueError(f"the saved training state does not fit this model ({e})") from None
    for group in opt.param_groups:
        group["weight_decay"] = tc.weight_decay
    sched.gamma = tc.lr_decay
    if math.isclose(sched.base_lrs[0], tc.lr):
        return sched
    for group in opt.param_groups:  # a new learning rate restarts the schedule from it
        group["lr"] = group["initial_lr"] = tc.lr
    return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=tc.lr_decay)
