"""What the app shows of a conditional model (vae/models/conditional.py): decodes under a chosen condition,
the style table, Doersch's completion panel, and encoding a dataset with each image's condition.

Numpy in and out, torch only inside under torch.inference_mode(); the model is never modified.
`given(model, condition)` wraps a model so that `.decode(z)` decodes under one fixed condition: every
function of vae.inference.latent (decode, decode_grid, interpolate + decode) then works on it unchanged.
- label:      condition = a class; decode(z, y).
- prior:      condition = a class; z is the offset from the class's prior mean, decode(mu_y + z),
              so z ~ N(0, I) draws that class's digits, as in Su Jianlin's cvae_keras.py.
- completion: condition = the visible pixels (V,) or a whole image (C, H, W) they are read from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae.inference import latent
from vae.models.conditional import encode_given
from vae.models.kinds import Kind

HIDDEN_SHADE = 0.3  # how the pixels a completion model is not given are drawn (grey), to see the visible part
COMPLETIONS = 15  # as in Doersch's tutorial figure


def kind(model) -> Kind:
    return model.config.kind


def _device(model):
    return next(model.parameters()).device


class Given(torch.nn.Module):
    """A conditional model with its condition fixed: decode(z) only, like a plain VAE's decoder."""

    def __init__(self, model, condition):
        super().__init__()
        self.model, self.kind = model, kind(model)
        self.config = model.config
        if self.kind.by_class:
            self.condition = int(condition)
            if not 0 <= self.condition < model.config.num_classes:
                raise ValueError(f"class {condition} is not one of the model's {model.config.num_classes}")
        elif self.kind.by_part:
            v = torch.as_tensor(np.asarray(condition), dtype=torch.float32, device=_device(model))
            self.condition = model.visible_of(v[None])[0] if v.dim() == 3 else v.flatten()  # (V,)
        else:
            self.condition = None

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.kind.decoder_condition == "class":
            return self.model.decode(z, self.condition)
        if self.kind.class_prior:
            return self.model.decode(self.model.prior_mean(self.condition) + z)
        if self.kind.decoder_condition == "part":
            return self.model.decode(z, self.condition.expand(len(z), -1))
        return self.model.decode(z)


def given(model, condition) -> Given:
    return Given(model, condition)


def class_names(model, names=None) -> list[str]:
    """Names of a class-conditional model's classes: the dataset's when they fit, else 0..K-1."""
    k = model.config.num_classes
    return [str(n) for n in names] if names is not None and len(names) == k else [str(i) for i in range(k)]


@torch.inference_mode()
def encode_dataset(model, images, labels=None, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """latent.encode_dataset for every kind: mu, sigma (N, D) of q(z|x, condition), each image with its
    own condition (its label, or its visible part). A class-prior model's encoder is unconditional."""
    if not kind(model).encoder_condition:
        return latent.encode_dataset(model, images, batch_size)
    mu, logvar = encode_given(model, np.asarray(images, np.float32), labels, batch_size)
    return mu.float().numpy(), torch.exp(0.5 * logvar).float().numpy()


@torch.inference_mode()
def reconstruct(model, images, labels=None) -> np.ndarray:
    """Each image decoded from the mean of q(z|x, condition) under its own condition, (N, C, H, W)."""
    mu, _ = encode_dataset(model, images, labels)
    z = torch.as_tensor(mu, device=_device(model))
    k = kind(model).decoder_condition
    if k == "class":
        out = model.decode(z, torch.as_tensor(np.asarray(labels)))
    elif k == "part":
        out = model.decode(z, model.visible_of(torch.as_tensor(np.asarray(images), dtype=torch.float32)))
    else:
        out = model.decode(z)
    return out.float().cpu().numpy()


def style_z(model, image, label: int) -> np.ndarray:
    """The style of one image, (D,): the mean of q(z|x, y) for a label model; for a class-prior model
    its offset from its own class's prior mean, mu(x) - mu_y, which decode(mu_k + offset) carries
    to class k."""
    mu, _ = encode_dataset(model, np.asarray(image)[None], np.array([label]))
    if kind(model).class_prior:
        with torch.inference_mode():
            mu = mu - model.prior_mean(int(label)).float().cpu().numpy()
    return mu[0]


def style_table(model, image, label: int) -> np.ndarray:
    """Encode one image (with its label), then decode its style under every class: (K, C, H, W).
    Row k is class k written in the image's slant and thickness."""
    z = style_z(model, image, label)
    return np.concatenate([latent.decode(given(model, k), z) for k in range(model.config.num_classes)])


def class_samples(model, per_class: int, seed: int = 0) -> np.ndarray:
    """per_class decodes of z ~ N(0, I) under every class: (K, per_class, C, H, W); the same z in a
    column, so a column shows one style across the classes."""
    z = np.random.default_rng(seed).standard_normal((per_class, model.latent_dim)).astype(np.float32)
    return np.stack([latent.decode(given(model, k), z) for k in range(model.config.num_classes)])


@dataclass
class Completion:
    """Doersch's figure for one test image: what the model is given, n completions, the truth, the
    regressor's single guess. Images (C, H, W) in [0, 1]; completions (n, C, H, W)."""

    visible: np.ndarray  # the given pixels, the others drawn grey (HIDDEN_SHADE)
    completions: np.ndarray
    truth: np.ndarray
    regression: np.ndarray

    def row(self) -> np.ndarray:
        """visible | n completions | truth | regression, as one (n + 3, C, H, W) strip."""
        return np.concatenate([self.visible[None], self.completions, self.truth[None], self.regression[None]])


def visible_picture(model, image) -> np.ndarray:
    """The image with only the pixels a completion model is given; the others HIDDEN_SHADE grey."""
    mask = model.visible_mask.cpu().numpy()
    return np.where(mask, np.asarray(image, np.float32), np.float32(HIDDEN_SHADE)).astype(np.float32)


@torch.inference_mode()
def complete(model, image, n: int = COMPLETIONS, seed: int = 0) -> Completion:
    """n completions of one image's visible part from z ~ N(0, I) (seeded), beside the truth and the
    regressor baseline (which has no z, so it can only draw the average of the plausible images)."""
    if not kind(model).by_part:
        raise ValueError("completions are drawn by a completion model (conditional 'completion')")
    image = np.asarray(image, np.float32)
    z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(np.float32)
    x = torch.as_tensor(image[None], device=_device(model))
    regression = model.regress(model.visible_of(x))[0].float().cpu().numpy()
    return Completion(visible_picture(model, image), latent.decode(given(model, image), z), image, regression)


def _first_linear(module) -> torch.nn.Linear:
    return next(m for m in module.modules() if isinstance(m, torch.nn.Linear))


@torch.inference_mode()
def folded(model, y: int):
    """A plain VAE equal to a label or class-prior model under class y: the condition folded into
    the first layers' biases (a one-hot y times its weights is a column of them; W (mu_y + eps) + b =
    W eps + (b + W mu_y)). decode(z) is the conditional decode (of z, or of eps for a class prior),
    encode(x) gives q(z|x, y) (the offset from mu_y for a class prior). This is what an in-browser
    decoder that knows only plain MLP/conv decoders needs: one bias vector differs per class."""
    from dataclasses import replace

    from vae.models.model import VAE

    k = kind(model)
    if not k.by_class:
        raise ValueError("only label and class-prior models fold a class into a plain VAE")
    y = int(given(model, y).condition)  # checks the range
    plain = VAE(replace(model.config, conditional="none", num_classes=0))
    state = {
        n: v
        for n, v in model.state_dict().items()
        if not n.startswith(("encoder.label", "decoder.label")) and n != "prior_means"
    }
    plain.load_state_dict(state)
    dec, enc = _first_linear(plain.decoder), _first_linear(plain.encoder)
    if k.decoder_condition == "class":
        dec.bias += model.decoder.label.weight[:, y]
        enc.bias += model.encoder.label.weight[:, y]
    else:
        mu_y = model.prior_means[y]
        dec.bias += dec.weight @ mu_y
        plain.encoder.head.bias[: model.latent_dim] -= mu_y  # q's mean as the offset from mu_y
    return plain.eval()
