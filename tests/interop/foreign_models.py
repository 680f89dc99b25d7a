"""VAEs written the way other people write them, for the import and export tests: the pytorch/examples
one, a `sequential` MLP and a `sequential` conv model; each trained a few steps on real digits."""

import torch
import torch.nn.functional as F
from torch import nn

from vae.data import datasets


class ExamplesVAE(nn.Module):
    """pytorch/examples vae/main.py, with its image size and latent size as arguments."""

    def __init__(self, n=784, hidden=400, latent=20):
        super().__init__()
        self.n = n
        self.fc1, self.fc21, self.fc22 = nn.Linear(n, hidden), nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.fc3, self.fc4 = nn.Linear(latent, hidden), nn.Linear(hidden, n)

    def encode(self, x):
        h1 = F.relu(self.fc1(x.view(-1, self.n)))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


class SequentialVAE(nn.Module):
    def __init__(self, encoder, decoder, width, latent):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.fc_mu, self.fc_logvar = nn.Linear(width, latent), nn.Linear(width, latent)

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(z).view(-1, 1, 28, 28)


def sequential_mlp(latent=3):
    enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Tanh(), nn.Linear(64, 32), nn.Tanh())
    dec = nn.Sequential(
        nn.Linear(latent, 32), nn.Tanh(), nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 784), nn.Sigmoid()
    )
    return SequentialVAE(enc, dec, 32, latent)


def sequential_conv(latent=2):
    enc = nn.Sequential(
        nn.Conv2d(1, 8, 3, 2, 1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, 2, 1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 32),
        nn.ReLU(),
    )
    dec = nn.Sequential(
        nn.Linear(latent, 16 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (16, 7, 7)),
        nn.ConvTranspose2d(16, 8, 3, 2, 1, 1),
        nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 3, 2, 1, 1),
        nn.Sigmoid(),
    )
    return SequentialVAE(enc, dec, 32, latent)


def trained(model, steps=15, seed=0):
    """A few Adam steps of the summed-BCE ELBO on 256 real digits: weights that are not the init."""
    torch.manual_seed(seed)
    x = torch.from_numpy(datasets.load_dataset("mnist-5k", "train").images[:256])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(steps):
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = F.binary_cross_entropy(model.decode(z).view(len(x), -1), x.view(len(x), -1), reduction="sum")
        loss = (rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / len(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


class VanillaVAE(nn.Module):
    """AntixK/PyTorch-VAE's VanillaVAE (models/vanilla_vae.py) as its README and code describe it:
    conv blocks with BatchNorm and LeakyReLU, fc_mu / fc_var on a 2x2 grid, decoder_input viewed as
    (C, 2, 2), transposed blocks, final_layer ending in Conv2d + Tanh; pictures in [-1, 1]."""

    def __init__(self, in_channels=3, latent_dim=128, hidden_dims=(32, 64, 128, 256, 512)):
        super().__init__()
        hidden, c, blocks = list(hidden_dims), in_channels, []
        for h in hidden:
            blocks.append(nn.Sequential(nn.Conv2d(c, h, 3, 2, 1), nn.BatchNorm2d(h), nn.LeakyReLU()))
            c = h
        self.encoder = nn.Sequential(*blocks)
        self.fc_mu, self.fc_var = nn.Linear(hidden[-1] * 4, latent_dim), nn.Linear(hidden[-1] * 4, latent_dim)
        self.decoder_input = nn.Linear(latent_dim, hidden[-1] * 4)
        hidden.reverse()
        self.last = hidden[0]
        self.decoder = nn.Sequential(
            *[
                nn.Sequential(nn.ConvTranspose2d(a, b, 3, 2, 1, 1), nn.BatchNorm2d(b), nn.LeakyReLU())
                for a, b in zip(hidden, hidden[1:])
            ]
        )
        self.final_layer = nn.Sequential(
            nn.ConvTranspose2d(hidden[-1], hidden[-1], 3, 2, 1, 1),
            nn.BatchNorm2d(hidden[-1]),
            nn.LeakyReLU(),
            nn.Conv2d(hidden[-1], in_channels, 3, padding=1),
            nn.Tanh(),
        )

    def encode(self, x):
        h = torch.flatten(self.encoder(x), start_dim=1)
        return self.fc_mu(h), self.fc_var(h)

    def decode(self, z):
        return self.final_layer(self.decoder(self.decoder_input(z).view(-1, self.last, 2, 2)))


class DCGANVAE(SequentialVAE):
    """A DCGAN-style VAE: 4x4 stride-2 convolutions with BatchNorm, LeakyReLU(0.2) in the encoder,
    ReLU in the decoder, a Tanh output over pictures in [-1, 1]."""

    def __init__(self, latent=8):
        enc = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(16, 32, 4, 2, 1),
            nn.BatchNorm2d(32),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.LeakyReLU(0.2),
        )
        dec = nn.Sequential(
            nn.Linear(latent, 32 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 4, 2, 1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1),
            nn.Tanh(),
        )
        super().__init__(enc, dec, 64, latent)


def with_statistics(model, seed=0):
    """Every BatchNorm given running statistics and an affine part unlike its init (as after training), eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.num_batches_tracked.fill_(1234)
    return model.eval()
