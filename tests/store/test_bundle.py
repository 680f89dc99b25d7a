"""vae.store.bundle: the decoder as plain layers for the browser, and the bytes they travel in."""

import numpy as np
import pytest
import torch
from torch import nn

from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import bundle, compact


def test_pack_round_trips_arrays_and_meta():
    arrays = {"a/w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2, 250], np.uint8)}
    blob = bundle.pack(arrays, {"z": [0.5, -1.0], "name": "x"})
    back, meta = bundle.unpack(blob)
    assert meta == {"z": [0.5, -1.0], "name": "x"}
    assert set(back) == set(arrays) and all(np.array_equal(back[k], arrays[k]) for k in arrays)
    assert bundle.unpack(bundle.pack({}, {"seq": 3}))[1] == {"seq": 3}  # meta alone: a few dozen bytes


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(latent_dim=2, hidden=(16, 8), activation="tanh"),
        ModelConfig(latent_dim=3, arch="conv", conv_channels=(4, 8), activation="gelu"),
        ModelConfig(
            latent_dim=2,
            arch="layers",
            encoder_layers=(("linear", 784, 8), ("linear", 8, 4)),
            decoder_layers=(
                ("linear", 2, 8),
                ("act", "softplus"),
                ("linear", 8, 16),
                ("act", "leaky_relu"),
                ("linear", 16, 784),
            ),
        ),
        ModelConfig(
            latent_dim=2,
            arch="layers",
            likelihood="gaussian",
            output="identity",
            encoder_layers=(("linear", 784, 4),),
            decoder_layers=(
                ("linear", 2, 98),
                ("act", "elu"),
                ("unflatten", 2, 7, 7),
                ("conv_transpose", 2, 3, 4, 2, 1, 0),
                ("act", "tanh"),
                ("conv_transpose", 3, 1, 3, 2, 1, 1),
            ),
        ),
    ],
    ids=["mlp", "conv", "imported-mlp", "imported-conv-identity"],
)
def test_decoder_layers_replayed_in_numpy_match_torch(cfg):
    """compact.run, a replay of the layer list with torch's functions one op at a time (Linear,
    activations, view, crop, sigmoid), equals model.decode: the list describes the decoder
    completely (the JS runs the same list)."""
    model = build(cfg, seed=0).eval()
    spec, arrays = bundle.decoder_layers(model)
    assert spec["input"] == cfg.latent_dim and spec["output"] == list(cfg.image_shape)
    z = torch.randn(3, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model.decode(z)
    np.testing.assert_allclose(
        compact.run(spec, arrays, z.numpy()).reshape(expected.shape), expected.numpy(), atol=1e-5, rtol=0
    )


def test_a_label_cvae_is_one_linear_over_z_and_the_one_hot():
    """The bundle of a label CVAE, fed [z, one_hot(y)], equals model.decode(z, y) for every class."""
    model = build(ModelConfig(latent_dim=2, hidden=(16, 8), conditional="label", num_classes=4), seed=0).eval()
    spec, arrays = bundle.decoder_layers(model)
    assert spec["input"] == 2 + 4
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(1))
    y = torch.arange(4)
    with torch.no_grad():
        expected = model.decode(z, y)
    got = compact.run(spec, arrays, z.numpy(), nn.functional.one_hot(y, 4).numpy())
    np.testing.assert_allclose(got.reshape(expected.shape), expected.numpy(), atol=1e-5, rtol=0)


def test_a_completion_model_stays_on_the_server():
    with pytest.raises(bundle.BundleError, match="on the server"):
        bundle.decoder_layers(build(ModelConfig(latent_dim=2, hidden=(8,), conditional="completion"), seed=0))


def test_a_layer_the_browser_cannot_run_is_refused():
    model = build(ModelConfig(latent_dim=2, hidden=(8,)), seed=0)
    model.decoder.body[1] = nn.Hardswish()
    with pytest.raises(bundle.BundleError, match="Hardswish"):
        bundle.decoder_layers(model)


def test_an_imported_strided_conv_decoder_stays_on_the_server():
    cfg = ModelConfig(
        latent_dim=2,
        arch="layers",
        encoder_layers=(("linear", 784, 4),),
        decoder_layers=(("linear", 2, 3136), ("unflatten", 1, 56, 56), ("conv", 1, 1, 3, 2, 1)),
    )
    with pytest.raises(bundle.BundleError, match="strided convolution"):
        bundle.decoder_layers(build(cfg, seed=0))
