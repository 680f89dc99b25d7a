"""The ELBO in parts, closed-form KL divergences and the importance-weighted bound on log p(x).

All log-likelihoods are in nats per example, summed over pixels (never averaged: averaging the
reconstruction while summing the KL silently divides beta by the pixel count).
ELBO: Kingma & Welling 2014. Importance-weighted bound: Burda et al. 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, s^2) || N(0, 1)) per dimension = 0.5 (mu^2 + s^2 - log s^2 - 1); shape of mu."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def kl_diagonal_gaussians(mu1, logvar1, mu2, logvar2) -> torch.Tensor:
    """KL(N(mu1, s1^2) || N(mu2, s2^2)) per dimension for diagonal Gaussians."""
    return 0.5 * (logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2).pow(2)) / logvar2.exp() - 1.0)


def kl_gaussians(mu1, cov1, mu2, cov2) -> torch.Tensor:
    """KL(N(mu1, S1) || N(mu2, S2)) for full covariances (..., d), (..., d, d):
    0.5 [log det S2/det S1 - d + tr(S2^-1 S1) + (mu2-mu1)^T S2^-1 (mu2-mu1)]."""
    d = mu1.shape[-1]
    l2 = torch.linalg.cholesky(cov2)
    diff = (mu2 - mu1).unsqueeze(-1)  # (..., d, 1)
    trace = torch.cholesky_solve(cov1, l2).diagonal(dim1=-2, dim2=-1).sum(-1)
    maha = (diff * torch.cholesky_solve(diff, l2)).sum((-2, -1))
    logdet = torch.logdet(cov2) - torch.logdet(cov1)
    return 0.5 * (logdet - d + trace + maha)


def log_normal(z: torch.Tensor, mu: torch.Tensor | float = 0.0, logvar: torch.Tensor | float = 0.0):
    """log N(z; mu, diag exp(logvar)) summed over the last dimension."""
    logvar = torch.as_tensor(logvar, dtype=z.dtype)
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def log_likelihood(model, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x|z) summed over pixels, (B,). Bernoulli on logits, or Gaussian around the model's
    output_mean(logits) with std exp(model.log_std)."""
    if model.config.likelihood == "bernoulli":
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)
    if model.config.likelihood == "logistic":
        return discretized_logistic(x, model.output_mean(logits), model.log_std).flatten(1).sum(-1)
    log_std = model.log_std
    mean = model.output_mean(logits)
    return (-0.5 * LOG_2PI - log_std - 0.5 * ((x - mean) / log_std.exp()).pow(2)).flatten(1).sum(-1)


LEVELS = 255  # 8-bit pixels: x in {0, 1/255, ..., 1}


def discretized_logistic(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) per pixel for x on the 256-level grid of [0, 1]: the mass of a logistic(mean, scale)
    on x's bin [x - 1/510, x + 1/510], the end bins reaching to -inf and +inf (Salimans et al. 2017,
    PixelCNN++; a pixel's probabilities sum to 1). The difference of two CDFs is taken in log space
    (no density-times-width stand-in in the tails)."""
    log_scale = torch.as_tensor(log_scale, dtype=mean.dtype).clamp(min=-7.0)
    inv = torch.exp(-log_scale)
    centred = x - mean
    plus, minus = inv * (centred + 0.5 / LEVELS), inv * (centred - 0.5 / LEVELS)
    log_cdf_plus = plus - F.softplus(plus)  # log sigmoid(plus): the bin at 0
    log_one_minus_cdf_min = -F.softplus(minus)  # log (1 - sigmoid(minus)): the bin at 1
    # sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)): exact in the far tails too
    inner = log_cdf_plus + log_one_minus_cdf_min + torch.log(-torch.expm1(-(inv / LEVELS)))
    return torch.where(
        x < 0.5 / LEVELS, log_cdf_plus, torch.where(x > 1.0 - 0.5 / LEVELS, log_one_minus_cdf_min, inner)
    )


def bits_per_dim(log_likelihood: float, likelihood: str, dims: int) -> tuple[float | None, str]:
    """-log p(x) / (D ln 2), and how it was reached: exact for the discrete logistic; for a Gaussian
    density on [0, 1], with uniform dequantization to 256 bins (log P(bin) ~ log p(x) - ln 256 per
    dimension, the density read at the pixel value rather than integrated); none for a Bernoulli of
    grey levels, which is not a likelihood of 8-bit pixels."""
    if likelihood == "logistic":
        return -log_likelihood / (dims * math.log(2)), "discrete over 256 levels; no dequantization"
    if likelihood == "gaussian":
        return (-log_likelihood + dims * math.log(256)) / (
            dims * math.log(2)
        ), "Gaussian density, uniform dequantization to 256 levels (density at the pixel value)"
    return None, "a Bernoulli of grey levels is not a likelihood of 8-bit pixels"


@dataclass
class ELBOParts:
    reconstruction: torch.Tensor  # (B,) E_q[log p(x|z)], one sample
    kl_per_dim: torch.Tensor  # (B, latent_dim)
    mu: torch.Tensor  # (B, latent_dim)
    logvar: torch.Tensor  # (B, latent_dim)

    @property
    def kl(self) -> torch.Tensor:  # (B,)
        return self.kl_per_dim.sum(-1)

    @property
    def elbo(self) -> torch.Tensor:  # (B,)
        return self.reconstruction - self.kl

    def loss(self, beta: float = 1.0) -> torch.Tensor:
        """Negative beta-ELBO, mean over the batch (nats per example)."""
        return (self.kl * beta - self.reconstruction).mean()


def elbo(model, x: torch.Tensor, generator: torch.Generator | None = None) -> ELBOParts:
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, generator)
    rec = log_likelihood(model, x, model.decode_logits(z))
    return ELBOParts(rec, kl_standard_normal(mu, logvar), mu, logvar)


def log_weights(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None):
    """log p(x, z_k) - log q(z_k|x) for k samples per example: (k, B)."""
    mu, logvar = model.encode(x)  # (B, D)
    eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
    logits = model.decode_logits(z.flatten(0, 1))  # (k*B, C, H, W)
    x_rep = x.unsqueeze(0).expand(k, *x.shape).flatten(0, 1)
    log_px_z = log_likelihood(model, x_rep, logits).view(k, -1)  # (k, B)
    return log_px_z + log_normal(z) - log_normal(z, mu, logvar)


IW_VALUES = 2**26  # decoded pixel values per chunk of importance samples (MNIST keeps chunks of 100)


def iw_bound(
    model, x: torch.Tensor, k: int, generator: torch.Generator | None = None, chunk: int = 100
) -> torch.Tensor:
    """log p(x) >= log (1/K) sum_k p(x, z_k) / q(z_k|x), (B,). K=1 is the ELBO.
    Samples are drawn in chunks so K=1000 fits in memory: at most `chunk`, and fewer for large
    images (a 32x32 colour conv decoder's activations are ten times its image)."""
    chunk = max(1, min(chunk, IW_VALUES // max(1, x[:1].numel() * len(x))))
    parts = [log_weights(model, x, min(chunk, k - i), generator) for i in range(0, k, chunk)]
    return torch.logsumexp(torch.cat(parts, 0), 0) - math.log(k)


def iwae_loss(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None):
    """Negative importance-weighted bound, mean over the batch (train with K > 1)."""
    return -iw_bound(model, x, k, generator, chunk=k).mean()


@torch.inference_mode()
def active_units(mu: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """Burda et al.'s criterion: dimension u is active if Cov_x(E_q[z_u|x]) > threshold. mu: (N, D)."""
    return mu.var(0, unbiased=True) > threshold


TEST_BINARIZE_SEED = 12345  # one fixed Bernoulli sample of a test set scores every binarized model


def binarized_test(images: torch.Tensor) -> torch.Tensor:
    """The fixed Bernoulli sample of [0,1] test images that binarized models are scored on."""
    return torch.bernoulli(images, generator=torch.Generator().manual_seed(TEST_BINARIZE_SEED))


@torch.inference_mode()
def evaluate(
    model, images: torch.Tensor, iw_samples: int = 100, batch_size: int = 500, seed: int = 0, progress=None
) -> dict:
    """Test metrics in nats per example: elbo, reconstruction, kl, iw_log_likelihood (K=iw_samples),
    active units and KL per dimension."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    sums = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0, "iw_log_likelihood": 0.0}
    kl_dim, mus = 0.0, []
    n = len(images)
    for start in range(0, n, batch_size):
        x = images[start : start + batch_size]
        parts = elbo(model, x, gen)
        sums["elbo"] += parts.elbo.sum().item()
        sums["reconstruction"] += parts.reconstruction.sum().item()
        sums["kl"] += parts.kl.sum().item()
        kl_dim = kl_dim + parts.kl_per_dim.sum(0)
        mus.append(parts.mu)
        sums["iw_log_likelihood"] += iw_bound(model, x, iw_samples, gen).sum().item()
        if progress:
            progress(min(start + batch_size, n), n)
    active = active_units(torch.cat(mus))
    out = {k: v / n for k, v in sums.items()}
    out.update(
        iw_samples=iw_samples,
        n=n,
        active_units=int(active.sum()),
        active_dims=active.nonzero().flatten().tolist(),
        kl_per_dim=(kl_dim / n).tolist(),
    )
    return with_bits_per_dim(out, model.config.likelihood, math.prod(images.shape[1:]))


def with_bits_per_dim(metrics: dict, likelihood: str, dims: int) -> dict:
    """Add elbo_ and iw_log_likelihood_bits_per_dim (and how they were reached) where they mean something."""
    for key in ("elbo", "iw_log_likelihood"):
        bpd, how = bits_per_dim(metrics[key], likelihood, dims)
        if bpd is not None:
            metrics[f"{key}_bits_per_dim"] = bpd
            metrics["bits_per_dim_note"] = how
    return metrics
