"""Training: fit(...) over in-memory tensors, with a progress/cancel callback and no UI imports.

The whole dataset is one tensor and each batch is an index_select of a seeded permutation: on a CPU
this avoids the per-sample Dataset/collate cost of a DataLoader (bench/ measures the difference).
The callback gets every step and every epoch and can stop the run; the best weights by validation
ELBO are kept, and a non-finite loss stops the run with the last good weights. The run's state at the
end of its last finished epoch (weights, Adam's moments, learning-rate schedule, random state) comes
back as a TrainingState, so a resumed run continues exactly: 5 epochs, then 5 more, equal 10.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from vae.models import conditional_objectives, objectives
from vae.models.config import ModelConfig, TrainConfig
from vae.models.model import VAE
from vae.models.registry import build
from vae.training.distributed import Group
from vae.training.resume import TrainingState, restore

__all__ = ["Callback", "FitResult", "Progress", "TrainingState", "fit", "test_metrics", "validate"]


@dataclass
class Progress:
    """What the callback sees. event is "step" or "epoch"; metrics are nats per example."""

    event: str
    epoch: int  # 1-based, counting epochs of earlier runs when resuming
    step: int  # steps done in this run
    total_steps: int
    metrics: dict
    elapsed: float  # seconds since this run started
    model: VAE | None = None  # only on "epoch" events: the live model (read it, do not train it)
    state: TrainingState | None = None  # only on "epoch" events: where the run stands (to checkpoint it)


Callback = Callable[[Progress], object]  # return a truthy value to stop training


@dataclass
class FitResult:
    model: VAE  # the best weights by validation ELBO (by the training bound if there is no validation)
    history: list[dict] = field(default_factory=list)  # one dict per epoch
    stopped: str = "completed"  # completed | cancelled | early-stopped | diverged
    message: str = ""
    best_epoch: int | None = None
    samples_per_second: float = 0.0
    state: TrainingState | None = None  # at the end of the last finished epoch; None if none finished


@torch.inference_mode()
def validate(model: VAE, images: torch.Tensor, batch_size: int = 1000, seed: int = 0, labels=None) -> dict:
    """One-sample ELBO and its parts on a dataset, nats per example (a conditional model's, with the
    condition given: labels, or the images' visible parts)."""
    if model.config.kind.conditional:
        return conditional_objectives.validate(model, images, labels, batch_size, seed)
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    tot = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    for start in range(0, len(images), batch_size):
        parts = objectives.elbo(model, images[start : start + batch_size], gen)
        tot["elbo"] += parts.elbo.sum().item()
        tot["reconstruction"] += parts.reconstruction.sum().item()
        tot["kl"] += parts.kl.sum().item()
    model.train(was_training)
    return {k: v / len(images) for k, v in tot.items()}


def _binarize(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.bernoulli(x, generator=gen)


def _optimizer(model: VAE, tc: TrainConfig) -> torch.optim.Optimizer:
    """Adam with the fused kernel where this torch has it for the CPU (about 15% faster here), or
    RMSprop with Keras's and TensorFlow's decay rate 0.9 (torch's default is 0.99)."""
    if tc.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=tc.lr, alpha=0.9, eps=1e-7, weight_decay=tc.weight_decay)
    try:
        return torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)


class _StepMetrics(Mapping):
    """A step's metrics, read out of their tensor only when someone looks (a callback that reads
    every 20th step should not pay a read-out per step)."""

    def __init__(self, stats: torch.Tensor, names: tuple[str, ...], beta: float):
        self._stats, self._names, self._beta, self._values = stats, names, beta, None

    def _dict(self) -> dict:
        if self._values is None:
            self._values = _named(dict(zip(self._names, self._stats.tolist())))
            self._values["beta"] = self._beta
        return self._values

    def __getitem__(self, key):
        return self._dict()[key]

    def __iter__(self):
        return iter(self._dict())

    def __len__(self):
        return len(self._dict())


def _named(values: dict) -> dict:
    """Add the ELBO where it is derived: reconstruction - KL."""
    if "reconstruction" in values and "elbo" not in values:
        values = {"elbo": values["reconstruction"] - values["kl"], **values}
    return values


def _step_loss(model, x, beta, k, gen, y=None) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """The loss to minimise and the step's batch-mean statistics as one detached tensor."""
    if model.config.kind.conditional:
        return conditional_objectives.step_loss(model, x, y, beta, k, gen)
    if k == 1:
        parts = objectives.elbo(model, x, gen)
        stats = torch.stack([parts.reconstruction.mean(), parts.kl.mean()]).detach()
        return parts.loss(beta), stats, ("reconstruction", "kl")
    logw = objectives.log_weights(model, x, k, gen)  # (k, B)
    bound = torch.logsumexp(logw, 0) - math.log(k)
    return -bound.mean(), torch.stack([logw.mean(), bound.mean()]).detach(), ("elbo", "iw_bound")


def fit(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_images: torch.Tensor,
    val_images: torch.Tensor | None = None,
    *,
    callback: Callback | None = None,
    init_state: dict | None = None,
    history: list[dict] | None = None,
    resume: TrainingState | None = None,
    train_labels: torch.Tensor | None = None,
    val_labels: torch.Tensor | None = None,
    group: Group | None = None,
) -> FitResult:
    """Train a new model on images (N, C, H, W) in [0,1], or go on with an earlier run.

    train_labels, val_labels: (N,) integer classes, needed by label- and prior-conditional models
    (a completion model takes its condition from the images themselves).
    init_state: weights to start from (a saved model's). history: the earlier epochs (numbering goes
    on). resume: the earlier run's TrainingState; training then continues exactly where it ended, and
    init_state (the earlier best weights) stays the result unless a new epoch beats its score. Settings
    in train_config that differ from the earlier run's (learning rate, decay, weight decay) apply.
    group: train as one of several processes (vae.training.distributed; None: this process alone, on the CPU).
    """
    tc = train_config
    if tuple(train_images.shape[1:]) != model_config.image_shape:
        raise ValueError(
            f"images of shape {tuple(train_images.shape[1:])} do not fit a model for {model_config.image_shape}"
        )
    if model_config.kind.by_class and train_labels is None:
        raise ValueError(
            f"a {model_config.conditional}-conditional model is trained on labelled data: this dataset has no labels"
        )
    if group is not None and model_config.kind.conditional:
        raise ValueError("a conditional model trains in one process: torchrun does not take it yet")
    torch.manual_seed(tc.seed)
    model = build(model_config, seed=tc.seed)
    if init_state is not None:
        model.load_state_dict(init_state)
    if group is not None:
        group.attach(model)
        callback = group.agree(callback)
    gen = torch.Generator().manual_seed(tc.seed)
    opt = _optimizer(model, tc)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=tc.lr_decay)
    history = list(history or [])
    first_epoch = len(history) + 1
    n = len(train_images)
    steps_per_epoch = math.ceil(n / tc.batch_size)
    total_steps = steps_per_epoch * tc.epochs
    warm = tc.warmup_epochs * steps_per_epoch  # KL warm-up length in steps
    if val_images is not None and tc.binarize:
        val_images = _binarize(val_images, torch.Generator().manual_seed(tc.seed + 1))
    result = FitResult(model=model, history=history)
    best_val, best_state, last_good = -math.inf, None, copy.deepcopy(model.state_dict())
    stale, step, step0, t0 = 0, 0, 0, time.perf_counter()
    if resume is not None:
        best_state = last_good if init_state is not None and resume.best_epoch is not None else None
        sched = restore(model, opt, sched, gen, resume, tc)
        step0, best_val, result.best_epoch, stale = resume.step, resume.best_score, resume.best_epoch, resume.stale
        last_good = copy.deepcopy(model.state_dict())
    samples_seen, compute_time = 0, 0.0
    floor = (
        -math.inf
        if resume is not None
        else _floor(model, *((train_images, train_labels) if val_images is None else (val_images, val_labels)))
    )
    model.train()
    for epoch in range(first_epoch, first_epoch + tc.epochs):
        t_epoch = time.perf_counter()
        data = _binarize(train_images, gen) if tc.binarize else train_images
        perm = torch.randperm(n, generator=gen)
        sums, names = 0.0, ()
        for start in range(0, n, tc.batch_size):
            index = perm[start : start + tc.batch_size]
            beta = tc.beta * min(1.0, (step0 + step + 1) / warm) if warm > 0 else tc.beta
            if group is None:
                x = data.index_select(0, index)  # (B, C, H, W)
                y = None if train_labels is None else train_labels.index_select(0, index)  # (B,)
                loss, stats, names = _step_loss(model, x, beta, tc.iw_samples, gen, y)
            else:  # this rank's shard of the batch; stats of the whole batch
                loss, stats, names = group.step_loss(data, index, beta, tc.iw_samples, gen)
            if not math.isfinite(loss.item()):
                return _diverged(
                    result,
                    best_state or last_good,
                    f"the loss became {loss.item()} at epoch {epoch}, step {step + 1}",
                    samples_seen,
                    compute_time,
                    best_state,
                    group,
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            step += 1
            sums = sums + stats * len(index)
            if callback and callback(
                Progress("step", epoch, step, total_steps, _StepMetrics(stats, names, beta), time.perf_counter() - t0)
            ):
                result.stopped, result.message = "cancelled", f"stopped by the user at epoch {epoch}"
                break
        samples_seen += n
        compute_time += time.perf_counter() - t_epoch
        sched.step()
        means = _named(dict(zip(names, (sums / n).tolist())))
        record = {
            "epoch": epoch,
            **{f"train_{k}": v for k, v in means.items()},
            "lr": opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t_epoch,
        }
        if val_images is not None:
            scores = (
                validate(model, val_images, labels=val_labels) if group is None else group.validate(model, val_images)
            )
            record.update({f"val_{k}": v for k, v in scores.items()})
        score = record.get("val_elbo", record.get("train_iw_bound", record.get("train_elbo", -math.inf)))
        failure = _failure(model, record, score, floor)  # an overflow or blow-up: the epoch is not kept
        if failure:
            return _diverged(
                result,
                best_state or last_good,
                f"at epoch {epoch} {failure}",
                samples_seen,
                compute_time,
                best_state,
                group,
            )
        last_good = copy.deepcopy(model.state_dict())
        if result.stopped == "cancelled":
            break  # a partial epoch is not recorded as an epoch
        history.append(record)
        if score > best_val:
            best_val, best_state, result.best_epoch, stale = score, last_good, epoch, 0
        else:
            stale += 1
        result.state = TrainingState(
            last_good,
            copy.deepcopy(opt.state_dict()),
            sched.state_dict(),
            gen.get_state(),
            step0 + step,
            best_val,
            result.best_epoch,
            stale,
        )
        if callback and callback(
            Progress("epoch", epoch, step, total_steps, record, time.perf_counter() - t0, model, result.state)
        ):
            result.stopped, result.message = "cancelled", f"stopped by the user after epoch {epoch}"
            break
        if tc.patience and stale >= tc.patience:
            result.stopped = "early-stopped"
            result.message = f"no validation improvement for {tc.patience} epochs"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return _finish(result, samples_seen, compute_time, best_state is not None, group)


def test_metrics(
    result: FitResult,
    test_images: torch.Tensor,
    binarize: bool,
    iw_samples: int,
    test_labels=None,
    group: Group | None = None,
) -> dict:
    """What a finished run is saved with: objectives.evaluate on the test images (their fixed
    binarized sample for a binarized run; a conditional model's with the condition given), how they
    were scored and how fast the run trained."""
    x = objectives.binarized_test(test_images) if binarize else test_images
    if result.model.config.kind.conditional:
        metrics = conditional_objectives.evaluate(result.model, x, test_labels, iw_samples=iw_samples)
    else:  # sharded over the ranks in a group
        evaluate = objectives.evaluate if group is None else group.evaluate
        metrics = evaluate(result.model, x, iw_samples=iw_samples)
    metrics.update(split="test", binarized=binarize, samples_per_second=round(result.samples_per_second))
    return metrics


def _floor(model: VAE, images: torch.Tensor, labels: torch.Tensor | None) -> float:
    """A score far below the untrained model's ELBO: an epoch ending below it has blown up (a
    learning rate of 10 does that without ever reaching inf)."""
    untrained = validate(model, images[:1000], labels=None if labels is None else labels[:1000])["elbo"]
    return untrained - 10 * max(abs(untrained), 100.0)


def _failure(model: VAE, record: dict, score: float, floor: float) -> str:
    """Why an epoch's weights must not be kept ("" if they may)."""
    numbers = [v for v in record.values() if isinstance(v, float)]
    if not all(map(math.isfinite, numbers)) or not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return "the weights or metrics became NaN or infinite"
    if score < floor:
        return f"the ELBO fell to {score:.4g} nats, far below the untrained model's"
    return ""


def _diverged(result: FitResult, good: dict, what: str, samples: int, seconds: float, best, group=None) -> FitResult:
    """Stop a run whose numbers overflowed: back to the last good weights, with a message that says
    what happened and what to try."""
    result.model.load_state_dict(good)
    result.stopped = "diverged"
    kept = "kept the weights from the last good epoch" if result.history else "no epoch finished"
    result.message = (
        f"training diverged: {what}; {kept} (try a lower learning rate, gradient clipping, "
        "or for a Gaussian likelihood a larger or learned std)"
    )
    return _finish(result, samples, seconds, best is not None, group)


def _finish(result: FitResult, samples: int, seconds: float, kept_best: bool, group=None) -> FitResult:
    if group is not None:
        group.to_host(result)
    result.model.eval()
    result.samples_per_second = samples / seconds if seconds > 0 else 0.0
    if kept_best and result.best_epoch is not None:
        note = f"best weights from epoch {result.best_epoch}"
        result.message = f"{result.message}; {note}" if result.message else note
    return result
