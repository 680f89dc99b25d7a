"""python -m vae evaluate: a saved model's test metrics as JSON (ELBO, IW bound, exact log p(x))."""

from __future__ import annotations

import argparse
import json

import torch

from vae.data import datasets as data
from vae.inference import aggregate, gaps, latent, posterior
from vae.models import conditional_objectives, objectives
from vae.store import catalog as store


def register(sub, common) -> None:
    """Add this group's commands to the parser's subcommands."""
    e = sub.add_parser(
        "evaluate",
        help="print test metrics of a saved model as JSON",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    e.add_argument("name")
    e.add_argument("--iw-samples", type=int, default=100, help="K of the importance-weighted bound")
    e.add_argument("--dataset", help="dataset to evaluate on (default: the model's own)")
    e.add_argument("--split", default="test", choices=["train", "test"])
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--data-dir")
    e.add_argument(
        "--exact",
        action="store_true",
        help="latent size 1 or 2: also the exact log p(x) by "
        "quadrature (exact_log_likelihood) and the mean approximation_gap and amortization_gap "
        "(about 0.5 s per image)",
    )
    e.add_argument("--limit", type=int, help="evaluate only the first N images of the split (all numbers)")
    e.add_argument(
        "--surgery",
        action="store_true",
        help="also ELBO surgery (Hoffman & Johnson 2016): the average KL split into the index-code mutual "
        f"information and the marginal KL(q(z) || p(z)), on at most {aggregate.N_MAX:,} images of the split",
    )

    e.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args) -> int:
    model, info = store.load(args.name, args.models_dir)
    own = info.data  # an upload trained in the app is kept at own["path"]
    source = args.dataset or own.get("path") or info.dataset or "mnist-5k"
    train, test = data.load_splits(source, data_dir=args.data_dir, seed=info.training.get("seed", 0))
    ds = test if args.split == "test" else train
    if tuple(ds.shape) != model.config.image_shape:
        raise store.StoreError(
            f"the model expects images of shape {model.config.image_shape}, the dataset has {tuple(ds.shape)}"
        )
    if args.exact:
        posterior.check_latent(model)
        if model.config.kind.conditional:
            raise ValueError(
                "--exact integrates p(x|z) p(z) of an unconditional model; this one is "
                f"conditional ({model.config.conditional})"
            )
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    x = torch.from_numpy(ds.images[: args.limit])
    binarized = info.binarized
    if binarized:
        x = objectives.binarized_test(x)
    if not model.config.kind.conditional:
        out = objectives.evaluate(model, x, iw_samples=args.iw_samples, seed=args.seed)
    else:  # with the condition given: the true labels, or the images' visible parts
        labels = None if ds.labels is None else ds.labels[: args.limit]
        out = conditional_objectives.evaluate(model, x, labels, iw_samples=args.iw_samples, seed=args.seed)
    if args.exact:
        out.update(gaps.evaluate_exact(model, x))
    if args.surgery:
        if model.config.kind.encoder_condition:
            raise ValueError(f"--surgery needs q(z|x) alone; {args.name} is a {model.config.kind.title}")
        mu, sigma = latent.encode_dataset(model, x.numpy())
        out["elbo_surgery"] = aggregate.surgery(mu, sigma, seed=args.seed)
    out = {"model": args.name, "dataset": ds.name, "split": args.split, "binarized": binarized, **out}
    print(json.dumps(out, indent=1))
    return 0
