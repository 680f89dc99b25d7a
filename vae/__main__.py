"""The command line: python -m vae {train,evaluate,list,rename,delete,data} ...

Run `python -m vae COMMAND --help` for each command's options.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from . import data, objectives, store
from .config import ModelConfig, TrainConfig

EPILOG = """examples:
  python -m vae train --dataset mnist-5k --latent-dim 2 --epochs 30 --name my-2d
  python -m vae evaluate my-2d --iw-samples 1000
  python -m vae data fetch mnist
  python -m vae list"""


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vae", description="Train, evaluate and manage VAEs "
                                "for the latent explorer.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", help="models folder (default: $VAE_MODELS_DIR or ./models)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a VAE and save it to the models folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--dataset", default="mnist-5k",
                   help=f"one of {', '.join(data.DATASETS)}, or a .npz/.npy/.zip/folder of images")
    t.add_argument("--name", required=True, help="name to save the model under")
    t.add_argument("--latent-dim", type=int, default=2)
    t.add_argument("--arch", choices=["mlp", "conv"], default="mlp")
    t.add_argument("--hidden", type=_ints, default=(512,), help="MLP hidden sizes, e.g. 512,256")
    t.add_argument("--activation", default="relu", choices=["relu", "tanh", "elu", "gelu"])
    t.add_argument("--likelihood", choices=["bernoulli", "gaussian"], default="bernoulli")
    t.add_argument("--gaussian-std", type=float, default=None,
                   help="fixed std of a Gaussian likelihood (default: learned)")
    t.add_argument("--beta", type=float, default=1.0, help="weight on the KL term")
    t.add_argument("--warmup", type=float, default=0.0, help="KL warm-up epochs")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--lr-decay", type=float, default=1.0, help="per-epoch learning-rate factor")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--binarize", action="store_true", help="dynamic binarization of the images")
    t.add_argument("--train-iw-samples", type=int, default=1, help="K>1 trains the IWAE bound")
    t.add_argument("--patience", type=int, default=None, help="early stopping patience (epochs)")
    t.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training split held out for validation (0: none)")
    t.add_argument("--eval-iw-samples", type=int, default=100,
                   help="K for the test log-likelihood reported after training")
    t.add_argument("--resume", metavar="NAME", help="continue training a saved model")
    t.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    t.add_argument("--data-dir", help="dataset cache folder (default: $VAE_DATA_DIR)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--bundled", action="store_true",
                   help="maintainers: write the shipped default model into vae/bundled/NAME")

    e = sub.add_parser("evaluate", help="print test metrics of a saved model as JSON",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("name")
    e.add_argument("--iw-samples", type=int, default=100, help="K of the importance-weighted bound")
    e.add_argument("--dataset", help="dataset to evaluate on (default: the model's own)")
    e.add_argument("--split", default="test", choices=["train", "test"])
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--data-dir")

    sub.add_parser("list", help="list saved models")
    r = sub.add_parser("rename", help="rename a saved model")
    r.add_argument("old")
    r.add_argument("new")
    d = sub.add_parser("delete", help="delete a saved model")
    d.add_argument("name")

    dp = sub.add_parser("data", help="list or download datasets")
    dsub = dp.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dsub.add_parser("list", help="list the named datasets")
    f = dsub.add_parser("fetch", help="download a dataset into the cache, verifying checksums")
    f.add_argument("name", choices=[n for n in data.DATASETS if n in data.DOWNLOADABLE])
    f.add_argument("--data-dir")
    return p


def _progress_bar(total: int, quiet: bool):
    from tqdm import tqdm
    return tqdm(total=total, unit="step", disable=quiet, file=sys.stderr, dynamic_ncols=True)


def _cmd_train(args) -> int:
    from .training import fit
    tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=args.beta,
                     warmup_epochs=args.warmup, seed=args.seed, binarize=args.binarize,
                     iw_samples=args.train_iw_samples, patience=args.patience, lr_decay=args.lr_decay)
    train_ds, test_ds = data.load_splits(args.dataset, data_dir=args.data_dir, seed=args.seed)
    init_state, history = None, None
    if args.resume:
        old, info = store.load(args.resume, args.models_dir)
        mc, init_state, history = old.config, old.state_dict(), info.meta.get("history")
    else:
        mc = ModelConfig(image_shape=train_ds.shape, latent_dim=args.latent_dim, arch=args.arch,
                         hidden=args.hidden, activation=args.activation, likelihood=args.likelihood,
                         gaussian_std=args.gaussian_std)
    x = torch.from_numpy(train_ds.images)
    gen = torch.Generator().manual_seed(args.seed)
    perm = torch.randperm(len(x), generator=gen)
    n_val = int(round(len(x) * args.val_fraction))
    x_train, x_val = x[perm[n_val:]], (x[perm[:n_val]] if n_val else None)
    print(f"training {mc.describe()} on {args.dataset}: {len(x_train)} train, {n_val} validation, "
          f"{tc.epochs} epochs", file=sys.stderr)
    bar = _progress_bar(tc.epochs * -(-len(x_train) // tc.batch_size), args.quiet)

    def on_progress(p):
        if p.event == "step":
            bar.update(1)
            if p.step % 20 == 0:
                bar.set_postfix(epoch=p.epoch, elbo=f"{p.metrics['elbo']:.1f}")
        else:
            bar.set_postfix(epoch=p.epoch, val_elbo=f"{p.metrics.get('val_elbo', float('nan')):.1f}")

    try:
        result = fit(mc, tc, x_train, x_val, callback=on_progress, init_state=init_state, history=history)
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: nothing was saved", file=sys.stderr)
        return 130
    bar.close()
    x_test = torch.from_numpy(test_ds.images)
    if tc.binarize:
        x_test = torch.bernoulli(x_test, generator=torch.Generator().manual_seed(12345))
    metrics = objectives.evaluate(result.model, x_test, iw_samples=args.eval_iw_samples)
    metrics.update(split="test", binarized=tc.binarize, samples_per_second=round(result.samples_per_second))
    info = store.save(result.model, args.name, args.models_dir, overwrite=args.overwrite or bool(args.resume)
                      or args.bundled, _root=store.BUNDLED_DIR if args.bundled else None,
                      dataset={"name": args.dataset, "shape": list(train_ds.shape),
                               "class_names": train_ds.class_names},
                      metrics=metrics, history=result.history, train_config=tc.to_dict())
    print(f"{result.stopped}: {result.message}".rstrip(": "), file=sys.stderr)
    print(f"saved {info.path}\n"
          f"test ELBO {metrics['elbo']:.2f} nats (reconstruction {metrics['reconstruction']:.2f}, "
          f"KL {metrics['kl']:.2f}); log p(x) >= {metrics['iw_log_likelihood']:.2f} "
          f"(IW, K={metrics['iw_samples']}); active units {metrics['active_units']}/{mc.latent_dim}; "
          f"{result.samples_per_second:.0f} samples/s")
    return 0 if result.stopped != "diverged" else 1


def _cmd_evaluate(args) -> int:
    model, info = store.load(args.name, args.models_dir)
    own = info.meta.get("dataset") or {}  # an upload trained in the app is kept at own["path"]
    source = args.dataset or own.get("path") or info.dataset or "mnist-5k"
    train, test = data.load_splits(source, data_dir=args.data_dir,
                                   seed=info.meta.get("train_config", {}).get("seed", 0))
    ds = test if args.split == "test" else train
    if tuple(ds.shape) != model.config.image_shape:
        raise store.StoreError(f"the model expects images of shape {model.config.image_shape}, "
                               f"the dataset has {tuple(ds.shape)}")
    x = torch.from_numpy(ds.images)
    binarized = bool(info.meta.get("train_config", {}).get("binarize"))
    if binarized:
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(12345))
    out = objectives.evaluate(model, x, iw_samples=args.iw_samples, seed=args.seed)
    out = {"model": args.name, "dataset": ds.name, "split": args.split, "binarized": binarized, **out}
    print(json.dumps(out, indent=1))
    return 0


def _cmd_list(args) -> int:
    for m in store.list_models(args.models_dir):
        if m.error:
            print(f"{m.name:24s} BROKEN: {m.error}")
            continue
        elbo = m.metrics.get("elbo")
        print(f"{m.name:24s} {m.config.describe():32s} {m.dataset or '?':14s} "
              f"{f'test ELBO {elbo:.2f}' if elbo is not None else ''}{' (bundled)' if m.bundled else ''}")
    return 0


def _cmd_data(args) -> int:
    if args.data_command == "list":
        for name, desc in data.DATASETS.items():
            print(f"{name:14s} {desc}")
        return 0

    def progress(done, total, filename):
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        print(f"\r{filename}: {size}", end="\n" if total and done >= total else "", file=sys.stderr)

    path = data.fetch(args.name, args.data_dir, progress=progress)
    print(f"\n{args.name} is ready in {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"train": _cmd_train, "evaluate": _cmd_evaluate, "list": _cmd_list, "data": _cmd_data,
                "rename": lambda a: print(store.rename(a.old, a.new, a.models_dir).path) or 0,
                "delete": lambda a: store.delete(a.name, a.models_dir) or print(f"deleted {a.name}") or 0}
    try:
        return commands[args.command](args)
    except (ValueError, OSError) as e:  # StoreError, DataError, ConfigError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
