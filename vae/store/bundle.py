"""What the browser needs to decode by itself: a model's decoder as a list of plain layers with
float32 weights, and the byte format they travel in.

The format is safetensors (8-byte little-endian header length, a JSON header, raw little-endian
arrays), the same as the store's model files, with our JSON in the header's __metadata__ "meta"
entry. ui/components/decoder.js reads it (parseBundle) and runs the layers (buildDecoder):

    linear {w, b, in, out}      y = W x + b, W (out, in) as torch stores it
    act {fn[, params]}          relu | tanh | elu(alpha) | sigmoid | gelu (exact erf form) | gelu_tanh |
                                leaky_relu(slope) | softplus(beta) | silu | mish | hardtanh(low, high)
    affine {w, b, channels}     y = x * w[c] + b[c] per channel (an eval-mode BatchNorm kept as a layer)
    upsample {factor, mode}     nn.Upsample, integer factor, nearest or bilinear (align_corners=False)
    unsign                      (x + 1) / 2: a model whose data live in [-1, 1] -> pixel means in [0, 1]
    reshape {shape}             (C, H, W), a no-op on the flat buffer
    conv_transpose {w, b, ...}  ConvTranspose2d, weight (in, out, k, k), stride/padding/output_padding
    conv {w, b, ...}            Conv2d, weight (out, in, k, k), stride 1
    crop {shape}                keep the top-left (C, H, W)
    sigmoid                     logits -> pixel means in [0, 1] (VAE.output_mean)

The decoder's input is [z, extra]: `extra` is an optional fixed vector the page supplies and the
browser appends to z before the first layer (a conditional decoder's one-hot label, for example:
its first Linear then takes latent_dim + len(extra) inputs). `decoder_layers` reports the input
size it found, so a caller can check len(z) + len(extra) against it. A label CVAE
(vae/models/conditional.py) adds its one-hot y through a bias-free Linear `decoder.label` into the first
layer's output; that equals one Linear over [z, one_hot(y)] with the two weights side by side, so
its bundle is exactly that, and a class change in the browser changes only `extra`. A class-prior
model's decoder is the plain one; a completion model's needs its condition network and the visible
pixels pasted back, so it is refused (it decodes on the server).

Nothing here imports streamlit; torch is only read (the model is not modified).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import safetensors.numpy
from torch import nn

from vae.models.model import VAE

_ACTS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.ELU: "elu", nn.Sigmoid: "sigmoid", nn.Softplus: "softplus"}


class BundleError(ValueError):
    """The model has a layer the browser decoder does not implement."""


def _array(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))


def _layer(m: nn.Module, name: str, arrays: dict) -> list[dict]:
    """One torch module -> layer dicts (weights added to `arrays` under name.w / name.b)."""

    def weights(**spec) -> dict:
        arrays[f"{name}.w"] = _array(m.weight)
        bias = m.bias if m.bias is not None else m.weight.new_zeros(spec["out"])
        arrays[f"{name}.b"] = _array(bias)
        return {"w": f"{name}.w", "b": f"{name}.b", **spec}

    if isinstance(m, nn.Sequential):
        return [x for i, child in enumerate(m) for x in _layer(child, f"{name}.{i}", arrays)]
    if isinstance(m, nn.Linear):
        return [{"op": "linear", **weights(**{"in": m.in_features, "out": m.out_features})}]
    if type(m) in _ACTS and (not isinstance(m, nn.ELU) or m.alpha == 1.0):
        return [{"op": "act", "fn": _ACTS[type(m)]}]
    if isinstance(m, nn.GELU):
        return [{"op": "act", "fn": "gelu" if m.approximate == "none" else "gelu_tanh"}]
    if isinstance(m, nn.ConvTranspose2d) and m.groups == 1 and m.dilation == (1, 1):
        k, s, p, op = m.kernel_size[0], m.stride[0], m.padding[0], m.output_padding[0]
        if (k, s, p, op) != (m.kernel_size[1], m.stride[1], m.padding[1], m.output_padding[1]):
            raise BundleError(f"{name}: only square transposed convolutions run in the browser")
        return [
            {
                "op": "conv_transpose",
                **weights(**{"in": m.in_channels, "out": m.out_channels}),
                "k": k,
                "stride": s,
                "padding": p,
                "output_padding": op,
            }
        ]
    if (
        isinstance(m, nn.Conv2d)
        and m.groups == 1
        and m.stride == (1, 1)
        and m.dilation == (1, 1)
        and m.kernel_size[0] == m.kernel_size[1]
        and m.padding[0] == m.padding[1]
    ):
        return [
            {
                "op": "conv",
                **weights(**{"in": m.in_channels, "out": m.out_channels}),
                "k": m.kernel_size[0],
                "padding": m.padding[0],
            }
        ]
    raise BundleError(f"{name}: a {type(m).__name__} layer cannot run in the browser yet")


def decoder_layers(model: VAE) -> tuple[dict, dict[str, np.ndarray]]:
    """A model's decoder -> (spec, arrays): spec = {"layers": [...], "input": n_in, "output":
    [C, H, W]}, arrays = float32 weights by name. Raises BundleError for a decoder the browser
    cannot run (then the page decodes on the server)."""
    if model.config.kind.decoder_condition == "part":
        raise BundleError(
            "a completion model decodes with its condition network and pastes the visible pixels back, on the server"
        )
    dec, arrays = model.decoder, {}
    shape = list(model.config.image_shape)
    kind = type(dec).__name__
    if kind == "MLPDecoder":
        layers = _layer(dec.body, "body", arrays) + _layer(dec.out, "out", arrays)
    elif kind == "StackDecoder":
        layers = _stack(dec, model.config, arrays)
    elif kind == "ConvDecoder":
        layers = (
            _layer(dec.dense, "dense", arrays)
            + [{"op": "reshape", "shape": list(dec.grid)}]
            + _layer(dec.body, "body", arrays)
            + [{"op": "crop", "shape": shape}]
        )
    else:
        raise BundleError(f"a {kind} cannot run in the browser yet")
    first = layers[0]
    if first["op"] != "linear":
        raise BundleError("the decoder must start with a Linear layer")
    if model.config.kind.decoder_condition == "class":
        _join_label(first, dec.label, arrays)
    tail = {"sigmoid": [{"op": "sigmoid"}], "tanh": [{"op": "act", "fn": "tanh"}]}.get(model.config.output, [])
    tail += [{"op": "unsign"}] if model.config.signed else []
    return {"layers": layers + tail, "input": first["in"], "output": shape}, arrays


def _stack(dec: nn.Sequential, config, arrays: dict) -> list[dict]:
    """An imported decoder (vae/models/layers.py) -> bundle layers; the browser reads images
    channels-last after a reshape, so it takes no flatten after an image, and only stride-1 convs."""
    layers, image = [], False
    for i, (spec, m) in enumerate(zip(config.decoder_layers, dec)):
        kind = spec[0]
        if kind == "unflatten":
            layers.append({"op": "reshape", "shape": list(spec[1:])})
            image = True
        elif kind == "flatten":
            if image:
                raise BundleError(f"decoder layer {i}: a flatten after an image cannot run in the browser yet")
        elif kind == "conv" and spec[4] != 1:
            raise BundleError(f"decoder layer {i}: a strided convolution cannot run in the browser yet")
        elif kind == "linear" and image:
            raise BundleError(f"decoder layer {i}: a linear layer after an image cannot run in the browser yet")
        elif kind == "act":
            layers.append({"op": "act", "fn": spec[1], **({"params": list(spec[2:])} if len(spec) > 2 else {})})
        elif kind == "affine":
            arrays[f"{i}.w"], arrays[f"{i}.b"] = _array(m.weight), _array(m.bias)
            layers.append({"op": "affine", "w": f"{i}.w", "b": f"{i}.b", "channels": spec[1]})
        elif kind == "upsample":
            if not image:
                raise BundleError(
                    f"decoder layer {i}: an upsample before the image is shaped cannot run in the browser"
                )
            layers.append({"op": "upsample", "factor": spec[1], "mode": spec[2]})
        else:
            layers += _layer(m, str(i), arrays)
    return layers


def _join_label(first: dict, label: nn.Linear, arrays: dict) -> None:
    """W z + b + L y  ==  [W | L] [z, y] + b (+ L's bias, if it has one): one Linear over [z, one_hot(y)]."""
    arrays[first["w"]] = np.ascontiguousarray(np.concatenate([arrays[first["w"]], _array(label.weight)], 1))
    if label.bias is not None:
        arrays[first["b"]] = arrays[first["b"]] + _array(label.bias)
    first["in"] += label.in_features


def pack(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """Arrays (float32 or uint8) and a JSON-able dict -> safetensors bytes (meta in __metadata__)."""
    return safetensors.numpy.save(
        {k: np.ascontiguousarray(v) for k, v in arrays.items()},
        metadata={"meta": json.dumps(meta, separators=(",", ":"))},
    )


def unpack(blob: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """pack's inverse (for tests and tools): (arrays, meta)."""
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + header_len])
    meta = json.loads((header.get("__metadata__") or {}).get("meta", "{}"))
    return safetensors.numpy.load(blob), meta


def digest(arrays: dict[str, np.ndarray], meta: dict) -> str:
    """A content id: the first 16 hex digits of the SHA-256 of pack(arrays, meta). Equal parts get
    equal ids, so a browser that stored one under its id never needs it sent again."""
    return hashlib.sha256(pack(arrays, meta)).hexdigest()[:16]
