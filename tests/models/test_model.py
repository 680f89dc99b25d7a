import pytest
import torch

from vae.models.config import ModelConfig
from vae.models.model import VAE, count_parameters
from vae.models.registry import build


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 32, 32), (1, 30, 22)])
@pytest.mark.parametrize("latent_dim", [1, 2, 64])
def test_shapes(arch, shape, latent_dim):
    model = VAE(ModelConfig(image_shape=shape, latent_dim=latent_dim, arch=arch, hidden=(32,)))
    x = torch.rand(3, *shape)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, latent_dim)
    out = model.decode(mu)
    assert out.shape == (3, *shape)
    assert 0 <= out.min() and out.max() <= 1
    x_mean, mu2, _, z = model(x)
    assert x_mean.shape == x.shape and z.shape == mu2.shape


def test_default_is_the_seed_architecture():
    model = VAE(ModelConfig())
    # 784-512-(2x2) encoder, 2-512-784 decoder
    expected = (784 * 512 + 512) + (512 * 4 + 4) + (2 * 512 + 512) + (512 * 784 + 784)
    assert count_parameters(model) == expected


def test_reparameterize_has_the_right_moments():
    mu = torch.full((200_000, 1), 1.5)
    logvar = torch.full((200_000, 1), 2 * torch.log(torch.tensor(0.5)))
    z = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 1.5) < 0.01
    assert abs(z.std().item() - 0.5) < 0.01


def test_seeded_build_is_reproducible():
    a, b = build(ModelConfig(), seed=3), build(ModelConfig(), seed=3)
    c = build(ModelConfig(), seed=4)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not all(torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values()))


def test_learned_and_fixed_gaussian_std():
    learned = VAE(ModelConfig(likelihood="gaussian"))
    fixed = VAE(ModelConfig(likelihood="gaussian", gaussian_std=0.1))
    assert any(n == "log_std" for n, _ in learned.named_parameters())
    assert not any(n == "log_std" for n, _ in fixed.named_parameters())
    assert torch.isclose(fixed.log_std.exp(), torch.tensor(0.1))


def test_decoder_weights_export_alone():
    model = VAE(ModelConfig())
    keys = set(model.decoder.state_dict())
    assert keys and all(not k.startswith("encoder") for k in keys)
