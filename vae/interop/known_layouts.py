"""Layouts of public VAE code, recognised by their tensor names and shapes alone, written as layout
maps (vae/interop/layouts.py): nothing but the state dict is read, no class is imported.

- vanilla-vae: AntixK/PyTorch-VAE's VanillaVAE (models/vanilla_vae.py). Encoder: blocks
  encoder.{i} = Conv2d(3x3, stride 2, padding 1) + BatchNorm2d + LeakyReLU; fc_mu, fc_var (the
  log-variance) on the flattened 2x2 grid. Decoder: decoder_input (Linear) viewed as (C, 2, 2) with no
  activation, blocks decoder.{i} = ConvTranspose2d(3x3, stride 2, padding 1, output padding 1) +
  BatchNorm2d + LeakyReLU, final_layer = the same transposed block, then Conv2d(3x3, padding 1) and
  Tanh. Hidden sizes, the latent size and the image size (2 * 2^blocks: 64 for the default five) come
  from the shapes; the data live in [-1, 1].
- pythae-mlp: pythae's default networks (pythae.models.nn.default_architectures): encoder.layers.0.0
  (Linear to 512) + ReLU, encoder.embedding (mu), encoder.log_var; decoder.layers.0.0 + ReLU,
  decoder.layers.1.0 + Sigmoid.
- pythae-conv-mnist: pythae's MNIST benchmark networks (pythae.models.nn.benchmarks.mnist
  Encoder_Conv_VAE_MNIST / Decoder_Conv_AE_MNIST): four Conv2d(4x4, stride 2, padding 1) + BatchNorm2d
  + ReLU blocks, embedding and log_var on the 1x1 grid; decoder.layers.0 (Linear) viewed as (1024, 4, 4)
  with no activation, ConvTranspose2d blocks (3x3, stride 2, padding 1, output padding 0 then 1, 1)
  with BatchNorm2d + ReLU, a Sigmoid; (1, 28, 28).
- dcgan: encoder.N / decoder.N stacks of 4x4 convolutions with BatchNorm, as DCGAN builds them: a
  LeakyReLU(0.2) between the encoder's layers, a ReLU between the decoder's, a Tanh at the end (data
  in [-1, 1]); the heads named like fc_mu / fc_logvar. Read through the sequential layout's search
  for strides and paddings.

Each recogniser returns (map, image shape or None, facts): what it read from the names and shapes.
"""

from __future__ import annotations

import math
import re

from vae.interop import layouts
from vae.store.modelfiles import StoreError

NAMES = ("vanilla-vae", "pythae-mlp", "pythae-conv-mnist", "dcgan")
DESCRIPTIONS = {
    "vanilla-vae": "AntixK/PyTorch-VAE's VanillaVAE",
    "pythae-mlp": "pythae's default MLP networks",
    "pythae-conv-mnist": "pythae's MNIST benchmark conv networks",
    "dcgan": "a DCGAN-style conv stack",
}


def _blocks(found: set, part: str) -> list[int]:
    """The indices i with a `part.i.0` (a weighted layer) and `part.i.1` (a BatchNorm), in order."""
    idx = sorted(int(m.group(1)) for p in found if (m := re.fullmatch(rf"{part}\.(\d+)\.0", p)))
    return [i for i in idx if f"{part}.{i}.1" in found]


def _need(found: set, names: set, layout: str) -> None:
    missing = sorted(names - found)
    if missing:
        raise StoreError(f"not the {layout} layout: it needs {', '.join(missing[:4])}")


def vanilla_vae(tensors: dict) -> tuple[dict, tuple, list[str]]:
    found = set(layouts.prefixes(tensors))
    _need(found, {"fc_mu", "fc_var", "decoder_input", "final_layer.0", "final_layer.1", "final_layer.3"}, "vanilla-vae")
    enc, dec = _blocks(found, "encoder"), _blocks(found, "decoder")
    if not enc or enc != list(range(len(enc))) or dec != list(range(len(dec))):
        raise StoreError("not the vanilla-vae layout: encoder.{i}.0 / .1 blocks numbered from 0 are missing")
    in_channels = tensors["encoder.0.0.weight"].shape[1]
    last = tensors[f"encoder.{enc[-1]}.0.weight"].shape[0]
    if tensors["fc_mu.weight"].shape[1] != last * 4:
        raise StoreError(f"vanilla-vae: fc_mu takes {tensors['fc_mu.weight'].shape[1]} values, not {last} x 2 x 2")
    first = tensors["decoder.0.0.weight"].shape[0] if dec else tensors["final_layer.0.weight"].shape[0]
    side = math.isqrt(tensors["decoder_input.weight"].shape[0] // first)
    leaky = ["act", "leaky_relu"]
    encoder = [x for i in enc for x in (["conv", f"encoder.{i}.0", 2, 1], ["batchnorm", f"encoder.{i}.1"], leaky)]
    decoder = [["linear", "decoder_input"], ["unflatten", first, side, side]]
    decoder += [
        x for i in dec for x in (["conv_transpose", f"decoder.{i}.0", 2, 1, 1], ["batchnorm", f"decoder.{i}.1"], leaky)
    ]
    decoder += [["conv_transpose", "final_layer.0", 2, 1, 1], ["batchnorm", "final_layer.1"], leaky]
    decoder += [["conv", "final_layer.3", 1, 1], ["act", "tanh"]]
    size = side * 2 ** (len(dec) + 1)
    shape = (tensors["final_layer.3.weight"].shape[0], size, size)
    hidden = [tensors[f"encoder.{i}.0.weight"].shape[0] for i in enc]
    facts = [
        f"VanillaVAE of AntixK/PyTorch-VAE: hidden sizes {hidden}, a {tensors['fc_mu.weight'].shape[0]}-D latent, "
        f"{in_channels}-channel {size}x{size} pictures in [-1, 1] (read from the shapes)"
    ]
    return {"encoder": [*encoder, ["flatten"]], "heads": ["fc_mu", "fc_var"], "decoder": decoder}, shape, facts


def pythae_mlp(tensors: dict) -> tuple[dict, None, list[str]]:
    found = set(layouts.prefixes(tensors))
    need = {"encoder.layers.0.0", "encoder.embedding", "encoder.log_var", "decoder.layers.0.0", "decoder.layers.1.0"}
    _need(found, need, "pythae-mlp")
    extra = sorted(found - need)
    if extra:
        raise StoreError(f"not pythae's default MLP networks: {', '.join(extra[:3])} are more than they hold")
    layout = {
        "encoder": [["flatten"], ["linear", "encoder.layers.0.0"], ["act", "relu"]],
        "heads": ["encoder.embedding", "encoder.log_var"],
        "decoder": [
            ["linear", "decoder.layers.0.0"],
            ["act", "relu"],
            ["linear", "decoder.layers.1.0"],
            ["act", "sigmoid"],
        ],
    }
    return layout, None, ["pythae's default MLP networks (Encoder_VAE_MLP, Decoder_AE_MLP), read from the names"]


def pythae_conv_mnist(tensors: dict) -> tuple[dict, tuple, list[str]]:
    found = set(layouts.prefixes(tensors))
    enc = [f"encoder.layers.{i}" for i in range(4)]
    need = {f"{p}.{k}" for p in enc for k in (0, 1)} | {"encoder.embedding", "encoder.log_var", "decoder.layers.0"}
    need |= {
        "decoder.layers.1.0",
        "decoder.layers.1.1",
        "decoder.layers.2.0",
        "decoder.layers.2.1",
        "decoder.layers.3.0",
    }
    _need(found, need, "pythae-conv-mnist")
    encoder = [x for p in enc for x in (["conv", f"{p}.0", 2, 1], ["batchnorm", f"{p}.1"], ["act", "relu"])]
    channels = tensors["decoder.layers.1.0.weight"].shape[0]
    decoder = [["linear", "decoder.layers.0"], ["unflatten", channels, 4, 4]]
    decoder += [["conv_transpose", "decoder.layers.1.0", 2, 1, 0], ["batchnorm", "decoder.layers.1.1"], ["act", "relu"]]
    decoder += [["conv_transpose", "decoder.layers.2.0", 2, 1, 1], ["batchnorm", "decoder.layers.2.1"], ["act", "relu"]]
    decoder += [["conv_transpose", "decoder.layers.3.0", 2, 1, 1], ["act", "sigmoid"]]
    layout = {"encoder": [*encoder, ["flatten"]], "heads": ["encoder.embedding", "encoder.log_var"], "decoder": decoder}
    return layout, (1, 28, 28), ["pythae's MNIST benchmark networks (Encoder_Conv_VAE_MNIST, Decoder_Conv_AE_MNIST)"]


def dcgan(tensors: dict, image_shape: tuple) -> tuple[dict, None, list[str]]:
    spec = layouts.sequential(tensors, image_shape, "leaky_relu")  # the search for strides and paddings
    kernels = {
        tuple(tensors[f"{x[1]}.weight"].shape[2:])
        for x in spec["encoder"] + spec["decoder"]
        if x[0] in ("conv", "conv_transpose")
    }
    if kernels != {(4, 4)} or not any(x[0] == "batchnorm" for x in spec["encoder"] + spec["decoder"]):
        raise StoreError("not a DCGAN-style stack: it needs 4x4 convolutions and BatchNorm")
    encoder = [["act", "leaky_relu", 0.2] if x[0] == "act" else x for x in spec["encoder"]]
    decoder = [["act", "relu"] if x[0] == "act" else x for x in spec["decoder"]]
    return (
        {"encoder": encoder, "heads": spec["heads"], "decoder": [*decoder, ["act", "tanh"]]},
        None,
        ["a DCGAN-style stack: 4x4 convolutions with BatchNorm (read from the shapes)"],
    )


def recognise(name: str, tensors: dict, image_shape: tuple) -> tuple[dict, tuple | None, list[str]]:
    if name == "vanilla-vae":
        return vanilla_vae(tensors)
    if name == "pythae-mlp":
        return pythae_mlp(tensors)
    if name == "pythae-conv-mnist":
        return pythae_conv_mnist(tensors)
    return dcgan(tensors, image_shape)


def guess(tensors: dict) -> str | None:
    """The known layout whose telltale names the tensors carry (the DCGAN stack has none: asked by name)."""
    found = set(layouts.prefixes(tensors))
    if {"fc_mu", "fc_var", "decoder_input", "final_layer.3"} <= found:
        return "vanilla-vae"
    if {"encoder.embedding", "encoder.log_var"} <= found:
        return "pythae-conv-mnist" if "encoder.layers.0.1" in found else "pythae-mlp"
    return None
