"""vae.store.compact: the browser's weights as int8 (a scale per row) or float16 only where the
decoded images stay within one grey level (1/255) of the float32 decode on a grid of z."""

import numpy as np
import pytest
import torch

from vae.inference import latent
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import bundle, compact
from vae.store import catalog as store


def _torch_decode(model, z: np.ndarray) -> np.ndarray:
    return np.clip(latent.decode(model, z), 0, 1)


def _max_error(model, arrays: dict, spec: dict) -> float:
    """The largest pixel difference from torch's float32 decode over the check's grid, measured here
    with torch itself (not with compact.run)."""
    z, _ = compact.grid(model.latent_dim)
    got = np.clip(compact.run(spec, compact.decoded(arrays), z), 0, 1)
    return float(np.abs(got - _torch_decode(model, z).reshape(got.shape)).max())


def test_the_bundled_default_travels_as_float16_within_one_grey_level():
    """Trained weights: int8 rows are off by several grey levels, so float16 is chosen (half the bytes)."""
    model, _ = store.load(store.DEFAULT_MODEL)
    spec, arrays = bundle.decoder_layers(model)
    out, report = compact.encode(spec, arrays, model.latent_dim)
    assert report["encoding"] == "float16"
    assert all(out[layer["w"]].dtype == np.float16 for layer in spec["layers"] if "w" in layer)
    assert all(out[layer["b"]].dtype == np.float32 for layer in spec["layers"] if "b" in layer)
    assert report["bytes"] < 0.51 * report["float32_bytes"]
    assert report["max_error"] <= compact.TOLERANCE
    assert _max_error(model, out, spec) <= compact.TOLERANCE + 1e-6
    int8 = compact._encoded(arrays, compact._matrices(spec), "int8")
    assert _max_error(model, int8, spec) > compact.TOLERANCE  # why it was not chosen


def test_an_untrained_mlp_travels_as_int8_with_a_scale_per_row():
    model = build(ModelConfig(hidden=(512, 512), activation="tanh"), seed=0).eval()
    spec, arrays = bundle.decoder_layers(model)
    out, report = compact.encode(spec, arrays, 2)
    assert report["encoding"] == "int8"
    first = spec["layers"][0]["w"]
    assert out[first].dtype == np.int8 and out[f"{first}.scale"].shape == (arrays[first].shape[0],)
    assert report["bytes"] < 0.3 * report["float32_bytes"]
    assert _max_error(model, out, spec) <= compact.TOLERANCE + 1e-6


def test_int8_rows_round_to_within_half_a_step():
    w = np.random.default_rng(0).normal(size=(7, 3, 2, 2)).astype(np.float32)
    w[3] = 0  # an all-zero row keeps a usable scale
    q, scale = compact.int8_rows(w)
    assert q.dtype == np.int8 and np.abs(q).max() <= 127 and np.isfinite(scale).all()
    back = compact.decoded({"w": q, "w.scale": scale})["w"]
    step = scale.reshape(-1, 1, 1, 1)
    assert (np.abs(back - w) <= step / 2 + 1e-7).all()
    assert not np.any(back[3])


def test_weights_float16_cannot_hold_stay_float32():
    """A weight past float16's range (65,504) would decode to inf/NaN: both small encodings fail the
    check and the arrays go as they are."""
    model = build(ModelConfig(latent_dim=2, hidden=(16,), activation="tanh"), seed=0).eval()
    with torch.no_grad():
        model.decoder.body[0].weight[0, 0] = 1e5  # saturates one tanh unit; int8 then zeroes the rest of the row
    spec, arrays = bundle.decoder_layers(model)
    out, report = compact.encode(spec, arrays, 2)
    assert report["encoding"] == "float32" and all(a.dtype == np.float32 for a in out.values())
    assert _max_error(model, out, spec) < 1e-5


@pytest.mark.parametrize("d, n", [(1, 41), (2, 121), (6, 121)])
def test_the_grid_covers_the_pads_range(d, n):
    z, extra = compact.grid(d)
    assert z.shape == (n, d) and extra is None
    assert z.min() >= -compact.LIMIT and z.max() <= compact.LIMIT
    if d <= 2:
        assert z.min() == -compact.LIMIT and z.max() == compact.LIMIT


def test_a_label_cvae_is_checked_with_every_class():
    model = build(ModelConfig(latent_dim=2, hidden=(16, 8), conditional="label", num_classes=4), seed=0).eval()
    spec, arrays = bundle.decoder_layers(model)
    z, extra = compact.grid(2, 4)
    assert extra.shape == (121, 4) and set(extra.argmax(1)) == {0, 1, 2, 3}
    out, report = compact.encode(spec, arrays, 2)
    assert report["max_error"] <= compact.TOLERANCE
    got = compact.run(spec, compact.decoded(out), z, extra)
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z).float(), torch.from_numpy(extra.argmax(1))).numpy()
    assert np.abs(np.clip(got, 0, 1) - np.clip(expected.reshape(got.shape), 0, 1)).max() <= compact.TOLERANCE + 1e-6
