"""vae.inference.comparison and vae.plots.compare: what the Compare page computes and draws, without Streamlit."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae.inference import comparison
from vae.models import conditional_objectives, kinds, objectives
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.plots import compare as plots_compare
from vae.store import catalog as store

MNIST = {"name": "mnist-5k", "shape": [1, 28, 28]}


def _saved(name, latent_dim=2, shape=(1, 28, 28), dataset=MNIST, metrics=None, history=None, binarize=False):
    model = build(ModelConfig(image_shape=shape, latent_dim=latent_dim, hidden=(16,)), seed=0)
    return model, store.save(
        model, name, dataset=dataset, metrics=metrics, history=history, train_config={"binarize": binarize}
    )


def test_incompatibility_names_each_model_and_shape():
    _, a = _saved("a")
    _, b = _saved("b", latent_dim=4)
    _, c = _saved("c", shape=(1, 8, 8), dataset={"name": "digits", "shape": [1, 8, 8]})
    assert comparison.incompatibility([a, b]) is None
    message = comparison.incompatibility([a, b, c])
    assert "'a', 'b' take 28x28 greyscale images" in message and "'c' takes 8x8 greyscale" in message
    assert comparison.shape_groups([a, b, c]) == {(1, 28, 28): ["a", "b"], (1, 8, 8): ["c"]}


def test_stored_scores_only_when_measured_on_the_compared_test_split(monkeypatch):
    full = {
        "elbo": -100.0,
        "iw_log_likelihood": -95.0,
        "reconstruction": -90.0,
        "kl": 10.0,
        "active_units": 2,
        "split": "test",
        "iw_samples": 50,
    }
    _, a = _saved("a", metrics=full)
    _, b = _saved("b", metrics={"elbo": -100.0})  # incomplete: must be measured
    _, c = _saved("c", metrics=full, dataset={"name": "fashion-mnist", "shape": [1, 28, 28]})
    assert comparison.stored_scores(a, "mnist-5k") == a.metrics
    assert comparison.stored_scores(b, "mnist-5k") is None
    assert comparison.stored_scores(c, "mnist-5k") is None and comparison.stored_scores(c, "fashion-mnist")

    def fetched(yes: bool):  # whether fashion-mnist is in the data cache decides if c's split is offered
        return lambda name: yes if name == "fashion-mnist" else name == "mnist-5k"

    monkeypatch.setattr(comparison.data, "is_available", fetched(False))
    assert [label.split(" ")[0] for label in comparison.test_sources([a, c])] == ["mnist-5k"]
    monkeypatch.setattr(comparison.data, "is_available", fetched(True))
    assert [label.split(" ")[0] for label in comparison.test_sources([a, c])][:2] == ["mnist-5k", "fashion-mnist"]


@pytest.mark.parametrize("binarize", [False, True])
def test_evaluate_scores_matches_training_scores(binarize):
    model, _ = _saved("a")
    x = torch.rand(64, 1, 28, 28)
    got = comparison.evaluate_scores(model, x.numpy(), binarize, iw_samples=5)
    scored = objectives.binarized_test(x) if binarize else x
    want = objectives.evaluate(model, scored, iw_samples=5)
    assert got["elbo"] == pytest.approx(want["elbo"]) and got["binarized"] is binarize
    row = comparison.score_row("a", model.config, got, "measured here")
    assert row["Active units"].endswith("/2") and row["IW samples"] == 5 and row["Test ELBO"] < 0


def test_mixed_binarization_and_mixed_bounds_are_flagged():
    rows = [{"binarized": False}, {"binarized": True}]
    assert comparison.mixed_binarization(rows) and not comparison.mixed_binarization(rows[:1])
    configs = [
        ModelConfig(),
        ModelConfig(conditional="label", num_classes=10),
        ModelConfig(conditional="prior", num_classes=10),
        ModelConfig(conditional="completion"),
    ]
    bounds = [comparison.bound_on(c) for c in configs]
    assert bounds == ["log p(x)", "log p(x|y)", "log p(x|y)", "log p(rest | centre-column)"]
    assert comparison.mixed_bounds([{"bound on": b} for b in bounds[:2]])
    assert not comparison.mixed_bounds([{"bound on": b} for b in bounds[1:3]])
    assert comparison.manifold_note(2, kinds.LABEL, 3).endswith("class y = 3")
    assert comparison.manifold_note(8, kinds.PLAIN, None) == "the PCA plane of the test split's μ"


def test_conditional_models_are_scored_with_their_condition():
    cfg = ModelConfig(image_shape=(1, 28, 28), latent_dim=2, hidden=(16,), conditional="label", num_classes=10)
    model = build(cfg, seed=0).eval()
    x, y = torch.rand(40, 1, 28, 28), np.arange(40) % 10
    got = comparison.evaluate_scores(model, x.numpy(), False, y, iw_samples=3)
    want = conditional_objectives.evaluate(model, x, torch.as_tensor(y), iw_samples=3)
    assert got["elbo"] == pytest.approx(want["elbo"]) and got["conditional"] == "label"
    recon = comparison.reconstruct(model, x[:4].numpy(), y[:4])
    with torch.inference_mode():
        mu = model.encode(x[:4], torch.as_tensor(y[:4]))[0]
        np.testing.assert_allclose(recon, model.decode(mu, torch.as_tensor(y[:4])).numpy(), atol=1e-6)


@pytest.mark.parametrize("d, names", [(1, ("z1", "")), (2, ("z1", "z2")), (6, ("PC1", "PC2"))])
def test_map_coords_are_2d_for_every_latent_size(d, names):
    mu = np.random.default_rng(0).standard_normal((50, d)).astype(np.float32)
    coords, axis_names, note = comparison.map_coords(mu)
    assert coords.shape == (50, 2) and axis_names == names and note
    if d <= 2:
        np.testing.assert_array_equal(coords[:, :d], mu)


def test_same_images_for_every_model_and_reconstructions_have_their_shape():
    ids = comparison.sample_ids(1000, 10, seed=3)
    assert np.array_equal(ids, comparison.sample_ids(1000, 10, seed=3)) and len(set(ids)) == 10
    assert np.all(np.diff(ids) > 0) and len(comparison.sample_ids(5, 10)) == 5
    model, _ = _saved("a")
    recon = comparison.reconstruct(model, np.random.default_rng(0).random((3, 1, 28, 28), np.float32))
    assert recon.shape == (3, 1, 28, 28) and recon.min() >= 0 and recon.max() <= 1


def test_score_bars_one_panel_per_score_one_mark_per_model():
    rows = [
        {"model": "a", "Test ELBO": -150.0, "log p(x) ≥ (IW)": -145.0, "KL": 5.0, "Active units": "2/2"},
        {"model": "b", "Test ELBO": -120.0, "log p(x) ≥ (IW)": -118.0, "KL": 9.0, "Active units": "7/8"},
    ]
    fig = plots_compare.score_bars(rows)
    assert len(fig.data) == 4 and all(list(t.x) == ["a", "b"] for t in fig.data)
    assert list(fig.data[3].y) == [2.0, 7.0]
    lo, hi = fig.layout.yaxis.range  # fitted to the values, so 30 nats are not a sliver
    assert -160 < lo < -150 and -120 < hi < -100
    assert fig.data[0].marker.color[0] != fig.data[0].marker.color[1]


def test_training_curves_share_axes_and_skip_the_first_epoch_in_the_range():
    def hist(start):
        h = [
            {"epoch": e, "train_elbo": start + 10 * e, "val_elbo": start + 10 * e + 1, "train_kl": 3.0, "val_kl": 3.0}
            for e in range(1, 6)
        ]
        h[0]["train_elbo"] = -1000.0  # an untrained first epoch
        return h

    fig = plots_compare.training_curves({"a": hist(-400), "b": hist(-300)})
    assert {t.line.color for t in fig.data if t.name.startswith("a")} == {plots_compare.model_color(0)}
    assert {t.line.dash for t in fig.data} == {"solid", "dot"}
    lo, hi = fig.layout.yaxis.range
    assert -400 < lo < -380 and hi > -249  # epoch 1 (-1000) is left out, every later value is in
    assert "no training history stored" in [a.text for a in plots_compare.training_curves({"a": []}).layout.annotations]


def test_reconstructions_figure_tiles_originals_and_each_model_in_rows():
    x = np.zeros((5, 1, 8, 8), np.float32)
    fig = plots_compare.reconstructions(x, {"a": x + 0.5, "b": x + 1.0}, ids=np.arange(5))
    uri = fig.data[0].source
    size = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size
    assert size == (5 * 8, 3 * 8)
    assert list(fig.layout.yaxis.ticktext) == ["test images", "a", "b"]
    assert list(fig.layout.xaxis.ticktext)[0] == "#0"


def test_prior_means_are_drawn_in_their_class_colours():
    from vae.plots import explore as plots

    fig = plots_compare.add_prior_means(
        plots.latent_map(np.zeros((3, 2)), labels=np.arange(3)), np.array([[0, 1], [2, 3], [4, 5]]), ["a", "b", "c"]
    )
    means = fig.data[-1]
    assert list(means.text) == ["a", "b", "c"] and list(means.x) == [0, 2, 4]
    assert list(means.marker.color) == [plots.label_color(i) for i in range(3)]


def test_caveats_before_reading_scores_against_each_other():
    plain = {"bound on": "log p(x)", "binarized": True}
    assert comparison.caveats([plain, dict(plain)]) == []
    said = comparison.caveats([plain, {"bound on": "log p(x|y)", "binarized": False}])
    assert len(said) == 2 and "bound different things" in said[0] and "binarized" in said[1]
