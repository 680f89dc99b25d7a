"""AppTest of a conditional model in the app: the conditional Playground (class or visible part, z),
the style table, Doersch's completions, and the pages that send such a model elsewhere."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from vae.data import datasets as data
from vae.inference import conditioning
from vae.models.config import ModelConfig, TrainConfig
from vae.plots import compare as plots_compare
from vae.store import bundle
from vae.store import catalog as store
from vae.training.loop import fit

APP = str(Path(__file__).resolve().parents[2] / "app.py")
MNIST = {"name": "mnist-5k", "shape": [1, 28, 28]}
CONFIGS = {
    "label-tiny": ModelConfig(latent_dim=2, hidden=(32,), conditional="label", num_classes=10),
    "prior-tiny": ModelConfig(latent_dim=2, hidden=(32,), conditional="prior", num_classes=10),
    "completion-tiny": ModelConfig(latent_dim=3, hidden=(32, 16), conditional="completion"),
}


@pytest.fixture(scope="module")
def fitted():
    """One model of each conditional kind, one epoch on 512 mnist-5k digits."""
    train = data.load_dataset("mnist-5k", "train")
    x, y = torch.from_numpy(train.images[:512]), torch.from_numpy(train.labels[:512]).long()
    return {
        name: fit(cfg, TrainConfig(epochs=1, batch_size=128), x, train_labels=y).model for name, cfg in CONFIGS.items()
    }


@pytest.fixture
def saved(fitted):
    for name, model in fitted.items():
        store.save(model, name, dataset=MNIST)
    return fitted


def _open(page: str, model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = model
    at.run()
    at.switch_page(page).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _images(at: AppTest) -> list[str]:
    return [u for im in at.get("image") for u in im.value]


def _chart(at: AppTest, key_part: str) -> dict:
    for chart in at.get("plotly_chart"):
        if key_part in chart.proto.id:
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no chart {key_part}")


def _png_size(spec: dict) -> tuple[int, int]:
    uri = spec["data"][0]["source"]
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size


def test_label_playground_class_and_z_move_the_image(saved):
    at = _open("pages/playground.py", "label-tiny")
    assert "label-conditional" in at.info[0].value
    assert len(at.slider) == 2  # z only: the class is a choice, not a slider
    classes = at.radio(key="pg_class_label-tiny")
    assert classes.options == [str(i) for i in range(10)]
    before = _images(at)
    classes.set_value(3).run()
    _ok(at)
    assert _images(at) != before and "y = 3" in at.image[0].captions[0]
    star = [t for t in _chart(at, "pg_map")["data"] if t["name"] == "z"][0]  # a 2-D model: z on its map
    assert (star["x"][0], star["y"][0]) == (0.0, 0.0)
    moved = _images(at)
    at.slider[0].set_value(1.5).run()
    assert _images(at) != moved


def test_style_table_is_one_style_under_every_class(saved):
    at = _open("pages/playground.py", "label-tiny")
    spec = _chart(at, "pg_style_table")
    assert spec["layout"]["xaxis"]["ticktext"] == ["input", *[str(i) for i in range(10)]]
    test = data.load_dataset("mnist-5k", "test")
    model, _ = store.load("label-tiny")
    table = conditioning.style_table(model, test.images[0], int(test.labels[0]))
    want = plots_compare.labelled_strips({"x": np.concatenate([test.images[:1], table])})
    assert spec["data"][0]["source"] == want.data[0].source  # exactly test #0's style, decoded as 0..9
    assert _png_size(_chart(at, "pg_style_samples")) == (8 * 28, 10 * 28)
    at.number_input(key="pg_style_mnist-5k").set_value(7).run()
    _ok(at)
    assert _chart(at, "pg_style_table")["data"][0]["source"] != spec["data"][0]["source"]


def test_class_prior_playground_moves_around_the_class_mean(saved):
    at = _open("pages/playground.py", "prior-tiny")
    assert "class-prior" in at.info[0].value and at.slider[0].label.startswith("ε")
    at.radio(key="pg_class_prior-tiny").set_value(5).run()
    _ok(at)
    assert "μ_y + ε" in at.image[0].captions[0] and "y = 5" in at.image[0].captions[0]
    traces = {t["name"]: t for t in _chart(at, "pg_map")["data"]}
    model, _ = store.load("prior-tiny")
    mu5 = model.prior_means.detach().numpy()[5]
    assert np.allclose([traces["z"]["x"][0], traces["z"]["y"][0]], mu5, atol=1e-5)  # z = mu_5 + 0
    assert len(traces["prior means μ_y"]["text"]) == 10
    assert _chart(at, "pg_style_table")["layout"]["xaxis"]["ticktext"][1:] == [str(i) for i in range(10)]


def test_completion_playground_shows_fifteen_completions_truth_and_regressor(saved):
    at = _open("pages/playground.py", "completion-tiny")
    assert "completion CVAE" in at.info[0].value and len(at.slider) == 3
    assert "given" in at.image[0].captions[0]
    spec = _chart(at, "pg_completions")
    assert spec["layout"]["xaxis"]["ticktext"] == ["given", *[str(i) for i in range(1, 16)], "truth", "regressor"]
    assert _png_size(spec) == (18 * 28, 4 * 28)  # four test images, 18 columns each
    assert spec["layout"]["yaxis"]["ticktext"][0] == "#0"
    before = _images(at)
    at.number_input(key="pg_item_mnist-5k").set_value(9).run()
    _ok(at)
    assert _images(at) != before and _chart(at, "pg_completions")["layout"]["yaxis"]["ticktext"][0] == "#9"


@pytest.mark.parametrize("page", ["app.py", "pages/manifold.py", "pages/latent_map.py"])
def test_pages_for_z_alone_send_a_conditional_model_to_the_playground(saved, page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "label-tiny"
    at.run()
    if page != "app.py":
        at.switch_page(page).run()
    _ok(at)
    assert "label-conditional VAE" in at.info[0].value and "Playground" in at.info[0].value


def _pad(at: AppTest) -> tuple[dict, dict, int]:
    (pad,) = [e for e in at.get("bidi_component") if e.proto.component_name == "vae_explorer.latent_pad"]
    arrays, meta = bundle.unpack(pad.proto.bytes)
    return arrays, meta, len(pad.proto.bytes)


def _browser_holds(at: AppTest, model: str, meta: dict) -> None:
    """What latent_pad.js reports after reading the data: it holds every part."""
    at.session_state[f"pg_pad_{model}"] = {
        "live": {"ok": True, "have": list(meta["parts"].values()), "error": None},
        "z": None,
    }
    at.run()
    _ok(at)


def test_label_playground_sends_the_weights_once_and_a_class_change_only_a_new_one_hot(saved):
    at = _open("pages/playground.py", "label-tiny")
    arrays, meta, _ = _pad(at)
    assert meta["include"]["dec"]["spec"]["input"] == 2 + 10 and meta["extra"] == [1.0] + [0.0] * 9
    assert arrays["dec/body.0.w"].shape == (32, 12)  # [W | L]: z's and the one-hot's weights side by side
    _browser_holds(at, "label-tiny", meta)
    assert not [i for i in at.info if "Live decoding is not running" in i.value]
    assert "pg_map" not in str([c.proto.id for c in at.get("plotly_chart")])  # the pad is the map
    seq = _pad(at)[1]["seq"]
    at.radio(key="pg_class_label-tiny").set_value(3).run()
    _ok(at)
    arrays, meta, size = _pad(at)
    assert not arrays and "include" not in meta and size < 2_000  # no weights again
    assert meta["extra"] == [0.0] * 3 + [1.0] + [0.0] * 6 and meta["seq"] == seq and meta["z"] == [0.0, 0.0]
    assert "y = 3" in at.image[0].captions[0]  # the server's picture follows too


def test_class_prior_pad_starts_at_the_class_mean_and_marks_every_mean(saved):
    at = _open("pages/playground.py", "prior-tiny")
    arrays, meta, _ = _pad(at)
    means = store.load("prior-tiny")[0].prior_means.detach().numpy()
    assert meta["extra"] is None and np.allclose(arrays["pts/marks"], means)
    assert np.allclose(meta["z"], means[0], atol=1e-6)
    _browser_holds(at, "prior-tiny", meta)
    at.radio(key="pg_class_prior-tiny").set_value(5).run()
    arrays, meta2, _ = _pad(at)
    assert not arrays and meta2["seq"] > meta["seq"] and np.allclose(meta2["z"], means[5], atol=1e-6)


def test_completion_playground_says_once_it_decodes_on_the_server(saved):
    at = _open("pages/playground.py", "completion-tiny")
    assert not [e for e in at.get("bidi_component") if e.proto.component_name == "vae_explorer.latent_pad"]
    assert sum("decodes on the server" in c.value for c in at.caption) == 1
