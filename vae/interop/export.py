"""A model of the store, out to other code: ONNX (encoder.onnx: image -> mu, log-variance;
decoder.onnx: z -> image mean) and plain tensors in the `sequential` layout (encoder.N, fc_mu,
fc_logvar, decoder.N) with the few lines of PyTorch that load them.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors
from torch import nn

from vae.models.model import VAE
from vae.store.modelfiles import StoreError

OPSET = 17


def _plain(model: VAE) -> tuple[list[nn.Module], nn.Linear, list[nn.Module]]:
    """(encoder modules, the (mu, logvar) head, decoder modules ending in the pixel mean) of a plain model."""
    cfg = model.config
    if not cfg.kind.exportable:
        raise StoreError(
            f"a {cfg.kind.title} cannot be exported yet: its encoder and decoder take the condition as a second input"
        )
    enc, dec = model.encoder, model.decoder
    tail = {"sigmoid": [nn.Sigmoid()], "tanh": [nn.Tanh()]}.get(cfg.output, [])
    if cfg.arch == "layers" and any(spec[0] == "affine" for spec in (*cfg.encoder_layers, *cfg.decoder_layers)):
        raise StoreError(
            "this model keeps a BatchNorm as a per-channel scale and shift (nothing before it to fold it into), "
            "which the plain-tensor export does not write; export it as ONNX"
        )
    if cfg.arch == "mlp":
        return [nn.Flatten(), *enc.body], enc.head, [*dec.body, dec.out, *tail]
    if cfg.arch == "conv":
        if tuple(dec.grid[1:]) != tuple(n // 2 ** len(cfg.conv_channels) for n in cfg.image_shape[1:]) or any(
            n % 2 ** len(cfg.conv_channels) for n in cfg.image_shape[1:]
        ):
            raise StoreError(
                "this conv decoder crops its output to the image; the plain-tensor export covers "
                "decoders whose output is the image exactly (use --onnx)"
            )
        return [*enc.body], enc.head, [*dec.dense, nn.Unflatten(1, dec.grid), *dec.body, *tail]
    modules = list(enc)
    return ([nn.Flatten()] if enc.flat_input else []) + modules[:-1], modules[-1], [*dec, *tail]


def state_dict(model: VAE) -> tuple[dict[str, torch.Tensor], str]:
    """(tensors, Python source that builds the modules they load into)."""
    encoder, head, decoder = _plain(model)
    latent = model.config.latent_dim
    tensors = {}
    for part, modules in (("encoder", encoder), ("decoder", decoder)):
        for i, m in enumerate(modules):
            for k, v in m.state_dict().items():
                tensors[f"{part}.{i}.{k}"] = v
    tensors["fc_mu.weight"], tensors["fc_logvar.weight"] = head.weight[:latent], head.weight[latent:]
    tensors["fc_mu.bias"], tensors["fc_logvar.bias"] = head.bias[:latent], head.bias[latent:]
    if hasattr(model, "log_std"):  # the likelihood's scale: a Gaussian's std = exp(log_std); a logistic's, per pixel
        tensors["log_std"] = model.log_std
    tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in tensors.items()}
    scale = (
        (
            f"\n        self.log_std = nn.Parameter(torch.zeros({tuple(tensors['log_std'].shape)}))  "
            f"# the {model.config.likelihood} likelihood's log-scale"
        )
        if "log_std" in tensors
        else ""
    )

    def listing(modules):
        return ",\n".join(f"            nn.{m!r}" for m in modules)

    c, h, w = model.config.image_shape
    code = f'''import torch
from safetensors.torch import load_file
from torch import nn


class VAE(nn.Module):
    """{model.config.describe()}: encode(x) -> (mu, logvar); decode(z) -> pixel means, (B, {c}, {h}, {w})."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
{listing(encoder)})
        self.fc_mu = nn.Linear({head.in_features}, {latent})
        self.fc_logvar = nn.Linear({head.in_features}, {latent})
        self.decoder = nn.Sequential(
{listing(decoder)}){scale}

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(z).view(-1, {c}, {h}, {w})


model = VAE()
model.load_state_dict(load_file("FILE"))
'''
    return tensors, code


def state_dict_bytes(model: VAE, file_name: str, name: str = "", directions: dict | None = None) -> tuple[bytes, str]:
    """(safetensors bytes, the code that loads them from `file_name`). Directions saved with the model
    (vae/store/saved_directions.py) go into the file's metadata as JSON under "directions"."""
    tensors, code = state_dict(model)
    meta = {"format": "vae-explorer export", "model": name, "layout": "sequential", "output": model.config.output}
    if model.config.signed:
        meta["signed"] = "true"  # the networks take and give pictures in [-1, 1]
    if directions:
        meta["directions"] = json.dumps(directions)
    acts = (
        {spec[1] for spec in (*model.config.encoder_layers, *model.config.decoder_layers) if spec[0] == "act"}
        if model.config.arch == "layers"
        else {model.config.activation}
    )
    if len(acts) == 1:  # a state dict cannot say which activation runs between its layers: this file does
        meta["activation"] = acts.pop()
    if model.config.arch == "layers":  # every layer with its parameters (a LeakyReLU's slope, an upsampling)
        meta["layout_map"] = json.dumps(_layer_map(model.config))
    data = save_safetensors(tensors, metadata=meta)
    return data, code.replace("FILE", file_name)


def _layer_map(cfg) -> dict:
    """The layout map (vae/interop/layouts.py) of an imported model's plain-tensor export: the tensors
    are named as state_dict() names them, encoder.{i} / fc_mu / fc_logvar / decoder.{i}."""

    def entries(part: str, specs) -> list:
        out = []
        for i, (kind, *a) in enumerate(specs):
            prefix = f"{part}.{i}"
            if kind == "linear":
                out.append(["linear", prefix])
            elif kind == "conv":
                out.append(["conv", prefix, a[3], a[4]])
            elif kind == "conv_transpose":
                out.append(["conv_transpose", prefix, a[3], a[4], a[5]])
            else:
                out.append([kind, *a])
        return out

    flat = [("flatten",)] if cfg.encoder_layers[0][0] == "linear" else []
    tail = [("act", cfg.output)] if cfg.output in ("sigmoid", "tanh") else []
    return {
        "encoder": entries("encoder", [*flat, *cfg.encoder_layers[:-1]]),
        "heads": ["fc_mu", "fc_logvar"],
        "decoder": entries("decoder", [*cfg.decoder_layers, *tail]),
    }


def write_state_dict(model: VAE, path: str | Path, name: str = "", directions: dict | None = None) -> str:
    """Write the tensors (safetensors) and return the loading code, with the file's name in it."""
    path = Path(path)
    data, code = state_dict_bytes(model, path.name, name, directions)
    _atomic(path, data)
    return code


class _Encoder(nn.Module):
    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, x):
        # model.encode's clamp passes gradients straight through (x + (clamp(x) - x).detach()), which
        # exports as Clip, Sub and Add; its forward value is the plain clamp, exported as one Clip
        mu, logvar = self.model.encoder(self.model.network_input(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)


class _Decoder(nn.Module):
    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode(z)


def onnx_bytes(model: VAE) -> tuple[bytes, bytes]:
    """(encoder.onnx, decoder.onnx) with a free batch size: image (B, C, H, W) -> mu, logvar
    (B, latent_dim); z (B, latent_dim) -> mean (B, C, H, W)."""
    _plain(model)  # the same refusals as the tensor export
    model = model.eval()
    x = torch.zeros(1, *model.config.image_shape)
    z = torch.zeros(1, model.config.latent_dim)
    out = []
    for module, arg, names, outputs in (
        (_Encoder(model), x, ["image"], ["mu", "logvar"]),
        (_Decoder(model), z, ["z"], ["mean"]),
    ):
        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                module,
                (arg,),
                buf,
                dynamo=False,
                opset_version=OPSET,
                input_names=names,
                output_names=outputs,
                dynamic_axes={n: {0: "batch"} for n in names + outputs},
            )
        out.append(buf.getvalue())
    return out[0], out[1]


def write_onnx(model: VAE, folder: str | Path, directions: dict | None = None) -> list[Path]:
    """encoder.onnx and decoder.onnx in `folder`, and directions.json beside them when the model has
    saved directions (each a displacement to add to a code z before decoding)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = dict(zip(("encoder.onnx", "decoder.onnx"), onnx_bytes(model)))
    if directions:
        files["directions.json"] = json.dumps(directions, indent=1).encode()
    for name, data in files.items():
        _atomic(folder / name, data)
    return [folder / name for name in files]


def _atomic(path: Path, data: bytes) -> None:
    """Write beside, then rename: a failed export leaves no half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
