"""The VAE: an encoder q(z|x) = N(mu, diag sigma^2), a decoder p(x|z), and the reparameterization.

encode, reparameterize and decode are separate methods (as in pytorch/examples vae/main.py) so the
explorer can call each alone. The decoder is its own module (`model.decoder`) with plain layers, so
its weights can be exported on their own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vae.models.config import ModelConfig
from vae.models.layers import StackDecoder, StackEncoder

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), _ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def _conv_grid(h: int, w: int, n_layers: int) -> tuple[int, int]:
    """Spatial size after n stride-2, padding-1, 3x3 convolutions."""
    for _ in range(n_layers):
        h, w = (h + 1) // 2, (w + 1) // 2
    return h, w


class MLPEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        n_in = math.prod(cfg.image_shape)
        self.body = _mlp([n_in, *cfg.hidden], cfg.activation)
        self.head = nn.Linear(cfg.hidden[-1], 2 * cfg.latent_dim)  # -> (mu, logvar)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))  # (B, 2 * latent_dim)


class MLPDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.image_shape = cfg.image_shape
        hidden = list(reversed(cfg.hidden))
        self.body = _mlp([cfg.latent_dim, *hidden], cfg.activation)
        self.out = nn.Linear(hidden[-1], math.prod(cfg.image_shape))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(z)).view(-1, *self.image_shape)  # (B, C, H, W) logits


class ConvEncoder(nn.Module):
    """Keras-example encoder: stride-2 3x3 convolutions, a small dense layer, then (mu, logvar)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c, h, w = cfg.image_shape
        act = _ACTIVATIONS[cfg.activation]
        layers: list[nn.Module] = []
        for ch in cfg.conv_channels:
            layers += [nn.Conv2d(c, ch, 3, stride=2, padding=1), act()]
            c = ch
        gh, gw = _conv_grid(h, w, len(cfg.conv_channels))
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * gh * gw, cfg.conv_dense), act())
        self.head = nn.Linear(cfg.conv_dense, 2 * cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))  # (B, 2 * latent_dim)


class ConvDecoder(nn.Module):
    """Mirror of ConvEncoder with transposed convolutions; crops to the image size if it is not a
    multiple of 2**layers."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c_out, h, w = cfg.image_shape
        act = _ACTIVATIONS[cfg.activation]
        chans = list(reversed(cfg.conv_channels))
        self.image_shape = cfg.image_shape
        self.grid = (chans[0], *_conv_grid(h, w, len(chans)))
        self.dense = nn.Sequential(nn.Linear(cfg.latent_dim, math.prod(self.grid)), act())
        layers: list[nn.Module] = []
        for c_in, c_next in zip(chans, chans[1:] + chans[-1:]):
            layers += [nn.ConvTranspose2d(c_in, c_next, 3, stride=2, padding=1, output_padding=1), act()]
        layers.append(nn.Conv2d(chans[-1], c_out, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.body(self.dense(z).view(-1, *self.grid))  # (B, C, H', W'), H' >= H
        _, h, w = self.image_shape
        return out[:, :, :h, :w]  # (B, C, H, W) logits


def add_log_std(model: nn.Module, config: ModelConfig) -> None:
    """A Gaussian likelihood's scalar log-std, learned when config.gaussian_std is None, else a fixed
    buffer; the discretized logistic's log-scales, one per sub-pixel. Nothing for a Bernoulli one."""
    if config.likelihood == "bernoulli":
        return
    if config.likelihood == "logistic":
        # one learned log-scale per sub-pixel, (C, H, W): the white background wants a tiny scale,
        # edges a wide one. Starting at 0.1, not 1: a logistic of scale 1 is flat over [0, 1], its
        # gradient tiny, and the KL term wins first (measured: the 2-D latent collapsed, KL 0.00)
        model.log_std = nn.Parameter(torch.full(tuple(config.image_shape), math.log(0.1)))
        return
    log_std = torch.tensor(math.log(config.gaussian_std if config.gaussian_std is not None else 1.0))
    if config.gaussian_std is None:
        model.log_std = nn.Parameter(log_std)
    else:
        model.register_buffer("log_std", log_std)


class VAE(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        if config.arch == "mlp":
            self.encoder, self.decoder = MLPEncoder(config), MLPDecoder(config)
        elif config.arch == "layers":  # an imported model (vae/interop/)
            self.encoder = StackEncoder(config.encoder_layers, config.image_shape)
            self.decoder = StackDecoder(config.decoder_layers, config.image_shape)
        else:
            self.encoder, self.decoder = ConvEncoder(config), ConvDecoder(config)
        add_log_std(self, config)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, H, W) in [0,1] -> mu, logvar: (B, latent_dim) each."""
        mu, logvar = self.encoder(self.network_input(x)).chunk(2, dim=-1)
        # clamped to keep exp() finite on wild inputs; the gradient passes the clamp unchanged
        # (straight through), so a log-variance pushed past it is pulled back rather than stuck
        return mu, logvar + (logvar.clamp(-30.0, 20.0) - logvar).detach()

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> the decoder's raw output (B, C, H, W): logits of the pixel means."""
        return self.decoder(z)

    def network_input(self, x: torch.Tensor) -> torch.Tensor:
        """Pictures in [0, 1] as the encoder takes them: x, or x * 2 - 1 for a model whose data live in
        [-1, 1] (config.signed, an imported model)."""
        return x * 2 - 1 if self.config.signed else x

    def output_mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The decoder's raw output -> pixel means in [0, 1] (Bernoulli p, or the Gaussian mean; an
        imported decoder with output 'identity' gives the mean itself, 'tanh' through a Tanh; one
        whose data live in [-1, 1] is mapped to [0, 1])."""
        out = self.config.output
        mean = logits if out == "identity" else torch.tanh(logits) if out == "tanh" else torch.sigmoid(logits)
        return (mean + 1) / 2 if self.config.signed else mean

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> image means in [0,1], (B, C, H, W)."""
        return self.output_mean(self.decode_logits(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x -> (x_mean, mu, logvar, z) with one reparameterized sample."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar, z


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
