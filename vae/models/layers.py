"""Models as explicit layer lists (arch "layers"): the vocabulary imported models are written in.

A layer is a tuple: ("linear", in, out), ("conv", in, out, k, stride, padding),
("conv_transpose", in, out, k, stride, padding, output_padding), ("act", fn[, params...]),
("affine", C) (a per-channel scale and shift: an eval-mode BatchNorm nothing could be folded into),
("upsample", factor, "nearest" | "bilinear") (integer factors, torch's align_corners=False),
("flatten",), ("unflatten", C, H, W). An activation's parameters (LeakyReLU's slope, ELU's alpha,
Softplus's beta, Hardtanh's range) follow its name and are left out where they are the defaults, so
("act", "leaky_relu") is LeakyReLU(0.01). `build` turns a list into an nn.Sequential with the same
indices, so the state dict of a `sequential` model (encoder.0.weight, ...) maps onto it one to one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

FUNCTIONS = {  # name -> the torch module, made from the parameters in PARAMS' order
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": lambda alpha=1.0: nn.ELU(alpha),
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": lambda slope=0.01: nn.LeakyReLU(slope),
    "softplus": lambda beta=1.0: nn.Softplus(beta),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "hardtanh": lambda low=-1.0, high=1.0: nn.Hardtanh(low, high),
}
PARAMS = {"elu": (1.0,), "leaky_relu": (0.01,), "softplus": (1.0,), "hardtanh": (-1.0, 1.0)}  # their defaults
ARITY = {"linear": 2, "conv": 5, "conv_transpose": 6, "act": 1, "flatten": 0, "unflatten": 3, "affine": 1}
ARITY["upsample"] = 2
UPSAMPLING = ("nearest", "bilinear")
MAX_LAYERS = 64
MAX_SIZE = 1 << 20  # channels, features, kernel, stride and padding are each far below this
MAX_UPSAMPLE = 16


def activation(fn: str, *params) -> tuple:
    """An activation layer, its parameters checked (ValueError) and left out where they are the defaults."""
    if fn not in FUNCTIONS:
        raise ValueError(f"unknown activation {fn!r}; known: {', '.join(sorted(FUNCTIONS))}")
    defaults = PARAMS.get(fn, ())
    if len(params) > len(defaults) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in params
    ):
        raise ValueError(f"{fn} takes {len(defaults)} finite number(s) {defaults}, got {list(params)!r}"[:200])
    full = tuple(float(v) for v in params) + defaults[len(params) :]
    if fn == "softplus" and full[0] <= 0 or fn == "hardtanh" and full[0] >= full[1]:
        raise ValueError(f"{fn}{full}: Softplus needs beta > 0, Hardtanh low < high")
    return ("act", fn) if full == defaults else ("act", fn, *full)


def act_name(layer: tuple) -> str:
    """How an activation layer reads: 'leaky_relu(0.2)', 'relu'."""
    return f"{layer[1]}({', '.join(f'{v:g}' for v in layer[2:])})" if len(layer) > 2 else layer[1]


class ChannelAffine(nn.Module):
    """y = x * weight[c] + bias[c] per channel (dim 1) of (B, C) or (B, C, H, W): an eval-mode
    BatchNorm whose statistics are already folded into its scale and shift."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.weight.view(shape) + self.bias.view(shape)


def normalize(layers) -> tuple:
    """Lists from JSON -> tuples, every layer's name and arity checked (ValueError otherwise)."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise ValueError(f"a layer list must be a list, got {type(layers).__name__}")
    out = []
    for i, layer in enumerate(layers):
        if isinstance(layer, (str, bytes)) or not hasattr(layer, "__iter__") or not len(layer := tuple(layer)):
            raise ValueError(f"layer {i} must be a list like ['linear', 784, 400], got {layer!r}"[:200])
        kind, args = layer[0], layer[1:]
        arity_ok = kind in ARITY and (len(args) == ARITY[kind] or kind == "act" and 1 <= len(args) <= 3)
        if not arity_ok:
            raise ValueError(f"layer {i}: {layer!r} is not one of {sorted(ARITY)} with its sizes"[:200])
        if kind == "act":
            try:
                out.append(activation(*args))
            except (ValueError, TypeError) as e:
                raise ValueError(f"layer {i}: {e}") from None
            continue
        if kind == "upsample":
            if args[1] not in UPSAMPLING or not (isinstance(args[0], int) and 1 <= args[0] <= MAX_UPSAMPLE):
                need = f"a whole factor 1..{MAX_UPSAMPLE} and one of {UPSAMPLING}"
                raise ValueError(f"layer {i}: upsample takes {need}, got {layer!r}"[:200])
        elif not all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a <= MAX_SIZE for a in args):
            raise ValueError(f"layer {i}: sizes must be whole numbers 0..{MAX_SIZE}, got {layer!r}"[:200])
        out.append((kind, *args))
    if not out or len(out) > MAX_LAYERS:
        raise ValueError(f"a layer list needs 1 to {MAX_LAYERS} layers, got {len(out)}")
    return tuple(out)


def _conv_out(n: int, k: int, s: int, p: int, op: int = 0, transposed: bool = False) -> int:
    return (n - 1) * s - 2 * p + k + op if transposed else (n + 2 * p - k) // s + 1


def check_stack(role: str, layers: tuple, shape: tuple) -> tuple:
    """The output shape of `layers` on an input of `shape` ((n,) or (C, H, W)); ValueError naming the
    layer when the sizes do not chain."""
    shape = tuple(shape)
    for i, (kind, *a) in enumerate(layers):
        where = f"{role} layer {i} ({kind})"
        if kind == "linear":
            if i == 0 and len(shape) == 3:  # an MLP encoder flattens the image first
                shape = (math.prod(shape),)
            if shape != (a[0],):
                raise ValueError(f"{where} takes {a[0]} inputs, gets {shape}")
            shape = (a[1],)
        elif kind in ("conv", "conv_transpose"):
            t = kind == "conv_transpose"
            if len(shape) != 3 or shape[0] != a[0]:
                raise ValueError(f"{where} takes {a[0]} channels, gets {shape}")
            if a[2] < 1 or a[3] < 1:
                raise ValueError(f"{where}: kernel and stride must be at least 1")
            op = a[5] if t else 0
            h, w = (_conv_out(n, a[2], a[3], a[4], op, t) for n in shape[1:])
            if h < 1 or w < 1:
                raise ValueError(f"{where}: the image shrinks to nothing ({h}x{w})")
            shape = (a[1], h, w)
        elif kind == "affine":
            if shape[0] != a[0]:
                raise ValueError(f"{where} scales {a[0]} channels, gets {shape}")
        elif kind == "upsample":
            if len(shape) != 3:
                raise ValueError(f"{where} enlarges an image, gets {shape}")
            shape = (shape[0], shape[1] * a[0], shape[2] * a[0])
        elif kind == "flatten":
            shape = (math.prod(shape),)
        elif kind == "unflatten":
            if shape != (math.prod(a),):
                raise ValueError(f"{where} to {tuple(a)} needs {math.prod(a)} values, gets {shape}")
            shape = tuple(a)
        if math.prod(shape) > 1 << 26:
            raise ValueError(f"{where}: an activation of {math.prod(shape):,} values is too large")
    return shape


def build(layers: tuple) -> list[nn.Module]:
    """The torch modules of a checked layer list, one per layer (so indices match)."""
    out: list[nn.Module] = []
    for kind, *a in layers:
        if kind == "linear":
            out.append(nn.Linear(a[0], a[1]))
        elif kind == "conv":
            out.append(nn.Conv2d(a[0], a[1], a[2], stride=a[3], padding=a[4]))
        elif kind == "conv_transpose":
            out.append(nn.ConvTranspose2d(a[0], a[1], a[2], stride=a[3], padding=a[4], output_padding=a[5]))
        elif kind == "act":
            out.append(FUNCTIONS[a[0]](*a[1:]))
        elif kind == "affine":
            out.append(ChannelAffine(a[0]))
        elif kind == "upsample":
            out.append(nn.Upsample(scale_factor=a[0], mode=a[1]))
        elif kind == "flatten":
            out.append(nn.Flatten())
        else:
            out.append(nn.Unflatten(1, tuple(a)))
    return out


def describe(layers: tuple, heads: int | None = None) -> str:
    """'784-400-40' for an MLP, 'conv32-64' style for convolutions. heads: an encoder whose last
    linear layer holds mu and log-variance side by side, each of this size: '784-400-(2+2)' rather
    than a latent of 4."""
    sizes = [str(a[1]) for kind, *a in layers if kind == "linear"]
    if heads and sizes:
        sizes[-1] = f"({heads}+{heads})"
    first = next((a[0] for kind, *a in layers if kind == "linear"), None)
    convs = [str(a[1]) for kind, *a in layers if kind in ("conv", "conv_transpose")]
    text = "-".join(([str(first)] if first is not None and not convs else []) + sizes)
    return (f"conv{'-'.join(convs)}" + (f"+{text}" if text else "")) if convs else text


class StackEncoder(nn.Sequential):
    """x (B, C, H, W) -> (B, 2 * latent_dim): mu then log-variance."""

    def __init__(self, layers: tuple, image_shape: tuple):
        super().__init__(*build(layers))
        self.flat_input = layers[0][0] == "linear" and len(image_shape) == 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1) if self.flat_input else x)


class StackDecoder(nn.Sequential):
    """z (B, latent_dim) -> (B, C, H, W), the raw output (logits, or the mean for output 'identity')."""

    def __init__(self, layers: tuple, image_shape: tuple):
        super().__init__(*build(layers))
        self.image_shape = tuple(image_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z).reshape(-1, *self.image_shape)
