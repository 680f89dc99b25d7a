"""Conditional model kinds: shapes, the class-prior KL, the store, training, and what each one draws."""

import math

import numpy as np
import pytest
import torch

from vae.data import datasets as data
from vae.models import conditional_objectives as co
from vae.models.conditional import ClassPriorVAE, CompletionCVAE, LabelCVAE, visible_mask
from vae.models.config import ConfigError, ModelConfig, TrainConfig
from vae.models.objectives import log_normal
from vae.models.registry import build
from vae.store import catalog as store
from vae.training.loop import fit, validate

KINDS = {
    "label": dict(conditional="label", num_classes=4),
    "prior": dict(conditional="prior", num_classes=4),
    "completion": dict(conditional="completion", binarize_condition=True),
    "completion-top": dict(
        conditional="completion", visible="top-half", hidden=(16, 12), condition_hidden=(20, 12, 12)
    ),
}
CLASSES = {LabelCVAE: "label", ClassPriorVAE: "prior", CompletionCVAE: "completion"}


def _model(kind: str, **extra):
    settings = {"image_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 3, **KINDS[kind], **extra}
    return build(ModelConfig(**settings), seed=0)


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_decoding(kind, blobs):
    model = _model(kind)
    x, y = blobs[0][:6], torch.as_tensor(blobs[1][:6])
    z = torch.randn(6, 3)
    assert CLASSES[type(model)] == model.config.conditional
    if kind == "label":
        assert model.encode(x, y)[0].shape == (6, 3)
        assert model.decode(z, y).shape == model.decode(z, 2).shape == (6, 1, 8, 8)
    elif kind == "prior":
        assert model.encode(x)[0].shape == (6, 3) and model.decode(z).shape == (6, 1, 8, 8)
        assert model.prior_mean(y).shape == (6, 3) and model.prior_means.shape == (4, 3)
    else:
        v = model.visible_of(x)
        assert v.shape == (6, int(model.visible_mask.sum())) and model.encode(x, v)[0].shape == (6, 3)
        for images in (model.decode(z, v), model.decode(z, x), model.regress(v)):
            assert images.shape == (6, 1, 8, 8)
            assert torch.equal(images[:, model.visible_mask], x[:, model.visible_mask])  # pasted back
    parts = co.elbo(model, x, y)
    assert parts.elbo.shape == (6,) and parts.kl_per_dim.shape == (6, 3)
    assert co.iw_bound(model, x, y, 5).shape == (6,)


def test_visible_parts():
    assert visible_mask((1, 28, 28), "centre-column").nonzero()[:, 2].unique().tolist() == [13]
    assert visible_mask((1, 28, 28), "top-half").sum() == 14 * 28
    assert visible_mask((3, 8, 8), "left-half")[:, :, :4].all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"conditional": "label"}, "num_classes"),
        ({"conditional": "prior", "num_classes": 1}, "num_classes"),
        ({"conditional": "label", "num_classes": 3, "arch": "conv"}, "mlp"),
        ({"conditional": "completion", "visible": "bottom"}, "visible"),
        ({"visible": "top-half"}, "completion"),
        ({"conditional": "other"}, "conditional"),
        ({"conditional": "completion", "hidden": (64, 32), "condition_hidden": (50, 40, 32)}, "condition_hidden"),
    ],
)
def test_bad_conditional_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**kwargs)


def test_old_configs_load_as_plain_vaes():
    old = {
        "image_shape": [1, 28, 28],
        "latent_dim": 2,
        "arch": "mlp",
        "hidden": [512],
        "conv_channels": [32, 64],
        "conv_dense": 16,
        "activation": "relu",
        "likelihood": "bernoulli",
        "gaussian_std": None,
        "num_classes": 0,
    }
    cfg = ModelConfig.from_dict(old)
    assert cfg.conditional == "none" and type(build(cfg)).__name__ == "VAE"
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_class_prior_kl_equals_a_monte_carlo_estimate():
    """KL(q(z|x) || N(mu_y, I)) in closed form (GUIDE section 5) = E_q[log q(z|x) - log N(z; mu_y, I)]."""
    model = _model("prior")
    with torch.no_grad():
        model.prior_means.copy_(torch.tensor([[1.5, -2.0, 0.5], [0.0, 0.0, 0.0], [-1, 2, 3], [0.3, 0.3, -0.3]]))
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        closed = co.elbo(model, x, y).kl  # (4,)
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn((200_000, *mu.shape), generator=torch.Generator().manual_seed(2))
        mc = (log_normal(z, mu, logvar) - log_normal(z, model.prior_mean(y))).mean(0)
    assert torch.allclose(closed, mc, atol=0.02), (closed, mc)
    assert closed[2] > closed[1]  # farther from the prior mean costs more


@pytest.mark.parametrize("kind", KINDS)
def test_store_round_trip(kind, blobs, tmp_path):
    model = _model(kind).eval()
    store.save(model, "m", tmp_path)
    again, info = store.load("m", tmp_path)
    assert type(again) is type(model) and again.config == model.config
    x, y = blobs[0][:5], torch.as_tensor(blobs[1][:5])
    a, b = (co.elbo(m, x, y, torch.Generator().manual_seed(3)).elbo for m in (model, again))
    assert torch.equal(a, b)


@pytest.fixture(scope="module")
def mnist():
    train, test = data.load_splits("mnist-5k")
    return (
        torch.from_numpy(train.images[:2000]),
        torch.from_numpy(train.labels[:2000]),
        torch.from_numpy(test.images[:300]),
        torch.from_numpy(test.labels[:300]),
    )


@pytest.fixture(scope="module")
def trained(mnist):
    """A label, a prior and a completion model, briefly trained on 2,000 mnist-5k digits (~10 s each)."""
    x, y, xv, yv = mnist
    out = {}
    for kind, settings in {
        "label": dict(conditional="label", num_classes=10),
        "prior": dict(conditional="prior", num_classes=10),
        "completion": dict(conditional="completion", binarize_condition=True),
    }.items():
        cfg = ModelConfig(hidden=(128,), latent_dim=2, **settings)
        untrained = validate(build(cfg, seed=0), xv, labels=yv)["elbo"]
        result = fit(cfg, TrainConfig(epochs=10, batch_size=50, lr=3e-3, seed=0), x, xv, train_labels=y, val_labels=yv)
        out[kind] = (result, untrained)
    return out


@pytest.mark.parametrize("kind", ["label", "prior", "completion"])
def test_short_training_improves_the_conditional_elbo(kind, trained):
    result, untrained = trained[kind]
    elbos = [h["val_elbo"] for h in result.history]
    assert elbos[-1] > elbos[0] > untrained + 50, (untrained, elbos)
    if kind == "completion":  # the regressor trains too
        assert result.history[-1]["val_regressor"] > result.history[0]["val_regressor"]


def test_style_table_decodes_every_class(trained, mnist):
    """One image's z under each of the 10 labels draws each of the 10 digits (judged by a logistic
    regression on the real digits' pixels, itself right on ~0.89 of real test digits)."""
    from sklearn.linear_model import LogisticRegression

    x, y, xv, yv = mnist
    clf = LogisticRegression(max_iter=200).fit(x.flatten(1).numpy(), y.numpy())
    model = trained["label"][0].model
    with torch.no_grad():
        mu, _ = model.encode(xv[:10], yv[:10])
        table = torch.stack([model.decode(m.expand(10, -1), torch.arange(10)) for m in mu])  # (10, 10, ...)
    predicted = torch.as_tensor(clf.predict(table.flatten(2).flatten(0, 1).numpy())).view(10, 10)
    hits = (predicted == torch.arange(10)).float()
    assert hits.mean() >= 0.55 and (hits.sum(0) > 0).all(), predicted  # every class drawn somewhere
    assert (table[:, 1:] - table[:, :1]).abs().mean() > 0.05  # the label changes the picture


def test_class_prior_pulls_codes_towards_their_class_mean(trained, mnist):
    """After training, test digits' codes lie nearest their own class's prior mean well above chance."""
    _, _, xv, yv = mnist
    model = trained["prior"][0].model
    with torch.no_grad():
        mu, _ = model.encode(xv)
    nearest = torch.cdist(mu, model.prior_means).argmin(1)
    assert (nearest == yv).float().mean() > 0.2  # chance: 0.1


def test_completions_follow_their_visible_column(trained, mnist):
    """The columns beside the given centre column correlate with it (and less with another digit's)."""
    _, _, xv, _ = mnist
    model = trained["completion"][0].model
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        v = model.visible_of(xv)  # (N, 28)
        own = model.decode(torch.randn(len(xv), 2, generator=gen), v)
        other = model.decode(torch.randn(len(xv), 2, generator=gen), v.roll(1, 0))
    beside = lambda img: img[:, 0, :, [12, 14]].mean(-1)  # noqa: E731  (N, 28) neighbour columns

    def corr(a, b):
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        return ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + 1e-8)).mean().item()

    assert corr(beside(own), v) > 0.6
    assert corr(beside(own), v) > corr(beside(other), v) + 0.3
    assert corr(beside(own), beside(xv)) > 0.5  # and they look like the real neighbours


def test_evaluate_reports_conditional_bounds(trained, mnist):
    _, _, xv, yv = mnist
    for kind in ("label", "prior", "completion"):
        m = co.evaluate(trained[kind][0].model, xv[:100], yv[:100], iw_samples=20)
        assert m["conditional"] == kind and m["iw_log_likelihood"] >= m["elbo"] - 0.5
        assert len(m["kl_per_dim"]) == 2 and math.isfinite(m["elbo"])
    assert m["regressor_log_likelihood"] < 0
    with pytest.raises(ValueError, match="labels"):
        co.evaluate(trained["label"][0].model, xv[:10], None, iw_samples=2)


def test_labelled_kinds_refuse_unlabelled_training(blobs):
    with pytest.raises(ValueError, match="labelled"):
        fit(ModelConfig(image_shape=(1, 8, 8), hidden=(8,), **KINDS["label"]), TrainConfig(epochs=1), blobs[0])


def test_rmsprop_trains_and_resumes_exactly(blobs):
    """RMSprop (the tflearn and Su recipes) keeps its state across a resume: 2 + 1 epochs = 3."""
    x, y = blobs[0], torch.as_tensor(blobs[1])
    cfg = ModelConfig(image_shape=(1, 8, 8), hidden=(8,), **KINDS["prior"])
    tc = TrainConfig(epochs=3, batch_size=32, optimizer="rmsprop")
    whole = fit(cfg, tc, x, train_labels=y)
    first = fit(cfg, TrainConfig(epochs=2, batch_size=32, optimizer="rmsprop"), x, train_labels=y)
    tensors, meta = first.state.to_tensors()
    from vae.training.resume import TrainingState

    rest = fit(
        cfg,
        TrainConfig(epochs=1, batch_size=32, optimizer="rmsprop"),
        x,
        train_labels=y,
        init_state=first.model.state_dict(),
        history=first.history,
        resume=TrainingState.from_tensors(tensors, meta),
    )
    assert np.isclose(rest.history[-1]["train_elbo"], whole.history[-1]["train_elbo"], atol=1e-4)


@pytest.mark.parametrize("kind", ["label", "completion"])
def test_a_background_job_trains_a_conditional_model_and_maps_it_live(kind, blobs, tmp_path):
    """jobs.start passes the labels to fit and the scoring; the live latent map encodes with the condition."""
    from vae.training import jobs

    x, y = blobs
    settings = {"label": dict(conditional="label", num_classes=4), "completion": dict(conditional="completion")}[kind]
    cfg = ModelConfig(image_shape=(1, 8, 8), hidden=(16,), **settings)
    job = jobs.start(
        "cond-job",
        cfg,
        TrainConfig(epochs=2, batch_size=32),
        x[:200],
        x[200:],
        x[200:],
        models_dir=str(tmp_path),
        iw_samples=3,
        preview_labels=y[200:],
        labels=(y[:200], y[200:], y[200:]),
    )
    assert job.wait(120) and job.state == "done", job.error
    assert job.preview_latents().shape == (56, 2)
    assert job.saved.metrics["conditional"] == kind
