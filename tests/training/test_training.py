"""fit(): learning, determinism, the callback, the NaN guard, early stopping, resuming, warm-up, IWAE,
dynamic binarization. Small models on small data: the whole file runs in a few seconds."""

import math

import numpy as np
import pytest
import torch

from vae.data import datasets as data
from vae.models.config import ModelConfig, TrainConfig
from vae.training import loop as training

SMALL = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), latent_dim=2)


def _fit(x, val=None, **kw):
    tc = TrainConfig(**{"epochs": 2, "batch_size": 32, "lr": 3e-3, **kw.pop("tc", {})})
    return training.fit(kw.pop("mc", SMALL), tc, x, val, **kw)


def test_a_few_epochs_improve_held_out_elbo_on_mnist():
    x = torch.from_numpy(data.load_dataset("mnist-5k", "train").images[:1200])
    mc = ModelConfig(hidden=(64,), latent_dim=2)
    r = training.fit(mc, TrainConfig(epochs=4, batch_size=64, lr=3e-3), x[:1000], x[1000:])
    vals = [h["val_elbo"] for h in r.history]
    assert r.stopped == "completed" and len(vals) == 4
    assert vals[-1] > vals[0] + 5, vals
    assert r.samples_per_second > 0 and all(h["seconds"] > 0 for h in r.history)


def test_same_seed_same_weights_other_seed_differs(blobs):
    x, _ = blobs
    a, b, c = (_fit(x, tc={"seed": s}).model.state_dict() for s in (3, 3, 4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_callback_sees_steps_and_epochs_and_can_cancel(blobs):
    x, _ = blobs
    events = []
    r = _fit(x, x[:64], callback=lambda p: events.append((p.event, p.epoch, p.step, p.total_steps)))
    steps = [e for e in events if e[0] == "step"]
    assert [e[1] for e in events if e[0] == "epoch"] == [1, 2]
    assert [e[2] for e in steps] == list(range(1, 17)) and steps[0][3] == 16  # 256 / 32 * 2 epochs
    assert r.stopped == "completed"
    r = _fit(x, callback=lambda p: p.event == "step" and p.step == 3)
    assert r.stopped == "cancelled" and r.history == [] and "stopped by the user" in r.message
    r = _fit(x, x[:64], tc={"epochs": 5}, callback=lambda p: p.event == "epoch")
    assert r.stopped == "cancelled" and len(r.history) == 1


def test_nan_stops_with_the_last_good_weights(blobs):
    x, _ = blobs
    seen = {}

    def poison(p):
        if p.event == "epoch":
            seen["model"], seen["state"] = p.model, {k: v.clone() for k, v in p.model.state_dict().items()}
        elif p.step == 10 and "model" in seen:  # in epoch 2: a weight goes NaN
            with torch.no_grad():
                next(seen["model"].parameters())[0, 0] = math.nan

    r = _fit(x, x[:64], tc={"epochs": 4}, callback=poison)
    assert r.stopped == "diverged" and "nan" in r.message and "last good" in r.message
    assert len(r.history) == 1
    state = r.model.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values())
    assert all(torch.equal(state[k], seen["state"][k]) for k in state)  # epoch 1's weights


def test_huge_learning_rate_diverges_or_stays_finite(blobs):
    x, _ = blobs
    r = _fit(x, tc={"lr": 1e6, "epochs": 3})
    assert all(torch.isfinite(v).all() for v in r.model.state_dict().values())
    if r.stopped == "diverged":
        assert "became" in r.message or "far below the untrained model's" in r.message


def test_early_stopping_after_patience(blobs):
    x, _ = blobs
    # lr so small the weights do not change: validation never improves after epoch 1
    r = _fit(x, x[:64], tc={"epochs": 10, "lr": 1e-12, "patience": 2})
    assert r.stopped == "early-stopped" and len(r.history) == 3 and r.best_epoch == 1
    assert "2 epochs" in r.message


def test_resume_continues_epoch_numbering(blobs):
    x, _ = blobs
    first = _fit(x, x[:64])
    again = _fit(x, x[:64], init_state=first.model.state_dict(), history=first.history)
    assert [h["epoch"] for h in again.history] == [1, 2, 3, 4]
    assert again.history[2]["train_elbo"] > first.history[0]["train_elbo"]  # did not restart from scratch


def test_warmup_beta_rises_linearly(blobs):
    x, _ = blobs
    betas = []
    _fit(
        x,
        tc={"epochs": 3, "warmup_epochs": 2, "beta": 0.5},
        callback=lambda p: betas.append(p.metrics["beta"]) if p.event == "step" else None,
    )
    warm = 16  # 2 epochs of 8 steps
    np.testing.assert_allclose(betas[:warm], 0.5 * np.arange(1, warm + 1) / warm)
    assert betas[warm:] == [0.5] * 8


def test_iwae_trains_and_its_bound_is_above_the_elbo(blobs):
    x, _ = blobs
    r = _fit(x, x[:64], tc={"iw_samples": 5, "epochs": 3})
    assert r.stopped == "completed"
    assert all(h["train_iw_bound"] >= h["train_elbo"] for h in r.history)
    assert r.history[-1]["val_elbo"] > r.history[0]["val_elbo"]


def test_dynamic_binarization_feeds_fresh_zero_one_batches(blobs, monkeypatch):
    x, _ = blobs
    batches = []
    original = training._step_loss

    def spy(model, xb, *args):
        batches.append(xb.clone())
        return original(model, xb, *args)

    monkeypatch.setattr(training, "_step_loss", spy)
    _fit(x, tc={"binarize": True, "batch_size": 256})
    assert all(set(b.unique().tolist()) <= {0.0, 1.0} for b in batches)
    # the two epochs' samples differ: a new Bernoulli draw every epoch (same images, other order)
    ones = [b.sum(dim=(1, 2, 3)).sort()[0].tolist() for b in batches]  # per-image 1-counts, sorted
    assert ones[0] != ones[1]


def test_wrong_image_shape_is_refused(blobs):
    x, _ = blobs
    with pytest.raises(ValueError, match="do not fit"):
        training.fit(ModelConfig(), TrainConfig(epochs=1), x)
