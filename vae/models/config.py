"""Settings for models and training, as plain dataclasses.

A model is rebuilt from its ModelConfig alone (the store writes it next to the weights), so every
constructor argument of vae.models.model.VAE lives here and nowhere else.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields

from vae import limits
from vae.models import kinds

ARCHS = ("mlp", "conv", "layers")  # "layers": an explicit layer list (imported models)
TRAIN_ARCHS = ("mlp", "conv")  # what a training run builds from its settings
# "logistic": a discretized logistic over 256 levels (PixelCNN++'s, one learned scale): a discrete
# likelihood of 8-bit pixels, so its log p(x) converts to bits per dimension with no dequantization
LIKELIHOODS = ("bernoulli", "gaussian", "logistic")
ACTIVATIONS = ("relu", "tanh", "elu", "gelu", "sigmoid")
MAX_WIDTH, MAX_LAYERS = 65_536, 32  # per layer and layers per network: beyond any real use here
CONDITIONALS = kinds.NAMES  # the model kinds (vae/models/kinds.py)
VISIBLE_PARTS = ("centre-column", "top-half", "left-half")  # what a completion model is given
OPTIMIZERS = ("adam", "rmsprop")
OUTPUTS = ("sigmoid", "identity", "tanh")  # what makes pixel means of a decoder's raw output


class ConfigError(ValueError):
    """A setting is out of range or unknown."""


def _sizes(name: str, values) -> tuple[int, ...]:
    """A tuple of whole numbers 0..MAX_WIDTH (at most MAX_LAYERS), or ConfigError: no strings,
    floats or booleans standing in for sizes."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ConfigError(f"{name} must be a list of whole numbers, got {values!r}")
    values = tuple(values)
    if len(values) > MAX_LAYERS or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= MAX_WIDTH for v in values
    ):
        raise ConfigError(
            f"{name} must be whole numbers between 0 and {MAX_WIDTH} (at most {MAX_LAYERS}), got {values!r}"[:300]
        )
    return tuple(int(v) for v in values)


_SCALARS = {"arch": str, "activation": str, "likelihood": str, "conditional": str, "output": str,
            "binarize_condition": bool, "signed": bool, "visible": (str, type(None)),
            "gaussian_std": (numbers.Real, type(None))}  # fmt: skip
_KIND_NAMES = {str: "text", bool: "true or false", (str, type(None)): "text or null",
               (numbers.Real, type(None)): "a number or null"}  # fmt: skip


@dataclass(frozen=True)
class ModelConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    latent_dim: int = 2  # 2 is the default because a 2-D latent is seen without a projection
    arch: str = "mlp"
    hidden: tuple[int, ...] = (512,)  # MLP hidden sizes, encoder order; the decoder mirrors them
    conv_channels: tuple[int, ...] = (32, 64)  # the Keras example: two stride-2 3x3 convolutions
    conv_dense: int = 16  # the Keras example's dense layer between convolutions and (mu, logvar)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    # Gaussian likelihood only: a fixed observation std, or None for one learned scalar std
    # (the "sigma-VAE" of Rybkin et al. 2021), which sets the reconstruction/KL balance itself.
    # The logistic likelihood always learns its one scale the same way.
    gaussian_std: float | None = None
    # The model kind (vae/models/conditional.py): "none" is the plain VAE; "label" feeds a one-hot class y
    # into the encoder and decoder (ELBO of p(x|y)); "completion" is conditioned on the visible part
    # of the image and models the rest (Doersch's CVAE); "prior" keeps the encoder and decoder
    # unconditional and learns a prior mean per class, p(z|y) = N(mu_y, I) (Su's CVAE).
    conditional: str = "none"
    num_classes: int = 0  # label and prior models: the number of classes (>= 2); 0 otherwise
    visible: str | None = None  # completion only: which part is given; None there = "centre-column"
    # completion only: sizes of the condition network; () there = (*hidden, hidden[-1]), which is
    # Doersch's 1000-500-250-250 for hidden 1000-500-250. Its second layer (pre-activation) is added
    # into the encoder's second layer, its last into the decoder's first, so those sizes must agree.
    condition_hidden: tuple[int, ...] = ()
    binarize_condition: bool = False  # completion only: Bernoulli-sample the visible pixels (Doersch)
    # arch "layers" only (models imported from elsewhere, vae/interop/): the encoder and decoder as
    # explicit layer lists (see vae/models/layers.py); the encoder ends in 2 * latent_dim outputs
    # (mu, then log-variance), the decoder in C*H*W values or a (C, H, W) image.
    encoder_layers: tuple = ()
    decoder_layers: tuple = ()
    # what turns the decoder's output into pixel means: "sigmoid" (the output is logits, as for every
    # model trained here), "identity" (the output is the mean itself) or "tanh" (a Tanh output layer,
    # as in DCGAN-style decoders); the last two for a Gaussian likelihood only
    output: str = "sigmoid"
    # arch "layers" only: the networks see data in [-1, 1] (x * 2 - 1 in, (mean + 1) / 2 out), while the
    # explorer shows and scores pictures in [0, 1]
    signed: bool = False

    def __post_init__(self) -> None:
        for name, kind in _SCALARS.items():  # a value of the wrong type (a list from a damaged model.json)
            value = getattr(self, name)
            if not isinstance(value, kind) or kind is not bool and isinstance(value, bool):
                raise ConfigError(f"{name} must be {_KIND_NAMES[kind]}, got {value!r}"[:200])
        object.__setattr__(self, "image_shape", _sizes("image_shape", self.image_shape))
        object.__setattr__(self, "hidden", _sizes("hidden", self.hidden))
        object.__setattr__(self, "conv_channels", _sizes("conv_channels", self.conv_channels))
        object.__setattr__(self, "condition_hidden", _sizes("condition_hidden", self.condition_hidden))
        for name in ("latent_dim", "conv_dense", "num_classes"):
            _sizes(name, (getattr(self, name),))
        if len(self.image_shape) != 3:
            raise ConfigError(f"image_shape must be (C, H, W), got {self.image_shape}")
        c, h, w = self.image_shape
        if c not in (1, 3) or h < 4 or w < 4 or h > 256 or w > 256:
            raise ConfigError(f"image_shape must be (1 or 3, 4..256, 4..256), got {self.image_shape}")
        if not 1 <= self.latent_dim <= limits.LATENT:
            raise ConfigError(f"latent_dim must be between 1 and {limits.LATENT} (VAE_LATENT), got {self.latent_dim}")
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.arch == "mlp" and (not self.hidden or min(self.hidden) < 1):
            raise ConfigError("an MLP needs at least one hidden layer of size >= 1")
        if self.arch == "conv" and (not self.conv_channels or min(self.conv_channels) < 1):
            raise ConfigError("a conv model needs at least one conv layer")
        if not 1 <= self.conv_dense <= MAX_WIDTH:
            raise ConfigError(f"conv_dense must be between 1 and {MAX_WIDTH}, got {self.conv_dense}")
        if self.gaussian_std is not None and self.likelihood != "gaussian":
            raise ConfigError("gaussian_std is for a Gaussian likelihood")
        if self.gaussian_std is not None and not (
            isinstance(self.gaussian_std, numbers.Real) and math.isfinite(self.gaussian_std) and self.gaussian_std > 0
        ):
            raise ConfigError(f"gaussian_std must be positive, got {self.gaussian_std}")
        self._check_layers()
        self._check_conditional()

    def _check_layers(self) -> None:
        if self.output not in OUTPUTS:
            raise ConfigError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        if self.output != "sigmoid" and self.likelihood != "gaussian":
            raise ConfigError(
                f"a decoder without a sigmoid gives Bernoulli logits: output {self.output!r} needs a Gaussian one"
            )
        if not isinstance(self.signed, bool) or self.signed and self.output == "sigmoid":
            raise ConfigError("signed (data in [-1, 1]) is true or false, and needs output 'identity' or 'tanh'")
        if self.arch != "layers":
            if self.encoder_layers or self.decoder_layers or self.output != "sigmoid" or self.signed:
                raise ConfigError("encoder_layers, decoder_layers, output and signed are for arch 'layers'")
            object.__setattr__(self, "encoder_layers", ())  # [] from JSON: tuples keep the config hashable
            object.__setattr__(self, "decoder_layers", ())
            return
        if self.conditional != "none":
            raise ConfigError("an imported (arch 'layers') model is unconditional")
        from vae.models.layers import check_stack, normalize  # the layer vocabulary lives there

        try:
            enc, dec = normalize(self.encoder_layers), normalize(self.decoder_layers)
            out = check_stack("encoder", enc, self.image_shape)
            out_dec = check_stack("decoder", dec, (self.latent_dim,))
        except ValueError as e:
            raise ConfigError(str(e)) from None
        object.__setattr__(self, "encoder_layers", enc)
        object.__setattr__(self, "decoder_layers", dec)
        if out != (2 * self.latent_dim,):
            raise ConfigError(
                f"the encoder must end in {2 * self.latent_dim} outputs (mu and log-variance "
                f"of {self.latent_dim} dimensions), it ends in {out}"
            )
        if out_dec not in ((math.prod(self.image_shape),), tuple(self.image_shape)):
            raise ConfigError(
                f"the decoder must end in the image, {tuple(self.image_shape)} or "
                f"{math.prod(self.image_shape)} values; it ends in {out_dec}"
            )

    def _check_conditional(self) -> None:
        kind = self.conditional
        if kind not in CONDITIONALS:
            raise ConfigError(f"conditional must be one of {CONDITIONALS}, got {kind!r}")
        if kind in ("label", "prior") and not 2 <= self.num_classes <= 1000:
            raise ConfigError(
                f"a {kind}-conditional model needs num_classes between 2 and 1000, got {self.num_classes}"
            )
        if kind in ("none", "completion") and self.num_classes != 0:
            raise ConfigError("num_classes is for conditional models (conditional 'label' or 'prior')")
        if kind in ("label", "completion") and self.arch != "mlp":
            raise ConfigError(f"a {kind}-conditional model is an MLP (arch 'mlp'), got {self.arch!r}")
        if kind != "completion":
            if self.visible is not None or self.condition_hidden or self.binarize_condition:
                raise ConfigError(
                    "visible, condition_hidden and binarize_condition are for conditional 'completion' models"
                )
            return
        object.__setattr__(self, "visible", self.visible or "centre-column")
        if self.visible not in VISIBLE_PARTS:
            raise ConfigError(f"visible must be one of {VISIBLE_PARTS}, got {self.visible!r}")
        sizes = tuple(int(h) for h in self.condition_hidden) or (*self.hidden, self.hidden[-1])
        object.__setattr__(self, "condition_hidden", sizes)
        tap = min(2, len(self.hidden), len(sizes))  # the encoder layer the condition is added into
        if min(sizes) < 1 or sizes[-1] != self.hidden[-1] or sizes[tap - 1] != self.hidden[tap - 1]:
            raise ConfigError(
                f"condition_hidden {sizes}: its layer {tap} must have the size of the "
                f"encoder's layer {tap} ({self.hidden[tap - 1]}) and its last layer the "
                f"size of the decoder's first ({self.hidden[-1]})"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a model config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model settings: {sorted(unknown, key=str)}")
        return cls(**d)

    def describe(self) -> str:
        """A short human label, e.g. 'mlp 784-512-2 bernoulli'."""
        c, h, w = self.image_shape
        if self.arch == "layers":
            from vae.models.layers import describe

            return (
                f"imported encoder {describe(self.encoder_layers, heads=self.latent_dim)} (μ + log σ²), "
                f"decoder {describe(self.decoder_layers)}, latent {self.latent_dim} {self.likelihood}"
            )
        body = (
            "-".join(str(n) for n in (c * h * w, *self.hidden))
            if self.arch == "mlp"
            else f"conv{'-'.join(map(str, self.conv_channels))}"
        )
        kind = {
            "none": "",
            "label": f" label-CVAE ({self.num_classes} classes)",
            "completion": f" completion-CVAE ({self.visible})",
            "prior": f" class-prior ({self.num_classes} classes)",
        }[self.conditional]
        return f"{self.arch} {body}-{self.latent_dim} {self.likelihood}{kind}"

    @property
    def kind(self) -> kinds.Kind:
        """The model kind, which answers what the loop, the pages and export need to know of it."""
        return kinds.of(self.conditional)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0  # weight on the KL term; 1 is the true ELBO
    warmup_epochs: float = 0.0  # KL warm-up: beta rises linearly from 0 over this many epochs
    seed: int = 0
    binarize: bool = False  # dynamic binarization: resample Bernoulli pixels every epoch
    iw_samples: int = 1  # K > 1 trains on the importance-weighted bound (IWAE); 1 is the ELBO
    patience: int | None = None  # early stopping after this many epochs without val improvement
    weight_decay: float = 0.0
    grad_clip: float | None = None
    lr_decay: float = 1.0  # multiply the learning rate by this after every epoch
    # adam, or rmsprop with Keras/TensorFlow's decay rho = 0.9 (the tflearn and Su Jianlin recipes)
    optimizer: str = "adam"
    extra: dict = field(default_factory=dict)  # free-form notes stored with the run

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.beta < 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if self.iw_samples < 1:
            raise ConfigError(f"iw_samples must be >= 1, got {self.iw_samples}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1, got {self.patience}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
