"""python -m vae train: train a VAE, go on training one (--resume), alone or under torchrun."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from dataclasses import dataclass

import torch

from vae import limits
from vae.data import datasets as data
from vae.models.conditional import with_classes
from vae.models.config import (
    ACTIVATIONS,
    CONDITIONALS,
    LIKELIHOODS,
    OPTIMIZERS,
    TRAIN_ARCHS,
    VISIBLE_PARTS,
    ModelConfig,
    TrainConfig,
)
from vae.store import catalog as store
from vae.training import distributed, recipes
from vae.training.intake import VAL_FRACTION, split_data
from vae.training.loop import TrainingState, fit, test_metrics


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(sub, common) -> None:
    """Add this group's commands to the parser's subcommands."""
    t = sub.add_parser(
        "train",
        help="train a VAE (or go on training one) and save it to the models folder",
        description="Train a VAE and save it to the models folder. With --resume NAME, "
        "go on training a saved model for --epochs more epochs with its own settings "
        "(any training option given overrides it); a model saved with its training state "
        "continues exactly where it stopped. The same command under torchrun "
        "(torchrun --nproc_per_node N -m vae train ...) trains on N processes, or several machines, "
        "with DistributedDataParallel: the same model as one process, up to float rounding (see "
        "the README).",
    )
    t.add_argument(
        "--dataset",
        help=f"one of {', '.join(data.DATASETS)}, or a .npz/.npy/.zip/folder of "
        "images (default: mnist-5k; with --resume, the model's own)",
    )
    t.add_argument(
        "--name",
        help="name to save the model under (required; with --resume, defaults to "
        "the resumed model's name, which is then updated in place)",
    )
    t.add_argument(
        "--epochs",
        type=int,
        help=f"epochs to train (with --resume: more epochs) (default: {TrainConfig.epochs}, or the recipe's)",
    )
    t.add_argument(
        "--recipe",
        choices=list(recipes.RECIPES),
        help="start from a reference system's "
        "settings (see `python -m vae recipes`); options given override them; the dataset is "
        "full MNIST when fetched, else mnist-5k",
    )
    arch = t.add_argument_group("architecture (not with --resume: a model keeps its own)")
    arch.add_argument(
        "--latent-dim", type=int, help=f"1 to {limits.LATENT} (VAE_LATENT) (default: {ModelConfig.latent_dim})"
    )
    arch.add_argument("--arch", choices=TRAIN_ARCHS, help=f"(default: {ModelConfig.arch})")
    arch.add_argument(
        "--conv-channels",
        type=_ints,
        help="conv: channels of the stride-2 3x3 convolutions, "
        f"e.g. 32,64,128 (default: {','.join(map(str, ModelConfig.conv_channels))})",
    )
    arch.add_argument(
        "--conv-dense",
        type=int,
        help=f"conv: the dense layer between the convolutions and (mu, logvar) (default: {ModelConfig.conv_dense})",
    )
    arch.add_argument(
        "--hidden",
        type=_ints,
        help=f"MLP hidden sizes, e.g. 512,256 (default: {','.join(map(str, ModelConfig.hidden))})",
    )
    arch.add_argument("--activation", choices=ACTIVATIONS, help=f"(default: {ModelConfig.activation})")
    arch.add_argument("--likelihood", choices=LIKELIHOODS, help=f"(default: {ModelConfig.likelihood})")
    arch.add_argument(
        "--gaussian-std", type=float, help="fixed std of a Gaussian likelihood (default: one learned std)"
    )
    arch.add_argument(
        "--conditional",
        choices=CONDITIONALS,
        help="label: one-hot class into encoder and "
        "decoder; completion: the visible part conditions the rest; prior: a learned prior "
        "mean per class (default: none)",
    )
    arch.add_argument("--visible", choices=VISIBLE_PARTS, help="completion: the part given (default: centre-column)")
    arch.add_argument(
        "--condition-hidden",
        type=_ints,
        help="completion: condition network sizes (default: the hidden sizes, then the last one again)",
    )
    arch.add_argument(
        "--binarize-condition",
        action=argparse.BooleanOptionalAction,
        help="completion: Bernoulli-sample the visible pixels (default: off)",
    )
    opt = t.add_argument_group("training (with --resume, the saved run's values unless given)")
    opt.add_argument("--beta", type=float, help=f"weight on the KL term (default: {TrainConfig.beta})")
    opt.add_argument(
        "--warmup",
        type=float,
        help=f"KL warm-up epochs: beta rises linearly from 0 (default: {TrainConfig.warmup_epochs})",
    )
    opt.add_argument(
        "--batch-size",
        type=int,
        help="the global batch: under torchrun each of N processes "
        f"takes 1/N of it (default: {TrainConfig.batch_size})",
    )
    opt.add_argument("--lr", type=float, help=f"learning rate (default: {TrainConfig.lr})")
    opt.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default: {TrainConfig.optimizer})")
    opt.add_argument("--weight-decay", type=float, help=f"L2 weight decay (default: {TrainConfig.weight_decay})")
    opt.add_argument("--lr-decay", type=float, help=f"per-epoch learning-rate factor (default: {TrainConfig.lr_decay})")
    opt.add_argument("--seed", type=int, help=f"(default: {TrainConfig.seed})")
    opt.add_argument(
        "--binarize",
        action=argparse.BooleanOptionalAction,
        help="dynamic binarization of the images, resampled each epoch (default: off)",
    )
    opt.add_argument(
        "--train-iw-samples",
        type=int,
        help=f"K > 1 trains the importance-weighted bound (default: {TrainConfig.iw_samples})",
    )
    opt.add_argument("--patience", type=int, help="early stopping patience in epochs (default: none)")
    opt.add_argument(
        "--val-fraction",
        type=float,
        help=f"share of the training split held out for validation, 0 for none (default: {VAL_FRACTION})",
    )
    t.add_argument(
        "--eval-iw-samples",
        type=int,
        default=100,
        help="K for the test log-likelihood reported after training (default: 100)",
    )
    t.add_argument("--resume", metavar="NAME", help="go on training a saved model")
    t.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    t.add_argument("--data-dir", help="dataset cache folder (default: $VAE_DATA_DIR)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--device",
        help="cpu, cuda or cuda:N for one process (default: cpu); under torchrun, "
        "cpu (gloo) or cuda (nccl, the GPU of each process's LOCAL_RANK), by default cuda "
        "where there is one",
    )
    t.add_argument(
        "--dist-timeout",
        type=float,
        default=distributed.TIMEOUT,
        metavar="SECONDS",
        help="under torchrun: how long a process waits for the others before the job fails (default: %(default)s)",
    )
    t.add_argument(
        "--bundled",
        action="store_true",
        help="maintainers: write a bundled model into vae/bundled/NAME (no training "
        "state; --name default replaces the model the app opens on)",
    )

    t.set_defaults(func=_cmd_train)


def _progress_bar(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="step", disable=quiet, file=sys.stderr, dynamic_ncols=True)


# CLI option -> TrainConfig field, for the options a resumed run takes from its saved settings
_TRAIN_OPTIONS = {
    "beta": "beta",
    "warmup": "warmup_epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "lr_decay": "lr_decay",
    "seed": "seed",
    "binarize": "binarize",
    "train_iw_samples": "iw_samples",
    "patience": "patience",
    "optimizer": "optimizer",
    "weight_decay": "weight_decay",
}
_MODEL_OPTIONS = (
    "latent_dim",
    "arch",
    "hidden",
    "conv_channels",
    "conv_dense",
    "activation",
    "likelihood",
    "gaussian_std",
    "conditional",
    "visible",
    "condition_hidden",
    "binarize_condition",
)


def _train_settings(args) -> tuple[dict, TrainConfig, str, float]:
    """(model options, train config, dataset, validation share) from the options given, then the
    saved run's settings when resuming, then the defaults."""
    given = {field: getattr(args, opt) for opt, field in _TRAIN_OPTIONS.items() if getattr(args, opt) is not None}
    if not args.resume:
        if not args.name:
            raise store.StoreError("--name is required (the name to save the model under)")
        mc, base = recipes.settings(args.recipe) if args.recipe else ({}, {})
        epochs = args.epochs if args.epochs is not None else base.get("epochs", TrainConfig.epochs)
        tc = TrainConfig(**{**base, **given, "epochs": epochs})
        mc.update({k: getattr(args, k) for k in _MODEL_OPTIONS if getattr(args, k) is not None})
        val = VAL_FRACTION if args.val_fraction is None else args.val_fraction
        default = recipes.dataset(args.data_dir, args.recipe) if args.recipe else "mnist-5k"
        return mc, tc, args.dataset or default, val
    if args.recipe:
        raise store.StoreError("--recipe starts a new model; a resumed one keeps its own settings")
    info = store.find(args.resume, args.models_dir)
    if info.error:
        raise store.StoreError(info.error)
    own_arch = info.config
    changed = [
        f"--{k.replace('_', '-')}"
        for k in _MODEL_OPTIONS
        if getattr(args, k) is not None and getattr(args, k) != getattr(own_arch, k)
    ]
    if changed:
        raise store.StoreError(
            f"{', '.join(changed)}: a resumed model keeps its own architecture ({own_arch.describe()})"
        )
    saved = dict(info.training)
    tc = TrainConfig.from_dict({**saved, **given, "epochs": TrainConfig.epochs if args.epochs is None else args.epochs})
    val = saved.get("extra", {}).get("val_fraction", VAL_FRACTION) if args.val_fraction is None else args.val_fraction
    own = info.data
    return {}, tc, args.dataset or own.get("path") or own.get("name") or "mnist-5k", val


def _check_target(name: str, args) -> None:
    """Refuse a name now, not after the training it would throw away."""
    if args.bundled:
        return
    store.check_not_bundled(name)
    if (store.models_dir(args.models_dir) / name).exists() and not (args.overwrite or name == args.resume):
        raise store.StoreError(f"a model named {name!r} already exists (--overwrite replaces it)")


def _resumed(name: str, models_dir) -> tuple[ModelConfig, dict, list, TrainingState | None]:
    """A saved model's config, (best) weights, history and training state (None if not saved)."""
    old, info = store.load(name, models_dir)
    saved_state = store.load_training_state(name, models_dir, version=info.version)
    if saved_state is None:
        print(f"{name} has no saved training state: its weights go on training with a fresh optimizer", file=sys.stderr)
    state = None if saved_state is None else TrainingState.from_tensors(*saved_state)
    return old.config, old.state_dict(), info.history, state


@contextlib.contextmanager
def _stop_on_ctrl_c():
    """Yields an Event set by the first Ctrl-C (training stops after the step and saves); a second
    Ctrl-C raises KeyboardInterrupt. Signal handlers only exist in the main thread."""
    interrupted = threading.Event()

    def on_interrupt(signum, frame):
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        print("\nstopping after this step (Ctrl-C again aborts without saving)", file=sys.stderr)

    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _new_config(train_ds: data.Dataset, options: dict) -> ModelConfig:
    """A new model's config for this data: a label or prior model gets one class per class name."""
    options = with_classes(options, train_ds.labels, train_ds.class_names)
    return ModelConfig(image_shape=train_ds.shape, **options)


def _tensor(labels):
    return None if labels is None else torch.as_tensor(labels, dtype=torch.long)


def _cmd_train(args) -> int:
    with distributed.session(args.device, args.dist_timeout) as group:
        if group is None or group.world_size == 1:
            return _train(args, group)
        try:
            return _train(args, group)
        except (RuntimeError, distributed.Stopped) as e:  # a rank died, was killed or stopped answering
            print(
                f"error: rank {group.rank} of {group.world_size} stopped: {str(e).splitlines()[0]}\n"
                "another process of this job failed or stopped answering (torchrun's summary names "
                "its rank); nothing was saved",
                file=sys.stderr,
            )
            return 143 if isinstance(e, distributed.Stopped) else 1


def _train(args, group) -> int:
    """Train and save: alone (group None), or as one rank of a torchrun job (rank 0 reports and saves)."""
    main = group is None or group.is_main
    run = _prepare(args, group, main)
    try:
        result = _fit(args, run, group, quiet=args.quiet or not main)
    except KeyboardInterrupt:
        print("aborted: nothing was saved", file=sys.stderr)
        return 130
    if not result.history:
        if main:
            print(f"{result.message}; stopped before the first epoch finished: nothing was saved", file=sys.stderr)
        return 1
    metrics = test_metrics(result, run.split.test, run.tc.binarize, args.eval_iw_samples, run.split.test_labels, group)
    if main:
        _save(args, run, result, metrics, group)
    return 0 if result.stopped != "diverged" else 1


@dataclass
class _Prepared:
    """What a training command runs on: the configs, the data split, the name, where it starts from."""

    mc: ModelConfig
    tc: TrainConfig
    dataset: str
    train_ds: data.Dataset
    split: object  # intake.split_data's Split
    name: str
    init_state: dict | None
    history: list | None
    resume: object  # a TrainingState, or None for a new run


def _prepare(args, group, main: bool) -> _Prepared:
    """Check the settings and the target name, load and split the data, and say what will run."""
    mc_options, tc, dataset, val_fraction = _train_settings(args)
    if not 0 <= val_fraction < 1:
        raise store.StoreError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    tc.extra["val_fraction"] = val_fraction
    name = store.check_name(args.name or args.resume)
    _check_target(name, args)
    train_ds, test_ds = data.load_splits(dataset, data_dir=args.data_dir, seed=tc.seed)
    if args.resume:
        mc, init_state, history, resume = _resumed(args.resume, args.models_dir)
    else:
        mc, init_state, history, resume = _new_config(train_ds, mc_options), None, None, None
    split = split_data(train_ds, test_ds, seed=tc.seed, val_fraction=val_fraction, name=dataset)
    if main:
        n_val = 0 if split.val is None else len(split.val)
        on = "" if group is None else f" on {group.world_size} process{'es' * (group.world_size > 1)} ({group.device})"
        print(
            f"{'resuming' if args.resume else 'training'} {mc.describe()} on {dataset}: {len(split.train)} "
            f"train, {n_val} validation, {tc.epochs} epochs{on}",
            file=sys.stderr,
        )
    return _Prepared(mc, tc, dataset, train_ds, split, name, init_state, history, resume)


def _fit(args, run: _Prepared, group, quiet: bool):
    """fit() with a progress bar; Ctrl-C stops at the end of the step (the epochs so far are kept)."""
    split, tc = run.split, run.tc
    bar = _progress_bar(tc.epochs * -(-len(split.train) // tc.batch_size), quiet)
    try:
        with _stop_on_ctrl_c() as interrupted:

            def on_progress(p):
                if p.event == "step":
                    bar.update(1)
                    if p.step % 20 == 0:
                        bar.set_postfix(epoch=p.epoch, elbo=f"{p.metrics['elbo']:.1f}")
                else:
                    bar.set_postfix(epoch=p.epoch, val_elbo=f"{p.metrics.get('val_elbo', float('nan')):.1f}")
                return interrupted.is_set()

            return fit(
                run.mc,
                tc,
                split.train,
                split.val,
                callback=on_progress,
                init_state=run.init_state,
                history=run.history,
                resume=run.resume,
                train_labels=_tensor(split.train_labels),
                val_labels=_tensor(split.val_labels),
                group=group,
            )
    finally:
        bar.close()


def _save(args, run: _Prepared, result, metrics: dict, group) -> None:
    """Save the trained model (with what a later --resume needs) and print its test numbers."""
    if group is not None:
        distributed.hold_sigterm()
    state = None if args.bundled or result.state is None else result.state.to_tensors()
    info = store.save(
        result.model,
        run.name,
        args.models_dir,
        overwrite=args.overwrite or run.name == args.resume or args.bundled,
        _root=store.BUNDLED_DIR if args.bundled else None,
        dataset={"name": run.dataset, "shape": list(run.train_ds.shape), "class_names": run.train_ds.class_names},
        metrics=metrics,
        history=result.history,
        train_config=run.tc.to_dict(),
        training_state=state,
    )
    print(f"{result.stopped}: {result.message}".rstrip(": "), file=sys.stderr)
    print(
        f"saved {info.path}\n"
        f"test ELBO {metrics['elbo']:.2f} nats (reconstruction {metrics['reconstruction']:.2f}, "
        f"KL {metrics['kl']:.2f}); log p(x) >= {metrics['iw_log_likelihood']:.2f} "
        f"(IW, K={metrics['iw_samples']}); active units {metrics['active_units']}/{run.mc.latent_dim}; "
        f"{result.samples_per_second:.0f} samples/s"
    )
    if "iw_log_likelihood_bits_per_dim" in metrics:
        print(
            f"= {metrics['iw_log_likelihood_bits_per_dim']:.3f} bits/dim (ELBO {metrics['elbo_bits_per_dim']:.3f}; "
            f"{metrics['bits_per_dim_note']})"
        )
