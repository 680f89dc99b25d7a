import pytest
import torch

from vae.models.config import ConfigError, ModelConfig, TrainConfig


def test_round_trip_through_dict():
    cfg = ModelConfig(image_shape=(1, 8, 8), latent_dim=5, arch="conv", likelihood="gaussian", gaussian_std=0.1)
    again = ModelConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert isinstance(again.image_shape, tuple)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 513}, "latent_dim"),
        ({"arch": "transformer"}, "arch"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"image_shape": (2, 28, 28)}, "image_shape"),
        ({"hidden": ()}, "hidden"),
        ({"gaussian_std": 0.0}, "gaussian_std"),
        ({"num_classes": 10}, "conditional"),
    ],
)
def test_bad_model_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**kwargs)


def test_unknown_keys_are_refused():
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({"latent_dim": 2, "bogus": 1})


@pytest.mark.parametrize(
    "kwargs", [{"epochs": 0}, {"batch_size": 0}, {"lr": 0}, {"beta": -1}, {"iw_samples": 0}, {"patience": 0}]
)
def test_bad_train_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_describe_names_the_architecture():
    assert ModelConfig().describe() == "mlp 784-512-2 bernoulli"
    assert ModelConfig(arch="conv").describe().startswith("conv conv32-64-2")


def test_a_layer_list_model_round_trips_and_checks_its_sizes():
    import json

    from vae.models.registry import build

    cfg = ModelConfig(
        arch="layers",
        latent_dim=3,
        encoder_layers=[["linear", 784, 10], ["act", "tanh"], ["linear", 10, 6]],
        decoder_layers=[["linear", 3, 10], ["act", "relu"], ["linear", 10, 784]],
    )
    back = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and hash(back) == hash(cfg)
    assert build(back).decode(torch.zeros(2, 3)).shape == (2, 1, 28, 28)
    bad = {
        "encoder must end in 6": dict(encoder_layers=[["linear", 784, 5]]),
        "takes 11 inputs": dict(decoder_layers=[["linear", 3, 10], ["linear", 11, 784]]),
        "unknown activation": dict(decoder_layers=[["linear", 3, 784], ["act", "swish"]]),
        "decoder must end": dict(decoder_layers=[["linear", 3, 700]]),
        "is not one of": dict(decoder_layers=[["dropout", 3]]),
    }
    for message, change in bad.items():
        with pytest.raises(ConfigError, match=message):
            ModelConfig(**{**cfg.to_dict(), **change})
    with pytest.raises(ConfigError, match="Gaussian"):
        ModelConfig(**{**cfg.to_dict(), "output": "identity"})
    with pytest.raises(ConfigError, match="arch 'layers'"):
        ModelConfig(encoder_layers=cfg.encoder_layers)


def test_the_vocabulary_of_imported_models():
    """Activations with their parameters (defaults left out, so old configs stay equal), a BatchNorm
    kept as a per-channel affine, upsampling, a Tanh output over data in [-1, 1], a 128-D latent."""
    from vae.models import layers
    from vae.models.registry import build

    assert layers.normalize([["act", "leaky_relu", 0.01]]) == (("act", "leaky_relu"),)
    assert layers.normalize([["act", "leaky_relu", 0.2]]) == (("act", "leaky_relu", 0.2),)
    assert layers.normalize([["act", "hardtanh", -2]]) == (("act", "hardtanh", -2.0, 1.0),)
    for bad, message in [
        (["act", "leaky_relu", "0.2"], "finite number"),
        (["act", "relu", 1.0], "takes 0"),
        (["act", "softplus", 0.0], "beta > 0"),
        (["act", "elu", float("nan")], "finite"),
        (["upsample", 2, "bicubic"], "upsample takes"),
        (["upsample", 0, "nearest"], "upsample takes"),
    ]:
        with pytest.raises(ValueError, match=message):
            layers.normalize([bad])
    dec = [["linear", 128, 32], ["act", "leaky_relu", 0.2], ["unflatten", 2, 4, 4], ["affine", 2]]
    dec += [["upsample", 2, "bilinear"], ["conv", 2, 3, 3, 1, 1], ["upsample", 2, "nearest"], ["act", "mish"]]
    enc = [["flatten"], ["linear", 3 * 16 * 16, 256], ["act", "silu"], ["linear", 256, 256]]
    cfg = ModelConfig(arch="layers", image_shape=(3, 16, 16), latent_dim=128, likelihood="gaussian",
                      encoder_layers=enc, decoder_layers=dec, output="tanh", signed=True)  # fmt: skip
    model = build(cfg).eval()
    x = model.decode(torch.randn(5, 128) * 3)
    assert x.shape == (5, 3, 16, 16) and 0 <= x.min() and x.max() <= 1 and x.std() > 0.01  # (tanh + 1) / 2
    with torch.no_grad():
        raw = model.decoder(torch.zeros(1, 128))
        assert torch.allclose(model.decode(torch.zeros(1, 128)), (torch.tanh(raw) + 1) / 2)
        seen = []
        model.encoder.register_forward_hook(lambda m, i, o: seen.append(i[0]))
        model.encode(torch.full((1, 3, 16, 16), 0.25))
        assert torch.allclose(seen[0], torch.full((1, 3, 16, 16), -0.5))  # the networks see x * 2 - 1
    with pytest.raises(ConfigError, match="affine.* scales 3 channels"):
        ModelConfig(**{**cfg.to_dict(), "decoder_layers": dec[:3] + [["affine", 3]] + dec[4:]})
    with pytest.raises(ConfigError, match="signed"):
        ModelConfig(**{**cfg.to_dict(), "output": "sigmoid", "likelihood": "bernoulli"})
    with pytest.raises(ConfigError, match="Gaussian one"):
        ModelConfig(**{**cfg.to_dict(), "likelihood": "bernoulli", "signed": False})
