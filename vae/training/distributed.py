"""Training on several processes: torchrun's environment, DistributedDataParallel, and each rank's
shard of the project's own seeded batches.

Every rank holds the same seeded generator and draws exactly what one process draws (the epoch's
binarization and permutation, each global batch's noise), then computes only its contiguous shard
of each global batch. The global batch is --batch-size whatever the world size; a rank's loss is its
shard's sum scaled by world / batch, so DDP's gradient average is the one-process batch mean. N
processes therefore do one process's arithmetic, up to the order of float sums, and the state a run
leaves (weights, Adam, schedule, generator, step count) does not depend on the world size: a run
saved on 2 processes resumes on 1 and back.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from vae.models import objectives

TIMEOUT = 300.0  # seconds a rank waits for the others before failing (torch's default is 30 minutes)


class Stopped(BaseException):
    """The launcher ended this process (torchrun sends SIGTERM to every worker when one fails). A
    BaseException, like KeyboardInterrupt, so that nothing on the way up swallows it."""


def _on_sigterm(signum, frame):
    raise Stopped("stopped by the launcher (SIGTERM)")


def hold_sigterm() -> None:
    """From here on, a SIGTERM waits until this process ends: rank 0 is writing the model, and a
    finished write is worth more than an exception raised in the middle of it."""
    if threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


class _GivenNoise:
    """A model whose reparameterization takes this shard's rows of the global batch's noise, so
    objectives.elbo runs unchanged on a shard."""

    def __init__(self, model, eps: torch.Tensor):
        self._model, self._eps = model, eps

    def __getattr__(self, name):
        return getattr(self._model, name)

    def reparameterize(self, mu, logvar, generator=None):  # VAE.reparameterize with eps given
        return mu + torch.exp(0.5 * logvar) * self._eps


def _log_weights(model, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """objectives.log_weights with its noise eps (k, B, D) given: (k, B)."""
    k = len(eps)
    mu, logvar = model.encode(x)  # (B, D)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
    logits = model.decode_logits(z.flatten(0, 1))  # (k*B, C, H, W)
    x_rep = x.unsqueeze(0).expand(k, *x.shape).flatten(0, 1)
    log_px_z = objectives.log_likelihood(model, x_rep, logits).view(k, len(x))
    return log_px_z + objectives.log_normal(z) - objectives.log_normal(z, mu, logvar)


class _Step(nn.Module):
    """What DDP wraps: a shard's share of a step's loss, and the shard's sums of the statistics."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, eps, beta: float, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        if eps.dim() == 2:  # one sample: the (beta-)ELBO
            parts = objectives.elbo(_GivenNoise(self.model, eps), x)
            per_example = parts.kl * beta - parts.reconstruction
            stats = [per_example.sum(), parts.reconstruction.sum(), parts.kl.sum()]
        else:  # k samples: the importance-weighted bound
            logw = _log_weights(self.model, x, eps)
            per_example = math.log(len(eps)) - torch.logsumexp(logw, 0)
            stats = [per_example.sum(), logw.mean(0).sum(), -per_example.sum()]
        return per_example.sum() * scale, torch.stack(stats).detach()


@dataclass
class Group:
    """The processes training together (one, on a device, when world_size is 1) and this one's place."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    _step: nn.Module | None = None  # the model's _Step, wrapped in DDP when there are several ranks
    _asked: bool = False  # this rank's callback asked to stop, not yet told to the others
    _agreed: bool = False  # some rank asked to stop, as the last collective said

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous rows of a global batch of n (shard sizes differ by at most one)."""
        base, extra = divmod(n, self.world_size)
        lo = self.rank * base + min(self.rank, extra)
        return slice(lo, lo + base + (self.rank < extra))

    def reduce(self, t: torch.Tensor, op=None) -> torch.Tensor:
        """The sum (or op) of t over the ranks, on the CPU."""
        if self.world_size == 1:
            return t
        t = t.to(self.device)
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
        return t.cpu()

    def attach(self, model: nn.Module) -> None:
        """Move the model to this rank's device and wrap it for training (before its optimizer exists)."""
        model.to(self.device)
        step = _Step(model)
        if self.world_size > 1:
            ids = [self.device] if self.device.type == "cuda" else None
            step = nn.parallel.DistributedDataParallel(step, device_ids=ids)
        self._step = step

    def step_loss(self, data, idx, beta, k, gen) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
        """training._step_loss on this rank's shard of the global batch idx: the loss to backpropagate
        (its value the global batch mean, the same on every rank; its gradient this shard's share) and
        the global batch-mean statistics."""
        rows, latent = self.shard(len(idx)), getattr(self._step, "module", self._step).model.latent_dim
        if k == 1:
            eps = torch.randn((len(idx), latent), generator=gen)[rows]  # (b, D) of the global (B, D)
        else:
            eps = torch.randn((k, len(idx), latent), generator=gen)[:, rows]  # (k, b, D)
        x = data.index_select(0, idx[rows]).to(self.device)  # (b, C, H, W)
        loss, sums = self._step(x, eps.to(self.device), beta, self.world_size / len(idx))
        total = self.reduce(torch.cat([sums.cpu(), torch.tensor([float(self._asked)])]))
        self._agreed = bool(total[-1] > 0)  # carried in the same collective: one per step
        means = total[:-1] / len(idx)
        loss = loss - loss.detach() + means[0].item()  # value: the global mean; gradient: this shard's
        names = ("reconstruction", "kl") if k == 1 else ("elbo", "iw_bound")
        return loss, means[1:], names

    def agree(self, callback: Callable | None) -> Callable:
        """The callback, called on every rank; training stops when any rank's call asks to. A request
        at a step travels with the next step's statistics (every rank then stops after that step, one
        later than alone); one at an epoch's end is agreed on at once."""

        def agreed(progress) -> bool:
            self._asked = bool(callback and callback(progress)) or self._asked
            if progress.event == "step" and self.world_size > 1:
                return self._agreed
            self._agreed = bool(self.reduce(torch.tensor([float(self._asked)])).item() > 0)
            return self._agreed

        return agreed

    @torch.inference_mode()
    def validate(self, model, images: torch.Tensor, batch_size: int = 1000, seed: int = 0) -> dict:
        """training.validate, each rank scoring its shard of every batch with that batch's noise."""
        was_training, dev = model.training, _device_of(model)
        model.eval()
        gen = torch.Generator().manual_seed(seed)
        sums = torch.zeros(3, dtype=torch.float64)
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            rows = self.shard(len(batch))
            eps = torch.randn((len(batch), model.latent_dim), generator=gen)[rows]
            parts = objectives.elbo(_GivenNoise(model, eps.to(dev)), batch[rows].to(dev))
            sums += torch.tensor(
                [parts.elbo.sum().item(), parts.reconstruction.sum().item(), parts.kl.sum().item()], dtype=torch.float64
            )
        model.train(was_training)
        sums = self.reduce(sums) / len(images)
        return dict(zip(("elbo", "reconstruction", "kl"), sums.tolist()))

    def evaluate(
        self, model, images: torch.Tensor, iw_samples: int = 100, batch_size: int = 500, seed: int = 0
    ) -> dict:
        """objectives.evaluate, each rank scoring its shard of every batch with that batch's noise, on
        this group's device (the model goes back to where it was)."""
        home = _device_of(model)
        try:
            return self._evaluate(model.to(self.device), images, iw_samples, batch_size, seed)
        finally:
            model.to(home)

    @torch.inference_mode()
    def _evaluate(self, model, images, iw_samples, batch_size, seed) -> dict:
        model.eval()
        gen, dev = torch.Generator().manual_seed(seed), _device_of(model)
        n, latent, chunk = len(images), model.latent_dim, 100
        sums = torch.zeros(4 + latent, dtype=torch.float64)  # elbo, rec, kl, iw, kl per dimension
        mus = torch.zeros(n, latent)  # this rank's rows; the others are summed in
        for start in range(0, n, batch_size):
            batch = images[start : start + batch_size]
            rows = self.shard(len(batch))
            x = batch[rows].to(dev)
            eps = torch.randn((len(batch), latent), generator=gen)[rows]
            parts = objectives.elbo(_GivenNoise(model, eps.to(dev)), x)
            logw = [
                _log_weights(
                    model,
                    x,
                    torch.randn((min(chunk, iw_samples - i), len(batch), latent), generator=gen)[:, rows].to(dev),
                )
                for i in range(0, iw_samples, chunk)
            ]
            iw = torch.logsumexp(torch.cat(logw, 0), 0) - math.log(iw_samples)
            sums += (
                torch.cat(
                    [
                        torch.stack([parts.elbo.sum(), parts.reconstruction.sum(), parts.kl.sum(), iw.sum()]),
                        parts.kl_per_dim.sum(0),
                    ]
                )
                .double()
                .cpu()
            )
            mus[start + rows.start : start + rows.stop] = parts.mu.cpu()
        sums, mus = self.reduce(sums) / n, self.reduce(mus)
        active = objectives.active_units(mus)
        out = dict(zip(("elbo", "reconstruction", "kl", "iw_log_likelihood"), sums[:4].tolist()))
        out.update(
            iw_samples=iw_samples,
            n=n,
            active_units=int(active.sum()),
            active_dims=active.nonzero().flatten().tolist(),
            kl_per_dim=sums[4:].tolist(),
        )
        return objectives.with_bits_per_dim(out, model.config.likelihood, math.prod(images.shape[1:]))

    def release(self) -> None:
        """Drop the DistributedDataParallel wrapper while its process group still exists: left to the
        interpreter's exit, its reducer's gloo work was destroyed after the group (a SIGABRT seen
        once, on a loaded machine, in the rank that finished first)."""
        self._step = None
        gc.collect()

    def to_host(self, result) -> None:
        """A finished FitResult's model and state back on the CPU, as a one-process run leaves them."""
        result.model.cpu()
        if result.state is not None:
            result.state.weights = {k: v.cpu() for k, v in result.state.weights.items()}
            for slots in result.state.optimizer["state"].values():
                slots.update({k: v.cpu() if torch.is_tensor(v) else v for k, v in slots.items()})


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def launched() -> bool:
    """Whether torchrun (or another launcher with its environment) started this process."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def _device(requested: str | None, local_rank: int | None) -> torch.device:
    if requested is None:
        requested = "cuda" if local_rank is not None and torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        device = torch.device("meta")  # not a device name at all
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {requested}: expected cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {requested}: this torch sees no CUDA GPU")
        if local_rank is not None:
            if device.index is not None:
                raise ValueError(
                    "under torchrun each process takes the GPU of its LOCAL_RANK: give --device cuda without an index"
                )
            device = torch.device("cuda", local_rank)
    return device


@contextlib.contextmanager
def session(device: str | None = None, timeout: float = TIMEOUT):
    """The Group this process trains in, or None for the plain one-process CPU path.

    Under torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT in the environment) with
    more than one process: a process group, nccl on GPUs (device cuda:LOCAL_RANK) and gloo on CPUs,
    whose collectives fail after timeout seconds instead of torch's 30 minutes. Otherwise one
    process, on device (default cpu: the plain path)."""
    world = int(os.environ.get("WORLD_SIZE", "1")) if launched() else 1
    local_rank = int(os.environ["LOCAL_RANK"]) if launched() else None
    dev = _device(device, local_rank)
    if world == 1:
        yield None if dev.type == "cpu" else Group(device=dev)
        return
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(
        "nccl" if dev.type == "cuda" else "gloo",
        timeout=timedelta(seconds=timeout),
        device_id=dev if dev.type == "cuda" else None,
    )
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    group = Group(dist.get_rank(), world, dev)
    try:
        yield group
        # Leave together: a rank that tore gloo down while rank 0 was still saving the model was once
        # aborted by the C++ runtime ("terminate called without an active exception", SIGABRT).
        dist.barrier()
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        group.release()
        dist.destroy_process_group()
