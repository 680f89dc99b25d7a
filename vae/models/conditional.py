"""Conditional VAEs: three model kinds beside the plain VAE, chosen by ModelConfig.conditional.

API contract (stable: the Playground, Compare and Train pages build on it)
-------------------------------------------------------------------------
A model declares its kind in `model.config.conditional`: "none" | "label" | "completion" | "prior".
Build any kind with `vae.models.registry.build(config, seed=...)` (or `model_class(config)(config)`); the store
saves and loads every kind like a plain VAE (`store.load(name)` returns the right class). All three
are subclasses of vae.models.model.VAE; images are (B, C, H, W) in [0, 1] and z is (B, latent_dim).

- "label" (LabelCVAE; Kingma et al. 2014's M2 without its classifier): a one-hot class y enters the
  encoder's and the decoder's first layer. Needs num_classes >= 2 and arch "mlp".
    ModelConfig(conditional="label", num_classes=10, latent_dim=2)
    mu, logvar = model.encode(x, y)          # y: (B,) integer labels, or one int for the batch
    images = model.decode(z, y)              # (B, C, H, W); decode(z, 3) draws z as a 3
  The style table: mu of one image under its own label, then model.decode(mu.expand(10, -1),
  torch.arange(10)).
- "completion" (CompletionCVAE; Doersch's tutorial CVAE): the visible part of the image (config
  `visible`: "centre-column" = column (W-1)//2, "top-half", "left-half") conditions the rest. A
  condition network (`condition_hidden`, default (*hidden, hidden[-1])) is added into the encoder's
  second layer and the decoder's first; the encoder sees only the hidden pixels. MLP only.
    ModelConfig(conditional="completion", visible="centre-column", binarize_condition=True)
    v = model.visible_of(x)                  # (B, V) visible pixels, in a fixed order
    images = model.decode(z, v)              # (B, C, H, W): the visible part pasted back, the rest
                                             # the decoder's means; a 4-D x may be passed for v
    blurry = model.regress(v)                # the deterministic regressor baseline, same layout
    mask = model.visible_mask                # (C, H, W) bool, True where the pixel is given
  With binarize_condition, training Bernoulli-samples v each step (model.binarize_visible(v, gen)
  gives such a sample); decode and regress take v as given, grey values included.
  The regressor baseline (Doersch's mnist_regressor: its own condition network, then the decoder's
  layers without z) lives inside every completion model as `model.regressor`, is trained in the same
  fit() on its own loss (log p(hidden | visible), reported as "regressor" in the history and as
  "regressor_log_likelihood" in the test metrics) and is stored in the same weights file.
- "prior" (ClassPriorVAE; Su Jianlin's cvae_keras.py): encoder and decoder are the plain VAE's
  (model.encode(x), model.decode(z) as usual, any arch); class y has a learned prior mean,
  p(z|y) = N(mu_y, I). Needs num_classes >= 2.
    model.prior_means                        # (num_classes, latent_dim) parameter
    mu_y = model.prior_mean(y)               # (B, latent_dim)
    images = model.decode(model.prior_mean(y) + torch.randn(B, D))   # class y's digits

Pages: shell.page(..., kinds=("none", "label", "completion", "prior")) admits the kinds a page can
show; by default a page admits "none" and "prior" and explains itself for the others.
For every kind, encode_given(model, images, labels) -> (mu, logvar) encodes with the condition
given (labels for "label"; the images' own visible parts for "completion"), e.g. for latent maps.
Objectives with the condition given (ELBO of p(x|y), of p(hidden|visible)) are in
vae.models.conditional_objectives: elbo(model, x, y), iw_bound(model, x, y, k), evaluate(model, x, y).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vae.models.config import ModelConfig
from vae.models.model import _ACTIVATIONS, VAE, _mlp, add_log_std


def _run(seq: nn.Sequential, h: torch.Tensor, adds: dict[int, torch.Tensor]) -> torch.Tensor:
    """Run an MLP body, adding adds[i] to the output of its i-th Linear (before the activation)."""
    i = 0
    for layer in seq:
        h = layer(h)
        if isinstance(layer, nn.Linear):
            if i in adds:
                h = h + adds[i]
            i += 1
    return h


def _labels(y, batch: int, device) -> torch.Tensor:
    """Integer labels (B,) from a tensor, a sequence or one int (for the whole batch)."""
    y = torch.as_tensor(y, dtype=torch.long, device=device)
    return y.expand(batch) if y.dim() == 0 else y


class LabelCVAE(VAE):
    """One-hot y added into the first layer of the encoder and of the decoder (= concatenating it)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder.label = nn.Linear(config.num_classes, config.hidden[0], bias=False)
        self.decoder.label = nn.Linear(config.num_classes, config.hidden[-1], bias=False)

    def one_hot(self, y, batch: int) -> torch.Tensor:
        y = _labels(y, batch, self.decoder.out.weight.device)
        return F.one_hot(y, self.config.num_classes).to(self.decoder.out.weight.dtype)  # (B, K)

    def encode(self, x: torch.Tensor, y) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.encoder
        h = _run(enc.body, x.flatten(1), {0: enc.label(self.one_hot(y, len(x)))})
        mu, logvar = enc.head(h).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode_logits(self, z: torch.Tensor, y) -> torch.Tensor:
        dec = self.decoder
        h = _run(dec.body, z, {0: dec.label(self.one_hot(y, len(z)))})
        return dec.out(h).view(-1, *dec.image_shape)  # (B, C, H, W)

    def decode(self, z: torch.Tensor, y) -> torch.Tensor:
        return self.output_mean(self.decode_logits(z, y))

    def forward(self, x, y, generator=None):
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z, y), mu, logvar, z


class ClassPriorVAE(VAE):
    """A plain VAE plus one learned prior mean per class: p(z|y) = N(mu_y, I)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        k, d = config.num_classes, config.latent_dim
        bound = math.sqrt(6.0 / (k + d))  # Glorot-uniform, as Keras initialises Su's Dense(latent)(y)
        self.prior_means = nn.Parameter(torch.empty(k, d).uniform_(-bound, bound))

    def prior_mean(self, y) -> torch.Tensor:
        y = torch.as_tensor(y, dtype=torch.long, device=self.prior_means.device)
        return self.prior_means[y]  # (B, D) or (D,)


def visible_mask(image_shape: tuple[int, int, int], visible: str) -> torch.Tensor:
    """(C, H, W) bool, True where a completion model is given the pixel."""
    c, h, w = image_shape
    mask = torch.zeros(c, h, w, dtype=torch.bool, device="cpu")  # real even on the meta device
    if visible == "centre-column":
        mask[:, :, (w - 1) // 2] = True  # column 13 of 28, as Doersch's Slice at 13:14
    elif visible == "top-half":
        mask[:, : h // 2] = True
    elif visible == "left-half":
        mask[:, :, : w // 2] = True
    else:
        raise ValueError(f"unknown visible part {visible!r}")
    return mask


class _ConditionNet(nn.Module):
    """Linear layers over the visible pixels; returns every layer's pre-activation output."""

    def __init__(self, n_in: int, sizes: tuple[int, ...], activation: str):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip((n_in, *sizes[:-1]), sizes))
        self.act = _ACTIVATIONS[activation]()

    def forward(self, v: torch.Tensor) -> list[torch.Tensor]:
        outs, h = [], v
        for layer in self.layers:
            outs.append(layer(h))
            h = self.act(outs[-1])
        return outs


class CompletionCVAE(VAE):
    """Doersch's CVAE: q(z | hidden, visible), p(hidden | z, visible), plus a regressor baseline."""

    def __init__(self, config: ModelConfig):
        nn.Module.__init__(self)
        self.config = config
        mask = visible_mask(config.image_shape, config.visible)
        flat = mask.flatten()
        self.register_buffer("visible_mask", mask, persistent=False)
        self.register_buffer("visible_index", flat.nonzero().flatten(), persistent=False)
        self.register_buffer("hidden_index", (~flat).nonzero().flatten(), persistent=False)
        n_vis, n_hid = len(self.visible_index), len(self.hidden_index)
        hidden, act, d = config.hidden, config.activation, config.latent_dim
        self.tap = min(2, len(hidden), len(config.condition_hidden))  # encoder layer the condition joins
        self.condition = _ConditionNet(n_vis, config.condition_hidden, act)
        self.encoder = nn.Module()
        self.encoder.body, self.encoder.head = _mlp([n_hid, *hidden], act), nn.Linear(hidden[-1], 2 * d)
        self.decoder = nn.Module()
        self.decoder.body, self.decoder.out = _mlp([d, *reversed(hidden)], act), nn.Linear(hidden[0], n_hid)
        self.regressor = nn.Module()  # Doersch's regressor: same layers, no z
        self.regressor.condition = _ConditionNet(n_vis, config.condition_hidden, act)
        self.regressor.body = _mlp(list(reversed(hidden)), act)
        self.regressor.out = nn.Linear(hidden[0], n_hid)
        add_log_std(self, config)

    def visible_of(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, V) visible pixels."""
        return x.flatten(1).index_select(1, self.visible_index)

    def hidden_of(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, T) the pixels the model completes."""
        return x.flatten(1).index_select(1, self.hidden_index)

    def binarize_visible(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A Bernoulli sample of the visible pixels (Doersch's stochastic binarisation)."""
        return torch.bernoulli(v, generator=generator)

    def assemble(self, visible: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """(B, V) visible and (B, T) hidden pixels -> (B, C, H, W) images."""
        out = visible.new_empty(len(visible), self.visible_mask.numel())
        out[:, self.visible_index], out[:, self.hidden_index] = visible, hidden
        return out.view(-1, *self.config.image_shape)

    def _visible(self, v: torch.Tensor) -> torch.Tensor:
        return self.visible_of(v) if v.dim() == 4 else v

    def encode(self, x: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: whole images (B, C, H, W) (only their hidden pixels are read); visible: (B, V)."""
        taps = self.condition(self._visible(visible))
        h = _run(self.encoder.body, self.hidden_of(x), {self.tap - 1: taps[self.tap - 1]})
        mu, logvar = self.encoder.head(h).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode_logits(self, z: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """-> (B, T) logits of the hidden pixels."""
        return self.decode_features(z, self.condition(self._visible(visible))[-1])

    def decode_features(self, z: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """decode_logits from the condition network's output (computed once for many z)."""
        return self.decoder.out(_run(self.decoder.body, z, {0: features}))

    def decode(self, z: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        v = self._visible(visible)
        return self.assemble(v, self.output_mean(self.decode_logits(z, v)))

    def regress_logits(self, visible: torch.Tensor) -> torch.Tensor:
        """The regressor's (B, T) logits: one deterministic guess of the hidden pixels."""
        h = self.regressor.condition.act(self.regressor.condition(self._visible(visible))[-1])
        return self.regressor.out(self.regressor.body(h))

    def regress(self, visible: torch.Tensor) -> torch.Tensor:
        v = self._visible(visible)
        return self.assemble(v, self.output_mean(self.regress_logits(v)))

    def forward(self, x, visible=None, generator=None):
        v = self.visible_of(x) if visible is None else self._visible(visible)
        mu, logvar = self.encode(x, v)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z, v), mu, logvar, z


@torch.inference_mode()
def encode_given(model: VAE, images, labels=None, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """mu, logvar (N, D) of images (N, C, H, W) for any kind, the condition given: the labels for a
    label model, the images' own visible parts for a completion model (the prior kind and plain VAEs
    need neither). For latent maps of conditional models."""
    kind, mus, logvars = model.config.conditional, [], []
    if kind == "label" and labels is None:
        raise ValueError("a label-conditional model encodes an image together with its label")
    for s in range(0, len(images), batch_size):
        x = torch.as_tensor(images[s : s + batch_size], dtype=torch.float32)
        if kind == "label":
            mu, logvar = model.encode(x, torch.as_tensor(labels[s : s + batch_size]))
        elif kind == "completion":
            mu, logvar = model.encode(x, model.visible_of(x))
        else:
            mu, logvar = model.encode(x)
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus), torch.cat(logvars)


def with_classes(options: dict, labels, class_names) -> dict:
    """ModelConfig settings plus num_classes from the data for a label or prior model (one class per
    class name, or per label value if there are more); a clear error for unlabelled data."""
    kind = options.get("conditional", "none")
    if kind not in ("label", "prior") or options.get("num_classes"):
        return options
    if labels is None or not len(labels):
        raise ValueError(f"a {kind}-conditional model needs labelled data; this data has no labels")
    return {**options, "num_classes": max(len(class_names or ()), int(max(labels)) + 1)}
