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
        ({"latent_dim": 65}, "latent_dim"),
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
