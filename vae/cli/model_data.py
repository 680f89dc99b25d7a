"""The data a command runs a saved model on: --dataset, else the model's own (a saved upload's path, or
a named dataset); for a model trained on a dataset not fetched here, the one shipped inside it."""

from __future__ import annotations

import sys

from vae.data import datasets as data
from vae.data import provenance
from vae.inference import directions as dirs


def splits(args, info, model):
    """The model's own data, or --dataset; for a model trained on a dataset not fetched here, the
    one shipped inside it (mnist-5k for mnist, emoji-mini for emoji), said on stderr."""
    own = info.data
    source = args.dataset or own.get("path") or info.dataset or "mnist-5k"
    if not args.dataset and source in data.DATASETS and not data.is_available(source, args.data_dir):
        inside = [n for (n, _), (whole, _) in provenance.CONTAINED_IN.items() if whole == source]
        if not any(data.is_available(n, args.data_dir) for n in inside):
            raise data.DataError(f"{source} is not here: fetch it with `python -m vae data fetch {source}`")
        print(f"{source} is not fetched here: using {inside[0]}, which ships with the app", file=sys.stderr)
        source = inside[0]
    train, test = data.load_splits(source, data_dir=args.data_dir, seed=info.training.get("seed", 0))
    if tuple(train.shape) != model.config.image_shape:
        raise dirs.DirectionError(
            f"{args.model} takes pictures of shape {model.config.image_shape}; {source}'s are {tuple(train.shape)}"
        )
    return train, test
