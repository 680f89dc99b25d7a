"""Numerical failure: degenerate data, absurd learning rates, log-variances at their clamps and a
Gaussian likelihood with a tiny fixed std either converge or stop with a message that says what to
try; the last good weights are kept and nothing non-finite reaches the store."""

import json
import math

import pytest
import torch

from vae.models.config import ModelConfig, TrainConfig
from vae.models.registry import build
from vae.store import catalog as store
from vae.training import jobs
from vae.training.loop import fit, validate

MC = ModelConfig(image_shape=(1, 8, 8), hidden=(32,))
TC = TrainConfig(epochs=8, batch_size=32)


def _finite(model) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in model.state_dict().values())


def _random(n=320):
    return (torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5], ids=["all-black", "all-white", "constant-grey"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_constant_datasets_converge(value, likelihood):
    x = torch.full((320, 1, 8, 8), value)
    mc = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), likelihood=likelihood)
    untrained = validate(build(mc, seed=0), x[256:])["elbo"]
    r = fit(mc, TC, x[:256], x[256:])
    assert r.stopped == "completed" and _finite(r.model) and len(r.history) == TC.epochs
    final = r.history[-1]["val_elbo"]
    if likelihood == "bernoulli" and value == 0.5:  # nothing to learn: each pixel is a fair coin
        assert abs(final + 64 * math.log(2)) < 0.5
    else:
        assert final > untrained + 3  # learning (a learned Gaussian std on constant data goes on forever)


@pytest.mark.parametrize(
    "mc, tc, why",
    [
        (MC, TrainConfig(epochs=3, batch_size=32, lr=10.0), "far below the untrained"),
        (
            ModelConfig(image_shape=(1, 8, 8), hidden=(32,), likelihood="gaussian"),
            TrainConfig(epochs=3, lr=10.0),
            "far below the untrained",
        ),
        (
            ModelConfig(image_shape=(1, 8, 8), hidden=(32,), likelihood="gaussian", gaussian_std=1e-20),
            TC,
            "the loss became inf",
        ),
    ],
    ids=["lr10-bernoulli", "lr10-gaussian", "gaussian-std-1e-20"],
)
def test_a_run_that_blows_up_in_its_first_epoch_stops_with_a_message_and_saves_nothing(mc, tc, why):
    x = _random()
    r = fit(mc, tc, x[:256], x[256:])
    assert r.stopped == "diverged" and why in r.message and "try a lower learning rate" in r.message
    assert r.history == [] and _finite(r.model)
    job = jobs.start("blown", mc, tc, x[:256], x[256:], x[256:], iw_samples=2)
    assert job.wait(60) and job.state == "failed", job.error
    assert why in job.error and "nothing to save" in job.error
    with pytest.raises(store.StoreError):
        store.find("blown")


def test_a_tiny_fixed_gaussian_std_trains_to_finite_numbers():
    x = _random()
    mc = ModelConfig(image_shape=(1, 8, 8), hidden=(32,), likelihood="gaussian", gaussian_std=1e-3)
    r = fit(mc, TC, x[:256], x[256:])
    assert r.stopped == "completed" and _finite(r.model)
    assert all(math.isfinite(h["val_elbo"]) for h in r.history) and r.history[-1]["val_elbo"] > r.history[0]["val_elbo"]


@pytest.mark.parametrize("bias", [25.0, -35.0], ids=["above-the-upper-clamp", "below-the-lower-clamp"])
def test_log_variances_at_their_clamps_are_pulled_back(bias):
    """The clamp passes gradients straight through: a hard clamp has none there, and such a run never
    moved (measured: ELBO -4.85e8 after 30 epochs from +25, -67 from -35; a normal run reaches -39)."""
    x = _random()
    init = build(MC, seed=0).state_dict()
    init["encoder.head.bias"][MC.latent_dim :] = bias  # every log-variance starts past a clamp
    r = fit(MC, TrainConfig(epochs=20, batch_size=32), x[:256], x[256:], init_state=init)
    elbos = [h["val_elbo"] for h in r.history]
    assert r.stopped == "completed" and _finite(r.model) and all(map(math.isfinite, elbos))
    assert elbos[-1] > elbos[0] + (1e6 if bias > 0 else 5)
    mu, logvar = r.model.encode(x[256:])
    assert bool((logvar.detach() < 20).any()) if bias > 0 else bool((logvar.detach() > -30).all())


def test_weights_that_become_nan_mid_run_keep_the_last_good_epoch():
    x = _random()
    kept = {}

    def poison(p):  # a stand-in for an overflow in the optimizer
        if p.event == "epoch" and p.epoch == 3:
            kept.update({k: v.clone() for k, v in p.model.state_dict().items()})
            p.model.encoder.head.bias.data.fill_(float("nan"))

    r = fit(MC, TrainConfig(epochs=6, batch_size=32), x[:256], x[256:], callback=poison)
    assert r.stopped == "diverged" and "nan" in r.message and "last good epoch" in r.message
    assert len(r.history) == 3 and _finite(r.model) and r.best_epoch <= 3
    assert store.save(r.model, "kept", history=r.history).name == "kept"


def test_a_learning_rate_that_grows_past_sanity_keeps_the_epochs_before_it():
    x = _random()
    tc = TrainConfig(epochs=6, batch_size=32, lr=1e-3, lr_decay=60.0)  # 1e-3, 0.06, 3.6, ...
    job = jobs.start("growing", MC, tc, x[:256], x[256:], x[256:], iw_samples=2)
    assert job.wait(60) and job.state == "done", job.error
    assert job.outcome == "diverged" and "try a lower learning rate" in job.message
    model, info = store.load("growing")
    assert _finite(model) and 1 <= len(info.meta["history"]) < 6
    assert all(math.isfinite(v) for v in info.metrics.values() if isinstance(v, float))


def test_the_store_refuses_non_finite_weights_and_writes_json_without_nan(tmp_path):
    model = build(MC, seed=0)
    model.decoder.out.bias.data[0] = float("inf")
    with pytest.raises(store.StoreError, match="NaN or infinite"):
        store.save(model, "bad", tmp_path)
    assert not any(tmp_path.iterdir()) or not (tmp_path / "bad").exists()
    info = store.save(
        build(MC, seed=0), "ok", tmp_path, metrics={"elbo": float("-inf")}, history=[{"val_elbo": float("nan")}]
    )
    meta = json.loads((info.path / store.META).read_text(), parse_constant=lambda c: pytest.fail(c))
    assert meta["metrics"]["elbo"] is None and meta["history"][0]["val_elbo"] is None
