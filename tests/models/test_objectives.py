import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from vae.models import objectives
from vae.models.config import ModelConfig
from vae.models.model import VAE


def test_kl_standard_normal_matches_monte_carlo():
    mu, logvar = torch.tensor([[0.7, -1.2]]), torch.tensor([[-0.5, 0.8]])
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((400_000,))
    mc = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).mean(0)
    closed = objectives.kl_standard_normal(mu, logvar)
    assert torch.allclose(closed, mc, atol=0.01)


def test_diagonal_kl_matches_torch_and_the_standard_case():
    mu1, lv1, mu2, lv2 = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    got = objectives.kl_diagonal_gaussians(mu1, lv1, mu2, lv2)
    ref = kl_divergence(Normal(mu1, (0.5 * lv1).exp()), Normal(mu2, (0.5 * lv2).exp()))
    assert torch.allclose(got, ref, atol=1e-6)
    zeros = torch.zeros(3)
    assert torch.allclose(
        objectives.kl_diagonal_gaussians(mu1, lv1, zeros, zeros), objectives.kl_standard_normal(mu1, lv1), atol=1e-6
    )


def test_full_covariance_kl_matches_torch():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(3, 3, generator=g), torch.randn(3, 3, generator=g)
    s1, s2 = a @ a.T + 0.5 * torch.eye(3), b @ b.T + 0.5 * torch.eye(3)
    mu1, mu2 = torch.randn(3, generator=g), torch.randn(3, generator=g)
    ref = kl_divergence(MultivariateNormal(mu1, s1), MultivariateNormal(mu2, s2))
    assert torch.allclose(objectives.kl_gaussians(mu1, s1, mu2, s2), ref, atol=1e-4)
    assert objectives.kl_gaussians(mu1, s1, mu1, s1).abs().item() < 1e-4


def test_bernoulli_likelihood_is_summed_not_averaged():
    model = VAE(ModelConfig(image_shape=(1, 8, 8), hidden=(16,)))
    x = torch.ones(2, 1, 8, 8)
    logits = torch.zeros(2, 1, 8, 8)  # p = 0.5 everywhere
    assert torch.allclose(objectives.log_likelihood(model, x, logits), torch.full((2,), 64 * math.log(0.5)))


def test_gaussian_likelihood_matches_torch():
    model = VAE(ModelConfig(image_shape=(1, 4, 4), hidden=(8,), likelihood="gaussian", gaussian_std=0.3))
    x, logits = torch.rand(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    ref = Normal(torch.sigmoid(logits), 0.3).log_prob(x).flatten(1).sum(-1)
    assert torch.allclose(objectives.log_likelihood(model, x, logits), ref, atol=1e-4)


class LinearGaussian(nn.Module):
    """Probabilistic PCA as a VAE: x = W z + b + s eps, with an exact log p(x). W has orthogonal
    columns, so the true posterior is diagonal; the encoder is that posterior, perturbed."""

    def __init__(self, d=6, k=2, s=0.5, shift=0.6, inflate=1.8):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(d, k, generator=torch.Generator().manual_seed(0)))
        self.W, self.b, self.s = q * torch.tensor([2.0, 1.2]), torch.linspace(-1, 1, d), s
        self.config = SimpleNamespace(likelihood="gaussian")
        self.log_std = torch.tensor(math.log(s))
        self.shift, self.inflate = shift, inflate

    reparameterize = staticmethod(VAE.reparameterize)

    def output_mean(self, logits):
        return logits

    def decode_logits(self, z):
        return z @ self.W.T + self.b

    def encode(self, x):
        m = self.W.T @ self.W + self.s**2 * torch.eye(self.W.shape[1])  # diagonal
        mu = (x - self.b) @ self.W @ torch.linalg.inv(m) + self.shift
        var = (self.s**2 / torch.diagonal(m)) * self.inflate
        return mu, var.log().expand_as(mu)

    def exact_log_px(self, x):
        cov = self.W @ self.W.T + self.s**2 * torch.eye(self.W.shape[0])
        return MultivariateNormal(self.b, cov).log_prob(x)


def test_bounds_on_probabilistic_pca_approach_the_exact_log_likelihood():
    model = LinearGaussian()
    x = model.decode_logits(torch.randn(64, 2, generator=torch.Generator().manual_seed(5)))
    exact = model.exact_log_px(x).mean().item()
    gen = torch.Generator().manual_seed(0)
    elbo = torch.stack([objectives.elbo(model, x, gen).elbo for _ in range(200)]).mean().item()
    iw = {k: objectives.iw_bound(model, x, k, gen).mean().item() for k in (1, 10, 100, 2000)}
    assert elbo < exact - 0.1  # the perturbed encoder leaves a real gap
    assert abs(iw[1] - elbo) < 0.15  # K=1 is the ELBO
    assert iw[1] < iw[10] < iw[100] < iw[2000] <= exact + 0.01
    assert exact - iw[2000] < 0.25 * (exact - elbo)


def test_exact_posterior_closes_the_gap():
    model = LinearGaussian(shift=0.0, inflate=1.0)
    x = model.decode_logits(torch.randn(32, 2, generator=torch.Generator().manual_seed(2)))
    gen = torch.Generator().manual_seed(0)
    iw = objectives.iw_bound(model, x, 1, gen)
    # with q = p(z|x) every importance weight equals p(x) exactly ...
    assert torch.allclose(iw, model.exact_log_px(x), atol=1e-3)
    # ... and the analytic-KL ELBO estimator is unbiased for it
    elbo = torch.stack([objectives.elbo(model, x, gen).elbo for _ in range(2000)]).mean(0)
    assert torch.allclose(elbo, model.exact_log_px(x), atol=0.1)


def test_iw_bound_is_above_the_elbo_for_a_vae():
    torch.manual_seed(0)
    model = VAE(ModelConfig(image_shape=(1, 8, 8), hidden=(32,))).eval()
    x = torch.rand(16, 1, 8, 8)
    gen = torch.Generator().manual_seed(0)
    elbo = torch.stack([objectives.elbo(model, x, gen).elbo for _ in range(100)]).mean()
    assert objectives.iw_bound(model, x, 100, gen).mean() > elbo


def test_iw_chunks_do_not_change_the_estimate():
    model = VAE(ModelConfig(image_shape=(1, 8, 8), hidden=(16,))).eval()
    x = torch.rand(4, 1, 8, 8)
    a = objectives.iw_bound(model, x, 30, torch.Generator().manual_seed(0), chunk=30)
    b = objectives.iw_bound(model, x, 30, torch.Generator().manual_seed(0), chunk=7)
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    assert abs(a.mean() - b.mean()) < 1.0  # same estimator, different draws


def test_active_units_counts_dimensions_with_varying_means():
    mu = torch.cat([torch.randn(500, 2), torch.full((500, 1), 0.3) + 0.001 * torch.randn(500, 1)], 1)
    assert objectives.active_units(mu).tolist() == [True, True, False]


def test_evaluate_reports_every_metric_in_nats():
    model = VAE(ModelConfig(image_shape=(1, 8, 8), hidden=(16,), latent_dim=3))
    out = objectives.evaluate(model, torch.rand(50, 1, 8, 8), iw_samples=10, batch_size=20)
    for key in ("elbo", "reconstruction", "kl", "iw_log_likelihood", "active_units", "kl_per_dim"):
        assert key in out
    assert out["elbo"] == pytest.approx(out["reconstruction"] - out["kl"], abs=1e-3)
    assert len(out["kl_per_dim"]) == 3 and out["n"] == 50
    assert out["iw_log_likelihood"] > out["elbo"] - 1.0


def test_the_discretized_logistic_against_a_hand_computed_case():
    """Bins of width 1/255 around x, the end bins open: P = sigmoid((x + 1/510 - m)/s) - sigmoid((x - 1/510 - m)/s)."""
    import math

    from vae.models.objectives import discretized_logistic

    def sig(v):
        return 1 / (1 + math.exp(-v))

    m, s = 0.4, 0.05
    for k in (0, 1, 100, 102, 254, 255):
        x = k / 255
        lo = 0.0 if k == 0 else sig((x - 0.5 / 255 - m) / s)
        hi = 1.0 if k == 255 else sig((x + 0.5 / 255 - m) / s)
        got = discretized_logistic(torch.tensor([x]), torch.tensor([m]), torch.tensor(math.log(s)))
        assert abs(float(got) - math.log(hi - lo)) < 1e-4 * max(1.0, abs(math.log(hi - lo))), k
    grid = torch.arange(256) / 255  # a pixel's probabilities over the 256 levels sum to one
    total = discretized_logistic(grid, torch.full((256,), 0.7), torch.tensor(math.log(0.02))).exp().sum()
    assert abs(float(total) - 1) < 1e-4
    far = discretized_logistic(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor(math.log(0.001)))
    assert torch.isfinite(far).all()  # a bin far in the tail: finite, not log(0)


def test_bits_per_dim_are_said_with_their_dequantization():
    import math

    from vae.models.objectives import bits_per_dim

    assert bits_per_dim(-3072 * math.log(2) * 4.5, "logistic", 3072)[0] == pytest.approx(4.5)
    value, note = bits_per_dim(0.0, "gaussian", 10)
    assert value == pytest.approx(8.0) and "dequantization" in note
    assert bits_per_dim(-100.0, "bernoulli", 784)[0] is None


def test_a_colour_conv_model_with_the_logistic_likelihood_reports_bits_per_dim():
    from vae.models.config import ModelConfig
    from vae.models.registry import build

    model = build(
        ModelConfig(image_shape=(3, 16, 16), arch="conv", conv_channels=(8, 16), latent_dim=4, likelihood="logistic"),
        seed=0,
    )
    x = torch.randint(0, 256, (6, 3, 16, 16)).float() / 255
    m = objectives.evaluate(model, x, iw_samples=4)
    assert m["iw_log_likelihood_bits_per_dim"] == pytest.approx(-m["iw_log_likelihood"] / (768 * math.log(2)))
    assert m["elbo_bits_per_dim"] > 0 and m["iw_log_likelihood_bits_per_dim"] > 0
    assert "no dequantization" in m["bits_per_dim_note"]
    assert hasattr(model, "log_std") and model.log_std.requires_grad
