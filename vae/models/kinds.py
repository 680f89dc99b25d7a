"""The model kinds, each answering for itself what the rest of the program asks of it.

A kind is named by ModelConfig.conditional and read as `config.kind`. The training loop, the
encoding of a dataset, export, the browser decoder and the pages ask a kind (does it need class
labels? what does its encoder or decoder take besides z? what is its bound of?) instead of
comparing names. Adding a kind: its network in conditional.py, its class in registry.KINDS, and
one entry here.

- none:       the plain VAE, p(x) = integral of p(x|z) p(z) dz.
- label:      a one-hot class y into the encoder and the decoder: the ELBO of p(x|y).
- completion: conditioned on a visible part of the image, it models the rest (Doersch's CVAE).
- prior:      encoder and decoder unconditional; a prior mean per class, p(z|y) = N(mu_y, I) (Su's CVAE).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str  # the value of ModelConfig.conditional
    title: str  # what a person calls it
    choice: str  # how the Train form offers it
    bound: str  # what its likelihood (and its importance-weighted bound) is of
    by_class: bool  # conditioned on a class y: training needs labels, decoding needs a class
    encoder_condition: str | None  # what q(z|x, .) takes besides x: "class", "part" or None
    decoder_condition: str | None  # what p(x|z, .) takes besides z: "class", "part" or None
    about: str  # one paragraph for the pages
    class_prior: bool = False  # a learned prior mean per class: z = mu_y + eps

    @property
    def conditional(self) -> bool:
        """Anything but the plain VAE: its networks or its prior take a condition."""
        return self.name != "none"

    @property
    def by_part(self) -> bool:
        """Conditioned on a visible part of the image (a test image supplies it)."""
        return self.encoder_condition == "part"

    @property
    def plain_networks(self) -> bool:
        """Its encoder and decoder take nothing but x and z (a class prior changes only p(z)): the
        pages that show a plain VAE show it too."""
        return self.encoder_condition is None and self.decoder_condition is None

    @property
    def exportable(self) -> bool:
        """Its encoder and decoder run on an image and a z alone (ONNX, plain tensors)."""
        return not self.conditional


PLAIN = Kind(
    "none",
    "VAE",
    "plain VAE",
    "log p(x)",
    by_class=False,
    encoder_condition=None,
    decoder_condition=None,
    about="a plain VAE: z ~ N(0, I) is decoded alone.",
)
LABEL = Kind(
    "label",
    "label-conditional VAE",
    "label-conditional (one-hot y in)",
    "log p(x|y)",
    by_class=True,
    encoder_condition="class",
    decoder_condition="class",
    about="a **label-conditional VAE**: the decoder is given the class y as well as z, so z only "
    "has to hold the style (slant, thickness). Pick a class, move z.",
)
COMPLETION = Kind(
    "completion",
    "completion CVAE",
    "completion (visible part given)",
    "log p(rest | visible)",
    by_class=False,
    encoder_condition="part",
    decoder_condition="part",
    about="a **completion CVAE** (Doersch's tutorial): it is given part of an image and draws the "
    "rest; z chooses one of the many plausible completions. Pick a test image, move z.",
)
PRIOR = Kind(
    "prior",
    "class-prior VAE",
    "class prior N(mu_y, I)",
    "log p(x|y)",
    by_class=True,
    encoder_condition=None,
    decoder_condition=None,
    about="a **class-prior VAE** (Su Jianlin's CVAE): each class y has its own prior N(μ_y, I). Pick a "
    "class; the sliders move z around its prior mean, z = μ_y + ε.",
    class_prior=True,
)
KINDS = {k.name: k for k in (PLAIN, LABEL, COMPLETION, PRIOR)}
NAMES = tuple(KINDS)  # ModelConfig.conditional's allowed values


def of(name: str) -> Kind:
    return KINDS[name]
