"""The ELBO, the importance-weighted bound and test metrics of every model kind, the condition given.

- label:      ELBO of log p(x|y) = E_q(z|x,y)[log p(x|z,y)] - KL(q(z|x,y) || N(0, I)).
- completion: ELBO of log p(h|v), h the hidden pixels and v the visible ones (Bernoulli-sampled when
              the model binarizes its condition): E_q(z|h,v)[log p(h|z,v)] - KL(q || N(0, I)).
              The regressor baseline scores log p(h|v) exactly (it has no z).
- prior:      ELBO of log p(x|y) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || N(mu_y, I)), the KL of two
              diagonal Gaussians (GUIDE section 5).
A plain VAE ("none") goes to vae.models.objectives unchanged. Nats per example, summed over scored pixels.
"""

from __future__ import annotations

import math

import torch

from vae.models import objectives
from vae.models.objectives import (
    ELBOParts,
    active_units,
    kl_diagonal_gaussians,
    kl_standard_normal,
    log_likelihood,
    log_normal,
)


def needs_labels(model) -> bool:
    return model.config.kind.by_class


def _context(model, x: torch.Tensor, y, generator) -> tuple[object, torch.Tensor]:
    """(what the encoder and decoder are given besides x or z, the pixels that are scored)."""
    kind = model.config.conditional
    if kind in ("label", "prior"):
        if y is None:
            raise ValueError(f"a {kind}-conditional model needs the labels of its images")
        y = torch.as_tensor(y, dtype=torch.long)
        return (y if kind == "label" else None), x
    v = model.visible_of(x)
    if model.config.binarize_condition:
        v = model.binarize_visible(v, generator)
    return v, model.hidden_of(x)


def _encode(model, x, cond):
    return model.encode(x) if cond is None else model.encode(x, cond)


def _decode_logits(model, z, cond):
    return model.decode_logits(z) if cond is None else model.decode_logits(z, cond)


def _kl(model, mu, logvar, y) -> torch.Tensor:
    """KL(q(z|.) || p(z|y)) per dimension, (B, D)."""
    if model.config.conditional == "prior":
        prior_mu = model.prior_mean(y)  # (B, D)
        return kl_diagonal_gaussians(mu, logvar, prior_mu, torch.zeros_like(prior_mu))
    return kl_standard_normal(mu, logvar)


def elbo(model, x: torch.Tensor, y=None, generator: torch.Generator | None = None) -> ELBOParts:
    """One-sample ELBO parts of log p(x|y) (or log p(hidden|visible)), per example."""
    if model.config.conditional == "none":
        return objectives.elbo(model, x, generator)
    cond, target = _context(model, x, y, generator)
    mu, logvar = _encode(model, x, cond)
    z = model.reparameterize(mu, logvar, generator)
    rec = log_likelihood(model, target, _decode_logits(model, z, cond))
    return ELBOParts(rec, _kl(model, mu, logvar, y), mu, logvar)


def _repeat(t, k: int):
    return t if t is None else t.unsqueeze(0).expand(k, *t.shape).flatten(0, 1)


def log_weights(
    model, x: torch.Tensor, y, k: int, generator: torch.Generator | None = None, context: tuple | None = None
) -> torch.Tensor:
    """log p(target, z_k | condition) - log q(z_k | x, condition), (k, B)."""
    if model.config.conditional == "none":
        return objectives.log_weights(model, x, k, generator)
    cond, target = context or _context(model, x, y, generator)
    mu, logvar = _encode(model, x, cond)  # (B, D)
    eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
    if model.config.conditional == "completion":  # the condition network once, not k times
        logits = model.decode_features(z.flatten(0, 1), _repeat(model.condition(cond)[-1], k))
    else:
        logits = _decode_logits(model, z.flatten(0, 1), _repeat(cond, k))
    log_pt_z = log_likelihood(model, _repeat(target, k), logits).view(k, -1)  # (k, B)
    prior_mu = model.prior_mean(y) if model.config.conditional == "prior" else 0.0
    return log_pt_z + log_normal(z, prior_mu) - log_normal(z, mu, logvar)


def iw_bound(
    model,
    x: torch.Tensor,
    y=None,
    k: int = 100,
    generator: torch.Generator | None = None,
    chunk: int = 100,
    context: tuple | None = None,
) -> torch.Tensor:
    """log p(target | condition) >= log (1/K) sum_k w_k, (B,). One condition sample for all K."""
    if model.config.conditional == "none":
        return objectives.iw_bound(model, x, k, generator, chunk)
    context = context or _context(model, x, y, generator)
    parts = [log_weights(model, x, y, min(chunk, k - i), generator, context) for i in range(0, k, chunk)]
    return torch.logsumexp(torch.cat(parts, 0), 0) - math.log(k)


def regressor_log_likelihood(model, visible: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """log p(hidden | visible) under a completion model's deterministic regressor, (B,)."""
    return log_likelihood(model, target, model.regress_logits(visible))


def step_loss(model, x, y, beta: float, k: int, generator) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """A training step's loss and its batch-mean statistics (see vae.training.loop._step_loss). A
    completion model's regressor adds its own negative log-likelihood (its weights are its own)."""
    cond, target = _context(model, x, y, generator)
    if k == 1:
        mu, logvar = _encode(model, x, cond)
        z = model.reparameterize(mu, logvar, generator)
        rec = log_likelihood(model, target, _decode_logits(model, z, cond))
        kl = _kl(model, mu, logvar, y).sum(-1)
        loss, stats, names = -(rec - beta * kl).mean(), [rec.mean(), kl.mean()], ("reconstruction", "kl")
    else:
        logw = log_weights(model, x, y, k, generator, (cond, target))
        bound = torch.logsumexp(logw, 0) - math.log(k)
        loss, stats, names = -bound.mean(), [logw.mean(), bound.mean()], ("elbo", "iw_bound")
    if model.config.conditional == "completion":
        reg = regressor_log_likelihood(model, cond, target).mean()
        loss, stats, names = loss - reg, [*stats, reg], (*names, "regressor")
    return loss, torch.stack(stats).detach(), names


@torch.inference_mode()
def validate(model, images: torch.Tensor, labels=None, batch_size: int = 1000, seed: int = 0) -> dict:
    """One-sample conditional ELBO and its parts (and the regressor's log-likelihood), per example."""
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    tot: dict[str, float] = {}
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        y = None if labels is None else torch.as_tensor(labels[start : start + batch_size])
        for key, value in _batch_metrics(model, x, y, gen, iw_samples=0).items():
            tot[key] = tot.get(key, 0.0) + value
    model.train(was_training)
    if "regressor_log_likelihood" in tot:  # named as in the training history: train_/val_regressor
        tot["regressor"] = tot.pop("regressor_log_likelihood")
    return {k: v / len(images) for k, v in tot.items()}


def _batch_metrics(model, x, y, gen, iw_samples: int) -> dict:
    """Sums over the batch: elbo, reconstruction, kl (+ iw_log_likelihood, regressor). mu in "_mu"."""
    context = _context(model, x, y, gen)
    cond, target = context
    mu, logvar = _encode(model, x, cond)
    z = model.reparameterize(mu, logvar, gen)
    rec = log_likelihood(model, target, _decode_logits(model, z, cond))
    kl_dim = _kl(model, mu, logvar, y)  # (B, D)
    kl = kl_dim.sum(-1)
    out = {"elbo": (rec - kl).sum().item(), "reconstruction": rec.sum().item(), "kl": kl.sum().item()}
    if iw_samples:
        out["iw_log_likelihood"] = iw_bound(model, x, y, iw_samples, gen, context=context).sum().item()
        out["_kl_dim"] = kl_dim.sum(0)
        out["_mu"] = mu
    if model.config.conditional == "completion":
        out["regressor_log_likelihood"] = regressor_log_likelihood(model, cond, target).sum().item()
    return out


@torch.inference_mode()
def evaluate(
    model, images: torch.Tensor, labels=None, iw_samples: int = 100, batch_size: int = 500, seed: int = 0, progress=None
) -> dict:
    """objectives.evaluate for every kind, the condition given (the true labels, or the visible part).
    Adds "conditional" (the kind), "condition" (in words) and, for completion, the regressor's
    log p(hidden | visible) as "regressor_log_likelihood"."""
    if model.config.conditional == "none":
        return objectives.evaluate(model, images, iw_samples, batch_size, seed, progress)
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    kl_dim, mus, n = 0.0, [], len(images)
    for start in range(0, n, batch_size):
        y = None if labels is None else torch.as_tensor(labels[start : start + batch_size])
        batch = _batch_metrics(model, images[start : start + batch_size], y, gen, iw_samples)
        kl_dim, mus = kl_dim + batch.pop("_kl_dim"), mus + [batch.pop("_mu")]
        for key, value in batch.items():
            sums[key] = sums.get(key, 0.0) + value
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
        conditional=model.config.conditional,
        condition=describe_condition(model.config),
    )
    return out


def describe_condition(config) -> str:
    return {
        "none": "none",
        "label": "the image's class label",
        "completion": f"the {config.visible} (Bernoulli-sampled)"
        if config.binarize_condition
        else f"the {config.visible}",
        "prior": "the image's class label (prior mean)",
    }[config.conditional]
