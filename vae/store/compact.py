"""The browser decoder's weights made small enough to arrive fast: each weight matrix as int8 with
one float32 scale per row, or as float16, whichever is smallest while the decoded images stay
within 1/255 (one grey level) of the float32 decode on a grid of z.

    encode(spec, arrays, latent_dim) -> (arrays, report)

The arrays keep their names; an int8 matrix `X` gets `X.scale` (float32, one per row: the first
axis, an output unit of a Linear, an input channel of a ConvTranspose2d, an output channel of a
Conv2d), so W = X * scale[row]. Biases stay float32 (they are a few kB). ui/components/decoder.js
(dequantize) turns them back into float32 before it builds the decoder.

The check decodes the grid with `run`, a torch implementation of the bundle's layer list
(vae/store/bundle.py), once with the float32 arrays and once with the encoded ones dequantized,
and compares the pixel means clipped to [0, 1] as they are drawn. The grid: 11 x 11 points over the
pad's range [-4, 4]^2 for a 2-D latent, 41 points on [-4, 4] for 1-D, and 121 points drawn
uniformly from [-4, 4]^d (seeded) above; a conditional decoder's `extra` (a one-hot label) cycles
through its classes over the grid.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vae.models.layers import FUNCTIONS

TOLERANCE = 1 / 255  # the largest pixel difference allowed: one grey level of an 8-bit image
LIMIT = 4.0  # the grid's range, the Playground pad's (in prior standard deviations)
ENCODINGS = ("int8", "float16", "float32")  # tried in this order, smallest first


def run(spec: dict, arrays: dict[str, np.ndarray], z: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """Decode rows of z ([z, extra] per row) with a bundle's layer list: (n, C, H, W) pixel means
    (float32, as torch decodes: a grey level is 0.004, float32's rounding ~1e-7)."""
    x = torch.as_tensor(np.asarray(z, dtype=np.float32))
    if extra is not None:
        x = torch.cat([x, torch.as_tensor(np.asarray(extra, dtype=np.float32))], 1)
    w = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in arrays.items()}
    for layer in spec["layers"]:
        op = layer["op"]
        if op == "linear":
            x = F.linear(x, w[layer["w"]], w[layer["b"]])
        elif op == "act":
            x = FUNCTIONS[layer["fn"]](*layer.get("params", ()))(x)
        elif op == "sigmoid":
            x = torch.sigmoid(x)
        elif op == "unsign":
            x = (x + 1) / 2
        elif op == "affine":
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * w[layer["w"]].view(shape) + w[layer["b"]].view(shape)
        elif op == "upsample":
            x = F.interpolate(x, scale_factor=layer["factor"], mode=layer["mode"])
        elif op == "reshape":
            x = x.reshape(len(x), *layer["shape"])
        elif op == "conv_transpose":
            x = F.conv_transpose2d(
                x,
                w[layer["w"]],
                w[layer["b"]],
                stride=layer["stride"],
                padding=layer["padding"],
                output_padding=layer["output_padding"],
            )
        elif op == "conv":
            x = F.conv2d(x, w[layer["w"]], w[layer["b"]], padding=layer["padding"])
        elif op == "crop":
            c, h, wd = layer["shape"]
            x = x[:, :c, :h, :wd]
        else:
            raise ValueError(f"unknown layer {op}")
    return x.reshape(len(x), *spec["output"]).numpy()


def grid(latent_dim: int, n_extra: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """The z grid the check decodes (see the module docstring), and the extra vectors beside it."""
    if latent_dim == 1:
        z = np.linspace(-LIMIT, LIMIT, 41)[:, None]
    elif latent_dim == 2:
        a = np.linspace(-LIMIT, LIMIT, 11)
        z = np.stack(np.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)
    else:
        z = np.random.default_rng(0).uniform(-LIMIT, LIMIT, size=(121, latent_dim))
    extra = np.eye(n_extra)[np.arange(len(z)) % n_extra] if n_extra else None
    return z, extra


def int8_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w -> (q int8, scale float32 per first-axis row) with w ~ q * scale[row], |q| <= 127."""
    rows = w.reshape(len(w), -1).astype(np.float64)
    top = np.abs(rows).max(1)
    scale = np.where(top > 0, top / 127, 1.0)
    q = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale.astype(np.float32)


def _matrices(spec: dict) -> list[str]:
    return [layer["w"] for layer in spec["layers"] if "w" in layer]


def _encoded(arrays: dict, names: list[str], encoding: str) -> dict:
    out = dict(arrays)
    for name in names:
        if encoding == "int8":
            out[name], out[f"{name}.scale"] = int8_rows(arrays[name])
        elif encoding == "float16":
            with np.errstate(over="ignore"):  # past 65,504 becomes inf, and the check refuses it
                out[name] = arrays[name].astype(np.float16)
    return out


def decoded(arrays: dict) -> dict[str, np.ndarray]:
    """Encoded arrays -> float32 ones (what decoder.js does on arrival): int8 * scale, float16 widened."""
    out = {}
    for name, a in arrays.items():
        if name.endswith(".scale") and name[:-6] in arrays:
            continue
        if a.dtype == np.int8:
            scale = arrays[f"{name}.scale"]
            out[name] = (a.reshape(len(a), -1).astype(np.float32) * scale[:, None]).reshape(a.shape)
        else:
            out[name] = a.astype(np.float32)
    return out


def encode(spec: dict, arrays: dict[str, np.ndarray], latent_dim: int) -> tuple[dict[str, np.ndarray], dict]:
    """The smallest encoding of the weight matrices that decodes the grid within TOLERANCE of float32
    (float32 itself if none does). Report: encoding, max_error (on the grid), bytes, float32_bytes."""
    names = _matrices(spec)
    z, extra = grid(latent_dim, spec["input"] - latent_dim)
    reference = np.clip(run(spec, arrays, z, extra), 0, 1)
    full = sum(a.nbytes for a in arrays.values())
    for encoding in ENCODINGS:
        out = _encoded(arrays, names, encoding)
        error = float(np.abs(np.clip(run(spec, decoded(out), z, extra), 0, 1) - reference).max())
        if error <= TOLERANCE or encoding == "float32":
            return out, {
                "encoding": encoding,
                "max_error": error,
                "bytes": sum(a.nbytes for a in out.values()),
                "float32_bytes": full,
                "grid": len(z),
            }
    raise AssertionError("unreachable: float32 is always accepted")
