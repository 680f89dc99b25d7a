"""Where to draw z from: the prior, or a density fitted ex post to a model's codes (Ghosh et al. 2020;
pythae's GaussianMixtureSampler and MAFSampler), so that samples land where the encoder put data
rather than in the prior's holes.

- prior: N(0, I).
- gmm: a full-covariance Gaussian mixture, its number of components (1 to MAX_COMPONENTS) chosen by
  BIC, fitted on the posterior means of the training split (at most FIT_MAX of them).
- kde: a Gaussian kernel density on the whitened means, its bandwidth the fraction of Scott's rule that
  scores a held-out fifth of the codes best.
- flow: a small RealNVP (COUPLINGS affine coupling layers of 64 units, trained by Adam for FLOW_STEPS
  steps on the means): a few seconds on 2 cores.

`fit(kind, mu)` -> a Sampler with .sample(n, seed) -> (n, D) float32 and .to_arrays() / from_arrays for
a cache on disk (plain arrays, no pickle).
"""

from __future__ import annotations

import math

import numpy as np

KINDS = ("prior", "gmm", "kde", "flow")
TITLES = {"prior": "the prior N(0, I)", "gmm": "a mixture fitted to the codes", "kde": "a kernel density of the codes",
          "flow": "a flow fitted to the codes"}  # fmt: skip
MAX_COMPONENTS = 20
FIT_MAX = 10_000  # codes a density is fitted on (a seeded subsample beyond)
FLOW_STEPS = 1500
COUPLINGS = 6


class SamplerError(ValueError):
    pass


class Sampler:
    kind = "prior"

    def __init__(self, d: int):
        self.d = d

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, self.d)).astype(np.float32)

    def to_arrays(self) -> dict:
        return {"kind": np.array(self.kind), "d": np.array(self.d)}

    def describe(self) -> str:
        return "the prior N(0, I)"


class GMM(Sampler):
    kind = "gmm"

    def __init__(self, weights, means, covariances):
        super().__init__(means.shape[1])
        self.weights, self.means, self.covariances = (np.asarray(a, np.float64) for a in (weights, means, covariances))

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n, self.weights / self.weights.sum())
        parts = [rng.multivariate_normal(m, c, k) for m, c, k in zip(self.means, self.covariances, counts) if k]
        z = np.concatenate(parts) if parts else np.zeros((0, self.d))
        return z[rng.permutation(len(z))].astype(np.float32)

    def to_arrays(self) -> dict:
        return {**super().to_arrays(), "weights": self.weights, "means": self.means, "covariances": self.covariances}

    def describe(self) -> str:
        return f"a Gaussian mixture of {len(self.weights)} full-covariance components (BIC)"


class KDE(Sampler):
    kind = "kde"

    def __init__(self, points, scale, bandwidth: float):
        super().__init__(points.shape[1])
        self.points, self.scale, self.bandwidth = np.asarray(points, np.float64), np.asarray(scale), float(bandwidth)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        centres = self.points[rng.integers(0, len(self.points), n)]
        return ((centres + self.bandwidth * rng.standard_normal(centres.shape)) * self.scale).astype(np.float32)

    def to_arrays(self) -> dict:
        return {
            **super().to_arrays(),
            "points": self.points,
            "scale": self.scale,
            "bandwidth": np.array(self.bandwidth),
        }

    def describe(self) -> str:
        return f"a Gaussian kernel density on {len(self.points):,} codes (bandwidth {self.bandwidth:.3f}, whitened)"


class Flow(Sampler):
    kind = "flow"

    def __init__(self, state: dict, d: int, mean, std):
        super().__init__(d)
        self.state, self.mean, self.std = state, np.asarray(mean), np.asarray(std)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        import torch

        net = _realnvp(self.d)
        net.load_state_dict({k: torch.as_tensor(v) for k, v in self.state.items()})
        g = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            u = torch.randn(n, self.d, generator=g)
            z = net.inverse(u).numpy()
        return (z * self.std + self.mean).astype(np.float32)

    def to_arrays(self) -> dict:
        out = {**super().to_arrays(), "mean": self.mean, "std": self.std}
        out.update({f"net/{k}": np.asarray(v) for k, v in self.state.items()})
        return out

    def describe(self) -> str:
        return f"a RealNVP flow ({COUPLINGS} affine couplings of 64 units, {FLOW_STEPS} Adam steps)"


def fit(kind: str, mu, *, seed: int = 0) -> Sampler:
    """A sampler of `kind` fitted on codes mu (N, D)."""
    mu = np.asarray(mu, np.float64)
    if kind not in KINDS:
        raise SamplerError(f"unknown sampler {kind!r}; known: {', '.join(KINDS)}")
    if kind == "prior":
        return Sampler(mu.shape[1])
    if len(mu) > FIT_MAX:
        mu = mu[np.random.default_rng(seed).choice(len(mu), FIT_MAX, replace=False)]
    if kind == "gmm":
        return _gmm(mu, seed)
    if kind == "kde":
        return _kde(mu, seed)
    return _flow(mu, seed)


def _kde(mu, seed: int) -> KDE:
    """Whitened codes; the bandwidth that scores a held-out fifth best among fractions of Scott's rule
    (Scott's rule alone smooths the clusters of a trained latent space into one blur)."""
    from sklearn.neighbors import KernelDensity

    scale = mu.std(0) + 1e-12
    w = mu / scale
    order = np.random.default_rng(seed).permutation(len(w))
    held, fit_on = w[order[: len(w) // 5]], w[order[len(w) // 5 :]]
    scott = len(w) ** (-1.0 / (w.shape[1] + 4))
    scores = {f: KernelDensity(bandwidth=f * scott).fit(fit_on).score(held) for f in (0.125, 0.25, 0.5, 1.0)}
    return KDE(w, scale, max(scores, key=scores.get) * scott)


def _gmm(mu, seed: int) -> GMM:
    from sklearn.mixture import GaussianMixture

    best, best_bic = None, math.inf
    for k in range(1, min(MAX_COMPONENTS, len(mu) // 10) + 1):
        g = GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-5).fit(mu)
        bic = g.bic(mu)
        if bic < best_bic:
            best, best_bic = g, bic
        elif k > best.n_components + 3:  # BIC rose for 3 more components: past the best
            break
    return GMM(best.weights_, best.means_, best.covariances_)


def _realnvp(d: int):
    import torch
    from torch import nn

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.net = nn.Sequential(nn.Linear(d, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2 * d))

        def forward(self, x):  # data -> noise, with log|det|
            s, t = self.net(x * self.mask).chunk(2, dim=1)
            s = torch.tanh(s) * (1 - self.mask)
            return x * self.mask + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(1)

        def inverse(self, y):
            s, t = self.net(y * self.mask).chunk(2, dim=1)
            s = torch.tanh(s) * (1 - self.mask)
            return y * self.mask + (1 - self.mask) * ((y - t) * torch.exp(-s))

    class RealNVP(nn.Module):
        def __init__(self):
            super().__init__()
            masks = [torch.arange(d) % 2 == (k % 2) for k in range(COUPLINGS)] if d > 1 else []
            self.layers = nn.ModuleList(Coupling(m.float()) for m in masks)

        def forward(self, x):
            total = torch.zeros(len(x))
            for layer in self.layers:
                x, logdet = layer(x)
                total = total + logdet
            return x, total

        def inverse(self, u):
            for layer in reversed(self.layers):
                u = layer.inverse(u)
            return u

    return RealNVP()


def _flow(mu, seed: int) -> Flow:
    import torch

    d = mu.shape[1]
    if d < 2:
        raise SamplerError("a coupling flow needs at least 2 latent dimensions; use gmm or kde for a 1-D model")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64-unit net on batches of 256: a second thread only waits (6 s vs 37 s here)
    try:
        return _train_flow(mu, d, seed)
    finally:
        torch.set_num_threads(threads)


def _train_flow(mu, d: int, seed: int) -> Flow:
    import torch

    mean, std = mu.mean(0), mu.std(0) + 1e-12
    x = torch.as_tensor((mu - mean) / std, dtype=torch.float32)
    torch.manual_seed(seed)
    net = _realnvp(d)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(FLOW_STEPS):
        batch = x[torch.randint(0, len(x), (256,), generator=g)]
        u, logdet = net(batch)
        loss = (0.5 * (u**2).sum(1) - logdet).mean()  # -log p(x) up to a constant
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    return Flow(state, d, mean, std)


def from_arrays(arrays: dict) -> Sampler:
    """A sampler back from to_arrays() (an .npz read without pickle)."""
    kind, d = str(arrays["kind"]), int(arrays["d"])
    if kind == "prior":
        return Sampler(d)
    if kind == "gmm":
        return GMM(arrays["weights"], arrays["means"], arrays["covariances"])
    if kind == "kde":
        return KDE(arrays["points"], arrays["scale"], float(arrays["bandwidth"]))
    if kind == "flow":
        state = {k[4:]: arrays[k] for k in arrays if k.startswith("net/")}
        return Flow(state, d, arrays["mean"], arrays["std"])
    raise SamplerError(f"unknown sampler {kind!r} in the cache")
