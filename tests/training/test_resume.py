"""Resuming a run: the TrainingState fit() returns, through the tensors a safetensors file holds, puts
a new run exactly where the old one stood."""

import math

import pytest
import torch

from vae.models.config import ModelConfig, TrainConfig
from vae.training import loop as training

SMALL = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=2)


def _fit(x, val=None, **kw):
    tc = TrainConfig(**{"epochs": 2, "batch_size": 32, "lr": 3e-3, **kw.pop("tc", {})})
    return training.fit(kw.pop("mc", SMALL), tc, x, val, **kw)


def _same_weights(a, b):
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_resuming_from_the_training_state_continues_exactly(blobs):
    """3 epochs, saved through the tensors a safetensors file holds, then 3 more, equal 6 epochs:
    Adam's moments, the lr schedule, the KL warm-up, the binarization and shuffling all go on."""
    x, _ = blobs
    tc = {"epochs": 6, "warmup_epochs": 4, "lr_decay": 0.9, "binarize": True}
    whole = _fit(x, x[:64], tc=tc)
    first = _fit(x, x[:64], tc={**tc, "epochs": 3})
    tensors, metadata = first.state.to_tensors()
    assert all(isinstance(v, torch.Tensor) for v in tensors.values()) and set(metadata) == {"state"}
    state = training.TrainingState.from_tensors(tensors, metadata)
    rest = _fit(
        x, x[:64], tc={**tc, "epochs": 3}, init_state=first.model.state_dict(), history=first.history, resume=state
    )
    untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (whole, rest)]
    assert len(untimed[1]) == 6 and untimed[0] == untimed[1]
    assert _same_weights(whole.model, rest.model) and rest.best_epoch == whole.best_epoch


def test_resuming_without_a_better_epoch_keeps_the_earlier_best_weights(blobs):
    x, _ = blobs
    first = _fit(x, x[:64], tc={"epochs": 3})
    state = first.state
    state.best_score = math.inf  # no new epoch can beat this
    rest = _fit(x, x[:64], tc={"epochs": 1}, init_state=first.model.state_dict(), history=first.history, resume=state)
    assert len(rest.history) == 4 and rest.best_epoch == first.best_epoch
    assert _same_weights(first.model, rest.model)


def test_a_new_learning_rate_on_resume_restarts_the_schedule_from_it(blobs):
    x, _ = blobs
    first = _fit(x, tc={"epochs": 2, "lr_decay": 0.5})
    assert first.history[-1]["lr"] == pytest.approx(3e-3 * 0.25)
    same = _fit(x, tc={"epochs": 1, "lr_decay": 0.5}, init_state=first.model.state_dict(), resume=first.state)
    assert same.history[-1]["lr"] == pytest.approx(3e-3 * 0.125)
    faster = _fit(
        x, tc={"epochs": 1, "lr": 1e-2, "lr_decay": 0.9}, init_state=first.model.state_dict(), resume=first.state
    )
    assert faster.history[-1]["lr"] == pytest.approx(1e-2 * 0.9)


def test_a_training_state_that_is_not_one_is_refused(blobs):
    x, _ = blobs
    tensors, metadata = _fit(x, tc={"epochs": 1}).state.to_tensors()
    with pytest.raises(ValueError, match="not a training state"):
        training.TrainingState.from_tensors(tensors, {})
    with pytest.raises(ValueError, match="not a training state"):
        training.TrainingState.from_tensors({k: v for k, v in tensors.items() if k != "generator"}, metadata)
    other = ModelConfig(image_shape=(1, 8, 8), hidden=(16,), latent_dim=2)
    with pytest.raises(ValueError, match="does not fit"):
        _fit(x, mc=other, resume=training.TrainingState.from_tensors(tensors, metadata))
