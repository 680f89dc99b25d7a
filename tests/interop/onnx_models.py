"""ONNX files as other people make them: torch.onnx.export of nn.Sequential encoders and decoders with
a free batch size (its Unflatten becomes Shape/Slice/Concat/Reshape arithmetic)."""

import io
import warnings

import torch
from torch import nn


class TwoHeads(nn.Module):
    """body -> (mu, logvar) from two Linear heads; `head` picks the second output's form."""

    def __init__(self, body, width, latent, head="logvar"):
        super().__init__()
        self.body, self.mu, self.second, self.head = body, nn.Linear(width, latent), nn.Linear(width, latent), head

    def forward(self, x):
        h = self.body(x)
        s = self.second(h)
        if self.head == "std":
            s = torch.exp(0.5 * s)
        elif self.head == "softplus":
            s = nn.functional.softplus(s)
        return self.mu(h), s


class OneHead(nn.Module):
    """body -> one Linear of 2 x latent outputs (mu, then logvar)."""

    def __init__(self, body, width, latent):
        super().__init__()
        self.body, self.out = body, nn.Linear(width, 2 * latent)

    def forward(self, x):
        return self.out(self.body(x))


def mlp(latent=3, head="logvar"):
    enc = TwoHeads(
        nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU()), 32, latent, head
    )
    dec = nn.Sequential(
        nn.Linear(latent, 32),
        nn.ReLU(),
        nn.Linear(32, 64),
        nn.ReLU(),
        nn.Linear(64, 784),
        nn.Sigmoid(),
        nn.Unflatten(1, (1, 28, 28)),
    )
    return enc.eval(), dec.eval()


def conv(latent=2):
    enc = OneHead(
        nn.Sequential(
            nn.Conv2d(1, 8, 4, 2, 1),
            nn.LeakyReLU(),
            nn.Conv2d(8, 16, 4, 2, 1),
            nn.LeakyReLU(),
            nn.Flatten(),
            nn.Linear(16 * 7 * 7, 32),
            nn.ELU(),
        ),
        32,
        latent,
    )
    dec = nn.Sequential(
        nn.Linear(latent, 16 * 7 * 7),
        nn.Softplus(),
        nn.Unflatten(1, (16, 7, 7)),
        nn.ConvTranspose2d(16, 8, 4, 2, 1),
        nn.GELU(),
        nn.ConvTranspose2d(8, 1, 4, 2, 1),
        nn.Sigmoid(),
    )
    return enc.eval(), dec.eval()


def to_onnx(module, shape, inputs, outputs, *, fixed_batch: bool = False, **kw) -> bytes:
    """torch.onnx.export of a module; fixed_batch: without dynamic_axes (its default), the batch fixed at 1."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, *shape),),
            buf,
            dynamo=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=None if fixed_batch else {n: {0: "batch"} for n in inputs + outputs},
            **kw,
        )
    return buf.getvalue()


def pair(enc, dec, latent, outputs=("mu", "logvar")) -> tuple[bytes, bytes]:
    return (to_onnx(enc, (1, 28, 28), ["image"], list(outputs)), to_onnx(dec, (latent,), ["z"], ["x"]))


class Encode(nn.Module):
    """A VAE's encode(x) -> (mu, logvar) as a module to export."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae
        self.train(vae.training)  # exported in the VAE's mode: eval, its BatchNorms on their running statistics

    def forward(self, x):
        return self.vae.encode(x)


class Decode(nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae
        self.train(vae.training)

    def forward(self, z):
        return self.vae.decode(z)


def upsampling(latent=4):
    """A decoder built of upsampling + convolutions instead of transposed convolutions, with the
    activations torch exports as patterns (SiLU: x * sigmoid(x); Mish: x * tanh(softplus(x))) or with
    parameters (LeakyReLU(0.2), ELU(0.5), Hardtanh as Clip), and a BatchNorm in each network."""
    enc = TwoHeads(
        nn.Sequential(
            nn.Conv2d(1, 8, 3, 2, 1),
            nn.BatchNorm2d(8),
            nn.LeakyReLU(0.2),
            nn.Conv2d(8, 16, 3, 2, 1),
            nn.ELU(0.5),
            nn.Flatten(),
            nn.Linear(16 * 7 * 7, 32),
            nn.SiLU(),
        ),
        32,
        latent,
    )
    dec = nn.Sequential(
        nn.Linear(latent, 16 * 7 * 7),
        nn.Mish(),
        nn.Unflatten(1, (16, 7, 7)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(16, 8, 3, 1, 1),
        nn.BatchNorm2d(8),
        nn.Hardtanh(-0.5, 2.0),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.Conv2d(8, 1, 3, 1, 1),
        nn.Sigmoid(),
    )
    return enc, dec
