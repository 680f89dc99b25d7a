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
    _check(model_config, train_images, train_labels, group)
    if val_images is not None and train_config.binarize:
        val_images = _binarize(val_images, torch.Generator().manual_seed(train_config.seed + 1))
    run = _Run(model_config, train_config, init_state, history, group, callback)
    run.resume(resume, init_state)
    run.floor = (
        -math.inf
        if resume is not None
        else _floor(run.model, *((train_images, train_labels) if val_images is None else (val_images, val_labels)))
    )
    run.model.train()
    for epoch in range(run.first_epoch, run.first_epoch + train_config.epochs):
        t_epoch = time.perf_counter()
        failure = run.train_epoch(epoch, train_images, train_labels)
        if failure:
            return run.diverged(failure)
        record = run.epoch_record(epoch, t_epoch, val_images, val_labels)
        failure = _failure(run.model, record, run.score(record), run.floor)  # an overflow or blow-up
        if failure:
            return run.diverged(f"at epoch {epoch} {failure}")
        if run.end_epoch(epoch, record):
            break
    return run.finish()


def _check(model_config: ModelConfig, train_images: torch.Tensor, train_labels, group) -> None:
    """Refuse what cannot be trained, before anything is built."""
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


class _Run:
    """The moving parts of one fit(), read top to bottom: built, perhaps resumed, then per epoch its
    steps (train_epoch), its record (epoch_record) and its end (end_epoch: best weights, state,
    callback, early stop), then finish."""

    def __init__(self, model_config, tc: TrainConfig, init_state, history, group, callback) -> None:
        torch.manual_seed(tc.seed)
        self.tc, self.group = tc, group
        self.model = build(model_config, seed=tc.seed)
        if init_state is not None:
            self.model.load_state_dict(init_state)
        if group is not None:
            group.attach(self.model)
            callback = group.agree(callback)
        self.callback = callback
        self.gen = torch.Generator().manual_seed(tc.seed)
        self.opt = _optimizer(self.model, tc)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=tc.lr_decay)
        self.result = FitResult(model=self.model, history=list(history or []))
        self.first_epoch = len(self.result.history) + 1
        self.best_val, self.best_state, self.last_good = -math.inf, None, copy.deepcopy(self.model.state_dict())
        self.stale, self.step, self.step0, self.t0 = 0, 0, 0, time.perf_counter()
        self.samples_seen, self.compute_time, self.floor = 0, 0.0, -math.inf
        self.steps_per_epoch = self.total_steps = self.warm = 0

    def resume(self, resume: TrainingState | None, init_state) -> None:
        """Continue an earlier run exactly: its optimizer, schedule, random state and best score."""
        if resume is None:
            return
        self.best_state = self.last_good if init_state is not None and resume.best_epoch is not None else None
        self.sched = restore(self.model, self.opt, self.sched, self.gen, resume, self.tc)
        self.step0, self.best_val, self.result.best_epoch = resume.step, resume.best_score, resume.best_epoch
        self.stale = resume.stale
        self.last_good = copy.deepcopy(self.model.state_dict())

    def train_epoch(self, epoch: int, images: torch.Tensor, labels) -> str:
        """One pass over the data in a seeded order; "" or why the run diverged. Sums the steps'
        statistics into self.sums; a stop asked for by the callback ends the pass early."""
        tc, n = self.tc, len(images)
        self.steps_per_epoch = math.ceil(n / tc.batch_size)
        self.total_steps = self.steps_per_epoch * tc.epochs
        self.warm = tc.warmup_epochs * self.steps_per_epoch  # KL warm-up length in steps
        data = _binarize(images, self.gen) if tc.binarize else images
        perm = torch.randperm(n, generator=self.gen)
        self.sums, self.names, self.n = 0.0, (), n
        for start in range(0, n, tc.batch_size):
            index = perm[start : start + tc.batch_size]
            step = self.step0 + self.step + 1
            beta = tc.beta * min(1.0, step / self.warm) if self.warm > 0 else tc.beta
            if self.group is None:
                x = data.index_select(0, index)  # (B, C, H, W)
                y = None if labels is None else labels.index_select(0, index)  # (B,)
                loss, stats, self.names = _step_loss(self.model, x, beta, tc.iw_samples, self.gen, y)
            else:  # this rank's shard of the batch; stats of the whole batch
                loss, stats, self.names = self.group.step_loss(data, index, beta, tc.iw_samples, self.gen)
            if not math.isfinite(loss.item()):
                return f"the loss became {loss.item()} at epoch {epoch}, step {self.step + 1}"
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
            self.opt.step()
            self.step += 1
            self.sums = self.sums + stats * len(index)
            metrics = _StepMetrics(stats, self.names, beta)
            if self._tell(Progress("step", epoch, self.step, self.total_steps, metrics, self._elapsed())):
                self.result.stopped, self.result.message = "cancelled", f"stopped by the user at epoch {epoch}"
                break
        return ""

    def epoch_record(self, epoch: int, t_epoch: float, val_images, val_labels) -> dict:
        """The epoch's history entry: the training means, the learning rate, time, validation scores."""
        self.samples_seen += self.n
        self.compute_time += time.perf_counter() - t_epoch
        self.sched.step()
        means = _named(dict(zip(self.names, (self.sums / self.n).tolist())))
        record = {
            "epoch": epoch,
            **{f"train_{k}": v for k, v in means.items()},
            "lr": self.opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t_epoch,
        }
        if val_images is not None and self.group is not None:
            record.update({f"val_{k}": v for k, v in self.group.validate(self.model, val_images).items()})
        elif val_images is not None:
            scores = validate(self.model, val_images, labels=val_labels)
            record.update({f"val_{k}": v for k, v in scores.items()})
        return record

    @staticmethod
    def score(record: dict) -> float:
        """What "best" means: validation ELBO, else the training bound."""
        return record.get("val_elbo", record.get("train_iw_bound", record.get("train_elbo", -math.inf)))

    def end_epoch(self, epoch: int, record: dict) -> bool:
        """Keep a finished epoch (history, best weights, the state to resume from); True to stop."""
        result = self.result
        self.last_good = copy.deepcopy(self.model.state_dict())
        if result.stopped == "cancelled":
            return True  # a partial epoch is not recorded as an epoch
        result.history.append(record)
        if self.score(record) > self.best_val:
            self.best_val, self.best_state, result.best_epoch, self.stale = self.score(record), self.last_good, epoch, 0
        else:
            self.stale += 1
        result.state = TrainingState(
            self.last_good,
            copy.deepcopy(self.opt.state_dict()),
            self.sched.state_dict(),
            self.gen.get_state(),
            self.step0 + self.step,
            self.best_val,
            result.best_epoch,
            self.stale,
        )
        progress = Progress(
            "epoch", epoch, self.step, self.total_steps, record, self._elapsed(), self.model, result.state
        )
        if self._tell(progress):
            result.stopped, result.message = "cancelled", f"stopped by the user after epoch {epoch}"
            return True
        if self.tc.patience and self.stale >= self.tc.patience:
            result.stopped = "early-stopped"
            result.message = f"no validation improvement for {self.tc.patience} epochs"
            return True
        return False

    def diverged(self, what: str) -> FitResult:
        good = self.best_state or self.last_good
        return _diverged(self.result, good, what, self.samples_seen, self.compute_time, self.best_state, self.group)

    def finish(self) -> FitResult:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return _finish(self.result, self.samples_seen, self.compute_time, self.best_state is not None, self.group)

    def _tell(self, progress: Progress) -> bool:
        return bool(self.callback and self.callback(progress))

    def _elapsed(self) -> float:
        return time.perf_counter() - self.t0


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
