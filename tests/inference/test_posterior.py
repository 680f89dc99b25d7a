"""The exact log p(x) by quadrature and the inference gaps: checked against closed forms (pPCA), a
hand-built bimodal decoder, and the bounds a trained 2-D model must respect."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from vae.inference import gaps, posterior
from vae.models import objectives
from vae.models.config import ModelConfig, TrainConfig
from vae.models.model import VAE
from vae.models.registry import build
from vae.training.loop import fit


class _Linear(nn.Module):
    def __init__(self, d, shape, weight, bias, square=False):
        super().__init__()
        self.shape, self.square = shape, square
        self.W, self.b = nn.Parameter(weight), nn.Parameter(bias)

    def forward(self, z):
        if self.square:  # z1 enters squared: z and (-z1, z2) decode to the same image
            z = torch.cat([z[:, :1] ** 2, z[:, 1:]], 1)
        return (z @ self.W.T + self.b).view(-1, *self.shape)


class LinearGaussianVAE(VAE):
    """Probabilistic PCA as a VAE: x = W z + b + s eps (a linear decoder, Gaussian likelihood with a
    fixed std, identity output), in float64. log p(x) = log N(x; b, W W^T + s^2 I)."""

    def __init__(self, d=2, pixels=16, s=0.5, scale=1.0, square=False, seed=0):
        cfg = ModelConfig(
            image_shape=(1, 4, pixels // 4), latent_dim=d, hidden=(8,), likelihood="gaussian", gaussian_std=s
        )
        super().__init__(cfg)
        gen = torch.Generator().manual_seed(seed)
        self.decoder = _Linear(
            d, cfg.image_shape, scale * torch.randn(pixels, d, generator=gen), torch.linspace(-1, 1, pixels), square
        )
        self.double()
        for p in self.parameters():
            p.requires_grad_(False)

    def output_mean(self, logits):
        return logits

    def exact_log_px(self, x):
        w, s = self.decoder.W, math.exp(float(self.log_std))
        cov = w @ w.T + s**2 * torch.eye(len(w), dtype=w.dtype)
        return MultivariateNormal(self.decoder.b, cov).log_prob(x.flatten(1))

    def sample(self, n, seed=1):
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=gen, dtype=torch.float64)
        return self.decode_logits(z) + math.exp(float(self.log_std)) * torch.randn(
            n, *self.config.image_shape, generator=gen, dtype=torch.float64
        )


@pytest.mark.parametrize("d", [1, 2])
def test_quadrature_matches_probabilistic_pca_in_closed_form(d):
    model = LinearGaussianVAE(d=d, scale=1.5)
    x = model.sample(6)
    result = posterior.log_marginal(model, x)
    exact = model.exact_log_px(x).numpy()
    assert all(r.converged for r in result)
    assert np.abs(np.array([r.log_px for r in result]) - exact).max() < 1e-3


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_coarse_grid_equals_the_log_joint_at_its_cell_centres(likelihood):
    model = build(ModelConfig(image_shape=(1, 6, 6), latent_dim=2, hidden=(16,), likelihood=likelihood), seed=0)
    grid = posterior.coarse_grid(model)
    x = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    cells = np.array([[0, 0], [17, 90], [119, 119], [60, 61]])
    flat = cells[:, 0] * grid.n + cells[:, 1]
    with torch.inference_mode():
        fast = grid.log_joint(x)[:, flat]
    for i in range(3):
        direct = posterior.log_joint(model, x[i], grid.centre(cells))
        assert torch.allclose(fast[i], direct, atol=2e-3)


def test_a_bimodal_posterior_is_integrated_over_both_modes():
    model = LinearGaussianVAE(d=2, s=0.3, scale=1.0, square=True, seed=3)
    x = model.decode_logits(torch.tensor([[1.3, -0.4]], dtype=torch.float64))  # also (-1.3, -0.4)
    result = posterior.log_marginal(model, x)[0]
    assert result.converged and result.regions == 2
    # the reference: a dense midpoint grid over the whole window, no adaptivity
    h = 0.01
    axis = np.arange(-4, 4, h) + h / 2
    values = torch.cat([posterior.log_joint(model, x, np.stack([np.full_like(axis, a), axis], 1)) for a in axis])
    reference = float(torch.logsumexp(values, 0)) + 2 * math.log(h)
    assert abs(result.log_px - reference) < 1e-3
    # both modes carry half of the mass: dropping one would lose log 2
    one_side = float(torch.logsumexp(values.view(len(axis), -1)[axis > 0].flatten(), 0)) + 2 * math.log(h)
    assert abs(reference - one_side - math.log(2)) < 1e-3


def test_a_latent_above_two_is_refused_with_a_clear_message():
    model = build(ModelConfig(image_shape=(1, 6, 6), latent_dim=3, hidden=(8,)), seed=0)
    with pytest.raises(ValueError, match="latent size of 1 or 2"):
        posterior.log_marginal(model, torch.rand(1, 1, 6, 6))


@pytest.fixture(scope="module")
def trained(blobs_module):
    """A tiny 2-D VAE trained on the blobs, and 12 of its images."""
    x, _ = blobs_module
    result = fit(
        ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(32,)), TrainConfig(epochs=25, batch_size=32, seed=0), x
    )
    model = result.model
    for p in model.parameters():
        p.requires_grad_(False)
    return model, x[::21][:12]


@pytest.fixture(scope="module")
def blobs_module():
    gen = np.random.default_rng(0)
    x = np.zeros((256, 1, 8, 8), np.float32)
    for i, c in enumerate(np.arange(256) % 4):
        r, col = divmod(int(c), 2)
        x[i, 0, r * 4 : r * 4 + 4, col * 4 : col * 4 + 4] = 0.8
    x += gen.uniform(0, 0.2, x.shape).astype(np.float32)
    return torch.from_numpy(x), None


def test_gaps_of_a_trained_model_respect_every_bound(trained):
    model, x = trained
    g = gaps.gaps(model, x)
    assert g.converged.all()
    assert (g.elbo_q <= g.elbo_qstar + 1e-9).all()  # q* is at least as good as the encoder
    assert (g.elbo_qstar <= g.log_px).all()  # no Gaussian beats the true posterior
    assert (g.approximation_gap >= 0).all() and (g.amortization_gap >= 0).all()
    assert np.allclose(g.approximation_gap + g.amortization_gap, g.kl_posterior)
    # KL(q || p(z|x)) integrated on a grid equals log p(x) - ELBO(q)
    for i in range(4):
        kl = gaps.kl_on_grid(model, x[i], g.mu[i], g.logvar[i], g.log_px[i])
        assert abs(kl - g.kl_posterior[i]) < 0.01


def test_importance_weighted_bounds_stay_below_and_approach_log_px(trained):
    model, x = trained
    log_px = np.array([m.log_px for m in posterior.log_marginal(model, x)])
    gen = torch.Generator().manual_seed(0)
    mean, se = {}, {}
    with torch.inference_mode():
        for k in (1, 10, 100, 1000):
            runs = torch.stack([objectives.iw_bound(model, x, k, gen) for _ in range(30)]).double().numpy()
            mean[k], se[k] = runs.mean(0), runs.std(0) / np.sqrt(len(runs))
    for k in mean:  # E[IW(K)] <= log p(x) for every image: one estimate may overshoot, its mean may not
        assert (mean[k] <= log_px + 3 * se[k] + 1e-3).all()
    shortfall = {k: np.mean(log_px - mean[k]) for k in mean}
    assert shortfall[1] > shortfall[10] > shortfall[100] > shortfall[1000] > -0.01
    assert shortfall[1000] < 0.02 and np.abs(mean[1000] - log_px).max() < 0.05


def test_the_best_gaussian_is_reproducible(trained):
    model, x = trained
    with torch.inference_mode():
        mu, logvar = model.encode(x[:2])
    a = gaps.fit_best_gaussian(model, x[:2], mu.clone(), logvar.clone())
    b = gaps.fit_best_gaussian(model, x[:2], mu.clone(), logvar.clone())
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_cli_evaluate_exact_reports_the_gaps_for_the_first_n_images(tmp_path, capsys):
    import json

    from vae.cli.main import main

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, (60, 8, 8)).astype(np.float32)
    x[::2, :4] += 0.7
    np.savez(tmp_path / "tiny.npz", x=np.clip(x, 0, 1), y=np.arange(60) % 2)
    models = str(tmp_path / "models")
    for name, d in (("two", 2), ("three", 3)):
        assert (
            main(
                [
                    "--models-dir",
                    models,
                    "train",
                    "--dataset",
                    str(tmp_path / "tiny.npz"),
                    "--name",
                    name,
                    "--latent-dim",
                    str(d),
                    "--epochs",
                    "2",
                    "--hidden",
                    "16",
                    "--eval-iw-samples",
                    "2",
                    "--quiet",
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert main(["--models-dir", models, "evaluate", "two", "--exact", "--limit", "4", "--iw-samples", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4 and out["exact_not_converged"] == 0
    assert out["approximation_gap"] >= 0 and out["amortization_gap"] >= 0
    assert out["elbo_exact"] <= out["elbo_best_gaussian"] <= out["exact_log_likelihood"]
    assert out["exact_log_likelihood"] - out["elbo_exact"] == pytest.approx(
        out["approximation_gap"] + out["amortization_gap"]
    )
    assert main(["--models-dir", models, "evaluate", "three", "--exact"]) == 2
    assert "latent size of 1 or 2" in capsys.readouterr().err


def test_a_colour_model_with_the_logistic_likelihood_has_an_exact_log_px():
    """The coarse pass of a discretized-logistic decoder (summed cell by cell) equals the log joint
    at the cell centres, and the quadrature's log p(x) sits above the importance-weighted bound."""
    from vae.models import objectives
    from vae.models.config import ModelConfig
    from vae.models.registry import build

    model = build(
        ModelConfig(
            image_shape=(3, 8, 8), arch="conv", conv_channels=(4,), conv_dense=8, latent_dim=2, likelihood="logistic"
        ),
        seed=0,
    ).eval()
    with torch.no_grad():
        model.log_std.fill_(math.log(0.15))
    x = torch.randint(0, 256, (2, 3, 8, 8), generator=torch.Generator().manual_seed(0)).float() / 255
    grid = posterior.coarse_grid(model)
    cells = np.array([[10, 20], [60, 60], [100, 7]])
    got = grid.log_joint(x[:1])[0, cells[:, 0] * grid.n + cells[:, 1]]
    want = posterior.log_joint(model, x[0], grid.centre(cells))
    torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-5)
    exact = posterior.log_marginal(model, x, grid)
    with torch.no_grad():
        iw = objectives.iw_bound(model, x, 2000, torch.Generator().manual_seed(1))
    for m, bound in zip(exact, iw.tolist()):
        assert m.converged and m.log_px >= bound - 0.05
